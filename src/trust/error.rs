//! `TrustError`: every way loading a key, fetching a signature or verifying one can fail.
//!
//! Each variant names what was being checked (the release or image, the signature's URL or path,
//! the key file) and says what to do next. Data only; no I/O.

use std::fmt;
use std::path::PathBuf;

/// Why one signature did not verify. Rendered lowercase, without the signature's location (the
/// enclosing [`SignatureFailure`] adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The signature was made by a key that is not in the keyring.
    UnknownKey { key_ids: Vec<String> },
    /// The key is in the keyring but the signature does not match the signed data.
    BadSignature { key_id: String, detail: String },
    /// The signing key had expired (at the time of verification).
    ExpiredKey { key_id: String, expired_at: u64 },
    /// The signing key (or its primary key) was revoked.
    RevokedKey { key_id: String },
    /// The bytes are not an OpenPGP signed message (or the message is damaged).
    NotSignedMessage { detail: String },
    /// The signed document is not an "atomic container signature" simple-signing document.
    NotSimpleSigning { detail: String },
    /// The signed digest is not the one being verified.
    DigestMismatch { signed: String, expected: String },
    /// The signed identity names a different repository.
    IdentityMismatch {
        signed: String,
        expected: Vec<String>,
    },
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureProblem::UnknownKey { key_ids } if key_ids.is_empty() => {
                f.write_str("unknown key: the signature names no issuer key")
            }
            SignatureProblem::UnknownKey { key_ids } => {
                write!(
                    f,
                    "unknown key: signed by key {} which is not in the keyring",
                    key_ids.join(", ")
                )
            }
            SignatureProblem::BadSignature { key_id, detail } => {
                write!(f, "bad signature by key {key_id}: {detail}")
            }
            SignatureProblem::ExpiredKey { key_id, expired_at } => {
                write!(
                    f,
                    "expired key: key {key_id} expired at unix time {expired_at}"
                )
            }
            SignatureProblem::RevokedKey { key_id } => {
                write!(f, "revoked key: key {key_id} has been revoked")
            }
            SignatureProblem::NotSignedMessage { detail } => {
                write!(f, "not an OpenPGP signed message: {detail}")
            }
            SignatureProblem::NotSimpleSigning { detail } => {
                write!(f, "not a simple-signing document: {detail}")
            }
            SignatureProblem::DigestMismatch { signed, expected } => {
                write!(
                    f,
                    "digest mismatch: the signature is for {signed}, not {expected}"
                )
            }
            SignatureProblem::IdentityMismatch { signed, expected } => {
                write!(
                    f,
                    "identity mismatch: the signature is for `{signed}`, expected a reference in {}",
                    expected
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
    }
}

/// One signature that failed, and where it came from (URL or path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureFailure {
    pub location: String,
    pub problem: SignatureProblem,
}

impl fmt::Display for SignatureFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.problem)
    }
}

fn join_failures(failures: &[SignatureFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a key could not be loaded, a signature could not be fetched, or nothing verified.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TrustError {
    #[error("cannot read the keyring `{}`: {message}", path.display())]
    #[diagnostic(
        code(airlift::trust::keyring_read),
        help(
            "check the `gpg-keyring` path of the trust block; it is resolved relative to the recipe file"
        )
    )]
    KeyringRead { path: PathBuf, message: String },

    #[error("the keyring `{}` holds no usable OpenPGP public key: {message}", path.display())]
    #[diagnostic(
        code(airlift::trust::keyring_parse),
        help(
            "export the key with `gpg --export KEYID > keys.gpg` or `gpg --armor --export KEYID > keys.asc`; several keys may be concatenated"
        )
    )]
    KeyringParse { path: PathBuf, message: String },

    #[error("cannot read the cosign key `{}`: {message}", path.display())]
    #[diagnostic(
        code(airlift::trust::cosign_key),
        help(
            "`cosign-key` must name a PEM ECDSA P-256 public key (`-----BEGIN PUBLIC KEY-----`), e.g. the `cosign.pub` written by `cosign generate-key-pair`"
        )
    )]
    CosignKey { path: PathBuf, message: String },

    #[error("release `{release}` must be pinned by digest before its signatures can be checked")]
    #[diagnostic(
        code(airlift::trust::not_pinned),
        help("resolve the release to a digest first (`airlift lock`)")
    )]
    NotPinned { release: String },

    #[error("no signature found for release `{release}` ({searched})")]
    #[diagnostic(
        code(airlift::trust::no_signature),
        help(
            "check the `signature-store` of the trust block (or OCP_SIGNATURE_URL); an unverified release is never mirrored"
        )
    )]
    NoSignature { release: String, searched: String },

    #[error("release `{release}` is not verified: {}", join_failures(.failures))]
    #[diagnostic(
        code(airlift::trust::release_unverified),
        help(
            "make sure the trust block's keyring holds the key that signs these releases and that the store serves signatures for this digest; an unverified release is never mirrored"
        )
    )]
    ReleaseUnverified {
        release: String,
        failures: Vec<SignatureFailure>,
    },

    #[error("cannot fetch `{location}`: {message}")]
    #[diagnostic(
        code(airlift::trust::fetch),
        help(
            "check that the signature store is reachable (set `signature-store` or OCP_SIGNATURE_URL to a reachable mirror, or use an archive that carries the signatures)"
        )
    )]
    Fetch { location: String, message: String },

    #[error("cannot write `{}`: {message}", path.display())]
    #[diagnostic(
        code(airlift::trust::write),
        help("check that the directory is writable and the disk is not full")
    )]
    Write { path: PathBuf, message: String },

    #[error("image `{image}` has no cosign signature: {reason}")]
    #[diagnostic(
        code(airlift::trust::cosign_missing),
        help(
            "sign the image with `cosign sign --key cosign.key IMAGE@DIGEST`, or remove the image's set from the trust block's `applies-to`"
        )
    )]
    CosignMissing { image: String, reason: String },

    #[error("image `{image}` is not verified by the cosign key: {}", reasons.join("; "))]
    #[diagnostic(
        code(airlift::trust::cosign_unverified),
        help(
            "check that `cosign-key` is the public half of the key that signed the image and that the signature belongs to this digest; the image is not tagged at the destination"
        )
    )]
    CosignUnverified { image: String, reasons: Vec<String> },
}

