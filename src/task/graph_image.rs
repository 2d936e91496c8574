//! The `build-graph-image` step: push a graph-data image built in memory (config, one layer,
//! manifest from `release::image_from_scratch`) to its destination. Writes only to that
//! destination repository; builds nothing itself.

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};

use crate::oci::{Digest, ImageRef};
use crate::registry::{BlobTarget, ByteStream, RegistryClient, RegistryError};
use crate::release::{BuiltImage, GraphDataLayer};

/// Pushes `image` (whose only layer is `layer`) to `dest` (a tag); returns the manifest digest.
/// Blobs the destination already holds are not sent again.
pub async fn push_graph_image(
    client: &RegistryClient,
    dest: &ImageRef,
    image: &BuiltImage,
    layer: &GraphDataLayer,
) -> Result<Digest, RegistryError> {
    let repo = dest.repository();
    let blobs = [
        (image.config_digest.clone(), image.config.clone()),
        (layer.digest.clone(), layer.blob.clone()),
    ];
    for (digest, data) in blobs {
        if client.blob_exists(repo, &digest).await? {
            continue;
        }
        let bytes = Bytes::from(data);
        let size = bytes.len() as u64;
        let open = move || {
            let b = bytes.clone();
            async move {
                let s: ByteStream = stream::once(async move { Ok(b) }).boxed();
                Ok::<ByteStream, RegistryError>(s)
            }
            .boxed()
        };
        let target = BlobTarget {
            repo,
            digest: &digest,
            size,
            source: "graph-data image built by airlift",
        };
        client.upload_blob(&target, None, &open).await?;
    }
    let tag = dest.tag().unwrap_or("latest");
    client
        .put_manifest(
            repo,
            tag,
            image.media_type.as_str(),
            &Bytes::from(image.manifest.clone()),
        )
        .await
}
