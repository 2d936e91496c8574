//! Tasks the executor runs. Only the copy task exists so far.

mod attach;
mod blobs;
mod copy;

pub use copy::{
    Copied, CopyContext, CopyError, CopyJob, CopySummary, Counts, JobOutcome, SparseIndex, copy_all,
};
