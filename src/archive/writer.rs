//! Writing an archive: [`ArchiveLayout`] places every entry before a byte is written, then
//! [`ArchiveWriter`] fills the chunks, blobs in parallel, straight from their sources.
//!
//! Because every blob's size is known from its manifest before packing starts, the whole
//! archive is laid out first: which chunk each entry goes into, at which offset, where a blob
//! too large for one chunk is split (`--split-blobs`). The layout depends only on the entries
//! and their order, never on the order in which blobs arrive, so equal inputs give equal
//! chunks. The writer then creates every chunk as `airlift-NNNNNN.tar.tmp` at its final size,
//! writes the tar headers and small files, and lets any number of blob streams write their
//! bytes at their own offsets (`pwrite`) at once, each verified against its size and digest as
//! it streams. Each chunk's sha256 advances while blobs arrive (the final prefix of the chunk is
//! read back from the page cache as it completes), and the chunks are flushed to disk in the
//! background as they fill. Only when every blob is in are the chunks synced, their hashes
//! finished and renamed to their final names: a killed pack never leaves a half-written chunk
//! under a final name.
//!
//! Resuming: beside the temporary chunks, `airlift-pack.progress.tmp` holds the layout's id
//! and one line per blob written completely. A pack of the same layout after a kill keeps the
//! temporary chunks, checks each listed blob by reading it back and hashing it, and fetches only
//! the blobs that are missing or do not verify. A different layout starts over.
//!
//! Tar headers are deterministic (GNU format, mode 0644, uid/gid 0, mtime 0, no owner names;
//! a GNU long-name record for paths over 100 bytes). Padding and the two end blocks are the
//! zeros a file extended with `set_len` reads as.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

use super::error::ArchiveError;
use super::index::ChunkEntry;
use super::layout::{TMP_SUFFIX, blob_path, check_path, chunk_name, chunk_number, part_path};
use crate::oci::Digest;
use crate::registry::ByteStream;

const BLOCK: u64 = 512;
/// The two zero blocks that end every tar.
const END: u64 = 2 * BLOCK;
/// The name field of a tar header; longer paths get a GNU long-name record.
const NAME_FIELD: usize = 100;
/// Bytes gathered from a stream before one positioned write.
const WRITE_BUFFER: usize = 1024 * 1024;
const READ_BUFFER: usize = 1024 * 1024;
/// The resume record beside the temporary chunks.
const PROGRESS_FILE: &str = "airlift-pack.progress.tmp";

/// The smallest `archive_size`: one header and one data block of a blob part, plus the end
/// blocks.
pub const MIN_ARCHIVE_SIZE: u64 = 2 * BLOCK + END;

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// Bytes the header block(s) of an entry at `path` take.
fn header_size(path: &str) -> u64 {
    if path.len() > NAME_FIELD {
        2 * BLOCK + padded(path.len() as u64 + 1)
    } else {
        BLOCK
    }
}

/// Bytes a regular-file entry takes in a chunk: headers and padded data.
fn entry_size(path: &str, size: u64) -> u64 {
    header_size(path) + padded(size)
}

fn deterministic(header: &mut Header, size: u64, kind: EntryType) {
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(size);
    header.set_entry_type(kind);
    header.set_cksum();
}

/// The header block(s) of a regular-file entry of `size` bytes at `path`.
fn headers(path: &str, size: u64) -> Vec<u8> {
    let name = path.as_bytes();
    let mut out = Vec::with_capacity(3 * BLOCK as usize);
    if name.len() > NAME_FIELD {
        let mut long = Header::new_gnu();
        long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        deterministic(&mut long, name.len() as u64 + 1, EntryType::GNULongName);
        out.extend_from_slice(long.as_bytes());
        out.extend_from_slice(name);
        out.push(0);
        out.resize(padded(out.len() as u64) as usize, 0);
    }
    let mut header = Header::new_gnu();
    let n = name.len().min(NAME_FIELD);
    header.as_old_mut().name[..n].copy_from_slice(&name[..n]);
    deterministic(&mut header, size, EntryType::Regular);
    out.extend_from_slice(header.as_bytes());
    out
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Where some of a blob's bytes go: chunk index, offset in the chunk, length; and the bytes
/// of the chunk its entry spans (header, data, padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    chunk: usize,
    at: u64,
    len: u64,
    entry: (u64, u64),
}

