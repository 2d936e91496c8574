//! The task kinds of the build DAG. Each kind is one self-contained file here: its spec (the
//! inputs that make its key), how a recorded run is confirmed ([`Check`]), its `run`, and the
//! journal record it leaves. The planner builds specs; the scheduler (`exec::run`) calls
//! [`TaskKind::run`] and [`TaskKind::record`] and knows no kind.
//!
//! Adding a kind touches at most four source files: the kind's own file here; this file (its
//! [`KindName`], the [`TaskKind`] variant and the dispatch lines); the planner stage that
//! creates its tasks (a function in a `plan/` file); and `plan/build.rs`, which calls that
//! stage. The book's concepts page (`book/src/concepts/tasks.md`) lists it too.

mod copy;
mod delete;
mod graph_image;
mod pack;
mod prune_catalog;
mod push_chart;
mod render;
mod unpack;
mod verify_archive;
mod verify_cosign;
mod verify_signature;
mod write_layout;
mod write_lock;

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use copy::CopySpec;
pub use delete::DeleteSpec;
pub use graph_image::GraphImageSpec;
pub use pack::{PackImage, PackSpec};
pub use prune_catalog::{CatalogInput, PruneSpec};
pub use push_chart::ChartSpec;
pub use render::RenderSpec;
pub use unpack::UnpackSpec;
pub use verify_archive::VerifyArchiveSpec;
pub use verify_cosign::{CosignKeyRef, CosignSpec};
pub use verify_signature::{KeyFile, VerifySpec};
pub use write_layout::LayoutSpec;
pub use write_lock::LockSpec;

use super::{CopyEngine, Counts, PlacedBlobs};
use crate::discover::Sides;
use crate::exec::EventSink;
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef};
use crate::plan::{TaskId, TaskKey};
use crate::state::{Journal, Record};

/// The kind of a recorded task, as the journal spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindName {
    Copy,
    VerifySignature,
    VerifyCosign,
    PruneCatalog,
    BuildGraphImage,
    RenderResources,
    WriteLock,
    WriteLayout,
    Pack,
    Unpack,
    VerifyArchive,
    Delete,
    PushChart,
}

impl KindName {
    pub fn as_str(self) -> &'static str {
        match self {
            KindName::Copy => "copy",
            KindName::VerifySignature => "verify-signature",
            KindName::VerifyCosign => "verify-cosign",
            KindName::PruneCatalog => "prune-catalog",
            KindName::BuildGraphImage => "build-graph-image",
            KindName::RenderResources => "render-resources",
            KindName::WriteLock => "write-lock",
            KindName::WriteLayout => "write-layout",
            KindName::Pack => "pack",
            KindName::Unpack => "unpack",
            KindName::VerifyArchive => "verify-archive",
            KindName::Delete => "delete",
            KindName::PushChart => "push-chart",
        }
    }
}

impl std::fmt::Display for KindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Data a spec carries that is read or parsed once per build (key files, a read catalog). It
/// takes no part in comparisons: the spec's digests say what it is.
#[derive(Clone)]
pub struct Loaded<T>(pub std::sync::Arc<T>);

impl<T> Loaded<T> {
    pub fn new(value: T) -> Self {
        Loaded(std::sync::Arc::new(value))
    }
}

impl<T> std::ops::Deref for Loaded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> PartialEq for Loaded<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Loaded<T> {}

impl<T> PartialOrd for Loaded<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Loaded<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<T> std::fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loaded(..)")
    }
}

/// What a finished task produced.
#[derive(Clone, Debug)]
pub struct Output {
    /// The output digest: the manifest at the destination, the verified digest, the digest of
    /// the written files.
    pub digest: Digest,
    pub counts: Counts,
}

/// A task's failure, typed up to the reporter: the exit class it maps to, what happened and
/// what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub exit: Exit,
    pub message: String,
    pub help: Option<String>,
}

impl TaskError {
    /// From a diagnostic: its message and its help.
    pub fn from_diagnostic(exit: Exit, e: &dyn miette::Diagnostic) -> Self {
        TaskError {
            exit,
            message: e.to_string(),
            help: e.help().map(|h| h.to_string()),
        }
    }

