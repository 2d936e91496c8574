//! `ArchiveWriter`: streams blobs and small files into tar chunks of at most `archive_size`
//! bytes, verifying every blob's size and sha256 while it streams.
//!
//! Tar headers are deterministic (GNU format, mode 0644, uid/gid 0, mtime 0, no owner names;
//! a GNU long-name record for paths over 100 bytes), so equal calls give equal chunks. Each
//! chunk's size and sha256 are computed as it is written. A chunk is written as
//! `airlift-NNNNNN.tar.tmp`, fsynced and only then renamed to its final name, so a killed pack
//! never leaves a half-written chunk under a final name. A blob that fails verification is
//! undone (the chunk is cut back to where the blob began, chunks opened for its parts are
//! deleted), so nothing of it survives.

use std::collections::BTreeSet;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

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
const WRITE_BUFFER: usize = 256 * 1024;

/// The smallest `archive_size`: one header and one data block of a blob part, plus the end
/// blocks.
pub const MIN_ARCHIVE_SIZE: u64 = 2 * BLOCK + END;

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// Bytes a regular-file entry takes in a chunk: headers and padded data.
fn entry_size(path: &str, size: u64) -> u64 {
    let long = if path.len() > NAME_FIELD {
        BLOCK + padded(path.len() as u64 + 1)
    } else {
        0
    };
    long + BLOCK + padded(size)
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

/// A chunk being written under its temporary name.
struct OpenChunk {
    number: u64,
    tmp: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    /// Bytes written so far (without the end blocks).
    len: u64,
}

impl OpenChunk {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.out
            .write_all(bytes)
            .await
            .map_err(|source| io("write", &self.tmp, source))?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    async fn pad(&mut self, size: u64) -> Result<(), ArchiveError> {
        let zeros = [0u8; BLOCK as usize];
        self.write(&zeros[..(padded(size) - size) as usize]).await
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            number: self.number,
            len: self.len,
            hasher: self.hasher.clone(),
        }
    }
}

/// A finished chunk (end blocks written, fsynced) still under its temporary name.
struct Sealed {
    number: u64,
    tmp: PathBuf,
    entry: ChunkEntry,
}

/// Where an entry began: undoing it cuts chunk `number` back to `len` bytes.
struct Checkpoint {
    number: u64,
    len: u64,
    hasher: Sha256,
}

/// The bytes of one blob as they arrive, hashed and counted.
struct Source<'a> {
    digest: &'a Digest,
    expected: u64,
    stream: ByteStream,
    leftover: Bytes,
    hasher: Sha256,
    received: u64,
}