/// One entry of a chunk: its path, where its header starts, its data.
#[derive(Debug)]
struct Entry {
    path: String,
    at: u64,
    size: u64,
    data: Data,
}

#[derive(Debug)]
enum Data {
    /// Written by the blob's stream.
    Blob,
    /// A small file, written when the chunks are created.
    File(Vec<u8>),
}

#[derive(Debug, Default)]
struct PlannedChunk {
    /// Bytes used, without the end blocks.
    len: u64,
    entries: Vec<Entry>,
}

/// Where every entry of one archive goes, decided before anything is written.
#[derive(Debug)]
pub struct ArchiveLayout {
    first_number: u64,
    limit: u64,
    split_blobs: bool,
    chunks: Vec<PlannedChunk>,
    /// Every blob, in the order added, with its size and where its bytes go.
    blobs: Vec<(Digest, u64, Vec<Segment>)>,
    by_digest: BTreeMap<Digest, usize>,
    files: BTreeSet<String>,
}

impl ArchiveLayout {
    /// An empty layout whose first chunk is `airlift-<first_chunk_number>.tar`, chunks at most
    /// `archive_size` bytes; `split_blobs` lets a blob larger than a chunk span several.
    pub fn new(
        first_chunk_number: u64,
        archive_size: u64,
        split_blobs: bool,
    ) -> Result<Self, ArchiveError> {
        if archive_size < MIN_ARCHIVE_SIZE {
            return Err(ArchiveError::ArchiveSizeTooSmall {
                size: archive_size,
                min: MIN_ARCHIVE_SIZE,
            });
        }
        Ok(ArchiveLayout {
            first_number: first_chunk_number,
            limit: archive_size,
            split_blobs,
            chunks: Vec::new(),
            blobs: Vec::new(),
            by_digest: BTreeMap::new(),
            files: BTreeSet::new(),
        })
    }

    /// Blobs in the layout (each digest once).
    pub fn blob_count(&self) -> u64 {
        self.blobs.len() as u64
    }

