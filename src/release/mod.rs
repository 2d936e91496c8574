//! OpenShift releases: the update graph (Cincinnati) client and its stored responses, version
//! selection over channels, release-payload component collection, the graph-data image and
//! `list releases` output.
//!
//! Everything here except [`fetch`] is pure: it works on bytes the caller fetched (graph
//! responses, payload layer blobs, the graph-data tarball). [`fetch`] is the only file that
//! opens network connections or writes files (the response cache). This module never talks to
//! a registry: the copy engine fetches manifests and blobs and hands the bytes over.

pub mod extract;
mod fetch;
mod graph;
mod graph_image;
mod layers;
mod list;
mod naming;
mod payload;
mod select;

pub use fetch::{
    DEFAULT_GRAPH_DATA_URL, DEFAULT_GRAPH_URL, FetchError, GRAPH_DATA_FILE, GraphCache,
    GraphClient, GraphSource, UPDATE_URL_ENV, fetch_graph_data, graph_url, load_graph_data,
    load_graphs,
};
pub use graph::{ConditionalEdge, GraphError, GraphNode, UpdateGraph};
pub use graph_image::{
    BuiltImage, Descriptor, GRAPH_DATA_DIR, GRAPH_IMAGE_CMD, GraphDataLayer, GraphImageError,
    build_graph_data_layer, image_from_scratch, image_on_base,
};
pub use layers::LayerError;
pub use list::{list_channels, list_versions};
pub use naming::{
    GRAPH_IMAGE_REPO, RELEASE_COMPONENT_REPO, RELEASE_PAYLOAD_REPO, component_destination,
    graph_image_destination, payload_destination, release_tag,
};
pub use payload::{
    BOOTIMAGES_FILE, IMAGE_REFERENCES_FILE, KUBEVIRT_COMPONENT, PayloadError, PayloadReader,
    RELEASE_METADATA_FILE, ReleaseComponents, read_payload, read_payload_from,
};
pub use select::{
    ChannelRequest, DirectPayload, SelectError, SelectedRelease, Selection, helper_channels,
    recipe_error, requests_of, select, select_release_set,
};
