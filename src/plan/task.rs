//! Tasks of the DAG, their identities and their freshness.

use std::fmt;
use std::path::PathBuf;

use std::sync::Arc;

use serde::Serialize;

use super::TaskKey;
use crate::discover::CatalogImage;
use crate::oci::{Digest, ImageRef, Repository};

/// Human-readable, unique task identity, e.g. `copy enterprise quay.io/ns/app:1.0`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TaskId(String);

impl TaskId {
    pub fn new(kind: &str, target: &str, subject: &str) -> Self {
        TaskId(format!("{kind} {target} {subject}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

/// Copy one image (with every child, blob and attachment) to one destination reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// Where the bytes come from (pinned to `digest`): the original source, or the destination
    /// of the target this target needs.
    pub from: ImageRef,
    /// The reference as the recipe names it (for reports and cluster resources).
    pub origin: ImageRef,
    pub digest: Digest,
    pub dest: ImageRef,
    pub platforms: Option<Vec<String>>,
    pub signatures: bool,
}

/// Verify the signatures of one release payload before anything of that release is copied
/// (DESIGN §7). Every copy of the release depends on this task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifySpec {
    /// The release set.
    pub set: String,
    /// `<version>-<arch>`, for messages.
    pub release: String,
    /// The payload, pinned to `digest`.
    pub payload: ImageRef,
    pub digest: Digest,
    /// The keyring files of every trust block with a `gpg-keyring` that applies to the set
    /// (sorted by trust name; a signature by a key in any of them is accepted) and the digest
    /// of their bytes (part of the task key).
    pub keyrings: Vec<PathBuf>,
    pub keyring_digest: Digest,
    /// The first `signature-store` among those trust blocks, if any (else `OCP_SIGNATURE_URL`,
    /// else Red Hat's).
    pub store: Option<String>,
    /// Repositories a signature's `docker-reference` may name besides the payload's own.
    pub also_accept: Vec<Repository>,
    /// Where verified signatures are saved (`<workspace>/signatures`).
    pub signatures_dir: PathBuf,
}

/// One cosign public key a `trust` block gives a content set.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CosignKeyRef {
    /// The trust block's name.
    pub trust: String,
    /// The `cosign-key` file (as the recipe resolves it).
    pub path: PathBuf,
    /// The digest of the key file's bytes (part of the task key).
    pub digest: Digest,
}

/// Verify the cosign signature (`sha256-<hex>.sig` in the source repository) of one source
/// image against the keys of the trust blocks of one content set before the image is tagged
/// at any destination (DESIGN §7). Every copy of the image from the source depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CosignSpec {
    /// The content set whose trust blocks give the keys.
    pub set: String,
    /// The image as the recipe names it (for messages).
    pub origin: ImageRef,
    /// `<source repository>@<digest>`: the repository holds the signature tag.
    pub image: ImageRef,
    /// The signed digest: what the destination is tagged with (an index for multi-arch).
    pub digest: Digest,
    /// The keys, sorted; a signature by any one of them is accepted.
    pub keys: Vec<CosignKeyRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskKind {
    Copy(CopySpec),
    VerifySignature(VerifySpec),
    VerifyCosign(CosignSpec),
    PruneCatalog(PruneSpec),
}

impl TaskKind {
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::Copy(_) => "copy",
            TaskKind::VerifySignature(_) => "verify-signature",
            TaskKind::VerifyCosign(_) => "verify-cosign",
            TaskKind::PruneCatalog(_) => "prune-catalog",
        }
    }

    /// The copy this task performs, if it is a copy.
    pub fn as_copy(&self) -> Option<&CopySpec> {
        match self {
            TaskKind::Copy(c) => Some(c),
            TaskKind::VerifySignature(_)
            | TaskKind::VerifyCosign(_)
            | TaskKind::PruneCatalog(_) => None,
        }
    }

    /// The reference as the recipe names it and where the task puts it.
    /// `None` for tasks that write no image (signature checks).
    pub fn origin_and_dest(&self) -> Option<(&ImageRef, &ImageRef)> {
        match self {
            TaskKind::Copy(c) => Some((&c.origin, &c.dest)),
            TaskKind::PruneCatalog(p) => Some((&p.origin, &p.dest)),
            TaskKind::VerifySignature(_) | TaskKind::VerifyCosign(_) => None,
        }
    }

    /// True for the tasks that check signatures (`verify-signature`, `verify-cosign`).
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            TaskKind::VerifySignature(_) | TaskKind::VerifyCosign(_)
        )
    }
}

/// Rebuild an operator catalog with its filtered FBC for every platform and push it (its
/// original layers, two new layers, new configs and manifests, the index) to `dest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PruneSpec {
    /// The `catalog` set.
    pub set: String,
    /// The catalog image as the recipe names it.
    pub origin: ImageRef,
    /// The source catalog pinned to `digest`.
    pub from: ImageRef,
    pub digest: Digest,
    pub dest: ImageRef,
    /// Bundles the filter kept.
    pub bundles: usize,
    /// What discovery read (manifests, configs, layer descriptors, filtered catalog).
    #[serde(skip)]
    pub input: CatalogInput,
}

/// The discovered catalog a prune task rebuilds; compared by set and digest (the task key
/// covers the filter and options).
#[derive(Clone)]
pub struct CatalogInput(pub Arc<CatalogImage>);

impl PartialEq for CatalogInput {
    fn eq(&self, other: &Self) -> bool {
        self.0.set == other.0.set && self.0.fetched.digest == other.0.fetched.digest
    }
}

impl Eq for CatalogInput {}

impl fmt::Debug for CatalogInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CatalogInput({}@{})", self.0.set, self.0.fetched.digest)
    }
}

/// Why a task must run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DirtyReason {
    /// No record of this destination in the state.
    NeverRun,
    /// The destination was last filled from another source digest (a tag moved).
    SourceChanged { from: Digest, to: Digest },
    /// Same source digest, different parameters (platforms, signatures, key version).
    ParametersChanged,
    /// The state records the task done, but the destination no longer holds it.
    DestinationMissing {
        expected: Digest,
        found: Option<Digest>,
    },
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirtyReason::NeverRun => write!(f, "never run"),
            DirtyReason::SourceChanged { from, to } => {
                write!(f, "source digest changed {} -> {}", short(from), short(to))
            }
            DirtyReason::ParametersChanged => write!(f, "parameters changed"),
            DirtyReason::DestinationMissing { expected, found } => match found {
                None => write!(f, "destination missing {}", short(expected)),
                Some(d) => write!(
                    f,
                    "destination holds {} instead of {}",
                    short(d),
                    short(expected)
                ),
            },
        }
    }
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Freshness {
    Fresh,
    Dirty(DirtyReason),
}

impl Freshness {
    pub fn is_fresh(&self) -> bool {
        matches!(self, Freshness::Fresh)
    }
}

/// One node of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: TaskId,
    pub target: String,
    pub key: TaskKey,
    pub kind: TaskKind,
    pub deps: Vec<TaskId>,
    pub freshness: Freshness,
    /// Bytes this task is expected to move (blobs not yet at the destination registry and not
    /// moved by an earlier task of this plan).
    pub bytes: u64,
}
