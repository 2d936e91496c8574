//! Tasks the executor runs: copy and verify-signature (release payloads).

mod attach;
mod blobs;
mod copy;
mod verify;

pub use copy::{
    Copied, CopyContext, CopyError, CopyJob, CopySummary, Counts, JobOutcome, SparseIndex, copy_all,
};
pub use verify::{VerifyError, saved_signatures, verify_release_payload};
