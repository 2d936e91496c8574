//! The graph-data image that OpenShift Update Service serves its graph from: the Cincinnati
//! graph-data tarball unpacked under `/var/lib/cincinnati-graph-data/`, with the command the
//! Red Hat documentation's Containerfile uses to copy it into the service's volume.
//!
//! Reproducible: entries sorted by path, mtime fixed (0 or SOURCE_DATE_EPOCH, passed in), owner
//! 0:0 with no user or group names, modes fixed (directories 0755, files 0644 or 0755 when any
//! execute bit was set, symlinks 0777), hard links stored as copies, gzip with mtime 0, no file
//! name and a fixed level; configs and manifests are compact JSON with sorted keys. The same
//! tarball gives the same layer, config and manifest digests on any machine.
//!
//! Unsafe input is refused: absolute paths, `..`, links that leave the graph-data directory,
//! devices and FIFOs. Pure on bytes; the executor pushes [`BuiltImage`] blobs.

use std::collections::BTreeMap;
use std::io::{Read, Write as _};

use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::layers::{LayerError, link_stays_inside, safe_path, tar_stream};
use crate::oci::{Digest, MediaType};

/// Where the graph data lives in the image (no leading `/`, as in a layer tar).
pub const GRAPH_DATA_DIR: &str = "var/lib/cincinnati-graph-data";
/// The image command: copy the data into the Update Service's graph-data volume.
pub const GRAPH_IMAGE_CMD: [&str; 3] = [
    "/bin/bash",
    "-c",
    "exec cp -rp /var/lib/cincinnati-graph-data/* /var/lib/cincinnati/graph-data",
];
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Largest single file accepted from the graph-data tarball.
const MAX_FILE: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum GraphImageError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layer(#[from] LayerError),
    #[error(
        "the graph-data tarball hard-links `{path}` to `{target}`, which it does not contain before that entry"
    )]
    #[diagnostic(
        code(airlift::release::dangling_link),
        help("the tarball is damaged; fetch it again (delete the stored graph-data.tar.gz)")
    )]
    DanglingLink { path: String, target: String },
    #[error("the base image config is not a JSON object with `rootfs.diff_ids`: {message}")]
    #[diagnostic(
        code(airlift::release::bad_base_config),
        help("use a regular Linux container image as the graph image's base (e.g. a UBI image)")
    )]
    BaseConfig { message: String },
}

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// The graph-data layer blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphDataLayer {
    /// gzip-compressed tar.
    pub blob: Vec<u8>,
    /// Digest of `blob`.
    pub digest: Digest,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
}

impl GraphDataLayer {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: OCI_LAYER_GZIP.to_string(),
            digest: self.digest.clone(),
            size: self.blob.len() as u64,
        }
    }

    /// `ls -l`-like listing of the layer (`mode uid/gid mtime size path[ -> target]`), read
    /// back from the blob; for tests and `airlift describe`.
    pub fn listing(&self) -> Result<Vec<String>, LayerError> {
        let what = "graph-data layer";
        let tar_err = |e: std::io::Error| LayerError::Tar {
            what: what.to_string(),
            message: e.to_string(),
        };
        let mut archive = tar::Archive::new(tar_stream(what, self.blob.as_slice())?);
        let mut out = Vec::new();
        for entry in archive.entries().map_err(tar_err)? {
            let entry = entry.map_err(tar_err)?;
            let h = entry.header();
            let path = String::from_utf8_lossy(&entry.path_bytes()).to_string();
            let link = entry
                .link_name_bytes()
                .map(|l| format!(" -> {}", String::from_utf8_lossy(&l)))
                .unwrap_or_default();
            out.push(format!(
                "{:o} {}/{} {} {} {path}{link}",
                h.mode().map_err(tar_err)?,
                h.uid().map_err(tar_err)?,
                h.gid().map_err(tar_err)?,
                h.mtime().map_err(tar_err)?,
                h.size().map_err(tar_err)?,
            ));
        }
        Ok(out)
    }
}

