//! Disk-to-mirror discovery of release sets: a release set that every goal of the build takes
//! from the archives of a `file://` target (no goal discovers it from a source) is read from
//! what those archives carry (`archive::Carried`): the releases the connected side selected,
//! with their components, their signatures, and the graph-data tarball and base. Nothing is
//! asked of an update service, a signature store or a source registry.
//!
//! Opening the archives verifies all of them (chunk sha256, safe entries, blob digests) before
//! anything is planned; the unpack tasks share that one pass. Writes the carried signatures and
//! graph data under `<workspace>/cache/carried/<archive target>/`, so the verify-signature
//! tasks read them as a signature store directory and the graph-image task as its tarball.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Session;
use crate::archive::{
    ArchiveSet, CARRIED_FILE, Carried, CarriedChart, GRAPH_DATA_FILE, SIGNATURES_PREFIX,
    SeriesError, chart_file,
};
use crate::discover::{ChartSource, DiscoveredChart, DiscoveredRelease, GraphInput, ManifestCache};
use crate::exit::{Exit, Failure};
use crate::oci::Digest;
use crate::plan::TargetGoal;

/// Release sets the goals take only from archive targets: set → (archive target, directory).
/// A set is taken from an archive when some goal reads it from an archive target this build
/// does not write, and no goal reads it from its source; a goal that takes it from a registry
/// target (an enclave chain: disk → enterprise registry → enclave disk) follows that target.
pub fn archived_release_sets(goals: &[TargetGoal]) -> BTreeMap<String, (String, PathBuf)> {
    let mut archived = BTreeMap::new();
    let mut direct = std::collections::BTreeSet::new();
    for g in goals {
        for need in &g.releases {
            let Some(up) = &need.via else {
                direct.insert(need.set.clone());
                continue;
            };
            let Some(dir) = g.archive_inputs.get(up) else {
                continue;
            };
            if goals.iter().any(|o| &o.name == up) {
                // Written in this run: the archive target reads it from its source.
                direct.insert(need.set.clone());
            } else {
                archived
                    .entry(need.set.clone())
                    .or_insert_with(|| (up.clone(), dir.clone()));
            }
        }
    }
    archived.retain(|set, _| !direct.contains(set));
    archived
}

/// What the archives carry for the archived release sets.
#[derive(Default)]
pub struct FromArchives {
    pub releases: Vec<DiscoveredRelease>,
    /// Release set → the signature store directory its carried signatures were written to.
    pub signature_stores: BTreeMap<String, PathBuf>,
    /// The graph-data image's inputs, when `graph_set` is archived.
    pub graph: Option<Result<GraphInput, String>>,
}

fn series_failure(e: &SeriesError) -> Failure {
    let exit = if e.is_damage() {
        Exit::Verification
    } else {
        Exit::InvalidInput
    };
    match e.help() {
        Some(help) => Failure::new(exit, miette::miette!(help = help, "{e}")),
        None => Failure::new(exit, miette::miette!("{e}")),
    }
}

/// A chunk of the archives of `dir` could not be read.
fn read_failure(dir: &Path, e: crate::archive::ArchiveError) -> Failure {
    series_failure(&SeriesError::Archive {
        dir: dir.to_path_buf(),
        source: e,
    })
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(
        Exit::Io,
        miette::miette!(
            help = "check that the workspace is writable and the disk has space",
            "cannot write {}: {e}",
            path.display()
        ),
    )
}

