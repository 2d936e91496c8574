//! Rebuilt catalog layers: reproducible digests, tar entry listing, safe paths, reading the
//! configs back through whiteouts, and the config/manifest rewrites.

mod catalog_fixture;

use std::collections::BTreeMap;
use std::path::PathBuf;

use airlift::catalog::{
    CatalogFilter, LayerBlob, RebuildOptions, configs_from_layers, filter_catalog, list_entries,
    parse_catalog, rebuild_layers, update_config, update_manifest,
};
use airlift::oci::Digest;
use serde_json::{Value, json};

fn snapshot<R>(f: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/catalog"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(f)
}

fn filtered_layers(options: &RebuildOptions) -> [LayerBlob; 2] {
    let catalog = parse_catalog(&catalog_fixture::small_catalog()).unwrap();
    let f = filter_catalog("redhat", &catalog, &CatalogFilter::default()).unwrap();
    rebuild_layers(&f.catalog, options).unwrap()
}

/// A tar layer as the original catalog image would have it: configs plus an opm cache.
fn original_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            "configs/old-operator/catalog.json",
            &b"{\"schema\":\"olm.package\",\"name\":\"old-operator\"}"[..],
        ),
        ("./configs/alpha-operator/catalog.json", b"{}"),
        ("tmp/cache/cache/packages.json", b"[]"),
        ("bin/opm", b"binary"),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn same_input_gives_same_digests() {
    let options = RebuildOptions::default();
    let first = filtered_layers(&options);
    let second = filtered_layers(&options);
    assert_eq!(first, second);
    assert_eq!(first[0].digest, Digest::of(&first[0].compressed));
    assert_ne!(first[0].digest, first[1].digest);
    let epoch = RebuildOptions {
        mtime: 1_700_000_000,
        ..RebuildOptions::default()
    };
    assert_ne!(filtered_layers(&epoch)[1].diff_id, first[1].diff_id);
}

#[test]
fn gzip_header_has_no_timestamp_or_name() {
    let layers = filtered_layers(&RebuildOptions::default());
    for layer in &layers {
        let h = &layer.compressed[..10];
        assert_eq!(&h[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(h[3] & 0x08, 0, "FNAME flag set");
        assert_eq!(&h[4..8], &[0, 0, 0, 0], "mtime set");
    }
}

#[test]
fn tar_listing() {
    let layers = filtered_layers(&RebuildOptions::default());
    for layer in &layers {
        for e in list_entries(&layer.compressed).unwrap() {
            assert!(!e.path.starts_with('/'), "{}", e.path);
            assert!(!e.path.split('/').any(|c| c == ".."), "{}", e.path);
            assert_eq!((e.uid, e.gid, e.mtime), (0, 0, 0));
        }
    }
    let listing = |l: &LayerBlob| -> Vec<String> {
        list_entries(&l.compressed)
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{:<5} {} uid={} gid={} {:>6} {}",
                    e.kind, e.mode, e.uid, e.gid, e.size, e.path
                )
            })
            .collect()
    };
    snapshot(|| {
        insta::assert_yaml_snapshot!("rebuild_whiteout_layer", listing(&layers[0]));
        insta::assert_yaml_snapshot!("rebuild_catalog_layer", listing(&layers[1]));
    });
}

#[test]
fn configs_read_back_through_whiteouts_equal_the_filtered_catalog() {
    let catalog = parse_catalog(&catalog_fixture::small_catalog()).unwrap();
    let f = filter_catalog("redhat", &catalog, &CatalogFilter::default()).unwrap();
    let layers = rebuild_layers(&f.catalog, &RebuildOptions::default()).unwrap();
    let original = original_layer();
    let before = configs_from_layers([original.as_slice()], "/configs").unwrap();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        [
            &PathBuf::from("alpha-operator/catalog.json"),
            &PathBuf::from("old-operator/catalog.json")
        ]
    );
    let after = configs_from_layers(
        [
            original.as_slice(),
            &layers[0].compressed,
            &layers[1].compressed,
        ],
        "/configs",
    )
    .unwrap();
    let expected: BTreeMap<PathBuf, Vec<u8>> = f
        .catalog
        .to_files()
        .into_iter()
        .map(|(k, v)| (PathBuf::from(k), v))
        .collect();
    assert_eq!(after, expected);
    assert_eq!(parse_catalog(&after).unwrap(), f.catalog);
    let cache = configs_from_layers(
        [
            original.as_slice(),
            &layers[0].compressed,
            &layers[1].compressed,
        ],
        "/tmp/cache",
    )
    .unwrap();
    assert!(cache.is_empty(), "stale cache survived: {cache:?}");
}

#[test]
fn configs_dir_must_be_a_clean_absolute_path() {
    let catalog = parse_catalog(&catalog_fixture::small_catalog()).unwrap();
    for bad in ["configs", "/", "/a/../b", "/a//b"] {
        let options = RebuildOptions {
            configs_dir: bad.into(),
            ..RebuildOptions::default()
        };
        assert!(rebuild_layers(&catalog, &options).is_err(), "{bad}");
    }
    let nested = RebuildOptions {
        configs_dir: "/opt/catalog/configs".into(),
        ..RebuildOptions::default()
    };
    let layers = rebuild_layers(&catalog, &nested).unwrap();
    let paths: Vec<String> = list_entries(&layers[0].compressed)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(
        paths.contains(&"opt/catalog/.wh.configs".to_string()),
        "{paths:?}"
    );
}

