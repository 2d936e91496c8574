//! Unit tests of payload reading over layers built here.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A tar (gzip when `gz`) with regular files; names are written raw, unchecked.
pub(crate) fn layer(entries: &[(&str, &[u8])], gz: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_old();
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    if !gz {
        return tar;
    }
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn image_references(version: &str, tags: &[(&str, String)]) -> Vec<u8> {
    let tags: Vec<serde_json::Value> = tags
        .iter()
        .map(|(n, r)| serde_json::json!({"name": n, "from": {"kind": "DockerImage", "name": r}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version},
        "spec": {"lookupPolicy": {"local": false}, "tags": tags}
    }))
    .unwrap()
}

const ART: &str = "quay.io/openshift-release-dev/ocp-v4.0-art-dev";

#[test]
fn collects_components_and_metadata() {
    let refs = image_references(
        "4.15.3",
        &[
            ("cli", format!("{ART}@{}", digest('a'))),
            ("installer", format!("{ART}@{}", digest('b'))),
        ],
    );
    let meta = br#"{"kind":"cincinnati-metadata-v0","version":"4.15.3","previous":["4.15.2","4.14.8","4.15.0"],"metadata":{"url":"https://errata.example/1","n":1}}"#;
    let base = layer(&[("etc/os-release", b"ID=rhel")], true);
    let manifests = layer(
        &[
            ("./release-manifests/image-references", &refs),
            ("release-manifests/release-metadata", meta),
        ],
        true,
    );
    let c = read_payload(&[base, manifests], "amd64", false).unwrap();
    assert_eq!(c.version.to_string(), "4.15.3");
    assert_eq!(
        c.previous
            .iter()
            .map(Version::to_string)
            .collect::<Vec<_>>(),
        ["4.14.8", "4.15.0", "4.15.2"]
    );
    assert_eq!(
        c.metadata.get("url").map(String::as_str),
        Some("https://errata.example/1")
    );
    assert_eq!(c.components.len(), 2);
    assert_eq!(
        c.components["cli"].to_string(),
        format!("{ART}@{}", digest('a'))
    );
}

#[test]
fn later_layers_override_and_whiteouts_remove() {
    let old = image_references("4.15.2", &[("cli", format!("{ART}@{}", digest('a')))]);
    let new = image_references("4.15.3", &[("cli", format!("{ART}@{}", digest('c')))]);
    let l1 = layer(&[("release-manifests/image-references", &old)], false);
    let l2 = layer(&[("release-manifests/image-references", &new)], true);
    let c = read_payload(&[l1.clone(), l2.clone()], "amd64", false).unwrap();
    assert_eq!(
        c.version.to_string(),
        "4.15.3",
        "version from metadata.name without release-metadata"
    );
    assert_eq!(
        c.components["cli"].digest().map(|d| d.to_string()),
        Some(digest('c'))
    );

    let wh = layer(&[("release-manifests/.wh.image-references", b"")], true);
    assert_eq!(
        read_payload(&[l1.clone(), wh], "amd64", false).unwrap_err(),
        PayloadError::NoImageReferences
    );
    let opq = layer(&[("release-manifests/.wh..wh..opq", b"")], true);
    assert_eq!(
        read_payload(&[l1.clone(), opq], "amd64", false).unwrap_err(),
        PayloadError::NoImageReferences
    );
    let dir_gone = layer(&[(".wh.release-manifests", b"")], true);
    assert_eq!(
        read_payload(&[l1, dir_gone, l2], "amd64", false)
            .unwrap()
            .version
            .to_string(),
        "4.15.3"
    );
}

#[test]
fn unsafe_paths_and_unpinned_components_are_refused() {
    let refs = image_references("4.15.3", &[("cli", format!("{ART}@{}", digest('a')))]);
    for bad in [
        "../release-manifests/image-references",
        "/release-manifests/image-references",
    ] {
        let l = layer(&[(bad, &refs)], true);
        let e = read_payload(&[l], "amd64", false).unwrap_err();
        assert!(
            matches!(e, PayloadError::Layer(LayerError::Unsafe { .. })),
            "{bad}: {e}"
        );
    }
    let refs = image_references("4.15.3", &[("cli", format!("{ART}:latest"))]);
    let l = layer(&[("release-manifests/image-references", &refs)], true);
    assert!(matches!(
        read_payload(&[l], "amd64", false).unwrap_err(),
        PayloadError::NotPinned { .. }
    ));
    let l = layer(
        &[("release-manifests/image-references", b"{not json")],
        true,
    );
    assert!(matches!(
        read_payload(&[l], "amd64", false).unwrap_err(),
        PayloadError::Invalid { .. }
    ));
    assert!(matches!(
        read_payload(&[b"not a tar at all".to_vec()], "amd64", false).unwrap_err(),
        PayloadError::Layer(LayerError::Tar { .. })
    ));
}

fn bootimages() -> Vec<u8> {
    let stream = serde_json::json!({
        "stream": "rhcos-4.16",
        "architectures": {
            "x86_64": {"images": {"kubevirt": {
                "release": "416.94.1", "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev",
                "digest-ref": format!("{ART}@{}", digest('d'))}}},
            "aarch64": {"images": {"kubevirt": {
                "digest-ref": format!("{ART}@{}", digest('e'))}}},
            "s390x": {"images": {}}
        }
    });
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coreos-bootimages", "namespace": "openshift-machine-config-operator"},
        "data": {"releaseVersion": "4.16.0", "stream": stream.to_string()}
    });
    serde_saphyr::to_string(&cm).unwrap().into_bytes()
}

#[test]
fn kubevirt_container_is_read_from_the_boot_images_stream() {
    let refs = image_references("4.16.0", &[("cli", format!("{ART}@{}", digest('a')))]);
    let boot = bootimages();
    let l = layer(
        &[
            ("release-manifests/image-references", &refs),
            (
                "release-manifests/0000_50_installer_coreos-bootimages.yaml",
                &boot,
            ),
        ],
        true,
    );
    let c = read_payload(std::slice::from_ref(&l), "amd64", true).unwrap();
    assert_eq!(
        c.components[KUBEVIRT_COMPONENT].to_string(),
        format!("{ART}@{}", digest('d'))
    );
    let arm = read_payload(std::slice::from_ref(&l), "arm64", true).unwrap();
    assert!(
        arm.components[KUBEVIRT_COMPONENT]
            .to_string()
            .ends_with(&digest('e'))
    );
    let multi = read_payload(std::slice::from_ref(&l), "multi", true).unwrap();
    assert!(multi.components.contains_key("kubevirt-container-amd64"));
    assert!(multi.components.contains_key("kubevirt-container-arm64"));
    assert_eq!(
        read_payload(std::slice::from_ref(&l), "s390x", true).unwrap_err(),
        PayloadError::NoKubevirt {
            arch: "s390x".into()
        }
    );
    let without = read_payload(&[l], "amd64", false).unwrap();
    assert!(!without.components.contains_key(KUBEVIRT_COMPONENT));
}
