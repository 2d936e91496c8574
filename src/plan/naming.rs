//! Destination naming (DESIGN §5), oc-mirror v2 compatible. Pure functions of references.
//!
//! - everything else: `<dst>/<source path>:<tag>`, or `:sha256-<hex>` when the source is
//!   referenced by digest only (the registry host of the source is dropped);
//! - release payload: `<dst>/openshift/release-images:<version>-<arch>`;
//! - release components: `<dst>/openshift/release:<version>-<arch>-<component>`;
//! - graph image: `<dst>/openshift/graph-image:latest`;
//! - catalogs: `<dst>/<rename or source path>:<rename tag or source tag>`.
//!
//! `max-nested-paths N` bounds the number of `/`-separated components of the whole
//! repository path at the destination, the destination namespace included (as in oc-mirror's
//! `maxNestedPaths`): the first N-1 components are kept and the rest are joined with `-`.
//! `N = 0` means no limit. A namespace that alone has N or more components is an error, since
//! folding would rename the namespace itself.

use crate::oci::{ImageRef, ReferenceError, Repository};

/// Where a target puts images: a registry and an optional namespace path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub registry: String,
    /// `mirror/ocp` in `registry.example:5000/mirror/ocp`; may be empty.
    pub namespace: String,
    /// `max-nested-paths`; `None` or `Some(0)` is unlimited.
    pub max_nested_paths: Option<usize>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NamingError {
    #[error(
        "destination namespace `{namespace}` has {components} path components, but max-nested-paths is {max}"
    )]
    #[diagnostic(help(
        "raise max-nested-paths above {components} or use a shorter namespace in the target URL"
    ))]
    NamespaceTooDeep {
        namespace: String,
        components: usize,
        max: usize,
    },
    #[error("destination name for `{source_ref}` is invalid: {error}")]
    #[diagnostic(help(
        "the source name cannot be carried to the destination; report this with the source reference"
    ))]
    Invalid {
        source_ref: String,
        error: ReferenceError,
    },
}

impl Destination {
    /// Parses `host[:port][/namespace…]` (the part after `docker://` of a target URL).
    pub fn parse(s: &str, max_nested_paths: Option<usize>) -> Self {
        let s = s.trim_end_matches('/');
        let (registry, namespace) = s.split_once('/').unwrap_or((s, ""));
        Destination {
            registry: registry.to_string(),
            namespace: namespace.to_string(),
            max_nested_paths,
        }
    }

    fn repository(&self, path: &str, source: &str) -> Result<Repository, NamingError> {
        let full = if self.namespace.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.namespace)
        };
        let full = match self.max_nested_paths {
            Some(max) if max > 0 => {
                let ns = if self.namespace.is_empty() {
                    0
                } else {
                    self.namespace.split('/').count()
                };
                if ns >= max && full.split('/').count() > max {
                    return Err(NamingError::NamespaceTooDeep {
                        namespace: self.namespace.clone(),
                        components: ns,
                        max,
                    });
                }
                fold_path(&full, max)
            }
            _ => full,
        };
        Repository::new(&self.registry, &full).map_err(|error| NamingError::Invalid {
            source_ref: source.to_string(),
            error,
        })
    }
}

/// Keeps the first `max - 1` components of `path` and joins the rest with `-`.
pub fn fold_path(path: &str, max: usize) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    if max == 0 || parts.len() <= max {
        return path.to_string();
    }
    let keep = max - 1;
    let mut out: Vec<String> = parts[..keep].iter().map(|s| s.to_string()).collect();
    out.push(parts[keep..].join("-"));
    out.join("/")
}

/// `<dst>/<source path>:<tag>`, or `:sha256-<hex>` for a digest-only source.
pub fn destination_for(dst: &Destination, source: &ImageRef) -> Result<ImageRef, NamingError> {
    let repo = dst.repository(source.path(), &source.to_string())?;
    let tag = match (source.tag(), source.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.tag_form(),
        (None, None) => "latest".to_string(),
    };
    Ok(repo.with_tag(&tag))
}

