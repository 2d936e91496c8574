//! Seeds a registry with a realistic synthetic workload for demos and benchmarks: shared base
//! layers, some multi-arch indexes, some Docker v2s2 images. Prints every pushed reference on
//! stdout, one per line. Uses the test fixture builder (its own HTTP code, not airlift's).
//!
//! `cargo run --example seed -- --registry 127.0.0.1:PORT --images 40 --total-mb 350
//!  [--shared-base-mb N] [--prefix demo] [--ca FILE]`

#[path = "../tests/support/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use clap::Parser;
use fixture::{Fixture, Format, Layer};

/// Seed a registry with synthetic images.
#[derive(Parser)]
struct Args {
    /// `host:port` of the registry (plain HTTP unless --ca is given).
    #[arg(long)]
    registry: String,
    /// Number of images (tags) to push.
    #[arg(long, default_value_t = 40)]
    images: usize,
    /// Approximate total size of all unique blobs, in MiB.
    #[arg(long, default_value_t = 350)]
    total_mb: usize,
    /// Size of the shared base layers, in MiB (default: a fifth of the total).
    #[arg(long)]
    shared_base_mb: Option<usize>,
    /// Repository prefix.
    #[arg(long, default_value = "demo")]
    prefix: String,
    /// CA certificate of an HTTPS registry.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
}

const MIB: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = Args::parse();
    if a.images == 0 {
        return Err("--images must be at least 1".into());
    }
    let (scheme, ca) = match &a.ca {
        Some(p) => (
            "https",
            Some(std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?),
        ),
        None => ("http", None),
    };
    let fx = Fixture::connect(&format!("{scheme}://{}", a.registry), ca.as_deref(), None);
    let shared_mb = a.shared_base_mb.unwrap_or(a.total_mb / 5).min(a.total_mb);
    let bases = [
        Layer::shared_random(shared_mb * MIB * 2 / 3),
        Layer::shared_random(shared_mb * MIB / 3),
    ];
    let own = ((a.total_mb - shared_mb) * MIB / a.images).max(1);
    let mut handles = Vec::new();
    for i in 0..a.images {
        let fx = fx.clone();
        let base = bases[i % 2].clone();
        let repo = format!("{}/app-{:02}", a.prefix, i % (a.images / 2).max(1));
        let tag = format!("v{i}");
        handles.push(tokio::spawn(async move {
            let p = if i % 5 == 4 {
                let fmt = if i % 10 == 4 {
                    Format::Oci
                } else {
                    Format::Docker
                };
                fx.index(
                    &repo,
                    Some(&tag),
                    fmt,
                    &["amd64", "arm64"],
                    &[base],
                    own / 2,
                )
                .await
            } else {
                let fmt = if i % 4 == 1 {
                    Format::Docker
                } else {
                    Format::Oci
                };
                fx.image(&repo, Some(&tag), fmt, "amd64", &[base, Layer::Random(own)])
                    .await
            };
            p.reference
        }));
        if handles.len() >= 4 {
            let h = handles.remove(0);
            println!("{}", h.await.map_err(|e| e.to_string())?);
        }
    }
    for h in handles {
        println!("{}", h.await.map_err(|e| e.to_string())?);
    }
    Ok(())
}
