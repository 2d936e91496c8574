//! The typed recipe: content sets, trusts, targets and deletes, each keeping the spans a later
//! error may need to point at.
//!
//! Plain data plus lookups; no parsing, no I/O, no network.

use std::collections::BTreeSet;
use std::path::PathBuf;

use miette::SourceSpan;
use regex::Regex;
use semver::Version;

use super::diagnostics::{FileId, RecipeError, SourceFile};
use super::size::ByteSize;
use crate::oci::{ImageRef, ReferenceError};

/// A value together with the span it was written at.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: SourceSpan) -> Self {
        Spanned { value, span }
    }
}

/// A whole recipe: every file read (the first is the root) and everything they declare, in
/// declaration order (an included file's declarations appear where it is included).
#[derive(Debug, Clone)]
pub struct Recipe {
    pub files: Vec<SourceFile>,
    pub sets: Vec<ContentSet>,
    pub trusts: Vec<Trust>,
    pub targets: Vec<Target>,
    pub deletes: Vec<Delete>,
    /// `registry` nodes: settings per registry host, in file order (hosts are unique).
    pub registries: Vec<RegistrySettings>,
}

/// Where a declaration was written: file and the span of its whole node.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub file: FileId,
    pub span: SourceSpan,
}

/// A named declaration of what to mirror.
#[derive(Debug, Clone)]
pub enum ContentSet {
    Release(ReleaseSet),
    Catalog(CatalogSet),
    Images(ImageSet),
    Helm(HelmSet),
}

/// `release "name" { channel … }`: OpenShift release payloads.
#[derive(Debug, Clone)]
pub struct ReleaseSet {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub channels: Vec<ReleaseChannel>,
    /// `arch`; default `["amd64"]`.
    pub arch: Vec<Spanned<String>>,
    pub graph: bool,
    pub kubevirt_container: bool,
    pub update_url: Option<Spanned<String>>,
    pub graph_data_url: Option<Spanned<String>>,
    /// `graph-base-image=`: the base of the graph-data image; absent → the default UBI image.
    pub graph_base_image: Option<Spanned<GraphBase>>,
    /// `image=`: one payload, no update graph.
    pub image: Option<Spanned<ImageRef>>,
}

/// The graph-data image's base when the recipe names none (the base oc-mirror v2 uses).
pub const DEFAULT_GRAPH_BASE_IMAGE: &str = "registry.access.redhat.com/ubi9/ubi:latest";

impl ReleaseSet {
    /// The graph-data image's base: `graph-base-image=`, else [`DEFAULT_GRAPH_BASE_IMAGE`].
    pub fn graph_base(&self) -> Result<GraphBase, ReferenceError> {
        match &self.graph_base_image {
            Some(b) => Ok(b.value.clone()),
            None => DEFAULT_GRAPH_BASE_IMAGE.parse().map(GraphBase::Image),
        }
    }
}

/// What the graph-data image is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphBase {
    /// `graph-base-image="scratch"`: no base; the image holds only the graph data (its copy
    /// command cannot run, as there is no shell).
    Scratch,
    /// A base image read from the source side.
    Image(ImageRef),
}

/// `channel "stable-4.15" min= max= shortest-path=` inside a release.
#[derive(Debug, Clone)]
pub struct ReleaseChannel {
    pub name: Spanned<String>,
    pub min: Option<Spanned<Version>>,
    pub max: Option<Spanned<Version>>,
    pub shortest_path: bool,
}

/// `catalog "name" "source" { … }`: an operator catalog (file-based catalog).
#[derive(Debug, Clone)]
pub struct CatalogSet {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub source: Spanned<CatalogSource>,
    pub rename: Option<CatalogRename>,
    /// `full #true`: the span of the `full` node when set.
    pub full: Option<Spanned<bool>>,
    /// `heads "default-channel" | "every-channel"`: which heads a package keeps when it names no
    /// channel, version or bundle (default: the default channel's).
    pub heads: Option<Spanned<crate::catalog::Heads>>,
    /// `dependencies #false`: do not keep the bundles kept bundles depend on.
    pub dependencies: Option<Spanned<bool>>,
    /// `platforms "linux/amd64" …`: the platforms of the catalog image to keep (all when empty).
    pub platforms: Vec<Spanned<String>>,
    pub packages: Vec<Package>,
    pub catalog_source_template: Option<Spanned<PathBuf>>,
}

impl CatalogSet {
    pub fn is_full(&self) -> bool {
        self.full.as_ref().is_some_and(|f| f.value)
    }
}

/// Where a catalog is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogSource {
    Image(ImageRef),
    /// `oci://path`: a local OCI image layout (relative to the recipe file's directory).
    OciLayout(PathBuf),
}

