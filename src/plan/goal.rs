//! Goals: what each target must hold, expanded from the recipe. The planner turns goals into
//! tasks; keeping this intermediate form lets planner tests build goals directly.

use super::{Destination, NamingError, destination_for, named_destination};
use crate::oci::ImageRef;
use crate::resources::Category;

/// One target and the images it must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGoal {
    pub name: String,
    pub dest: Destination,
    pub items: Vec<GoalItem>,
    /// Release sets the target carries; discovery turns them into items
    /// (see [`super::release_items`]).
    pub releases: Vec<ReleaseNeed>,
}

/// A release set a target carries, and where its content comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseNeed {
    pub set: String,
    /// The target whose output the release is copied from; `None` means the original source.
    pub via: Option<String>,
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
    /// What the image is for in cluster resources (release, operator, generic).
    pub category: Category,
    /// An explicit destination name below the target (release payloads and components,
    /// catalogs); `None` keeps the source path and tag (DESIGN §5).
    pub dest_name: Option<DestName>,
}

/// `<target>/<path>:<tag>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestName {
    pub path: String,
    pub tag: String,
}

impl GoalItem {
    /// A plain image of an `images` set, named after its source.
    pub fn image(set: &str, origin: ImageRef, via: Option<String>) -> Self {
        GoalItem {
            set: set.to_string(),
            origin,
            via,
            platforms: None,
            category: Category::Generic,
            dest_name: None,
        }
    }

    /// Where this item lives at a target.
    pub fn dest(&self, dst: &Destination) -> Result<ImageRef, NamingError> {
        match &self.dest_name {
            Some(n) => named_destination(dst, &n.path, &n.tag),
            None => destination_for(dst, &self.origin),
        }
    }
}
