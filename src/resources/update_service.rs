//! The `update-service` UpdateService (`updateservice.operator.openshift.io/v1`) that points
//! the OpenShift Update Service operator at the mirrored release payloads and graph-data image,
//! written when a release set has `graph #true`.
//!
//! Pure: repository and digest in, YAML text out. The graph-data image is always referenced by
//! digest, so the service never follows a moved tag. No I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{ResourceError, ResourceOptions};
use super::yaml::{metadata, to_yaml};
use crate::oci::{Digest, Repository};

/// File name, as oc-mirror v2 writes it.
pub const UPDATE_SERVICE_FILE: &str = "updateService.yaml";
pub const UPDATE_SERVICE_NAME: &str = "update-service";
pub const UPDATE_SERVICE_NAMESPACE: &str = "openshift-update-service";
const API_VERSION: &str = "updateservice.operator.openshift.io/v1";

#[derive(Debug, Serialize)]
struct Document {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, Serialize)]
struct Metadata {
    annotations: BTreeMap<String, String>,
    name: &'static str,
    namespace: &'static str,
}

#[derive(Debug, Serialize)]
struct Spec {
    #[serde(rename = "graphDataImage")]
    graph_data_image: String,
    releases: String,
    replicas: u32,
}

/// `(file name, YAML)` of the UpdateService. `releases` is the mirror repository holding the
/// payloads (`<mirror>/openshift/release-images`); the graph-data image is `graph_image`
/// pinned to `graph_digest`.
pub fn render_update_service(
    releases: &Repository,
    graph_image: &Repository,
    graph_digest: &Digest,
    opts: &ResourceOptions,
) -> Result<(String, String), ResourceError> {
    let doc = Document {
        api_version: API_VERSION,
        kind: "UpdateService",
        metadata: Metadata {
            annotations: metadata(UPDATE_SERVICE_NAME, opts).annotations,
            name: UPDATE_SERVICE_NAME,
            namespace: UPDATE_SERVICE_NAMESPACE,
        },
        spec: Spec {
            graph_data_image: graph_image.with_digest(graph_digest.clone()).to_string(),
            releases: releases.to_string(),
            replicas: 2,
        },
    };
    let text = to_yaml(UPDATE_SERVICE_FILE, &doc)?;
    Ok((UPDATE_SERVICE_FILE.to_string(), text))
}