/// `rename "path" tag="…"`: targetCatalog / targetTag.
#[derive(Debug, Clone)]
pub struct CatalogRename {
    pub path: Spanned<String>,
    pub tag: Option<Spanned<String>>,
}

/// `package "name" min= max=` or with `channel`/`bundle` children.
#[derive(Debug, Clone)]
pub struct Package {
    pub span: SourceSpan,
    pub name: Spanned<String>,
    pub min: Option<Spanned<Version>>,
    pub max: Option<Spanned<Version>>,
    pub channels: Vec<PackageChannel>,
    pub bundles: Vec<Spanned<String>>,
    /// `default-channel "name"`: the package's default channel in the rebuilt catalog.
    pub default_channel: Option<Spanned<String>>,
    /// `optional=#true`: a catalog without this package skips it with a warning.
    pub optional: bool,
}

/// `channel "stable" min= max=` inside a package.
#[derive(Debug, Clone)]
pub struct PackageChannel {
    pub name: Spanned<String>,
    pub min: Option<Spanned<Version>>,
    pub max: Option<Spanned<Version>>,
}

/// `images "name" { image …; mapping …; block … }`.
#[derive(Debug, Clone)]
pub struct ImageSet {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub images: Vec<Spanned<ImageRef>>,
    /// `mapping "file"` entries, read when the recipe is loaded.
    pub mapped: Vec<Mapped>,
    /// `block` regexes; they exclude images from every set.
    pub blocks: Vec<Spanned<Regex>>,
}

/// One `SOURCE=DESTINATION` line of a mapping file (`oc image mirror -f`, airlift's own
/// `mapping.txt`): the source is mirrored to the destination's repository path and tag below
/// the target.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// The `mapping` node's path argument (errors point here).
    pub span: SourceSpan,
    pub source: ImageRef,
    pub dest: ImageRef,
}

/// `helm "name" { repository …; local … }`.
#[derive(Debug, Clone)]
pub struct HelmSet {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub repositories: Vec<HelmRepository>,
    pub locals: Vec<HelmLocal>,
}

/// `repository "name" "https://…" { chart … }` or `repository "name" "oci://host/path" { … }`.
#[derive(Debug, Clone)]
pub struct HelmRepository {
    pub name: Spanned<String>,
    pub url: Spanned<ChartRepoUrl>,
    pub charts: Vec<HelmChart>,
}

/// Where a chart repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartRepoUrl {
    /// A classic repository: `index.yaml` below this http(s) URL (no trailing slash).
    Http(String),
    /// An OCI repository prefix (`host[:port]/path`): chart `c` is the image `PREFIX/c`.
    Oci(String),
}

impl std::fmt::Display for ChartRepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChartRepoUrl::Http(u) => f.write_str(u),
            ChartRepoUrl::Oci(p) => write!(f, "oci://{p}"),
        }
    }
}

/// `chart "name" version="x.y.z" { values "file.yaml"; image-path "…" }`; without a version
/// the latest.
#[derive(Debug, Clone)]
pub struct HelmChart {
    pub name: Spanned<String>,
    pub version: Option<Spanned<ChartVersion>>,
    pub render: ChartRender,
}

/// What a chart is rendered with and where its images are looked for besides pod specs.
#[derive(Debug, Clone, Default)]
pub struct ChartRender {
    /// Values files, applied in order over the chart's own `values.yaml`.
    pub values: Vec<Spanned<PathBuf>>,
    /// Extra paths to image references in the rendered objects (`{.spec.image}` or
    /// `spec.image`; `[*]` for every element of a list).
    pub image_paths: Vec<Spanned<String>>,
}

/// A chart version: exact, or a constraint (`>=6.0.0 <7.0.0`, `^6.1`, `~6.1.0`, `6.x`) whose
/// highest matching version is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartVersion {
    Exact(Version),
    /// Alternatives (`||`), each a set of comparators that must all hold.
    Range {
        text: String,
        any_of: Vec<semver::VersionReq>,
    },
}

impl std::fmt::Display for ChartVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChartVersion::Exact(v) => write!(f, "{v}"),
            ChartVersion::Range { text, .. } => f.write_str(text),
        }
    }
}

impl ChartVersion {
    /// Parses a version or a Helm-style constraint: comparators separated by spaces or commas
    /// (all must hold), alternatives separated by `||`.
    pub fn parse(text: &str) -> Result<ChartVersion, String> {
        const OPS: [&str; 7] = [">", ">=", "<", "<=", "=", "~", "^"];
        let t = text.trim();
        if let Ok(v) = Version::parse(t.strip_prefix('v').unwrap_or(t)) {
            return Ok(ChartVersion::Exact(v));
        }
        let mut any_of = Vec::new();
        for alternative in t.split("||") {
            let mut parts: Vec<String> = Vec::new();
            for word in alternative.split([' ', ',']).filter(|w| !w.is_empty()) {
                match parts.last_mut() {
                    Some(last) if OPS.contains(&last.as_str()) => last.push_str(word),
                    _ => parts.push(word.to_string()),
                }
            }
            if parts.is_empty() {
                return Err("an empty constraint".to_string());
            }
            any_of.push(semver::VersionReq::parse(&parts.join(", ")).map_err(|e| e.to_string())?);
        }
        Ok(ChartVersion::Range {
            text: t.to_string(),
            any_of,
        })
    }

