//! Discovery for a pipeline command, as one call that returns one value: trust keys (read
//! once), releases (from the update graph, or from the archives that carry them on a
//! disconnected side), operator catalogs, every image the expanded goals hold (images taken
//! from archives: from the archives' index), the graph-data image's inputs, destination
//! probes, and the digests of local outputs and of the archive series this build reads.
//! Read-only but for discovery's caches (and what the archives carry, see `carried`).

use std::collections::BTreeSet;

use super::{Options, Session, carried, release, trust};
use crate::discover::{self, DiscoverOptions, Discovery, Resolution};
use crate::exit::{Exit, Failure};
use crate::oci::ImageRef;
use crate::plan::{self, GoalItem, TargetGoal};
use crate::recipe::Recipe;
use crate::resources::dir_digest;
use crate::state::{Journal, LockFile};
use crate::task::kinds::{LayoutSpec, PackSpec, VerifyArchiveSpec};
use crate::task::{LockSpec, RenderSpec};

/// How a command discovers.
#[derive(Clone, Copy, Debug)]
pub struct DiscoverMode {
    /// Where digests of tags come from.
    pub resolution: Resolution,
    /// Skip probes of destinations the journal records (`--trust-state`).
    pub trust_state: bool,
    /// Verify signatures (read the trust keys); `false` with `--no-verify`.
    pub verify: bool,
}

/// What discovery tells the user.
#[derive(Debug, Default)]
pub struct Said {
    /// Printed even with `-q` when they start with `WARNING`.
    pub warnings: Vec<String>,
    /// Informational lines (releases read).
    pub notes: Vec<String>,
}

/// Discovery and what the user should be told about it.
pub struct Discovered {
    pub discovery: Discovery,
    pub said: Said,
}

/// The release set of the graph-data image, its base as the recipe names it, and the lock set
/// it is pinned under.
fn graph_base_item(session: &Session, goals: &[TargetGoal]) -> Result<Option<GoalItem>, Failure> {
    let Some(set) = release::graph_release_set(session, goals) else {
        return Ok(None);
    };
    Ok(release::graph_base(set)?.map(|base| GoalItem::image(&set.name.value, base, None)))
}

