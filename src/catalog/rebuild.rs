//! Rebuilding a pruned catalog image's layers: whiteouts of the old configs and opm cache,
//! then the filtered FBC with an empty writable cache directory (`image.rs` adds them to the
//! image config and manifest).
//!
//! Pure functions on bytes: reading the original image and pushing the result belong to the
//! executor. Same catalog + same options → same layer digests.

use super::fbc::Catalog;
use super::tarball::{
    EntryKind, LayerError, TarEntry, WHITEOUT_PREFIX, clean_components, gzip, write_tar,
};
use crate::oci::Digest;

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

impl RebuildOptions {
    /// Uses `SOURCE_DATE_EPOCH` (the caller passes the variable's value) as the entries' mtime;
    /// absent or not a number leaves the mtime at 0.
    pub fn with_source_date_epoch(mut self, value: Option<&str>) -> Self {
        if let Some(epoch) = value.and_then(|v| v.trim().parse::<u64>().ok()) {
            self.mtime = epoch;
        }
        self
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
    fn new(tar: Vec<u8>, created_by: String) -> Result<Self, LayerError> {
        let compressed = gzip(&tar)?;
        Ok(LayerBlob {
            digest: Digest::of(&compressed),
            diff_id: Digest::of(&tar),
            compressed,
            created_by,
        })
    }
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
            write_tar(whiteouts, options.mtime)?,
            format!(
                "airlift: remove {} and {}",
                options.configs_dir, options.cache_dir
            ),
        )?,
        LayerBlob::new(
            write_tar(content, options.mtime)?,
            format!(
                "airlift: add the filtered catalog at {}",
                options.configs_dir
            ),
        )?,
    ])
}
