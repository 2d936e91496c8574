//! Discovery: read-only resolution of what the recipe names (tags → digests, indexes → children
//! and blobs) and probes of what destinations hold. The data types here are what the planner
//! consumes; the network side fills them and never writes.

mod model;

pub use model::{Discovery, ResolvedImage};
