//! Copies a seeded workload between two local registries with `copy_all` and prints what moved,
//! how long it took and the peak RSS: a quick benchmark of the copy engine alone.
//!
//! `cargo run --release --example copy_seeded -- [--images 40] [--total-mb 350] [--jobs 8]`
//! Needs `docker-registry` (apt-get install docker-registry). Linux only (reads /proc).

#[path = "../tests/support/mod.rs"]
mod support;

use airlift::exec::{EventSink, Limits};
use airlift::oci::ImageRef;
use airlift::plan::{Destination, destination_for};
use airlift::registry::{ClientOptions, RegistryClient, TlsOptions};
use airlift::task::{CopyContext, CopyJob, copy_all};
use support::fixture::Workload;
use support::{Fixture, Registry, RegistryOptions};

fn arg(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a number")),
        None => Ok(default),
    }
}

fn rss_mib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let images = arg(&args, "--images", 40)?;
    let total_mb = arg(&args, "--total-mb", 350)?;
    let jobs = arg(&args, "--jobs", Limits::default().jobs)?;
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let refs = Fixture::new(&src)
        .seed(&Workload {
            images,
            total_mb,
            shared_base_mb: total_mb / 5,
            prefix: "demo".into(),
        })
        .await;
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
    let ctx = CopyContext {
        limits: Limits {
            jobs,
            ..Limits::default()
        },
        ..CopyContext::new(client()?, client()?)
    };
    let d = Destination::parse(&format!("{}/mirror", dst.host()), None);
    let mut copy_jobs = Vec::new();
    for r in &refs {
        let source: ImageRef = r.parse().map_err(|e| format!("{r}: {e}"))?;
        let dest = destination_for(&d, &source).map_err(|e| e.to_string())?;
        copy_jobs.push(CopyJob {
            source,
            dest,
            platforms: None,
            signatures: true,
        });
    }
    let before = rss_mib("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").map_err(|e| format!("reset peak RSS: {e}"))?;
    let started = std::time::Instant::now();
    let summary = copy_all(copy_jobs, &ctx, &EventSink::discard()).await;
    let secs = started.elapsed().as_secs_f64();
    let t = &summary.totals;
    println!(
        "{} images ({} failed) in {secs:.1}s: {} MiB uploaded ({:.0} MiB/s), {} blobs uploaded, {} mounted, {} present, {} manifests; RSS {before} MiB before, peak {} MiB",
        summary.jobs.len(),
        summary.failed,
        t.bytes / 1024 / 1024,
        t.bytes as f64 / 1024.0 / 1024.0 / secs,
        t.blobs_uploaded,
        t.blobs_mounted,
        t.blobs_present,
        t.manifests_pushed,
        rss_mib("VmHWM:")
    );
    if summary.is_success() {
        Ok(())
    } else {
        Err(format!("{} jobs failed", summary.failed))
    }
}
