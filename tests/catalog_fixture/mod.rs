//! Fixture catalogs for the catalog tests and benchmark: a small hand-shaped catalog covering
//! replaces chains, skips, skipRange, several channels, deprecations and unknown schemas, and
//! a generator of large realistic catalogs. Builds bytes in memory only.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

fn hex_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn image(repo: &str, seed: &str) -> String {
    format!("registry.example.com/{repo}@sha256:{}", hex_of(seed))
}

/// An `olm.bundle` object with realistic properties and related images.
pub fn bundle(package: &str, name: &str, version: &str, extra_related: &[&str]) -> Value {
    let bundle_image = image(&format!("{package}/bundle"), name);
    let mut related = vec![
        json!({"name": "operator", "image": image(&format!("{package}/operator"), name)}),
        json!({"name": "", "image": bundle_image}),
    ];
    for r in extra_related {
        related.push(json!({"name": r, "image": image(&format!("shared/{r}"), r)}));
    }
    json!({
        "schema": "olm.bundle",
        "name": name,
        "package": package,
        "image": bundle_image,
        "properties": [
            {"type": "olm.package", "value": {"packageName": package, "version": version}},
            {"type": "olm.gvk", "value": {"group": format!("{package}.example.com"), "kind": "Widget", "version": "v1"}},
            {"type": "olm.csv.metadata", "value": {"displayName": format!("The {package}"), "description": "Manages widgets."}}
        ],
        "relatedImages": related
    })
}

fn package(name: &str, default_channel: &str) -> Value {
    json!({"schema": "olm.package", "name": name, "defaultChannel": default_channel,
           "description": format!("{name} for tests"),
           "icon": {"base64data": "PHN2Zy8+", "mediatype": "image/svg+xml"}})
}

fn channel(package: &str, name: &str, entries: Value) -> Value {
    json!({"schema": "olm.channel", "package": package, "name": name, "entries": entries})
}

fn json_stream(objects: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in objects {
        out.extend(serde_json::to_vec_pretty(o).unwrap());
        out.push(b'\n');
    }
    out
}

fn yaml_documents(objects: &[Value]) -> Vec<u8> {
    let docs: Vec<String> = objects
        .iter()
        .map(|o| serde_saphyr::to_string(o).unwrap())
        .collect();
    docs.join("---\n").into_bytes()
}

