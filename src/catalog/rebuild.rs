//! Rebuilding a pruned catalog image: two reproducible layers (whiteouts, then the filtered
//! FBC with an empty writable opm cache directory), and pure rewrites of the image config and
//! manifest that add them.
//!
//! Pure functions on bytes: reading the original image and pushing the result belong to the
//! executor. Same catalog + same options → same layer, config and manifest digests.

use serde_json::{Value, json};

use super::fbc::Catalog;
use super::tarball::{
    EntryKind, LayerError, TarEntry, WHITEOUT_PREFIX, clean_components, gzip, write_tar,
};
use crate::oci::Digest;

/// The image label naming the configs directory.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
/// OCI gzip layer media type.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker schema 2 gzip layer media type.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Mode of the opm cache directory: writable by the arbitrary non-root UID OpenShift runs
/// catalog pods with.
pub const CACHE_DIR_MODE: u32 = 0o777;

/// Where the rebuilt image keeps its catalog and cache, and the timestamp of every entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Absolute configs directory (the original image's label, default `/configs`).
    pub configs_dir: String,
    /// Absolute opm cache directory the original image served with (default `/tmp/cache`).
    pub cache_dir: String,
    /// mtime of every tar entry: 0, or `SOURCE_DATE_EPOCH` when the caller has one.
    pub mtime: u64,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        RebuildOptions {
            configs_dir: "/configs".to_string(),
            cache_dir: "/tmp/cache".to_string(),
            mtime: 0,
        }
    }
}

/// A layer ready to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// The gzip-compressed tar: the blob to push.
    pub compressed: Vec<u8>,
    /// sha256 of `compressed`: the manifest's layer digest.
    pub digest: Digest,
    /// sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: Digest,
    /// The history line recorded in the config.
    pub created_by: String,
}

impl LayerBlob {
    fn new(tar: Vec<u8>, created_by: String) -> Self {
        let compressed = gzip(&tar);
        LayerBlob {
            digest: Digest::of(&compressed),
            diff_id: Digest::of(&tar),
            compressed,
            created_by,
        }
    }
}

/// Rewriting an image config or manifest failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RebuildError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Path(#[from] LayerError),
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
            "only OCI and Docker schema 2 single-platform images can be rebuilt; pass each platform's manifest"
        )
    )]
    Shape {
        what: &'static str,
        field: &'static str,
    },
}

/// Every parent directory of `parts` (not `parts` itself), as relative paths.
fn parents(parts: &[String]) -> Vec<String> {
    (1..parts.len()).map(|n| parts[..n].join("/")).collect()
}

fn dir(path: String, mode: u32) -> TarEntry {
    TarEntry {
        path,
        mode,
        kind: EntryKind::Dir,
    }
}

/// Mode of an intermediate directory: `/tmp` keeps its usual sticky world-writable mode.
fn parent_mode(path: &str) -> u32 {
    if path == "tmp" { 0o1777 } else { 0o755 }
}

/// The two layers of a rebuilt catalog: (1) whiteouts of the old configs and opm cache
/// directories, (2) the filtered catalog (`<configs>/<package>/catalog.json`) and an empty
/// cache directory with mode [`CACHE_DIR_MODE`].
pub fn rebuild_layers(
    catalog: &Catalog,
    options: &RebuildOptions,
) -> Result<[LayerBlob; 2], LayerError> {
    let configs = clean_components(&options.configs_dir)?;
    let cache = clean_components(&options.cache_dir)?;
    let mut whiteouts = Vec::new();
    for target in [&configs, &cache] {
        for p in parents(target) {
            let mode = parent_mode(&p);
            whiteouts.push(dir(p, mode));
        }
        let (name, parent) = target
            .split_last()
            .ok_or_else(|| LayerError::Path(String::new()))?;
        let mut path = parent.to_vec();
        path.push(format!("{WHITEOUT_PREFIX}{name}"));
        whiteouts.push(TarEntry {
            path: path.join("/"),
            mode: 0o644,
            kind: EntryKind::File(Vec::new()),
        });
    }
    let mut content = Vec::new();
    for target in [&configs, &cache] {
        for p in parents(target) {
            let mode = parent_mode(&p);
            content.push(dir(p, mode));
        }
    }
    let root = configs.join("/");
    content.push(dir(root.clone(), 0o755));
    content.push(dir(cache.join("/"), CACHE_DIR_MODE));
    for (relative, bytes) in catalog.to_files() {
        let full = format!("{root}/{relative}");
        let parts: Vec<String> = full.split('/').map(str::to_string).collect();
        for p in parents(&parts).into_iter().filter(|p| p.len() > root.len()) {
            content.push(dir(p, 0o755));
        }
        content.push(TarEntry {
            path: full,
            mode: 0o644,
            kind: EntryKind::File(bytes),
        });
    }
    Ok([
        LayerBlob::new(
            write_tar(whiteouts, options.mtime),
            format!(
                "airlift: remove {} and {}",
                options.configs_dir, options.cache_dir
            ),
        ),
        LayerBlob::new(
            write_tar(content, options.mtime),
            format!(
                "airlift: add the filtered catalog at {}",
                options.configs_dir
            ),
        ),
    ])
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
