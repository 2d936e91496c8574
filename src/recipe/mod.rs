//! Recipes: KDL v2 files declaring content sets, trusts, targets and deletes, decoded by hand
//! into typed structs that keep spans, validated as a whole, with every error reported at once
//! as a miette diagnostic.
//!
//! Re-exports only. Reads files (`load`) but never touches the network or the workspace.

mod decode;
mod decode_sets;
mod decode_targets;
mod decode_values;
mod diagnostics;
mod load;
mod mapping;
mod model;
mod size;
mod summary;
mod validate;

pub use decode_sets::ARCHES;
pub use diagnostics::{ErrorClass, FileId, RecipeError, RecipeErrors, SourceFile, closest};
pub use load::{load, parse_str};
pub use model::{
    CatalogRename, CatalogSet, CatalogSource, ChartRender, ChartRepoUrl, ChartVersion, ContentSet,
    DEFAULT_GRAPH_BASE_IMAGE, Delete, DeleteCatalog, DeleteRelease, GraphBase, HelmChart,
    HelmLocal, HelmRepository, HelmSet, ImageSet, MAX_REGISTRY_CONCURRENCY, Mapped, MirrorScope,
    MirrorSourcePolicy, Need, Origin, Package, PackageChannel, Recipe, RegistrySettings,
    ReleaseChannel, ReleaseSet, Spanned, Target, TargetLocation, Trust,
};
pub use size::{ByteSize, SizeError, UNITS};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
