//! cosign verification in the plan: one `verify-cosign` task per source image (and key set)
//! of every content set a `trust` block with a `cosign-key` applies to, and every copy or
//! catalog rebuild of that image from the original source depends on it, so nothing is tagged
//! at a destination before its signature verifies (DESIGN §7).
//!
//! Pure: goals, the plan and recorded state in, tasks out. Key files are read by the caller
//! (their digests arrive in [`CosignKeyRef`]). No network, no files, no registry client.

use std::collections::{BTreeMap, BTreeSet};

use super::build::{Plan, PlanOptions, RecordedState, freshness};
use super::goal::TargetGoal;
use super::task::{Task, TaskId, TaskKind};
use crate::discover::Discovery;
use crate::oci::ImageRef;
use crate::state::KindName;
use crate::task::{CosignKeyRef, CosignSpec};

/// Content set name → the cosign keys of every trust block that applies to it (sorted).
pub type CosignTrusts = BTreeMap<String, Vec<CosignKeyRef>>;

/// Adds the `verify-cosign` tasks (before every other task) and makes every copy that reads an
/// image of a trusted set from the original source, and every prune-catalog task of a trusted
/// catalog set, depend on the verification of that image. A copy taken from another target's destination depends on
/// that target's copy, which is gated already. An image in two sets with different trust blocks
/// gets one verification per set, and its copy depends on all of them.
pub fn add_cosign_verification(
    plan: &mut Plan,
    goals: &[TargetGoal],
    trusts: &CosignTrusts,
    state: &dyn RecordedState,
) {
    if trusts.is_empty() {
        return;
    }
    // (target, destination) → sets whose items land there from the original source.
    let mut sets_at: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for g in goals {
        for i in g.items.iter().filter(|i| i.via.is_none()) {
            if let Ok(dest) = i.dest(&g.dest) {
                sets_at
                    .entry((g.name.clone(), dest.to_string()))
                    .or_default()
                    .insert(i.set.as_str());
            }
        }
    }
    let writes_image: BTreeSet<TaskId> = plan
        .tasks
        .iter()
        .filter(|t| t.kind.origin_and_dest().is_some())
        .map(|t| t.id.clone())
        .collect();
    // (image, set) → (spec, covered tasks).
    let mut wanted: BTreeMap<(ImageRef, String), (CosignSpec, BTreeSet<TaskId>)> = BTreeMap::new();
    for t in &plan.tasks {
        let (origin, image, digest, sets) = match &t.kind {
            // A copy that depends on another copy reads from that copy's destination.
            TaskKind::Copy(_) if t.deps.iter().any(|d| writes_image.contains(d)) => continue,
            TaskKind::Copy(c) => {
                let sets = sets_at
                    .get(&(t.target.clone(), c.dest.to_string()))
                    .cloned()
                    .unwrap_or_default();
                (&c.origin, &c.from, &c.digest, sets)
            }
            // A catalog is always rebuilt from its source (its dependencies are the copies of
            // what it lists).
            TaskKind::PruneCatalog(p) => (
                &p.origin,
                &p.from,
                &p.digest,
                BTreeSet::from([p.set.as_str()]),
            ),
            _ => continue,
        };
        // The signature belongs to the repository and digest, not the tag.
        let image = image.repository().with_digest(digest.clone());
        for set in sets {
            let Some(keys) = trusts.get(set).filter(|k| !k.is_empty()) else {
                continue;
            };
            let entry = wanted
                .entry((image.clone(), set.to_string()))
                .or_insert_with(|| {
                    (
                        CosignSpec {
                            set: set.to_string(),
                            origin: origin.clone(),
                            image: image.clone(),
                            digest: digest.clone(),
                            keys: keys.clone(),
                        },
                        BTreeSet::new(),
                    )
                });
            entry.1.insert(t.id.clone());
        }
    }
    // Two sets with the same keys share one verification of an image.
    let mut by_work: BTreeMap<String, (CosignSpec, BTreeSet<TaskId>)> = BTreeMap::new();
    for (_, (spec, covered)) in wanted {
        let work = TaskKind::VerifyCosign(spec.clone()).key().to_string() + &spec.image.to_string();
        let e = by_work
            .entry(work)
            .or_insert_with(|| (spec, BTreeSet::new()));
        e.1.extend(covered);
    }
    let mut tasks = Vec::new();
    let targets: std::collections::HashMap<TaskId, String> = plan
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.target.clone()))
        .collect();
    for (spec, covered) in by_work.into_values() {
        let target = covered
            .iter()
            .filter_map(|id| targets.get(id).cloned())
            .min()
            .unwrap_or_default();
        let kind = TaskKind::VerifyCosign(spec);
        let key = kind.key();
        let freshness = freshness(
            &kind,
            &key,
            None,
            state,
            &Discovery::default(),
            &PlanOptions::default(),
        );
        let TaskKind::VerifyCosign(spec) = &kind else {
            continue;
        };
        let trusts: Vec<&str> = spec.keys.iter().map(|k| k.trust.as_str()).collect();
        let id = TaskId::new(
            KindName::VerifyCosign,
            &target,
            &format!("{} ({})", spec.image, trusts.join(",")),
        );
        for t in plan.tasks.iter_mut().filter(|t| covered.contains(&t.id)) {
            t.deps.push(id.clone());
            t.deps.sort();
            t.deps.dedup();
        }
        tasks.push(Task {
            id,
            target,
            key,
            kind,
            deps: Vec::new(),
            after: Vec::new(),
            freshness,
            bytes: 0,
        });
    }
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    tasks.extend(std::mem::take(&mut plan.tasks));
    plan.tasks = tasks;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::discover::{Discovery, ResolvedImage};
    use crate::oci::Digest;
    use crate::oci::MediaType;
    use crate::plan::build::images as build;
    use crate::plan::goal::GoalItem;
    use crate::plan::{Destination, PlanOptions};
    use crate::plan::{DirtyReason, Freshness};
    use crate::state::Record;
    use crate::task::Loaded;
    use crate::trust::CosignKey;

    /// A P-256 public key (its private half was thrown away).
    const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVDIhdVbwhymIgGKJrk1bFoC6Fhoc
