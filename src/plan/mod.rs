//! The pure planner: turns a recipe and its discovery into tasks. Only destination naming
//! lives here so far; it does no I/O and never sees a registry client.

mod naming;

pub use naming::{
    Destination, NamingError, catalog_destination, destination_for, fold_path, graph_image,
    release_component, release_payload,
};
