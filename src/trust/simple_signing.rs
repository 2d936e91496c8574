//! The "simple signing" document (containers/image `atomic container signature`) that both
//! OpenShift release signatures and cosign signatures sign:
//!
//! ```json
//! {"critical": {"identity": {"docker-reference": "quay.io/…/ocp-release:4.15.0-x86_64"},
//!               "image": {"docker-manifest-digest": "sha256:…"},
//!               "type": "atomic container signature"},
//!  "optional": {…}}
//! ```
//!
//! Pure parsing and checking of the decoded JSON; no cryptography, no I/O.

use crate::oci::{Digest, ImageRef, Repository};

use super::error::SignatureProblem;

/// The `critical.type` of OpenShift release signatures (containers/image simple signing).
pub const SIMPLE_SIGNING_TYPE: &str = "atomic container signature";
/// The `critical.type` cosign writes into its payloads.
pub const COSIGN_SIGNING_TYPE: &str = "cosign container image signature";

/// The fields of a simple-signing document that airlift checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// `critical.image.docker-manifest-digest`.
    pub digest: String,
    /// `critical.identity.docker-reference`; cosign leaves it empty in some versions.
    pub docker_reference: String,
}

impl SimpleSigning {
    /// Parses the signed bytes; anything but a JSON object with the required critical fields
    /// and a `critical.type` among `kinds` is [`SignatureProblem::NotSimpleSigning`].
    pub fn parse(bytes: &[u8], kinds: &[&str]) -> Result<Self, SignatureProblem> {
        let not = |detail: String| SignatureProblem::NotSimpleSigning { detail };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| not(format!("invalid JSON: {e}")))?;
        let critical = value
            .get("critical")
            .ok_or_else(|| not("no `critical` object".to_string()))?;
        let kind = critical
            .get("type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| not("no `critical.type`".to_string()))?;
        if !kinds.contains(&kind) {
            return Err(not(format!(
                "`critical.type` is `{kind}`, not `{}`",
                kinds.join("` or `")
            )));
        }
        let digest = critical
            .get("image")
            .and_then(|i| i.get("docker-manifest-digest"))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| not("no `critical.image.docker-manifest-digest`".to_string()))?;
        let docker_reference = critical
            .get("identity")
            .and_then(|i| i.get("docker-reference"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        Ok(SimpleSigning {
            digest: digest.to_string(),
            docker_reference: docker_reference.to_string(),
        })
    }

    /// The signed digest must equal `expected` exactly.
    pub fn check_digest(&self, expected: &Digest) -> Result<(), SignatureProblem> {
        if self.digest == expected.to_string() {
            Ok(())
        } else {
            Err(SignatureProblem::DigestMismatch {
                signed: self.digest.clone(),
                expected: expected.to_string(),
            })
        }
    }

    /// The signed `docker-reference` must name one of `accepted` repositories; its tag or
    /// digest is ignored (a release is signed as `…/ocp-release:4.15.0-x86_64` and mirrored or
    /// pinned under other tags).
    pub fn check_repository(&self, accepted: &[Repository]) -> Result<(), SignatureProblem> {
        let mismatch = || SignatureProblem::IdentityMismatch {
            signed: self.docker_reference.clone(),
            expected: accepted.iter().map(ToString::to_string).collect(),
        };
        let signed: ImageRef = self.docker_reference.parse().map_err(|_| mismatch())?;
        if accepted.iter().any(|r| r == signed.repository()) {
            Ok(())
        } else {
            Err(mismatch())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &[&str] = &[SIMPLE_SIGNING_TYPE];
    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn doc(kind: &str, digest: &str, reference: &str) -> Vec<u8> {
        serde_json::json!({
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": kind,
            },
            "optional": {"creator": "test"},
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_release_document_is_accepted_for_its_repository_and_digest() {
        let s = SimpleSigning::parse(
            &doc(
                SIMPLE_SIGNING_TYPE,
                D,
                "quay.io/openshift-release-dev/ocp-release:4.15.0-x86_64",
            ),
            RELEASE,
        )
        .unwrap();
        s.check_digest(&D.parse().unwrap()).unwrap();
        let repo = Repository::parse("quay.io/openshift-release-dev/ocp-release").unwrap();
        s.check_repository(std::slice::from_ref(&repo)).unwrap();
        let other = Repository::parse("quay.io/other/ocp-release").unwrap();
        let err = s.check_repository(&[other]).unwrap_err();
        assert!(err.to_string().starts_with("identity mismatch"), "{err}");
    }

    #[test]
    fn wrong_type_and_missing_fields_are_not_simple_signing() {
        let err = SimpleSigning::parse(&doc("something else", D, "a/b:c"), RELEASE).unwrap_err();
        assert!(
            err.to_string().contains("not a simple-signing document"),
            "{err}"
        );
        let err = SimpleSigning::parse(
            b"{\"critical\":{\"type\":\"atomic container signature\"}}",
            RELEASE,
        )
        .unwrap_err();
        assert!(err.to_string().contains("docker-manifest-digest"), "{err}");
        let err = SimpleSigning::parse(b"not json", RELEASE).unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
    }

    #[test]
    fn another_digest_is_a_mismatch() {
        let s = SimpleSigning::parse(&doc(SIMPLE_SIGNING_TYPE, D, "a.io/b:c"), RELEASE).unwrap();
        let other: Digest = format!("sha256:{}", "2".repeat(64)).parse().unwrap();
        let err = s.check_digest(&other).unwrap_err();
        assert!(err.to_string().starts_with("digest mismatch"), "{err}");
    }
}
