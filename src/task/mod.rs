//! What the executor runs. [`kinds`] holds the task kinds of the DAG, one self-contained file
//! each (spec, key, freshness check, run, journal record); the other modules are their
//! mechanics: the copy engine, blob copies and attachments, catalog rebuilds, signature checks
//! and the graph-data image push.

mod attach;
mod blobs;
mod copy;
mod cosign;
mod graph_image;
pub mod kinds;
mod prune;
mod verify;

pub use copy::{
    Copied, CopyContext, CopyEngine, CopyError, CopyJob, CopySummary, Counts, JobOutcome,
    SparseIndex, copy_all,
};
pub use cosign::{CosignVerifyError, verify_cosign_image};
pub use graph_image::{
    BaseSource, GraphBaseError, GraphBaseImage, push_graph_image, read_graph_base,
};
pub use kinds::{
    CatalogInput, Check, CopySpec, CosignKeyRef, CosignSpec, GraphImageSpec, Inputs, KeyFile,
    Loaded, LockSpec, Output, PruneSpec, RenderSpec, RunCx, TaskError, TaskKind, VerifySpec,
};
pub use prune::{PlacedBlobs, PruneError, Pruned, prune_catalog};
pub(crate) use prune::{Placement, copy_blob};
pub use verify::{VerifyError, saved_signatures, verify_release_payload};

/// The value of `key` in `map`, inserted as the default on first use; later look-ups do not
/// copy `key` (the copy engine's per-registry and per-repository maps are asked once per blob).
pub(crate) fn get_or_default<'m, K, Q, V>(
    map: &'m mut std::collections::HashMap<K, V>,
    key: &Q,
) -> &'m mut V
where
    K: std::borrow::Borrow<Q> + Eq + std::hash::Hash,
    Q: ToOwned<Owned = K> + Eq + std::hash::Hash + ?Sized,
    V: Default,
{
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}
