//! Goals: what each target must hold, expanded from the recipe. The planner turns goals into
//! tasks; keeping this intermediate form lets planner tests build goals directly.

use super::Destination;
use crate::oci::ImageRef;

/// One target and the images it must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGoal {
    pub name: String,
    pub dest: Destination,
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
