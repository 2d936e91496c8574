//! OCI vocabulary shared by every other module: digests, image references, media types.
//!
//! Values here are validated once, at the boundary where text enters airlift, and are typed
//! from then on. This module does no I/O.

mod digest;
mod media;
mod reference;

pub use digest::{Digest, DigestError};
pub use media::MediaType;
pub use reference::{
    ImageRef, ReferenceError, Repository, is_registry_host, is_repository_path, registry_name,
};