/// The small catalog:
/// - `alpha-operator` (JSON), default `stable`: 1.0.0 ← 1.1.0 ← 1.1.1; 1.2.0 replaces 1.1.0
///   and skips 1.1.1; 2.0.0 replaces 1.2.0 with skipRange `>=1.0.0 <2.0.0`. Channel `fast`:
///   1.2.0 ← 2.0.0 ← 2.1.0. Channel `candidate-1.1`: 1.1.0 ← 1.1.1. Unknown schema object and
///   unknown fields.
/// - `beta-operator` (YAML), default `stable`: 1.0.0 ← 1.0.1 and 1.0.0 ← 1.1.0 ← 1.2.0 (which
///   also skips 1.0.1) ← 1.3.0. Channel `preview`: 1.3.0 ← 1.4.0-rc.1.
/// - `gamma-operator`, default `stable` (g 1.0.0), channel `legacy` (g 0.9.0), deprecations.
/// - `delta-operator`, default `stable`: 3.0.0 and 3.1.0 with skipRange `>=3.0.0 <3.1.0` and
///   no replaces.
/// - an unowned object of an unknown schema.
pub fn small_catalog() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let a = "alpha-operator";
    let mut alpha = vec![
        package(a, "stable"),
        channel(
            a,
            "stable",
            json!([
                {"name": "alpha-operator.v1.0.0"},
                {"name": "alpha-operator.v1.1.0", "replaces": "alpha-operator.v1.0.0"},
                {"name": "alpha-operator.v1.1.1", "replaces": "alpha-operator.v1.1.0"},
                {"name": "alpha-operator.v1.2.0", "replaces": "alpha-operator.v1.1.0", "skips": ["alpha-operator.v1.1.1"], "x-extra": {"kept": true}},
                {"name": "alpha-operator.v2.0.0", "replaces": "alpha-operator.v1.2.0", "skipRange": ">=1.0.0 <2.0.0"}
            ]),
        ),
        channel(
            a,
            "fast",
            json!([
                {"name": "alpha-operator.v1.2.0"},
                {"name": "alpha-operator.v2.0.0", "replaces": "alpha-operator.v1.2.0"},
                {"name": "alpha-operator.v2.1.0", "replaces": "alpha-operator.v2.0.0"}
            ]),
        ),
        channel(
            a,
            "candidate-1.1",
            json!([
                {"name": "alpha-operator.v1.1.0"},
                {"name": "alpha-operator.v1.1.1", "replaces": "alpha-operator.v1.1.0"}
            ]),
        ),
        json!({"schema": "example.com/custom", "package": a, "name": "notes", "data": {"z": 1, "a": [true, null]}}),
    ];
    for v in ["1.0.0", "1.1.0", "1.1.1", "1.2.0", "2.0.0", "2.1.0"] {
        let mut b = bundle(a, &format!("{a}.v{v}"), v, &["kube-rbac-proxy"]);
        if v == "2.1.0" {
            b["x-unknown-field"] = json!("carried");
        }
        alpha.push(b);
    }
    files.insert(
        PathBuf::from("alpha-operator/catalog.json"),
        json_stream(&alpha),
    );

    let b = "beta-operator";
    let mut beta = vec![
        package(b, "stable"),
        channel(
            b,
            "stable",
            json!([
                {"name": "beta-operator.v1.0.0"},
                {"name": "beta-operator.v1.0.1", "replaces": "beta-operator.v1.0.0"},
                {"name": "beta-operator.v1.1.0", "replaces": "beta-operator.v1.0.0"},
                {"name": "beta-operator.v1.2.0", "replaces": "beta-operator.v1.1.0", "skips": ["beta-operator.v1.0.1"]},
                {"name": "beta-operator.v1.3.0", "replaces": "beta-operator.v1.2.0"}
            ]),
        ),
        channel(
            b,
            "preview",
            json!([
                {"name": "beta-operator.v1.3.0"},
                {"name": "beta-operator.v1.4.0-rc.1", "replaces": "beta-operator.v1.3.0"}
            ]),
        ),
    ];
    for v in ["1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0", "1.4.0-rc.1"] {
        beta.push(bundle(b, &format!("{b}.v{v}"), v, &["kube-rbac-proxy"]));
    }
    files.insert(
        PathBuf::from("beta-operator/catalog.yaml"),
        yaml_documents(&beta),
    );

    let g = "gamma-operator";
    let gamma = vec![
        package(g, "stable"),
        channel(
            g,
            "stable",
            json!([{"name": "gamma-operator.v1.0.0", "skipRange": "<1.0.0"}]),
        ),
        channel(g, "legacy", json!([{"name": "gamma-operator.v0.9.0"}])),
        bundle(g, "gamma-operator.v1.0.0", "1.0.0", &[]),
        bundle(g, "gamma-operator.v0.9.0", "0.9.0", &[]),
        json!({"schema": "olm.deprecations", "package": g, "entries": [
            {"reference": {"schema": "olm.package"}, "message": "gamma is deprecated"},
            {"reference": {"schema": "olm.channel", "name": "legacy"}, "message": "legacy is gone"},
            {"reference": {"schema": "olm.bundle", "name": "gamma-operator.v0.9.0"}, "message": "0.9.0 is unsafe"}
        ]}),
    ];
    files.insert(
        PathBuf::from("gamma-operator/index.json"),
        json_stream(&gamma),
    );

    let d = "delta-operator";
    let delta = vec![
        package(d, "stable"),
        channel(
            d,
            "stable",
            json!([
                {"name": "delta-operator.v3.0.0"},
                {"name": "delta-operator.v3.1.0", "skipRange": ">=3.0.0 <3.1.0"}
            ]),
        ),
        bundle(d, "delta-operator.v3.0.0", "3.0.0", &[]),
        bundle(d, "delta-operator.v3.1.0", "3.1.0", &[]),
    ];
    files.insert(
        PathBuf::from("delta-operator/catalog.yml"),
        yaml_documents(&delta),
    );
    files.insert(
        PathBuf::from("extra.json"),
        json_stream(&[json!({"schema": "airlift.test/note", "text": "no package"})]),
    );
    files.insert(PathBuf::from("README.md"), b"not a catalog file".to_vec());
    files
}

/// A large catalog: `packages` packages of `bundles` bundles each; channel `stable` is a
/// replaces chain with skipRange over all bundles, `fast` the last five; each bundle carries
/// a ~4 KiB `olm.bundle.object` property, as real catalogs do.
pub fn large_catalog(packages: usize, bundles: usize) -> BTreeMap<PathBuf, Vec<u8>> {
    let blob: String = "QUJD".repeat(1024);
    let mut files = BTreeMap::new();
    for p in 0..packages {
        let name = format!("operator-{p:03}");
        let mut objects = vec![package(&name, "stable")];
        let versions: Vec<String> = (0..bundles)
            .map(|i| format!("1.{}.{}", i / 5, i % 5))
            .collect();
        let names: Vec<String> = versions.iter().map(|v| format!("{name}.v{v}")).collect();
        let entries: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| match i {
                0 => json!({"name": n}),
                _ => json!({"name": n, "replaces": names[i - 1],
                            "skipRange": format!(">=1.0.0 <{}", versions[i])}),
            })
            .collect();
        objects.push(channel(&name, "stable", Value::Array(entries.clone())));
        let tail = bundles.saturating_sub(5);
        let fast: Vec<Value> = names[tail..]
            .iter()
            .enumerate()
            .map(|(i, n)| match i {
                0 => json!({"name": n}),
                _ => json!({"name": n, "replaces": names[tail + i - 1]}),
            })
            .collect();
        objects.push(channel(&name, "fast", Value::Array(fast)));
        for (n, v) in names.iter().zip(&versions) {
            let mut b = bundle(&name, n, v, &["kube-rbac-proxy", "must-gather", "webhook"]);
            if let Some(props) = b["properties"].as_array_mut() {
                props.push(json!({"type": "olm.bundle.object", "value": {"data": blob}}));
            }
            objects.push(b);
        }
        files.insert(
            PathBuf::from(format!("{name}/catalog.json")),
            json_stream(&objects),
        );
    }
    files
}