#[test]
fn config_and_manifest_rewrites() {
    let layers = filtered_layers(&RebuildOptions::default());
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"operators.operatorframework.io.index.configs.v1": "/configs", "vendor": "Red Hat"},
                   "Entrypoint": ["/bin/opm"], "Cmd": ["serve", "/configs", "--cache-dir=/tmp/cache"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "COPY configs /configs"}]
    });
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let new_config = update_config(&config_bytes, &layers, &RebuildOptions::default()).unwrap();
    assert_eq!(
        new_config,
        update_config(&config_bytes, &layers, &RebuildOptions::default()).unwrap()
    );
    let parsed: Value = serde_json::from_slice(&new_config).unwrap();
    snapshot(|| {
        insta::assert_json_snapshot!("rebuild_config", parsed);
    });
    assert_eq!(
        parsed["rootfs"]["diff_ids"][2],
        json!(layers[1].diff_id.to_string())
    );

    for (media, layer_type) in [
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        ),
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
    ] {
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::of(&config_bytes).to_string(), "size": config_bytes.len()},
            "layers": [{"mediaType": layer_type, "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222", "size": 10}]
        });
        let out = update_manifest(
            &serde_json::to_vec(&manifest).unwrap(),
            &new_config,
            &layers,
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out["config"]["digest"],
            json!(Digest::of(&new_config).to_string())
        );
        assert_eq!(out["config"]["size"], json!(new_config.len()));
        let added = &out["layers"].as_array().unwrap()[1..];
        assert_eq!(added.len(), 2);
        for (d, l) in added.iter().zip(&layers) {
            assert_eq!(d["mediaType"], json!(layer_type));
            assert_eq!(d["digest"], json!(l.digest.to_string()));
            assert_eq!(d["size"], json!(l.compressed.len()));
        }
    }
    assert!(update_config(b"not json", &layers, &RebuildOptions::default()).is_err());
    assert!(update_manifest(b"[1]", &new_config, &layers).is_err());
}

#[test]
fn index_points_at_rebuilt_platform_manifests() {
    use airlift::catalog::{Replacement, update_index};
    let old_amd = Digest::of(b"amd64 manifest");
    let old_arm = Digest::of(b"arm64 manifest");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": old_amd.to_string(), "size": 14, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": old_arm.to_string(), "size": 14, "platform": {"architecture": "arm64", "os": "linux"}}
        ]
    });
    let new_amd = Digest::of(b"new amd64 manifest");
    let rebuilt = BTreeMap::from([(
        old_amd,
        Replacement {
            digest: new_amd.clone(),
            size: 18,
        },
    )]);
    let out = update_index(&serde_json::to_vec(&index).unwrap(), &rebuilt, &[]).unwrap();
    let out: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out["manifests"][0]["digest"], json!(new_amd.to_string()));
    assert_eq!(out["manifests"][0]["size"], json!(18));
    assert_eq!(
        out["manifests"][0]["platform"]["architecture"],
        json!("amd64")
    );
    assert_eq!(out["manifests"][1]["digest"], json!(old_arm.to_string()));
    assert!(update_index(b"{}", &rebuilt, &[]).is_err());
}

#[test]
fn source_date_epoch_sets_every_mtime() {
    let options = RebuildOptions::default().with_source_date_epoch(Some("1700000000"));
    assert_eq!(options.mtime, 1_700_000_000);
    assert_eq!(
        RebuildOptions::default()
            .with_source_date_epoch(Some("soon"))
            .mtime,
        0
    );
    let layers = filtered_layers(&options);
    for layer in &layers {
        assert!(
            list_entries(&layer.compressed)
                .unwrap()
                .iter()
                .all(|e| e.mtime == 1_700_000_000)
        );
    }
}

#[test]
fn opaque_directories_and_real_directories() {
    let mut b = tar::Builder::new(Vec::new());
    for path in ["configs/a/catalog.json", "configs/b/catalog.json"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        b.append_data(&mut h, path, &b"{}"[..]).unwrap();
    }
    let lower = b.into_inner().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o644);
    b.append_data(&mut h, "configs/.wh..wh..opq", &b""[..])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    b.append_data(&mut h, "configs/c/catalog.json", &b"[]"[..])
        .unwrap();
    let upper = b.into_inner().unwrap();
    let files = configs_from_layers([lower.as_slice(), upper.as_slice()], "/configs").unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [&PathBuf::from("c/catalog.json")]
    );

    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in catalog_fixture::small_catalog() {
        let full = dir.path().join(&path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    }
    let read = airlift::catalog::read_configs_dir(dir.path()).unwrap();
    assert!(!read.contains_key(&PathBuf::from("README.md")));
    assert_eq!(
        parse_catalog(&read).unwrap(),
        parse_catalog(&catalog_fixture::small_catalog()).unwrap()
    );
}
