//! Goals: what each target must hold, expanded from the recipe. The planner turns goals into
//! tasks; keeping this intermediate form lets planner tests build goals directly.

use crate::oci::ImageRef;

/// A registry destination root: `registry[/namespace]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestRoot {
    pub registry: String,
    pub namespace: String,
}

/// One target and the images it must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGoal {
    pub name: String,
    pub dest: DestRoot,
    pub max_nested_paths: Option<u32>,
    pub items: Vec<GoalItem>,
}

/// One image a target must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalItem {
    /// The content set that names it.
    pub set: String,
    /// The image as the recipe names it.
    pub origin: ImageRef,
    /// The target whose output this item is copied from (`needs "other-target"`); `None` means
    /// the original source.
    pub via: Option<String>,
    pub platforms: Option<Vec<String>>,
}
