//! Manifest media types airlift understands, OCI and Docker schema 2.

/// The manifest media types that matter to the copy engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    OciIndex,
    OciManifest,
    DockerManifestList,
    DockerManifest,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::OciIndex,
        MediaType::OciManifest,
        MediaType::DockerManifestList,
        MediaType::DockerManifest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::OciIndex => "application/vnd.oci.image.index.v1+json",
            MediaType::OciManifest => "application/vnd.oci.image.manifest.v1+json",
            MediaType::DockerManifestList => {
                "application/vnd.docker.distribution.manifest.list.v2+json"
            }
            MediaType::DockerManifest => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.split(';').next().unwrap_or(s).trim();
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// An index (manifest list) rather than a single-platform image manifest.
    pub fn is_index(self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    /// The `Accept` header value that asks a registry for any manifest kind, unchanged.
    pub fn accept_all() -> String {
        Self::ALL.map(|m| m.as_str()).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ignores_parameters_and_rejects_unknown() {
        assert_eq!(
            MediaType::parse("application/vnd.oci.image.index.v1+json; charset=utf-8"),
            Some(MediaType::OciIndex)
        );
        assert_eq!(MediaType::parse("application/json"), None);
        assert!(MediaType::DockerManifestList.is_index());
        assert!(!MediaType::DockerManifest.is_index());
    }
}
