//! Goals: what each target must hold, expanded from the recipe. The planner turns goals into
//! tasks; keeping this intermediate form lets planner tests build goals directly.

use std::path::PathBuf;

use super::{Destination, NamingError, catalog_destination, destination_for, named_destination};
use crate::catalog::CatalogFilter;
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
    /// Helm chart sets the target carries; discovery reads their charts, whose images join
    /// `items` (see [`super::expanded_goal`]).
    pub charts: Vec<ChartNeed>,
    /// Operator catalogs this target mirrors (rebuilt, filtered); their bundle and related
    /// images join `items` once discovery has filtered the catalogs.
    pub catalogs: Vec<CatalogGoal>,
    /// `oci://DIR`: the target is this OCI image layout directory (its images are named below
    /// [`super::LAYOUT_REGISTRY`]); `None` for a registry.
    pub layout: Option<PathBuf>,
    /// `file://DIR`: the target is a series of archives in this directory; its images are
    /// written to a staging layout in the workspace first, then packed.
    pub archive: Option<ArchiveGoal>,
    /// Archive (`file://`) targets this target needs, by name, with their directories: items
    /// `via` one of them are unpacked from its archives (disk-to-mirror).
    pub archive_inputs: std::collections::BTreeMap<String, PathBuf>,
}

/// An archive (`file://`) target's directory and chunk limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveGoal {
    pub dir: PathBuf,
    /// `archive-size`; `None` is unlimited.
    pub chunk_size: Option<u64>,
}

/// A release set a target carries, and where its content comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReleaseNeed {
    pub set: String,
    /// The target whose output the release is copied from; `None` means the original source.
    pub via: Option<String>,
}

/// A Helm chart set a target carries, and where its content comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChartNeed {
    pub set: String,
    /// The target whose output the chart images are copied from; `None` means the sources.
    pub via: Option<String>,
}

/// One operator catalog a target mirrors: the source catalog image and its destination name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogGoal {
    /// The `catalog` set's name.
    pub set: String,
    /// The catalog image as the recipe names it.
    pub source: ImageRef,
    /// `rename "path"` (targetCatalog).
    pub rename: Option<String>,
    /// `rename … tag="…"` (targetTag).
    pub tag: Option<String>,
    /// What to keep, mapped from the set's `full` and `package` nodes.
    pub filter: CatalogFilter,
    /// The target whose rebuilt catalog this target copies (`needs "other-target"`); `None`
    /// means this target rebuilds the catalog from its source.
    pub via: Option<String>,
    /// `oci://DIR`: the catalog is read from this OCI image layout; `source` is then the name
    /// airlift gives it (see [`super::layout_reference`]).
    pub layout: Option<PathBuf>,
    /// The directory of the archive (`file://`) target `via` names: on a side that does not
    /// build that target, the catalog is read from its archives and rebuilt here.
    pub archive: Option<PathBuf>,
}

impl CatalogGoal {
    /// `<dst>/<rename or source path>:<rename tag or source tag>` (`sha256-<hex>` for a
    /// digest-only source without a rename tag).
    pub fn dest(&self, dst: &Destination) -> Result<ImageRef, NamingError> {
        catalog_destination(
            dst,
            &self.source,
            self.rename.as_deref(),
            self.tag.as_deref(),
        )
    }
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