/// `<dst>/openshift/release-images:<version>-<arch>`.
pub fn release_payload(
    dst: &Destination,
    version: &str,
    arch: &str,
) -> Result<ImageRef, NamingError> {
    let repo = dst.repository("openshift/release-images", version)?;
    Ok(repo.with_tag(&format!("{version}-{arch}")))
}

/// `<dst>/openshift/release:<version>-<arch>-<component>`.
pub fn release_component(
    dst: &Destination,
    version: &str,
    arch: &str,
    component: &str,
) -> Result<ImageRef, NamingError> {
    let repo = dst.repository("openshift/release", component)?;
    Ok(repo.with_tag(&format!("{version}-{arch}-{component}")))
}

/// `<dst>/<rename or source path>:<tag or source tag>` (a catalog's `rename` node).
/// `<dst>/<path>:<tag>`: an explicit name below the target (releases, catalogs, built images).
pub fn named_destination(
    dst: &Destination,
    path: &str,
    tag: &str,
) -> Result<ImageRef, NamingError> {
    Ok(dst.repository(path, path)?.with_tag(tag))
}

pub fn catalog_destination(
    dst: &Destination,
    source: &ImageRef,
    rename: Option<&str>,
    tag: Option<&str>,
) -> Result<ImageRef, NamingError> {
    let path = rename.unwrap_or(source.path());
    let repo = dst.repository(path, &source.to_string())?;
    match tag {
        Some(t) => Ok(repo.with_tag(t)),
        None => destination_for(dst, source).map(|d| repo.with_tag(d.tag().unwrap_or("latest"))),
    }
}

/// The registry of the name a catalog read from an OCI layout is known by. `.invalid` is
/// reserved (RFC 2606): nothing ever connects to it.
pub const LAYOUT_REGISTRY: &str = "oci.invalid";

/// The name of a catalog read from the OCI layout `dir`: `oci.invalid/<dir name>:latest`, the
/// directory's last component lowercased with every character other than `a-z0-9` replaced by
/// `-` (`catalog` if nothing is left). It is how the lock, plans and messages name the catalog,
/// and what its destination is named after (`<dst>/<dir name>:latest` unless renamed).
pub fn layout_reference(dir: &std::path::Path) -> Result<ImageRef, ReferenceError> {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = mapped.trim_matches('-');
    let name = if name.is_empty() { "catalog" } else { name };
    Repository::new(LAYOUT_REGISTRY, name).map(|r| r.with_tag("latest"))
}