/// Runs discovery for `goals`.
pub fn discover(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &Options,
    goals: &[TargetGoal],
    lock: Option<&LockFile>,
    journal: &Journal,
    mode: DiscoverMode,
) -> Result<Discovered, Failure> {
    let mut said = Said::default();
    let cosign = trust::cosign_trusts(session, goals, !mode.verify, &mut said.warnings)?;
    // Release sets taken only from archives are read from what the archives carry.
    let archived = carried::archived_release_sets(goals);
    let graph_set = release::graph_release_set(session, goals).map(|s| s.name.value.clone());
    // The others from the update graph.
    let mut sets = release::carried_sets(goals);
    sets.retain(|s| !archived.contains_key(s));
    let mut releases =
        release::discover_releases(rt, session, global, &sets, lock, mode.resolution, &mut said)?;
    let from_disk = carried::read(rt, session, &archived, graph_set.as_deref())?;
    for r in &from_disk.releases {
        said.notes
            .push(release::release_note(r, " (from the archives)"));
    }
    releases.extend(from_disk.releases);
    releases.sort();
    let mut release_trust =
        release::release_trust(session, &releases, mode.verify, &mut said.warnings)?;
    // Their signatures came with them: the verifications read those, not a signature store.
    for (set, dir) in &from_disk.signature_stores {
        if let Some(t) = release_trust.get_mut(set) {
            t.store = Some(format!("file://{}", dir.display()));
        }
    }
    let sides = session.sides(global)?;
    let opts = |concurrency| DiscoverOptions {
        resolution: mode.resolution,
        trust_state: mode.trust_state,
        concurrency,
        limits: global.limits(&session.recipe),
    };
    let mut d = Discovery {
        releases,
        release_trust,
        cosign,
        ..Discovery::default()
    };
    if goals.iter().any(|g| !g.catalogs.is_empty()) {
        let found = rt
            .block_on(discover::discover_catalogs(
                goals,
                lock,
                journal,
                &sides,
                &opts(global.limits(&session.recipe).jobs * 2),
                super::source_date_epoch().map(|e| e.to_string()).as_deref(),
            ))
            .map_err(|e| catalog_failure(&session.recipe, e))?;
        for c in found.catalogs.values() {
            said.warnings.extend(c.filtered.warnings.iter().cloned());
            for (package, bundle, image) in &c.filtered.blocked {
                said.notes.push(format!(
                    "catalog `{}`: bundle {bundle} of {package} blocked ({image}): not in the rebuilt catalog, not mirrored",
                    c.set
                ));
            }
            for p in &c.filtered.pulled {
                said.notes.push(format!(
                    "catalog `{}`: kept {} of {} {}",
                    c.set, p.bundle, p.package, p.reason
                ));
            }
        }
        d.catalogs = found.catalogs;
        d.dest.extend(found.dest);
    }
    if goals.iter().any(|g| !g.charts.is_empty()) {
        // Helm sets taken only from archives: what the archives carry; the others fetched.
        let archived = carried::archived_chart_sets(goals);
        d.charts = carried::read_charts(rt, session, &archived)?;
        let fetched: BTreeSet<String> = goals
            .iter()
            .flat_map(|g| g.charts.iter().map(|c| c.set.clone()))
            .filter(|s| !archived.contains_key(s))
            .collect();
        d.charts.extend(super::helm::discover_charts(
            rt,
            session,
            &fetched,
            lock,
            mode.resolution,
            &sides,
            &mut said,
        )?);
        d.charts.sort();
    }
    // Every image the goals hold, once releases and catalogs are known, plus the graph-data
    // image's base (pinned in the lock like any image).
    let blocks: Vec<_> = session.recipe.block_patterns().cloned().collect();
    let (mut expanded, invalid) = plan::expand_items(goals, &d, &blocks);
    for (set, image) in plan::blocked_images(&session.recipe, goals, &d, &blocks) {
        said.notes.push(format!(
            "blocked: {image} of `{set}` (a `block` pattern): not mirrored"
        ));
    }
    for i in invalid {
        said.warnings.push(format!(
            "catalog `{}`: bundle `{}` names an invalid image `{}` ({}); it is not mirrored",
            i.set, i.bundle, i.image, i.reason
        ));
    }
    let base = match &from_disk.graph {
        // The archives carry the base; it is read from them.
        Some(_) => None,
        None => graph_base_item(session, goals)?,
    };
    if let (Some(item), Some(first)) = (&base, goals.first()) {
        expanded.push(TargetGoal {
            name: String::new(),
            dest: first.dest.clone(),
            items: vec![item.clone()],
            releases: Vec::new(),
            catalogs: Vec::new(),
            layout: None,
            archive: None,
            archive_inputs: Default::default(),
            charts: Vec::new(),
        });
    }
    // Manifest HEADs and GETs are small: more of them in flight than blob transfers.
    let images = rt.block_on(discover::discover(
        &expanded,
        lock,
        journal,
        &session.cache(),
        &sides,
        &opts(global.limits(&session.recipe).jobs * 4),
    ));
    d.images = images.images;
    d.known_blobs = images.known_blobs;
    d.dest.extend(images.dest);
    d.unresolved = images.unresolved;
    from_archives(&expanded, &mut d);
    if let Some(graph) = from_disk.graph {
        d.graph = Some(graph);
        probe_graph_images(rt, session, &sides, goals, journal, mode, &mut d);
    } else if let Some(set) = release::graph_release_set(session, goals) {
        // The base's resolution is the graph image's business, not an image of a set.
        let why = base.as_ref().and_then(|b| d.unresolved.remove(&b.origin));
        let base_digest = base.as_ref().map(|b| {
            let found = d.images.get(&b.origin).map(|r| &r.digest);
            (
                &b.origin,
                found.ok_or(why.as_deref().unwrap_or("not resolved")),
            )
        });
        d.graph = Some(release::graph_input(
            session,
            set,
            mode.resolution,
            base_digest,
        ));
        probe_graph_images(rt, session, &sides, goals, journal, mode, &mut d);
    }
    probe_charts(rt, &sides, goals, journal, mode, &mut d);
    local_outputs(session, goals, &mut d);
    Ok(Discovered { discovery: d, said })
}

/// Images a target takes from an archive target's directory that no goal of this build
/// resolved from a source (the disconnected side has none): their digests are what the newest
/// archive of the directory that lists them says.
fn from_archives(goals: &[TargetGoal], d: &mut Discovery) {
    let mut series: std::collections::BTreeMap<
        &std::path::Path,
        Option<crate::archive::SeriesIndex>,
    > = std::collections::BTreeMap::new();
    for g in goals {
        for item in &g.items {
            let Some(dir) = item.via.as_ref().and_then(|up| g.archive_inputs.get(up)) else {
                continue;
            };
            if d.images.contains_key(&item.origin) {
                continue;
            }
            let index = series
                .entry(dir.as_path())
                .or_insert_with(|| crate::archive::SeriesIndex::read(dir).ok().flatten());
            let source = item.origin.to_string();
            let found = index.as_ref().and_then(|i| {
                i.archives
                    .iter()
                    .rev()
                    .find_map(|a| a.images.iter().find(|e| e.source == source))
            });
            match found {
                Some(e) => {
                    d.images.insert(
                        item.origin.clone(),
                        crate::discover::ResolvedImage {
                            digest: e.digest.clone(),
                            media_type: e
                                .media_type
                                .as_deref()
                                .and_then(crate::oci::MediaType::parse)
                                .unwrap_or(crate::oci::MediaType::OciManifest),
                            blobs: std::collections::BTreeMap::new(),
                            manifests: 1,
                        },
                    );
                }
                None => {
                    d.unresolved.insert(
                        item.origin.clone(),
                        format!(
                            "not in the archives of {} (copy the archive directory of the file:// target there)",
                            dir.display()
                        ),
                    );
                }
            }
        }
    }
}

