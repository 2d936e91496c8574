//! The prune-catalog task: rebuild a discovered operator catalog with its filtered FBC for every
//! platform and push it to the destination.
//!
//! Per platform: the original layers are streamed from the source catalog: its registry, its
//! OCI layout directory, or the archives it was read from on a disconnected side (skipped when the
//! destination repository holds them, mounted when this run already placed them in another
//! repository of the destination registry), the two rebuilt layers and the new config are uploaded
//! from memory, and the new platform manifest is pushed by digest; then the index (or the single
//! manifest) is pushed under the destination tag. The rebuilt bytes are a pure function of the
//! discovered catalog, so the same filter on the same catalog gives the same digest anywhere.
//! Touches only the two registries it is given (and reads the layout directory of a catalog
//! read from one); never the journal or the terminal.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream;

use crate::catalog::{
    RebuildError, Replacement, rebuild_layers, update_config, update_index, update_manifest,
};

use crate::oci::{Digest, Repository};
use crate::plan::PruneSpec;
use crate::registry::{
    BlobTarget, ByteStream, Mount, RegistryClient, RegistryError, UploadSession,
};
use crate::store::{ImageStore, LayoutStore};

/// What a prune task did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// Digest of what the destination tag now points at.
    pub digest: Digest,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// Rebuilding or pushing a catalog failed.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("cannot rebuild catalog `{set}`: {source}")]
    Rebuild {
        set: String,
        #[source]
        source: RebuildError,
    },
    #[error("cannot rebuild catalog `{set}`: {reason}")]
    Layers { set: String, reason: String },
    #[error("catalog `{set}`: {source}")]
    Registry {
        set: String,
        #[source]
        source: RegistryError,
    },
}

/// Blobs this run already placed at a destination registry: `(registry, digest)` → repository.
/// Another repository of that registry gets a cross-repository mount instead of an upload.
/// Shared by prune tasks running at once; the lock is never held across an await.
#[derive(Debug, Default)]
pub struct PlacedBlobs(Mutex<BTreeMap<(String, Digest), Repository>>);

impl PlacedBlobs {
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, key: &(String, Digest)) -> Option<Repository> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn insert(&self, key: (String, Digest), repo: &Repository) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| repo.clone());
    }
}

