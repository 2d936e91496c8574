//! The result of discovery: plain data the pure planner reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::CatalogImage;

use crate::oci::{Digest, ImageRef, MediaType};

/// A source image resolved to its digest, with every blob its manifests reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    pub digest: Digest,
    pub media_type: MediaType,
    /// Every blob (configs and layers) of the manifest and, for an index, of all its children,
    /// with sizes in bytes.
    pub blobs: BTreeMap<Digest, u64>,
    /// Number of manifests (1 for an image, 1 + children for an index).
    pub manifests: usize,
}

impl ResolvedImage {
    pub fn size(&self) -> u64 {
        self.blobs.values().sum()
    }
}

/// Everything the planner needs to know about the outside world.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Source images as the recipe names them (normalised), resolved.
    pub images: BTreeMap<ImageRef, ResolvedImage>,
    /// Blob lists of digests known from the manifest cache, including earlier resolutions
    /// recorded in the journal (so the planner knows which blobs a destination already holds).
    pub known_blobs: BTreeMap<Digest, BTreeSet<Digest>>,
    /// Destination probes: the digest a destination reference currently has (`None` = absent).
    /// A destination missing from this map was not probed (`--trust-state`).
    pub dest: BTreeMap<String, Option<Digest>>,
    /// Images that could not be resolved, with the reason (reported as `missing.txt`).
    pub unresolved: BTreeMap<ImageRef, String>,
    /// Release payloads selected for the release sets of the goals, with their components.
    pub releases: Vec<DiscoveredRelease>,
    /// Operator catalogs by `catalog` set name: read and filtered (see `discover_catalogs`).
    pub catalogs: BTreeMap<String, Arc<CatalogImage>>,
}

/// One release payload selected for a release set, with the components its
/// `image-references` names. Sorted by (set, version, arch) wherever it is listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiscoveredRelease {
    pub set: String,
    pub version: semver::Version,
    pub arch: String,
    /// The payload as the update graph or the recipe (`image=`) names it.
    pub source: ImageRef,
    /// The payload, pinned by digest.
    pub payload: ImageRef,
    /// Component name → image, pinned by digest.
    pub components: BTreeMap<String, ImageRef>,
}

impl DiscoveredRelease {
    /// `<version>-<arch>`: the payload's tag at a mirror.
    pub fn tag(&self) -> String {
        crate::release::release_tag(&self.version, &self.arch)
    }
}
