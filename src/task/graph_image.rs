//! The `build-graph-image` step's registry side: read the graph image's base (manifest, config
//! blob, layer descriptors) from the source side (or, disconnected, from the archives), and push a graph-data image built in memory by
//! `release::image_on_base` / `release::image_from_scratch`: the base's layers copied blob by
//! blob from the base's repository (HEAD first, present blobs skipped, streamed through the copy
//! engine's [`BlobCopier`]), then the config, the graph-data layer and the manifest. Writes only
//! to the destination repository; builds no image bytes itself.

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream::StreamExt;

use super::blobs::{BlobCopier, BlobDedup};
use crate::exec::{Limits, Permits};
use crate::oci::{Digest, ImageRef, MediaType};
use crate::registry::{BlobTarget, RegistryClient, RegistryError};
use crate::release::{BuiltImage, Descriptor, GraphDataLayer};
use crate::store::ImageStore;

/// Largest base config blob read into memory.
const MAX_CONFIG: usize = 4 * 1024 * 1024;

/// The base of a graph-data image as read from the source side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphBaseImage {
    /// The single-platform manifest the image builds on, by digest.
    pub image: ImageRef,
    /// The base's config blob, exactly as stored.
    pub config: Vec<u8>,
    /// The base manifest's layers, in order.
    pub layers: Vec<Descriptor>,
}

/// Why the base image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GraphBaseError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("`{image}` is an index without a linux/{arch} image")]
    NoPlatform { image: ImageRef, arch: String },
    #[error("`{image}` is not a container image manifest (media type `{media_type}`)")]
    NotAnImage { image: ImageRef, media_type: String },
    #[error("the config blob of `{image}` is {problem}")]
    BadConfig { image: ImageRef, problem: String },
}

/// Reads `image` from `client`: an index resolves to its linux/`arch` child. The config blob is
/// verified against its digest.
pub async fn read_graph_base(
    client: &ImageStore,
    image: &ImageRef,
    arch: &str,
) -> Result<GraphBaseImage, GraphBaseError> {
    let registry = image.registry();
    let mut manifest = client.get_manifest(image).await?;
    let mut at = image.pinned(manifest.digest.clone());
    if manifest.is_index() {
        let doc = manifest.doc(registry)?;
        let child = doc
            .manifests
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == arch)
            })
            .ok_or_else(|| GraphBaseError::NoPlatform {
                image: image.clone(),
                arch: arch.to_string(),
            })?;
        at = image.pinned(child.digest.clone());
        manifest = client.get_manifest(&at).await?;
    }
    let is_image = MediaType::parse(&manifest.media_type)
        .is_some_and(|m| matches!(m, MediaType::OciManifest | MediaType::DockerManifest));
    if !is_image {
        return Err(GraphBaseError::NotAnImage {
            image: at,
            media_type: manifest.media_type,
        });
    }
    let doc = manifest.doc(registry)?;
    let bad = |problem: String| GraphBaseError::BadConfig {
        image: at.clone(),
        problem,
    };
    let config_desc = doc.config.ok_or_else(|| bad("missing".to_string()))?;
    let mut body = client
        .get_blob(at.repository(), &config_desc.digest)
        .await?;
    let mut config = Vec::new();
    while let Some(chunk) = body.next().await {
        config.extend_from_slice(&chunk?);
        if config.len() > MAX_CONFIG {
            return Err(bad(format!("larger than {MAX_CONFIG} bytes")));
        }
    }
    if Digest::of(&config) != config_desc.digest {
        return Err(bad(format!(
            "not what its digest {} says (the registry sent other bytes)",
            config_desc.digest
        )));
    }
    let layers = doc
        .layers
        .into_iter()
        .map(|d| Descriptor {
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
        })
        .collect();
    Ok(GraphBaseImage {
        image: at,
        config,
        layers,
    })
}

/// Where the base's layers come from: the source side (or the archives of a disconnected
/// side) and the base read from it.
pub struct BaseSource<'a> {
    pub client: &'a ImageStore,
    pub base: &'a GraphBaseImage,
}

/// Pushes `image` to `dest` (a tag) with `dest_client`; returns the manifest digest. With
/// `base`, the base's layers are copied first (one at a time, streamed, skipped when present);
/// then the config and the graph-data `layer` are uploaded unless present, then the manifest.
pub async fn push_graph_image(
    dest_client: &RegistryClient,
    dest: &ImageRef,
    image: &BuiltImage,
    layer: &GraphDataLayer,
    base: Option<BaseSource<'_>>,
) -> Result<Digest, RegistryError> {
    let repo = dest.repository();
    if let Some(b) = base {
        copy_base_layers(dest_client, repo, b).await?;
    }
    for data in [&image.config, &layer.blob] {
        dest_client
            .push_bytes(repo, data, "graph-data image built by airlift")
            .await?;
    }
    let tag = dest.tag().unwrap_or("latest");
    dest_client
        .put_manifest(
            repo,
            tag,
            image.media_type.as_str(),
            &Bytes::from(image.manifest.clone()),
        )
        .await
}

/// Copies the base's layers to `repo`: through the copy engine from a registry (mounts, HEAD
/// first), or streamed from another store unless present.
async fn copy_base_layers(
    dest_client: &RegistryClient,
    repo: &crate::oci::Repository,
    b: BaseSource<'_>,
) -> Result<(), RegistryError> {
    let ImageStore::Registry(source) = b.client else {
        for d in &b.base.layers {
            if dest_client.blob_exists(repo, &d.digest).await? {
                continue;
            }
            let (store, from, digest) = (
                b.client.clone(),
                b.base.image.repository().clone(),
                d.digest.clone(),
            );
            let open = move || {
                let (store, from, digest) = (store.clone(), from.clone(), digest.clone());
                async move { store.get_blob(&from, &digest).await }.boxed()
            };
            let described = b.client.describe(b.base.image.repository());
            let target = BlobTarget {
                repo,
                digest: &d.digest,
                size: d.size,
                source: &described,
            };
            dest_client.upload_blob(&target, None, &open).await?;
        }
        return Ok(());
    };
    let permits = Permits::new(Limits {
        jobs: 1,
        per_registry: 1,
        ..Limits::default()
    });
    let dedup = BlobDedup::default();
    let copier = BlobCopier {
        source,
        dest: dest_client,
        likely_present: &Default::default(),
        homes: &Default::default(),
        foreign: &Default::default(),
        permits: &permits,
        dedup: &dedup,
        listed: None,
    };
    for d in &b.base.layers {
        let desc = crate::registry::Descriptor {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
            platform: None,
            artifact_type: None,
        };
        copier
            .ensure(b.base.image.repository(), repo, &desc)
            .await?;
    }
    Ok(())
}
