//! Getting one blob to a destination repository with each unique blob crossing the wire once
//! per destination registry: the first job that needs a blob HEADs and, if needed, uploads it
//! (streaming from the source, verified) into the blob's home — the repository the planner
//! chose for it, the same in every run, so a rerun after a kill finds there what the killed run
//! sent whichever job asks first; concurrent and later jobs wait for that and then
//! cross-repository mount it from the home (uploading only when the registry refuses the
//! mount). A copy inside one registry mounts from the source repository directly. Only the
//! executor's copy task uses this.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use tokio::sync::OnceCell;

use super::get_or_default;
use crate::exec::Permits;
use crate::oci::{Digest, Repository};
use crate::registry::{BlobTarget, ByteStream, Descriptor, Mount, RegistryClient, RegistryError};

/// How a blob got to its destination repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placed {
    /// Bytes were uploaded.
    Uploaded(u64),
    /// Mounted from this repository of the same registry.
    Mounted(Repository),
    /// Already there.
    Present,
}

/// How long a shard waits for a blob another shard uploads before sending it itself.
const SHARD_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Where one blob was placed first in a registry (its home), once it is there.
type HomeCell = Arc<OnceCell<Repository>>;

/// A placement of one blob into one repository.
type RepoCell = Arc<OnceCell<()>>;

/// Per destination registry and digest: the repository that holds the blob once placed; and
/// per destination repository and digest: whether it was placed there (maps nested by
/// registry and repository keep one copy of each name, not one per blob). The second level
/// makes sure one repository never receives the same blob twice at once (two children of an
/// index sharing a layer): concurrent mounts of one blob into one repository race in
/// distribution's filesystem driver, which rewrites the link file non-atomically while a
/// manifest PUT reads it (seen as `DIGEST_INVALID` + `MANIFEST_BLOB_UNKNOWN`).
#[derive(Default)]
pub struct BlobDedup {
    cells: Mutex<HashMap<String, HashMap<Digest, HomeCell>>>,
    in_repo: Mutex<HashMap<Repository, HashMap<Digest, RepoCell>>>,
    /// Sizes this run learned of blobs in each destination registry (uploaded and verified,
    /// or read with a HEAD): a blob mounted from there needs no HEAD to check its size.
    sizes: Mutex<HashMap<String, HashMap<Digest, u64>>>,
}

/// The clients and permits a blob copy needs.
pub struct BlobCopier<'a> {
    pub source: &'a RegistryClient,
    pub dest: &'a RegistryClient,
    /// Per destination registry, blobs believed present (HEAD first); others are probed with a
    /// mount from the destination repository (one request instead of HEAD + POST).
    pub likely_present: &'a crate::plan::PresentBlobs,
    /// Per destination registry, the repository each blob is placed in before any other (see
    /// [`crate::plan::BlobHomes`]).
    pub homes: &'a crate::plan::BlobHomes,
    /// `build --shard`: per destination registry, blobs a lower-numbered shard uploads (see
    /// [`crate::plan::shard`]); this process waits for them in their home instead.
    pub foreign: &'a crate::plan::ForeignBlobs,
    pub permits: &'a Permits,
    pub dedup: &'a BlobDedup,
    /// The repositories the destination registry listed when this run first asked (`None`:
    /// it did not list them): one it did not list holds only what this run put there.
    pub listed: Option<&'a BTreeSet<String>>,
}

