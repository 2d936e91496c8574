//! The copy task: copies images (single manifests, whole multi-arch indexes or the sparse index
//! a platform filter asks for) with their attachments from a source to a destination registry.
//!
//! Order of writes per job: every blob of a manifest, then the manifest by digest; every child
//! of an index, then the index by digest; then attachments; the tag last — the top manifest is
//! written once, with its tag (by digest only when the destination names no tag). So a tag never
//! points at incomplete content, and a digest mismatch anywhere leaves the tag untouched.
//! Manifests discovery stored are read from the manifest cache, not the source.
//! This module writes only to destination registries and reports only through events.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, join_all, try_join_all};
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::discover::ManifestCache;
use crate::exec::{Event, EventSink, Limits, Permits};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef, Repository};
use crate::registry::{Manifest, RegistryClient, RegistryError};

use super::attach::AttachmentProbes;
use super::blobs::{BlobCopier, BlobDedup, Placed};

/// One image to copy.
#[derive(Clone, Debug)]
pub struct CopyJob {
    pub source: ImageRef,
    /// Where to put it; its tag (or, without one, its digest) is what gets written last.
    pub dest: ImageRef,
    /// Keep only these architectures of an index (e.g. `amd64`); `None` copies it whole.
    pub platforms: Option<Vec<String>>,
    /// Copy cosign attachments and OCI referrers along with the image.
    pub signatures: bool,
}

/// Registry clients for both sides and the concurrency limits.
#[derive(Clone, Debug)]
pub struct CopyContext {
    pub source: RegistryClient,
    pub dest: RegistryClient,
    pub limits: Limits,
    /// Manifests discovery already read, by digest: a copy takes them from here instead of
    /// GETting them from the source again.
    pub manifests: Option<ManifestCache>,
    /// Per destination registry, blobs believed to be there already (recorded by earlier
    /// copies): checked with a HEAD before uploading. Any other blob is probed with a mount
    /// from the destination repository itself, which also opens the upload when it is absent.
    pub likely_present: Arc<crate::plan::PresentBlobs>,
    /// The slowest uploads of the run (`build --timings`).
    pub slow_blobs: Arc<crate::exec::timings::SlowBlobs>,
    /// Per destination registry, the repository each blob goes to before any other (the
    /// planner's [`crate::plan::BlobHomes`]); a blob with none goes first to the job's own.
    pub homes: Arc<crate::plan::BlobHomes>,
    /// `build --shard`: blobs another shard uploads ([`crate::plan::ShardShare::foreign`]).
    pub foreign: Arc<crate::plan::ForeignBlobs>,
}

impl CopyContext {
    /// A context with the default limits (`Limits::default()`).
    pub fn new(source: RegistryClient, dest: RegistryClient) -> Self {
        CopyContext {
            source,
            dest,
            limits: Limits::default(),
            manifests: None,
            likely_present: Arc::default(),
            slow_blobs: Arc::default(),
            homes: Arc::default(),
            foreign: Arc::default(),
        }
    }
}

/// Counters of one job or of a whole batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Bytes uploaded.
    pub bytes: u64,
    pub blobs_uploaded: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
    pub manifests_pushed: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.bytes += o.bytes;
        self.blobs_uploaded += o.blobs_uploaded;
        self.blobs_mounted += o.blobs_mounted;
        self.blobs_present += o.blobs_present;
        self.manifests_pushed += o.manifests_pushed;
    }
}

/// A platform filter turned an index into a smaller one with a different digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SparseIndex {
    /// Digest of the source index (the one users see upstream).
    pub source_digest: Digest,
    pub kept: Vec<String>,
    pub dropped: Vec<String>,
}

/// What a successful job did.
#[derive(Clone, Debug, Serialize)]
pub struct Copied {
    /// Digest of the manifest at the destination.
    pub digest: Digest,
    /// Set when the destination holds a filtered index whose digest differs from the source.
    pub sparse: Option<SparseIndex>,
    /// Cosign tags and referrer digests copied with the image.
    pub attachments: Vec<String>,
    pub counts: Counts,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CopyError {
    #[error("copying {source_ref} to {dest}: {error}")]
    #[diagnostic(help("see the registry error above; rerunning copies only what is missing"))]
    Registry {
        source_ref: String,
        dest: String,
        #[source]
        error: RegistryError,
    },
    #[error(
        "{source_ref}: no image of the index matches the platform filter {wanted:?} (it has {available:?})"
    )]
    #[diagnostic(help("change the `arch` filter to one of the architectures the index has"))]
    NoMatchingPlatform {
        source_ref: String,
        wanted: Vec<String>,
        available: Vec<String>,
    },
}

