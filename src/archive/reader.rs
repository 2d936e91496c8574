//! `ArchiveReader`: opens one archive of a series after verifying all of it, then serves its
//! blobs as byte streams and its small files as bytes, straight from the chunk files (nothing is
//! extracted).
//!
//! Opening checks, before anything is returned: the index entry is consistent (chunk names,
//! archive id), every chunk exists with its recorded size, and then, chunk by chunk in one
//! streaming pass each: the chunk's sha256, that every entry is a regular file or directory at a
//! safe relative path, and that every blob (whole, or reassembled from its parts) has the digest
//! its name says. A chunk checksum mismatch is reported before anything found inside that chunk,
//! since it is the cause.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use sha2::{Digest as _, Sha256};
use tar::EntryType;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::ArchiveError;
use super::index::{ArchiveEntry, ChunkEntry, archive_id};
use super::layout::{BlobName, check_path, chunk_number, parse_blob_path};
use crate::oci::Digest;
use crate::registry::{ByteStream, RegistryError};

const READ_BUFFER: usize = 256 * 1024;

/// Where a file's bytes are: chunk index, data offset, length.
#[derive(Clone, Copy, Debug)]
struct Span {
    chunk: usize,
    offset: u64,
    len: u64,
}

#[derive(Debug, Default)]
struct Blob {
    len: u64,
    /// One span for a whole blob, one per part for a split blob.
    spans: Vec<Span>,
}

/// A verified archive, ready to be read.
#[derive(Debug)]
pub struct ArchiveReader {
    sequence: u64,
    chunks: Vec<PathBuf>,
    blobs: BTreeMap<Digest, Blob>,
    files: BTreeMap<String, Span>,
}

impl ArchiveReader {
    /// Verifies archive `entry` of the series in `dir` (see the module header) and indexes its
    /// entries. Reads every chunk once, in bounded memory; this is blocking I/O of the whole
    /// archive, so async callers run it on a blocking thread.
    pub fn open(dir: &Path, entry: &ArchiveEntry) -> Result<Self, ArchiveError> {
        let sequence = entry.sequence;
        for chunk in &entry.chunks {
            if chunk_number(&chunk.name).is_none() {
                return Err(ArchiveError::ChunkName {
                    sequence,
                    name: chunk.name.clone(),
                });
            }
        }
        let computed = archive_id(&entry.chunks);
        if computed != entry.id {
            return Err(ArchiveError::ArchiveId {
                sequence,
                recorded: entry.id.clone(),
                computed,
            });
        }
        // Every chunk is looked at before any is read: a missing one is reported at once.
        let mut chunks = Vec::with_capacity(entry.chunks.len());
        for chunk in &entry.chunks {
            let path = dir.join(&chunk.name);
            let found = match std::fs::metadata(&path) {
                Ok(meta) => meta.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(ArchiveError::MissingChunk {
                        sequence,
                        name: chunk.name.clone(),
                    });
                }
                Err(source) => return Err(io_error("inspect", &path, source)),
            };
            check_size(chunk, found)?;
            chunks.push(path);
        }
        let mut scan = Scan {
            blobs: BTreeMap::new(),
            files: BTreeMap::new(),
            split: None,
            buf: vec![0; READ_BUFFER],
        };
        for (index, (path, chunk)) in chunks.iter().zip(&entry.chunks).enumerate() {
            scan.chunk(index, path, chunk)?;
        }
        scan.end_split()?;
        Ok(ArchiveReader {
            sequence,
            chunks,
            blobs: scan.blobs,
            files: scan.files,
        })
    }

    /// The archive's sequence number in its series.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blobs.contains_key(digest)
    }

    /// The size of a blob this archive carries.
    pub fn blob_len(&self, digest: &Digest) -> Option<u64> {
        self.blobs.get(digest).map(|b| b.len)
    }

    /// Every blob this archive carries, by digest, with its size.
    pub fn blobs(&self) -> impl Iterator<Item = (&Digest, u64)> {
        self.blobs.iter().map(|(d, b)| (d, b.len))
    }

    /// A blob's bytes, read from the chunk file(s) by offset as the stream is polled; `None`
    /// when this archive does not carry the blob.
    pub fn blob_stream(&self, digest: &Digest) -> Option<ByteStream> {
        let blob = self.blobs.get(digest)?;
        let segments = Segments {
            pending: blob
                .spans
                .iter()
                .map(|s| (self.chunks[s.chunk].clone(), s.offset, s.len))
                .collect(),
            open: None,
        };
        Some(stream::try_unfold(segments, next_bytes).boxed())
    }

    /// The bytes of a small file (`oci-layout`, `index.json`, `airlift/…`), read into memory.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, ArchiveError> {
        let span = self
            .files
            .get(path)
            .ok_or_else(|| ArchiveError::MissingFile {
                path: path.to_string(),
            })?;
        let chunk = &self.chunks[span.chunk];
        let mut file = std::fs::File::open(chunk).map_err(|e| io_error("open", chunk, e))?;
        file.seek(SeekFrom::Start(span.offset))
            .map_err(|e| io_error("seek in", chunk, e))?;
        let mut bytes = vec![0; span.len as usize];
        file.read_exact(&mut bytes)
            .map_err(|e| io_error("read", chunk, e))?;
        Ok(bytes)
    }

    /// The paths of every file that is not a blob, sorted.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> ArchiveError {
    ArchiveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn check_size(chunk: &ChunkEntry, found: u64) -> Result<(), ArchiveError> {
    let (name, expected) = (chunk.name.clone(), chunk.size);
    if found < expected {
        Err(ArchiveError::Truncated {
            name,
            expected,
            found,
        })
    } else if found > expected {
        Err(ArchiveError::Oversized {
            name,
            expected,
            found,
        })
    } else {
        Ok(())
    }
}

