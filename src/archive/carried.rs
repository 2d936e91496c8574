//! `airlift/carried.json`: what an archive carries besides images, so that the disconnected
//! side plans without asking the internet anything — the releases selected from the update
//! graph with their components (the side that reads the archive does not select again), the
//! graph-data image's inputs, and, for `describe`, the packages each catalog keeps. Release
//! signatures travel next to it (`airlift/signatures/sha256=<hex>/signature-N`, the layout of a
//! signature store directory), the graph-data tarball as `airlift/graph-data.tar.gz`, and the
//! archives of Helm charts that airlift packs as OCI artifacts at a registry as
//! `airlift/charts/<hex>.tgz` (charts already OCI artifacts travel as images).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::oci::{Digest, ImageRef};

/// The path of [`Carried`] in an archive.
pub const CARRIED_FILE: &str = "airlift/carried.json";
/// Release signatures, as a signature store directory.
pub const SIGNATURES_PREFIX: &str = "airlift/signatures/";
/// The graph-data tarball.
pub const GRAPH_DATA_FILE: &str = "airlift/graph-data.tar.gz";
/// Chart archives, by the hex of their digest.
pub const CHARTS_PREFIX: &str = "airlift/charts/";

/// Where the chart archive of `digest` is carried.
pub fn chart_file(digest: &Digest) -> String {
    format!("{CHARTS_PREFIX}{}.tgz", digest.hex())
}

/// Everything an archive carries for planning besides its images.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    pub releases: Vec<CarriedRelease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<CarriedGraph>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalogs: Vec<CarriedCatalog>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<CarriedChart>,
}

/// A Helm chart of a `helm` set, as discovery found it: the reading side neither fetches nor
/// renders it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedChart {
    pub set: String,
    pub entry: String,
    pub repository: String,
    pub name: String,
    pub version: String,
    /// `Some` for a chart that is an OCI artifact (carried as an image); `None` for a chart
    /// packed at registries (its archive is carried under [`chart_file`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<ImageRef>,
    /// Where a packed chart goes below a registry target.
    pub path: String,
    pub tag: String,
    pub archive_digest: Digest,
    pub archive_size: u64,
    pub images: BTreeMap<ImageRef, std::collections::BTreeSet<String>>,
}

/// One release payload selected for a release set, with its components.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedRelease {
    pub set: String,
    pub version: String,
    pub arch: String,
    /// The payload as the update graph or the recipe names it.
    pub source: ImageRef,
    /// The payload, pinned by digest.
    pub payload: ImageRef,
    pub components: BTreeMap<String, ImageRef>,
}

/// The graph-data image's inputs: the tarball ([`GRAPH_DATA_FILE`]) and the base image, which
/// the archive carries as an image of the release set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedGraph {
    pub set: String,
    pub tarball_digest: Digest,
    pub arch: String,
    /// The base as the recipe names it, and pinned; both absent for `scratch`.
    pub base_source: Option<ImageRef>,
    pub base: Option<ImageRef>,
}

/// A catalog the archive carries, with the packages its filter keeps: as published (the
/// reading side filters and rebuilds it), or already rebuilt (taken from a registry target
/// that rebuilt it; the reading side copies it as is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedCatalog {
    pub set: String,
    pub source: ImageRef,
    pub packages: Vec<String>,
    #[serde(default)]
    pub rebuilt: bool,
}

impl Carried {
    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
            && self.graph.is_none()
            && self.catalogs.is_empty()
            && self.charts.is_empty()
    }

    /// Pretty JSON with a trailing newline (sorted: the fields are in a fixed order and the
    /// lists are sorted by whoever builds them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}