/// Outcome of one job.
#[derive(Debug)]
pub struct JobOutcome {
    pub source: ImageRef,
    pub dest: ImageRef,
    pub result: Result<Copied, CopyError>,
}

/// Outcome of a batch, in job order.
#[derive(Debug)]
pub struct CopySummary {
    pub jobs: Vec<JobOutcome>,
    pub totals: Counts,
    pub failed: usize,
}

impl CopySummary {
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    /// The process exit class: success; `Partial` when some jobs failed and others succeeded;
    /// otherwise the class of the failures (`Verification` when every failure is a digest
    /// mismatch, else `Remote`).
    pub fn exit(&self) -> Exit {
        let failures: Vec<&CopyError> = self
            .jobs
            .iter()
            .filter_map(|j| j.result.as_ref().err())
            .collect();
        if failures.is_empty() {
            Exit::Success
        } else if failures.len() < self.jobs.len() {
            Exit::Partial
        } else if failures.iter().all(|e| e.exit() == Exit::Verification) {
            Exit::Verification
        } else {
            Exit::Remote
        }
    }
}

impl CopyError {
    /// The exit class of this failure.
    pub fn exit(&self) -> Exit {
        match self {
            CopyError::Registry { error, .. }
                if matches!(error.last(), RegistryError::DigestMismatch { .. }) =>
            {
                Exit::Verification
            }
            CopyError::Registry { .. } => Exit::Remote,
            CopyError::NoMatchingPlatform { .. } => Exit::InvalidInput,
        }
    }
}

/// The copy engine: state shared by every copy of one run (transfer permits, blobs already
/// placed, attachment probes). The scheduler keeps one per side copies read from.
pub struct CopyEngine<'a> {
    pub ctx: &'a CopyContext,
    pub events: &'a EventSink,
    pub permits: Arc<Permits>,
    dedup: BlobDedup,
    /// What the source says about attachment tags and referrers, asked once per repository
    /// or registry (see `attach.rs`).
    pub attachments: AttachmentProbes,
    /// The repositories each destination registry had when this run first asked (see
    /// [`JobRun::new_repository`]).
    dest_repos: Mutex<HashMap<String, RepoList>>,
}

/// A destination registry's repositories, listed once per run (`None`: it did not list them).
type RepoList = Arc<OnceCell<Option<BTreeSet<String>>>>;

/// The cell of `key` in `cells`, created empty on first use: the first job that needs the
/// value fills it, the others wait for it, so a registry is asked once per run.
pub(super) fn once_per_run<K, Q, V>(
    cells: &Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    key: &Q,
) -> Arc<OnceCell<V>>
where
    K: std::borrow::Borrow<Q> + Eq + std::hash::Hash,
    Q: ToOwned<Owned = K> + Eq + std::hash::Hash + ?Sized,
{
    let mut cells = cells.lock().unwrap_or_else(|e| e.into_inner());
    super::get_or_default(&mut cells, key).clone()
}

/// A registry repository list longer than this is not read: each image is asked about instead
/// (1000 is also the most distribution answers at once by default).
const CATALOG_PAGE: usize = 1000;

/// One running job.
pub(crate) struct JobRun<'a> {
    pub engine: &'a CopyEngine<'a>,
    index: usize,
    counts: Mutex<Counts>,
}

/// Copies every job, concurrently within the limits of `ctx`. A failing job does not stop the
/// others. Events go to `events`; the summary lists each job's outcome in input order.
pub async fn copy_all(jobs: Vec<CopyJob>, ctx: &CopyContext, events: &EventSink) -> CopySummary {
    let engine = CopyEngine::new(ctx, events);
    let runs = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| engine.copy_one(i, job));
    let results = join_all(runs).await;
    let mut totals = Counts::default();
    let mut failed = 0;
    let mut outcomes = Vec::new();
    for (job, result) in jobs.into_iter().zip(results) {
        match &result {
            Ok(c) => totals.add(&c.counts),
            Err(_) => failed += 1,
        }
        outcomes.push(JobOutcome {
            source: job.source,
            dest: job.dest,
            result,
        });
    }
    CopySummary {
        jobs: outcomes,
        totals,
        failed,
    }
}

