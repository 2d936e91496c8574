//! Helm charts: where they come from (classic `index.yaml` repositories, OCI repositories,
//! local archives and directories), how a chart is read and rendered, which images it deploys,
//! and the OCI artifact a chart becomes at a registry.

pub mod artifact;
mod chart;
mod images;
mod render;
pub mod repo;
pub mod template;

pub use chart::{Chart, package_dir};
pub use images::{ImagePath, parse_found};
pub use render::chart_images;
