//! The planner: a pure function of the recipe, goals, discovery and recorded state to the
//! complete, ordered DAG of a build — verifications, copies, catalog rebuilds, payload ordering,
//! the graph-data image, each target's cluster resources and the lock write. What `plan` shows
//! is exactly what `build` runs.
//!
//! No I/O happens here (no registry client, no file access): everything the planner needs is in
//! its arguments, so `airlift plan` output is reproducible and snapshot-testable. The stages
//! (image copies here; releases, cosign, catalogs, outputs in their own files) each add tasks;
//! [`build`] runs them in order and nothing changes the plan after it returns.

use std::collections::{BTreeMap, BTreeSet};

use std::path::PathBuf;

use regex::Regex;

use super::catalog::InvalidBundleImage;
use super::goal::{GoalItem, TargetGoal};
use super::task::{DirtyReason, Freshness, Task, TaskId, TaskKind};
use super::{TaskKey, cosign, helm, items, outputs, release};
use crate::discover::Discovery;
use crate::oci::{Digest, ImageRef};
use crate::recipe::Recipe;
use crate::state::{LockFile, Record, Workspace};
use crate::task::kinds::{KindName, LayoutSpec, UnpackSpec, VerifyArchiveSpec};
use crate::task::{Check, CopySpec};

/// Options that change what the planner decides, not what it is given.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Trust the state without destination probes (`--trust-state`).
    pub trust_state: bool,
    /// Copy cosign attachments and referrers with their subjects.
    pub signatures: bool,
    /// Where the build writes its outputs (cluster resources, the lock); `None` plans no
    /// output tasks (planner unit tests of the image stages).
    pub outputs: Option<Outputs>,
}

/// The build's local outputs.
#[derive(Clone, Debug)]
pub struct Outputs {
    pub workspace: Workspace,
    /// The lock of this build (the old lock with this resolution merged in).
    pub lock: std::sync::Arc<LockFile>,
    /// Where to write it; `None` when the build does not write it (`--offline`).
    pub lock_path: Option<PathBuf>,
    /// Mark mirrors insecure in registries.conf (`--dest-tls-verify=false`).
    pub insecure_mirrors: bool,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<i64>,
    /// `build --split-blobs`: a blob larger than `archive-size` spans chunks.
    pub split_blobs: bool,
    /// `--since DATE` (seconds since the epoch): the next archive carries everything shipped
    /// since then again.
    pub since: Option<i64>,
}

/// Registry → blob → a repository of that registry the journal says holds it.
pub type PresentBlobs = BTreeMap<String, BTreeMap<Digest, crate::oci::Repository>>;

/// Registry → blob → the repository of that registry the copy engine puts the blob in before
/// any other: the destination of the first copy task (in plan order, fresh or dirty) that
/// carries it. It depends only on the recipe and the sources, so every run of a build picks
/// the same one and a rerun after a kill finds there what the killed run had sent.
pub type BlobHomes = BTreeMap<String, BTreeMap<Digest, crate::oci::Repository>>;

/// The planner's view of recorded state: the latest record per destination.
pub trait RecordedState {
    fn record(&self, dest: &str) -> Option<&Record>;
    fn records(&self) -> Vec<&Record>;
}

/// An in-memory state (destination → record), for tests and dry runs.
impl RecordedState for BTreeMap<String, Record> {
    fn record(&self, dest: &str) -> Option<&Record> {
        self.get(dest)
    }
    fn records(&self) -> Vec<&Record> {
        self.values().collect()
    }
}

impl RecordedState for crate::state::Journal {
    fn record(&self, dest: &str) -> Option<&Record> {
        self.get(dest)
    }
    fn records(&self) -> Vec<&Record> {
        crate::state::Journal::records(self).collect()
    }
}

/// The ordered DAG: dependencies always come before their dependants.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Plan {
    pub tasks: Vec<Task>,
    /// Images the recipe names that discovery could not resolve, with the reason.
    pub missing: Vec<(ImageRef, String)>,
    /// Blobs each destination registry is believed to hold (from earlier recorded copies), with
    /// a repository that holds each: the copy engine mounts these from there (or HEADs them in
    /// the same repository) before uploading, and probes the others with a mount.
    #[serde(skip)]
    pub present: std::sync::Arc<PresentBlobs>,
    /// Where each blob copied into a registry goes first (see [`BlobHomes`]).
    #[serde(skip)]
    pub homes: std::sync::Arc<BlobHomes>,
    /// Images kept bundles name that are not valid references (left out, reported).
    #[serde(skip)]
    pub invalid: Vec<InvalidBundleImage>,
    /// The Helm charts of the planned targets and the images each deploys (for review).
    #[serde(skip)]
    pub charts: Vec<crate::discover::DiscoveredChart>,
    /// The content set of each image task (the first set naming the image), for reports.
    #[serde(skip)]
    pub sets: BTreeMap<TaskId, String>,
}

