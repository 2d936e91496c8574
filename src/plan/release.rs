//! Releases in the plan: discovered release payloads become goal items (the payload and every
//! component, named as oc-mirror v2 names them), and a `verify-signature` task per payload
//! gates every copy of that release when a trust keyring applies.
//!
//! Pure: discovered data in, goal items and tasks out. No network, no files, no registry client.

use std::collections::{BTreeMap, BTreeSet};

use super::build::{Plan, PlanOptions, RecordedState, freshness};
use super::goal::{DestName, GoalItem, TargetGoal};
use super::task::{Task, TaskId, TaskKind};
use crate::discover::{DiscoveredRelease, Discovery};
use crate::oci::ImageRef;
use crate::release::{RELEASE_COMPONENT_REPO, RELEASE_PAYLOAD_REPO};
use crate::resources::Category;
use crate::state::KindName;
use crate::task::VerifySpec;

/// The goal items of one release: the payload (`openshift/release-images:<version>-<arch>`)
/// and every component (`openshift/release:<version>-<arch>-<name>`), origins pinned.
pub fn items_of(release: &DiscoveredRelease, via: Option<&str>) -> Vec<GoalItem> {
    let tag = release.tag();
    let item = |origin: &ImageRef, path: &str, tag: String| GoalItem {
        set: release.set.clone(),
        origin: origin.clone(),
        via: via.map(str::to_string),
        platforms: None,
        category: Category::Release,
        dest_name: Some(DestName {
            path: path.to_string(),
            tag,
        }),
    };
    let mut out = vec![item(&release.payload, RELEASE_PAYLOAD_REPO, tag.clone())];
    out.extend(
        release
            .components
            .iter()
            .map(|(name, image)| item(image, RELEASE_COMPONENT_REPO, format!("{tag}-{name}"))),
    );
    out
}

/// Makes each release payload copy depend on the copies of its components in the same target,
/// so a payload is tagged at a mirror only once its whole release is there: a failed component
/// leaves its payload "not attempted" (DESIGN §5: payload failures are fatal for the release).
/// A payload with a component discovery could not resolve is not copied at all: it is moved
/// to `plan.missing` naming the component (with every task that depended on its copy).
/// Call after [`super::build`]; payload copies move to the end so dependencies stay first.
pub fn payload_after_components(plan: &mut Plan, goals: &[TargetGoal]) {
    withhold_incomplete(plan, goals);
    let payload_repo = RELEASE_PAYLOAD_REPO
        .rsplit('/')
        .next()
        .unwrap_or("release-images");
    let payloads: Vec<(usize, String, String)> = plan
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let c = t.kind.as_copy()?;
            let tag = c.dest.tag()?;
            c.dest
                .repository()
                .path()
                .ends_with(payload_repo)
                .then(|| (i, t.target.clone(), tag.to_string()))
        })
        .collect();
    for (i, target, tag) in &payloads {
        let deps: Vec<TaskId> = plan
            .tasks
            .iter()
            .filter(|t| {
                &t.target == target
                    && t.kind
                        .as_copy()
                        .is_some_and(|c| is_component_of(tag, &c.dest))
            })
            .map(|t| t.id.clone())
            .collect();
        let task = &mut plan.tasks[*i];
        task.deps.extend(deps);
        task.deps.sort();
        task.deps.dedup();
    }
    let mut moved = Vec::new();
    for (i, _, _) in payloads.iter().rev() {
        moved.push(plan.tasks.remove(*i));
    }
    moved.reverse();
    plan.tasks.extend(moved);
}