/// Rebuilds `spec`'s catalog and pushes it to `spec.dest`, reading original layers from
/// `source`. `placed` is shared by the prune tasks of one run. The rebuilt layers are computed
/// on a blocking thread, so several catalogs rebuild in parallel.
pub async fn prune_catalog(
    spec: &PruneSpec,
    source: &RegistryClient,
    dest: &RegistryClient,
    placed: &PlacedBlobs,
) -> Result<Pruned, PruneError> {
    let input = &spec.input.0;
    let f = &input.fetched;
    let set = &spec.set;
    let rebuild = |source| PruneError::Rebuild {
        set: set.clone(),
        source,
    };
    let registry = |source| PruneError::Registry {
        set: set.clone(),
        source,
    };
    let job = input.clone();
    let layers = tokio::task::spawn_blocking(move || {
        rebuild_layers(&job.filtered.catalog, &job.fetched.rebuild).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the rebuild stopped: {e}"))
    .and_then(|r| r)
    .map_err(|reason| PruneError::Layers {
        set: set.clone(),
        reason,
    })?;
    let src_repo = spec.from.repository();
    let dst_repo = spec.dest.repository();
    let mut sent = 0;
    for l in &layers {
        sent += upload_bytes(dest, dst_repo, &l.compressed, placed)
            .await
            .map_err(registry)?;
    }
    let mut replaced = BTreeMap::new();
    let mut single = None;
    let from = match (&f.layout, &f.archive) {
        (_, Some(dir)) => (
            ImageStore::Archive(crate::archive::ArchiveSet::shared(dir).await.map_err(|e| {
                PruneError::Layers {
                    set: set.clone(),
                    reason: e.to_string(),
                }
            })?),
            src_repo.clone(),
        ),
        (Some(dir), None) => (
            ImageStore::Layout(LayoutStore::shared(dir).map_err(|e| PruneError::Layers {
                set: set.clone(),
                reason: e.to_string(),
            })?),
            src_repo.clone(),
        ),
        (None, None) => (ImageStore::Registry(source.clone()), src_repo.clone()),
    };
    for p in &f.platforms {
        for l in &p.layers {
            let at = Placement {
                client: dest,
                repo: dst_repo,
                digest: &l.digest,
                size: l.size,
            };
            sent += copy_blob(&from, &at, placed).await.map_err(registry)?;
        }
        let config = update_config(&p.config, &layers, &f.rebuild).map_err(rebuild)?;
        sent += upload_bytes(dest, dst_repo, &config, placed)
            .await
            .map_err(registry)?;
        let manifest =
            Bytes::from(update_manifest(&p.manifest.bytes, &config, &layers).map_err(rebuild)?);
        let digest = Digest::of(&manifest);
        if f.is_index() {
            dest.put_manifest(
                dst_repo,
                &digest.to_string(),
                &p.manifest.media_type,
                &manifest,
            )
            .await
            .map_err(registry)?;
            replaced.insert(
                p.manifest.digest.clone(),
                Replacement {
                    digest,
                    size: manifest.len() as u64,
                },
            );
        } else {
            single = Some((manifest, p.manifest.media_type.clone()));
        }
    }
    let (top, media_type) = match single {
        Some(s) => s,
        None => (
            Bytes::from(update_index(&f.top.bytes, &replaced, &f.dropped).map_err(rebuild)?),
            f.top.media_type.clone(),
        ),
    };
    let tag = spec.dest.tag().unwrap_or("latest");
    let digest = dest
        .put_manifest(dst_repo, tag, &media_type, &top)
        .await
        .map_err(registry)?;
    Ok(Pruned {
        digest,
        bytes: sent,
    })
}

/// Where a blob must end up.
pub(crate) struct Placement<'a> {
    pub client: &'a RegistryClient,
    pub repo: &'a Repository,
    pub digest: &'a Digest,
    pub size: u64,
}

/// Makes sure the blob is in the repository without sending bytes when possible: already there,
/// or mounted from a repository of the same registry this run placed it in. `Ok(None)` means it
/// is in place; `Ok(Some(session))` that bytes must be sent (into that mount session if any).
async fn without_bytes(
    at: &Placement<'_>,
    placed: &PlacedBlobs,
) -> Result<Option<Option<UploadSession>>, RegistryError> {
    if at.client.blob_exists(at.repo, at.digest).await? {
        return Ok(None);
    }
    let key = (at.repo.registry().to_string(), at.digest.clone());
    match placed.get(&key) {
        Some(from) if &from != at.repo => {
            match at.client.mount_blob(at.repo, at.digest, &from).await {
                Ok(Mount::Mounted) => Ok(None),
                Ok(Mount::Upload(session)) => Ok(Some(Some(session))),
                Err(_) => Ok(Some(None)),
            }
        }
        _ => Ok(Some(None)),
    }
}

fn remember(at: &Placement<'_>, placed: &PlacedBlobs) {
    placed.insert((at.repo.registry().to_string(), at.digest.clone()), at.repo);
}

/// Uploads an in-memory blob unless the repository holds it (or can mount it); returns the
/// bytes sent.
async fn upload_bytes(
    client: &RegistryClient,
    repo: &Repository,
    bytes: &[u8],
    placed: &PlacedBlobs,
) -> Result<u64, RegistryError> {
    let digest = Digest::of(bytes);
    let at = Placement {
        client,
        repo,
        digest: &digest,
        size: bytes.len() as u64,
    };
    let Some(session) = without_bytes(&at, placed).await? else {
        remember(&at, placed);
        return Ok(0);
    };
    let data = Bytes::copy_from_slice(bytes);
    let open = move || -> BoxFuture<'static, Result<ByteStream, RegistryError>> {
        let data = data.clone();
        Box::pin(async move { Ok(stream::once(async move { Ok(data) }).boxed()) })
    };
    let target = BlobTarget {
        repo,
        digest: &digest,
        size: at.size,
        source: "rebuilt catalog",
    };
    let sent = client.upload_blob(&target, session, &open).await?;
    remember(&at, placed);
    Ok(sent)
}

/// Streams a blob from the source catalog (its repository or its OCI layout) unless the
/// destination holds it (or can mount it). The destination checks the digest of what it gets.
pub(crate) async fn copy_blob(
    from: &(ImageStore, Repository),
    at: &Placement<'_>,
    placed: &PlacedBlobs,
) -> Result<u64, RegistryError> {
    let Some(session) = without_bytes(at, placed).await? else {
        remember(at, placed);
        return Ok(0);
    };
    let (store, repo) = (from.0.clone(), from.1.clone());
    let name = store.describe(&repo);
    let digest = at.digest.clone();
    let open = move || -> BoxFuture<'static, Result<ByteStream, RegistryError>> {
        let (store, repo, d) = (store.clone(), repo.clone(), digest.clone());
        Box::pin(async move { store.get_blob(&repo, &d).await })
    };
    let target = BlobTarget {
        repo: at.repo,
        digest: at.digest,
        size: at.size,
        source: &name,
    };
    let sent = at.client.upload_blob(&target, session, &open).await?;
    remember(at, placed);
    Ok(sent)
}
