//! The planner: goals + discovery + state → an ordered DAG of tasks with keys and freshness,
//! and destination naming. Pure: no network, no files, never a registry client.

mod build;
mod catalog;
mod cosign;
mod expand;
pub mod explain;
mod goal;
mod key;
mod naming;
mod release;
mod task;

pub use build::{Plan, PlanOptions, RecordedState, build};
pub use catalog::{
    InvalidBundleImage, add_catalog_items, filter_diagnostics, filter_json, filter_of,
};
pub use cosign::{CosignTrusts, add_cosign_verification, cosign_record_dest};
pub use expand::{Unsupported, expand};
pub use goal::{CatalogGoal, DestName, GoalItem, ReleaseNeed, TargetGoal};
pub use key::{KEY_VERSION, TaskKey};
pub use naming::{
    Destination, LAYOUT_REGISTRY, NamingError, catalog_destination, destination_for, fold_path,
    graph_image, layout_reference, named_destination, release_component, release_payload,
};
pub use release::{
    add_release_items, add_verification, items_of as release_items, payload_after_components,
    payloads_by_target, verify_record_dest,
};
pub use task::{
    CatalogInput, CopySpec, CosignKeyRef, CosignSpec, DirtyReason, Freshness, PruneSpec, Task,
    TaskId, TaskKind, VerifySpec,
};

#[cfg(test)]
mod tests;