    /// Total size of the blobs in the layout.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, size, _)| size).sum()
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.by_digest.contains_key(digest)
    }

    /// Every blob with its size, in the order added.
    pub fn blobs(&self) -> impl Iterator<Item = (&Digest, u64)> {
        self.blobs.iter().map(|(d, s, _)| (d, *s))
    }

    /// The chunk being filled, opened when there is none.
    fn current(&mut self) -> &mut PlannedChunk {
        if self.chunks.is_empty() {
            self.chunks.push(PlannedChunk::default());
        }
        let last = self.chunks.len() - 1;
        &mut self.chunks[last]
    }

    /// Starts a new chunk when `needed` more bytes would not fit in the current one.
    fn make_room(&mut self, needed: u64) {
        let limit = self.limit;
        let chunk = self.current();
        if chunk.len > 0 && chunk.len + needed + END > limit {
            self.chunks.push(PlannedChunk::default());
        }
    }

    /// Places an entry in the current chunk; returns where its data goes.
    fn place(&mut self, path: String, size: u64, data: Data) -> Segment {
        let chunk_index = self.chunks.len().saturating_sub(1);
        let chunk = self.current();
        let at = chunk.len;
        let data_at = at + header_size(&path);
        chunk.len += entry_size(&path, size);
        let end = chunk.len;
        chunk.entries.push(Entry {
            path,
            at,
            size,
            data,
        });
        Segment {
            chunk: chunk_index,
            at: data_at,
            len: size,
            entry: (at, end),
        }
    }

    /// Places a blob as `blobs/sha256/<hex>`, or, when it does not fit in one chunk and blobs
    /// may be split, as `<hex>.part-0001`, `.part-0002`, … filling what is left of consecutive
    /// chunks (in whole blocks). A digest already placed is not placed again (`false`).
    pub fn add_blob(&mut self, digest: &Digest, size: u64) -> Result<bool, ArchiveError> {
        if self.has_blob(digest) {
            return Ok(false);
        }
        let path = blob_path(digest);
        let whole = entry_size(&path, size);
        let segments = if whole + END <= self.limit {
            self.make_room(whole);
            vec![self.place(path, size, Data::Blob)]
        } else if self.split_blobs {
            // A part needs a header and at least one data block.
            self.make_room(2 * BLOCK);
            let mut segments = Vec::new();
            let mut remaining = size;
            let mut part = 0;
            while remaining > 0 {
                let len = self.current().len;
                let room = (self.limit - END - len).saturating_sub(BLOCK) / BLOCK * BLOCK;
                if room == 0 {
                    self.chunks.push(PlannedChunk::default());
                    continue;
                }
                let n = remaining.min(room);
                part += 1;
                segments.push(self.place(part_path(digest, part), n, Data::Blob));
                remaining -= n;
                if remaining > 0 {
                    self.chunks.push(PlannedChunk::default());
                }
            }
            segments
        } else {
            return Err(ArchiveError::BlobTooLarge {
                digest: digest.clone(),
                size,
                limit: self.limit,
            });
        };
        self.by_digest.insert(digest.clone(), self.blobs.len());
        self.blobs.push((digest.clone(), size, segments));
        Ok(true)
    }

    /// Places a small file (`oci-layout`, `index.json`, `airlift/…`) at a relative path.
    pub fn add_file(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), ArchiveError> {
        let invalid = |reason| ArchiveError::InvalidPath {
            path: path.to_string(),
            reason,
        };
        check_path(path).map_err(invalid)?;
        if path == "blobs" || path.starts_with("blobs/") {
            return Err(invalid("blobs are added with add_blob"));
        }
        if self.files.contains(path) {
            return Err(ArchiveError::DuplicateFile {
                path: path.to_string(),
            });
        }
        let size = bytes.len() as u64;
        let needed = entry_size(path, size);
        if needed + END > self.limit {
            return Err(ArchiveError::FileTooLarge {
                path: path.to_string(),
                size,
                limit: self.limit,
            });
        }
        self.make_room(needed);
        self.place(path.to_string(), size, Data::File(bytes));
        self.files.insert(path.to_string());
        Ok(())
    }

    /// The layout with its chunk list final: an archive with no entries still
    /// has one (empty) chunk; a last chunk left empty by a split is dropped.
    fn sealed(mut self) -> Self {
        if self.chunks.is_empty() {
            self.chunks.push(PlannedChunk::default());
        }
        while self.chunks.len() > 1 && self.chunks.last().is_some_and(|c| c.len == 0) {
            self.chunks.pop();
        }
        self
    }

    fn chunk_size(&self, index: usize) -> u64 {
        self.chunks[index].len + END
    }

    fn tmp_path(&self, dir: &Path, index: usize) -> PathBuf {
        dir.join(format!(
            "{}{TMP_SUFFIX}",
            chunk_name(self.first_number + index as u64)
        ))
    }

    /// A digest of everything the layout decides: equal ids, equal chunks.
    fn id(&self) -> Digest {
        let mut h = Sha256::new();
        h.update(format!("{} {}\n", self.first_number, self.chunks.len()));
        for (i, chunk) in self.chunks.iter().enumerate() {
            h.update(format!("chunk {i} {}\n", chunk.len));
            for e in &chunk.entries {
                let data = match &e.data {
                    Data::Blob => String::from("blob"),
                    Data::File(bytes) => Digest::of(bytes).to_string(),
                };
                h.update(format!("{} {} {} {data}\n", e.path, e.at, e.size));
            }
        }
        Digest::from_sha256(h.finalize().into())
    }
}

