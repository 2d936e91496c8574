//! The `verify-signature` task: fetch the detached signatures of one release payload from its
//! signature store, verify them against the trust keyrings (DESIGN §7; a key of any trust block
//! that applies to the release is accepted) and save them under the
//! workspace for the `mirrored-release-signatures` ConfigMap and for offline runs.
//!
//! Blocking (the signature store client is synchronous): the executor runs it off the async
//! workers. Writes only below the spec's `signatures_dir`; never touches a registry.

use crate::oci::Digest;
use crate::plan::VerifySpec;
use crate::trust::{Keyring, SignatureStore, TrustError, fetch_and_verify, store};

/// Why a release payload was not verified.
#[derive(Debug, thiserror::Error)]
#[error(
    "release `{set}` {release} ({payload}) is not verified: {source}; none of its images are mirrored — check the trust block's keyring and signature-store, or rerun with --no-verify (not recommended)"
)]
pub struct VerifyError {
    pub set: String,
    pub release: String,
    pub payload: String,
    #[source]
    pub source: Box<TrustError>,
}

/// Verifies the payload of `spec` and saves its signatures; returns the key id that signed it.
pub fn verify_release_payload(
    spec: &VerifySpec,
    web: &crate::web::WebClient,
) -> Result<String, Box<VerifyError>> {
    let fail = |source| {
        Box::new(VerifyError {
            set: spec.set.clone(),
            release: spec.release.clone(),
            payload: spec.payload.to_string(),
            source: Box::new(source),
        })
    };
    let mut files = spec.keyrings.iter();
    let Some(first) = files.next() else {
        return Err(fail(TrustError::KeyringRead {
            path: std::path::PathBuf::new(),
            message: "no keyring applies to this release".to_string(),
        }));
    };
    // The bytes read once by the pipeline: their digest is in the task key.
    let mut keyring = Keyring::from_bytes(&first.path, &first.bytes).map_err(fail)?;
    for k in files {
        keyring.extend(Keyring::from_bytes(&k.path, &k.bytes).map_err(fail)?);
    }
    let signature_store = SignatureStore::from_env(spec.store.as_deref());
    let verified = fetch_and_verify(
        &signature_store,
        web,
        &spec.payload,
        &spec.also_accept,
        &keyring,
    )
    .map_err(fail)?;
    let bytes: Vec<Vec<u8>> = verified.signatures.iter().map(|(_, b)| b.clone()).collect();
    store::save(&spec.signatures_dir, &verified.digest, &bytes).map_err(fail)?;
    Ok(verified.key_id)
}

/// The saved signatures of `digest` under `dir`, in order (`signature-1`, `signature-2`, …);
/// empty when none were saved.
pub fn saved_signatures(dir: &std::path::Path, digest: &Digest) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for index in 1..=crate::trust::MAX_SIGNATURES {
        match std::fs::read(store::signature_path(dir, digest, index)) {
            Ok(b) => out.push(b),
            Err(_) => break,
        }
    }
    out
}
