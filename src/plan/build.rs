//! The planner: a pure function of goals, discovery and recorded state to an ordered task list.
//!
//! No I/O happens here (no registry client, no file access): everything the planner needs is in
//! its arguments, so `airlift plan` output is reproducible and snapshot-testable.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::TaskKey;
use super::goal::{GoalItem, TargetGoal};
use super::task::{CopySpec, DirtyReason, Freshness, Task, TaskId, TaskKind};
use crate::discover::Discovery;
use crate::oci::{Digest, ImageRef};
use crate::state::Record;

/// Options that change what the planner decides, not what it is given.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Trust the state without destination probes (`--trust-state`).
    pub trust_state: bool,
    /// Copy cosign attachments and referrers with their subjects.
    pub signatures: bool,
}

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
    /// Blobs each destination registry is believed to hold (from earlier recorded copies):
    /// the copy engine HEADs these before uploading and probes the others with a mount.
    #[serde(skip)]
    pub present: BTreeMap<String, BTreeSet<Digest>>,
}

impl Plan {
    pub fn dirty(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| !t.freshness.is_fresh())
    }

    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| &t.id == id)
    }
}

/// Builds the plan. `goals` must be ordered so that a target comes after the targets it needs
/// (the recipe expansion guarantees it).
pub fn build(
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
            let (from, deps) = match &item.via {
                None => (item.origin.pinned(resolved.digest.clone()), vec![]),
                Some(up) => match placed.get(&(up.clone(), item.origin.clone())) {
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
            let dest_s = dest.to_string();
            let key = TaskKey::compute(
                "copy",
                &[&resolved.digest],
                &json!({
                    "dest": dest_s,
                    "platforms": item.platforms,
                    "signatures": opts.signatures,
                }),
            );
            let freshness = freshness(&key, &resolved.digest, &dest_s, state, discovery, opts);
            let bytes = if freshness.is_fresh() {
                0
            } else {
                let reg = dest.registry().to_string();
                let have = present.get(&reg);
                let moved = moving.entry(reg).or_default();
                let mut n = 0;
                for (blob, size) in &resolved.blobs {
                    if have.is_some_and(|h| h.contains(blob)) || !moved.insert(blob.clone()) {
                        continue;
                    }
                    n += size;
                }
                n
            };
            let id = match &item.dest_name {
                None => TaskId::new("copy", &goal.name, &item.origin.to_string()),
                Some(n) => TaskId::new(
                    "copy",
                    &goal.name,
                    &format!("{} as {}:{}", item.origin, n.path, n.tag),
                ),
            };
            placed.insert(
                (goal.name.clone(), item.origin.clone()),
                (dest.clone(), id.clone()),
            );
            plan.tasks.push(Task {
                id,
                target: goal.name.clone(),
                key,
                kind: TaskKind::Copy(CopySpec {
                    from,
                    origin: item.origin.clone(),
                    digest: resolved.digest.clone(),
                    dest,
                    platforms: item.platforms.clone(),
                    signatures: opts.signatures,
                }),
                deps,
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
    plan.present = present;
    plan
}

pub(super) fn freshness(
    key: &TaskKey,
    source: &Digest,
    dest: &str,
    state: &dyn RecordedState,
    discovery: &Discovery,
    opts: &PlanOptions,
) -> Freshness {
    let Some(rec) = state.record(dest) else {
        return Freshness::Dirty(DirtyReason::NeverRun);
    };
    if rec.key != key.as_str() {
        return Freshness::Dirty(if &rec.source_digest != source {
            DirtyReason::SourceChanged {
                from: rec.source_digest.clone(),
                to: source.clone(),
            }
        } else {
            DirtyReason::ParametersChanged
        });
    }
    if opts.trust_state {
        return Freshness::Fresh;
    }
    match discovery.dest.get(dest) {
        Some(Some(d)) if d == &rec.output_digest => Freshness::Fresh,
        Some(found) => Freshness::Dirty(DirtyReason::DestinationMissing {
            expected: rec.output_digest.clone(),
            found: found.clone(),
        }),
        // Not probed: discovery only skips probes under --trust-state.
        None => Freshness::Dirty(DirtyReason::DestinationMissing {
            expected: rec.output_digest.clone(),
            found: None,
        }),
    }
}

/// Blobs each destination registry is believed to hold: those of every recorded copy.
fn present_blobs(
    state: &dyn RecordedState,
    discovery: &Discovery,
) -> BTreeMap<String, BTreeSet<Digest>> {
    let mut out: BTreeMap<String, BTreeSet<Digest>> = BTreeMap::new();
    for rec in state.records() {
        let Some(blobs) = discovery.known_blobs.get(&rec.source_digest) else {
            continue;
        };
        let Ok(dest) = rec.dest.parse::<ImageRef>() else {
            continue;
        };
        out.entry(dest.registry().to_string())
            .or_default()
            .extend(blobs.iter().cloned());
    }
    out
}