impl<'a> CopyEngine<'a> {
    pub fn new(ctx: &'a CopyContext, events: &'a EventSink) -> Self {
        Self::sharing(ctx, events, Arc::new(Permits::new(ctx.limits.clone())))
    }

    /// An engine taking its transfer permits from `permits`, shared with other engines of the
    /// run (copies from the source and from a needed target's destination draw on one pool).
    pub fn sharing(ctx: &'a CopyContext, events: &'a EventSink, permits: Arc<Permits>) -> Self {
        CopyEngine {
            ctx,
            events,
            permits,
            dedup: BlobDedup::default(),
            attachments: AttachmentProbes::default(),
            dest_repos: Mutex::default(),
        }
    }

    /// Copies one job; `index` is its job number in events.
    pub async fn copy_one(&'a self, index: usize, job: &CopyJob) -> Result<Copied, CopyError> {
        self.events.send(Event::JobStarted {
            job: index,
            source: job.source.to_string(),
            dest: job.dest.to_string(),
        });
        let run = JobRun {
            engine: self,
            index,
            counts: Mutex::new(Counts::default()),
        };
        let result = run.copy(job).await;
        match &result {
            Ok(c) => self.events.send(Event::JobFinished {
                job: index,
                dest: job.dest.to_string(),
                digest: c.digest.clone(),
                bytes: c.counts.bytes,
            }),
            Err(e) => self.events.send(Event::JobFailed {
                job: index,
                source: job.source.to_string(),
                error: e.to_string(),
            }),
        }
        result
    }
}

