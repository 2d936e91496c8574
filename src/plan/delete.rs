//! Deletion: what a `delete` set removes from its target (the reviewed list of phase one,
//! `delete-images.yaml`) and the `delete` tasks that carry it out (phase two).
//!
//! Pure. [`decide`] takes what the delete set names, each looked up at the target (its
//! manifest digest and, for an index, its children), and what every other content set of
//! every target at that registry still needs, and splits the manifests into deleted and kept:
//! a manifest (or index child) something else needs is never deleted, whatever the delete set
//! says. [`changes`] compares a reviewed list with a fresh one; [`tasks`] plans the deletion,
//! an index before its children, and one first deletion per registry that the others wait for
//! (a registry that refuses deletion fails once, not once per manifest).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::build::{PlanOptions, RecordedState, freshness};
use super::task::{Task, TaskId, TaskKind};
use crate::discover::Discovery;
use crate::oci::{Digest, ImageRef, Repository};
use crate::state::KindName;
use crate::task::kinds::DeleteSpec;

/// What a reference the delete set names holds at the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub digest: Digest,
    /// Children of an index (digest, platform as `os/arch`), empty for an image.
    pub children: Vec<(Digest, String)>,
}

/// A reference the delete set names at the target, why, and what it holds there.
#[derive(Clone, Debug)]
pub struct Named {
    /// `registry/repo:tag` at the target.
    pub dest: ImageRef,
    /// Why the delete set names it, e.g. `release 4.15.2 (amd64) component cli`.
    pub reason: String,
    /// `None`: the target does not hold it.
    pub held: Option<Held>,
}

/// Manifests something else still needs: (repository, digest) → who needs it.
pub type Needed = BTreeMap<(Repository, Digest), BTreeSet<String>>;

/// Adds `held` (and its children) at `dest`'s repository to `needed`, used by `who`.
pub fn need(needed: &mut Needed, dest: &ImageRef, held: &Held, who: &str) {
    let repo = dest.repository().clone();
    for d in std::iter::once(&held.digest).chain(held.children.iter().map(|(d, _)| d)) {
        needed
            .entry((repo.clone(), d.clone()))
            .or_default()
            .insert(who.to_string());
    }
}

/// The reviewed deletion list: `<workspace>/out/<target>/delete/delete-images.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletionList {
    pub api_version: String,
    pub kind: String,
    /// The recipe's delete set.
    pub delete: String,
    /// The registry target it deletes from, and that target's registry.
    pub target: String,
    pub registry: String,
    /// sha256 of `airlift.lock` when the list was written (`None`: no lock).
    pub lock: Option<Digest>,
    /// What `--execute` deletes, sorted by image.
    pub manifests: Vec<DeleteEntry>,
    /// What the delete set names but something else still needs.
    pub kept: Vec<KeptEntry>,
    /// References the delete set names that the target does not hold.
    pub absent: Vec<ImageRef>,
}

pub const LIST_API_VERSION: &str = "airlift.dev/v1alpha1";
pub const LIST_KIND: &str = "DeleteImageList";

/// One manifest to delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteEntry {
    /// `registry/repo@sha256:…`.
    pub image: ImageRef,
    /// Tags of the repository that named it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The content set (the delete set) it came from.
    pub set: String,
    pub reasons: Vec<String>,
    /// Indexes of this list it is a child of (deleted first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<Digest>,
}

/// One manifest the delete set names that is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptEntry {
    pub image: ImageRef,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub reasons: Vec<String>,
    /// Who still needs it: `release set `ocp` of target `mirror``.
    pub used_by: Vec<String>,
}

#[derive(Default)]
struct Acc {
    tags: BTreeSet<String>,
    reasons: BTreeSet<String>,
    parents: BTreeSet<Digest>,
}

/// Header of a list: which delete, target, registry and lock.
#[derive(Clone, Debug)]
pub struct ListHeader {
    pub delete: String,
    pub target: String,
    pub registry: String,
    pub lock: Option<Digest>,
}

