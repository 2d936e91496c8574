//! Verification of cosign key-based signatures (`cosign sign --key`): the `sha256-<hex>.sig`
//! manifest next to an image holds one layer per signature; each layer blob is a simple-signing
//! JSON payload and its annotation `dev.cosignproject.cosign/signature` is the base64 ASN.1 DER
//! ECDSA P-256 signature (SHA-256) over the payload bytes.
//!
//! An image is verified when at least one layer's payload matches its layer digest, carries a
//! valid signature by the key, and names the image's digest. Transparency-log bundles and
//! keyless (Fulcio) certificates are not checked. Pure: manifest and blobs are passed in; only
//! [`CosignKey::load`] reads a file.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;

use crate::oci::Digest;

use super::error::TrustError;
use super::simple_signing::{COSIGN_SIGNING_TYPE, SIMPLE_SIGNING_TYPE, SimpleSigning};

/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A cosign public key: ECDSA P-256, PEM `SubjectPublicKeyInfo` (`-----BEGIN PUBLIC KEY-----`).
#[derive(Debug, Clone)]
pub struct CosignKey {
    key: VerifyingKey,
}

impl CosignKey {
    /// Reads a PEM public key file.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrustError::CosignKey {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_pem(path, &text)
    }

    /// Parses PEM text; `source` is only used in messages.
    pub fn from_pem(source: &Path, pem: &str) -> Result<Self, TrustError> {
        let key =
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| TrustError::CosignKey {
                path: source.to_path_buf(),
                message: format!("not a PEM ECDSA P-256 public key ({e})"),
            })?;
        Ok(CosignKey { key })
    }
}

/// Verifies the cosign signature of the image `subject_digest` (named `image` in messages).
///
/// `sig_manifest` is the raw `sha256-<hex>.sig` manifest; `payloads` maps its layer digests to
/// the layer blobs. A payload whose bytes do not hash to its layer digest is rejected.
///
/// Errors: [`TrustError::CosignMissing`] when the manifest is not a JSON manifest or has no
/// signature layer; [`TrustError::CosignUnverified`] with one reason per layer when no layer
/// verifies (wrong key, tampered payload, payload for another digest, missing blob).
pub fn verify_cosign(
    image: &str,
    subject_digest: &Digest,
    sig_manifest: &[u8],
    payloads: &BTreeMap<Digest, Vec<u8>>,
    key: &CosignKey,
) -> Result<(), TrustError> {
    let missing = |reason: String| TrustError::CosignMissing {
        image: image.to_string(),
        reason,
    };
    let manifest: serde_json::Value = serde_json::from_slice(sig_manifest)
        .map_err(|e| missing(format!("the signature manifest is not JSON ({e})")))?;
    let layers = manifest
        .get("layers")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| missing("the signature manifest has no `layers`".to_string()))?;

    let mut reasons = Vec::new();
    let mut signed_layers = 0;
    for (n, layer) in layers.iter().enumerate() {
        let Some(signature) = layer
            .get("annotations")
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
            .and_then(serde_json::Value::as_str)
        else {
            continue;
        };
        signed_layers += 1;
        match verify_layer(layer, signature, subject_digest, payloads, key) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(format!("layer {n}: {reason}")),
        }
    }
    if signed_layers == 0 {
        return Err(missing(format!(
            "no layer carries the `{SIGNATURE_ANNOTATION}` annotation"
        )));
    }
    Err(TrustError::CosignUnverified {
        image: image.to_string(),
        reasons,
    })
}

fn verify_layer(
    layer: &serde_json::Value,
    signature_b64: &str,
    subject: &Digest,
    payloads: &BTreeMap<Digest, Vec<u8>>,
    key: &CosignKey,
) -> Result<(), String> {
    let digest: Digest = layer
        .get("digest")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| "the layer has no digest".to_string())?
        .parse()
        .map_err(|e| format!("the layer digest is invalid ({e})"))?;
    let payload = payloads
        .get(&digest)
        .ok_or_else(|| format!("the payload blob {digest} was not provided"))?;
    if Digest::of(payload) != digest {
        return Err(format!(
            "tampered payload: the blob does not hash to its layer digest {digest}"
        ));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| format!("bad signature: the annotation is not base64 ({e})"))?;
    let signature = Signature::from_der(&der)
        .or_else(|_| Signature::from_slice(&der))
        .map_err(|e| format!("bad signature: not an ECDSA signature ({e})"))?;
    key.key.verify(payload, &signature).map_err(|_| {
        "bad signature: the signature does not verify with the cosign key (wrong key or tampered payload)"
            .to_string()
    })?;
    let doc = SimpleSigning::parse(payload, &[COSIGN_SIGNING_TYPE, SIMPLE_SIGNING_TYPE])
        .map_err(|p| p.to_string())?;
    doc.check_digest(subject).map_err(|p| p.to_string())
}