/// Reads the archived release sets (see [`archived_release_sets`]) and, when `graph_set` is one
/// of them, the graph-data image's inputs.
pub fn read(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    archived: &BTreeMap<String, (String, PathBuf)>,
    graph_set: Option<&str>,
) -> Result<FromArchives, Failure> {
    let mut out = FromArchives::default();
    let mut opened: BTreeMap<&Path, (Arc<ArchiveSet>, Carried)> = BTreeMap::new();
    for (set, (target, dir)) in archived {
        if !opened.contains_key(dir.as_path()) {
            opened.insert(dir.as_path(), open(rt, dir)?);
        }
        let Some((archives, carried)) = opened.get(dir.as_path()) else {
            continue;
        };
        let releases: Vec<&crate::archive::CarriedRelease> =
            carried.releases.iter().filter(|r| &r.set == set).collect();
        if releases.is_empty() {
            return Err(Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = format!(
                        "build the target `{target}` with the release set on the connected side and bring the new archive here"
                    ),
                    "release set `{set}`: the archives of {} carry no release of it",
                    dir.display()
                ),
            ));
        }
        for r in releases {
            let version = semver::Version::parse(&r.version).map_err(|e| {
                Failure::new(
                    Exit::Verification,
                    miette::miette!(
                        "{CARRIED_FILE} in {}: version {}: {e}",
                        dir.display(),
                        r.version
                    ),
                )
            })?;
            out.releases.push(DiscoveredRelease {
                set: r.set.clone(),
                version,
                arch: r.arch.clone(),
                source: r.source.clone(),
                payload: r.payload.clone(),
                components: r.components.clone(),
            });
        }
        let carried_dir = session
            .workspace
            .root()
            .join("cache")
            .join("carried")
            .join(target);
        let signatures = carried_dir.join("signatures");
        let files = archives
            .files_under(SIGNATURES_PREFIX)
            .map_err(|e| read_failure(dir, e))?;
        for (path, bytes) in files {
            let rel = path.trim_start_matches(SIGNATURES_PREFIX);
            let to = signatures.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_failure(parent, e))?;
            }
            std::fs::write(&to, bytes).map_err(|e| io_failure(&to, e))?;
        }
        out.signature_stores.insert(set.clone(), signatures);
        if graph_set == Some(set.as_str()) {
            out.graph = Some(graph_input(archives, carried, set, dir, &carried_dir)?);
        }
    }
    out.releases.sort();
    Ok(out)
}

/// The archives of `dir` and what they carry.
fn open(rt: &tokio::runtime::Runtime, dir: &Path) -> Result<(Arc<ArchiveSet>, Carried), Failure> {
    let archives = rt
        .block_on(ArchiveSet::shared(dir))
        .map_err(|e| series_failure(&e))?;
    let carried = match archives.file(CARRIED_FILE) {
        None => Carried::default(),
        Some(bytes) => {
            let bytes = bytes.map_err(|e| read_failure(dir, e))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                Failure::new(
                    Exit::Verification,
                    miette::miette!(
                        help = "the archive was written by another airlift version or is damaged: build the file:// target again on the connected side",
                        "{CARRIED_FILE} in {}: {e}",
                        dir.display()
                    ),
                )
            })?
        }
    };
    Ok((archives, carried))
}

/// Helm sets that some goal takes from an archive directory no goal of this build writes, and
/// none takes from a source: set → (archive target, directory).
pub fn archived_chart_sets(goals: &[TargetGoal]) -> BTreeMap<String, (String, PathBuf)> {
    let mut archived = BTreeMap::new();
    let mut direct = std::collections::BTreeSet::new();
    for g in goals {
        for need in &g.charts {
            match need
                .via
                .as_ref()
                .and_then(|up| g.archive_inputs.get(up).map(|d| (up, d)))
            {
                Some((up, dir)) if !goals.iter().any(|o| &o.name == up) => {
                    archived
                        .entry(need.set.clone())
                        .or_insert_with(|| (up.clone(), dir.clone()));
                }
                _ => {
                    direct.insert(need.set.clone());
                }
            }
        }
    }
    archived.retain(|set, _| !direct.contains(set));
    archived
}

