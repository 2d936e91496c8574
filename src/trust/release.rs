//! Verification of OpenShift release signatures: OpenPGP *signed messages* (not detached, not
//! clearsigned) whose literal data is a simple-signing JSON document naming the release
//! payload's digest.
//!
//! A release is verified when at least one of its signatures is a valid signature by a key of
//! the keyring (not expired, not revoked), over a simple-signing document whose digest is the
//! payload digest and whose `docker-reference` names an accepted repository. This mirrors what
//! the cluster-version operator accepts (any one valid signature suffices). Pure: the signatures
//! are passed in (see [`super::store`] for fetching); no I/O.

use std::io::Read;

use pgp::composed::Message;

use crate::oci::{Digest, ImageRef, Repository};

use super::error::{SignatureFailure, SignatureProblem, TrustError};
use super::keyring::{Keyring, key_id_string, now_unix};
use super::simple_signing::{SIMPLE_SIGNING_TYPE, SimpleSigning};

/// Largest signed document read from a message; release signatures are well under 1 KiB.
const MAX_SIGNED_DATA: u64 = 1024 * 1024;

/// One signature as fetched from a store: its number N (`signature-N`), where it came from
/// (URL or path, for messages) and its raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedSignature {
    pub index: u32,
    pub location: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FetchedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedSignature")
            .field("index", &self.index)
            .field("location", &self.location)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// A release whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRelease {
    /// The payload digest.
    pub digest: Digest,
    /// The signatures that verified, as `(N, raw bytes)`, in fetch order. These are what
    /// travels in archives and goes into the signature ConfigMap.
    pub signatures: Vec<(u32, Vec<u8>)>,
    /// Key ID (16 uppercase hex digits) of the key that made the first verified signature.
    pub key_id: String,
}

/// Verifies a pinned release payload against its fetched signatures.
///
/// `payload` must carry a digest. The signed `docker-reference` must name `payload`'s
/// repository or one of `also_accept` (tags are ignored): pass the release's source
/// repositories (e.g. `quay.io/openshift-release-dev/ocp-release`) when the payload is read
/// from a mirror or an archive.
///
/// Errors: [`TrustError::NotPinned`], [`TrustError::NoSignature`] when `signatures` is empty,
/// [`TrustError::ReleaseUnverified`] listing every signature's failure when none verifies.
pub fn verify_release(
    payload: &ImageRef,
    also_accept: &[Repository],
    signatures: &[FetchedSignature],
    keyring: &Keyring,
) -> Result<VerifiedRelease, TrustError> {
    let digest = payload.digest().ok_or_else(|| TrustError::NotPinned {
        release: payload.to_string(),
    })?;
    if signatures.is_empty() {
        return Err(TrustError::NoSignature {
            release: payload.to_string(),
            searched: "no signature was fetched".to_string(),
        });
    }
    let mut accepted = vec![payload.repository().clone()];
    accepted.extend(also_accept.iter().cloned());
    let now = now_unix();
    let mut verified = Vec::new();
    let mut key_id = None;
    let mut failures = Vec::new();
    for sig in signatures {
        let checked = verify_signed_message(&sig.bytes, keyring, now).and_then(|(doc, key)| {
            doc.check_digest(digest)?;
            doc.check_repository(&accepted)?;
            Ok(key)
        });
        match checked {
            Ok(key) => {
                key_id.get_or_insert(key);
                verified.push((sig.index, sig.bytes.clone()));
            }
            Err(problem) => failures.push(SignatureFailure {
                location: sig.location.clone(),
                problem,
            }),
        }
    }
    match key_id {
        Some(key_id) => Ok(VerifiedRelease {
            digest: digest.clone(),
            signatures: verified,
            key_id,
        }),
        None => Err(TrustError::ReleaseUnverified {
            release: payload.to_string(),
            failures,
        }),
    }
}

/// Opens an OpenPGP signed message (binary or armored, compressed or not), checks its
/// signature against the keyring and returns the parsed simple-signing document and the key
/// ID that signed it. `now` is the Unix time used for the expiry check.
pub fn verify_signed_message(
    raw: &[u8],
    keyring: &Keyring,
    now: u64,
) -> Result<(SimpleSigning, String), SignatureProblem> {
    let not = |detail: String| SignatureProblem::NotSignedMessage { detail };
    let armored = raw.starts_with(b"-----BEGIN PGP");
    let mut msg = if armored {
        Message::from_armor(raw).map(|(m, _)| m)
    } else {
        Message::from_bytes(raw)
    }
    .map_err(|e| not(e.to_string()))?;
    for _ in 0..4 {
        if !msg.is_compressed() {
            break;
        }
        msg = msg.decompress().map_err(|e| not(e.to_string()))?;
    }
    if !msg.is_signed() {
        return Err(not("the message carries no signature".to_string()));
    }
    let mut data = Vec::new();
    (&mut msg)
        .take(MAX_SIGNED_DATA + 1)
        .read_to_end(&mut data)
        .map_err(|e| not(e.to_string()))?;
    if data.len() as u64 > MAX_SIGNED_DATA {
        return Err(not(format!(
            "the signed data is larger than {MAX_SIGNED_DATA} bytes"
        )));
    }
    let Message::Signed { reader, .. } = &msg else {
        return Err(not("the message carries no signature".to_string()));
    };

    let candidates = keyring.candidates();
    let mut unknown = Vec::new();
    let mut last_problem = None;
    for index in 0..reader.num_signatures() {
        let Some(signature) = reader.signature(index) else {
            continue;
        };
        let ids = signature.issuer_key_id();
        let fingerprints = signature.issuer_fingerprint();
        let named = !ids.is_empty() || !fingerprints.is_empty();
        let matching: Vec<_> = candidates
            .iter()
            .filter(|c| {
                !named
                    || fingerprints.iter().any(|f| **f == c.fingerprint)
                    || ids.iter().any(|id| key_id_string(id) == c.key_id)
            })
            .collect();
        if matching.is_empty() {
            if ids.is_empty() {
                unknown.extend(fingerprints.iter().map(key_id_string));
            } else {
                unknown.extend(ids.iter().map(key_id_string));
            }
            continue;
        }
        for candidate in matching {
            match msg.verify_nested_explicit(index, candidate.key) {
                Ok(_) => {
                    if candidate.revoked {
                        last_problem = Some(SignatureProblem::RevokedKey {
                            key_id: candidate.key_id.clone(),
                        });
                        continue;
                    }
                    if let Some(expired_at) = candidate.expires_at
                        && expired_at <= now
                    {
                        last_problem = Some(SignatureProblem::ExpiredKey {
                            key_id: candidate.key_id.clone(),
                            expired_at,
                        });
                        continue;
                    }
                    let doc = SimpleSigning::parse(&data, &[SIMPLE_SIGNING_TYPE])?;
                    return Ok((doc, candidate.key_id.clone()));
                }
                Err(_) => {
                    last_problem = Some(SignatureProblem::BadSignature {
                        key_id: candidate.key_id.clone(),
                        detail: "the signature does not match the signed data".to_string(),
                    });
                }
            }
        }
    }
    if let Some(problem) = last_problem {
        return Err(problem);
    }
    unknown.sort();
    unknown.dedup();
    Err(SignatureProblem::UnknownKey { key_ids: unknown })
}
