//! Cluster resources: what points a cluster (or a podman/CRI-O host, or the installer) at the
//! mirror, rendered purely from what a target holds; plus `convert-icsp`.
//!
//! Rendering is pure ([`render`], [`convert_icsp`]); only [`write_dir`] writes files. This
//! module does not read recipes, state or registries: callers pass [`MirroredImage`] values.

mod catalog_source;
mod convert_icsp;
mod group;
mod held;
mod icsp;
mod idms;
mod install_config;
mod model;
mod registries_conf;
mod render;
mod signatures;
mod update_service;
mod write;
mod yaml;
pub(crate) mod yaml_span;

pub use catalog_source::{
    CATALOG_SOURCE_NAMESPACE, CatalogSourceError, MirroredCatalog, catalog_resource_names,
    render_catalog_sources,
};
pub use convert_icsp::{
    ConvertError, ConvertErrorKind, Converted, convert_icsp, convert_icsp_objects,
};
pub use held::{HeldError, HeldInput, RenderedTarget, render_held};
pub use model::{
    Category, MirrorScope, MirroredImage, Rendered, ResourceError, ResourceOptions, SourcePolicy,
};
pub use render::render;
pub use signatures::{
    CONFIGMAP_LIMIT, SIGNATURE_CONFIGMAP, SIGNATURE_LABEL, SIGNATURE_NAMESPACE,
    render_signature_configmaps,
};
pub use update_service::{
    UPDATE_SERVICE_FILE, UPDATE_SERVICE_NAME, UPDATE_SERVICE_NAMESPACE, render_update_service,
};
pub use write::{dir_digest, make_readable, write_dir};
pub use yaml::{
    CREATED_ANNOTATION, CREATED_BY, TARGET_ANNOTATION, join_documents, rfc3339_utc, to_yaml,
};
