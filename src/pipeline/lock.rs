//! The lock after a resolution, and `--locked`.

use std::path::Path;

use crate::discover::Discovery;
use crate::exit::{Exit, Failure};
use crate::plan::TargetGoal;
use crate::state::{LockFile, LockedChart, LockedImage};

/// The lock after this resolution: entries of the sets resolved now replace the old ones; other
/// sets keep theirs. `goals` are expanded (every item they hold).
pub fn merged_lock(
    old: Option<&LockFile>,
    goals: &[TargetGoal],
    discovery: &Discovery,
) -> LockFile {
    let mut sets = std::collections::BTreeSet::new();
    let mut images = Vec::new();
    for g in goals {
        sets.extend(g.releases.iter().map(|r| r.set.clone()));
        for item in &g.items {
            sets.insert(item.set.clone());
            // Release payloads are locked below; their components are pinned by the payload.
            if item.category == crate::resources::Category::Release {
                continue;
            }
            if let Some(r) = discovery.images.get(&item.origin) {
                images.push(LockedImage::new(
                    item.set.clone(),
                    item.origin.clone(),
                    r.digest.clone(),
                ));
            }
        }
    }
    images.extend(discovery.releases.iter().filter_map(|r| {
        Some(LockedImage {
            release: Some(r.tag()),
            ..LockedImage::new(r.set.clone(), r.source.clone(), r.payload.digest()?.clone())
        })
    }));
    // The graph-data image's base, pinned like any image (under its release set).
    if let Some(Ok(g)) = &discovery.graph
        && let (Some(source), Some(pinned)) = (&g.base_source, &g.base)
        && let Some(digest) = pinned.digest()
    {
        images.push(LockedImage::new(
            g.set.clone(),
            source.clone(),
            digest.clone(),
        ));
    }
    for c in discovery.catalogs.values() {
        sets.insert(c.set.clone());
        let mut bundles: Vec<String> = c
            .filtered
            .kept
            .iter()
            .map(|b| format!("{}/{}", b.package, b.name))
            .collect();
        bundles.sort();
        bundles.dedup();
        images.push(LockedImage {
            bundles,
            ..LockedImage::new(
                c.set.clone(),
                c.fetched.image.clone(),
                c.fetched.digest.clone(),
            )
        });
    }
    let mut charts: Vec<LockedChart> = Vec::new();
    for c in &discovery.charts {
        sets.insert(c.set.clone());
        if let Some(digest) = c.pinned_digest(&discovery.images) {
            charts.push(LockedChart {
                set: c.set.clone(),
                repository: c.repository.clone(),
                chart: c.name.clone(),
                version: c.version.clone(),
                digest,
            });
        }
    }
    if let Some(old) = old {
        images.extend(
            old.images
                .iter()
                .filter(|i| !sets.contains(&i.set))
                .cloned(),
        );
        charts.extend(
            old.charts
                .iter()
                .filter(|c| !sets.contains(&c.set))
                .cloned(),
        );
    }
    LockFile::new(images).with_charts(charts)
}

/// `--locked`: fail naming every difference between the lock and this resolution.
pub fn check_locked(path: &Path, old: Option<&LockFile>, new: &LockFile) -> Result<(), Failure> {
    let Some(old) = old else {
        return Err(Failure::new(
            Exit::LockMismatch,
            miette::miette!(
                help = "run `airlift lock` and commit airlift.lock, or drop --locked",
                "--locked, but {} does not exist",
                path.display()
            ),
        ));
    };
    let diff = LockFile::diff(old, new);
    if diff.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::LockMismatch,
        miette::miette!(
            help = "review the changes, then run `airlift update` (or `airlift lock`) to accept them, or build without --locked",
            "resolution differs from {} (--locked):\n{}",
            path.display(),
            diff.render().trim_end()
        ),
    ))
}