/// A reader that hashes and counts everything read through it. The chunk's hash is computed on
/// another thread, so that it overlaps with the hashing of the blobs inside (two sha256 passes
/// over the same bytes would otherwise take turns on one core).
struct Hashing<R> {
    inner: R,
    hasher: OffThread,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A sha256 computed by a thread of its own from batches of bytes (at most a few MiB queued).
struct OffThread {
    pending: Vec<u8>,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    worker: std::thread::JoinHandle<Digest>,
}

impl OffThread {
    const BATCH: usize = 1024 * 1024;

    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let worker = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for batch in rx {
                h.update(&batch);
            }
            Digest::from_sha256(h.finalize().into())
        });
        OffThread {
            pending: Vec::with_capacity(Self::BATCH),
            tx,
            worker,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= Self::BATCH {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(Self::BATCH));
            // The worker only stops when the channel closes, so this send cannot fail.
            let _ = self.tx.send(batch);
        }
    }

    fn finish(self) -> io::Result<Digest> {
        let OffThread {
            pending,
            tx,
            worker,
        } = self;
        let _ = tx.send(pending);
        drop(tx);
        worker
            .join()
            .map_err(|_| io::Error::other("the hashing thread stopped"))
    }
}

/// A blob being reassembled from consecutive `.part-NNNN` entries.
struct Split {
    digest: Digest,
    last_part: u32,
    hasher: Sha256,
    blob: Blob,
}

/// What the scan has found so far.
struct Scan {
    blobs: BTreeMap<Digest, Blob>,
    files: BTreeMap<String, Span>,
    split: Option<Split>,
    buf: Vec<u8>,
}

impl Scan {
    /// Reads chunk `index` once: its checksum, then (only if that matches) what its entries
    /// showed.
    fn chunk(&mut self, index: usize, path: &Path, chunk: &ChunkEntry) -> Result<(), ArchiveError> {
        let file = std::fs::File::open(path).map_err(|e| io_error("open", path, e))?;
        let mut reader = Hashing {
            inner: BufReader::with_capacity(READ_BUFFER, file),
            hasher: OffThread::new(),
            count: 0,
        };
        let entries = self.entries(index, &chunk.name, &mut tar::Archive::new(&mut reader));
        // The rest (end blocks) still counts for the checksum.
        io::copy(&mut reader, &mut io::sink()).map_err(|e| io_error("read", path, e))?;
        check_size(chunk, reader.count)?;
        let found = reader
            .hasher
            .finish()
            .map_err(|e| io_error("hash", path, e))?;
        if found != chunk.sha256 {
            return Err(ArchiveError::ChunkChecksum {
                name: chunk.name.clone(),
                expected: chunk.sha256.clone(),
                found,
            });
        }
        entries
    }

