//! Unit tests of the pure planner: ordering, freshness and dirty reasons, bytes to move.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::discover::{Discovery, ResolvedImage};
use crate::oci::{Digest, ImageRef, MediaType};
use crate::state::{KindName, Record};

type Mem = BTreeMap<String, Record>;

fn r(s: &str) -> ImageRef {
    s.parse().unwrap()
}

fn blob(n: u8) -> Digest {
    Digest::of(&[b'b', n])
}

fn image(n: u8, blobs: &[(u8, u64)]) -> ResolvedImage {
    ResolvedImage {
        digest: Digest::of(&[b'm', n]),
        media_type: MediaType::OciManifest,
        blobs: blobs.iter().map(|(b, s)| (blob(*b), *s)).collect(),
        manifests: 1,
    }
}

fn goal(name: &str, registry: &str, via: Option<&str>, origins: &[&str]) -> TargetGoal {
    TargetGoal {
        name: name.into(),
        dest: Destination {
            registry: registry.into(),
            namespace: "mirror".into(),
            max_nested_paths: None,
        },
        items: origins
            .iter()
            .map(|o| GoalItem::image("extras", r(o), via.map(str::to_string)))
            .collect(),
        releases: Vec::new(),
        catalogs: vec![],
        layout: None,
        archive: None,
        archive_inputs: Default::default(),
        charts: Vec::new(),
    }
}

fn plan(goals: &[TargetGoal], d: &Discovery, s: &Mem, trust: bool) -> Plan {
    super::build::images(
        goals,
        d,
        s,
        &PlanOptions {
            trust_state: trust,
            signatures: true,
            outputs: None,
        },
    )
}

/// Records every task of `p` as done and makes discovery see the destinations.
fn complete(p: &Plan, s: &mut Mem, d: &mut Discovery) {
    for t in &p.tasks {
        let Some(c) = t.kind.as_copy() else { continue };
        s.insert(
            c.dest.to_string(),
            Record {
                key: t.key.to_string(),
                kind: KindName::Copy,
                dest: c.dest.to_string(),
                source_digest: c.digest.clone(),
                output_digest: c.digest.clone(),
            },
        );
        d.dest.insert(c.dest.to_string(), Some(c.digest.clone()));
        let blobs: BTreeSet<Digest> = d.images[&c.origin].blobs.keys().cloned().collect();
        d.known_blobs.insert(c.digest.clone(), blobs);
    }
}

fn discovery() -> Discovery {
    let mut d = Discovery::default();
    d.images
        .insert(r("quay.io/a/app:1"), image(1, &[(0, 100), (1, 10)]));
    d.images
        .insert(r("quay.io/a/tool:2"), image(2, &[(0, 100), (2, 20)]));
    d
}

/// The plan of both images of [`discovery`] into one registry, nothing recorded.
fn first_plan(d: &Discovery) -> Plan {
    let goals = [goal(
        "ent",
        "reg:5000",
        None,
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    )];
    plan(&goals, d, &Mem::default(), false)
}

#[test]
fn first_plan_runs_everything_and_counts_shared_blobs_once() {
    let d = discovery();
    let p = first_plan(&d);
    assert_eq!(p.tasks.len(), 2);
    assert!(
        p.tasks
            .iter()
            .all(|t| t.freshness == Freshness::Dirty(DirtyReason::NeverRun))
    );
    let bytes: u64 = p.tasks.iter().map(|t| t.bytes).sum();
    assert_eq!(bytes, 130, "the shared 100-byte base is moved once");
}

#[test]
fn rerun_is_fresh_and_moves_nothing() {
    let mut d = discovery();
    let mut s = Mem::default();
    let goals = [goal(
        "ent",
        "reg:5000",
        None,
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    )];
    let p = plan(&goals, &d, &s, false);
    complete(&p, &mut s, &mut d);
    let p2 = plan(&goals, &d, &s, false);
    assert!(p2.tasks.iter().all(|t| t.freshness.is_fresh()));
    assert_eq!(p2.dirty().count(), 0);
    assert_eq!(p2.tasks.iter().map(|t| t.bytes).sum::<u64>(), 0);
}