    pub fn new(exit: Exit, message: impl Into<String>, help: impl Into<String>) -> Self {
        TaskError {
            exit,
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// How the planner confirms that a task recorded done is still done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The destination reference must still hold the recorded output (a manifest HEAD made by
    /// discovery; skipped with `--trust-state`).
    Registry(String),
    /// A local output (files in the workspace, the lock) must have the recorded digest; read by
    /// discovery under this slot.
    Local(String),
    /// The journal record is enough (verifications: their output is a fact, not a place).
    Record,
    /// No record: fresh exactly when the local output already has the digest the task would
    /// write (the lock file).
    Content { slot: String, digest: Digest },
}

/// Runs `work` as job `job` of the reporter: a `job-started` event naming `source` and `dest`,
/// then `job-finished` with the output or `job-failed` with the error. For kinds that put one
/// image somewhere (the copy engine reports its own copies).
pub(crate) async fn reported(
    cx: &RunCx<'_>,
    job: usize,
    source: String,
    dest: String,
    work: impl std::future::Future<Output = Result<Output, TaskError>>,
) -> Result<Output, TaskError> {
    use crate::exec::Event;
    cx.events.send(Event::JobStarted {
        job,
        source: source.clone(),
        dest: dest.clone(),
    });
    let result = work.await;
    match &result {
        Ok(o) => cx.events.send(Event::JobFinished {
            job,
            dest,
            digest: o.digest.clone(),
            bytes: o.counts.bytes,
        }),
        Err(e) => cx.events.send(Event::JobFailed {
            job,
            source,
            error: e.message.clone(),
        }),
    }
    result
}

/// What every task of one run shares.
pub struct RunCx<'a> {
    pub sides: &'a Sides,
    /// Copies from original sources.
    pub from_source: &'a CopyEngine<'a>,
    /// Copies from the destination of a needed target.
    pub from_dest: &'a CopyEngine<'a>,
    /// Blobs catalog rebuilds placed in this run.
    pub placed: &'a PlacedBlobs,
    /// The journal, as recorded so far (readers take a snapshot; the scheduler appends).
    pub journal: &'a Mutex<Journal>,
    pub events: &'a EventSink,
}

/// What one task gets besides the shared context: its index in the plan (its job number in
/// events) and the outputs of its finished dependencies.
pub struct Inputs<'a> {
    pub job: usize,
    pub deps: &'a BTreeMap<TaskId, Digest>,
}

/// One kind of task. Implemented by every spec in this module.
pub(crate) trait Kind {
    const NAME: KindName;

    /// The task key: sha256 of the canonical JSON of the kind, key version, input digests and
    /// parameters (see `plan::key`).
    fn key(&self) -> TaskKey;

    /// The journal slot the task records under (a destination reference, or a name for
    /// outputs that are not images).
    fn slot(&self) -> String;

    /// The digest the task consumes (recorded; explains "source digest changed").
    fn source_digest(&self) -> Digest;

    /// How a recorded run is confirmed.
    fn check(&self) -> Check;

    /// Does the work.
    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError>;

    /// The journal record of a finished run (`None`: the kind keeps no record).
    fn record(&self, key: &TaskKey, output: &Output) -> Option<Record> {
        Some(Record {
            key: key.to_string(),
            kind: Self::NAME,
            dest: self.slot(),
            source_digest: self.source_digest(),
            output_digest: output.digest.clone(),
        })
    }
}

/// The kinds, as one enum the planner, the scheduler and the explainers share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskKind {
    Copy(CopySpec),
    VerifySignature(VerifySpec),
    VerifyCosign(CosignSpec),
    PruneCatalog(PruneSpec),
    BuildGraphImage(GraphImageSpec),
    RenderResources(RenderSpec),
    WriteLock(LockSpec),
    // Boxed: larger than a copy, and a plan holds one `Task` per image, each as large as the
    // largest variant held inline.
    WriteLayout(Box<LayoutSpec>),
    Pack(Box<PackSpec>),
    Unpack(Box<UnpackSpec>),
    VerifyArchive(VerifyArchiveSpec),
    Delete(DeleteSpec),
    PushChart(ChartSpec),
}

/// Calls `$body` with `$s` bound to the spec, and `$k` to its type, whatever the kind.
macro_rules! each_kind {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            TaskKind::Copy($s) => $body,
            TaskKind::VerifySignature($s) => $body,
            TaskKind::VerifyCosign($s) => $body,
            TaskKind::PruneCatalog($s) => $body,
            TaskKind::BuildGraphImage($s) => $body,
            TaskKind::RenderResources($s) => $body,
            TaskKind::WriteLock($s) => $body,
            TaskKind::WriteLayout(b) => {
                let $s = &**b;
                $body
            }
            TaskKind::Pack(b) => {
                let $s = &**b;
                $body
            }
            TaskKind::Unpack(b) => {
                let $s = &**b;
                $body
            }
            TaskKind::VerifyArchive($s) => $body,
            TaskKind::Delete($s) => $body,
            TaskKind::PushChart($s) => $body,
        }
    };
}

fn name_of<K: Kind>(_: &K) -> KindName {
    K::NAME
}

impl TaskKind {
    pub fn kind_name(&self) -> KindName {
        each_kind!(self, s => name_of(s))
    }