    /// True when `v` is this version or satisfies this constraint.
    pub fn matches(&self, v: &Version) -> bool {
        match self {
            ChartVersion::Exact(e) => e == v,
            ChartVersion::Range { any_of, .. } => any_of.iter().any(|r| r.matches(v)),
        }
    }
}

/// `local "name" "path/to/chart.tgz"` or a chart directory.
#[derive(Debug, Clone)]
pub struct HelmLocal {
    pub name: Spanned<String>,
    pub path: Spanned<PathBuf>,
    pub render: ChartRender,
}

/// `trust "name" { gpg-keyring …; cosign-key …; applies-to … }`.
#[derive(Debug, Clone)]
pub struct Trust {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub gpg_keyring: Option<Spanned<PathBuf>>,
    pub cosign_key: Option<Spanned<PathBuf>>,
    pub applies_to: Vec<Spanned<String>>,
    /// Base URL of release signatures (`…/sha256=<hex>/signature-N`).
    pub signature_store: Option<Spanned<String>>,
}

/// The highest per-registry concurrency a `registry` node (or `--registry-concurrency`) may
/// ask for.
pub const MAX_REGISTRY_CONCURRENCY: u32 = 256;

/// `registry "quay.io" concurrency=4`: settings for one registry host, whichever side (source or
/// destination) it is on.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub origin: Origin,
    /// `host[:port]` as image references name it (`docker.io` for Docker Hub's aliases).
    pub host: Spanned<String>,
    /// At most this many transfers to the host at once (its window's ceiling).
    pub concurrency: Spanned<u32>,
}

/// `target "name" "docker://…" | "file://…" | "oci://…" { needs …; only …; … }`.
#[derive(Debug, Clone)]
pub struct Target {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub location: Spanned<TargetLocation>,
    /// What the target needs, resolved to content sets or targets.
    pub needs: Vec<Spanned<Need>>,
    /// Content sets inherited from needed targets that this target keeps (empty: all).
    pub only: Vec<Spanned<String>>,
    pub archive_size: Option<Spanned<ByteSize>>,
    pub max_nested_paths: Option<Spanned<u32>>,
    pub mirror_scope: MirrorScope,
    pub mirror_source_policy: MirrorSourcePolicy,
}

impl Target {
    /// Names of the targets this one takes content from.
    pub fn needed_targets(&self) -> impl Iterator<Item = &str> {
        self.needs.iter().filter_map(|n| match &n.value {
            Need::Target(t) => Some(t.as_str()),
            Need::Set(_) => None,
        })
    }

    /// Names of the content sets this one takes directly from their sources.
    pub fn needed_sets(&self) -> impl Iterator<Item = &str> {
        self.needs.iter().filter_map(|n| match &n.value {
            Need::Set(s) => Some(s.as_str()),
            Need::Target(_) => None,
        })
    }
}

/// A destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetLocation {
    /// `docker://host[:port][/namespace…]`.
    Registry { registry: String, namespace: String },
    /// `file://dir` (relative to the recipe file's directory) or `file:///abs`.
    Directory(PathBuf),
    /// `oci://dir`: a plain OCI image layout directory (relative like `file://`).
    Layout(PathBuf),
}

/// One entry of `needs`, resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Set(String),
    Target(String),
}

/// How mirrors are grouped in ImageDigestMirrorSet / ImageTagMirrorSet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MirrorScope {
    #[default]
    Repository,
    Namespace,
    Registry,
}

/// `mirrorSourcePolicy` of the rendered mirror sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MirrorSourcePolicy {
    #[default]
    AllowContactingSource,
    NeverContactSource,
}

/// `delete "name" from="target" { release …; catalog …; image … }`.
#[derive(Debug, Clone)]
pub struct Delete {
    pub origin: Origin,
    pub name: Spanned<String>,
    pub from: Spanned<String>,
    pub releases: Vec<DeleteRelease>,
    pub catalogs: Vec<DeleteCatalog>,
    pub images: Vec<Spanned<ImageRef>>,
}

/// `catalog "registry/ns/index:tag" { package … }` inside a delete: the bundles (and their
/// related images) the packages select, as a catalog set's filter would select them.
#[derive(Debug, Clone)]
pub struct DeleteCatalog {
    pub span: SourceSpan,
    pub source: Spanned<ImageRef>,
    pub packages: Vec<Package>,
}