/// Fills the chunks of one [`ArchiveLayout`] in a directory.
pub struct ArchiveWriter {
    dir: PathBuf,
    layout: ArchiveLayout,
    files: Vec<Arc<File>>,
    hashes: Vec<Arc<Mutex<ChunkHash>>>,
    /// Bytes written since the last background flush was started, and whether one runs.
    unflushed: std::sync::atomic::AtomicU64,
    flushing: Arc<std::sync::atomic::AtomicBool>,
    progress: Mutex<File>,
    /// Blobs an interrupted pack of the same layout recorded as written.
    recorded: BTreeSet<Digest>,
}

impl ArchiveWriter {
    /// Creates (or, after an interrupted pack of the same layout, reopens) the temporary chunks
    /// of `layout` in `dir` and writes their headers and small files. Temporary chunks of any
    /// other layout are removed. Blocking file I/O of headers only.
    pub fn create(dir: &Path, layout: ArchiveLayout) -> Result<Self, ArchiveError> {
        let layout = layout.sealed();
        std::fs::create_dir_all(dir).map_err(|e| io("create the directory", dir, e))?;
        let id = layout.id();
        let progress_path = dir.join(PROGRESS_FILE);
        let recorded = resumable(dir, &layout, &id, &progress_path);
        let resume = recorded.is_some();
        if !resume {
            clean_temporaries(dir)?;
        }
        let mut files = Vec::with_capacity(layout.chunks.len());
        for (index, chunk) in layout.chunks.iter().enumerate() {
            let tmp = layout.tmp_path(dir, index);
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(!resume)
                .read(true)
                .write(true)
                .open(&tmp)
                .map_err(|e| io("create", &tmp, e))?;
            file.set_len(layout.chunk_size(index))
                .map_err(|e| io("size", &tmp, e))?;
            for e in &chunk.entries {
                file.write_all_at(&headers(&e.path, e.size), e.at)
                    .map_err(|err| io("write", &tmp, err))?;
                if let Data::File(bytes) = &e.data {
                    file.write_all_at(bytes, e.at + header_size(&e.path))
                        .map_err(|err| io("write", &tmp, err))?;
                }
            }
            files.push(Arc::new(file));
        }
        let mut progress = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&progress_path)
            .map_err(|e| io("create", &progress_path, e))?;
        if !resume {
            progress
                .set_len(0)
                .and_then(|()| writeln!(progress, "{id}"))
                .map_err(|e| io("write", &progress_path, e))?;
        }
        let hashes = layout
            .chunks
            .iter()
            .map(|chunk| {
                let mut h = ChunkHash::default();
                for e in chunk
                    .entries
                    .iter()
                    .filter(|e| matches!(e.data, Data::File(_)))
                {
                    h.ready.insert(e.at, e.at + entry_size(&e.path, e.size));
                }
                Arc::new(Mutex::new(h))
            })
            .collect();
        Ok(ArchiveWriter {
            dir: dir.to_path_buf(),
            layout,
            files,
            hashes,
            unflushed: Default::default(),
            flushing: Default::default(),
            progress: Mutex::new(progress),
            recorded: recorded.unwrap_or_default(),
        })
    }

    /// Every blob of the layout with its size, in layout order.
    pub fn blobs(&self) -> Vec<(Digest, u64)> {
        self.layout.blobs().map(|(d, s)| (d.clone(), s)).collect()
    }

    fn segments(&self, digest: &Digest) -> Result<&[Segment], ArchiveError> {
        let index = self
            .layout
            .by_digest
            .get(digest)
            .ok_or_else(|| ArchiveError::NotInLayout {
                digest: digest.clone(),
            })?;
        Ok(&self.layout.blobs[*index].2)
    }

    /// Whether an interrupted pack of this layout wrote `digest` completely: it recorded it and
    /// the bytes in the temporary chunk(s) still have that digest.
    pub async fn already_written(&self, digest: &Digest) -> bool {
        if !self.recorded.contains(digest) {
            return false;
        }
        let Ok(segments) = self.segments(digest) else {
            return false;
        };
        let reads: Vec<(Arc<File>, Segment)> = segments
            .iter()
            .map(|s| (self.files[s.chunk].clone(), *s))
            .collect();
        let digest = digest.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let mut h = Sha256::new();
            let mut buf = vec![0; READ_BUFFER];
            for (file, s) in reads {
                let mut done = 0;
                while done < s.len {
                    let n = (s.len - done).min(READ_BUFFER as u64) as usize;
                    if file.read_exact_at(&mut buf[..n], s.at + done).is_err() {
                        return false;
                    }
                    h.update(&buf[..n]);
                    done += n as u64;
                }
            }
            Digest::from_sha256(h.finalize().into()) == digest
        })
        .await
        .unwrap_or(false);
        if ok {
            self.entries_done(segments).await;
        }
        ok
    }

    /// Marks the entries of a blob as final and hashes every chunk's bytes that are final up
    /// to there from where its hash stands, reading back what was just written (so the chunks'
    /// sha256 is mostly computed while other blobs still arrive).
    async fn entries_done(&self, segments: &[Segment]) {
        let work: Vec<HashWork> = segments
            .iter()
            .map(|s| {
                (
                    self.hashes[s.chunk].clone(),
                    self.files[s.chunk].clone(),
                    s.entry,
                )
            })
            .collect();
        let _ = tokio::task::spawn_blocking(move || {
            for (hash, file, (start, end)) in work {
                let mut h = hash.lock().unwrap_or_else(|e| e.into_inner());
                h.ready.insert(start, end);
                h.advance(&file);
            }
        })
        .await;
    }

    /// Streams a blob of the layout into its place, verifying its size and digest as it comes.
    /// Calls for different blobs may run at once; a failed blob can be written again with a
    /// new stream (same offsets). Returns the bytes written.
    pub async fn write_blob(
        &self,
        digest: &Digest,
        mut stream: ByteStream,
    ) -> Result<u64, ArchiveError> {
        let segments = self.segments(digest)?.to_vec();
        let expected: u64 = segments.iter().map(|s| s.len).sum();
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
        // Where `buf` starts in the blob.
        let mut flushed = 0u64;
        loop {
            let piece = match stream.next().await {
                Some(Ok(bytes)) => bytes,
                Some(Err(source)) => {
                    return Err(ArchiveError::Source {
                        digest: digest.clone(),
                        source: Box::new(source),
                    });
                }
                None => break,
            };
            received += piece.len() as u64;
            if received > expected {
                return Err(ArchiveError::SourceSize {
                    digest: digest.clone(),
                    expected,
                    found: received,
                });
            }
            hasher.update(&piece);
            buf.extend_from_slice(&piece);
            if buf.len() >= WRITE_BUFFER {
                buf = self.put(&segments, flushed, buf).await?;
                flushed = received;
            }
        }
        if received != expected {
            return Err(ArchiveError::SourceSize {
                digest: digest.clone(),
                expected,
                found: received,
            });
        }
        let found = Digest::from_sha256(hasher.finalize().into());
        if found != *digest {
            return Err(ArchiveError::SourceDigest {
                digest: digest.clone(),
                found,
            });
        }
        if !buf.is_empty() {
            self.put(&segments, flushed, buf).await?;
        }
        self.entries_done(&segments).await;
        let path = self.dir.join(PROGRESS_FILE);
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(progress, "{digest}").map_err(|e| io("write", &path, e))?;
        Ok(received)
    }

    /// Writes `buf`, the blob's bytes from offset `from`, into the segments they fall in;
    /// returns the buffer, emptied, for reuse.
    async fn put(
        &self,
        segments: &[Segment],
        from: u64,
        buf: Vec<u8>,
    ) -> Result<Vec<u8>, ArchiveError> {
        let mut writes = Vec::new();
        let mut start = 0u64;
        for s in segments {
            let end = start + s.len;
            let lo = from.max(start);
            let hi = (from + buf.len() as u64).min(end);
            if lo < hi {
                writes.push((
                    self.files[s.chunk].clone(),
                    self.layout.tmp_path(&self.dir, s.chunk),
                    s.at + (lo - start),
                    (lo - from) as usize..(hi - from) as usize,
                ));
            }
            start = end;
        }
        let chunks: Vec<usize> = segments.iter().map(|s| s.chunk).collect();
        let n = buf.len() as u64;
        let buf = tokio::task::spawn_blocking(move || {
            for (file, path, at, range) in writes {
                file.write_all_at(&buf[range], at)
                    .map_err(|e| io("write", &path, e))?;
            }
            let mut buf = buf;
            buf.clear();
            Ok(buf)
        })
        .await
        .map_err(|_| ArchiveError::Broken)?;
        self.flush_behind(&chunks, n);
        buf
    }

    /// Every `FLUSH_EVERY` bytes written, starts writing the chunks to disk in the background
    /// (one flush at a time), so that the sync before the rename has little left to do. A
    /// failed background flush is harmless: `finish` syncs every chunk and reports errors.
    fn flush_behind(&self, chunks: &[usize], n: u64) {
        use std::sync::atomic::Ordering;
        const FLUSH_EVERY: u64 = 64 << 20;
        let total = self.unflushed.fetch_add(n, Ordering::Relaxed) + n;
        if total < FLUSH_EVERY || self.flushing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.unflushed.store(0, Ordering::Relaxed);
        let mut files: Vec<Arc<File>> = Vec::new();
        for &c in chunks {
            if !files.iter().any(|f| Arc::ptr_eq(f, &self.files[c])) {
                files.push(self.files[c].clone());
            }
        }
        let flushing = self.flushing.clone();
        tokio::task::spawn_blocking(move || {
            for f in files {
                let _ = f.sync_data();
            }
            flushing.store(false, Ordering::Release);
        });
    }

    /// Hashes and fsyncs every chunk, renames them to their final names and returns them in
    /// order. Call once every blob is written: a blob never written would be zeros, which the
    /// reading side rejects by digest, so the caller must not skip one.
    pub async fn finish(self) -> Result<Vec<ChunkEntry>, ArchiveError> {
        let jobs: Vec<_> = self
            .files
            .iter()
            .enumerate()
            .map(|(i, file)| {
                let file = file.clone();
                let hash = self.hashes[i].clone();
                let tmp = self.layout.tmp_path(&self.dir, i);
                let size = self.layout.chunk_size(i);
                let name = chunk_name(self.layout.first_number + i as u64);
                async move {
                    tokio::task::spawn_blocking(move || seal(&file, &hash, &tmp, size, name))
                        .await
                        .map_err(|_| ArchiveError::Broken)?
                }
            })
            .collect();
        // Two chunks at a time: hashing is CPU work and reading them back is disk work.
        let entries: Vec<Result<ChunkEntry, ArchiveError>> =
            futures_util::stream::iter(jobs).buffered(2).collect().await;
        let entries: Vec<ChunkEntry> = entries.into_iter().collect::<Result<_, _>>()?;
        drop(self.files);
        for (i, entry) in entries.iter().enumerate() {
            let tmp = self.layout.tmp_path(&self.dir, i);
            let target = self.dir.join(&entry.name);
            std::fs::rename(&tmp, &target)
                .map_err(|e| io("rename a finished chunk to", &target, e))?;
        }
        sync_dir(&self.dir)?;
        let progress = self.dir.join(PROGRESS_FILE);
        match std::fs::remove_file(&progress) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &progress, e)),
        }
        Ok(entries)
    }
}

