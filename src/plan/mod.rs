//! The planner: recipe + goals + discovery + state → the complete, ordered DAG of a build, with
//! keys and freshness, and destination naming. Pure: no network, no files, never a registry
//! client.

mod build;
mod catalog;
mod cosign;
pub mod delete;
mod expand;
pub mod explain;
mod goal;
mod helm;
mod items;
mod key;
mod naming;
mod outputs;
mod release;
pub mod shard;
mod task;

pub use crate::task::{CopySpec, CosignKeyRef, CosignSpec, PruneSpec, VerifySpec};
pub use build::{
    BlobHomes, Outputs, Plan, PlanOptions, PresentBlobs, RecordedState, build, staging_layout,
};
pub use catalog::{InvalidBundleImage, filter_diagnostics, filter_json, filter_of};
pub use cosign::CosignTrusts;
pub use expand::{Unsupported, expand};
pub use goal::{ArchiveGoal, CatalogGoal, ChartNeed, DestName, GoalItem, ReleaseNeed, TargetGoal};
pub use items::{
    blocked_images, expand_all as expand_items, expanded as expanded_goal, is_blocked,
};
pub use key::{KEY_VERSION, TaskKey};
pub use naming::{
    Destination, LAYOUT_REGISTRY, NamingError, catalog_destination, destination_for, fold_path,
    graph_image, layout_reference, named_destination, release_component, release_payload,
};
pub use outputs::{graph_set, render_spec};
pub use release::{items_of as release_items, payloads_by_target};
pub use shard::{ForeignBlobs, Shard, ShardShare};
pub use task::{DirtyReason, Freshness, Task, TaskId, TaskKind};

#[cfg(test)]
mod tests;