impl Plan {
    pub fn dirty(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| !t.freshness.is_fresh())
    }

    /// One task by id (a linear search: for many look-ups build [`Self::by_id`] once).
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| &t.id == id)
    }

    /// Every task by id, for look-ups in loops (planning 10,000 tasks must not be quadratic).
    pub fn by_id(&self) -> std::collections::HashMap<&TaskId, &Task> {
        self.tasks.iter().map(|t| (&t.id, t)).collect()
    }

    /// The content set a task belongs to, when it has one.
    pub fn set_of<'a>(&'a self, task: &'a Task) -> Option<&'a str> {
        self.sets
            .get(&task.id)
            .map(String::as_str)
            .or_else(|| task.kind.content_set())
    }
}

/// The complete plan of a build. `goals` come from [`super::expand`] (a target after the
/// targets it needs); discovery holds everything read for them.
pub fn build(
    recipe: &Recipe,
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    opts: &PlanOptions,
) -> Plan {
    let blocks: Vec<Regex> = recipe.block_patterns().cloned().collect();
    let (goals, invalid) = items::expand_all(goals, discovery, &blocks);
    let mut plan = images(&goals, discovery, state, opts);
    plan.invalid = invalid;
    let chart_sets: BTreeSet<&str> = goals
        .iter()
        .flat_map(|g| g.charts.iter().map(|c| c.set.as_str()))
        .collect();
    plan.charts = discovery
        .charts
        .iter()
        .filter(|c| chart_sets.contains(c.set.as_str()))
        .cloned()
        .collect();
    let specs = release::verifications(discovery);
    release::add_verification(&mut plan, &specs, state);
    cosign::add_cosign_verification(&mut plan, &goals, &discovery.cosign, state);
    release::payload_after_components(&mut plan, &goals);
    if let Some(out) = &opts.outputs {
        outputs::add_graph_images(&mut plan, recipe, &goals, discovery, state, opts, out);
        let created = out.source_date_epoch.map(crate::resources::rfc3339_utc);
        helm::add_charts(&mut plan, &goals, discovery, state, opts, created);
        outputs::add_resources(&mut plan, recipe, &goals, discovery, state, out);
        outputs::add_packs(&mut plan, recipe, &goals, discovery, state, out);
        outputs::add_lock(&mut plan, discovery, out);
    }
    plan
}