#[test]
fn moved_tag_is_source_changed_and_moves_only_new_blobs() {
    let mut d = discovery();
    let mut s = Mem::default();
    let goals = [goal(
        "ent",
        "reg:5000",
        None,
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    )];
    let p = plan(&goals, &d, &s, false);
    complete(&p, &mut s, &mut d);
    let old = d.images[&r("quay.io/a/app:1")].digest.clone();
    d.images
        .insert(r("quay.io/a/app:1"), image(9, &[(0, 100), (1, 10), (7, 7)]));
    let p2 = plan(&goals, &d, &s, false);
    let dirty: Vec<_> = p2.dirty().collect();
    assert_eq!(dirty.len(), 1);
    assert_eq!(
        dirty[0].freshness,
        Freshness::Dirty(DirtyReason::SourceChanged {
            from: old,
            to: Digest::of(&[b'm', 9])
        })
    );
    assert_eq!(dirty[0].bytes, 7, "only the new 7-byte blob moves");
}

#[test]
fn tag_moved_to_content_already_mirrored_moves_no_bytes() {
    let mut d = discovery();
    let mut s = Mem::default();
    let goals = [goal(
        "ent",
        "reg:5000",
        None,
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    )];
    let p = plan(&goals, &d, &s, false);
    complete(&p, &mut s, &mut d);
    let tool = d.images[&r("quay.io/a/tool:2")].clone();
    d.images.insert(r("quay.io/a/app:1"), tool);
    let p2 = plan(&goals, &d, &s, false);
    let dirty: Vec<_> = p2.dirty().collect();
    assert_eq!(dirty.len(), 1);
    assert_eq!(
        dirty[0].bytes, 0,
        "early cutoff: a re-tag, no blob transfer"
    );
}

#[test]
fn destination_deleted_behind_our_back_is_dirty_unless_state_is_trusted() {
    let mut d = discovery();
    let mut s = Mem::default();
    let goals = [goal("ent", "reg:5000", None, &["quay.io/a/app:1"])];
    let p = plan(&goals, &d, &s, false);
    complete(&p, &mut s, &mut d);
    let dest = "reg:5000/mirror/a/app:1".to_string();
    d.dest.insert(dest.clone(), None);
    let p2 = plan(&goals, &d, &s, false);
    assert!(matches!(
        p2.tasks[0].freshness,
        Freshness::Dirty(DirtyReason::DestinationMissing { found: None, .. })
    ));
    let p3 = plan(&goals, &d, &s, true);
    assert!(p3.tasks[0].freshness.is_fresh());
}

#[test]
fn changed_parameters_are_reported() {
    let mut d = discovery();
    let mut s = Mem::default();
    let mut goals = [goal("ent", "reg:5000", None, &["quay.io/a/app:1"])];
    let p = plan(&goals, &d, &s, false);
    complete(&p, &mut s, &mut d);
    goals[0].items[0].platforms = Some(vec!["amd64".into()]);
    let p2 = plan(&goals, &d, &s, false);
    assert_eq!(
        p2.tasks[0].freshness,
        Freshness::Dirty(DirtyReason::ParametersChanged)
    );
}

#[test]
fn chained_target_copies_from_the_needed_target_and_depends_on_it() {
    let d = discovery();
    let goals = [
        goal("ent", "reg:5000", None, &["quay.io/a/app:1"]),
        goal("enclave", "enc:5000", Some("ent"), &["quay.io/a/app:1"]),
    ];
    let p = plan(&goals, &d, &Mem::default(), false);
    assert_eq!(p.tasks.len(), 2);
    let (first, second) = (&p.tasks[0], &p.tasks[1]);
    assert_eq!(second.deps, vec![first.id.clone()]);
    let c = second.kind.as_copy().expect("a copy task");
    assert_eq!(c.from.registry(), "reg:5000");
    assert_eq!(
        c.from.digest(),
        Some(&d.images[&r("quay.io/a/app:1")].digest)
    );
    assert_eq!(c.dest.registry(), "enc:5000");
}

