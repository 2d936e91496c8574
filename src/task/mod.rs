//! Tasks the executor runs: copy and prune-catalog.

mod attach;
mod blobs;
mod copy;
mod prune;

pub use copy::{
    Copied, CopyContext, CopyError, CopyJob, CopySummary, Counts, JobOutcome, SparseIndex, copy_all,
};
pub use prune::{PlacedBlobs, PruneError, Pruned, prune_catalog};