impl BlobCopier<'_> {
    /// Ensures `dst` holds the blob `desc`, reading it from `src` when it must be uploaded. At
    /// most one placement per (repository, blob) runs; later callers find it `Present`.
    pub async fn ensure(
        &self,
        src: &Repository,
        dst: &Repository,
        desc: &Descriptor,
    ) -> Result<Placed, RegistryError> {
        let cell = {
            let mut cells = self.dedup.in_repo.lock().unwrap_or_else(|e| e.into_inner());
            get_or_default(&mut cells, dst)
                .entry(desc.digest.clone())
                .or_default()
                .clone()
        };
        let mut placed = None;
        cell.get_or_try_init(|| async {
            placed = Some(self.ensure_in_registry(src, dst, desc).await?);
            Ok::<_, RegistryError>(())
        })
        .await?;
        Ok(placed.unwrap_or(Placed::Present))
    }

    /// Places the blob in `dst`, uploading it at most once per destination registry.
    async fn ensure_in_registry(
        &self,
        src: &Repository,
        dst: &Repository,
        desc: &Descriptor,
    ) -> Result<Placed, RegistryError> {
        let cell = {
            let mut cells = self.dedup.cells.lock().unwrap_or_else(|e| e.into_inner());
            get_or_default(&mut cells, dst.registry())
                .entry(desc.digest.clone())
                .or_default()
                .clone()
        };
        let mut mine = None;
        let home = cell
            .get_or_try_init(|| async {
                let home = self.home(src, dst, desc);
                mine = Some(if self.another_shard_uploads(src, dst, desc) {
                    self.await_shard(src, &home, desc).await?
                } else {
                    self.place(src, &home, desc).await?
                });
                Ok::<_, RegistryError>(home)
            })
            .await?
            .clone();
        if home == *dst {
            return Ok(mine.unwrap_or(Placed::Present));
        }
        // The mount and the size check of what it placed, under one permit (both are requests).
        let mount = {
            let _permit = self.permits.acquire(&[dst.registry()]).await;
            let mount = self.dest.mount_blob(dst, &desc.digest, &home).await?;
            if matches!(mount, Mount::Mounted) {
                self.check_size(dst, desc).await?;
            }
            mount
        };
        // Bytes this job sent into the home on its way here.
        let sent = match mine {
            Some(Placed::Uploaded(n)) => Some(n),
            _ => None,
        };
        match mount {
            Mount::Mounted => Ok(sent.map_or(Placed::Mounted(home), Placed::Uploaded)),
            Mount::Upload(session) => {
                let _permit = self
                    .permits
                    .acquire(&[src.registry(), dst.registry()])
                    .await;
                let n = self.upload(src, dst, desc, Some(session)).await?;
                Ok(Placed::Uploaded(n + sent.unwrap_or(0)))
            }
        }
    }

    /// Where the blob goes first in `dst`'s registry: the home the planner chose for it when it
    /// is not recorded there and comes from another registry, else `dst`.
    fn home(&self, src: &Repository, dst: &Repository, desc: &Descriptor) -> Repository {
        let registry = dst.registry();
        let recorded = self
            .likely_present
            .get(registry)
            .is_some_and(|b| b.contains_key(&desc.digest));
        if recorded || src.registry() == registry {
            return dst.clone();
        }
        self.homes
            .get(registry)
            .and_then(|h| h.get(&desc.digest))
            .unwrap_or(dst)
            .clone()
    }

    /// Whether a lower-numbered shard uploads this blob into its home (only across registries,
    /// for blobs no earlier run recorded there).
    fn another_shard_uploads(&self, src: &Repository, dst: &Repository, desc: &Descriptor) -> bool {
        let registry = dst.registry();
        src.registry() != registry
            && self
                .foreign
                .get(registry)
                .is_some_and(|f| f.contains_key(&desc.digest))
    }

    /// Waits until the shard that uploads the blob has put it in `home` (a HEAD, then again
    /// after 50 ms, doubling up to every 2 s), then it is `Present` there. A shard that has not
    /// delivered it after [`SHARD_WAIT`] (failed, or not started) is not waited for longer: the
    /// blob is uploaded here, as a build without shards would.
    async fn await_shard(
        &self,
        src: &Repository,
        home: &Repository,
        desc: &Descriptor,
    ) -> Result<Placed, RegistryError> {
        let deadline = std::time::Instant::now() + SHARD_WAIT;
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let size = {
                let _permit = self.permits.acquire(&[home.registry()]).await;
                self.dest.blob_size(home, &desc.digest).await?
            };
            if let Some(n) = size {
                return size_matches(home, desc, n).map(|()| Placed::Present);
            }
            if std::time::Instant::now() >= deadline {
                return self.place(src, home, desc).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(2));
        }
    }

    /// Gets the blob into `dst` unless it is there. Inside one registry: a mount from the source
    /// repository. Across registries, a blob believed present is HEADed first; into a
    /// repository this run created, the upload starts without asking; any other is probed with
    /// a mount from `dst` itself — `201` means it is there, `202` opens the upload session —
    /// one request where HEAD + POST took two on every new blob (a registry that refuses the
    /// probe outright gets the HEAD). Then upload. Holds one permit.
    async fn place(
        &self,
        src: &Repository,
        dst: &Repository,
        desc: &Descriptor,
    ) -> Result<Placed, RegistryError> {
        let _permit = self
            .permits
            .acquire(&[src.registry(), dst.registry()])
            .await;
        let same_registry = src.registry() == dst.registry() && src != dst;
        let known = self
            .likely_present
            .get(dst.registry())
            .and_then(|b| b.get(&desc.digest));
        if known.is_none() && !same_registry && self.is_new(dst) {
            // A repository this run created holds nothing it did not put there: no probe, the
            // upload starts at once (one request, where the registry takes single POSTs).
            let n = self.upload(src, dst, desc, None).await?;
            return Ok(Placed::Uploaded(n));
        }
        let mut session = None;
        if let Some(home) = known.filter(|home| !same_registry && *home != dst) {
            // Held by another repository of this registry (an earlier run recorded it there):
            // mounted from it, not sent again. A 202 means it is gone there: upload.
            match self.dest.mount_blob(dst, &desc.digest, home).await {
                Ok(Mount::Mounted) => {
                    self.check_size(dst, desc).await?;
                    return Ok(Placed::Mounted(home.clone()));
                }
                Ok(Mount::Upload(s)) => session = Some(s),
                Err(e) if e.is_transient() => return Err(e),
                Err(_) => {
                    if let Some(n) = self.dest.blob_size(dst, &desc.digest).await? {
                        return size_matches(dst, desc, n).map(|()| Placed::Present);
                    }
                }
            }
        } else if same_registry || known.is_none() {
            let from = if same_registry { src } else { dst };
            match self.dest.mount_blob(dst, &desc.digest, from).await {
                Ok(Mount::Mounted) => {
                    self.check_size(dst, desc).await?;
                    return Ok(if same_registry {
                        Placed::Mounted(src.clone())
                    } else {
                        Placed::Present
                    });
                }
                Ok(Mount::Upload(s)) => session = Some(s),
                Err(e) if e.is_transient() || same_registry => return Err(e),
                Err(_) => {
                    if let Some(n) = self.dest.blob_size(dst, &desc.digest).await? {
                        return size_matches(dst, desc, n).map(|()| Placed::Present);
                    }
                }
            }
        } else if let Some(n) = self.dest.blob_size(dst, &desc.digest).await? {
            return size_matches(dst, desc, n).map(|()| Placed::Present);
        }
        let n = self.upload(src, dst, desc, session).await?;
        Ok(Placed::Uploaded(n))
    }

    /// Whether `repo` is one its registry did not list when this run first asked.
    fn is_new(&self, repo: &Repository) -> bool {
        self.listed.is_some_and(|r| !r.contains(repo.path()))
    }

    /// A blob placed without sending its bytes (mounted, or found present) must have the size
    /// its descriptor states: a manifest that lies about it would be pushed unpullable. A size
    /// this run already learned in that registry is compared without asking again.
    async fn check_size(&self, dst: &Repository, desc: &Descriptor) -> Result<(), RegistryError> {
        if let Some(n) = self.known_size(dst, &desc.digest) {
            return size_matches(dst, desc, n);
        }
        match self.dest.blob_size(dst, &desc.digest).await? {
            Some(n) => {
                self.note_size(dst, &desc.digest, n);
                size_matches(dst, desc, n)
            }
            None => Err(RegistryError::Protocol {
                registry: dst.registry().to_string(),
                what: format!("blob {} in {dst}", desc.digest),
                message: "the mount succeeded but the blob is not there".to_string(),
            }),
        }
    }

    fn known_size(&self, dst: &Repository, digest: &Digest) -> Option<u64> {
        let sizes = self.dedup.sizes.lock().unwrap_or_else(|e| e.into_inner());
        sizes.get(dst.registry())?.get(digest).copied()
    }

    fn note_size(&self, dst: &Repository, digest: &Digest, n: u64) {
        let mut sizes = self.dedup.sizes.lock().unwrap_or_else(|e| e.into_inner());
        get_or_default(&mut sizes, dst.registry()).insert(digest.clone(), n);
    }

    async fn upload(
        &self,
        src: &Repository,
        dst: &Repository,
        desc: &Descriptor,
        session: Option<crate::registry::UploadSession>,
    ) -> Result<u64, RegistryError> {
        let source_name = src.to_string();
        let target = BlobTarget {
            repo: dst,
            digest: &desc.digest,
            size: desc.size,
            source: &source_name,
        };
        let client = self.source.clone();
        let repo = src.clone();
        let digest = desc.digest.clone();
        let open = move || {
            let client = client.clone();
            let repo = repo.clone();
            let digest = digest.clone();
            async move { client.get_blob(&repo, &digest).await }
                .map(|r: Result<ByteStream, RegistryError>| r)
                .boxed()
        };
        let n = self.dest.upload_blob(&target, session, &open).await?;
        self.note_size(dst, &desc.digest, n);
        Ok(n)
    }
}

/// `Ok` when the blob of `desc` at `dst` has `actual` bytes, as the descriptor says.
fn size_matches(dst: &Repository, desc: &Descriptor, actual: u64) -> Result<(), RegistryError> {
    if actual == desc.size {
        Ok(())
    } else {
        Err(RegistryError::SizeMismatch {
            what: format!("blob {} in {dst}", desc.digest),
            descriptor: desc.size,
            actual,
        })
    }
}
