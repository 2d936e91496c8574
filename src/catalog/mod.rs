//! Operator catalogs (file-based catalogs, FBC): model, parsing, channel graphs, filtering by
//! the oc-mirror v2 scenario table, reproducible rebuild layers, and `list operators` output.
//!
//! Registry-free: callers feed configs files (or layer tarballs) in and take layer blobs and
//! rewritten config/manifest bytes out. Does not use `crate::recipe`.

mod deps;
mod error;
mod fbc;
mod filter;
mod graph;
mod image;
mod list;
mod parse;
mod prune;
mod rebuild;
mod semver_range;
pub mod sqlite;
mod tarball;
mod validate;

pub use error::{FilterError, GraphError, ObjectAt, ParseError};
pub use fbc::{Bundle, Catalog, Channel, ChannelEntry, Package, RelatedImage};
pub use filter::{
    CatalogFilter, ChannelFilter, FilterErrors, Filtered, Heads, KeptBundle, PackageFilter, Pulled,
    filter_catalog,
};
pub use graph::{ChannelGraph, EdgeKind, EdgeRule};
pub use image::{
    CONFIGS_LABEL, DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, RebuildError, Replacement, update_config,
    update_index, update_manifest,
};
pub use list::{render_bundles, render_package, render_packages};
pub use parse::{parse_catalog, read_configs_dir};
pub use rebuild::{CACHE_DIR_MODE, LayerBlob, RebuildOptions, rebuild_layers};
pub use semver_range::{RangeError, VersionRange, parse_version};
pub use tarball::{EntryInfo, LayerError, configs_from_layers, list_entries};
