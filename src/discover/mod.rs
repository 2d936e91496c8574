//! Discovery: read-only resolution of what the recipe names (tags → digests, indexes → children
//! and blobs) and probes of what destinations hold. The data types here are what the planner
//! consumes; the network side fills them and writes nothing but the manifest cache.

mod cache;
mod catalog;
mod model;
mod resolve;

pub use cache::ManifestCache;
pub use catalog::{
    CatalogDiscoveryError, CatalogImage, CatalogReadError, DiscoveredCatalogs, FetchedCatalog,
    PlatformImage, RawManifest, discover_catalogs, fetch_catalog,
};
pub use model::{Discovery, ResolvedImage};
pub use resolve::{DiscoverOptions, Sides, discover};
