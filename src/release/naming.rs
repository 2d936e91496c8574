//! Where release content lands at a registry target, following oc-mirror v2's layout:
//! payload `<dst>/openshift/release-images:<version>-<arch>`, component
//! `<dst>/openshift/release:<version>-<arch>-<component>`, graph image
//! `<dst>/openshift/graph-image:latest`.
//!
//! Pure string construction, validated through [`ImageRef`] parsing. No I/O.

use semver::Version;

use crate::oci::{ImageRef, ReferenceError};

pub const RELEASE_PAYLOAD_REPO: &str = "openshift/release-images";
pub const RELEASE_COMPONENT_REPO: &str = "openshift/release";
pub const GRAPH_IMAGE_REPO: &str = "openshift/graph-image";

/// `<version>-<arch>`; a `+build` suffix becomes `-build` (tags cannot hold `+`).
pub fn release_tag(version: &Version, arch: &str) -> String {
    format!("{}-{arch}", version.to_string().replace('+', "-"))
}

fn at(registry: &str, namespace: &str, repo: &str, tag: &str) -> Result<ImageRef, ReferenceError> {
    let ns = namespace.trim_matches('/');
    let path = if ns.is_empty() {
        repo.to_string()
    } else {
        format!("{ns}/{repo}")
    };
    format!("{registry}/{path}:{tag}").parse()
}

/// Destination of a release payload at the registry target `registry`/`namespace`.
pub fn payload_destination(
    registry: &str,
    namespace: &str,
    version: &Version,
    arch: &str,
) -> Result<ImageRef, ReferenceError> {
    at(
        registry,
        namespace,
        RELEASE_PAYLOAD_REPO,
        &release_tag(version, arch),
    )
}

/// Destination of a release component image.
pub fn component_destination(
    registry: &str,
    namespace: &str,
    version: &Version,
    arch: &str,
    component: &str,
) -> Result<ImageRef, ReferenceError> {
    let tag = format!("{}-{component}", release_tag(version, arch));
    at(registry, namespace, RELEASE_COMPONENT_REPO, &tag)
}

/// Destination of the graph-data image.
pub fn graph_image_destination(
    registry: &str,
    namespace: &str,
) -> Result<ImageRef, ReferenceError> {
    at(registry, namespace, GRAPH_IMAGE_REPO, "latest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_follow_oc_mirror_v2() {
        let v = Version::parse("4.15.3").unwrap();
        assert_eq!(
            payload_destination("mirror.example:5000", "ocp/", &v, "amd64")
                .unwrap()
                .to_string(),
            "mirror.example:5000/ocp/openshift/release-images:4.15.3-amd64"
        );
        assert_eq!(
            component_destination("mirror.example:5000", "", &v, "multi", "cli")
                .unwrap()
                .to_string(),
            "mirror.example:5000/openshift/release:4.15.3-multi-cli"
        );
        assert_eq!(
            graph_image_destination("127.0.0.1:5000", "a/b")
                .unwrap()
                .to_string(),
            "127.0.0.1:5000/a/b/openshift/graph-image:latest"
        );
        let rc = Version::parse("4.16.0-rc.1+abc").unwrap();
        assert_eq!(release_tag(&rc, "arm64"), "4.16.0-rc.1-abc-arm64");
        let long = "x".repeat(130);
        assert!(component_destination("m.example", "", &v, "amd64", &long).is_err());
    }
}