impl JobRun<'_> {
    fn wrap(&self, job: &CopyJob) -> impl Fn(RegistryError) -> CopyError {
        let (s, d) = (job.source.to_string(), job.dest.to_string());
        move |error| CopyError::Registry {
            source_ref: s.clone(),
            dest: d.clone(),
            error,
        }
    }

    async fn copy(&self, job: &CopyJob) -> Result<Copied, CopyError> {
        let wrap = self.wrap(job);
        let src = job.source.repository();
        let dst = job.dest.repository();
        let top = self.get_manifest(&job.source).await.map_err(&wrap)?;
        let (manifest, sparse) = match &job.platforms {
            Some(wanted) if top.is_index() => {
                let (m, s) = sparse_index(&top, wanted, src.registry())
                    .map_err(&wrap)?
                    .ok_or_else(|| CopyError::NoMatchingPlatform {
                        source_ref: job.source.to_string(),
                        wanted: wanted.clone(),
                        available: architectures(&top, src.registry()),
                    })?;
                (m, s)
            }
            _ => (top.clone(), None),
        };
        // The top manifest is written once: under its tag (which stores it by digest too), or
        // by digest when the destination names no tag.
        let present = self
            .copy_contents(src, dst, &manifest)
            .await
            .map_err(&wrap)?;
        let attachments = if job.signatures {
            self.copy_attachments(src, dst, &top.digest, job.dest.tag())
                .await
                .map_err(&wrap)?
        } else {
            Vec::new()
        };
        match job.dest.tag() {
            Some(tag) => self.put_manifest(dst, tag, &manifest).await,
            None if !present => {
                self.put_manifest(dst, &manifest.digest.to_string(), &manifest)
                    .await
            }
            None => Ok(()),
        }
        .map_err(&wrap)?;
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(Copied {
            digest: manifest.digest,
            sparse,
            attachments,
            counts,
        })
    }

    /// A manifest of the source: from the manifest cache when `image` is pinned and discovery
    /// stored it, else a GET under a permit.
    pub async fn get_manifest(&self, image: &ImageRef) -> Result<Manifest, RegistryError> {
        if let (Some(cache), Some(digest)) = (&self.engine.ctx.manifests, image.digest())
            && let Some(m) = cache
                .get(digest)
                .and_then(|b| Manifest::from_stored(b, digest))
        {
            return Ok(m);
        }
        let _permit = self.engine.permits.acquire(&[image.registry()]).await;
        self.engine.ctx.source.get_manifest(image).await
    }

    /// PUTs `m` into `dst` under `reference` (a tag or digest) under a permit.
    pub async fn put_manifest(
        &self,
        dst: &Repository,
        reference: &str,
        m: &Manifest,
    ) -> Result<(), RegistryError> {
        let _permit = self.engine.permits.acquire(&[dst.registry()]).await;
        self.engine
            .ctx
            .dest
            .put_manifest(dst, reference, &m.media_type, &m.bytes)
            .await?;
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .manifests_pushed += 1;
        // By digest `repo@sha256:…`, by tag `repo:tag`.
        let sep = if reference.contains(':') { '@' } else { ':' };
        self.engine.events.send(Event::ManifestPushed {
            job: self.index,
            reference: format!("{dst}{sep}{reference}"),
        });
        Ok(())
    }

    /// Copies everything `m` references, then pushes `m` by digest. A manifest the destination
    /// already holds (HEAD by digest) is complete there and is skipped.
    pub fn copy_tree<'b>(
        &'b self,
        src: &'b Repository,
        dst: &'b Repository,
        m: &'b Manifest,
    ) -> BoxFuture<'b, Result<(), RegistryError>> {
        async move {
            if !self.copy_contents(src, dst, m).await? {
                self.put_manifest(dst, &m.digest.to_string(), m).await?;
            }
            Ok(())
        }
        .boxed()
    }

    /// Whether `dst` is a repository its registry did not have when this run first asked
    /// (one `GET /v2/_catalog` per destination registry and run): whatever it holds, this run
    /// (or another shard of it) put there, so asking whether it holds a manifest is a request
    /// spent for nothing. `false` — ask — when the registry does not list its repositories
    /// (refused, or more than one page).
    async fn new_repository(&self, dst: &Repository) -> bool {
        let cell = once_per_run(&self.engine.dest_repos, dst.registry());
        let repos = cell
            .get_or_init(|| async {
                let _permit = self.engine.permits.acquire(&[dst.registry()]).await;
                self.engine
                    .ctx
                    .dest
                    .repositories_if_few(dst.registry(), CATALOG_PAGE)
                    .await
            })
            .await;
        repos.as_ref().is_some_and(|r| !r.contains(dst.path()))
    }

    /// Copies everything `m` references (children with [`Self::copy_tree`], or blobs) but not
    /// `m` itself. True when the destination already holds `m` (HEAD by digest, unless the
    /// repository is new this run): it is complete there and nothing was copied.
    async fn copy_contents(
        &self,
        src: &Repository,
        dst: &Repository,
        m: &Manifest,
    ) -> Result<bool, RegistryError> {
        if !self.new_repository(dst).await {
            let present = {
                let _permit = self.engine.permits.acquire(&[dst.registry()]).await;
                self.engine
                    .ctx
                    .dest
                    .head_manifest(&dst.with_digest(m.digest.clone()))
                    .await?
            };
            if present.is_some() {
                return Ok(true);
            }
        }
        let doc = m.doc(src.registry())?;
        if m.is_index() {
            try_join_all(doc.manifests.iter().map(|child| async move {
                let cm = self
                    .get_manifest(&src.with_digest(child.digest.clone()))
                    .await?;
                if cm.bytes.len() as u64 != child.size {
                    return Err(RegistryError::SizeMismatch {
                        what: format!(
                            "manifest {} in {src} (a child of {})",
                            child.digest, m.digest
                        ),
                        descriptor: child.size,
                        actual: cm.bytes.len() as u64,
                    });
                }
                self.copy_tree(src, dst, &cm).await
            }))
            .await?;
        } else {
            let blobs = doc.config.iter().chain(doc.layers.iter());
            try_join_all(blobs.map(|d| self.copy_blob(src, dst, d))).await?;
        }
        Ok(false)
    }

    async fn copy_blob(
        &self,
        src: &Repository,
        dst: &Repository,
        d: &crate::registry::Descriptor,
    ) -> Result<(), RegistryError> {
        let listed = once_per_run(&self.engine.dest_repos, dst.registry());
        let copier = BlobCopier {
            source: &self.engine.ctx.source,
            dest: &self.engine.ctx.dest,
            likely_present: &self.engine.ctx.likely_present,
            homes: &self.engine.ctx.homes,
            foreign: &self.engine.ctx.foreign,
            permits: &self.engine.permits,
            dedup: &self.engine.dedup,
            listed: listed.get().and_then(Option::as_ref),
        };
        let started = std::time::Instant::now();
        let placed = copier.ensure(src, dst, d).await?;
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let (job, digest) = (self.index, d.digest.clone());
        match placed {
            Placed::Uploaded(n) => {
                self.engine.ctx.slow_blobs.note(
                    &d.digest.to_string(),
                    &dst.to_string(),
                    n,
                    started,
                );
                c.bytes += n;
                c.blobs_uploaded += 1;
                self.engine.events.send(Event::BlobTransferred {
                    job,
                    digest,
                    bytes: n,
                });
            }
            Placed::Mounted(from) => {
                c.blobs_mounted += 1;
                self.engine.events.send(Event::BlobMounted {
                    job,
                    digest,
                    from: from.to_string(),
                });
            }
            Placed::Present => {
                c.blobs_present += 1;
                self.engine.events.send(Event::BlobSkipped { job, digest });
            }
        }
        Ok(())
    }
}