#[test]
fn unresolved_images_are_listed_as_missing_not_planned() {
    let mut d = discovery();
    d.unresolved
        .insert(r("quay.io/a/gone:1"), "manifest unknown".into());
    let p = plan(
        &[goal(
            "ent",
            "reg:5000",
            None,
            &["quay.io/a/app:1", "quay.io/a/gone:1"],
        )],
        &d,
        &Mem::default(),
        false,
    );
    assert_eq!(p.tasks.len(), 1);
    assert_eq!(
        p.missing,
        vec![(r("quay.io/a/gone:1"), "manifest unknown".to_string())]
    );
}

#[test]
fn plan_is_deterministic_whatever_the_goal_order() {
    let d = discovery();
    let a = plan(
        &[goal(
            "ent",
            "reg:5000",
            None,
            &["quay.io/a/app:1", "quay.io/a/tool:2"],
        )],
        &d,
        &Mem::default(),
        false,
    );
    let b = plan(
        &[goal(
            "ent",
            "reg:5000",
            None,
            &["quay.io/a/tool:2", "quay.io/a/app:1"],
        )],
        &d,
        &Mem::default(),
        false,
    );
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

fn shards(p: &Plan, d: &Discovery, n: u32) -> Vec<ShardShare> {
    (1..=n)
        .map(|index| shard::share(p, d, Shard { index, count: n }))
        .collect()
}

#[test]
fn shard_syntax_is_k_of_n_counting_from_one() {
    assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
    for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn shards_split_the_copies_once_each_and_lower_shards_upload_shared_blobs() {
    let mut d = Discovery::default();
    let names: Vec<String> = (0..6).map(|i| format!("quay.io/a/app{i}:1")).collect();
    for (i, n) in names.iter().enumerate() {
        // Blob 0 is shared by all; each image has its own blob too.
        let own = 10 + i as u8;
        d.images
            .insert(r(n), image(i as u8, &[(0, 100), (own, 1000 + i as u64)]));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = plan(
        &[goal("ent", "reg:5000", None, &refs)],
        &d,
        &Mem::default(),
        false,
    );
    let shares = shards(&p, &d, 3);
    let mut all = BTreeSet::new();
    for s in &shares {
        assert_eq!(s.run.len(), 2, "6 equal images over 3 shards: 2 each");
        for id in &s.run {
            assert!(all.insert(id.clone()), "{id} is in two shards");
        }
    }
    assert_eq!(all.len(), 6);
    // The shared blob: uploaded by shard 1, awaited by 2 and 3; own blobs by their shard.
    assert!(shares[0].foreign.is_empty());
    for s in &shares[1..] {
        assert_eq!(s.foreign["reg:5000"], BTreeMap::from([(blob(0), 1)]));
    }
    // Every process computes the same shares.
    let again = shards(&p, &d, 3);
    for (a, b) in shares.iter().zip(&again) {
        assert_eq!(a.run, b.run);
        assert_eq!(a.foreign, b.foreign);
    }
}

#[test]
fn a_shard_takes_a_chained_copy_with_the_copy_it_reads_from_and_skips_fresh_work() {
    let d = discovery();
    let mut goals = vec![goal(
        "ent",
        "ent:5000",
        None,
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    )];
    goals.push(goal(
        "enclave",
        "enc:5000",
        Some("ent"),
        &["quay.io/a/app:1", "quay.io/a/tool:2"],
    ));
    let p = plan(&goals, &d, &Mem::default(), false);
    let shares = shards(&p, &d, 2);
    for s in &shares {
        assert_eq!(s.run.len(), 2, "{:?}", s.run);
        let targets: BTreeSet<&str> = s
            .run
            .iter()
            .map(|id| {
                p.tasks
                    .iter()
                    .find(|t| &t.id == id)
                    .unwrap()
                    .target
                    .as_str()
            })
            .collect();
        assert_eq!(targets, BTreeSet::from(["ent", "enclave"]));
    }
    // Nothing dirty: no shard runs anything.
    let mut s = Mem::default();
    let mut d2 = d.clone();
    complete(&p, &mut s, &mut d2);
    let p2 = plan(&goals, &d2, &s, false);
    assert!(shards(&p2, &d2, 2).iter().all(|s| s.run.is_empty()));
}

#[test]
fn one_shard_is_the_whole_build() {
    let d = discovery();
    let p = first_plan(&d);
    let only = &shards(&p, &d, 1)[0];
    assert_eq!(only.run.len(), p.tasks.len());
    assert!(only.foreign.is_empty());
}

#[test]
fn a_copy_inside_one_registry_neither_uploads_for_other_shards_nor_waits() {
    let mut d = Discovery::default();
    // The larger image is copied inside quay.io (shard 1); the other comes from elsewhere
    // (shard 2). Blob 0 is in both; only shard 2 sends it, so it waits for nobody.
    d.images
        .insert(r("quay.io/a/app:1"), image(1, &[(0, 100), (1, 1000)]));
    d.images
        .insert(r("other.io/b/tool:2"), image(2, &[(0, 100), (2, 10)]));
    let p = plan(
        &[goal(
            "ent",
            "quay.io",
            None,
            &["quay.io/a/app:1", "other.io/b/tool:2"],
        )],
        &d,
        &Mem::default(),
        false,
    );
    let shares = shards(&p, &d, 2);
    let in_shard_1: Vec<&str> = shares[0].run.iter().map(TaskId::as_str).collect();
    assert!(in_shard_1[0].contains("quay.io/a/app:1"), "{in_shard_1:?}");
    assert!(shares[1].foreign.is_empty(), "{:?}", shares[1].foreign);
}

/// A release payload's copy depends on its components' copies (`payload_after_components`).
/// Each copy is run by exactly one process: the payload is left to `--shards-done`, which runs
/// once every shard has finished, so it is tagged only after its whole release is there, and no
/// shard copies another shard's components to satisfy the payload's dependencies (before, the
/// payload's shard ran all of them again).
#[test]
fn a_payload_waits_for_shards_done_and_no_shard_copies_another_shards_components() {
    let mut d = Discovery::default();
    let names: Vec<String> = (0..5).map(|i| format!("quay.io/a/c{i}:1")).collect();
    for (i, n) in names.iter().enumerate() {
        d.images
            .insert(r(n), image(i as u8, &[(10 + i as u8, 1000 + i as u64)]));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut p = plan(
        &[goal("ent", "reg:5000", None, &refs)],
        &d,
        &Mem::default(),
        false,
    );
    // c4 plays the payload: it depends on the copies of c0..c3.
    let ids: Vec<TaskId> = p.tasks.iter().map(|t| t.id.clone()).collect();
    let payload = p
        .tasks
        .iter()
        .position(|t| t.kind.as_copy().is_some_and(|c| c.origin == r(&names[4])))
        .unwrap();
    let components: Vec<TaskId> = ids
        .iter()
        .filter(|id| **id != p.tasks[payload].id)
        .cloned()
        .collect();
    p.tasks[payload].deps.extend(components.iter().cloned());
    let shares = shards(&p, &d, 3);
    let mut all = BTreeSet::new();
    for s in &shares {
        for id in &s.run {
            assert!(all.insert(id.clone()), "{id} is run by two shards");
        }
    }
    assert_eq!(
        all,
        components.iter().cloned().collect::<BTreeSet<_>>(),
        "every component once, the payload by no shard"
    );
    // `--shards-done` (a whole plan, no share) runs it: it is dirty there.
    assert!(p.dirty().any(|t| t.id == p.tasks[payload].id));
    assert!(!shards(&p, &d, 1)[0].run.contains(&p.tasks[payload].id));
}
