//! Air-gap archives on disk (DESIGN §8): the format of a `file://DIR` target.
//!
//! DIR holds a series of archives (sequence 1, 2, …; a later one usually carries only blobs the
//! earlier ones did not) as tar chunks `airlift-NNNNNN.tar`, each at most `archive-size` bytes
//! and numbered globally across the series, plus `airlift-index.json` ([`SeriesIndex`]) listing
//! every archive's chunks with their sizes and sha256. Inside the chunks: an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`, large blobs optionally split into
//! `<hex>.part-NNNN` entries across chunks) and airlift's own files under `airlift/`.
//!
//! [`ArchiveLayout`] places every entry first, then [`ArchiveWriter`] streams blobs from their
//! sources into their places in the chunks, in parallel, verifying each one, crash-safely;
//! [`ArchiveReader`] verifies a whole archive (chunk checksums, entry safety, blob digests)
//! before it serves a single byte. This module only reads and writes files in DIR: it never
//! talks to a registry (blobs come in and go out as [`ByteStream`](crate::registry::ByteStream)s
//! the caller connects), and it never touches the workspace, the plan or the terminal.

mod carried;
mod error;
mod index;
mod layout;
mod reader;
mod set;
mod writer;

#[cfg(test)]
mod tests;

pub use carried::{
    CARRIED_FILE, CHARTS_PREFIX, Carried, CarriedCatalog, CarriedChart, CarriedGraph,
    CarriedRelease, GRAPH_DATA_FILE, SIGNATURES_PREFIX, chart_file,
};
pub use error::ArchiveError;
pub use index::{ArchiveEntry, ChunkEntry, INDEX_FORMAT, ImageEntry, SeriesIndex, archive_id};
pub use layout::{INDEX_FILE, blob_path, chunk_name, chunk_number};
pub use reader::ArchiveReader;
pub use set::{ArchiveSet, SeriesError, WriteLock};
pub use writer::{ArchiveLayout, ArchiveWriter, MIN_ARCHIVE_SIZE, clean_temporaries};