/// Stage one: a copy task per image of the expanded goals, and the catalog tasks. `goals` must
/// be ordered so that a target comes after the targets it needs.
pub(crate) fn images(
    goals: &[TargetGoal],
    discovery: &Discovery,
    state: &dyn RecordedState,
    opts: &PlanOptions,
) -> Plan {
    let mut plan = Plan::default();
    let mut missing = BTreeMap::new();
    // Where each (target, origin) landed, for targets that need other targets.
    let mut placed: BTreeMap<(String, ImageRef), (ImageRef, TaskId)> = BTreeMap::new();
    let present = present_blobs(state, discovery);
    let mut moving: BTreeMap<String, BTreeSet<Digest>> = BTreeMap::new();

    for goal in goals {
        let mut items: Vec<_> = goal.items.iter().collect();
        // One task per (origin, explicit name): a release component shared by two releases is
        // tagged once per release.
        let name_of = |i: &GoalItem| {
            i.dest_name
                .as_ref()
                .map(|n| (n.path.clone(), n.tag.clone()))
        };
        items.sort_by(|a, b| {
            a.origin
                .cmp(&b.origin)
                .then(name_of(a).cmp(&name_of(b)))
                .then(a.set.cmp(&b.set))
        });
        items.dedup_by(|a, b| a.origin == b.origin && a.dest_name == b.dest_name);
        for item in items {
            let Some(resolved) = discovery.images.get(&item.origin) else {
                let why = discovery
                    .unresolved
                    .get(&item.origin)
                    .cloned()
                    .unwrap_or_else(|| "not resolved".to_string());
                missing.insert(item.origin.clone(), why);
                continue;
            };
            // From an archive target's directory: after its pack task when this build packs.
            let unpack = item
                .via
                .as_ref()
                .and_then(|up| goal.archive_inputs.get(up).map(|dir| (up, dir)));
            let (from, deps) = match (&item.via, unpack) {
                (_, Some((up, dir))) => {
                    // After the pack task that writes the archive when this build writes it,
                    // else after the verification of the carried directory.
                    let mut pack: Vec<TaskId> = goals
                        .iter()
                        .filter(|g| &g.name == up && g.archive.is_some())
                        .map(|g| TaskId::new(KindName::Pack, &g.name, &dir.display().to_string()))
                        .collect();
                    if pack.is_empty() {
                        pack.push(verify_archive(
                            &mut plan, &goal.name, up, dir, state, discovery,
                        ));
                    }
                    (item.origin.pinned(resolved.digest.clone()), pack)
                }
                (None, None) => (item.origin.pinned(resolved.digest.clone()), vec![]),
                (Some(up), None) => match placed.get(&(up.clone(), item.origin.clone())) {
                    Some((dest, id)) => (dest.pinned(resolved.digest.clone()), vec![id.clone()]),
                    None => {
                        missing.insert(
                            item.origin.clone(),
                            format!("target `{up}` does not carry it"),
                        );
                        continue;
                    }
                },
            };
            let dest = match item.dest(&goal.dest) {
                Ok(d) => d,
                Err(e) => {
                    missing.insert(item.origin.clone(), e.to_string());
                    continue;
                }
            };
            let spec = CopySpec {
                from,
                origin: item.origin.clone(),
                digest: resolved.digest.clone(),
                dest: dest.clone(),
                platforms: item.platforms.clone(),
                signatures: opts.signatures,
                from_task: if unpack.is_some() {
                    None
                } else {
                    deps.first().cloned()
                },
                rebuild: None,
            };
            let kind = match (unpack, layout_dir(goal, opts)) {
                (Some((up, dir)), _) => TaskKind::Unpack(Box::new(UnpackSpec {
                    copy: spec,
                    archive: up.clone(),
                    dir: dir.clone(),
                })),
                (None, dir) => match dir {
                    Some(dir) => TaskKind::WriteLayout(Box::new(LayoutSpec {
                        copy: spec,
                        dir,
                        manifests_only: goal.archive.is_some(),
                    })),
                    None => TaskKind::Copy(spec),
                },
            };
            if let TaskKind::Copy(_) = &kind {
                let homes = std::sync::Arc::make_mut(&mut plan.homes)
                    .entry(dest.registry().to_string())
                    .or_default();
                for blob in resolved.blobs.keys() {
                    homes
                        .entry(blob.clone())
                        .or_insert_with(|| dest.repository().clone());
                }
            }
            let key = kind.key();
            let freshness = freshness(&kind, &key, None, state, discovery, opts);
            let bytes = if freshness.is_fresh() {
                0
            } else {
                let reg = dest.registry().to_string();
                let have = present.get(&reg);
                let moved = moving.entry(reg).or_default();
                let mut n = 0;
                for (blob, size) in &resolved.blobs {
                    if have.is_some_and(|h| h.contains_key(blob)) || !moved.insert(blob.clone()) {
                        continue;
                    }
                    n += size;
                }
                n
            };
            let id = match &item.dest_name {
                None => TaskId::new(kind.kind_name(), &goal.name, &item.origin.to_string()),
                Some(n) => TaskId::new(
                    kind.kind_name(),
                    &goal.name,
                    &format!("{} as {}:{}", item.origin, n.path, n.tag),
                ),
            };
            placed.insert(
                (goal.name.clone(), item.origin.clone()),
                (dest.clone(), id.clone()),
            );
            plan.sets.insert(id.clone(), item.set.clone());
            plan.tasks.push(Task {
                id,
                target: goal.name.clone(),
                key,
                kind,
                deps,
                after: Vec::new(),
                freshness,
                bytes,
            });
        }
    }
    let (catalogs, unread) =
        super::catalog::catalog_tasks(goals, &plan.tasks, discovery, state, opts);
    plan.tasks.extend(catalogs);
    missing.extend(unread);
    plan.missing = missing.into_iter().collect();
    plan.present = std::sync::Arc::new(present);
    plan
}

