//! The prune-catalog task: rebuild a discovered operator catalog with its filtered FBC for every
//! platform and push it to the destination.
//!
//! Per platform: the original layers are streamed from the source catalog (skipped when the
//! destination repository holds them), the two rebuilt layers and the new config are uploaded
//! from memory, and the new platform manifest is pushed by digest; then the index (or the single
//! manifest) is pushed under the destination tag. The rebuilt bytes are a pure function of the
//! discovered catalog, so the same filter on the same catalog gives the same digest anywhere.
//! Touches only the two registries it is given; never the journal or the terminal.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream;

use crate::catalog::{
    RebuildError, Replacement, rebuild_layers, update_config, update_index, update_manifest,
};
use crate::oci::{Digest, Repository};
use crate::plan::PruneSpec;
use crate::registry::{BlobTarget, ByteStream, RegistryClient, RegistryError};

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

/// Rebuilds `spec`'s catalog and pushes it to `spec.dest`, reading original layers from
/// `source`.
pub async fn prune_catalog(
    spec: &PruneSpec,
    source: &RegistryClient,
    dest: &RegistryClient,
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
    let layers =
        rebuild_layers(&input.filtered.catalog, &f.rebuild).map_err(|e| PruneError::Layers {
            set: set.clone(),
            reason: e.to_string(),
        })?;
    let src_repo = spec.from.repository();
    let dst_repo = spec.dest.repository();
    let mut sent = 0;
    for l in &layers {
        sent += upload_bytes(dest, dst_repo, &l.compressed)
            .await
            .map_err(registry)?;
    }
    let mut replaced = BTreeMap::new();
    let mut single = None;
    for p in &f.platforms {
        for l in &p.layers {
            sent += copy_blob(source, src_repo, dest, dst_repo, &l.digest, l.size)
                .await
                .map_err(registry)?;
        }
        let config = update_config(&p.config, &layers, &f.rebuild).map_err(rebuild)?;
        sent += upload_bytes(dest, dst_repo, &config)
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
            Bytes::from(update_index(&f.top.bytes, &replaced).map_err(rebuild)?),
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

/// Uploads an in-memory blob unless the repository holds it; returns the bytes sent.
async fn upload_bytes(
    client: &RegistryClient,
    repo: &Repository,
    bytes: &[u8],
) -> Result<u64, RegistryError> {
    let digest = Digest::of(bytes);
    if client.blob_exists(repo, &digest).await? {
        return Ok(0);
    }
    let data = Bytes::copy_from_slice(bytes);
    let open = move || -> BoxFuture<'static, Result<ByteStream, RegistryError>> {
        let data = data.clone();
        Box::pin(async move { Ok(stream::once(async move { Ok(data) }).boxed()) })
    };
    let target = BlobTarget {
        repo,
        digest: &digest,
        size: bytes.len() as u64,
        source: "rebuilt catalog",
    };
    client.upload_blob(&target, None, &open).await
}

/// Streams a blob from the source catalog repository unless the destination holds it.
async fn copy_blob(
    source: &RegistryClient,
    from: &Repository,
    dest: &RegistryClient,
    repo: &Repository,
    digest: &Digest,
    size: u64,
) -> Result<u64, RegistryError> {
    if dest.blob_exists(repo, digest).await? {
        return Ok(0);
    }
    let (client, at, d) = (source.clone(), from.clone(), digest.clone());
    let open = move || -> BoxFuture<'static, Result<ByteStream, RegistryError>> {
        let (client, at, d) = (client.clone(), at.clone(), d.clone());
        Box::pin(async move { client.get_blob(&at, &d).await })
    };
    let name = from.to_string();
    let target = BlobTarget {
        repo,
        digest,
        size,
        source: &name,
    };
    dest.upload_blob(&target, None, &open).await
}
