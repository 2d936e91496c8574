//! Layer tarballs: writing reproducible layers (sorted entries, fixed owners, modes and mtime,
//! gzip without timestamp or name) and reading a configs directory back out of an image's
//! layers, applying OCI whiteouts.
//!
//! Works on in-memory bytes only; never touches the filesystem.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use flate2::{Compression, GzBuilder, read::GzDecoder};

/// The gzip level of every layer airlift writes. Changing it changes every rebuilt digest.
pub const GZIP_LEVEL: u32 = 6;
/// OCI whiteout prefix: `.wh.<name>` deletes `<name>` from lower layers.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// OCI opaque-directory marker: hides everything a directory had in lower layers.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Problems with a layer or with a path airlift was asked to write.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LayerError {
    #[error("layer #{layer}: cannot read the tar stream: {source}")]
    #[diagnostic(
        code(airlift::catalog::layer),
        help("the catalog image's layer is corrupt or not a (gzip) tar; re-pull the image")
    )]
    Read {
        layer: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("path `{0}` is not a clean absolute path (no `..`, `.` or empty components)")]
    #[diagnostic(
        code(airlift::catalog::path),
        help("use a path like `/configs` for the configs directory")
    )]
    Path(String),
    #[error("cannot write the {what}: {source}")]
    #[diagnostic(
        code(airlift::catalog::write),
        help("this is a bug in airlift (writing into memory failed); please report it")
    )]
    Write {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// One entry of a layer being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
}

/// One entry of a layer: a relative path (no leading `/`), its permission bits and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    pub path: String,
    pub mode: u32,
    pub kind: EntryKind,
}

/// What a tar entry looks like, for listings and checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryInfo {
    pub path: String,
    pub kind: &'static str,
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub size: u64,
}

/// Splits a clean absolute path (`/configs`, `/tmp/cache`) into its components.
pub fn clean_components(path: &str) -> Result<Vec<String>, LayerError> {
    let bad = || LayerError::Path(path.to_string());
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let parts: Vec<String> = rest.split('/').map(str::to_string).collect();
    if parts.iter().any(|p| p.is_empty() || p == "." || p == "..") {
        return Err(bad());
    }
    Ok(parts)
}

/// Writes `entries` as an uncompressed tar: sorted by path, uid/gid 0, no user/group names,
/// every mtime `mtime`. Directories get a trailing `/`. An entry the tar format refuses (a
/// path it cannot encode) is an error, never skipped.
pub fn write_tar(mut entries: Vec<TarEntry>, mtime: u64) -> Result<Vec<u8>, LayerError> {
    let fail = |source| LayerError::Write {
        what: "catalog layer",
        source,
    };
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    entries.dedup_by(|a, b| a.path == b.path);
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        let (path, data): (String, &[u8]) = match &entry.kind {
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                (format!("{}/", entry.path), &[])
            }
            EntryKind::File(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                (entry.path.clone(), bytes.as_slice())
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, &path, data)
            .map_err(fail)?;
    }
    builder.into_inner().map_err(fail)
}

/// Gzips `bytes` reproducibly: header mtime 0, no file name, fixed level [`GZIP_LEVEL`].
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, LayerError> {
    let fail = |source| LayerError::Write {
        what: "gzip stream",
        source,
    };
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::new(GZIP_LEVEL));
    encoder.write_all(bytes).map_err(fail)?;
    encoder.finish().map_err(fail)
}

/// The uncompressed tar of a layer that may be gzip-compressed.
fn decompress(layer: usize, bytes: &[u8]) -> Result<Vec<u8>, LayerError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|source| LayerError::Read { layer, source })?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Lists the entries of a (possibly gzipped) tar layer.
pub fn list_entries(layer: &[u8]) -> Result<Vec<EntryInfo>, LayerError> {
    let tar = decompress(0, layer)?;
    let read = |source| LayerError::Read { layer: 0, source };
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut out = Vec::new();
    for entry in archive.entries().map_err(read)? {
        let entry = entry.map_err(read)?;
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => "dir",
            tar::EntryType::Regular => "file",
            tar::EntryType::Symlink => "symlink",
            tar::EntryType::Link => "hardlink",
            _ => "other",
        };
        out.push(EntryInfo {
            path: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            kind,
            mode: format!("{:04o}", header.mode().map_err(read)?),
            uid: header.uid().map_err(read)?,
            gid: header.gid().map_err(read)?,
            mtime: header.mtime().map_err(read)?,
            size: header.size().map_err(read)?,
        });
    }
    Ok(out)
}

/// Normalises a tar entry path to components, dropping `./` and a leading `/`; `None` for
/// paths with `..`.
fn entry_components(path: &Path) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A layer stream, gunzipped when it starts with the gzip magic bytes.
fn layer_reader<'r, R: Read + 'r>(
    layer: usize,
    reader: R,
) -> Result<Box<dyn Read + 'r>, LayerError> {
    let mut buffered = BufReader::new(reader);
    let head = buffered
        .fill_buf()
        .map_err(|source| LayerError::Read { layer, source })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(GzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

/// Extracts the files under `configs_dir` from an image's layers (bottom first), applying
/// whiteouts and opaque markers, as a container runtime would. Layers are streamed (gzip or
/// plain tar); only the configs files are held in memory. Keys are relative to the configs
/// directory. Symlinks and other special entries are skipped; entries with `..` are ignored.
pub fn configs_from_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
    configs_dir: &str,
) -> Result<BTreeMap<PathBuf, Vec<u8>>, LayerError> {
    let root = clean_components(configs_dir)?;
    let mut files: BTreeMap<Vec<String>, Vec<u8>> = BTreeMap::new();
    for (n, layer) in layers.into_iter().enumerate() {
        let read = |source| LayerError::Read { layer: n, source };
        let mut archive = tar::Archive::new(layer_reader(n, layer)?);
        for entry in archive.entries().map_err(read)? {
            let mut entry = entry.map_err(read)?;
            let path = entry.path().map_err(read)?.into_owned();
            let Some(mut parts) = entry_components(&path) else {
                continue;
            };
            let Some(last) = parts.pop() else { continue };
            if last == OPAQUE_MARKER {
                files.retain(|k, _| !k.starts_with(&parts));
                continue;
            }
            if let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX) {
                parts.push(hidden.to_string());
                files.retain(|k, _| !k.starts_with(&parts));
                continue;
            }
            parts.push(last);
            let kind = entry.header().entry_type();
            if kind.is_file() && parts.len() > root.len() && parts.starts_with(&root) {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(read)?;
                files.insert(parts, bytes);
            } else if !kind.is_dir() {
                // A non-directory replaces whatever was below that path.
                files.retain(|k, _| !k.starts_with(&parts));
            }
        }
    }
    Ok(files
        .into_iter()
        .map(|(k, v)| (k[root.len()..].iter().collect::<PathBuf>(), v))
        .collect())
}