/// The `verify-archive` task of an archive directory this build reads but does not write
/// (planned once, under the first target that reads it); returns its id.
fn verify_archive(
    plan: &mut Plan,
    target: &str,
    archive: &str,
    dir: &std::path::Path,
    state: &dyn RecordedState,
    discovery: &Discovery,
) -> TaskId {
    let id = TaskId::new(KindName::VerifyArchive, archive, &dir.display().to_string());
    if plan.tasks.iter().any(|t| t.id == id) {
        return id;
    }
    let kind = TaskKind::VerifyArchive(VerifyArchiveSpec {
        archive: archive.to_string(),
        dir: dir.to_path_buf(),
        series: discovery
            .local
            .get(&VerifyArchiveSpec::slot_of(dir))
            .cloned()
            .flatten(),
    });
    let key = kind.key();
    let freshness = freshness(&kind, &key, None, state, discovery, &PlanOptions::default());
    plan.tasks.push(Task {
        id: id.clone(),
        target: target.to_string(),
        key,
        kind,
        deps: Vec::new(),
        after: Vec::new(),
        freshness,
        bytes: 0,
    });
    id
}

/// Where a target's images are written when it is not a registry: its `oci://` directory, or
/// for an archive (`file://`) target the staging layout that holds the manifests its archives
/// are packed from (`<workspace>/out/<target>/layout`; the blobs go straight from their
/// registries into the archive).
pub(crate) fn layout_dir(goal: &TargetGoal, opts: &PlanOptions) -> Option<PathBuf> {
    if let Some(dir) = &goal.layout {
        return Some(dir.clone());
    }
    goal.archive.as_ref()?;
    let root = opts.outputs.as_ref().map_or_else(
        || Workspace::for_recipe(std::path::Path::new("airlift.kdl"), None),
        |o| o.workspace.clone(),
    );
    Some(staging_layout(&root, &goal.name))
}

/// The staging layout of an archive target.
pub fn staging_layout(workspace: &Workspace, target: &str) -> PathBuf {
    workspace.out_dir(target).join("layout")
}

/// The one freshness function: why `kind` (with `key`) must run, or that it need not.
/// `input_dirty` is the first task this one reads that runs in this build.
pub(crate) fn freshness(
    kind: &TaskKind,
    key: &TaskKey,
    input_dirty: Option<&TaskId>,
    state: &dyn RecordedState,
    discovery: &Discovery,
    opts: &PlanOptions,
) -> Freshness {
    let check = kind.check();
    if let Check::Content { slot, digest } = &check {
        return match discovery.local.get(slot) {
            Some(Some(d)) if d == digest => Freshness::Fresh,
            Some(Some(_)) => Freshness::Dirty(DirtyReason::OutputChanged),
            _ => Freshness::Dirty(DirtyReason::NeverRun),
        };
    }
    let Some(rec) = state.record(&kind.slot()) else {
        return Freshness::Dirty(DirtyReason::NeverRun);
    };
    if rec.key != key.as_str() {
        let source = kind.source_digest();
        return Freshness::Dirty(if rec.source_digest != source {
            DirtyReason::SourceChanged {
                from: rec.source_digest.clone(),
                to: source,
            }
        } else {
            DirtyReason::ParametersChanged
        });
    }
    if let Some(dep) = input_dirty {
        return Freshness::Dirty(DirtyReason::DependencyDirty { dep: dep.clone() });
    }
    let found = match &check {
        Check::Record | Check::Content { .. } => return Freshness::Fresh,
        Check::Registry(_) if opts.trust_state => return Freshness::Fresh,
        // Not probed: discovery only skips probes under --trust-state.
        Check::Registry(dest) => discovery.dest.get(dest).cloned().flatten(),
        Check::Local(slot) => discovery.local.get(slot).cloned().flatten(),
    };
    match found {
        Some(d) if d == rec.output_digest => Freshness::Fresh,
        Some(_) if matches!(check, Check::Local(_)) => Freshness::Dirty(DirtyReason::OutputChanged),
        found => Freshness::Dirty(DirtyReason::DestinationMissing {
            expected: rec.output_digest.clone(),
            found,
        }),
    }
}

/// Blobs each destination registry is believed to hold: those of every recorded copy, each
/// with the first repository (by destination, so the choice is reproducible) that holds it.
fn present_blobs(state: &dyn RecordedState, discovery: &Discovery) -> PresentBlobs {
    let mut out = PresentBlobs::new();
    let mut records = state.records();
    records.sort_by(|a, b| a.dest.cmp(&b.dest));
    let mut recorded = Vec::new();
    for rec in records {
        recorded.push(rec);
    }
    for rec in recorded {
        if rec.kind == KindName::Delete {
            continue;
        }
        let Some(blobs) = discovery.known_blobs.get(&rec.source_digest) else {
            continue;
        };
        let Ok(dest) = rec.dest.parse::<ImageRef>() else {
            continue;
        };
        let held = out.entry(dest.registry().to_string()).or_default();
        for b in blobs {
            held.entry(b.clone())
                .or_insert_with(|| dest.repository().clone());
        }
    }
    out
}