/// The charts the archives carry for `archived` sets, as discovery would have found them; the
/// archives of packed charts go into the workspace's chart cache (`push-chart` reads them there).
pub fn read_charts(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    archived: &BTreeMap<String, (String, PathBuf)>,
) -> Result<Vec<DiscoveredChart>, Failure> {
    let cache = ManifestCache::new(&session.workspace.chart_cache());
    let mut out = Vec::new();
    let mut opened: BTreeMap<&Path, (Arc<ArchiveSet>, Carried)> = BTreeMap::new();
    for (set, (target, dir)) in archived {
        if !opened.contains_key(dir.as_path()) {
            opened.insert(dir.as_path(), open(rt, dir)?);
        }
        let Some((archives, carried)) = opened.get(dir.as_path()) else {
            continue;
        };
        let charts: Vec<&CarriedChart> = carried.charts.iter().filter(|c| &c.set == set).collect();
        if charts.is_empty() {
            return Err(Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = format!(
                        "build the target `{target}` with the helm set on the connected side and bring the new archive here"
                    ),
                    "helm set `{set}`: the archives of {} carry no chart of it",
                    dir.display()
                ),
            ));
        }
        for c in charts {
            if c.oci.is_none() && cache.get(&c.archive_digest).is_none() {
                let file = chart_file(&c.archive_digest);
                let bytes = archives
                    .file(&file)
                    .ok_or_else(|| {
                        Failure::new(
                            Exit::Verification,
                            miette::miette!(
                                help = "build the file:// target again on the connected side",
                                "{file} is missing from the archives of {}",
                                dir.display()
                            ),
                        )
                    })?
                    .map_err(|e| read_failure(dir, e))?;
                if Digest::of(&bytes) != c.archive_digest {
                    return Err(Failure::new(
                        Exit::Verification,
                        miette::miette!(
                            help = "build the file:// target again on the connected side",
                            "{file} in {} is not the chart {CARRIED_FILE} names",
                            dir.display()
                        ),
                    ));
                }
                let path = cache.path(&c.archive_digest);
                cache.put(&bytes).map_err(|e| io_failure(&path, e))?;
            }
            out.push(DiscoveredChart {
                set: c.set.clone(),
                entry: c.entry.clone(),
                repository: c.repository.clone(),
                name: c.name.clone(),
                version: c.version.clone(),
                source: match &c.oci {
                    Some(r) => ChartSource::Oci(r.clone()),
                    None => ChartSource::Packed {
                        path: c.path.clone(),
                        tag: c.tag.clone(),
                    },
                },
                archive: cache.path(&c.archive_digest),
                archive_digest: c.archive_digest.clone(),
                archive_size: c.archive_size,
                images: c.images.clone(),
            });
        }
    }
    Ok(out)
}

/// The graph-data image's inputs from the archives: the tarball written to the workspace, the
/// base pinned as the archive lists it.
fn graph_input(
    archives: &ArchiveSet,
    carried: &Carried,
    set: &str,
    dir: &Path,
    carried_dir: &Path,
) -> Result<Result<GraphInput, String>, Failure> {
    let Some(g) = carried.graph.as_ref().filter(|g| g.set == set) else {
        return Ok(Err(format!(
            "the archives of {} carry no graph data for `{set}` (build the file:// target with `graph #true` on the connected side)",
            dir.display()
        )));
    };
    let Some(bytes) = archives.file(GRAPH_DATA_FILE) else {
        return Ok(Err(format!(
            "{GRAPH_DATA_FILE} is missing from the archives of {}",
            dir.display()
        )));
    };
    let bytes = bytes.map_err(|e| read_failure(dir, e))?;
    if Digest::of(&bytes) != g.tarball_digest {
        return Ok(Err(format!(
            "{GRAPH_DATA_FILE} in {} is not the graph data {CARRIED_FILE} names",
            dir.display()
        )));
    }
    std::fs::create_dir_all(carried_dir).map_err(|e| io_failure(carried_dir, e))?;
    let tarball = carried_dir.join("graph-data.tar.gz");
    std::fs::write(&tarball, &bytes).map_err(|e| io_failure(&tarball, e))?;
    Ok(Ok(GraphInput {
        set: set.to_string(),
        tarball,
        tarball_digest: g.tarball_digest.clone(),
        base: g.base.clone(),
        base_source: g.base_source.clone(),
        base_archive: g.base.as_ref().map(|_| dir.to_path_buf()),
        arch: g.arch.clone(),
    }))
}