/// Finishes a chunk's sha256 (the bytes its hash has not reached yet: the end blocks, and
/// whatever was written last) while another thread makes the chunk durable.
fn seal(
    file: &File,
    hash: &Mutex<ChunkHash>,
    tmp: &Path,
    size: u64,
    name: String,
) -> Result<ChunkEntry, ArchiveError> {
    let mut h = hash.lock().unwrap_or_else(|e| e.into_inner());
    let (hashed, synced) = std::thread::scope(|s| {
        let sync = s.spawn(|| file.sync_all());
        let hashed = h.hash_range(file, size);
        (hashed, sync.join())
    });
    synced
        .unwrap_or_else(|_| Err(std::io::Error::other("the sync thread stopped")))
        .map_err(|e| io("sync", tmp, e))?;
    hashed.map_err(|e| io("read back", tmp, e))?;
    let sha256 = Digest::from_sha256(h.hasher.clone().finalize().into());
    Ok(ChunkEntry { name, size, sha256 })
}

/// A region of a chunk to hash: the chunk's hash state, its file, start and end.
type HashWork = (Arc<Mutex<ChunkHash>>, Arc<File>, (u64, u64));

/// A chunk's sha256 as far as its bytes are final.
#[derive(Default)]
struct ChunkHash {
    /// Bytes hashed so far (from the start).
    cursor: u64,
    hasher: Sha256,
    /// Final regions not hashed yet, start to end.
    ready: BTreeMap<u64, u64>,
}