/// Probes the graph-data image of every target that carries one and whose journal records it.
fn probe_graph_images(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    sides: &discover::Sides,
    goals: &[TargetGoal],
    journal: &Journal,
    mode: DiscoverMode,
    d: &mut Discovery,
) {
    if mode.trust_state {
        return;
    }
    let dests: BTreeSet<ImageRef> = goals
        .iter()
        .filter(|g| g.archive.is_none() && plan::graph_set(&session.recipe, g).is_some())
        .filter_map(|g| plan::graph_image(&g.dest).ok())
        .filter(|dest| journal.get(&dest.to_string()).is_some())
        .collect();
    for dest in dests {
        let found = rt.block_on(sides.dest.head_manifest(&dest)).ok().flatten();
        d.dest.insert(dest.to_string(), found);
    }
}

/// Probes the packed charts' destinations the journal records (`push-chart` tasks).
fn probe_charts(
    rt: &tokio::runtime::Runtime,
    sides: &discover::Sides,
    goals: &[TargetGoal],
    journal: &Journal,
    mode: DiscoverMode,
    d: &mut Discovery,
) {
    if mode.trust_state {
        return;
    }
    let mut dests = BTreeSet::new();
    for g in goals
        .iter()
        .filter(|g| g.archive.is_none() && g.layout.is_none())
    {
        for need in &g.charts {
            for c in d.charts.iter().filter(|c| c.set == need.set) {
                if let discover::ChartSource::Packed { path, tag } = &c.source
                    && let Ok(dest) = plan::named_destination(&g.dest, path, tag)
                    && journal.get(&dest.to_string()).is_some()
                {
                    dests.insert(dest);
                }
            }
        }
    }
    for dest in dests {
        let found = rt.block_on(sides.dest.head_manifest(&dest)).ok().flatten();
        d.dest.insert(dest.to_string(), found);
    }
}

/// The digests of the lock file and of every target's written cluster resources.
fn local_outputs(session: &Session, goals: &[TargetGoal], d: &mut Discovery) {
    let lock = std::fs::read(&session.lock_path)
        .ok()
        .map(|b| crate::oci::Digest::of(&b));
    d.local.insert(LockSpec::slot_of(&session.lock_path), lock);
    // Archive directories this build reads and does not write: the digest of their series.
    for g in goals {
        for (up, dir) in &g.archive_inputs {
            if goals.iter().any(|o| &o.name == up) {
                continue;
            }
            let series = crate::archive::SeriesIndex::read(dir)
                .ok()
                .flatten()
                .map(|s| {
                    let ids: Vec<_> = s.archives.iter().map(|a| a.id.clone()).collect();
                    VerifyArchiveSpec::series_digest(&ids)
                });
            d.local.insert(VerifyArchiveSpec::slot_of(dir), series);
        }
    }
    for g in goals {
        // An archive target: the id of the last archive of its directory, and the names of
        // its staging layout.
        if let Some(a) = &g.archive {
            let last = crate::archive::SeriesIndex::read(&a.dir)
                .ok()
                .flatten()
                .and_then(|s| s.last().map(|l| l.id.clone()));
            d.local.insert(PackSpec::slot_of(&a.dir), last);
            let staging = plan::staging_layout(&session.workspace, &g.name);
            for (name, e) in crate::store::read_names(&staging).unwrap_or_default() {
                d.local
                    .insert(LayoutSpec::slot_of(&staging, &name), Some(e.digest));
            }
            continue;
        }
        // An `oci://` target: every name its index.json holds (an unreadable one counts as
        // empty: the tasks then run and say why).
        if let Some(dir) = &g.layout {
            for (name, e) in crate::store::read_names(dir).unwrap_or_default() {
                d.local
                    .insert(LayoutSpec::slot_of(dir, &name), Some(e.digest));
            }
            continue;
        }
        let dir = session.workspace.out_dir(&g.name).join("cluster-resources");
        // An unreadable directory counts as absent: the render task then runs and says why.
        d.local.insert(
            RenderSpec::slot_of(&g.name),
            dir_digest(&dir).ok().flatten(),
        );
    }
}

pub(super) fn catalog_failure(
    recipe: &Recipe,
    errors: Vec<discover::CatalogDiscoveryError>,
) -> Failure {
    let exit = if errors.iter().all(|e| e.is_filter()) {
        Exit::InvalidInput
    } else {
        Exit::Remote
    };
    // Every problem is shown: all but the last here, the last as the command's error.
    let mut reports: Vec<miette::Report> = errors
        .into_iter()
        .map(|e| match e {
            discover::CatalogDiscoveryError::Filter(f) => {
                match plan::filter_diagnostics(recipe, &f) {
                    Some(d) => miette::Report::new(d),
                    None => miette::Report::new(discover::CatalogDiscoveryError::Filter(f)),
                }
            }
            other => miette::Report::new(other),
        })
        .collect();
    let report = reports
        .pop()
        .unwrap_or_else(|| miette::miette!("catalog discovery failed"));
    for r in reports {
        eprintln!("{r:?}");
    }
    Failure::new(exit, report)
}