fn architectures(index: &Manifest, registry: &str) -> Vec<String> {
    let mut v: Vec<String> = index
        .doc(registry)
        .map(|d| {
            d.manifests
                .iter()
                .filter_map(|c| c.platform.as_ref().map(|p| p.architecture.clone()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

/// The index with only the children whose architecture is in `wanted`; `None` when no child
/// matches. When every child matches, the index is returned unchanged (same digest).
fn sparse_index(
    index: &Manifest,
    wanted: &[String],
    registry: &str,
) -> Result<Option<(Manifest, Option<SparseIndex>)>, RegistryError> {
    let invalid = |message: String| RegistryError::Protocol {
        registry: registry.to_string(),
        what: format!("index {}", index.digest),
        message,
    };
    let mut json: serde_json::Value =
        serde_json::from_slice(&index.bytes).map_err(|e| invalid(e.to_string()))?;
    let children = json
        .get_mut("manifests")
        .and_then(|m| m.as_array_mut())
        .ok_or_else(|| invalid("index has no `manifests` array".into()))?;
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    children.retain(|c| {
        let arch = c["platform"]["architecture"]
            .as_str()
            .unwrap_or("unknown")
            .to_string();
        let keep = wanted.contains(&arch);
        if keep {
            kept.push(arch)
        } else {
            dropped.push(arch)
        }
        keep
    });
    if kept.is_empty() {
        return Ok(None);
    }
    if dropped.is_empty() {
        return Ok(Some((index.clone(), None)));
    }
    let bytes = Bytes::from(serde_json::to_vec(&json).map_err(|e| invalid(e.to_string()))?);
    let sparse = SparseIndex {
        source_digest: index.digest.clone(),
        kept,
        dropped,
    };
    Ok(Some((
        Manifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: index.media_type.clone(),
        },
        Some(sparse),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Manifest {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let bytes = Bytes::from(format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
            d('a'),
            d('b')
        ));
        Manifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: "application/vnd.oci.image.index.v1+json".into(),
        }
    }

    #[test]
    fn sparse_index_keeps_matching_children_and_reports_the_change() {
        let idx = index();
        let (m, s) = sparse_index(&idx, &["arm64".into()], "r").unwrap().unwrap();
        let s = s.unwrap();
        assert_eq!(s.kept, ["arm64"]);
        assert_eq!(s.dropped, ["amd64"]);
        assert_eq!(s.source_digest, idx.digest);
        assert_ne!(m.digest, idx.digest);
        let doc = m.doc("r").unwrap();
        assert_eq!(doc.manifests.len(), 1);
        assert_eq!(doc.manifests[0].digest.hex(), "b".repeat(64));
    }

    #[test]
    fn full_match_keeps_digest_and_no_match_is_none() {
        let idx = index();
        let (m, s) = sparse_index(&idx, &["amd64".into(), "arm64".into()], "r")
            .unwrap()
            .unwrap();
        assert!(s.is_none());
        assert_eq!(m.digest, idx.digest);
        assert!(
            sparse_index(&idx, &["s390x".into()], "r")
                .unwrap()
                .is_none()
        );
        assert_eq!(architectures(&idx, "r"), ["amd64", "arm64"]);
    }
}