/// `<dst>/openshift/graph-image:latest`.
pub fn graph_image(dst: &Destination) -> Result<ImageRef, NamingError> {
    Ok(dst
        .repository("openshift/graph-image", "graph-image")?
        .with_tag("latest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_reference_is_the_directory_name() {
        let name = |p: &str| {
            layout_reference(std::path::Path::new(p))
                .map(|r| r.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            name("/srv/catalogs/my-catalog"),
            "oci.invalid/my-catalog:latest"
        );
        assert_eq!(name("./My_Catalog.v2"), "oci.invalid/my-catalog-v2:latest");
        assert_eq!(name("/"), "oci.invalid/catalog:latest");
        let d = Destination::parse("mirror.example:5000/m", None);
        let source = layout_reference(std::path::Path::new("/srv/ops")).unwrap();
        assert_eq!(
            catalog_destination(&d, &source, None, None)
                .unwrap()
                .to_string(),
            "mirror.example:5000/m/ops:latest"
        );
    }

    fn dst(s: &str, max: Option<usize>) -> Destination {
        Destination::parse(s, max)
    }

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn tag_and_digest_sources() {
        let d = dst("mirror.example:5000/mirror", None);
        assert_eq!(
            destination_for(&d, &r("registry.redhat.io/ubi9/ubi:latest"))
                .unwrap()
                .to_string(),
            "mirror.example:5000/mirror/ubi9/ubi:latest"
        );
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            destination_for(&d, &r(&format!("quay.io/a/b@{digest}")))
                .unwrap()
                .to_string(),
            format!("mirror.example:5000/mirror/a/b:sha256-{}", "ab".repeat(32))
        );
        assert_eq!(
            destination_for(&d, &r(&format!("quay.io/a/b:v1@{digest}")))
                .unwrap()
                .to_string(),
            "mirror.example:5000/mirror/a/b:v1"
        );
        let bare = dst("mirror.example:5000", None);
        assert_eq!(
            destination_for(&bare, &r("ubuntu:22.04"))
                .unwrap()
                .to_string(),
            "mirror.example:5000/library/ubuntu:22.04"
        );
    }

    #[test]
    fn max_nested_paths_counts_the_namespace() {
        let d = dst("m.example/mirror", Some(2));
        assert_eq!(
            destination_for(&d, &r("quay.io/a/b/c:1"))
                .unwrap()
                .to_string(),
            "m.example/mirror/a-b-c:1"
        );
        let d3 = dst("m.example/mirror", Some(3));
        assert_eq!(
            destination_for(&d3, &r("quay.io/a/b/c:1"))
                .unwrap()
                .to_string(),
            "m.example/mirror/a/b-c:1"
        );
        assert_eq!(
            destination_for(&d3, &r("quay.io/a/b:1"))
                .unwrap()
                .to_string(),
            "m.example/mirror/a/b:1"
        );
        let unlimited = dst("m.example/mirror", Some(0));
        assert_eq!(
            destination_for(&unlimited, &r("quay.io/a/b/c:1"))
                .unwrap()
                .path(),
            "mirror/a/b/c"
        );
    }

    #[test]
    fn namespace_deeper_than_limit_is_an_error() {
        let d = dst("m.example/x/y", Some(2));
        let e = destination_for(&d, &r("quay.io/a:1")).unwrap_err();
        assert!(
            matches!(
                e,
                NamingError::NamespaceTooDeep {
                    components: 2,
                    max: 2,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn fold_path_keeps_leading_components() {
        assert_eq!(fold_path("a/b/c/d", 1), "a-b-c-d");
        assert_eq!(fold_path("a/b/c/d", 2), "a/b-c-d");
        assert_eq!(fold_path("a/b/c/d", 4), "a/b/c/d");
        assert_eq!(fold_path("a/b", 0), "a/b");
    }

    #[test]
    fn catalog_rename_and_tag() {
        let d = dst("m.example/ns", None);
        let src = r("registry.redhat.io/redhat/redhat-operator-index:v4.15");
        assert_eq!(
            catalog_destination(
                &d,
                &src,
                Some("mirror/redhat-operator-index"),
                Some("v4.15-pruned")
            )
            .unwrap()
            .to_string(),
            "m.example/ns/mirror/redhat-operator-index:v4.15-pruned"
        );
        assert_eq!(
            catalog_destination(&d, &src, None, None)
                .unwrap()
                .to_string(),
            "m.example/ns/redhat/redhat-operator-index:v4.15"
        );
        let pinned = r(&format!("quay.io/cat/index@sha256:{}", "cd".repeat(32)));
        assert_eq!(
            catalog_destination(&d, &pinned, Some("x/index"), None)
                .unwrap()
                .to_string(),
            format!("m.example/ns/x/index:sha256-{}", "cd".repeat(32))
        );
    }

    #[test]
    fn release_and_graph_names() {
        let d = dst("m.example:5000/ocp", None);
        assert_eq!(
            release_payload(&d, "4.15.3", "x86_64").unwrap().to_string(),
            "m.example:5000/ocp/openshift/release-images:4.15.3-x86_64"
        );
        assert_eq!(
            release_component(&d, "4.15.3", "x86_64", "etcd")
                .unwrap()
                .to_string(),
            "m.example:5000/ocp/openshift/release:4.15.3-x86_64-etcd"
        );
        assert_eq!(
            graph_image(&d).unwrap().to_string(),
            "m.example:5000/ocp/openshift/graph-image:latest"
        );
        let folded = dst("m.example:5000/ocp", Some(2));
        assert_eq!(
            release_payload(&folded, "4.15.3", "x86_64")
                .unwrap()
                .to_string(),
            "m.example:5000/ocp/openshift-release-images:4.15.3-x86_64"
        );
    }
}
