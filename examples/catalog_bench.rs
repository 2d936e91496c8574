//! Benchmark: parse, filter (with dependency resolution: every bundle requires another
//! package) and rebuild a generated catalog of 300 packages × 20 bundles; then the same
//! catalog as an opm SQLite `index.db` (6,000 bundles), converted and filtered.
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
    let mut catalog = parse_catalog(&files)?;
    let parsed = start.elapsed();
    // Every bundle of package i requires package i+1 (any version 1.x): dependency resolution
    // has a requirement to check per kept bundle and packages to pull in.
    let names: Vec<String> = catalog.packages.keys().cloned().collect();
    for (i, name) in names.iter().enumerate() {
        let next = names[(i + 1) % names.len()].clone();
        if let Some(p) = catalog.packages.get_mut(name) {
            for b in p.bundles.values_mut() {
                if let Some(props) = b.raw.get_mut("properties").and_then(|v| v.as_array_mut()) {
                    props.push(serde_json::json!({"type": "olm.package.required",
                        "value": {"packageName": next, "versionRange": ">=1.0.0 <2.0.0"}}));
                }
            }
        }
    }

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
        platforms: Vec::new(),
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
        "parse {:?}, filter {:?} ({} bundles kept for dependencies), rebuild {:?}, total {:?}",
        parsed,
        filtered_in,
        filtered.pulled.len(),
        rebuilt_in,
        start.elapsed()
    );
    sqlite(&catalog, &filter)
}

/// The same catalog as an opm `index.db`: convert, parse and filter it.
fn sqlite(
    catalog: &airlift::catalog::Catalog,
    filter: &CatalogFilter,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.db");
    let db = rusqlite::Connection::open(&path)?;
    db.execute_batch(airlift::catalog::sqlite::FIXTURE_SCHEMA)?;
    let tx = db.unchecked_transaction()?;
    let mut entry = 0i64;
    for p in catalog.packages.values() {
        tx.execute(
            "INSERT INTO package VALUES (?1, ?2, NULL)",
            [&p.name, p.default_channel.as_deref().unwrap_or_default()],
        )?;
        for c in p.channels.values() {
            for e in &c.entries {
                entry += 1;
                tx.execute(
                    "INSERT INTO channel_entry VALUES (?1, ?2, ?3, ?4, NULL, 0)",
                    rusqlite::params![entry, c.name, p.name, e.name],
                )?;
            }
        }
        // opm stores `replaces`/`skips` per bundle: take them from the default channel.
        let default = p.default_channel.as_deref().and_then(|d| p.channels.get(d));
        for b in p.bundles.values() {
            let entry_of = default
                .and_then(|c| c.entry(&b.name))
                .or_else(|| p.channels.values().find_map(|c| c.entry(&b.name)));
            let replaces = entry_of
                .and_then(|e| e.replaces.clone())
                .unwrap_or_default();
            let skips = entry_of.map(|e| e.skips.join(",")).unwrap_or_default();
            tx.execute(
                "INSERT INTO operatorbundle VALUES (?1, '{}', '', ?2, '', ?3, ?4, ?5, '')",
                rusqlite::params![
                    b.name,
                    b.image,
                    b.version.clone().unwrap_or_default(),
                    replaces,
                    skips
                ],
            )?;
            for r in &b.related_images {
                tx.execute(
                    "INSERT INTO related_image VALUES (?1, ?2)",
                    [&r.image, &b.name],
                )?;
            }
        }
    }
    tx.commit()?;
    drop(db);
    let size = std::fs::metadata(&path)?.len();
    let t = Instant::now();
    let fbc = airlift::catalog::sqlite::to_fbc(&path)?;
    let converted = t.elapsed();
    let parsed = parse_catalog(&std::collections::BTreeMap::from([(
        std::path::PathBuf::from("index.db.json"),
        fbc,
    )]))?;
    let parsed_in = t.elapsed() - converted;
    // The same mix, with channels narrowed to the default one (the generated `fast` channel's
    // edges differ from `stable`'s, which a bundle-level `replaces` cannot express).
    let mut filter = filter.clone();
    for p in &mut filter.packages {
        p.channels.retain(|c| c.name == "stable");
    }
    let t2 = Instant::now();
    let filtered = filter_catalog("bench-sqlite", &parsed, &filter)?;
    println!(
        "sqlite: {:.1} MiB index.db, {} bundles; convert {:?}, parse {:?}, filter {:?} ({} kept), total {:?}",
        size as f64 / 1048576.0,
        parsed.bundle_count(),
        converted,
        parsed_in,
        t2.elapsed(),
        filtered.kept.len(),
        t.elapsed()
    );
    Ok(())
}
