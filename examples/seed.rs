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
use fixture::{Fixture, Workload};

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
    let workload = Workload {
        images: a.images,
        total_mb: a.total_mb,
        shared_base_mb: a.shared_base_mb.unwrap_or(a.total_mb / 5),
        prefix: a.prefix,
    };
    for reference in fx.seed(&workload).await {
        println!("{reference}");
    }
    Ok(())
}
