//! The result of discovery: plain data the pure planner reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::CatalogImage;

use crate::oci::{Digest, ImageRef, MediaType};
use crate::task::{CosignKeyRef, KeyFile};

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
    /// Helm charts of the `helm` sets of the goals, read and rendered (see `pipeline::helm`).
    pub charts: Vec<DiscoveredChart>,
    /// Operator catalogs by `catalog` set name: read and filtered (see `discover_catalogs`).
    pub catalogs: BTreeMap<String, Arc<CatalogImage>>,
    /// Release sets whose signatures are verified: their trust blocks' keyrings, read once.
    pub release_trust: BTreeMap<String, ReleaseTrust>,
    /// Content sets whose images' cosign signatures are verified: their keys, read once.
    pub cosign: BTreeMap<String, Vec<CosignKeyRef>>,
    /// What the graph-data image is built from, when a target carries a `graph #true` release
    /// set; `Err` says why it cannot be built.
    pub graph: Option<Result<GraphInput, String>>,
    /// Local outputs' current digests by slot (written cluster resources, the lock file);
    /// `None` = absent.
    pub local: BTreeMap<String, Option<Digest>>,
}

/// The keyrings of the trust blocks that apply to one release set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseTrust {
    /// Sorted by trust name; a signature by a key of any of them verifies a release.
    pub keyrings: Vec<KeyFile>,
    /// The first `signature-store` among those trust blocks.
    pub store: Option<String>,
    /// Where verified signatures are saved.
    pub signatures_dir: PathBuf,
}

/// The inputs of the graph-data image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphInput {
    /// The release set it is built for (the first target's graph set).
    pub set: String,
    /// The stored graph-data tarball and the digest of its bytes.
    pub tarball: PathBuf,
    pub tarball_digest: Digest,
    /// The base image pinned by digest (the lock pins it); `None` for `scratch`.
    pub base: Option<ImageRef>,
    /// The base as the recipe names it (its lock entry).
    pub base_source: Option<ImageRef>,
    /// The archive directory that carries the base and the tarball (disk-to-mirror).
    pub base_archive: Option<PathBuf>,
    pub arch: String,
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

/// One Helm chart of a `helm` set: the version chosen, its archive and the images it deploys.
/// Sorted by (set, entry, name) wherever it is listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiscoveredChart {
    pub set: String,
    /// The first path element of a packed chart at a target: the recipe's `repository` name,
    /// or the set's name for a `local` chart.
    pub entry: String,
    /// Where it comes from, as the lock names it: the repository URL, `oci://PREFIX`, or the
    /// local path.
    pub repository: String,
    /// The chart's name and version (`Chart.yaml`).
    pub name: String,
    pub version: String,
    pub source: ChartSource,
    /// The chart archive in the workspace cache, and the digest of its bytes.
    pub archive: PathBuf,
    pub archive_digest: Digest,
    pub archive_size: u64,
    /// Images the chart deploys, with where each was found.
    pub images: BTreeMap<ImageRef, BTreeSet<String>>,
}

/// How a chart reaches a registry target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChartSource {
    /// From a classic repository or a local chart: airlift packs it as an OCI artifact
    /// (`push-chart`) at `<target>/<path>:<tag>`.
    Packed { path: String, tag: String },
    /// Already an OCI artifact: copied like any image (`copy`), named after its source.
    Oci(ImageRef),
}

impl DiscoveredChart {
    /// The lock's digest of the chart: its archive for a packed chart, its manifest for an OCI
    /// one.
    pub fn pinned_digest(&self, images: &BTreeMap<ImageRef, ResolvedImage>) -> Option<Digest> {
        match &self.source {
            ChartSource::Packed { .. } => Some(self.archive_digest.clone()),
            ChartSource::Oci(r) => images.get(r).map(|i| i.digest.clone()),
        }
    }
}