    fn entries<R: Read>(
        &mut self,
        index: usize,
        name: &str,
        archive: &mut tar::Archive<R>,
    ) -> Result<(), ArchiveError> {
        let malformed = |e: io::Error| ArchiveError::Malformed {
            chunk: name.to_string(),
            reason: e.to_string(),
        };
        let unsafe_entry = |path: &str, reason: &str| ArchiveError::UnsafeEntry {
            chunk: name.to_string(),
            path: path.to_string(),
            reason: reason.to_string(),
        };
        for entry in archive.entries().map_err(malformed)? {
            let mut entry = entry.map_err(malformed)?;
            let path = match String::from_utf8(entry.path_bytes().into_owned()) {
                Ok(path) => path,
                Err(e) => {
                    let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    return Err(unsafe_entry(&shown, "path is not UTF-8"));
                }
            };
            let kind = entry.header().entry_type();
            let checked = if kind.is_dir() {
                path.strip_suffix('/').unwrap_or(&path)
            } else {
                &path
            };
            check_path(checked).map_err(|reason| unsafe_entry(&path, reason))?;
            if kind.is_dir() {
                continue;
            }
            if !kind.is_file() {
                return Err(unsafe_entry(&path, &kind_reason(kind)));
            }
            let span = Span {
                chunk: index,
                offset: entry.raw_file_position(),
                len: entry.size(),
            };
            match parse_blob_path(&path) {
                None => {
                    self.end_split()?;
                    if self.files.insert(path.clone(), span).is_some() {
                        return Err(unsafe_entry(&path, "duplicate entry"));
                    }
                }
                Some(Err(reason)) => return Err(unsafe_entry(&path, reason)),
                Some(Ok(BlobName::Whole(digest))) => {
                    self.end_split()?;
                    if self.blobs.contains_key(&digest) {
                        return Err(unsafe_entry(&path, "duplicate blob"));
                    }
                    let mut hasher = Sha256::new();
                    hash_into(&mut entry, &mut hasher, &mut self.buf).map_err(malformed)?;
                    let found = Digest::from_sha256(hasher.finalize().into());
                    if found != digest {
                        return Err(ArchiveError::BlobDigest { digest, found });
                    }
                    let blob = Blob {
                        len: span.len,
                        spans: vec![span],
                    };
                    self.blobs.insert(digest, blob);
                }
                Some(Ok(BlobName::Part(digest, part))) => {
                    let continues = self
                        .split
                        .as_ref()
                        .is_some_and(|s| s.digest == digest && s.last_part + 1 == part);
                    if !continues {
                        self.end_split()?;
                        if part != 1 || self.blobs.contains_key(&digest) {
                            return Err(unsafe_entry(&path, "blob part out of order"));
                        }
                        self.split = Some(Split {
                            digest,
                            last_part: 0,
                            hasher: Sha256::new(),
                            blob: Blob::default(),
                        });
                    }
                    let Some(split) = self.split.as_mut() else {
                        continue;
                    };
                    hash_into(&mut entry, &mut split.hasher, &mut self.buf).map_err(malformed)?;
                    split.last_part = part;
                    split.blob.len += span.len;
                    split.blob.spans.push(span);
                }
            }
        }
        Ok(())
    }

    /// Checks and records the blob whose parts were being read, if any.
    fn end_split(&mut self) -> Result<(), ArchiveError> {
        let Some(split) = self.split.take() else {
            return Ok(());
        };
        let found = Digest::from_sha256(split.hasher.finalize().into());
        if found != split.digest {
            return Err(ArchiveError::BlobDigest {
                digest: split.digest,
                found,
            });
        }
        self.blobs.insert(split.digest, split.blob);
        Ok(())
    }
}

fn hash_into(reader: &mut impl Read, hasher: &mut Sha256, buf: &mut [u8]) -> io::Result<()> {
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn kind_reason(kind: EntryType) -> String {
    let what = if kind.is_symlink() {
        "symbolic link"
    } else if kind.is_hard_link() {
        "hard link"
    } else if kind.is_character_special() {
        "character device"
    } else if kind.is_block_special() {
        "block device"
    } else if kind.is_fifo() {
        "fifo"
    } else if kind.is_gnu_sparse() {
        "sparse file"
    } else {
        return format!(
            "entry type `{}` is not a regular file or directory",
            kind.as_byte().escape_ascii()
        );
    };
    format!("{what}, not a regular file or directory")
}

/// The chunk segments of a blob still to stream, and the one being read.
struct Segments {
    pending: VecDeque<(PathBuf, u64, u64)>,
    open: Option<(tokio::fs::File, PathBuf, u64)>,
}

fn local_error(path: &Path, message: String) -> RegistryError {
    RegistryError::LocalFile {
        path: path.display().to_string(),
        message,
    }
}

async fn next_bytes(mut st: Segments) -> Result<Option<(Bytes, Segments)>, RegistryError> {
    loop {
        if let Some((file, path, remaining)) = &mut st.open {
            if *remaining == 0 {
                st.open = None;
                continue;
            }
            let mut buf = vec![0; (*remaining).min(READ_BUFFER as u64) as usize];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| local_error(path, e.to_string()))?;
            if n == 0 {
                return Err(local_error(
                    path,
                    "the chunk ended early: it changed after the archive was verified".into(),
                ));
            }
            buf.truncate(n);
            *remaining -= n as u64;
            return Ok(Some((Bytes::from(buf), st)));
        }
        let Some((path, offset, len)) = st.pending.pop_front() else {
            return Ok(None);
        };
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| local_error(&path, e.to_string()))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| local_error(&path, e.to_string()))?;
        st.open = Some((file, path, len));
    }
}

impl ArchiveReader {
    /// A blob's bytes as a blocking reader over its span(s) in the chunk files; `None` when this
    /// archive does not carry the blob. For readers that parse a blob as it is read (catalog
    /// layers).
    pub fn blob_reader(&self, digest: &Digest) -> Option<io::Result<Box<dyn Read + Send>>> {
        let blob = self.blobs.get(digest)?;
        let mut parts: Box<dyn Read + Send> = Box::new(io::empty());
        for s in &blob.spans {
            let path = &self.chunks[s.chunk];
            let opened = std::fs::File::open(path).and_then(|mut f| {
                f.seek(SeekFrom::Start(s.offset))?;
                Ok(f)
            });
            match opened {
                Ok(f) => parts = Box::new(parts.chain(BufReader::new(f).take(s.len))),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(parts))
    }
}
