//! `build --shard K/N`: the share of a plan one of N shard processes runs, and the blobs it
//! leaves to another shard. Pure: every shard computes the same plan (pinned by the lock, from
//! the same recorded state), so every shard computes the same shares without talking to the
//! others.
//!
//! The rule (the book's "Scale" page says the same):
//! - A unit is a dirty copy into a registry together with the copies it reads from (a target
//!   that takes its images from another target's registry copies from that copy's output).
//! - Units are dealt largest first (the images' sizes, shared blobs counted in each, plus a
//!   fixed cost per image; then task id) to the shard with the least so far, the
//!   lowest-numbered on a tie. Equal images give equal counts.
//! - A shard runs its units and the dirty tasks they need (signature verifications, catalog
//!   rebuilds), never another shard's copies. Everything else — release payloads (a copy that
//!   depends on other copies, with the copies that read from it: it is tagged only once its
//!   components, copied by all shards, are there), OCI layouts, archives, charts, the
//!   graph-data image, deletes, cluster resources and the lock — is left to
//!   `build --shards-done N`.
//! - A blob that no earlier run recorded in the destination registry is uploaded by the
//!   lowest-numbered shard whose copies from another registry need it, into the blob's home
//!   repository (the same in every process, [`super::BlobHomes`]). Any other shard that needs
//!   it from another registry waits until it is there and mounts it: each blob crosses the
//!   wire once for all shards. (A copy inside one registry mounts from its source.) A shard
//!   only ever waits for lower-numbered shards, so the shards cannot wait for each other in a
//!   circle, and shards run one after another in order never wait at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use super::{Plan, Task, TaskId, TaskKind};
use crate::discover::Discovery;
use crate::oci::Digest;

/// One shard of N: `index` counts from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with 1 ≤ K ≤ N.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not K/N with 1 ≤ K ≤ N (e.g. 1/3)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Registry → blob → the shard that uploads it (only blobs another shard uploads).
pub type ForeignBlobs = BTreeMap<String, BTreeMap<Digest, u32>>;

/// What one shard runs.
#[derive(Clone, Debug, Default)]
pub struct ShardShare {
    /// The dirty tasks this shard runs.
    pub run: BTreeSet<TaskId>,
    /// Blobs this shard's copies need that a lower-numbered shard uploads.
    pub foreign: ForeignBlobs,
}

/// The fixed cost of one image in the deal, in bytes: its manifest and blob requests.
const PER_IMAGE: u64 = 256 * 1024;

/// The share of `shard` in `plan` (see the module header for the rule).
pub fn share(plan: &Plan, discovery: &Discovery, shard: Shard) -> ShardShare {
    let by_id: HashMap<&TaskId, &Task> = plan.tasks.iter().map(|t| (&t.id, t)).collect();
    // Unit root of each dirty registry copy: the copy it ultimately reads from.
    let root_of = |t: &Task| -> TaskId {
        let mut at = t;
        while let TaskKind::Copy(spec) = &at.kind
            && let Some(up) = spec.from_task.as_ref().and_then(|id| by_id.get(id))
            && matches!(up.kind, TaskKind::Copy(_))
        {
            at = up;
        }
        at.id.clone()
    };
    // A copy that depends on copies other than the one it reads from (a release payload on
    // its components) is held back for `--shards-done`, with the copies that read from it:
    // other shards copy its components, and it must be tagged only once they are all there.
    let is_copy = |id: &TaskId| {
        by_id
            .get(id)
            .is_some_and(|t| matches!(t.kind, TaskKind::Copy(_)))
    };
    let waits_for_copies = |t: &Task| {
        let reads = match &t.kind {
            TaskKind::Copy(spec) => spec.from_task.as_ref(),
            _ => None,
        };
        t.deps.iter().any(|d| Some(d) != reads && is_copy(d))
    };
    let held = |t: &Task| {
        let mut at = t;
        loop {
            if waits_for_copies(at) {
                return true;
            }
            match &at.kind {
                TaskKind::Copy(spec) => {
                    match spec.from_task.as_ref().and_then(|id| by_id.get(id)) {
                        Some(up) => at = up,
                        None => return false,
                    }
                }
                _ => return false,
            }
        }
    };
    let mut units: BTreeMap<TaskId, (u64, Vec<&Task>)> = BTreeMap::new();
    for t in plan.dirty() {
        let TaskKind::Copy(spec) = &t.kind else {
            continue;
        };
        if held(t) {
            continue;
        }
        let size = discovery.images.get(&spec.origin).map_or(0, |i| i.size());
        let unit = units.entry(root_of(t)).or_default();
        unit.0 += size + PER_IMAGE;
        unit.1.push(t);
    }
    let mut order: Vec<(&TaskId, &(u64, Vec<&Task>))> = units.iter().collect();
    order.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let mut load = vec![0u64; shard.count as usize];
    // Task id → the shard (1-based) that copies it.
    let mut owner_of: BTreeMap<&TaskId, u32> = BTreeMap::new();
    for (_, (weight, tasks)) in order {
        let (least, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(i, l)| (**l, *i))
            .expect("at least one shard");
        load[least] += weight;
        for t in tasks {
            owner_of.insert(&t.id, least as u32 + 1);
        }
    }

    // Registry → blob → the lowest shard needing it.
    let mut uploader: BTreeMap<String, BTreeMap<Digest, u32>> = BTreeMap::new();
    let mut mine: BTreeMap<String, BTreeSet<Digest>> = BTreeMap::new();
    for (id, &k) in &owner_of {
        let TaskKind::Copy(spec) = &by_id[id].kind else {
            continue;
        };
        let Some(image) = discovery.images.get(&spec.origin) else {
            continue;
        };
        // A copy inside one registry mounts from its source and never uploads (as the copy
        // engine does it): it neither uploads for other shards nor waits for them.
        if spec.from.registry() == spec.dest.registry() {
            continue;
        }
        let registry = spec.dest.registry().to_string();
        let present = plan.present.get(&registry);
        for blob in image.blobs.keys() {
            if present.is_some_and(|p| p.contains_key(blob)) {
                continue;
            }
            let low = uploader
                .entry(registry.clone())
                .or_default()
                .entry(blob.clone())
                .or_insert(k);
            *low = (*low).min(k);
            if k == shard.index {
                mine.entry(registry.clone())
                    .or_default()
                    .insert(blob.clone());
            }
        }
    }
    let mut out = ShardShare::default();
    for (registry, blobs) in mine {
        let by = &uploader[&registry];
        for blob in blobs {
            let k = by[&blob];
            if k != shard.index {
                out.foreign
                    .entry(registry.clone())
                    .or_default()
                    .insert(blob, k);
            }
        }
    }

    // This shard's copies and the dirty tasks they need.
    let mut todo: Vec<&TaskId> = owner_of
        .iter()
        .filter(|(_, k)| **k == shard.index)
        .map(|(id, _)| *id)
        .collect();
    while let Some(id) = todo.pop() {
        let Some(t) = by_id.get(id) else { continue };
        if t.freshness.is_fresh() || !out.run.insert(id.clone()) {
            continue;
        }
        // Another shard's copies are that shard's to run.
        todo.extend(
            t.deps
                .iter()
                .filter(|d| !is_copy(d) || owner_of.get(d) == Some(&shard.index)),
        );
    }
    out
}
