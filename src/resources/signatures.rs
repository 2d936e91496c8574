//! The release-signature ConfigMap the cluster-version operator reads to verify mirrored
//! releases offline: `mirrored-release-signatures` in `openshift-config-managed`, labelled
//! `release.openshift.io/verification-signatures: ""`, with `binaryData["sha256-<hex>-N"]` =
//! the raw signature bytes (base64 in YAML).
//!
//! One combined ConfigMap, as oc-mirror v2 writes it (the CVO reads every ConfigMap in that
//! namespace carrying the label and looks up keys `sha256-<hex>-N`, so several releases can share
//! one). A ConfigMap must stay under 1 MiB, so when the signatures exceed
//! [`CONFIGMAP_LIMIT`] they continue in `mirrored-release-signatures-1`, `-2`, … (same label).
//!
//! Pure: signatures in, file name → YAML bytes out. No I/O.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;

use crate::oci::Digest;

use super::model::{ResourceError, ResourceOptions};
use super::yaml::{CREATED_ANNOTATION, CREATED_BY, TARGET_ANNOTATION, rfc3339_utc, to_yaml};

/// Name of the first ConfigMap; further ones get `-1`, `-2`, ….
pub const SIGNATURE_CONFIGMAP: &str = "mirrored-release-signatures";
/// Namespace the cluster-version operator reads signatures from.
pub const SIGNATURE_NAMESPACE: &str = "openshift-config-managed";
/// Label (empty value) that marks a ConfigMap as holding release signatures.
pub const SIGNATURE_LABEL: &str = "release.openshift.io/verification-signatures";
/// Largest base64 payload one ConfigMap carries before the next one starts (the API server
/// rejects ConfigMaps over 1 MiB; this leaves room for keys and metadata).
pub const CONFIGMAP_LIMIT: usize = 900_000;

#[derive(Debug, Serialize)]
struct ConfigMap {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    #[serde(rename = "binaryData")]
    binary_data: BTreeMap<String, String>,
    kind: &'static str,
    metadata: ConfigMapMetadata,
}

#[derive(Debug, Serialize)]
struct ConfigMapMetadata {
    annotations: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    name: String,
    namespace: &'static str,
}

/// Renders the signature ConfigMap(s): `sigs` pairs a release payload digest with its raw
/// signatures, numbered `-1`, `-2`, … in the given order. Duplicate digests are merged (their
/// signatures appended in order); releases without signatures are skipped; no signatures → no
/// files. Returns file name (`mirrored-release-signatures.yaml`, then
/// `mirrored-release-signatures-1.yaml`, …) → YAML bytes, to be merged into
/// [`super::Rendered::files`]. Same input (in any order of digests) → same bytes.
pub fn render_signature_configmaps(
    sigs: &[(Digest, Vec<Vec<u8>>)],
    opts: &ResourceOptions,
) -> Result<BTreeMap<String, Vec<u8>>, ResourceError> {
    let mut by_digest: BTreeMap<&Digest, Vec<&Vec<u8>>> = BTreeMap::new();
    for (digest, list) in sigs {
        by_digest.entry(digest).or_default().extend(list.iter());
    }
    let mut parts: Vec<BTreeMap<String, String>> = Vec::new();
    let mut current = BTreeMap::new();
    let mut size = 0;
    for (digest, list) in by_digest {
        if list.is_empty() {
            continue;
        }
        let entries: Vec<(String, String)> = list
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                (
                    format!("{}-{}", digest.tag_form(), i + 1),
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                )
            })
            .collect();
        let release_size: usize = entries.iter().map(|(k, v)| k.len() + v.len() + 8).sum();
        if !current.is_empty() && size + release_size > CONFIGMAP_LIMIT {
            parts.push(std::mem::take(&mut current));
            size = 0;
        }
        size += release_size;
        current.extend(entries);
    }
    if !current.is_empty() {
        parts.push(current);
    }

    let mut files = BTreeMap::new();
    for (i, binary_data) in parts.into_iter().enumerate() {
        let name = if i == 0 {
            SIGNATURE_CONFIGMAP.to_string()
        } else {
            format!("{SIGNATURE_CONFIGMAP}-{i}")
        };
        let file = format!("{name}.yaml");
        let doc = ConfigMap {
            api_version: "v1",
            binary_data,
            kind: "ConfigMap",
            metadata: ConfigMapMetadata {
                annotations: annotations(opts),
                labels: BTreeMap::from([(SIGNATURE_LABEL.to_string(), String::new())]),
                name,
                namespace: SIGNATURE_NAMESPACE,
            },
        };
        let text = to_yaml(&file, &doc)?;
        files.insert(file, text.into_bytes());
    }
    Ok(files)
}

fn annotations(opts: &ResourceOptions) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([(CREATED_BY.to_string(), "airlift".to_string())]);
    if !opts.target.is_empty() {
        out.insert(TARGET_ANNOTATION.to_string(), opts.target.clone());
    }
    if let Some(epoch) = opts.source_date_epoch {
        out.insert(CREATED_ANNOTATION.to_string(), rfc3339_utc(epoch));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_signature_sets_split_into_several_configmaps() {
        let sigs: Vec<(Digest, Vec<Vec<u8>>)> = (0..2000u32)
            .map(|i| (Digest::of(&i.to_be_bytes()), vec![vec![7u8; 600]]))
            .collect();
        let files = render_signature_configmaps(&sigs, &ResourceOptions::default()).unwrap();
        assert!(files.len() > 1, "{}", files.len());
        assert!(files.contains_key("mirrored-release-signatures.yaml"));
        assert!(files.contains_key("mirrored-release-signatures-1.yaml"));
        let mut keys = 0;
        for bytes in files.values() {
            assert!(bytes.len() < 1_000_000, "{}", bytes.len());
            keys += String::from_utf8_lossy(bytes).matches("sha256-").count();
        }
        assert_eq!(keys, 2000);
    }

    #[test]
    fn no_signatures_no_files() {
        let d = Digest::of(b"x");
        let files =
            render_signature_configmaps(&[(d, Vec::new())], &ResourceOptions::default()).unwrap();
        assert!(files.is_empty());
    }
}
