//! Benchmark: parse, filter and rebuild a generated catalog of 300 packages × 20 bundles.
//!
//! Run: `cargo run --release --example catalog_bench` under `/usr/bin/time -v` for peak RSS.
//! Prints the size of the input and the wall time of each phase.

#[path = "../tests/catalog_fixture/mod.rs"]
mod catalog_fixture;

use std::time::Instant;

use airlift::catalog::{
    CatalogFilter, ChannelFilter, PackageFilter, RebuildOptions, filter_catalog, parse_catalog,
    parse_version, rebuild_layers,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = catalog_fixture::large_catalog(300, 20);
    let bytes: usize = files.values().map(Vec::len).sum();
    let start = Instant::now();
    let catalog = parse_catalog(&files)?;
    let parsed = start.elapsed();

    // A mixed filter: every package, a third by default-channel head, a third by a package
    // range, a third by two channels (one with a range).
    let packages = catalog
        .packages
        .keys()
        .enumerate()
        .map(|(i, name)| {
            let mut p = PackageFilter {
                name: name.clone(),
                ..PackageFilter::default()
            };
            match i % 3 {
                0 => {}
                1 => p.min = Some(parse_version("1.1.0")?),
                _ => {
                    p.channels = vec![
                        ChannelFilter {
                            name: "stable".into(),
                            min: Some(parse_version("1.2.0")?),
                            max: None,
                        },
                        ChannelFilter {
                            name: "fast".into(),
                            min: None,
                            max: None,
                        },
                    ]
                }
            }
            Ok(p)
        })
        .collect::<Result<Vec<_>, airlift::catalog::RangeError>>()?;
    let filter = CatalogFilter {
        full: false,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        packages,
    };
    let t = Instant::now();
    let filtered = filter_catalog("bench", &catalog, &filter)?;
    let filtered_in = t.elapsed();

    let t = Instant::now();
    let layers = rebuild_layers(&filtered.catalog, &RebuildOptions::default())?;
    let rebuilt_in = t.elapsed();

    println!(
        "input: {} files, {:.1} MiB, {} packages, {} bundles",
        files.len(),
        bytes as f64 / 1048576.0,
        catalog.packages.len(),
        catalog.bundle_count()
    );
    println!(
        "kept: {} bundles, {} related images",
        filtered.kept.len(),
        filtered
            .kept
            .iter()
            .map(|b| b.related_images.len())
            .sum::<usize>()
    );
    println!(
        "layers: {} B + {} B compressed; catalog layer {}",
        layers[0].compressed.len(),
        layers[1].compressed.len(),
        layers[1].digest
    );
    println!(
        "parse {:?}, filter {:?}, rebuild {:?}, total {:?}",
        parsed,
        filtered_in,
        rebuilt_in,
        start.elapsed()
    );
    Ok(())
}
