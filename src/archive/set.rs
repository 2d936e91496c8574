//! `ArchiveSet`: every archive of one directory, opened and verified once per process
//! ([`ArchiveReader::open`] for each archive the series index lists: chunk sizes and sha256,
//! safe tar entries, blob digests). Discovery on the disconnected side reads what the archives
//! carry through it (the images they list, `airlift/…` files, a catalog's layers), and the
//! `unpack`, `prune-catalog` and `build-graph-image` tasks read blobs from it; all of them share
//! one verification pass.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures_util::StreamExt;

use super::{ArchiveError, ArchiveReader, ImageEntry, SeriesIndex};
use crate::oci::{Digest, Repository};
use crate::registry::ByteStream;

/// Why the archives of a directory cannot be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SeriesError {
    #[error("{dir} holds no archive (no airlift-index.json)")]
    #[diagnostic(help(
        "copy the archive directory written by `airlift build` of the file:// target here"
    ))]
    NoIndex { dir: PathBuf },
    #[error("archive directory {dir}: {source}")]
    Archive {
        dir: PathBuf,
        #[source]
        source: ArchiveError,
    },
    #[error("reading the archives of {dir} stopped: {reason}")]
    #[diagnostic(help("rerun `airlift build`; if it happens again, report it"))]
    Stopped { dir: PathBuf, reason: String },
}

impl SeriesError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            SeriesError::Archive { source, .. } => {
                miette::Diagnostic::help(source).map(|h| h.to_string())
            }
            other => miette::Diagnostic::help(other).map(|h| h.to_string()),
        }
    }

    /// True when the archives are damaged or incomplete (not a missing directory).
    pub fn is_damage(&self) -> bool {
        matches!(self, SeriesError::Archive { .. })
    }
}

/// The verified archives of one directory.
pub struct ArchiveSet {
    dir: PathBuf,
    index: SeriesIndex,
    /// Newest first.
    readers: Vec<ArchiveReader>,
    /// One lock per (repository, digest) being written: two images of one repository share
    /// blobs, and a registry given the same blob twice at once may fail the manifest that
    /// names it (distribution does). The second writer waits, then finds the blob there.
    writing: Mutex<BTreeMap<(String, Digest), WriteLock>>,
}

impl std::fmt::Debug for ArchiveSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArchiveSet({})", self.dir.display())
    }
}

/// Held while one (repository, digest) is written.
pub type WriteLock = Arc<tokio::sync::Mutex<()>>;

type Opened = Arc<tokio::sync::OnceCell<Result<Arc<ArchiveSet>, Arc<SeriesError>>>>;

impl ArchiveSet {
    /// The verified archives of `dir` (opened by the first caller of the process; the others
    /// wait and share the result).
    pub async fn shared(dir: &Path) -> Result<Arc<ArchiveSet>, Arc<SeriesError>> {
        static OPEN: OnceLock<Mutex<BTreeMap<PathBuf, Opened>>> = OnceLock::new();
        let cell = OPEN
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        let dir = dir.to_path_buf();
        cell.get_or_init(|| async move {
            let at = dir.clone();
            tokio::task::spawn_blocking(move || ArchiveSet::open(&at))
                .await
                .map_err(|e| SeriesError::Stopped {
                    dir,
                    reason: e.to_string(),
                })
                .and_then(|r| r)
                .map(Arc::new)
                .map_err(Arc::new)
        })
        .await
        .clone()
    }

    fn open(dir: &Path) -> Result<ArchiveSet, SeriesError> {
        let fail = |source| SeriesError::Archive {
            dir: dir.to_path_buf(),
            source,
        };
        let index = SeriesIndex::read(dir)
            .map_err(fail)?
            .ok_or_else(|| SeriesError::NoIndex {
                dir: dir.to_path_buf(),
            })?;
        let mut readers = Vec::new();
        // The oldest archive a newer one carries again (`--since`): from it on, an archive
        // whose chunks are not here is not needed.
        let mut resent_from: Option<u64> = None;
        for entry in index.archives.iter().rev() {
            let resent = resent_from.is_some_and(|from| entry.sequence >= from);
            let absent = entry.chunks.iter().any(|c| !dir.join(&c.name).exists());
            if !(resent && absent) {
                readers.push(ArchiveReader::open(dir, entry).map_err(fail)?);
            }
            if let Some(from) = entry.resends_from {
                resent_from = Some(resent_from.map_or(from, |r| r.min(from)));
            }
        }
        Ok(ArchiveSet {
            dir: dir.to_path_buf(),
            index,
            readers,
            writing: Mutex::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The image the newest archive that lists `source` (as the recipe names it) holds.
    pub fn image(&self, source: &str) -> Option<&ImageEntry> {
        self.index
            .archives
            .iter()
            .rev()
            .find_map(|a| a.images.iter().find(|e| e.source == source))
    }

    /// The bytes of `path` (`airlift/…`) in the newest archive that carries it.
    pub fn file(&self, path: &str) -> Option<Result<Vec<u8>, ArchiveError>> {
        self.readers
            .iter()
            .find(|r| r.files().any(|f| f == path))
            .map(|r| r.read_file(path))
    }

    /// Every file under `prefix` in the newest archive that carries any, with its bytes.
    pub fn files_under(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
        let Some(reader) = self
            .readers
            .iter()
            .find(|r| r.files().any(|f| f.starts_with(prefix)))
        else {
            return Ok(Vec::new());
        };
        let paths: Vec<String> = reader
            .files()
            .filter(|f| f.starts_with(prefix))
            .map(str::to_string)
            .collect();
        paths
            .into_iter()
            .map(|p| reader.read_file(&p).map(|b| (p, b)))
            .collect()
    }

    /// The lock of `digest` in `repo`.
    pub fn lock(&self, repo: &Repository, digest: &Digest) -> WriteLock {
        self.lock_in(&repo.to_string(), digest)
    }

    /// The lock of `digest` anywhere in `scope` (a registry: the first writer uploads, the
    /// others then mount it from there).
    pub fn lock_in(&self, scope: &str, digest: &Digest) -> WriteLock {
        self.writing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((scope.to_string(), digest.clone()))
            .or_default()
            .clone()
    }

    /// The archive that carries `digest`, newest first.
    pub fn find(&self, digest: &Digest) -> Option<&ArchiveReader> {
        self.readers.iter().find(|r| r.has_blob(digest))
    }

    /// A blob as a stream, read from the chunks by offset.
    pub fn blob_stream(&self, digest: &Digest) -> Option<ByteStream> {
        self.find(digest)?.blob_stream(digest)
    }

    /// A blob as a blocking reader.
    pub fn blob_reader(&self, digest: &Digest) -> Option<std::io::Result<Box<dyn Read + Send>>> {
        self.find(digest)?.blob_reader(digest)
    }

    /// A (small) blob's bytes; `None` when no archive carries it or it cannot be read.
    pub async fn bytes(&self, digest: &Digest) -> Option<Vec<u8>> {
        let mut stream = self.blob_stream(digest)?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.ok()?);
        }
        Some(out)
    }
}