/// Removes the payload copy of every release with a missing component, and every task that
/// depended on a removed task, recording each in `plan.missing`.
fn withhold_incomplete(plan: &mut Plan, goals: &[TargetGoal]) {
    let missing: BTreeMap<ImageRef, String> = plan.missing.iter().cloned().collect();
    let mut removed: BTreeSet<TaskId> = BTreeSet::new();
    let mut why: BTreeMap<ImageRef, String> = BTreeMap::new();
    for goal in goals {
        for payload in goal.items.iter().filter(|i| {
            i.dest_name
                .as_ref()
                .is_some_and(|n| n.path == RELEASE_PAYLOAD_REPO)
        }) {
            let Some(tag) = payload.dest_name.as_ref().map(|n| n.tag.as_str()) else {
                continue;
            };
            let absent: Vec<String> = goal
                .items
                .iter()
                .filter(|i| {
                    i.dest_name.as_ref().is_some_and(|n| {
                        n.path == RELEASE_COMPONENT_REPO && n.tag.starts_with(&format!("{tag}-"))
                    }) && missing.contains_key(&i.origin)
                })
                .map(|i| i.origin.to_string())
                .collect();
            if absent.is_empty() {
                continue;
            }
            let Ok(dest) = payload.dest(&goal.dest) else {
                continue;
            };
            for t in &plan.tasks {
                if t.target == goal.name && t.kind.as_copy().is_some_and(|c| c.dest == dest) {
                    removed.insert(t.id.clone());
                }
            }
            why.insert(
                payload.origin.clone(),
                format!(
                    "release {tag} is incomplete (missing {}); its payload is not copied",
                    absent.join(", ")
                ),
            );
        }
    }
    loop {
        let more: Vec<TaskId> = plan
            .tasks
            .iter()
            .filter(|t| !removed.contains(&t.id) && t.deps.iter().any(|d| removed.contains(d)))
            .map(|t| t.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        removed.extend(more);
    }
    for t in plan.tasks.iter().filter(|t| removed.contains(&t.id)) {
        if let Some(c) = t.kind.as_copy() {
            why.entry(c.origin.clone()).or_insert_with(|| {
                "it is copied from another target, which could not copy it".to_string()
            });
        }
    }
    plan.tasks.retain(|t| !removed.contains(&t.id));
    plan.missing.extend(why);
    plan.missing.sort();
    plan.missing.dedup();
}

/// A destination in the component repository (`…/openshift/release`, `-release` when folded
/// by `max-nested-paths`) tagged `<release>-<component>`.
fn is_component_of(release: &str, dest: &ImageRef) -> bool {
    let component_repo = RELEASE_COMPONENT_REPO
        .rsplit('/')
        .next()
        .unwrap_or("release");
    dest.repository().path().ends_with(component_repo)
        && dest
            .tag()
            .is_some_and(|t| t.starts_with(&format!("{release}-")))
}

/// One verification per discovered release whose set one or more `trust` blocks with a
/// `gpg-keyring` apply to (their keyrings as discovery read them), once per payload digest.
pub fn verifications(discovery: &Discovery) -> Vec<VerifySpec> {
    let mut out = Vec::new();
    for r in &discovery.releases {
        let Some(trust) = discovery.release_trust.get(&r.set) else {
            continue;
        };
        let Some(digest) = r.payload.digest() else {
            continue;
        };
        out.push(VerifySpec {
            set: r.set.clone(),
            release: r.tag(),
            payload: r.payload.clone(),
            digest: digest.clone(),
            keyrings: trust.keyrings.clone(),
            store: trust.store.clone(),
            also_accept: vec![r.payload.repository().clone()],
            signatures_dir: trust.signatures_dir.clone(),
        });
    }
    out.sort_by(|a, b| (&a.set, &a.release).cmp(&(&b.set, &b.release)));
    out.dedup_by(|a, b| a.digest == b.digest);
    out
}

/// Adds one `verify-signature` task per spec (before every other task) and makes every copy
/// of the payload or its components that reads from the original source depend on it. A
/// copy taken from another target already depends on that target's copy. Call it before
/// [`payload_after_components`].
pub fn add_verification(plan: &mut Plan, specs: &[VerifySpec], state: &dyn RecordedState) {
    let mut tasks = Vec::new();
    let targets: std::collections::HashMap<TaskId, String> = plan
        .tasks
        .iter()
        .map(|t| (t.id.clone(), t.target.clone()))
        .collect();
    for spec in specs {
        let covered = covered_by(plan, spec);
        let target = covered
            .iter()
            .filter_map(|id| targets.get(id).cloned())
            .min()
            .unwrap_or_else(|| "release".to_string());
        let kind = TaskKind::VerifySignature(spec.clone());
        let key = kind.key();
        let freshness = freshness(
            &kind,
            &key,
            None,
            state,
            &Discovery::default(),
            &PlanOptions::default(),
        );
        let id = TaskId::new(
            KindName::VerifySignature,
            &target,
            &format!("{} {}", spec.set, spec.release),
        );
        for t in plan.tasks.iter_mut().filter(|t| covered.contains(&t.id)) {
            t.deps.push(id.clone());
            t.deps.sort();
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
    tasks.extend(std::mem::take(&mut plan.tasks));
    plan.tasks = tasks;
}

/// Copy tasks reading from the original source that copy the payload of `spec` or one of its
/// components.
fn covered_by(plan: &Plan, spec: &VerifySpec) -> BTreeSet<TaskId> {
    plan.tasks
        .iter()
        .filter(|t| t.deps.is_empty())
        .filter(|t| {
            t.kind
                .as_copy()
                .is_some_and(|c| spec_covers(spec, &c.origin, &c.dest))
        })
        .map(|t| t.id.clone())
        .collect()
}

/// A copy belongs to the release of `spec` when it copies the payload, or when its
/// destination is the component repository (`…/openshift/release`, `-release` when folded by
/// `max-nested-paths`) with a tag starting with the release's `<version>-<arch>-`.
fn spec_covers(spec: &VerifySpec, origin: &ImageRef, dest: &ImageRef) -> bool {
    origin == &spec.payload || is_component_of(&spec.release, dest)
}

/// Payload digests of the releases each target carries, for the signature ConfigMap.
pub fn payloads_by_target(goals: &[TargetGoal]) -> BTreeMap<String, Vec<ImageRef>> {
    goals
        .iter()
        .map(|g| {
            let mut p: Vec<ImageRef> = g
                .items
                .iter()
                .filter(|i| {
                    i.category == Category::Release
                        && i.dest_name
                            .as_ref()
                            .is_some_and(|n| n.path == RELEASE_PAYLOAD_REPO)
                })
                .map(|i| i.origin.clone())
                .collect();
            p.sort();
            p.dedup();
            (g.name.clone(), p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::discover::{Discovery, ResolvedImage};
    use crate::oci::{Digest, MediaType};
    use crate::plan::build::images;
    use crate::plan::{Destination, PlanOptions, ReleaseNeed};
    use crate::plan::{DirtyReason, Freshness};
    use crate::task::KeyFile;

    /// `goals` with the items of `releases` (as the planner expands them).
    fn with_releases(goals: &[TargetGoal], releases: &[DiscoveredRelease]) -> Vec<TargetGoal> {
        let d = Discovery {
            releases: releases.to_vec(),
            ..Discovery::default()
        };
        crate::plan::expand_items(goals, &d, &[]).0
    }
    use crate::state::Record;

    #[derive(Default)]
    struct Mem(BTreeMap<String, Record>);

    impl RecordedState for Mem {
        fn record(&self, dest: &str) -> Option<&Record> {
            self.0.get(dest)
        }
        fn records(&self) -> Vec<&Record> {
            self.0.values().collect()
        }
    }

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn release(version: &str) -> DiscoveredRelease {
        let d = digest(1);
        DiscoveredRelease {
            set: "ocp".into(),
            version: version.parse().expect("version"),
            arch: "amd64".into(),
            source: format!("quay.io/ocp/release@{}", Digest::of(version.as_bytes()))
                .parse()
                .expect("payload"),
            payload: format!("quay.io/ocp/release@{}", Digest::of(version.as_bytes()))
                .parse()
                .expect("payload"),
            components: BTreeMap::from([
                (
                    "cli".to_string(),
                    format!("quay.io/ocp/art@{d}").parse().expect("cli"),
                ),
                (
                    "installer".to_string(),
                    format!("quay.io/ocp/art@{}", digest(2))
                        .parse()
                        .expect("installer"),
                ),
            ]),
        }
    }

    fn discovery(releases: &[DiscoveredRelease]) -> Discovery {
        let mut d = Discovery::default();
        for r in releases {
            for img in std::iter::once(&r.payload).chain(r.components.values()) {
                d.images.insert(
                    img.clone(),
                    ResolvedImage {
                        digest: img.digest().expect("pinned").clone(),
                        media_type: MediaType::OciManifest,
                        blobs: BTreeMap::new(),
                        manifests: 1,
                    },
                );
            }
        }
        d
    }

    fn goal() -> TargetGoal {
        TargetGoal {
            name: "mirror".into(),
            dest: Destination {
                registry: "reg:5000".into(),
                namespace: "mirror".into(),
                max_nested_paths: None,
            },
            items: Vec::new(),
            releases: vec![ReleaseNeed {
                set: "ocp".into(),
                via: None,
            }],
            catalogs: Vec::new(),
            layout: None,
            archive: None,
            archive_inputs: Default::default(),
            charts: Vec::new(),
        }
    }

    fn spec(r: &DiscoveredRelease) -> VerifySpec {
        VerifySpec {
            set: r.set.clone(),
            release: r.tag(),
            payload: r.payload.clone(),
            digest: r.payload.digest().expect("pinned").clone(),
            keyrings: vec![KeyFile::new(
                PathBuf::from("keys/release.asc"),
                b"keyring nine".to_vec(),
            )],
            store: None,
            also_accept: vec![r.payload.repository().clone()],
            signatures_dir: PathBuf::from(".airlift/signatures"),
        }
    }

    #[test]
    fn releases_become_named_items_and_shared_components_are_tagged_per_release() {
        let rs = [release("4.15.2"), release("4.15.3")];
        let mut goals = vec![goal()];
        goals = with_releases(&goals, &rs);
        let plan = images(
            &goals,
            &discovery(&rs),
            &Mem::default(),
            &PlanOptions::default(),
        );
        let mut dests: Vec<String> = plan
            .tasks
            .iter()
            .filter_map(|t| t.kind.as_copy())
            .map(|c| c.dest.to_string())
            .collect();
        dests.sort();
        assert_eq!(
            dests,
            [
                "reg:5000/mirror/openshift/release-images:4.15.2-amd64",
                "reg:5000/mirror/openshift/release-images:4.15.3-amd64",
                "reg:5000/mirror/openshift/release:4.15.2-amd64-cli",
                "reg:5000/mirror/openshift/release:4.15.2-amd64-installer",
                "reg:5000/mirror/openshift/release:4.15.3-amd64-cli",
                "reg:5000/mirror/openshift/release:4.15.3-amd64-installer",
            ]
        );
        assert!(
            goals[0]
                .items
                .iter()
                .all(|i| i.category == Category::Release)
        );
    }

    #[test]
    fn verification_gates_every_copy_of_its_release_only() {
        let rs = [release("4.15.2"), release("4.15.3")];
        let mut goals = vec![goal()];
        goals = with_releases(&goals, &rs);
        let state = Mem::default();
        let mut plan = images(&goals, &discovery(&rs), &state, &PlanOptions::default());
        add_verification(&mut plan, &[spec(&rs[1])], &state);
        let verify = &plan.tasks[0];
        assert_eq!(verify.kind.name(), "verify-signature");
        assert_eq!(
            verify.id.as_str(),
            "verify-signature mirror ocp 4.15.3-amd64"
        );
        assert!(!verify.freshness.is_fresh());
        for t in &plan.tasks[1..] {
            let c = t.kind.as_copy().expect("copy");
            let gated = t.deps.contains(&verify.id);
            assert_eq!(
                gated,
                c.dest.tag().is_some_and(|t| t.starts_with("4.15.3-amd64")),
                "{}",
                c.dest
            );
        }
        let mut recorded = Mem::default();
        let slot = TaskKind::VerifySignature(spec(&rs[1])).slot();
        recorded.0.insert(
            slot.clone(),
            Record {
                key: verify.key.to_string(),
                kind: KindName::VerifySignature,
                dest: slot,
                source_digest: spec(&rs[1]).digest,
                output_digest: spec(&rs[1]).digest,
            },
        );
        let mut again = images(&goals, &discovery(&rs), &recorded, &PlanOptions::default());
        add_verification(&mut again, &[spec(&rs[1])], &recorded);
        assert!(again.tasks[0].freshness.is_fresh());
        let mut other_key = spec(&rs[1]);
        other_key.keyrings = vec![KeyFile::new(
            PathBuf::from("keys/release.asc"),
            b"keyring ten".to_vec(),
        )];
        let mut third = images(&goals, &discovery(&rs), &recorded, &PlanOptions::default());
        add_verification(&mut third, &[other_key], &recorded);
        assert_eq!(
            third.tasks[0].freshness,
            Freshness::Dirty(DirtyReason::ParametersChanged)
        );
    }

    #[test]
    fn payloads_are_copied_after_their_own_components() {
        let rs = [release("4.15.2"), release("4.15.3")];
        let mut goals = vec![goal()];
        goals = with_releases(&goals, &rs);
        let state = Mem::default();
        let mut plan = images(&goals, &discovery(&rs), &state, &PlanOptions::default());
        add_verification(&mut plan, &[spec(&rs[0])], &state);
        payload_after_components(&mut plan, &goals);
        let position = |id: &TaskId| plan.tasks.iter().position(|t| &t.id == id);
        for (i, t) in plan.tasks.iter().enumerate() {
            for d in &t.deps {
                assert!(position(d).is_some_and(|p| p < i), "{d} before {}", t.id);
            }
        }
        let payload = plan
            .tasks
            .iter()
            .find(|t| {
                t.kind
                    .as_copy()
                    .is_some_and(|c| c.dest.to_string().ends_with("release-images:4.15.2-amd64"))
            })
            .expect("payload task");
        let deps: Vec<&str> = payload.deps.iter().map(TaskId::as_str).collect();
        assert_eq!(deps.len(), 3, "{deps:?}");
        assert!(deps.iter().any(|d| d.starts_with("verify-signature")));
        assert!(
            deps.iter()
                .filter(|d| d.starts_with("copy"))
                .all(|d| d.contains(":4.15.2-amd64-")),
            "{deps:?}"
        );
    }

    #[test]
    fn a_release_with_a_missing_component_keeps_its_payload_back() {
        let rs = [release("4.15.2"), release("4.15.3")];
        let mut goals = vec![goal()];
        goals = with_releases(&goals, &rs);
        let mut d = discovery(&rs);
        let installer = rs[1].components["installer"].clone();
        d.images.remove(&installer);
        d.unresolved.insert(installer.clone(), "not found".into());
        // The installer is shared by both fixture releases: both payloads are withheld.
        let mut plan = images(&goals, &d, &Mem::default(), &PlanOptions::default());
        payload_after_components(&mut plan, &goals);
        assert!(
            plan.tasks
                .iter()
                .filter_map(|t| t.kind.as_copy())
                .all(|c| !c.dest.to_string().contains("release-images")),
        );
        let reasons: Vec<&str> = plan.missing.iter().map(|(_, w)| w.as_str()).collect();
        assert!(
            reasons
                .iter()
                .any(|w| w.starts_with("release 4.15.3-amd64 is incomplete (missing")),
            "{reasons:?}"
        );
    }
}
