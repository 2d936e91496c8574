//! `ArchiveError`: everything that can go wrong writing, indexing or reading an air-gap archive.
//! Messages name the chunk, entry, path or digest involved; every help says what to do next.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::oci::Digest;
use crate::registry::RegistryError;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ArchiveError {
    #[error("cannot {action} {}", path.display())]
    #[diagnostic(
        code(airlift::archive::io),
        help(
            "check that the archive directory exists, is writable (packing) or readable (unpacking) and has free space, then rerun"
        )
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not a valid airlift archive index", path.display())]
    #[diagnostic(
        code(airlift::archive::index),
        help(
            "airlift-index.json was damaged or edited; copy it again from the connected side (it is rewritten by every pack)"
        )
    )]
    IndexParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{} has index format {found}; this airlift reads format 1", path.display())]
    #[diagnostic(
        code(airlift::archive::index_format),
        help(
            "the archive was written by another airlift version; unpack it with the airlift version that packed it"
        )
    )]
    IndexFormat { path: PathBuf, found: u64 },

    #[error(
        "archive {sequence} lists chunk `{name}`, which is not a name of the form airlift-NNNNNN.tar"
    )]
    #[diagnostic(
        code(airlift::archive::chunk_name),
        help("airlift-index.json was damaged or edited; copy it again from the connected side")
    )]
    ChunkName { sequence: u64, name: String },

    #[error("archive {sequence} records id {recorded}, but its chunk checksums give {computed}")]
    #[diagnostic(
        code(airlift::archive::id),
        help("airlift-index.json was damaged or edited; copy it again from the connected side")
    )]
    ArchiveId {
        sequence: u64,
        recorded: Digest,
        computed: Digest,
    },

    #[error("chunk {name} of archive {sequence} is missing")]
    #[diagnostic(
        code(airlift::archive::missing_chunk),
        help(
            "copy {name} again from the connected side into the archive directory (next to airlift-index.json)"
        )
    )]
    MissingChunk { sequence: u64, name: String },

    #[error("chunk {name} is truncated: {found} bytes, the index records {expected}")]
    #[diagnostic(
        code(airlift::archive::truncated),
        help("the copy of {name} was interrupted; copy it again from the connected side")
    )]
    Truncated {
        name: String,
        expected: u64,
        found: u64,
    },

    #[error("chunk {name} is {found} bytes, longer than the {expected} the index records")]
    #[diagnostic(
        code(airlift::archive::oversized),
        help(
            "{name} was modified or belongs to another archive; copy it again from the connected side"
        )
    )]
    Oversized {
        name: String,
        expected: u64,
        found: u64,
    },

    #[error("chunk {name} has sha256 {found}, the index records {expected}")]
    #[diagnostic(
        code(airlift::archive::chunk_checksum),
        help(
            "{name} was corrupted in transfer or storage; copy it again from the connected side (`sha256sum {name}` must print the recorded value)"
        )
    )]
    ChunkChecksum {
        name: String,
        expected: Digest,
        found: Digest,
    },

    #[error("chunk {chunk} is not a readable tar archive: {reason}")]
    #[diagnostic(
        code(airlift::archive::malformed),
        help(
            "the chunk matches its recorded checksum, so it was written this way; pack the archive again on the connected side"
        )
    )]
    Malformed { chunk: String, reason: String },

    #[error("chunk {chunk} holds an unsafe entry `{path}`: {reason}")]
    #[diagnostic(
        code(airlift::archive::unsafe_entry),
        help(
            "airlift archives hold only regular files and directories under relative paths; this chunk was not written by airlift or was tampered with. Nothing was unpacked: pack the archive again on the connected side"
        )
    )]
    UnsafeEntry {
        chunk: String,
        path: String,
        reason: String,
    },

    #[error("blob {digest} in the archive has content with digest {found}")]
    #[diagnostic(
        code(airlift::archive::blob_digest),
        help(
            "the blob was corrupted before it was packed; pack the archive again on the connected side (the copy there verifies every blob)"
        )
    )]
    BlobDigest { digest: Digest, found: Digest },

    #[error("the archive holds no file `{path}`")]
    #[diagnostic(
        code(airlift::archive::missing_file),
        help(
            "the archive was packed without it; pack it again on the connected side with this airlift version"
        )
    )]
    MissingFile { path: String },

    #[error("`{path}` cannot be stored in an archive: {reason}")]
    #[diagnostic(
        code(airlift::archive::invalid_path),
        help(
            "archive paths are relative, `/`-separated, without `.`, `..` or empty components, and blobs go through add_blob"
        )
    )]
    InvalidPath { path: String, reason: &'static str },

    #[error("`{path}` was added to the archive twice")]
    #[diagnostic(
        code(airlift::archive::duplicate_file),
        help("add every archive file once")
    )]
    DuplicateFile { path: String },

    #[error("blob {digest} is {size} bytes and does not fit in one {limit}-byte chunk")]
    #[diagnostic(
        code(airlift::archive::blob_too_large),
        help(
            "raise archive-size above the largest blob (plus 1536 bytes of tar headers), or pass --split-blobs to let large blobs span chunks"
        )
    )]
    BlobTooLarge {
        digest: Digest,
        size: u64,
        limit: u64,
    },

    #[error("file `{path}` is {size} bytes and does not fit in one {limit}-byte chunk")]
    #[diagnostic(
        code(airlift::archive::file_too_large),
        help("raise archive-size above the file's size plus a few KiB of tar headers")
    )]
    FileTooLarge { path: String, size: u64, limit: u64 },

    #[error("archive-size {size} is below the minimum of {min} bytes")]
    #[diagnostic(
        code(airlift::archive::archive_size),
        help("set archive-size to at least {min} bytes (real media sizes are GiB)")
    )]
    ArchiveSizeTooSmall { size: u64, min: u64 },

    #[error("blob {digest}: expected {expected} bytes, the source sent {found}")]
    #[diagnostic(
        code(airlift::archive::source_size),
        help(
            "the source does not hold the content the manifest describes; nothing of this blob was kept. Check the source registry and rerun"
        )
    )]
    SourceSize {
        digest: Digest,
        expected: u64,
        found: u64,
    },

    #[error("blob {digest}: the source sent content with digest {found}")]
    #[diagnostic(
        code(airlift::archive::source_digest),
        help(
            "the content is corrupt or was replaced at the source (or a proxy in between); nothing of this blob was kept. Check the source and rerun"
        )
    )]
    SourceDigest { digest: Digest, found: Digest },

    #[error("blob {digest}: reading the source failed: {source}")]
    #[diagnostic(
        code(airlift::archive::source),
        help(
            "nothing of this blob was kept; fix what the message names (registry reachable, file readable) and rerun"
        )
    )]
    Source {
        digest: Digest,
        #[source]
        source: Box<RegistryError>,
    },

    #[error("blob {digest} is not in the archive's layout")]
    #[diagnostic(
        code(airlift::archive::not_in_layout),
        help("this is a bug in airlift: every blob is laid out before it is written")
    )]
    NotInLayout { digest: Digest },

    #[error("a worker writing the archive stopped unexpectedly")]
    #[diagnostic(
        code(airlift::archive::broken),
        help(
            "pack the archive again: the next pack resumes from the temporary airlift-*.tar.tmp chunks"
        )
    )]
    Broken,
}
