//! The `verify-cosign` task: read the cosign signature of one source image (the
//! `sha256-<hex>.sig` manifest in the image's source repository and its simple-signing payload
//! blobs) and verify it against the keys of the trust blocks of its content set (DESIGN §7).
//! A signature by any one of the keys is accepted.
//!
//! Reads the source registry only (the keys were read once by the pipeline); writes nothing. The copies of the image
//! depend on this task, so a failure leaves the image untagged at every destination.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use serde_json::Value;

use crate::oci::{Digest, Repository};
use crate::plan::CosignSpec;
use crate::registry::{RegistryClient, RegistryError};
use crate::trust::{CosignKey, SIGNATURE_ANNOTATION, TrustError, verify_cosign};

/// Signature payloads larger than this are not read (cosign payloads are a few hundred bytes).
const MAX_PAYLOAD: u64 = 1024 * 1024;
/// At most this many signature layers are read from one `.sig` manifest.
const MAX_LAYERS: usize = 64;

/// Why an image's cosign signature was not accepted.
#[derive(Debug, thiserror::Error)]
#[error(
    "image {image} (set `{set}`) is not verified with cosign key {keys}: {reason}; it is not tagged at the destination — sign the image at this digest with the private half of the key, fix the trust block's `cosign-key`, or rerun with --no-verify (not recommended)"
)]
pub struct CosignVerifyError {
    pub image: String,
    pub set: String,
    /// The key files, with their trust blocks.
    pub keys: String,
    pub reason: String,
}

/// Verifies the cosign signature of `spec.image` (pinned to `spec.digest`) read from `source`.
pub async fn verify_cosign_image(
    spec: &CosignSpec,
    source: &RegistryClient,
) -> Result<(), CosignVerifyError> {
    let keys: Vec<String> = spec
        .keys
        .iter()
        .map(|k| format!("{} (trust `{}`)", k.path.display(), k.trust))
        .collect();
    let fail = |reason: String| CosignVerifyError {
        image: spec.image.to_string(),
        set: spec.set.clone(),
        keys: keys.join(" or "),
        reason,
    };
    let loaded: Vec<(&crate::plan::CosignKeyRef, &CosignKey)> =
        spec.keys.iter().map(|k| (k, &*k.key)).collect();
    let repo = spec.image.repository();
    let tag = format!("{}.sig", spec.digest.tag_form());
    let manifest = match source.get_manifest(&repo.with_tag(&tag)).await {
        Ok(m) => m,
        Err(e) if matches!(e.last(), RegistryError::NotFound { .. }) => {
            return Err(fail(format!(
                "no signature: the source has no signature tag `{repo}:{tag}`"
            )));
        }
        Err(e) => {
            return Err(fail(format!(
                "cannot read the signature `{repo}:{tag}`: {e}"
            )));
        }
    };
    let doc: Value = serde_json::from_slice(&manifest.bytes).map_err(|e| {
        fail(format!(
            "the signature manifest `{repo}:{tag}` is not JSON ({e})"
        ))
    })?;
    let mut payloads: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    let layers = doc
        .get("layers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for layer in layers.iter().take(MAX_LAYERS) {
        if layer
            .get("annotations")
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
            .is_none()
        {
            continue;
        }
        let Some(digest) = layer
            .get("digest")
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<Digest>().ok())
        else {
            continue;
        };
        let size = layer.get("size").and_then(Value::as_u64).unwrap_or(0);
        if size > MAX_PAYLOAD {
            continue;
        }
        let bytes = read_payload(source, repo, &digest)
            .await
            .map_err(|e| fail(format!("cannot read the signature payload {digest}: {e}")))?;
        payloads.insert(digest, bytes);
    }
    let image = format!("{repo}@{}", spec.digest);
    let mut reasons = Vec::new();
    for (k, key) in &loaded {
        match verify_cosign(&image, &spec.digest, &manifest.bytes, &payloads, key) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let why = match e {
                    TrustError::CosignMissing { reason, .. } => format!("no signature: {reason}"),
                    TrustError::CosignUnverified { reasons, .. } => reasons.join("; "),
                    other => other.to_string(),
                };
                if loaded.len() == 1 {
                    reasons.push(why);
                } else {
                    reasons.push(format!("with {}: {why}", k.path.display()));
                }
            }
        }
    }
    Err(fail(reasons.join("; ")))
}

/// One payload blob, at most [`MAX_PAYLOAD`] bytes (the digest is checked by `verify_cosign`).
async fn read_payload(
    source: &RegistryClient,
    repo: &Repository,
    digest: &Digest,
) -> Result<Vec<u8>, String> {
    let mut stream = source
        .get_blob(repo, digest)
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        if bytes.len() as u64 > MAX_PAYLOAD {
            return Err(format!("it is larger than {MAX_PAYLOAD} bytes"));
        }
    }
    Ok(bytes)
}