impl Source<'_> {
    /// The next at most `max` bytes; an error when the stream ends first.
    async fn next_piece(&mut self, max: u64) -> Result<Bytes, ArchiveError> {
        while self.leftover.is_empty() {
            match self.stream.next().await {
                Some(Ok(bytes)) => self.leftover = bytes,
                Some(Err(source)) => {
                    return Err(ArchiveError::Source {
                        digest: self.digest.clone(),
                        source: Box::new(source),
                    });
                }
                None => {
                    return Err(ArchiveError::SourceSize {
                        digest: self.digest.clone(),
                        expected: self.expected,
                        found: self.received,
                    });
                }
            }
        }
        let n = self
            .leftover
            .len()
            .min(usize::try_from(max).unwrap_or(usize::MAX));
        let piece = self.leftover.split_to(n);
        self.hasher.update(&piece);
        self.received += n as u64;
        Ok(piece)
    }

    /// After `expected` bytes: the stream must end, and the digest must match.
    async fn finish(mut self) -> Result<(), ArchiveError> {
        let mut extra = self.leftover.len() as u64;
        while extra == 0 {
            match self.stream.next().await {
                Some(Ok(bytes)) => extra = bytes.len() as u64,
                Some(Err(source)) => {
                    return Err(ArchiveError::Source {
                        digest: self.digest.clone(),
                        source: Box::new(source),
                    });
                }
                None => break,
            }
        }
        if extra > 0 {
            return Err(ArchiveError::SourceSize {
                digest: self.digest.clone(),
                expected: self.expected,
                found: self.received + extra,
            });
        }
        let found = Digest::from_sha256(self.hasher.finalize().into());
        if found != *self.digest {
            return Err(ArchiveError::SourceDigest {
                digest: self.digest.clone(),
                found,
            });
        }
        Ok(())
    }
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> ArchiveError {
    ArchiveError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

async fn sync_dir(dir: &Path) -> Result<(), ArchiveError> {
    let d = File::open(dir)
        .await
        .map_err(|e| io("open the directory", dir, e))?;
    d.sync_all()
        .await
        .map_err(|e| io("sync the directory", dir, e))
}

/// Writes one archive's chunks into a directory.
pub struct ArchiveWriter {
    dir: PathBuf,
    limit: u64,
    split_blobs: bool,
    next_number: u64,
    current: Option<OpenChunk>,
    /// Chunks filled by the parts of the blob being written: sealed, but kept under their
    /// temporary names until the whole blob has verified.
    pending: Vec<Sealed>,
    done: Vec<ChunkEntry>,
    blobs: BTreeSet<Digest>,
    blob_bytes: u64,
    files: BTreeSet<String>,
    /// A failed entry could not be undone: the open chunk is not trustworthy any more.
    broken: bool,
}

impl ArchiveWriter {
    /// A writer whose first chunk is `airlift-<first_chunk_number>.tar` in `dir` (created if
    /// missing). Chunk files of the same numbers left by an earlier, interrupted pack are
    /// replaced. No file is created before the first entry.
    pub fn create(
        dir: &Path,
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
        std::fs::create_dir_all(dir).map_err(|e| io("create the directory", dir, e))?;
        Ok(ArchiveWriter {
            dir: dir.to_path_buf(),
            limit: archive_size,
            split_blobs,
            next_number: first_chunk_number,
            current: None,
            pending: Vec::new(),
            done: Vec::new(),
            blobs: BTreeSet::new(),
            blob_bytes: 0,
            files: BTreeSet::new(),
            broken: false,
        })
    }

    /// Blobs added so far (each digest once).
    pub fn blob_count(&self) -> u64 {
        self.blobs.len() as u64
    }

    /// Total size of the blobs added so far.
    pub fn blob_bytes(&self) -> u64 {
        self.blob_bytes
    }

    /// Streams a blob into the archive as `blobs/sha256/<hex>`, verifying `size` and `digest`
    /// on the way. A digest already in this archive is skipped (its stream is not read). A
    /// blob whose entry does not fit in one chunk is [`ArchiveError::BlobTooLarge`], unless
    /// the writer splits blobs: then it is written as `<hex>.part-0001`, `.part-0002`, … in
    /// consecutive entries across chunks. On any error nothing of the blob is kept and the
    /// writer can go on.
    pub async fn add_blob(
        &mut self,
        digest: &Digest,
        size: u64,
        stream: ByteStream,
    ) -> Result<(), ArchiveError> {
        self.usable()?;
        if self.blobs.contains(digest) {
            return Ok(());
        }
        let mut source = Source {
            digest,
            expected: size,
            stream,
            leftover: Bytes::new(),
            hasher: Sha256::new(),
            received: 0,
        };
        let path = blob_path(digest);
        let whole = entry_size(&path, size);
        if whole + END <= self.limit {
            self.make_room(whole).await?;
            let checkpoint = self.open_chunk().await?.checkpoint();
            let result = async {
                self.put(&headers(&path, size)).await?;
                self.copy(&mut source, size).await?;
                source.finish().await?;
                self.open_chunk().await?.pad(size).await
            }
            .await;
            self.settle(checkpoint, result).await?;
        } else if self.split_blobs {
            // A part needs a header and at least one data block.
            self.make_room(2 * BLOCK).await?;
            let checkpoint = self.open_chunk().await?.checkpoint();
            let result = self.write_parts(digest, size, source).await;
            self.settle(checkpoint, result).await?;
        } else {
            return Err(ArchiveError::BlobTooLarge {
                digest: digest.clone(),
                size,
                limit: self.limit,
            });
        }
        self.blobs.insert(digest.clone());
        self.blob_bytes += size;
        Ok(())
    }

    /// Adds a small file (`oci-layout`, `index.json`, `airlift/…`) at a relative path.
    pub async fn add_file(&mut self, path: &str, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.usable()?;
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
        self.make_room(needed).await?;
        let checkpoint = self.open_chunk().await?.checkpoint();
        let result = async {
            let chunk = self.open_chunk().await?;
            chunk.write(&headers(path, size)).await?;
            chunk.write(bytes).await?;
            chunk.pad(size).await
        }
        .await;
        self.settle(checkpoint, result).await?;
        self.files.insert(path.to_string());
        Ok(())
    }

    /// Ends the last chunk and returns every chunk of the archive in order. An archive with no
    /// entries still has one (empty) chunk.
    pub async fn finish(mut self) -> Result<Vec<ChunkEntry>, ArchiveError> {
        self.usable()?;
        match self.current.take() {
            Some(chunk) if chunk.len == 0 && !self.done.is_empty() => {
                drop(chunk.out);
                tokio::fs::remove_file(&chunk.tmp)
                    .await
                    .map_err(|e| io("remove", &chunk.tmp, e))?;
            }
            Some(chunk) => {
                self.current = Some(chunk);
                self.finish_chunk(false).await?;
            }
            None if self.done.is_empty() => {
                self.open_chunk().await?;
                self.finish_chunk(false).await?;
            }
            None => {}
        }
        Ok(self.done)
    }

    fn usable(&self) -> Result<(), ArchiveError> {
        if self.broken {
            Err(ArchiveError::Broken)
        } else {
            Ok(())
        }
    }

    /// The open chunk, opening the next one if none is.
    async fn open_chunk(&mut self) -> Result<&mut OpenChunk, ArchiveError> {
        if self.current.is_none() {
            let number = self.next_number;
            let tmp = self.dir.join(format!("{}{TMP_SUFFIX}", chunk_name(number)));
            let file = File::create(&tmp)
                .await
                .map_err(|e| io("create", &tmp, e))?;
            self.next_number += 1;
            self.current = Some(OpenChunk {
                number,
                tmp,
                out: BufWriter::with_capacity(WRITE_BUFFER, file),
                hasher: Sha256::new(),
                len: 0,
            });
        }
        self.current.as_mut().ok_or(ArchiveError::Broken)
    }

    /// Finishes the open chunk first when `needed` more bytes would not fit in it.
    async fn make_room(&mut self, needed: u64) -> Result<(), ArchiveError> {
        if let Some(chunk) = &self.current
            && chunk.len > 0
            && chunk.len + needed + END > self.limit
        {
            self.finish_chunk(false).await?;
        }
        Ok(())
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.open_chunk().await?.write(bytes).await
    }

    /// Copies exactly `n` bytes of `source` into the open chunk.
    async fn copy(&mut self, source: &mut Source<'_>, mut n: u64) -> Result<(), ArchiveError> {
        while n > 0 {
            let piece = source.next_piece(n).await?;
            self.put(&piece).await?;
            n -= piece.len() as u64;
        }
        Ok(())
    }

    /// Writes a blob as parts, each filling what is left of a chunk (in whole blocks).
    async fn write_parts(
        &mut self,
        digest: &Digest,
        size: u64,
        mut source: Source<'_>,
    ) -> Result<(), ArchiveError> {
        let mut part = 0;
        let mut remaining = size;
        while remaining > 0 {
            let len = self.open_chunk().await?.len;
            let room = (self.limit - END - len).saturating_sub(BLOCK) / BLOCK * BLOCK;
            if room == 0 {
                self.finish_chunk(true).await?;
                continue;
            }
            let n = remaining.min(room);
            part += 1;
            self.put(&headers(&part_path(digest, part), n)).await?;
            self.copy(&mut source, n).await?;
            self.open_chunk().await?.pad(n).await?;
            remaining -= n;
            if remaining > 0 {
                self.finish_chunk(true).await?;
            }
        }
        source.finish().await
    }

    /// Seals the open chunk; `defer` keeps it under its temporary name (a split blob is still
    /// being written), otherwise it is renamed to its final name now.
    async fn finish_chunk(&mut self, defer: bool) -> Result<(), ArchiveError> {
        let Some(mut chunk) = self.current.take() else {
            return Ok(());
        };
        chunk.write(&[0; END as usize]).await?;
        chunk
            .out
            .flush()
            .await
            .map_err(|e| io("write", &chunk.tmp, e))?;
        chunk
            .out
            .into_inner()
            .sync_all()
            .await
            .map_err(|e| io("sync", &chunk.tmp, e))?;
        let sealed = Sealed {
            number: chunk.number,
            entry: ChunkEntry {
                name: chunk_name(chunk.number),
                size: chunk.len,
                sha256: Digest::from_sha256(chunk.hasher.finalize().into()),
            },
            tmp: chunk.tmp,
        };
        if defer {
            self.pending.push(sealed);
            Ok(())
        } else {
            self.publish(vec![sealed]).await
        }
    }

    /// Renames sealed chunks to their final names and makes the renames durable.
    async fn publish(&mut self, sealed: Vec<Sealed>) -> Result<(), ArchiveError> {
        if sealed.is_empty() {
            return Ok(());
        }
        for chunk in sealed {
            let target = self.dir.join(&chunk.entry.name);
            tokio::fs::rename(&chunk.tmp, &target)
                .await
                .map_err(|e| io("rename a finished chunk to", &target, e))?;
            self.done.push(chunk.entry);
        }
        sync_dir(&self.dir).await
    }

    /// Keeps a written entry (publishing the chunks its parts filled), or undoes a failed one.
    async fn settle(
        &mut self,
        checkpoint: Checkpoint,
        result: Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        match result {
            Ok(()) => {
                let pending = std::mem::take(&mut self.pending);
                let published = self.publish(pending).await;
                if published.is_err() {
                    self.broken = true;
                }
                published
            }
            Err(e) => {
                if self.rollback(checkpoint).await.is_err() {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }

    /// Deletes the chunks opened since `checkpoint` and cuts its chunk back to where it was.
    async fn rollback(&mut self, checkpoint: Checkpoint) -> Result<(), ArchiveError> {
        let mut restored = None;
        if let Some(chunk) = self.current.take() {
            if chunk.number == checkpoint.number {
                // Everything buffered reaches the file (what precedes the checkpoint must), then
                // the file is cut back.
                let mut out = chunk.out;
                out.flush().await.map_err(|e| io("write", &chunk.tmp, e))?;
                restored = Some((chunk.tmp, out.into_inner()));
            } else {
                let mut file = chunk.out.into_inner();
                // Lets a write still in flight land before the file goes.
                let _ = file.flush().await;
                drop(file);
                tokio::fs::remove_file(&chunk.tmp)
                    .await
                    .map_err(|e| io("remove", &chunk.tmp, e))?;
            }
        }
        for sealed in std::mem::take(&mut self.pending) {
            if sealed.number == checkpoint.number {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&sealed.tmp)
                    .await
                    .map_err(|e| io("reopen", &sealed.tmp, e))?;
                restored = Some((sealed.tmp, file));
            } else {
                tokio::fs::remove_file(&sealed.tmp)
                    .await
                    .map_err(|e| io("remove", &sealed.tmp, e))?;
            }
        }
        let (tmp, mut file) = restored.ok_or(ArchiveError::Broken)?;
        file.set_len(checkpoint.len)
            .await
            .map_err(|e| io("truncate", &tmp, e))?;
        file.seek(SeekFrom::Start(checkpoint.len))
            .await
            .map_err(|e| io("seek in", &tmp, e))?;
        self.current = Some(OpenChunk {
            number: checkpoint.number,
            tmp,
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: checkpoint.hasher,
            len: checkpoint.len,
        });
        self.next_number = checkpoint.number + 1;
        Ok(())
    }
}

/// Removes `airlift-NNNNNN.tar.tmp` files an interrupted pack left in `dir`; returns how many.
/// A missing directory has none.
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
        if name
            .strip_suffix(TMP_SUFFIX)
            .and_then(chunk_number)
            .is_some()
        {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}
