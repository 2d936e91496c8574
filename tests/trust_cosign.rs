//! cosign key-based signature verification with keys and signatures made by the real `openssl`
//! at test time (P-256 key, `openssl dgst -sha256 -sign` → ASN.1 DER ECDSA signature), laid out
//! as cosign lays out a `sha256-<hex>.sig` manifest.

mod support;

use std::collections::BTreeMap;

use airlift::oci::Digest;
use airlift::trust::{CosignKey, SIGNATURE_ANNOTATION, TrustError, verify_cosign};
use base64::Engine as _;
use support::cosign::{key_pair, openssl, sign};

fn payload_for(subject: &Digest) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": "registry.example/team/app"},
            "image": {"docker-manifest-digest": subject.to_string()},
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// The `.sig` manifest cosign writes: one simple-signing layer with the signature annotation.
fn sig_manifest(layer_digest: &Digest, size: usize, signature: &[u8]) -> Vec<u8> {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 2,
            "digest": Digest::of(b"{}").to_string(),
        },
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "size": size,
            "digest": layer_digest.to_string(),
            "annotations": {
                SIGNATURE_ANNOTATION: base64::engine::general_purpose::STANDARD.encode(signature),
            },
        }],
    })
    .to_string()
    .into_bytes()
}

struct Case {
    _dir: tempfile::TempDir,
    subject: Digest,
    manifest: Vec<u8>,
    payloads: BTreeMap<Digest, Vec<u8>>,
    key: CosignKey,
    other_key: CosignKey,
}

fn case() -> Case {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path(), "cosign");
    let (_, other_public) = key_pair(dir.path(), "other");
    let subject = Digest::of(b"the image manifest");
    let payload = payload_for(&subject);
    let signature = sign(&private, &payload);
    let layer = Digest::of(&payload);
    let manifest = sig_manifest(&layer, payload.len(), &signature);
    Case {
        subject,
        manifest,
        payloads: BTreeMap::from([(layer, payload)]),
        key: CosignKey::load(&public).unwrap(),
        other_key: CosignKey::load(&other_public).unwrap(),
        _dir: dir,
    }
}

const IMAGE: &str = "registry.example/team/app@sha256:…";

#[test]
fn valid_signature_verifies() {
    let c = case();
    verify_cosign(IMAGE, &c.subject, &c.manifest, &c.payloads, &c.key).unwrap();
}

#[test]
fn wrong_key_is_rejected() {
    let c = case();
    let err = verify_cosign(IMAGE, &c.subject, &c.manifest, &c.payloads, &c.other_key).unwrap_err();
    assert!(
        matches!(err, TrustError::CosignUnverified { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("bad signature"), "{text}");
    assert!(text.contains(IMAGE), "{text}");
}

#[test]
fn tampered_payload_is_rejected() {
    let c = case();
    let mut payloads = c.payloads.clone();
    for bytes in payloads.values_mut() {
        let at = bytes.iter().position(|b| *b == b'a').unwrap();
        bytes[at] = b'b';
    }
    let err = verify_cosign(IMAGE, &c.subject, &c.manifest, &payloads, &c.key).unwrap_err();
    assert!(err.to_string().contains("tampered payload"), "{err}");

    // A manifest rewritten to point at the tampered blob still fails: the signature is over
    // the original bytes.
    let (_, tampered) = payloads.into_iter().next().unwrap();
    let layer = Digest::of(&tampered);
    let manifest: serde_json::Value = serde_json::from_slice(&c.manifest).unwrap();
    let sig = manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    let rewritten = sig_manifest(&layer, tampered.len(), &sig);
    let err = verify_cosign(
        IMAGE,
        &c.subject,
        &rewritten,
        &BTreeMap::from([(layer, tampered)]),
        &c.key,
    )
    .unwrap_err();
    assert!(err.to_string().contains("bad signature"), "{err}");
}

#[test]
fn signature_for_another_digest_is_rejected() {
    let c = case();
    let other = Digest::of(b"another image");
    let err = verify_cosign(IMAGE, &other, &c.manifest, &c.payloads, &c.key).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("digest mismatch"), "{text}");
    assert!(text.contains(&other.to_string()), "{text}");
}

#[test]
fn manifest_without_signature_layers_is_missing() {
    let c = case();
    let manifest = serde_json::json!({"schemaVersion": 2, "layers": []}).to_string();
    let err =
        verify_cosign(IMAGE, &c.subject, manifest.as_bytes(), &c.payloads, &c.key).unwrap_err();
    assert!(matches!(err, TrustError::CosignMissing { .. }), "{err:?}");
    let err = verify_cosign(IMAGE, &c.subject, &c.manifest, &BTreeMap::new(), &c.key).unwrap_err();
    assert!(err.to_string().contains("was not provided"), "{err}");
}

#[test]
fn a_key_that_is_not_p256_pem_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rsa.pub");
    let private = dir.path().join("rsa.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        private.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        path.to_str().unwrap(),
    ]);
    let err = CosignKey::load(&path).unwrap_err();
    assert!(matches!(err, TrustError::CosignKey { .. }), "{err:?}");
    assert!(err.to_string().contains("rsa.pub"), "{err}");
}
