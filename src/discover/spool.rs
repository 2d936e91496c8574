//! Blobs and image layers spooled to anonymous temporary files (deleted when dropped), each
//! verified against its digest while it is written, so memory stays flat whatever the layer
//! size. Shared by the catalog reader, the release payload reader and `airlift extract`.

use std::io::{Seek, SeekFrom, Write};

use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};

use crate::oci::{Digest, ImageRef, Repository};
use crate::registry::{Manifest, RegistryClient, RegistryError};

/// Why spooling failed.
#[derive(Debug)]
pub enum SpoolError {
    /// The registry failed or refused.
    Registry(RegistryError),
    /// A blob arrived with bytes of another digest.
    Mismatch(String),
    /// Anything else: a manifest of the wrong shape, a missing platform, local I/O.
    Shape(String),
}

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpoolError::Registry(e) => write!(f, "{e}"),
            SpoolError::Mismatch(s) | SpoolError::Shape(s) => f.write_str(s),
        }
    }
}

/// One blob of `repo`, spooled and verified.
pub async fn spool_blob(
    client: &RegistryClient,
    repo: &Repository,
    digest: &Digest,
) -> Result<std::fs::File, SpoolError> {
    let io = |e: std::io::Error| SpoolError::Shape(format!("cannot spool blob {digest}: {e}"));
    let mut file = tempfile::tempfile().map_err(io)?;
    let mut stream = client
        .get_blob(repo, digest)
        .await
        .map_err(SpoolError::Registry)?;
    let mut hash = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(SpoolError::Registry)?;
        hash.update(&chunk);
        file.write_all(&chunk).map_err(io)?;
    }
    if &Digest::from_sha256(hash.finalize().into()) != digest {
        return Err(SpoolError::Mismatch(format!(
            "blob {digest} does not match its digest: the registry returned other bytes"
        )));
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(file)
}

/// The layers of `image` in manifest order, spooled: of the image itself, or of the index's
/// child for `arch` (`multi` reads the amd64 child). With `any_child`, an index without that
/// architecture gives its first child (a release payload: every child names the same
/// components); without, it is an error listing what the index has.
pub async fn image_layers(
    client: &RegistryClient,
    image: &ImageRef,
    arch: &str,
    any_child: bool,
) -> Result<Vec<std::fs::File>, SpoolError> {
    let registry = image.registry().to_string();
    let top = client
        .get_manifest(image)
        .await
        .map_err(SpoolError::Registry)?;
    let manifest: Manifest = if top.is_index() {
        let doc = top.doc(&registry).map_err(SpoolError::Registry)?;
        let want = if arch == "multi" { "amd64" } else { arch };
        let found = doc
            .manifests
            .iter()
            .find(|m| m.platform.as_ref().is_some_and(|p| p.architecture == want))
            .or_else(|| doc.manifests.first().filter(|_| any_child));
        let Some(child) = found else {
            let have: Vec<String> = doc
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref().map(|p| p.architecture.clone()))
                .collect();
            return Err(SpoolError::Shape(format!(
                "{image} has no linux/{want} image (it has: {})",
                have.join(", ")
            )));
        };
        client
            .get_manifest(&image.repository().with_digest(child.digest.clone()))
            .await
            .map_err(SpoolError::Registry)?
    } else {
        top
    };
    let doc = manifest.doc(&registry).map_err(SpoolError::Registry)?;
    let mut files = Vec::with_capacity(doc.layers.len());
    for layer in &doc.layers {
        files.push(spool_blob(client, image.repository(), &layer.digest).await?);
    }
    Ok(files)
}