/// An image ready to push: config blob, manifest, and the layer descriptors it lists (the
/// base's, then the graph-data layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub media_type: MediaType,
    pub layers: Vec<Descriptor>,
}

enum Item {
    Dir,
    File { data: Vec<u8>, exec: bool },
    Symlink(String),
}

/// Builds the graph-data layer from the graph-data tarball (gzip or plain tar). `mtime` is
/// written on every entry: 0, or SOURCE_DATE_EPOCH when the caller has one.
pub fn build_graph_data_layer(
    tarball: &[u8],
    mtime: u64,
) -> Result<GraphDataLayer, GraphImageError> {
    let items = read_input(tarball)?;
    let tar = write_layer(&items, mtime).map_err(|e| LayerError::Tar {
        what: "graph-data layer".to_string(),
        message: e.to_string(),
    })?;
    let diff_id = Digest::of(&tar);
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(6));
    let gz_err = |e: std::io::Error| LayerError::Tar {
        what: "graph-data layer".to_string(),
        message: e.to_string(),
    };
    gz.write_all(&tar).map_err(gz_err)?;
    let blob = gz.finish().map_err(gz_err)?;
    Ok(GraphDataLayer {
        digest: Digest::of(&blob),
        diff_id,
        blob,
    })
}

fn read_input(tarball: &[u8]) -> Result<BTreeMap<String, Item>, GraphImageError> {
    let what = "the graph-data tarball";
    let tar_err = |e: std::io::Error| LayerError::Tar {
        what: what.to_string(),
        message: e.to_string(),
    };
    let unsafe_entry = |path: &str, reason| LayerError::Unsafe {
        what: what.to_string(),
        path: path.to_string(),
        reason,
    };
    let mut items = BTreeMap::new();
    let mut archive = tar::Archive::new(tar_stream(what, tarball)?);
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let path = safe_path(what, &entry.path_bytes())?;
        if path.is_empty() {
            continue;
        }
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).to_string());
        let item = if kind.is_dir() {
            Item::Dir
        } else if kind.is_file() {
            let exec = entry.header().mode().map_err(tar_err)? & 0o111 != 0;
            let mut data = Vec::new();
            (&mut entry)
                .take(MAX_FILE)
                .read_to_end(&mut data)
                .map_err(tar_err)?;
            Item::File { data, exec }
        } else if kind.is_symlink() {
            let target = link.unwrap_or_default();
            if !link_stays_inside(&path, &target, false) {
                return Err(
                    unsafe_entry(&path, "symbolic link pointing outside the graph data").into(),
                );
            }
            Item::Symlink(target)
        } else if kind.is_hard_link() {
            let target = link.unwrap_or_default();
            if !link_stays_inside(&path, &target, true) {
                return Err(
                    unsafe_entry(&path, "hard link pointing outside the graph data").into(),
                );
            }
            let normalised = safe_path(what, target.as_bytes())?;
            match items.get(&normalised) {
                Some(Item::File { data, exec }) => Item::File {
                    data: data.clone(),
                    exec: *exec,
                },
                _ => {
                    return Err(GraphImageError::DanglingLink { path, target });
                }
            }
        } else {
            return Err(unsafe_entry(&path, "device, FIFO or other special file").into());
        };
        items.insert(path, item);
    }
    // Parent directories the tarball did not list.
    let parents: Vec<String> = items
        .keys()
        .flat_map(|p| {
            p.match_indices('/')
                .map(|(i, _)| p[..i].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for p in parents {
        items.entry(p).or_insert(Item::Dir);
    }
    Ok(items)
}

fn write_layer(items: &BTreeMap<String, Item>, mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_size(size);
        h
    };
    let mut prefix = String::new();
    for part in GRAPH_DATA_DIR.split('/') {
        prefix.push_str(part);
        prefix.push('/');
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, &prefix, std::io::empty())?;
    }
    // Directory entries carry a trailing slash; sort on the written names so the order is
    // exactly byte order of what a reader sees.
    let mut names: Vec<(String, &Item)> = items
        .iter()
        .map(|(p, i)| match i {
            Item::Dir => (format!("{GRAPH_DATA_DIR}/{p}/"), i),
            _ => (format!("{GRAPH_DATA_DIR}/{p}"), i),
        })
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, item) in names {
        match item {
            Item::Dir => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                b.append_data(&mut h, &name, std::io::empty())?;
            }
            Item::File { data, exec } => {
                let mode = if *exec { 0o755 } else { 0o644 };
                let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
                b.append_data(&mut h, &name, data.as_slice())?;
            }
            Item::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut h, &name, target)?;
            }
        }
    }
    b.into_inner()
}

fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        DOCKER_LAYER_GZIP => OCI_LAYER_GZIP.to_string(),
        DOCKER_LAYER_TAR => OCI_LAYER_TAR.to_string(),
        other => other.to_string(),
    }
}

fn assemble(config: &Value, layers: Vec<Descriptor>) -> BuiltImage {
    // serde_json maps are sorted by key, so this is canonical for a given value.
    let config = serde_json::to_vec(config).unwrap_or_default();
    let config_digest = Digest::of(&config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MediaType::OciManifest.as_str(),
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest.to_string(), "size": config.len()},
        "layers": layers,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    BuiltImage {
        manifest_digest: Digest::of(&manifest),
        config_digest,
        config,
        manifest,
        media_type: MediaType::OciManifest,
        layers,
    }
}

fn history_entry() -> Value {
    json!({
        "created_by": format!("airlift: graph data under /{GRAPH_DATA_DIR}"),
        "comment": "built reproducibly by airlift"
    })
}

/// The graph image on a base image: `base_config` is the base's config blob, `base_layers`
/// its manifest's layer descriptors. The graph-data layer is appended, its diff ID added to
/// `rootfs.diff_ids`, the command set to [`GRAPH_IMAGE_CMD`] (any entrypoint cleared).
pub fn image_on_base(
    base_config: &[u8],
    base_layers: &[Descriptor],
    layer: &GraphDataLayer,
) -> Result<BuiltImage, GraphImageError> {
    let bad = |message: &str| GraphImageError::BaseConfig {
        message: message.to_string(),
    };
    let mut config: Value = serde_json::from_slice(base_config).map_err(|e| bad(&e.to_string()))?;
    let obj = config.as_object_mut().ok_or_else(|| bad("not an object"))?;
    let diff_ids = obj
        .get_mut("rootfs")
        .and_then(|r| r.get_mut("diff_ids"))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| bad("no rootfs.diff_ids array"))?;
    if diff_ids.len() != base_layers.len() {
        return Err(bad(
            "the number of diff_ids differs from the number of base layers",
        ));
    }
    diff_ids.push(json!(layer.diff_id.to_string()));
    let history = obj.entry("history").or_insert_with(|| json!([]));
    if let Some(h) = history.as_array_mut() {
        h.push(history_entry());
    }
    let run = obj.entry("config").or_insert_with(|| json!({}));
    let run = run
        .as_object_mut()
        .ok_or_else(|| bad("`config` is not an object"))?;
    run.insert("Cmd".to_string(), json!(GRAPH_IMAGE_CMD));
    run.remove("Entrypoint");
    let mut layers: Vec<Descriptor> = base_layers
        .iter()
        .map(|d| Descriptor {
            media_type: oci_layer_type(&d.media_type),
            ..d.clone()
        })
        .collect();
    layers.push(layer.descriptor());
    Ok(assemble(&config, layers))
}

/// The graph image with no base (`graph-base-image="scratch"`): only the graph-data layer. The
/// command needs a shell, so an Update Service needs the image on a base ([`image_on_base`]);
/// this variant is for services that copy the data out of the image themselves.
pub fn image_from_scratch(layer: &GraphDataLayer, arch: &str) -> BuiltImage {
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": GRAPH_IMAGE_CMD},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [history_entry()],
    });
    assemble(&config, vec![layer.descriptor()])
}

#[cfg(test)]
#[path = "graph_image_tests.rs"]
mod tests;
