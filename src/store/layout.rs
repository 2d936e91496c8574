//! An OCI image layout directory as an image store: `oci-layout`, `index.json` (one entry per
//! named image, `org.opencontainers.image.ref.name` as `skopeo copy oci:DIR:NAME` reads it) and
//! `blobs/sha256/<hex>`. Written by `oci://DIR` targets, read by catalogs named `oci://DIR`.
//!
//! Crash safety: a blob is streamed to a temporary file beside its final name, checked against
//! its digest and size, synced, then renamed, so a blob file under its final name is always
//! complete; `index.json` is rewritten the same way after the image's blobs and manifests are in
//! place, so a name never points at missing content. Writers of one directory in one process
//! share one [`LayoutStore`] ([`LayoutStore::shared`]), whose lock orders `index.json` updates.
//! Touches only its directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::oci::Digest;
use crate::registry::{ByteStream, RegistryError};

/// The annotation naming an image in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// airlift's annotation: the image as the recipe names it.
pub const SOURCE_ANNOTATION: &str = "io.airlift.source";

/// One named image of the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutEntry {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// Other annotations (the source reference).
    pub source: Option<String>,
}

/// An OCI image layout directory.
#[derive(Debug)]
pub struct LayoutStore {
    dir: PathBuf,
    /// Named images, by `ref.name`; what `index.json` holds.
    names: Mutex<BTreeMap<String, LayoutEntry>>,
    /// One writer per blob: images sharing a layer fetch it once.
    writing: Mutex<BTreeMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

/// Writing or reading the layout failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LayoutError {
    #[error("{path}: {message}")]
    #[diagnostic(help("check that the directory is writable and the disk has space, then rerun"))]
    Io { path: PathBuf, message: String },
    #[error("{path} is not an OCI image layout airlift can write: {reason}")]
    #[diagnostic(help(
        "point the target at an empty directory or at an OCI image layout (imageLayoutVersion 1.0.0)"
    ))]
    NotALayout { path: PathBuf, reason: String },
    #[error("blob {digest}: {reason}")]
    #[diagnostic(help(
        "the source sent other bytes than its digest names; rerun, and check the source registry if it happens again"
    ))]
    Blob { digest: Digest, reason: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(#[from] RegistryError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LayoutError + '_ {
    move |e| LayoutError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl LayoutStore {
    /// The one store of `dir` in this process, created (and the directory laid out) on first
    /// use.
    pub fn shared(dir: &Path) -> Result<Arc<LayoutStore>, LayoutError> {
        static OPEN: OnceLock<Mutex<BTreeMap<PathBuf, Arc<LayoutStore>>>> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = open.get(dir) {
            return Ok(s.clone());
        }
        let store = Arc::new(LayoutStore::open(dir)?);
        open.insert(dir.to_path_buf(), store.clone());
        Ok(store)
    }

    /// Opens `dir`, creating an empty layout when it does not exist or is empty.
    pub fn open(dir: &Path) -> Result<LayoutStore, LayoutError> {
        let marker = dir.join("oci-layout");
        let empty = !dir.exists() || std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if empty {
            std::fs::create_dir_all(dir.join("blobs").join("sha256")).map_err(io(dir))?;
            write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let text = std::fs::read(&marker).map_err(|e| LayoutError::NotALayout {
            path: dir.to_path_buf(),
            reason: format!("no readable oci-layout ({e})"),
        })?;
        let version = serde_json::from_slice::<Value>(&text)
            .ok()
            .and_then(|v| v["imageLayoutVersion"].as_str().map(str::to_string));
        if version.as_deref() != Some("1.0.0") {
            return Err(LayoutError::NotALayout {
                path: dir.to_path_buf(),
                reason: format!("imageLayoutVersion is {version:?}"),
            });
        }
        std::fs::create_dir_all(dir.join("blobs").join("sha256")).map_err(io(dir))?;
        let names = read_index(dir)?;
        Ok(LayoutStore {
            dir: dir.to_path_buf(),
            names: Mutex::new(names),
            writing: Mutex::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock a writer of blob `digest` holds while it checks for the blob and writes it, so
    /// two images sharing a layer do not both fetch it.
    pub fn blob_lock(&self, digest: &Digest) -> Arc<tokio::sync::Mutex<()>> {
        self.writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(digest.clone())
            .or_default()
            .clone()
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The image named `name`, if any.
    pub fn resolve(&self, name: &str) -> Option<LayoutEntry> {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Streams `stream` into the blob `digest` (unless present), checking its size and digest;
    /// returns the bytes written (0 when present).
    pub async fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        mut stream: ByteStream,
    ) -> Result<u64, LayoutError> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(0);
        }
        let dir = self.dir.join("blobs").join("sha256");
        let tmp = tempfile::Builder::new()
            .prefix(".airlift-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io(&dir))?;
        let (file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk: Bytes = chunk?;
            hasher.update(&chunk);
            written += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io(&path))?;
        }
        file.sync_all().await.map_err(io(&path))?;
        drop(file);
        let found = Digest::from_sha256(hasher.finalize().into());
        if &found != digest || written != size {
            return Err(LayoutError::Blob {
                digest: digest.clone(),
                reason: format!("received {written} bytes with digest {found} (expected {size})"),
            });
        }
        tmp_path.persist(&path).map_err(|e| io(&path)(e.error))?;
        Ok(written)
    }

    /// Stores small bytes (a manifest) as the blob `digest` (unless present).
    pub fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<(), LayoutError> {
        if &Digest::of(bytes) != digest {
            return Err(LayoutError::Blob {
                digest: digest.clone(),
                reason: "the bytes have another digest".to_string(),
            });
        }
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        write_atomic(&path, bytes)
    }

    /// Names `entry` `name` in `index.json` (replacing what the name pointed at).
    pub fn tag(&self, name: &str, entry: LayoutEntry) -> Result<(), LayoutError> {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.get(name) == Some(&entry) {
            return Ok(());
        }
        let mut next = names.clone();
        next.insert(name.to_string(), entry);
        write_atomic(&self.dir.join("index.json"), &index_bytes(&next))?;
        *names = next;
        Ok(())
    }

    /// The blob `digest` as a stream read from its file.
    pub async fn get_blob(&self, digest: &Digest) -> Result<ByteStream, RegistryError> {
        let path = self.blob_path(digest);
        let shown = path.display().to_string();
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| RegistryError::LocalFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        // Large reads: each one is a blocking call on tokio's pool (the default 4 KiB made
        // packing a staging layout read at a fraction of the disk's speed).
        Ok(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
            .map(move |r| {
                r.map_err(|e| RegistryError::LocalFile {
                    path: shown.clone(),
                    message: e.to_string(),
                })
            })
            .boxed())
    }

    /// The bytes of the blob `digest` (manifests), checked against the digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        if &Digest::of(&bytes) != digest {
            return Err(LayoutError::Blob {
                digest: digest.clone(),
                reason: format!("{} does not hold these bytes", path.display()),
            });
        }
        Ok(bytes)
    }
}

/// `index.json` of `names`: sorted by name, deterministic.
pub fn index_bytes(names: &BTreeMap<String, LayoutEntry>) -> Vec<u8> {
    let manifests: Vec<Value> = names
        .iter()
        .map(|(name, e)| {
            let mut annotations = serde_json::Map::new();
            if let Some(s) = &e.source {
                annotations.insert(SOURCE_ANNOTATION.to_string(), json!(s));
            }
            annotations.insert(REF_NAME.to_string(), json!(name));
            json!({
                "mediaType": e.media_type,
                "digest": e.digest.to_string(),
                "size": e.size,
                "annotations": annotations,
            })
        })
        .collect();
    let doc = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The named images of `dir/index.json` (none when absent), read without writing anything.
pub fn read_names(dir: &Path) -> Result<BTreeMap<String, LayoutEntry>, LayoutError> {
    read_index(dir)
}

/// The named images of `dir/index.json` (none when absent). Unnamed entries are kept out: a
/// layout written by another tool may have them; airlift names everything it writes.
fn read_index(dir: &Path) -> Result<BTreeMap<String, LayoutEntry>, LayoutError> {
    let path = dir.join("index.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    let bad = |reason: String| LayoutError::NotALayout {
        path: dir.to_path_buf(),
        reason,
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("index.json: {e}")))?;
    let mut out = BTreeMap::new();
    for m in doc["manifests"].as_array().into_iter().flatten() {
        let Some(name) = m["annotations"][REF_NAME].as_str() else {
            continue;
        };
        let digest = m["digest"]
            .as_str()
            .and_then(|d| d.parse::<Digest>().ok())
            .ok_or_else(|| bad(format!("index.json: `{name}` has no valid digest")))?;
        out.insert(
            name.to_string(),
            LayoutEntry {
                media_type: m["mediaType"].as_str().unwrap_or_default().to_string(),
                digest,
                size: m["size"].as_u64().unwrap_or_default(),
                source: m["annotations"][SOURCE_ANNOTATION]
                    .as_str()
                    .map(str::to_string),
            },
        );
    }
    Ok(out)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    crate::state::write_atomic(path, bytes).map_err(io(path))
}
