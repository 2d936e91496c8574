//! Tasks of the DAG, their identities and their freshness. The kinds themselves (their specs,
//! keys and runs) live in `task::kinds`.

use std::fmt;

use serde::Serialize;

use super::TaskKey;
use crate::oci::Digest;
use crate::state::KindName;
pub use crate::task::kinds::TaskKind;

/// Human-readable, unique task identity, e.g. `copy enterprise quay.io/ns/app:1.0`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TaskId(String);

impl TaskId {
    pub fn new(kind: KindName, target: &str, subject: &str) -> Self {
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
    /// A task whose output this one reads runs in this build.
    DependencyDirty { dep: TaskId },
    /// A local output (the lock, written resources) differs from what the task writes.
    OutputChanged,
    /// The command asked for it (`--since DATE` writes a new archive).
    Requested(String),
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
            DirtyReason::DependencyDirty { dep } => write!(f, "dependency dirty: {dep}"),
            DirtyReason::OutputChanged => write!(f, "output changed"),
            DirtyReason::Requested(why) => write!(f, "asked by {why}"),
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
    /// Tasks that must succeed first (a failure leaves this task not attempted).
    pub deps: Vec<TaskId>,
    /// Tasks that must finish first, whether they succeed or not (what they wrote is this
    /// task's input: the cluster resources describe what the target holds).
    pub after: Vec<TaskId>,
    pub freshness: Freshness,
    /// Bytes this task is expected to move (blobs not yet at the destination registry and not
    /// moved by an earlier task of this plan).
    pub bytes: u64,
}