    pub fn name(&self) -> &'static str {
        self.kind_name().as_str()
    }

    pub fn key(&self) -> TaskKey {
        each_kind!(self, s => s.key())
    }

    pub fn slot(&self) -> String {
        each_kind!(self, s => s.slot())
    }

    pub fn source_digest(&self) -> Digest {
        each_kind!(self, s => s.source_digest())
    }

    pub fn check(&self) -> Check {
        each_kind!(self, s => s.check())
    }

    pub async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        each_kind!(self, s => s.run(cx, inputs).await)
    }

    /// The journal record of a finished run (`None` for kinds that keep none).
    pub fn record(&self, key: &TaskKey, output: &Output) -> Option<Record> {
        each_kind!(self, s => s.record(key, output))
    }

    /// The copy this task performs, if it is a copy.
    /// A `write-layout` task is a copy to another store.
    pub fn as_copy(&self) -> Option<&CopySpec> {
        match self {
            TaskKind::Copy(c) => Some(c),
            TaskKind::WriteLayout(l) => Some(&l.copy),
            TaskKind::Unpack(u) => Some(&u.copy),
            _ => None,
        }
    }

    /// The reference as the recipe names it and where the task puts it; `None` for tasks that
    /// write no image of the recipe (verifications, resources, the lock).
    pub fn origin_and_dest(&self) -> Option<(&ImageRef, &ImageRef)> {
        if let Some(c) = self.as_copy() {
            return Some((&c.origin, &c.dest));
        }
        match self {
            TaskKind::PruneCatalog(p) => Some((&p.origin, &p.dest)),
            _ => None,
        }
    }

    /// The content set named in the task's spec (catalog rebuilds, signature checks, charts,
    /// packs); image copies get theirs from the plan (`Plan::set_of`).
    pub fn content_set(&self) -> Option<&str> {
        match self {
            TaskKind::PruneCatalog(p) => Some(&p.set),
            TaskKind::VerifySignature(v) => Some(&v.set),
            TaskKind::VerifyCosign(v) => Some(&v.set),
            TaskKind::PushChart(c) => Some(&c.set),
            TaskKind::BuildGraphImage(g) => Some(&g.release_set),
            _ => None,
        }
    }

    /// True for the tasks that check signatures or archives (`verify-signature`,
    /// `verify-cosign`, `verify-archive`).
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            TaskKind::VerifySignature(_) | TaskKind::VerifyCosign(_) | TaskKind::VerifyArchive(_)
        )
    }

    /// True for the tasks that write the build's local outputs (cluster resources, the lock):
    /// summaries count content tasks only.
    pub fn is_output(&self) -> bool {
        matches!(self, TaskKind::RenderResources(_) | TaskKind::WriteLock(_))
    }

    /// True for the tasks that put an image at a destination (progress counts these).
    pub fn writes_image(&self) -> bool {
        matches!(
            self,
            TaskKind::Copy(_)
                | TaskKind::PruneCatalog(_)
                | TaskKind::BuildGraphImage(_)
                | TaskKind::WriteLayout(_)
                | TaskKind::Unpack(_)
                | TaskKind::PushChart(_)
        )
    }

    /// True for the tasks the progress bar counts: those that put an image somewhere, and
    /// deletions.
    pub fn counts_in_progress(&self) -> bool {
        self.writes_image() || matches!(self, TaskKind::Delete(_))
    }

    /// What the task is about, for plan text: `origin -> dest` for images, a name otherwise.
    pub fn subject(&self) -> String {
        match self {
            TaskKind::Copy(c) => format!("{} -> {}", c.origin, c.dest),
            TaskKind::PruneCatalog(p) => format!("{} -> {}", p.origin, p.dest),
            TaskKind::VerifySignature(v) => format!("{} {}", v.release, v.payload),
            TaskKind::VerifyCosign(c) => {
                let trusts: Vec<&str> = c.keys.iter().map(|k| k.trust.as_str()).collect();
                format!("{} (trust {})", c.image, trusts.join(", "))
            }
            TaskKind::BuildGraphImage(g) => format!("{} -> {}", g.release_set, g.dest),
            TaskKind::RenderResources(r) => r.dir.display().to_string(),
            TaskKind::WriteLock(l) => l.path.display().to_string(),
            TaskKind::WriteLayout(l) => {
                format!("{} -> oci:{}:{}", l.copy.origin, l.dir.display(), l.name())
            }
            TaskKind::Unpack(u) => format!(
                "{} (archive {}) -> {}",
                u.copy.origin,
                u.dir.display(),
                u.copy.dest
            ),
            TaskKind::Pack(p) => format!("{} image(s) -> {}", p.images.len(), p.dir.display()),
            TaskKind::VerifyArchive(v) => {
                format!("{} (archives of `{}`)", v.dir.display(), v.archive)
            }
            TaskKind::Delete(d) => d.manifest().to_string(),
            TaskKind::PushChart(c) => format!(
                "chart {} {} ({}) -> {}",
                c.chart, c.version, c.repository, c.dest
            ),
        }
    }
}