/// `release channel="stable-4.13" min= max=` inside a delete.
#[derive(Debug, Clone)]
pub struct DeleteRelease {
    pub span: SourceSpan,
    pub channel: Spanned<String>,
    pub min: Option<Spanned<Version>>,
    pub max: Option<Spanned<Version>>,
}

impl ContentSet {
    pub fn name(&self) -> &Spanned<String> {
        match self {
            ContentSet::Release(s) => &s.name,
            ContentSet::Catalog(s) => &s.name,
            ContentSet::Images(s) => &s.name,
            ContentSet::Helm(s) => &s.name,
        }
    }

    pub fn origin(&self) -> Origin {
        match self {
            ContentSet::Release(s) => s.origin,
            ContentSet::Catalog(s) => s.origin,
            ContentSet::Images(s) => s.origin,
            ContentSet::Helm(s) => s.origin,
        }
    }

    /// The node name: `release`, `catalog`, `images` or `helm`.
    pub fn kind(&self) -> &'static str {
        match self {
            ContentSet::Release(_) => "release",
            ContentSet::Catalog(_) => "catalog",
            ContentSet::Images(_) => "images",
            ContentSet::Helm(_) => "helm",
        }
    }
}

impl Recipe {
    pub fn content_set(&self, name: &str) -> Option<&ContentSet> {
        self.sets.iter().find(|s| s.name().value == name)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name.value == name)
    }

    pub fn trust(&self, name: &str) -> Option<&Trust> {
        self.trusts.iter().find(|t| t.name.value == name)
    }

    pub fn delete(&self, name: &str) -> Option<&Delete> {
        self.deletes.iter().find(|d| d.name.value == name)
    }

    /// The `concurrency` of each `registry` node, by host.
    pub fn registry_concurrency(&self) -> std::collections::BTreeMap<String, usize> {
        self.registries
            .iter()
            .map(|r| (r.host.value.clone(), r.concurrency.value as usize))
            .collect()
    }

    pub fn releases(&self) -> impl Iterator<Item = &ReleaseSet> {
        self.sets.iter().filter_map(|s| match s {
            ContentSet::Release(r) => Some(r),
            _ => None,
        })
    }

    pub fn catalogs(&self) -> impl Iterator<Item = &CatalogSet> {
        self.sets.iter().filter_map(|s| match s {
            ContentSet::Catalog(c) => Some(c),
            _ => None,
        })
    }

    pub fn image_sets(&self) -> impl Iterator<Item = &ImageSet> {
        self.sets.iter().filter_map(|s| match s {
            ContentSet::Images(i) => Some(i),
            _ => None,
        })
    }

    pub fn helm_sets(&self) -> impl Iterator<Item = &HelmSet> {
        self.sets.iter().filter_map(|s| match s {
            ContentSet::Helm(h) => Some(h),
            _ => None,
        })
    }

    /// Every `block` regex of every images set; they apply to all sets.
    pub fn block_patterns(&self) -> impl Iterator<Item = &Regex> {
        self.image_sets()
            .flat_map(|i| i.blocks.iter().map(|b| &b.value))
    }

    /// Trusts that apply to the named content set.
    pub fn trusts_for(&self, set: &str) -> impl Iterator<Item = &Trust> {
        self.trusts
            .iter()
            .filter(move |t| t.applies_to.iter().any(|a| a.value == set))
    }

    /// The content sets a target carries: those it needs directly plus, narrowed by `only`,
    /// those its needed targets carry. Cycles (already reported by validation) stop the walk.
    pub fn carried_sets(&self, target: &str) -> BTreeSet<String> {
        let mut visiting = BTreeSet::new();
        self.carried_inner(target, &mut visiting)
    }

    fn carried_inner(&self, target: &str, visiting: &mut BTreeSet<String>) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(t) = self.target(target) else {
            return out;
        };
        if !visiting.insert(target.to_string()) {
            return out;
        }
        out.extend(t.needed_sets().map(str::to_string));
        let mut inherited = BTreeSet::new();
        for up in t.needed_targets() {
            inherited.extend(self.carried_inner(up, visiting));
        }
        if !t.only.is_empty() {
            inherited.retain(|s| t.only.iter().any(|o| &o.value == s));
        }
        out.extend(inherited);
        visiting.remove(target);
        out
    }

    /// An error pointing into one of this recipe's files, for later stages (discovery, planning)
    /// that find a problem with something the user wrote.
    pub fn error_at(
        &self,
        file: FileId,
        span: SourceSpan,
        label: impl Into<String>,
        message: impl Into<String>,
    ) -> Option<RecipeError> {
        self.files
            .get(file)
            .map(|src| RecipeError::at(file, src, span, label, message))
    }
}
