//! Tasks the executor runs: copy, prune-catalog, verify-signature (release payloads),
//! verify-cosign (cosign signatures of images) and the
//! graph-data image push.

mod attach;
mod blobs;
mod copy;
mod cosign;
mod graph_image;
mod prune;
mod verify;

pub use copy::{
    Copied, CopyContext, CopyError, CopyJob, CopySummary, Counts, JobOutcome, SparseIndex, copy_all,
};
pub use cosign::{CosignVerifyError, verify_cosign_image};
pub use graph_image::{
    BaseSource, GraphBaseError, GraphBaseImage, push_graph_image, read_graph_base,
};
pub use prune::{PlacedBlobs, PruneError, Pruned, prune_catalog};
pub use verify::{VerifyError, saved_signatures, verify_release_payload};