zZK+P5TbyE+0za7MvP07innu6PNKFfJmeQ0GlK2zfTCuZhW6tt3IY8vzCA==
-----END PUBLIC KEY-----
";

    fn digest(n: u8) -> Digest {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
            .parse()
            .expect("digest")
    }

    fn image(s: &str) -> ImageRef {
        s.parse().expect("image")
    }

    fn resolved(n: u8) -> ResolvedImage {
        ResolvedImage {
            digest: digest(n),
            media_type: MediaType::parse("application/vnd.oci.image.manifest.v1+json")
                .expect("media type"),
            blobs: BTreeMap::from([(digest(n + 100), 10)]),
            manifests: 1,
        }
    }

    fn goals() -> Vec<TargetGoal> {
        let dest = |s: &str| Destination::parse(s, None);
        vec![
            TargetGoal {
                name: "a".into(),
                dest: dest("mirror.example/a"),
                items: vec![
                    GoalItem::image("signed", image("src.example/team/app:1"), None),
                    GoalItem::image("plain", image("src.example/team/tool:1"), None),
                ],
                releases: Vec::new(),
                catalogs: Vec::new(),
                layout: None,
                archive: None,
                archive_inputs: Default::default(),
                charts: Vec::new(),
            },
            TargetGoal {
                name: "b".into(),
                dest: dest("mirror.example/b"),
                items: vec![GoalItem::image(
                    "signed",
                    image("src.example/team/app:1"),
                    Some("a".into()),
                )],
                releases: Vec::new(),
                catalogs: Vec::new(),
                layout: None,
                archive: None,
                archive_inputs: Default::default(),
                charts: Vec::new(),
            },
        ]
    }

    fn discovery() -> Discovery {
        let mut d = Discovery::default();
        d.images
            .insert(image("src.example/team/app:1"), resolved(1));
        d.images
            .insert(image("src.example/team/tool:1"), resolved(2));
        d
    }

    fn trusts(key: u8) -> CosignTrusts {
        BTreeMap::from([(
            "signed".to_string(),
            vec![CosignKeyRef {
                trust: "ours".into(),
                path: PathBuf::from("keys/cosign.pub"),
                digest: digest(key),
                key: Loaded::new(
                    CosignKey::from_pem(&PathBuf::from("keys/cosign.pub"), PUBLIC_KEY)
                        .expect("key"),
                ),
            }],
        )])
    }

    fn planned(state: &BTreeMap<String, Record>, key: u8) -> Plan {
        let goals = goals();
        let mut plan = build(&goals, &discovery(), state, &PlanOptions::default());
        add_cosign_verification(&mut plan, &goals, &trusts(key), state);
        plan
    }

    #[test]
    fn copies_of_trusted_sets_from_the_source_depend_on_their_verification() {
        let plan = planned(&BTreeMap::new(), 9);
        let verify = &plan.tasks[0];
        assert_eq!(verify.kind.name(), "verify-cosign");
        assert_eq!(
            verify.id.as_str(),
            format!("verify-cosign a src.example/team/app@{} (ours)", digest(1))
        );
        let TaskKind::VerifyCosign(spec) = &verify.kind else {
            panic!("not a cosign verification");
        };
        assert_eq!(spec.digest, digest(1));
        assert_eq!(spec.image.repository().to_string(), "src.example/team/app");
        assert_eq!(
            plan.tasks
                .iter()
                .filter(|t| t.kind.is_verification())
                .count(),
            1
        );
        let deps = |id: &str| {
            plan.tasks
                .iter()
                .find(|t| t.id.as_str() == id)
                .map(|t| t.deps.clone())
                .expect(id)
        };
        assert_eq!(
            deps("copy a src.example/team/app:1"),
            vec![verify.id.clone()]
        );
        assert!(deps("copy a src.example/team/tool:1").is_empty());
        // Target b copies from a's destination: gated through a's copy, not directly.
        assert_eq!(
            deps("copy b src.example/team/app:1"),
            vec![TaskId::new(KindName::Copy, "a", "src.example/team/app:1")]
        );
        for (i, t) in plan.tasks.iter().enumerate() {
            for d in &t.deps {
                let at = plan.tasks.iter().position(|x| &x.id == d).expect("dep");
                assert!(at < i, "{d} before {}", t.id);
            }
        }
    }

    #[test]
    fn a_recorded_verification_is_fresh_for_the_same_key_only() {
        let plan = planned(&BTreeMap::new(), 9);
        let verify = plan.tasks[0].clone();
        let TaskKind::VerifyCosign(spec) = &verify.kind else {
            panic!("not a cosign verification");
        };
        let dest = verify.kind.slot();
        let _ = spec;
        let state = BTreeMap::from([(
            dest.clone(),
            Record {
                key: verify.key.to_string(),
                kind: KindName::VerifyCosign,
                dest,
                source_digest: spec.digest.clone(),
                output_digest: spec.digest.clone(),
            },
        )]);
        assert!(planned(&state, 9).tasks[0].freshness.is_fresh());
        assert_eq!(
            planned(&state, 10).tasks[0].freshness,
            Freshness::Dirty(DirtyReason::ParametersChanged)
        );
    }

    #[test]
    fn no_trusts_leave_the_plan_alone() {
        let goals = goals();
        let state = BTreeMap::new();
        let mut plan = build(&goals, &discovery(), &state, &PlanOptions::default());
        let before = plan.clone();
        add_cosign_verification(&mut plan, &goals, &CosignTrusts::new(), &state);
        assert_eq!(plan.tasks, before.tasks);
    }
}
