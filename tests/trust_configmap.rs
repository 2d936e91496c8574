//! The release-signature ConfigMap: snapshot of the rendered YAML and a structural check of
//! what the Kubernetes API server and the cluster-version operator require of it (there is no
//! CRD for core types, so the rules are checked here: apiVersion/kind, DNS-1123 name, namespace,
//! label, binaryData key syntax and base64 values that decode to the input signatures).

use std::collections::BTreeMap;

use airlift::oci::Digest;
use airlift::resources::{
    ResourceOptions, SIGNATURE_LABEL, SIGNATURE_NAMESPACE, render_signature_configmaps,
};
use base64::Engine as _;

fn snap(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/trust"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

/// Two releases (one with two signatures), given out of order.
fn input() -> Vec<(Digest, Vec<Vec<u8>>)> {
    vec![
        (digest('b'), vec![b"signature of b".to_vec()]),
        (
            digest('a'),
            vec![
                b"first signature of a \x00\xff binary".to_vec(),
                b"second signature of a".to_vec(),
            ],
        ),
    ]
}

fn opts() -> ResourceOptions {
    ResourceOptions {
        target: "enterprise".into(),
        ..ResourceOptions::default()
    }
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Checks one rendered ConfigMap and returns its binaryData decoded.
fn check_configmap(text: &str) -> BTreeMap<String, Vec<u8>> {
    let doc: serde_json::Value = serde_saphyr::from_str(text).expect("valid YAML");
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "ConfigMap");
    let name = doc["metadata"]["name"].as_str().unwrap();
    assert!(is_dns1123_subdomain(name), "{name}");
    assert_eq!(doc["metadata"]["namespace"], SIGNATURE_NAMESPACE);
    assert_eq!(doc["metadata"]["labels"][SIGNATURE_LABEL], "");
    assert_eq!(doc["metadata"]["annotations"]["createdBy"], "airlift");
    assert!(doc.get("data").is_none());
    let key_syntax = regex::Regex::new(r"^[-._a-zA-Z0-9]+$").unwrap();
    let cvo_key = regex::Regex::new(r"^sha256-[0-9a-f]{64}-[1-9][0-9]*$").unwrap();
    let mut out = BTreeMap::new();
    for (key, value) in doc["binaryData"].as_object().expect("binaryData map") {
        assert!(key_syntax.is_match(key) && key.len() <= 253, "{key}");
        assert!(cvo_key.is_match(key), "{key}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("string value"))
            .expect("valid base64");
        out.insert(key.clone(), bytes);
    }
    out
}

#[test]
fn configmap_snapshot_and_structure() {
    let files = render_signature_configmaps(&input(), &opts()).unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["mirrored-release-signatures.yaml"]
    );
    let text = String::from_utf8(files["mirrored-release-signatures.yaml"].clone()).unwrap();
    snap("mirrored_release_signatures", &text);

    let data = check_configmap(&text);
    let a = digest('a').hex().to_string();
    let b = digest('b').hex().to_string();
    assert_eq!(
        data,
        BTreeMap::from([
            (
                format!("sha256-{a}-1"),
                b"first signature of a \x00\xff binary".to_vec()
            ),
            (format!("sha256-{a}-2"), b"second signature of a".to_vec()),
            (format!("sha256-{b}-1"), b"signature of b".to_vec()),
        ])
    );
}

#[test]
fn output_is_deterministic_and_order_independent() {
    let mut reversed = input();
    reversed.reverse();
    let one = render_signature_configmaps(&input(), &opts()).unwrap();
    let two = render_signature_configmaps(&reversed, &opts()).unwrap();
    assert_eq!(one, two);
}

#[test]
fn source_date_epoch_adds_the_created_annotation() {
    let opts = ResourceOptions {
        source_date_epoch: Some(1_700_000_000),
        ..opts()
    };
    let files = render_signature_configmaps(&input(), &opts).unwrap();
    let text = String::from_utf8(files["mirrored-release-signatures.yaml"].clone()).unwrap();
    assert!(
        text.contains("airlift/created: \"2023-11-14T22:13:20Z\""),
        "{text}"
    );
}

#[test]
fn split_configmaps_are_each_valid() {
    let sigs: Vec<(Digest, Vec<Vec<u8>>)> = (0..3000u32)
        .map(|i| {
            (
                Digest::of(&i.to_be_bytes()),
                vec![vec![(i % 251) as u8; 700]],
            )
        })
        .collect();
    let files = render_signature_configmaps(&sigs, &opts()).unwrap();
    assert!(files.len() >= 2, "{}", files.len());
    let mut total = 0;
    for (name, bytes) in &files {
        assert!(bytes.len() < 1024 * 1024, "{name}: {}", bytes.len());
        total += check_configmap(std::str::from_utf8(bytes).unwrap()).len();
    }
    assert_eq!(total, 3000);
}
