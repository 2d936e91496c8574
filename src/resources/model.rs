//! Input and output types of the cluster-resource renderer, and its error type.
//!
//! This file holds data only: what was mirrored where ([`MirroredImage`]), how to render it
//! ([`ResourceOptions`]) and what came out ([`Rendered`]). It does no I/O and knows nothing about
//! recipes: the caller translates whatever it holds into these types.

use std::collections::BTreeMap;
use std::fmt;

use crate::oci::ImageRef;

/// Which group of content an image belongs to; each category gets its own documents
/// (`idms-<category>-0.yaml`, `itms-<category>-0.yaml`), as oc-mirror v2 does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Release payloads and their component images.
    Release,
    /// Operator catalogs, bundles and their related images.
    Operator,
    /// Everything else (`images` sets, Helm chart images).
    Generic,
}

impl Category {
    /// The lowercase name used in file and object names.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Release => "release",
            Category::Operator => "operator",
            Category::Generic => "generic",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image as the user named it and where it now lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MirroredImage {
    /// The reference as the user (or the release/catalog) named it: tag and/or digest.
    pub source: ImageRef,
    /// Where it lives at the target: same tag and/or digest at the mirror repository.
    pub mirror: ImageRef,
    pub category: Category,
}

/// How widely a mirror entry matches: one repository, its namespace, or its whole registry.
/// Wider scopes mean fewer entries and fewer node reboots when content is added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MirrorScope {
    #[default]
    Repository,
    Namespace,
    Registry,
}

impl MirrorScope {
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorScope::Repository => "repository",
            MirrorScope::Namespace => "namespace",
            MirrorScope::Registry => "registry",
        }
    }
}

impl fmt::Display for MirrorScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `mirrorSourcePolicy` of ImageDigestMirrorSet / ImageTagMirrorSet entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourcePolicy {
    /// Fall back to the source when no mirror has the image (the cluster default).
    AllowContactingSource,
    /// Never pull from the source; `blocked = true` in registries.conf.
    NeverContactSource,
}

impl SourcePolicy {
    /// The value as the CRD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourcePolicy::AllowContactingSource => "AllowContactingSource",
            SourcePolicy::NeverContactSource => "NeverContactSource",
        }
    }
}

/// How to render.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceOptions {
    /// Target name; recorded in the `airlift/target` annotation and the registries.conf header.
    pub target: String,
    /// Requested mirror scope; see [`crate::resources::render`] for when it is refused or forced.
    pub scope: MirrorScope,
    /// `mirrorSourcePolicy` of every IDMS/ITMS entry; `None` leaves the field out.
    pub source_policy: Option<SourcePolicy>,
    /// The target folds deep paths (`max-nested-paths`): forces repository scope.
    pub folded_paths: bool,
    /// Also write the legacy `imageContentSourcePolicy.yaml`.
    pub icsp: bool,
    /// Mark every mirror `insecure = true` in registries.conf (plain-HTTP or unverified-TLS
    /// mirrors, e.g. a loopback lab registry).
    pub insecure_mirrors: bool,
    /// `SOURCE_DATE_EPOCH`: when set, documents carry an `airlift/created` annotation with this
    /// time in RFC 3339 UTC; when unset, no time appears anywhere.
    pub source_date_epoch: Option<i64>,
}

/// The rendered files, by file name, plus notes for the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// File name (no directory) → content. Sorted by name.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Things the user should know, e.g. that the scope was forced to `repository`.
    pub notes: Vec<String>,
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum ResourceError {
    #[error(
        "cannot widen the mirror scope to `{scope}`: the entry `{prefix}` → `{mirror_prefix}` would redirect `{source_repo}` to `{would_be}`, but that content is mirrored at `{actual}`"
    )]
    #[diagnostic(
        code(airlift::resources::widening_refused),
        help(
            "a wider scope is only valid when every image under `{prefix}` keeps its path below one mirror prefix; use mirror-scope \"repository\" for this target"
        )
    )]
    WideningRefused {
        scope: MirrorScope,
        prefix: String,
        mirror_prefix: String,
        source_repo: String,
        would_be: String,
        actual: String,
    },
    #[error(
        "cannot widen the mirror scope to `{scope}`: `{source_repo}` is mirrored at `{actual}`, which does not end with the path `{rest}` below `{prefix}`"
    )]
    #[diagnostic(
        code(airlift::resources::widening_refused),
        help(
            "the mirror renamed this repository, so no wider entry can redirect it; use mirror-scope \"repository\" for this target"
        )
    )]
    RenamedUnderScope {
        scope: MirrorScope,
        prefix: String,
        rest: String,
        source_repo: String,
        actual: String,
    },
    #[error("`{source_ref}` is mirrored as `{mirror}`, whose digest differs")]
    #[diagnostic(
        code(airlift::resources::digest_mismatch),
        help(
            "a mirror must hold the same digest as its source; re-run `airlift build` and report this if it persists"
        )
    )]
    DigestMismatch { source_ref: String, mirror: String },
    #[error("could not write YAML for `{file}`: {message}")]
    #[diagnostic(
        code(airlift::resources::yaml),
        help("this is a bug in airlift; please report it")
    )]
    Yaml { file: String, message: String },
}
