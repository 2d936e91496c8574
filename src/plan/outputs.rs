//! The last stages of the plan: the graph-data image of each target that carries a release
//! set with `graph #true`, each target's cluster resources (after every task of the target),
//! and the lock write.
//!
//! Pure: the recipe, expanded goals, discovery and recorded state in, tasks out.

use crate::archive::{Carried, CarriedCatalog, CarriedChart, CarriedGraph, CarriedRelease};
use crate::discover::ChartSource;
use std::collections::BTreeMap;
use std::path::Path;

use super::build::{Outputs, Plan, PlanOptions, RecordedState, freshness};
use super::goal::TargetGoal;
use super::naming::graph_image;
use super::task::{Task, TaskId, TaskKind};
use crate::discover::Discovery;
use crate::oci::Digest;
use crate::recipe::{ContentSet, MirrorScope as RecipeScope, MirrorSourcePolicy, Recipe};
use crate::resources::{MirrorScope, ResourceOptions, SourcePolicy};
use crate::state::{KindName, LockFile};
use crate::task::kinds::{PackImage, PackSpec};
use crate::task::{GraphImageSpec, Loaded, LockSpec, RenderSpec};

/// The first release set (by name) with `graph #true` that `goal` carries.
pub fn graph_set<'a>(recipe: &'a Recipe, goal: &TargetGoal) -> Option<&'a str> {
    let mut sets: Vec<&str> = goal.releases.iter().map(|r| r.set.as_str()).collect();
    sets.sort();
    sets.into_iter().find_map(|s| match recipe.content_set(s) {
        Some(ContentSet::Release(r)) if r.graph => Some(r.name.value.as_str()),
        _ => None,
    })
}

/// One `build-graph-image` task per target carrying a `graph #true` release set, from the
/// graph input discovery prepared (stored graph data, pinned base). When discovery could not
/// prepare it, the image is reported missing.
pub(super) fn add_graph_images(
    plan: &mut Plan,
    recipe: &Recipe,
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    opts: &PlanOptions,
    out: &Outputs,
) {
    for goal in goals {
        // An archive target carries the graph data and the base; the reading side builds it.
        if graph_set(recipe, goal).is_none() || goal.archive.is_some() {
            continue;
        }
        let dest = match graph_image(&goal.dest) {
            Ok(d) => d,
            Err(e) => {
                if let Some(r) = goal_ref(goal) {
                    plan.missing.push((r, format!("graph-data image: {e}")));
                }
                continue;
            }
        };
        let input = match &discovery.graph {
            Some(Ok(g)) => g,
            Some(Err(why)) => {
                plan.missing
                    .push((dest, format!("graph-data image: {why}")));
                continue;
            }
            None => {
                plan.missing
                    .push((dest, "graph-data image: graph data not read".to_string()));
                continue;
            }
        };
        let kind = TaskKind::BuildGraphImage(GraphImageSpec {
            release_set: input.set.clone(),
            dest: dest.clone(),
            tarball: input.tarball.clone(),
            tarball_digest: input.tarball_digest.clone(),
            base: input.base.clone(),
            base_archive: input.base_archive.clone(),
            arch: input.arch.clone(),
            mtime: out
                .source_date_epoch
                .and_then(|e| u64::try_from(e).ok())
                .unwrap_or(0),
        });
        let key = kind.key();
        let fresh = freshness(&kind, &key, None, state, discovery, opts);
        plan.tasks.push(Task {
            id: TaskId::new(KindName::BuildGraphImage, &goal.name, &dest.to_string()),
            target: goal.name.clone(),
            key,
            kind,
            deps: Vec::new(),
            after: Vec::new(),
            freshness: fresh,
            bytes: 0,
        });
    }
    plan.missing.sort();
    plan.missing.dedup();
}

/// The graph image's unfolded name at the target, for the `missing` line when
/// `max-nested-paths` cannot name it.
fn goal_ref(goal: &TargetGoal) -> Option<crate::oci::ImageRef> {
    let ns = if goal.dest.namespace.is_empty() {
        String::new()
    } else {
        format!("/{}", goal.dest.namespace)
    };
    format!("{}{ns}/openshift/graph-image:latest", goal.dest.registry)
        .parse()
        .ok()
}

