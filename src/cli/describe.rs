//! `airlift describe DIR [--format text|json]`: the archive series of a `file://` target's
//! directory — each archive's sequence, what it extends, its chunks and sizes, and what it
//! holds per content set. Reads `airlift-index.json` only (no chunk is opened).

use std::fmt::Write as _;
use std::path::Path;

use super::DescribeFormat;
use crate::archive::SeriesIndex;
use crate::exit::{CmdResult, Exit, Failure};
use crate::plan::explain::human_bytes;

pub(crate) fn run(dir: &Path, format: DescribeFormat) -> CmdResult {
    let index = SeriesIndex::read(dir)
        .map_err(|e| Failure::new(Exit::InvalidInput, e))?
        .ok_or_else(|| {
            Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = "name the directory of a `file://` target (it holds airlift-NNNNNN.tar chunks and airlift-index.json)",
                    "{} has no {}",
                    dir.display(),
                    crate::archive::INDEX_FILE
                ),
            )
        })?;
    match format {
        DescribeFormat::Json => print!("{}", index.to_json()),
        DescribeFormat::Text => print!("{}", text(&index, dir)),
    }
    Ok(())
}

fn short(d: &crate::oci::Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

fn text(index: &SeriesIndex, dir: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "target `{}`: {} archive(s) in {}",
        index.target,
        index.archives.len(),
        dir.display()
    );
    for a in &index.archives {
        let size: u64 = a.chunks.iter().map(|c| c.size).sum();
        let extends = a
            .extends
            .as_ref()
            .map_or_else(|| "nothing (a full archive)".to_string(), short);
        let _ = writeln!(
            s,
            "archive {} ({}): extends {extends}; {} chunk(s), {}; {} new blob(s), {}",
            a.sequence,
            short(&a.id),
            a.chunks.len(),
            human_bytes(size),
            a.blobs,
            human_bytes(a.blob_bytes)
        );
        if let Some(c) = &a.created {
            let _ = writeln!(s, "  created {c}");
        }
        for c in &a.chunks {
            let _ = writeln!(
                s,
                "  {}  {}  {}",
                c.name,
                human_bytes(c.size),
                short(&c.sha256)
            );
        }
        let mut sets: Vec<&str> = a.images.iter().map(|i| i.set.as_str()).collect();
        sets.sort();
        sets.dedup();
        for set in sets {
            let images: Vec<_> = a.images.iter().filter(|i| i.set == set).collect();
            let _ = writeln!(s, "  set `{set}`: {} image(s)", images.len());
            let listed = |key: &str| -> Vec<String> {
                a.summary
                    .get(set)
                    .and_then(|v| v[key].as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            };
            let releases = listed("releases");
            if !releases.is_empty() {
                let _ = writeln!(s, "    releases: {}", releases.join(", "));
            }
            let charts = listed("charts");
            if !charts.is_empty() {
                let _ = writeln!(s, "    charts: {}", charts.join(", "));
            }
            if let Some(catalog) = a.summary.get(set).and_then(|v| v["catalog"].as_str()) {
                let _ = writeln!(
                    s,
                    "    catalog {catalog}, packages: {}",
                    listed("packages").join(", ")
                );
            }
            for i in images {
                let _ = writeln!(s, "    {} {}", i.source, short(&i.digest));
            }
        }
    }
    s
}