#[cfg(test)]
mod tests {
    use miette::Diagnostic as _;

    use super::*;

    fn samples() -> Vec<TrustError> {
        let path = PathBuf::from("keys/release.asc");
        let release = "quay.io/openshift-release-dev/ocp-release@sha256:abc".to_string();
        vec![
            TrustError::KeyringRead {
                path: path.clone(),
                message: "No such file or directory (os error 2)".into(),
            },
            TrustError::KeyringParse {
                path: path.clone(),
                message: "the file contains no public key".into(),
            },
            TrustError::CosignKey {
                path: "keys/cosign.pub".into(),
                message: "not a PEM ECDSA P-256 public key".into(),
            },
            TrustError::NotPinned {
                release: release.clone(),
            },
            TrustError::NoSignature {
                release: release.clone(),
                searched: "nothing at `https://sigs.example/sha256=abc/signature-1`".into(),
            },
            TrustError::ReleaseUnverified {
                release: release.clone(),
                failures: vec![
                    SignatureFailure {
                        location: "https://sigs.example/sha256=abc/signature-1".into(),
                        problem: SignatureProblem::UnknownKey {
                            key_ids: vec!["199E2F91FD431D51".into()],
                        },
                    },
                    SignatureFailure {
                        location: "https://sigs.example/sha256=abc/signature-2".into(),
                        problem: SignatureProblem::DigestMismatch {
                            signed: "sha256:def".into(),
                            expected: "sha256:abc".into(),
                        },
                    },
                ],
            },
            TrustError::Fetch {
                location: "https://sigs.example/sha256=abc/signature-1".into(),
                message: "the server answered HTTP 500".into(),
            },
            TrustError::Write {
                path: "out/sigs".into(),
                message: "Permission denied (os error 13)".into(),
            },
            TrustError::CosignMissing {
                image: "registry.example/app@sha256:abc".into(),
                reason: "no layer carries the annotation".into(),
            },
            TrustError::CosignUnverified {
                image: "registry.example/app@sha256:abc".into(),
                reasons: vec!["layer 0: bad signature".into()],
            },
        ]
    }

    #[test]
    fn every_error_has_a_code_and_says_what_to_do() {
        for e in samples() {
            assert!(e.code().is_some(), "{e}");
            let help = e.help().map(|h| h.to_string()).unwrap_or_default();
            assert!(!help.is_empty(), "{e}");
        }
    }

    #[test]
    fn unverified_release_lists_every_signature_and_reason() {
        let text = samples()[5].to_string();
        assert_eq!(
            text,
            "release `quay.io/openshift-release-dev/ocp-release@sha256:abc` is not verified: \
             https://sigs.example/sha256=abc/signature-1: unknown key: signed by key \
             199E2F91FD431D51 which is not in the keyring; \
             https://sigs.example/sha256=abc/signature-2: digest mismatch: the signature is for \
             sha256:def, not sha256:abc"
        );
    }
}