/// Splits what the delete set names into deleted and kept manifests.
pub fn decide(header: ListHeader, named: &[Named], needed: &Needed) -> DeletionList {
    let mut found: BTreeMap<(Repository, Digest), Acc> = BTreeMap::new();
    let mut absent = BTreeSet::new();
    for n in named {
        let Some(held) = &n.held else {
            absent.insert(n.dest.clone());
            continue;
        };
        let repo = n.dest.repository().clone();
        let acc = found
            .entry((repo.clone(), held.digest.clone()))
            .or_default();
        if let Some(tag) = n.dest.tag() {
            acc.tags.insert(tag.to_string());
        }
        acc.reasons.insert(n.reason.clone());
        for (child, platform) in &held.children {
            let acc = found.entry((repo.clone(), child.clone())).or_default();
            acc.reasons
                .insert(format!("{platform} image of {}", n.dest));
            acc.parents.insert(held.digest.clone());
        }
    }
    let mut manifests = Vec::new();
    let mut kept = Vec::new();
    for ((repo, digest), acc) in found {
        let image = repo.with_digest(digest.clone());
        let tags: Vec<String> = acc.tags.into_iter().collect();
        let reasons: Vec<String> = acc.reasons.into_iter().collect();
        match needed.get(&(repo, digest)) {
            Some(who) => kept.push(KeptEntry {
                image,
                tags,
                reasons,
                used_by: who.iter().cloned().collect(),
            }),
            None => manifests.push(DeleteEntry {
                image,
                tags,
                set: header.delete.clone(),
                reasons,
                parents: acc.parents.into_iter().collect(),
            }),
        }
    }
    DeletionList {
        api_version: LIST_API_VERSION.to_string(),
        kind: LIST_KIND.to_string(),
        delete: header.delete,
        target: header.target,
        registry: header.registry,
        lock: header.lock,
        manifests,
        kept,
        absent: absent.into_iter().collect(),
    }
}

/// Why a reviewed list cannot be executed as it stands, compared with a fresh one: a manifest
/// it deletes is now needed by something, or the fresh list deletes a manifest it does not
/// name. A manifest of the list that the target no longer holds (deleted by an interrupted
/// run) is no change.
pub fn changes(reviewed: &DeletionList, fresh: &DeletionList) -> Vec<String> {
    let mut out = Vec::new();
    if reviewed.delete != fresh.delete || reviewed.target != fresh.target {
        out.push(format!(
            "the list was written for delete `{}` from `{}`",
            reviewed.delete, reviewed.target
        ));
        return out;
    }
    let listed: BTreeSet<&ImageRef> = reviewed.manifests.iter().map(|e| &e.image).collect();
    let kept: BTreeMap<&ImageRef, &KeptEntry> = fresh.kept.iter().map(|k| (&k.image, k)).collect();
    for e in &reviewed.manifests {
        if let Some(k) = kept.get(&e.image) {
            out.push(format!(
                "{} is now still used by {}",
                e.image,
                k.used_by.join(", ")
            ));
        }
    }
    for e in &fresh.manifests {
        if !listed.contains(&e.image) {
            out.push(format!(
                "{} ({}) would be deleted but is not in the reviewed list",
                e.image,
                e.reasons.join("; ")
            ));
        }
    }
    out
}

