//! Adding rebuilt catalog layers to an image: pure rewrites of the image config, the
//! platform manifest and the index that lists the platform manifests.
//!
//! Bytes in, bytes out; the digests of the results are what the executor pushes and tags.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rebuild::{LayerBlob, RebuildOptions};
use crate::oci::Digest;

/// The image label naming the configs directory.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
/// OCI gzip layer media type.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker schema 2 gzip layer media type.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Rewriting an image config, manifest or index failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RebuildError {
    #[error("the catalog image's {what} is not valid JSON: {reason}")]
    #[diagnostic(
        code(airlift::catalog::image_json),
        help("the catalog image is corrupt or not an image; check it with `skopeo inspect --raw`")
    )]
    Json { what: &'static str, reason: String },
    #[error("the catalog image's {what} has no `{field}` object")]
    #[diagnostic(
        code(airlift::catalog::image_shape),
        help(
            "only OCI and Docker schema 2 images and indexes can be rebuilt; check the image with `skopeo inspect --raw`"
        )
    )]
    Shape {
        what: &'static str,
        field: &'static str,
    },
}

fn parse_json(bytes: &[u8], what: &'static str) -> Result<Value, RebuildError> {
    serde_json::from_slice(bytes).map_err(|e| RebuildError::Json {
        what,
        reason: e.to_string(),
    })
}

fn object<'a>(
    value: &'a mut Value,
    key: &'static str,
    what: &'static str,
) -> Result<&'a mut serde_json::Map<String, Value>, RebuildError> {
    let Value::Object(map) = value else {
        return Err(RebuildError::Shape { what, field: key });
    };
    let slot = map.entry(key).or_insert_with(|| json!({}));
    if slot.is_null() {
        *slot = json!({});
    }
    slot.as_object_mut()
        .ok_or(RebuildError::Shape { what, field: key })
}

fn push(map: &mut serde_json::Map<String, Value>, key: &str, item: Value) {
    match map.get_mut(key) {
        Some(Value::Array(items)) => items.push(item),
        _ => {
            map.insert(key.to_string(), Value::Array(vec![item]));
        }
    }
}

/// The image config with the layers appended (diff_ids and history without timestamps), the
/// configs label set, and `opm serve` as entrypoint/cmd with a cache built at startup.
pub fn update_config(
    config: &[u8],
    layers: &[LayerBlob],
    options: &RebuildOptions,
) -> Result<Vec<u8>, RebuildError> {
    const WHAT: &str = "config";
    let mut value = parse_json(config, WHAT)?;
    let rootfs = object(&mut value, "rootfs", WHAT)?;
    rootfs.entry("type").or_insert_with(|| json!("layers"));
    for layer in layers {
        push(rootfs, "diff_ids", json!(layer.diff_id.to_string()));
    }
    let Value::Object(top) = &mut value else {
        return Err(RebuildError::Shape {
            what: WHAT,
            field: "rootfs",
        });
    };
    for layer in layers {
        push(top, "history", json!({ "created_by": layer.created_by }));
    }
    let image_config = object(&mut value, "config", WHAT)?;
    let labels = image_config.entry("Labels").or_insert_with(|| json!({}));
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(CONFIGS_LABEL.to_string(), json!(options.configs_dir));
    }
    image_config.insert("Entrypoint".into(), json!(["/bin/opm"]));
    image_config.insert(
        "Cmd".into(),
        json!([
            "serve",
            options.configs_dir,
            format!("--cache-dir={}", options.cache_dir),
            "--cache-enforce-integrity=false"
        ]),
    );
    serde_json::to_vec(&value).map_err(|e| RebuildError::Json {
        what: WHAT,
        reason: e.to_string(),
    })
}

/// A rebuilt platform manifest: its new digest and size, replacing the old digest in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub digest: Digest,
    pub size: u64,
}

/// The index (OCI image index or Docker manifest list) with each platform manifest whose
/// digest is a key of `rebuilt` pointing at its replacement; every other field is kept.
pub fn update_index(
    index: &[u8],
    rebuilt: &BTreeMap<Digest, Replacement>,
    dropped: &[Digest],
) -> Result<Vec<u8>, RebuildError> {
    const WHAT: &str = "index";
    let mut value = parse_json(index, WHAT)?;
    let manifests = value
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or(RebuildError::Shape {
            what: WHAT,
            field: "manifests",
        })?;
    let digest_of = |d: &Value| {
        d.get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Digest>().ok())
    };
    manifests.retain(|d| digest_of(d).is_none_or(|d| !dropped.contains(&d)));
    for descriptor in manifests {
        let old = descriptor
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Digest>().ok());
        if let Some(new) = old.and_then(|d| rebuilt.get(&d)) {
            descriptor["digest"] = json!(new.digest.to_string());
            descriptor["size"] = json!(new.size);
        }
    }
    serde_json::to_vec(&value).map_err(|e| RebuildError::Json {
        what: WHAT,
        reason: e.to_string(),
    })
}

/// The manifest pointing at the new config and with the layers appended; layer media types
/// follow the manifest's kind (Docker schema 2 or OCI).
pub fn update_manifest(
    manifest: &[u8],
    config: &[u8],
    layers: &[LayerBlob],
) -> Result<Vec<u8>, RebuildError> {
    const WHAT: &str = "manifest";
    let mut value = parse_json(manifest, WHAT)?;
    let docker = value.get("mediaType").and_then(Value::as_str)
        == Some(crate::oci::MediaType::DockerManifest.as_str());
    let layer_type = if docker {
        DOCKER_LAYER_GZIP
    } else {
        OCI_LAYER_GZIP
    };
    let descriptor = object(&mut value, "config", WHAT)?;
    descriptor.insert("digest".into(), json!(Digest::of(config).to_string()));
    descriptor.insert("size".into(), json!(config.len()));
    let Value::Object(top) = &mut value else {
        return Err(RebuildError::Shape {
            what: WHAT,
            field: "layers",
        });
    };
    for layer in layers {
        push(
            top,
            "layers",
            json!({
                "mediaType": layer_type,
                "digest": layer.digest.to_string(),
                "size": layer.compressed.len(),
            }),
        );
    }
    serde_json::to_vec(&value).map_err(|e| RebuildError::Json {
        what: WHAT,
        reason: e.to_string(),
    })
}
