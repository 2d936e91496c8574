//! A chart as an OCI artifact, in the format `helm push` writes and `helm pull`/`helm install
//! oci://…` read: an image manifest whose config (media type
//! `application/vnd.cncf.helm.config.v1+json`) is the chart's metadata as JSON and whose one
//! layer (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`) is the chart archive, byte for
//! byte. The manifest carries the `org.opencontainers.image.title`/`version`/`description`
//! annotations; `created` only with `SOURCE_DATE_EPOCH`, so the same chart gives the same digest.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::chart::Chart;
use crate::oci::{Digest, ImageRef};
use crate::registry::{RegistryClient, RegistryError};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A chart artifact built in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartArtifact {
    pub config: Vec<u8>,
    /// The chart archive.
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
    pub digest: Digest,
}

/// The artifact of `chart` whose archive is `archive`; `created` is an RFC 3339 time (from
/// `SOURCE_DATE_EPOCH`) or none.
pub fn build(chart: &Chart, archive: Vec<u8>, created: Option<&str>) -> ChartArtifact {
    let config = serde_json::to_vec(&chart.meta).unwrap_or_else(|_| b"{}".to_vec());
    let mut annotations = BTreeMap::new();
    annotations.insert("org.opencontainers.image.title", chart.name.clone());
    annotations.insert("org.opencontainers.image.version", chart.version.clone());
    if let Some(Value::String(d)) = chart.meta.get("description") {
        annotations.insert("org.opencontainers.image.description", d.clone());
    }
    if let Some(c) = created {
        annotations.insert("org.opencontainers.image.created", c.to_string());
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": Digest::of(&config).to_string(),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": CONTENT_MEDIA_TYPE,
            "digest": Digest::of(&archive).to_string(),
            "size": archive.len(),
        }],
        "annotations": annotations,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    ChartArtifact {
        digest: Digest::of(&manifest),
        config,
        layer: archive,
        manifest,
    }
}

/// The tag of chart version `version` (OCI tags cannot hold `+`; Helm writes `_`).
pub fn tag_of(version: &str) -> String {
    version.replace('+', "_")
}

/// Pushes `artifact` to `dest` (a tag): each blob unless present, then the manifest. Returns
/// the manifest digest.
pub async fn push(
    client: &RegistryClient,
    dest: &ImageRef,
    artifact: &ChartArtifact,
) -> Result<Digest, RegistryError> {
    let repo = dest.repository();
    for data in [&artifact.config, &artifact.layer] {
        client
            .push_bytes(repo, data, "Helm chart packed by airlift")
            .await?;
    }
    let tag = dest.tag().unwrap_or("latest");
    client
        .put_manifest(
            repo,
            tag,
            MANIFEST_MEDIA_TYPE,
            &Bytes::from(artifact.manifest.clone()),
        )
        .await
}

/// The chart archive inside an artifact manifest: the digest of its content layer.
pub fn content_layer(manifest: &[u8]) -> Option<(Digest, u64)> {
    let doc: Value = serde_json::from_slice(manifest).ok()?;
    let config = doc.get("config")?.get("mediaType")?.as_str()?;
    if config != CONFIG_MEDIA_TYPE {
        return None;
    }
    doc.get("layers")?.as_array()?.iter().find_map(|l| {
        (l.get("mediaType")?.as_str()? == CONTENT_MEDIA_TYPE).then_some(())?;
        let digest = l.get("digest")?.as_str()?.parse().ok()?;
        Some((digest, l.get("size")?.as_u64()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_names_the_chart_and_is_reproducible() {
        let chart = Chart {
            meta: json!({"apiVersion": "v2", "name": "app", "version": "1.0.0+b1", "description": "An app"}),
            name: "app".into(),
            version: "1.0.0+b1".into(),
            app_version: None,
            values: json!({}),
            templates: Default::default(),
            files: Default::default(),
            subcharts: Vec::new(),
        };
        let a = build(&chart, b"archive".to_vec(), None);
        assert_eq!(a, build(&chart, b"archive".to_vec(), None));
        let (layer, size) = content_layer(&a.manifest).unwrap();
        assert_eq!((layer, size), (Digest::of(b"archive"), 7));
        let doc: Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(
            doc["annotations"]["org.opencontainers.image.version"],
            "1.0.0+b1"
        );
        assert_eq!(doc["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(tag_of("1.0.0+b1"), "1.0.0_b1");
        let dated = build(&chart, b"archive".to_vec(), Some("2024-01-01T00:00:00Z"));
        assert_ne!(dated.digest, a.digest);
    }
}
