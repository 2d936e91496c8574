//! One storage abstraction for images: a registry (through [`RegistryClient`]), an OCI
//! image layout directory ([`LayoutStore`]), or the verified archives of a `file://` target
//! (read by digest). Copies read manifests and blobs from an
//! [`ImageStore`] whatever it is; `oci://DIR` targets write into a [`LayoutStore`]. The
//! registry-to-registry copy engine keeps its own registry paths for what only registries do
//! (cross-repository mounts, referrers, tag lists).

mod layout;

pub use layout::{
    LayoutEntry, LayoutError, LayoutStore, REF_NAME, SOURCE_ANNOTATION, index_bytes, read_names,
};

use std::sync::Arc;

use crate::oci::{Digest, ImageRef, Repository};
use crate::registry::{ByteStream, Manifest, RegistryClient, RegistryError};

/// Where images are read from.
#[derive(Clone, Debug)]
pub enum ImageStore {
    Registry(RegistryClient),
    Layout(Arc<LayoutStore>),
    /// The verified archives of a `file://` target's directory (read by digest only).
    Archive(Arc<crate::archive::ArchiveSet>),
}

impl ImageStore {
    /// The manifest `image` names: by digest when pinned, else by tag (a layout names its
    /// images `<path>:<tag>`).
    pub async fn get_manifest(&self, image: &ImageRef) -> Result<Manifest, RegistryError> {
        match self {
            ImageStore::Registry(c) => c.get_manifest(image).await,
            ImageStore::Layout(l) => {
                let not_found = || RegistryError::NotFound {
                    registry: l.dir().display().to_string(),
                    what: format!("manifest {image}"),
                };
                let digest = match image.digest() {
                    Some(d) => d.clone(),
                    None => {
                        let name = format!(
                            "{}:{}",
                            image.repository().path(),
                            image.tag().unwrap_or("latest")
                        );
                        l.resolve(&name).ok_or_else(not_found)?.digest
                    }
                };
                let bytes = l.read_blob(&digest).map_err(|_| not_found())?;
                Manifest::from_stored(bytes, &digest).ok_or_else(|| RegistryError::LocalFile {
                    path: l.dir().display().to_string(),
                    message: format!("blob {digest} is not a manifest"),
                })
            }
            ImageStore::Archive(a) => {
                let where_ = a.dir().display().to_string();
                let digest = image.digest().ok_or_else(|| RegistryError::LocalFile {
                    path: where_.clone(),
                    message: format!(
                        "{image} is not pinned by digest (archives are read by digest)"
                    ),
                })?;
                let bytes = a
                    .bytes(digest)
                    .await
                    .ok_or_else(|| RegistryError::NotFound {
                        registry: where_.clone(),
                        what: format!("manifest {image}"),
                    })?;
                Manifest::from_stored(bytes, digest).ok_or_else(|| RegistryError::LocalFile {
                    path: where_,
                    message: format!("blob {digest} is not a manifest"),
                })
            }
        }
    }

    /// The blob `digest` of `repo` as a stream (not verified here: writers check what they
    /// get).
    pub async fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<ByteStream, RegistryError> {
        match self {
            ImageStore::Registry(c) => c.get_blob(repo, digest).await,
            ImageStore::Layout(l) => l.get_blob(digest).await,
            ImageStore::Archive(a) => {
                a.blob_stream(digest)
                    .ok_or_else(|| RegistryError::NotFound {
                        registry: a.dir().display().to_string(),
                        what: format!("blob {digest}"),
                    })
            }
        }
    }

    /// Where the store is, for messages.
    pub fn describe(&self, repo: &Repository) -> String {
        match self {
            ImageStore::Registry(_) => repo.to_string(),
            ImageStore::Layout(l) => format!("oci:{}", l.dir().display()),
            ImageStore::Archive(a) => format!("archive {}", a.dir().display()),
        }
    }
}