impl ChunkHash {
    /// Hashes the final regions that continue from the cursor. A read error leaves the rest
    /// to `seal`, which reads again and reports it.
    fn advance(&mut self, file: &File) {
        while let Some(end) = self.ready.remove(&self.cursor) {
            if self.hash_range(file, end).is_err() {
                return;
            }
        }
    }

    /// Hashes the file's bytes from the cursor to `end` (positioned reads).
    fn hash_range(&mut self, file: &File, end: u64) -> std::io::Result<()> {
        let mut buf = vec![0; READ_BUFFER.min((end.saturating_sub(self.cursor)) as usize)];
        while self.cursor < end {
            let want = (end - self.cursor).min(READ_BUFFER as u64) as usize;
            let n = file.read_at(&mut buf[..want], self.cursor)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file ends at {} bytes, before {end}", self.cursor),
                ));
            }
            self.hasher.update(&buf[..n]);
            self.cursor += n as u64;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync the directory", dir, e))
}

/// The blobs an interrupted pack of the same layout recorded, when its temporary chunks are all
/// there at their sizes; `None` when the pack must start over.
fn resumable(
    dir: &Path,
    layout: &ArchiveLayout,
    id: &Digest,
    progress: &Path,
) -> Option<BTreeSet<Digest>> {
    let file = File::open(progress).ok()?;
    let mut lines = BufReader::new(file).lines();
    let first = lines.next()?.ok()?;
    if first.trim() != id.to_string() {
        return None;
    }
    for index in 0..layout.chunks.len() {
        let meta = std::fs::metadata(layout.tmp_path(dir, index)).ok()?;
        if meta.len() != layout.chunk_size(index) {
            return None;
        }
    }
    // A torn last line does not parse and is left out.
    Some(
        lines
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
    )
}

/// Removes `airlift-NNNNNN.tar.tmp` files and the resume record an interrupted pack left in
/// `dir`; returns how many chunks. A missing directory has none.
pub fn clean_temporaries(dir: &Path) -> Result<usize, ArchiveError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io("list", dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let chunk = name
            .strip_suffix(TMP_SUFFIX)
            .and_then(chunk_number)
            .is_some();
        if chunk || name == PROGRESS_FILE {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
            removed += usize::from(chunk);
        }
    }
    Ok(removed)
}
