//! Unit tests of the graph-data layer and image: determinism, layout, unsafe input.

use std::io::Write as _;

use flate2::write::GzEncoder;

use super::*;

enum In<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Fifo(&'a str),
}

/// A gzip'd tarball with raw (unchecked) names, varying mtimes and owners, like a real one.
fn tarball(entries: &[In<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (i, e) in entries.iter().enumerate() {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000 + i as u64);
        h.set_uid(1000);
        h.set_gid(1000);
        let (name, kind, data, mode, link): (&str, _, &[u8], u32, Option<&str>) = match e {
            In::Dir(n) => (n, tar::EntryType::Directory, b"", 0o775, None),
            In::File(n, d, m) => (n, tar::EntryType::Regular, d, *m, None),
            In::Sym(n, t) => (n, tar::EntryType::Symlink, b"", 0o777, Some(t)),
            In::Hard(n, t) => (n, tar::EntryType::Link, b"", 0o644, Some(t)),
            In::Fifo(n) => (n, tar::EntryType::Fifo, b"", 0o644, None),
        };
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.as_gnu_mut().unwrap().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

fn sample() -> Vec<u8> {
    tarball(&[
        In::Dir("./"),
        In::File("./version", b"1.0.0\n", 0o664),
        In::Dir("./channels/"),
        In::File(
            "./channels/stable-4.15.yaml",
            b"name: stable-4.15\nversions:\n- 4.15.3\n",
            0o644,
        ),
        In::File("./channels/eus-4.16.yaml", b"name: eus-4.16\n", 0o600),
        In::File("./raw/metadata.json", b"{}", 0o644),
        In::File("./hack/check.sh", b"#!/bin/sh\n", 0o775),
        In::Sym("./channels/latest.yaml", "stable-4.15.yaml"),
        In::Hard("./raw/copy.json", "raw/metadata.json"),
    ])
}

#[test]
fn same_input_gives_same_digests() {
    let a = build_graph_data_layer(&sample(), 0).unwrap();
    let b = build_graph_data_layer(&sample(), 0).unwrap();
    assert_eq!(a, b);
    let ia = image_from_scratch(&a, "amd64");
    let ib = image_from_scratch(&b, "amd64");
    assert_eq!(ia.manifest_digest, ib.manifest_digest);
    assert_eq!(ia.config_digest, ib.config_digest);
    let later = build_graph_data_layer(&sample(), 1_700_000_000).unwrap();
    assert_ne!(
        later.digest, a.digest,
        "SOURCE_DATE_EPOCH changes the mtimes"
    );
    // Gzip header: no name, mtime 0.
    assert_eq!(&a.blob[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&a.blob[4..8], &[0, 0, 0, 0]);
}

#[test]
fn layer_listing_snapshot() {
    let layer = build_graph_data_layer(&sample(), 0).unwrap();
    let listing = layer.listing().unwrap().join("\n");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/release"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("graph_data_layer_listing", listing));
}

#[test]
fn unsafe_input_is_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("absolute", tarball(&[In::File("/etc/passwd", b"x", 0o644)])),
        ("dotdot", tarball(&[In::File("a/../../x", b"x", 0o644)])),
        (
            "symlink out",
            tarball(&[In::Sym("a/link", "../../etc/passwd")]),
        ),
        (
            "absolute symlink",
            tarball(&[In::Sym("link", "/etc/passwd")]),
        ),
        ("hard link out", tarball(&[In::Hard("link", "../x")])),
        ("fifo", tarball(&[In::Fifo("pipe")])),
    ];
    for (what, t) in cases {
        let e = build_graph_data_layer(&t, 0).unwrap_err();
        assert!(
            matches!(e, GraphImageError::Layer(LayerError::Unsafe { .. })),
            "{what}: {e}"
        );
    }
    let dangling = tarball(&[In::Hard("link", "missing")]);
    assert!(matches!(
        build_graph_data_layer(&dangling, 0).unwrap_err(),
        GraphImageError::DanglingLink { .. }
    ));
}

#[test]
fn image_on_base_appends_the_layer() {
    let layer = build_graph_data_layer(&sample(), 0).unwrap();
    let base_layer = Descriptor {
        media_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
        digest: Digest::of(b"base layer"),
        size: 10,
    };
    let base_config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/init"], "Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(b"base tar").to_string()]},
        "history": [{"created_by": "base"}]
    });
    let base_config = serde_json::to_vec(&base_config).unwrap();
    let img = image_on_base(&base_config, std::slice::from_ref(&base_layer), &layer).unwrap();
    let again = image_on_base(&base_config, std::slice::from_ref(&base_layer), &layer).unwrap();
    assert_eq!(img, again);
    let cfg: serde_json::Value = serde_json::from_slice(&img.config).unwrap();
    assert_eq!(cfg["rootfs"]["diff_ids"][1], layer.diff_id.to_string());
    assert_eq!(cfg["config"]["Cmd"][0], "/bin/bash");
    assert!(cfg["config"].get("Entrypoint").is_none());
    assert_eq!(cfg["config"]["Env"][0], "PATH=/usr/bin");
    assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
    let m: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(m["layers"][1]["digest"], layer.digest.to_string());
    assert_eq!(m["config"]["digest"], img.config_digest.to_string());
    assert_eq!(img.manifest_digest, Digest::of(&img.manifest));

    let e = image_on_base(b"[]", &[], &layer).unwrap_err();
    assert!(matches!(e, GraphImageError::BaseConfig { .. }), "{e}");
    let e = image_on_base(&base_config, &[], &layer).unwrap_err();
    assert!(matches!(e, GraphImageError::BaseConfig { .. }), "{e}");
}