/// The `delete` tasks of a reviewed list (target `target`): an index after nothing, its
/// children after it; and every deletion with no parent after the first one still to run, so
/// that a registry refusing deletion fails once. `Err` names an entry that is not a manifest
/// digest (a list edited by hand).
pub fn tasks(list: &DeletionList, state: &dyn RecordedState) -> Result<Vec<Task>, ImageRef> {
    let mut out: Vec<Task> = Vec::new();
    let id_of = |image: &ImageRef| TaskId::new(KindName::Delete, &list.target, &image.to_string());
    let listed: BTreeSet<&ImageRef> = list.manifests.iter().map(|e| &e.image).collect();
    let discovery = Discovery::default();
    // Roots first (sorted), then children: dependencies come before dependants.
    let (roots, children): (Vec<_>, Vec<_>) =
        list.manifests.iter().partition(|e| e.parents.is_empty());
    let mut first: Option<TaskId> = None;
    for e in roots.into_iter().chain(children) {
        let digest = e.image.digest().cloned().ok_or_else(|| e.image.clone())?;
        let kind = TaskKind::Delete(DeleteSpec {
            delete: list.delete.clone(),
            repository: e.image.repository().clone(),
            digest,
            tags: e.tags.clone(),
        });
        let key = kind.key();
        let fresh = freshness(
            &kind,
            &key,
            None,
            state,
            &discovery,
            &PlanOptions::default(),
        );
        let id = id_of(&e.image);
        let mut deps: Vec<TaskId> = e
            .parents
            .iter()
            .map(|p| e.image.repository().with_digest(p.clone()))
            .filter(|parent| listed.contains(parent))
            .map(|parent| id_of(&parent))
            .collect();
        if !fresh.is_fresh() {
            match &first {
                None => first = Some(id.clone()),
                Some(f) if deps.is_empty() => deps.push(f.clone()),
                Some(_) => {}
            }
        }
        out.push(Task {
            id,
            target: list.target.clone(),
            key,
            kind,
            deps,
            after: Vec::new(),
            freshness: fresh,
            bytes: 0,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    fn d(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn header() -> ListHeader {
        ListHeader {
            delete: "retire".into(),
            target: "mirror".into(),
            registry: "h:5000".into(),
            lock: None,
        }
    }

    fn named(dest: &str, reason: &str, held: Option<Held>) -> Named {
        Named {
            dest: dest.parse().unwrap(),
            reason: reason.into(),
            held,
        }
    }

    #[test]
    fn what_something_else_needs_is_kept_and_children_follow_their_index() {
        let index = Held {
            digest: d(1),
            children: vec![(d(2), "linux/amd64".into()), (d(3), "linux/arm64".into())],
        };
        let shared = Held {
            digest: d(9),
            children: vec![],
        };
        let named = [
            named("h:5000/m/app:1", "image app:1", Some(index)),
            named(
                "h:5000/m/rel:1-cli",
                "release 1 component cli",
                Some(shared.clone()),
            ),
            named("h:5000/m/gone:1", "image gone:1", None),
        ];
        let mut needed = Needed::new();
        // The newer release tags the same cli manifest; another set needs the arm64 child.
        need(
            &mut needed,
            &"h:5000/m/rel:2-cli".parse().unwrap(),
            &shared,
            "release set `ocp` of target `mirror`",
        );
        needed
            .entry((r("h:5000/m/app:1").repository().clone(), d(3)))
            .or_default()
            .insert("images set `x` of target `mirror`".into());
        let list = decide(header(), &named, &needed);
        let images: Vec<String> = list.manifests.iter().map(|e| e.image.to_string()).collect();
        assert_eq!(
            images,
            [
                format!("h:5000/m/app@{}", d(1)),
                format!("h:5000/m/app@{}", d(2)),
            ]
        );
        assert_eq!(list.manifests[0].tags, ["1"]);
        assert_eq!(list.manifests[1].parents, [d(1)]);
        let kept: Vec<(String, &[String])> = list
            .kept
            .iter()
            .map(|k| (k.image.to_string(), k.used_by.as_slice()))
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(
            kept.iter()
                .any(|(i, u)| i.ends_with(&d(9).to_string()) && u[0].contains("release set `ocp`"))
        );
        assert!(kept.iter().any(|(i, _)| i.ends_with(&d(3).to_string())));
        assert_eq!(list.absent, [r("h:5000/m/gone:1")]);
    }

    #[test]
    fn a_reviewed_list_is_refused_when_something_now_needs_it_or_more_would_go() {
        let a = Held {
            digest: d(1),
            children: vec![],
        };
        let b = Held {
            digest: d(2),
            children: vec![],
        };
        let both = [
            named("h:5000/m/a:1", "a", Some(a.clone())),
            named("h:5000/m/b:1", "b", Some(b.clone())),
        ];
        let reviewed = decide(header(), &both[..1], &Needed::new());
        // Same names, the first one deleted meanwhile (a crashed run): no change.
        let later = decide(
            header(),
            &[named("h:5000/m/a:1", "a", None)],
            &Needed::new(),
        );
        assert!(changes(&reviewed, &later).is_empty());
        // More to delete than reviewed.
        let more = decide(header(), &both, &Needed::new());
        let c = changes(&reviewed, &more);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains(&format!("h:5000/m/b@{}", d(2))), "{c:?}");
        // Now needed by another set.
        let mut needed = Needed::new();
        need(
            &mut needed,
            &"h:5000/m/a:2".parse().unwrap(),
            &a,
            "images set `x` of target `mirror`",
        );
        let c = changes(&reviewed, &decide(header(), &both[..1], &needed));
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].contains("now still used by images set `x`"), "{c:?}");
    }

    #[test]
    fn children_wait_for_their_index_and_roots_for_the_first_deletion() {
        let index = Held {
            digest: d(1),
            children: vec![(d(2), "linux/amd64".into())],
        };
        let other = Held {
            digest: d(5),
            children: vec![],
        };
        let list = decide(
            header(),
            &[
                named("h:5000/m/app:1", "app", Some(index)),
                named("h:5000/m/b:1", "b", Some(other)),
            ],
            &Needed::new(),
        );
        let state: BTreeMap<String, crate::state::Record> = BTreeMap::new();
        let t = tasks(&list, &state).expect("digests");
        assert_eq!(t.len(), 3);
        let first = &t[0].id;
        assert!(t[0].deps.is_empty());
        // The other root waits for the first; the child for its index.
        let child = t
            .iter()
            .find(|x| x.id.as_str().ends_with(&d(2).to_string()))
            .unwrap();
        assert_eq!(
            child.deps,
            [TaskId::new(
                KindName::Delete,
                "mirror",
                &format!("h:5000/m/app@{}", d(1))
            )]
        );
        let root = t
            .iter()
            .find(|x| x.id.as_str().ends_with(&d(5).to_string()))
            .unwrap();
        assert_eq!(&root.deps, std::slice::from_ref(first));
    }
}
