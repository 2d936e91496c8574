//! Measures the copy engine's peak memory: pushes one random layer of `--mb` MiB (default 256)
//! to a source registry, resets the process's peak-RSS counter, copies the image to a second
//! registry with `copy_all`, and prints the peak RSS of the copy (Linux `VmHWM`).
//!
//! `cargo run --release --example copy_rss -- [--mb 256]`
//! Needs `docker-registry` (apt-get install docker-registry). Linux only (reads /proc).

#[path = "../tests/support/mod.rs"]
mod support;

use airlift::exec::EventSink;
use airlift::plan::{Destination, destination_for};
use airlift::registry::{ClientOptions, RegistryClient, TlsOptions};
use airlift::task::{CopyContext, CopyJob, copy_all};
use support::{Fixture, Format, Layer, Registry, RegistryOptions};

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args
        .iter()
        .position(|a| a == "--mb")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(256), |v| {
            v.parse().map_err(|_| format!("--mb {v}: not a number"))
        })?;
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let img = {
        let fx = Fixture::new(&src);
        fx.image(
            "big/layer",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(mb * 1024 * 1024)],
        )
        .await
    };
    let auth = src.scratch().join("auth.json");
    std::fs::write(&auth, r#"{"auths":{}}"#).map_err(|e| e.to_string())?;
    let client = || {
        RegistryClient::new(ClientOptions {
            tls: TlsOptions {
                verify: false,
                cert_dir: None,
            },
            authfile: Some(auth.clone()),
            retry: Default::default(),
            registries: None,
        })
        .map_err(|e| e.to_string())
    };
    let ctx = CopyContext::new(client()?, client()?);
    let before = vm_kib("VmRSS:");
    // Writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("reset peak RSS: {e}"))?;
    let source = img.reference.parse().map_err(|e| format!("{e}"))?;
    let dest = destination_for(&Destination::parse(&dst.host(), None), &source)
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let summary = copy_all(
        vec![CopyJob {
            source,
            dest,
            platforms: None,
            signatures: false,
        }],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    let elapsed = started.elapsed();
    if !summary.is_success() {
        return Err(format!("copy failed: {summary:?}"));
    }
    let peak = vm_kib("VmHWM:");
    println!(
        "layer {mb} MiB: copied {} bytes in {:.1}s; RSS before copy {} MiB, peak during copy {} MiB",
        summary.totals.bytes,
        elapsed.as_secs_f64(),
        before / 1024,
        peak / 1024
    );
    Ok(())
}