/// How a target's resources are rendered, from the recipe's target options.
pub fn resource_options(recipe: &Recipe, goal: &TargetGoal, out: &Outputs) -> ResourceOptions {
    let target = recipe.target(&goal.name);
    ResourceOptions {
        target: goal.name.clone(),
        scope: match target.map(|t| t.mirror_scope) {
            Some(RecipeScope::Namespace) => MirrorScope::Namespace,
            Some(RecipeScope::Registry) => MirrorScope::Registry,
            _ => MirrorScope::Repository,
        },
        source_policy: match target.map(|t| t.mirror_source_policy) {
            Some(MirrorSourcePolicy::NeverContactSource) => Some(SourcePolicy::NeverContactSource),
            _ => None,
        },
        folded_paths: goal.dest.max_nested_paths.is_some_and(|m| m > 0),
        icsp: false,
        insecure_mirrors: out.insecure_mirrors,
        source_date_epoch: out.source_date_epoch,
    }
}

/// `catalog-source-template` of every catalog set the goal carries: the name the recipe gives
/// it and its path (relative to the recipe file that names it).
pub fn templates(
    recipe: &Recipe,
    goal: &TargetGoal,
) -> BTreeMap<String, (String, std::path::PathBuf)> {
    let mut out = BTreeMap::new();
    for c in &goal.catalogs {
        let Some(set) = recipe.catalogs().find(|s| s.name.value == c.set) else {
            continue;
        };
        let Some(t) = &set.catalog_source_template else {
            continue;
        };
        let base = recipe
            .files
            .get(set.origin.file)
            .and_then(|f| f.path.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        out.insert(
            c.set.clone(),
            (t.value.display().to_string(), base.join(&t.value)),
        );
    }
    out
}

/// The render spec of one target (`goal` expanded with every item it holds).
pub fn render_spec(recipe: &Recipe, goal: &TargetGoal, out: &Outputs) -> RenderSpec {
    RenderSpec {
        target: goal.name.clone(),
        dest: goal.dest.clone(),
        items: goal.items.clone(),
        catalogs: goal.catalogs.clone(),
        graph: graph_set(recipe, goal).is_some(),
        options: resource_options(recipe, goal, out),
        templates: templates(recipe, goal),
        lock: Loaded(out.lock.clone()),
        lock_digest: lock_digest(&out.lock),
        signatures_dir: out.workspace.root().join("signatures"),
        dir: out.workspace.out_dir(&goal.name).join("cluster-resources"),
    }
}

fn lock_digest(lock: &LockFile) -> Digest {
    Digest::of(lock.to_text().as_bytes())
}

/// Every task of `target` so far, and the first of them that runs in this build (what a task
/// reading their outputs calls "dependency dirty").
fn target_tasks(plan: &Plan, target: &str) -> (Vec<TaskId>, Option<TaskId>) {
    let tasks: Vec<&Task> = plan.tasks.iter().filter(|t| t.target == target).collect();
    let dirty = tasks
        .iter()
        .find(|t| !t.freshness.is_fresh())
        .map(|t| t.id.clone());
    (tasks.iter().map(|t| t.id.clone()).collect(), dirty)
}

/// A task that reads what other tasks of its target wrote (resources, archives): `edges` are
/// its hard and after dependencies; it is dirty when `input_dirty` runs.
fn reader_task(
    id: TaskId,
    target: &str,
    kind: TaskKind,
    edges: (Vec<TaskId>, Vec<TaskId>),
    input_dirty: Option<TaskId>,
    state: &dyn RecordedState,
    discovery: &Discovery,
) -> Task {
    let key = kind.key();
    let fresh = freshness(
        &kind,
        &key,
        input_dirty.as_ref(),
        state,
        discovery,
        &PlanOptions::default(),
    );
    Task {
        id,
        target: target.to_string(),
        key,
        kind,
        deps: edges.0,
        after: edges.1,
        freshness: fresh,
        bytes: 0,
    }
}

/// One `render-resources` task per target, after every other task of that target (whatever
/// their outcome: the resources describe what the target holds).
pub(super) fn add_resources(
    plan: &mut Plan,
    recipe: &Recipe,
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    out: &Outputs,
) {
    // An OCI layout or an archive is read by tools, not clusters: no cluster resources.
    for goal in goals
        .iter()
        .filter(|g| g.layout.is_none() && g.archive.is_none())
    {
        let (after, input_dirty) = target_tasks(plan, &goal.name);
        let kind = TaskKind::RenderResources(render_spec(recipe, goal, out));
        let id = TaskId::new(KindName::RenderResources, &goal.name, "cluster-resources");
        let task = reader_task(
            id,
            &goal.name,
            kind,
            (Vec::new(), after),
            input_dirty,
            state,
            discovery,
        );
        plan.tasks.push(task);
    }
}

/// The `write-lock` task, when the build writes the lock. It belongs to no target.
pub(super) fn add_lock(plan: &mut Plan, discovery: &Discovery, out: &Outputs) {
    let Some(path) = &out.lock_path else {
        return;
    };
    let kind = TaskKind::WriteLock(LockSpec::new(path.clone(), out.lock.clone()));
    let key = kind.key();
    let fresh = freshness(
        &kind,
        &key,
        None,
        &BTreeMap::new(),
        discovery,
        &PlanOptions::default(),
    );
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    plan.tasks.push(Task {
        id: TaskId::new(KindName::WriteLock, "", &file),
        target: String::new(),
        key,
        kind,
        deps: Vec::new(),
        after: Vec::new(),
        freshness: fresh,
        bytes: 0,
    });
}

/// One `pack` task per archive (`file://`) target: after the manifests of every image of the
/// target are in its staging layout, the blobs no earlier archive of the series shipped (read
/// from their registries straight into the chunks), every manifest, the
/// layout's index, the recipe and lock, and what the reading side plans from (`carried`:
/// releases, signatures, graph data, catalog packages) go into the next archive of the
/// directory. `--since` makes it dirty.
pub(super) fn add_packs(
    plan: &mut Plan,
    recipe: &Recipe,
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    out: &Outputs,
) {
    for goal in goals {
        let Some(archive) = &goal.archive else {
            continue;
        };
        let (deps, input_dirty) = target_tasks(plan, &goal.name);
        let images: Vec<PackImage> = plan
            .tasks
            .iter()
            .filter(|t| t.target == goal.name)
            .filter_map(|t| match &t.kind {
                TaskKind::WriteLayout(l) => Some(PackImage {
                    set: goal
                        .items
                        .iter()
                        .find(|i| i.origin == l.copy.origin)
                        .map(|i| i.set.clone())
                        .or_else(|| {
                            let c = goal.catalogs.iter().find(|c| c.source == l.copy.origin);
                            c.map(|c| c.set.clone())
                        })
                        .unwrap_or_default(),
                    origin: l.copy.origin.clone(),
                    digest: l.copy.digest.clone(),
                    name: l.name(),
                    from: l.copy.from.repository().clone(),
                    from_dest: l.copy.from_task.is_some(),
                }),
                _ => None,
            })
            .collect();
        // The blobs move in the pack (the write-layout tasks only write manifests).
        let mut bytes = 0;
        for t in plan.tasks.iter_mut().filter(|t| t.target == goal.name) {
            if let TaskKind::WriteLayout(l) = &t.kind
                && l.manifests_only
            {
                bytes += std::mem::take(&mut t.bytes);
            }
        }
        let recipe_files: Vec<std::path::PathBuf> =
            recipe.files.iter().map(|f| f.path.clone()).collect();
        let kind = TaskKind::Pack(Box::new(PackSpec {
            target: goal.name.clone(),
            dir: archive.dir.clone(),
            chunk_size: archive.chunk_size,
            split_blobs: out.split_blobs,
            staging: super::build::staging_layout(&out.workspace, &goal.name),
            shipped: out
                .workspace
                .root()
                .join("state")
                .join(format!("shipped-{}.json", goal.name)),
            images,
            recipe_files,
            lock: Loaded(out.lock.clone()),
            lock_digest: lock_digest(&out.lock),
            created: out.source_date_epoch,
            since: out.since,
            carried: carried(goal, discovery),
            signatures_dir: out.workspace.root().join("signatures"),
            graph_tarball: match &discovery.graph {
                Some(Ok(g))
                    if goal.releases.iter().any(|r| r.set == g.set) && g.base_archive.is_none() =>
                {
                    Some(g.tarball.clone())
                }
                _ => None,
            },
            chart_cache: out.workspace.chart_cache(),
        }));
        let id = TaskId::new(
            KindName::Pack,
            &goal.name,
            &archive.dir.display().to_string(),
        );
        let mut task = reader_task(
            id,
            &goal.name,
            kind,
            (deps, Vec::new()),
            input_dirty,
            state,
            discovery,
        );
        // `--since` is not in the key: the archive it writes is recorded like any other, so
        // the next build without it is fresh.
        if let Some(since) = out.since {
            task.freshness = super::Freshness::Dirty(super::DirtyReason::Requested(format!(
                "--since {}",
                crate::resources::rfc3339_utc(since)
            )));
        }
        if !task.freshness.is_fresh() {
            task.bytes = bytes;
        }
        plan.tasks.push(task);
    }
}

/// What an archive target carries for the side that reads it: its release sets' releases, the
/// graph-data inputs of its graph set, and the packages its catalogs keep.
fn carried(goal: &TargetGoal, discovery: &Discovery) -> Carried {
    let carries = |set: &str| goal.releases.iter().any(|r| r.set == set);
    let releases = discovery
        .releases
        .iter()
        .filter(|r| carries(&r.set))
        .map(|r| CarriedRelease {
            set: r.set.clone(),
            version: r.version.to_string(),
            arch: r.arch.clone(),
            source: r.source.clone(),
            payload: r.payload.clone(),
            components: r.components.clone(),
        })
        .collect();
    // Graph data read from an archive is not carried further (see `items`).
    let graph = match &discovery.graph {
        Some(Ok(g)) if carries(&g.set) && g.base_archive.is_none() => Some(CarriedGraph {
            set: g.set.clone(),
            tarball_digest: g.tarball_digest.clone(),
            arch: g.arch.clone(),
            base_source: g.base_source.clone(),
            base: g.base.clone(),
        }),
        _ => None,
    };
    let catalogs = goal
        .catalogs
        .iter()
        .filter_map(|c| {
            let found = discovery.catalogs.get(&c.set)?;
            let packages: std::collections::BTreeSet<String> = found
                .filtered
                .kept
                .iter()
                .map(|b| b.package.clone())
                .collect();
            Some(CarriedCatalog {
                set: c.set.clone(),
                source: c.source.clone(),
                packages: packages.into_iter().collect(),
                rebuilt: c.via.is_some(),
            })
        })
        .collect();
    let charts = discovery
        .charts
        .iter()
        .filter(|c| goal.charts.iter().any(|n| n.set == c.set))
        .map(|c| {
            let (oci, path, tag) = match &c.source {
                ChartSource::Oci(r) => (Some(r.clone()), String::new(), String::new()),
                ChartSource::Packed { path, tag } => (None, path.clone(), tag.clone()),
            };
            CarriedChart {
                set: c.set.clone(),
                entry: c.entry.clone(),
                repository: c.repository.clone(),
                name: c.name.clone(),
                version: c.version.clone(),
                oci,
                path,
                tag,
                archive_digest: c.archive_digest.clone(),
                archive_size: c.archive_size,
                images: c.images.clone(),
            }
        })
        .collect();
    Carried {
        releases,
        graph,
        catalogs,
        charts,
    }
}
