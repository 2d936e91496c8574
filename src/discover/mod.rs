//! Discovery: read-only resolution of what the recipe names (tags → digests, indexes → children
//! and blobs, release channels → payloads → components) and probes of what destinations hold. The data types here are what the planner
//! consumes; the network side fills them and writes nothing but the manifest cache.

mod cache;
mod catalog;
mod layout;
mod model;
mod release;
mod resolve;
mod spool;

pub use cache::ManifestCache;
pub use catalog::{
    CatalogDiscoveryError, CatalogImage, CatalogReadError, DiscoveredCatalogs, FetchedCatalog,
    PlatformImage, RawManifest, discover_catalogs, fetch_catalog,
};
pub use layout::{fetch_layout, layout_blob_path, open_verified};
pub use model::{
    ChartSource, DiscoveredChart, DiscoveredRelease, Discovery, GraphInput, ReleaseTrust,
    ResolvedImage,
};
pub use release::{ReleaseDiscoveryError, read_releases, select_releases, stored_releases};
pub use resolve::{DiscoverOptions, Lookup, Resolution, Sides, discover};
pub use spool::{SpoolError, image_layers, spool_blob};
