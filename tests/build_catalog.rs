//! `airlift build`/`plan` with operator `catalog` sets end to end against real registries: a
//! fixture catalog image (2-platform OCI index, FBC layer) whose bundles and related images are
//! real images in the source registry; the rebuilt catalog is read back from the mirror.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use airlift::catalog::{configs_from_layers, parse_catalog};
use serde_json::{Value, json};
use support::fixture::{
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST,
    sha256,
};
use support::{Fixture, Format, Layer, Pushed, Registry, RegistryOptions, SkopeoAuth};

const BIN: &str = env!("CARGO_BIN_EXE_airlift");
/// A `catalog-source-template`: name, namespace, sourceType and image are replaced, the rest kept.
const TEMPLATE: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: CatalogSource
metadata:
  name: discarded
  namespace: discarded
  labels:
    team: platform
spec:
  displayName: Beta operators
  image: discarded
  publisher: Test
  sourceType: grpc
  updateStrategy:
    registryPoll:
      interval: 30m0s
";

/// Images of one bundle: the bundle image and its operator (related) image.
struct BundleImages {
    bundle: Pushed,
    operator: Pushed,
}

/// The source registry with a catalog `catalogs/test-index:v1` of two packages:
/// `alpha` (stable: 1.0.0 → 1.1.0) and `beta` (stable: 2.0.0).
struct Source {
    reg: Registry,
    alpha_old: BundleImages,
    alpha_new: BundleImages,
    beta: BundleImages,
    catalog: String,
}

async fn bundle_images(f: &Fixture, package: &str) -> BundleImages {
    let one = [Layer::Random(256)];
    BundleImages {
        bundle: f
            .image(
                &format!("ops/{package}-bundle"),
                None,
                Format::Oci,
                "amd64",
                &one,
            )
            .await,
        operator: f
            .image(
                &format!("ops/{package}-operator"),
                None,
                Format::Oci,
                "amd64",
                &one,
            )
            .await,
    }
}

fn bundle_json(host: &str, package: &str, version: &str, b: &BundleImages) -> Value {
    json!({
        "schema": "olm.bundle",
        "name": format!("{package}.v{version}"),
        "package": package,
        "image": b.bundle.by_digest(host),
        "properties": [{"type": "olm.package", "value": {"packageName": package, "version": version}}],
        "relatedImages": [
            {"name": "operator", "image": b.operator.by_digest(host)},
            {"name": "", "image": b.bundle.by_digest(host)}
        ]
    })
}

fn tar_gz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, &data[..]).expect("tar entry");
    }
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip")
}

/// How the fixture catalog image is shaped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A 2-platform OCI index.
    OciIndex,
    /// One Docker schema 2 manifest, no index.
    DockerSingle,
    /// A package-manifest (SQLite) index: `/database/index.db`, served by `opm registry serve`;
    /// one Docker schema 2 manifest.
    Sqlite,
}

async fn source() -> Source {
    source_shaped(Shape::OciIndex).await
}

async fn source_shaped(shape: Shape) -> Source {
    let reg = Registry::start(RegistryOptions::default());
    let f = Fixture::new(&reg);
    let alpha_old = bundle_images(&f, "alpha").await;
    let alpha_new = bundle_images(&f, "alpha").await;
    let beta = bundle_images(&f, "beta").await;
    let src = Source {
        catalog: format!("{}/catalogs/test-index:v1", reg.host()),
        reg,
        alpha_old,
        alpha_new,
        beta,
    };
    src.push_catalog(shape, true).await;
    src
}

impl Source {
    /// The same catalog as opm's package-manifest `index.db` (opm's schema): alpha 1.0.0 ←
    /// 1.1.0 and beta 2.0.0, each in `stable`, operator images as related images.
    fn index_db(&self, alpha_new: bool) -> Vec<u8> {
        let host = self.reg.host();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("index.db");
        let db = rusqlite::Connection::open(&path).expect("sqlite");
        db.execute_batch(airlift::catalog::sqlite::FIXTURE_SCHEMA)
            .expect("schema");
        let mut rows: Vec<(&str, &str, &BundleImages, &str)> = vec![
            ("alpha", "1.0.0", &self.alpha_old, ""),
            ("beta", "2.0.0", &self.beta, ""),
        ];
        if alpha_new {
            rows.push(("alpha", "1.1.0", &self.alpha_new, "alpha.v1.0.0"));
        }
        for (package, default) in [("alpha", "stable"), ("beta", "stable")] {
            db.execute(
                "INSERT INTO package VALUES (?1, ?2, NULL)",
                [package, default],
            )
            .expect("package");
        }
        for (i, (package, version, images, replaces)) in rows.iter().enumerate() {
            let name = format!("{package}.v{version}");
            db.execute(
                "INSERT INTO operatorbundle VALUES (?1, '{}', '', ?2, '', ?3, ?4, '', '')",
                [
                    &name,
                    &images.bundle.by_digest(&host),
                    &version.to_string(),
                    &replaces.to_string(),
                ],
            )
            .expect("bundle");
            db.execute(
                "INSERT INTO channel_entry VALUES (?1, 'stable', ?2, ?3, NULL, 0)",
                rusqlite::params![i as i64 + 1, package, name],
            )
            .expect("entry");
            db.execute(
                "INSERT INTO related_image VALUES (?1, ?2)",
                [&images.operator.by_digest(&host), &name],
            )
            .expect("related");
        }
        drop(db);
        std::fs::read(&path).expect("index.db")
    }

    /// Pushes the catalog under `:v1`; without `alpha_new` the alpha channel ends at 1.0.0.
    async fn push_catalog(&self, shape: Shape, alpha_new: bool) {
        let f = Fixture::new(&self.reg);
        let host = self.reg.host();
        let stream = |objects: Vec<Value>| -> Vec<u8> {
            objects
                .iter()
                .flat_map(|o| {
                    let mut v = serde_json::to_vec(o).expect("json");
                    v.push(b'\n');
                    v
                })
                .collect()
        };
        let mut entries = vec![json!({"name": "alpha.v1.0.0"})];
        let mut alpha = vec![
            json!({"schema": "olm.package", "name": "alpha", "defaultChannel": "stable"}),
            bundle_json(&host, "alpha", "1.0.0", &self.alpha_old),
        ];
        if alpha_new {
            entries.push(json!({"name": "alpha.v1.1.0", "replaces": "alpha.v1.0.0"}));
            alpha.push(bundle_json(&host, "alpha", "1.1.0", &self.alpha_new));
        }
        alpha.push(json!({"schema": "olm.channel", "package": "alpha", "name": "stable", "entries": entries}));
        let alpha = stream(alpha);
        let beta_fbc = stream(vec![
            json!({"schema": "olm.package", "name": "beta", "defaultChannel": "stable"}),
            json!({"schema": "olm.channel", "package": "beta", "name": "stable", "entries": [
                {"name": "beta.v2.0.0"}
            ]}),
            bundle_json(&host, "beta", "2.0.0", &self.beta),
        ]);
        let repo = "catalogs/test-index";
        let layer = if shape == Shape::Sqlite {
            tar_gz(&[
                ("bin/opm", b"opm".to_vec()),
                ("database/index.db", self.index_db(alpha_new)),
            ])
        } else {
            tar_gz(&[
                ("bin/opm", b"opm".to_vec()),
                ("configs/alpha/catalog.json", alpha),
                ("configs/beta/catalog.json", beta_fbc),
                ("tmp/cache/cache.json", b"{}".to_vec()),
            ])
        };
        let (manifest_type, config_type, layer_type) = match shape {
            Shape::OciIndex => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
            Shape::DockerSingle | Shape::Sqlite => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
        };
        let arches: &[&str] = match shape {
            Shape::OciIndex => &["amd64", "arm64"],
            Shape::DockerSingle | Shape::Sqlite => &["amd64"],
        };
        let image_config = if shape == Shape::Sqlite {
            json!({
                "Labels": {airlift::catalog::sqlite::DATABASE_LABEL: "/database/index.db"},
                "Entrypoint": ["/bin/opm"],
                "Cmd": ["registry", "serve", "--database", "/database/index.db"]
            })
        } else {
            json!({
                "Labels": {"operators.operatorframework.io.index.configs.v1": "/configs"},
                "Entrypoint": ["/bin/opm"],
                "Cmd": ["serve", "/configs", "--cache-dir=/tmp/cache"]
            })
        };
        let layer = f.push_blob(repo, &layer, layer_type).await;
        let mut children = Vec::new();
        for arch in arches {
            let config = serde_json::to_vec(&json!({
                "architecture": arch,
                "os": "linux",
                "config": image_config,
                "rootfs": {"type": "layers", "diff_ids": [sha256(b"unused")]}
            }))
            .expect("json");
            let config = f.push_blob(repo, &config, config_type).await;
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": {"mediaType": config_type, "digest": config.digest, "size": config.size},
                "layers": [{"mediaType": layer_type, "digest": layer.digest, "size": layer.size}]
            }))
            .expect("json");
            if shape != Shape::OciIndex {
                f.push_manifest(repo, "v1", manifest_type, &manifest).await;
                continue;
            }
            let digest = f
                .push_manifest(repo, &sha256(&manifest), manifest_type, &manifest)
                .await;
            children.push(json!({
                "mediaType": manifest_type, "digest": digest, "size": manifest.len(),
                "platform": {"architecture": arch, "os": "linux"}
            }));
        }
        if shape == Shape::OciIndex {
            let index = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children
            }))
            .expect("json");
            f.push_manifest(repo, "v1", OCI_INDEX, &index).await;
        }
    }
}

/// A mirror registry and a recipe directory (fresh workspace).
struct Lab {
    mirror: Registry,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(recipe: impl Fn(&str) -> String) -> Lab {
        let mirror = Registry::start(RegistryOptions::default());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("airlift.kdl"), recipe(&mirror.host())).expect("recipe");
        std::fs::write(dir.path().join("cs-template.yaml"), TEMPLATE).expect("template");
        Lab { mirror, dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run airlift")
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A recipe with one catalog set `one` keeping `package`, mirrored to the lab's registry.
fn one_package<'a>(catalog: &'a str, package: &'a str) -> impl Fn(&str) -> String + 'a {
    move |mirror| {
        format!(
            "catalog \"one\" \"{catalog}\" {{\n    package \"{package}\"\n}}\n\ntarget \"mirror\" \"docker://{mirror}/mirror\" {{\n    needs \"one\"\n}}\n"
        )
    }
}

fn two_catalogs(src: &Source) -> impl Fn(&str) -> String + '_ {
    move |mirror| {
        format!(
            r#"catalog "one" "{cat}" {{
    package "alpha"
}}

catalog "two" "{cat}" {{
    rename "other/test-index" tag="v1-beta"
    package "beta"
    catalog-source-template "cs-template.yaml"
}}

target "mirror" "docker://{mirror}/mirror" {{
    needs "one" "two"
}}
"#,
            cat = src.catalog
        )
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args` (a build) and asserts it succeeded copying nothing, with `fresh` tasks fresh.
fn assert_fresh(lab: &Lab, args: &[&str], fresh: usize) {
    let out = lab.run(args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("build: 0 copied, {fresh} fresh")),
        "{err}"
    );
}

/// `<mirror>/mirror/<source path>:sha256-<hex>`: where a digest-only image lands.
fn mirrored(lab: &Lab, p: &Pushed) -> String {
    mirrored_at(&lab.mirror, "mirror", p)
}

/// `<registry>/<namespace>/<source path>:sha256-<hex>`.
fn mirrored_at(reg: &Registry, namespace: &str, p: &Pushed) -> String {
    format!(
        "{}/{namespace}/{}:{}",
        reg.host(),
        p.repo,
        p.digest.replace(':', "-")
    )
}

fn present(reference: &str) -> bool {
    support::skopeo_inspect_raw(reference, &SkopeoAuth::default()).is_ok()
}

/// Reads a rebuilt catalog back: its index digest and, per platform, the bundle names of its
/// file-based catalog.
async fn read_catalog(reg: &Registry, repo: &str, tag: &str) -> (String, Vec<BTreeSet<String>>) {
    let reference = format!("{}/{repo}:{tag}", reg.host());
    let raw = support::skopeo_inspect_raw(&reference, &SkopeoAuth::default())
        .unwrap_or_else(|e| panic!("rebuilt catalog {reference}: {e}"));
    let index: Value = serde_json::from_slice(&raw).expect("index json");
    let f = Fixture::new(reg);
    let mut platforms = Vec::new();
    let digests: Vec<String> = match index["manifests"].as_array() {
        Some(children) => children
            .iter()
            .map(|c| c["digest"].as_str().expect("digest").to_string())
            .collect(),
        None => vec![sha256(&raw)],
    };
    for digest in &digests {
        let m = f.manifest(repo, digest).await.expect("platform manifest");
        let m: Value = serde_json::from_slice(&m).expect("manifest json");
        let config = f
            .blob(repo, m["config"]["digest"].as_str().expect("config"))
            .await
            .expect("config blob");
        let config: Value = serde_json::from_slice(&config).expect("config json");
        assert_eq!(
            config["rootfs"]["diff_ids"].as_array().map(Vec::len),
            Some(3),
            "one original and two rebuilt layers"
        );
        let mut layers = Vec::new();
        for l in m["layers"].as_array().expect("layers") {
            let d = l["digest"].as_str().expect("layer digest");
            layers.push(std::io::Cursor::new(f.blob(repo, d).await.expect("layer")));
        }
        let files = configs_from_layers(layers, "/configs").expect("configs");
        let catalog = parse_catalog(&files).expect("fbc");
        let names = catalog
            .packages
            .values()
            .flat_map(|p| p.bundles.keys().cloned())
            .collect();
        platforms.push(names);
    }
    (sha256(&raw), platforms)
}

/// `(name, bytes)` of every file of `dir`, sorted.
/// Every file below `dir` (one level of subdirectories: `extras/`), by relative name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().expect("type").is_dir() {
            for (sub, bytes) in files(&e.path()) {
                out.push((format!("{name}/{sub}"), bytes));
            }
        } else {
            out.push((name, std::fs::read(e.path()).expect("read")));
        }
    }
    out.sort();
    out
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn build_mirrors_filtered_catalogs_reproducibly() {
    let src = source().await;
    let lab = Lab::new(two_catalogs(&src));
    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "plan failed:\n{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert_eq!(text.matches("run    prune-catalog").count(), 2, "{text}");
    assert_eq!(text.matches("run    copy").count(), 4, "{text}");

    let out = lab.run(&["build", "--message-format", "json"]);
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    // Hardening (#18): catalog jobs used to reuse job ids of copies.
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let started: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "job-started")
        .map(|e| e["job"].as_u64().expect("job id"))
        .collect();
    assert_eq!(
        started.len(),
        6,
        "2 catalog rebuilds and 4 copies: {events:?}"
    );
    assert_eq!(
        started.iter().collect::<BTreeSet<_>>().len(),
        started.len(),
        "job ids are distinct: {started:?}"
    );
    let pushed: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "manifest-pushed")
        .filter_map(|e| e["reference"].as_str())
        .collect();
    assert!(!pushed.is_empty());
    for r in &pushed {
        let by_digest = r.contains("sha256:");
        assert!(
            !by_digest || r.contains("@sha256:") && !r.contains(":sha256:"),
            "a manifest pushed by digest is named repo@digest: {r}"
        );
    }

    let (one, platforms) = read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await;
    assert_eq!(platforms.len(), 2);
    for p in &platforms {
        assert_eq!(p, &set(&["alpha.v1.1.0"]));
    }
    let (two, platforms) = read_catalog(&lab.mirror, "mirror/other/test-index", "v1-beta").await;
    for p in &platforms {
        assert_eq!(p, &set(&["beta.v2.0.0"]));
    }
    for kept in [&src.alpha_new, &src.beta] {
        assert!(present(&mirrored(&lab, &kept.bundle)), "bundle missing");
        assert!(present(&mirrored(&lab, &kept.operator)), "operator missing");
    }
    assert!(!present(&mirrored(&lab, &src.alpha_old.bundle)));
    assert!(!present(&mirrored(&lab, &src.alpha_old.operator)));
    // `verify` checks the kept bundle and operator images and both rebuilt catalogs.
    let verify = lab.run(&["verify", "mirror"]);
    assert!(
        verify.status.success(),
        "verify failed:\n{}",
        stderr(&verify)
    );
    assert!(
        stderr(&verify).contains("6 image(s)"),
        "{}",
        stderr(&verify)
    );

    let lock = std::fs::read_to_string(lab.path().join("airlift.lock")).expect("lock");
    assert!(
        lock.contains(&src.catalog),
        "catalog pinned in the lock:\n{lock}"
    );

    check_resources(&lab, &src);

    // A second build is all fresh.
    assert_fresh(&lab, &["build"], 6);

    // --offline takes the catalog digest from the lock; still all fresh.
    assert_fresh(&lab, &["--offline", "build"], 6);

    // `resources` (no network) renders the same files from the lock and the journal.
    let dir = lab.path().join(".airlift/out/mirror/cluster-resources");
    let before: Vec<(String, Vec<u8>)> = files(&dir);
    std::fs::remove_dir_all(&dir).expect("remove resources");
    let out = lab.run(&["resources", "mirror"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files(&dir), before);

    // A fresh workspace and a fresh mirror give byte-identical catalogs.
    let other = Lab::new(two_catalogs(&src));
    let out = other.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        read_catalog(&other.mirror, "mirror/catalogs/test-index", "v1")
            .await
            .0,
        one
    );
    assert_eq!(
        read_catalog(&other.mirror, "mirror/other/test-index", "v1-beta")
            .await
            .0,
        two
    );
}

/// CatalogSource / ClusterCatalog of both catalogs validate against the CRDs and match their
/// snapshots; bundle and related images are in the `operator` IDMS.
fn check_resources(lab: &Lab, src: &Source) {
    let dir = lab.path().join(".airlift/out/mirror/cluster-resources");
    let names = [
        "cs-test-index-v1.yaml",
        "cc-test-index-v1.yaml",
        "cs-test-index-v1-beta.yaml",
        "cc-test-index-v1-beta.yaml",
        "idms-operator-0.yaml",
    ];
    let files: Vec<std::path::PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    support::crds::assert_valid(&files);
    let idms = std::fs::read_to_string(dir.join("idms-operator-0.yaml")).expect("idms");
    for kept in [&src.alpha_new, &src.beta] {
        assert!(idms.contains(&kept.bundle.repo), "{idms}");
        assert!(idms.contains(&kept.operator.repo), "{idms}");
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/catalog"));
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(r"127\.0\.0\.1:\d+", "[MIRROR]");
    settings.bind(|| {
        for name in &names[..4] {
            let text = std::fs::read_to_string(dir.join(name)).expect("resource");
            insta::assert_snapshot!(name.trim_end_matches(".yaml"), text);
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_package_is_an_input_error() {
    let src = source().await;
    let lab = Lab::new(one_package(&src.catalog, "alpah"));
    let out = lab.run(&["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("alpah"), "{err}");
    assert!(err.contains("alpha"), "did-you-mean: {err}");
    // Found by reading the catalog: the next step is `plan`, not `check` (which cannot see it).
    assert!(
        err.contains("airlift plan") && !err.contains("run `airlift check`"),
        "{err}"
    );
    // `optional=#true`: the same missing package is a warning, the rest is planned.
    let recipe = format!(
        "catalog \"one\" \"{}\" {{\n    package \"alpah\" optional=#true\n    package \"beta\"\n}}\n\ntarget \"mirror\" \"docker://{}/mirror\" {{\n    needs \"one\"\n}}\n",
        src.catalog,
        lab.mirror.host()
    );
    std::fs::write(lab.path().join("airlift.kdl"), recipe).expect("recipe");
    let out = lab.run(&["plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no package `alpah` (optional): skipped"),
        "{}",
        stderr(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("beta"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_operators_reads_the_catalog() {
    let src = source().await;
    let lab = Lab::new(|_| String::new());
    let out = lab.run(&["list", "operators", "--catalog", &src.catalog]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("NAME"), "{text}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("alpha ") && r.ends_with("stable")),
        "{text}"
    );
    assert!(rows.iter().any(|r| r.starts_with("beta ")), "{text}");

    let out = lab.run(&[
        "list",
        "operators",
        "--catalog",
        &src.catalog,
        "--package",
        "alpha",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.contains("stable") && l.contains("alpha.v1.1.0") && l.contains("1.1.0")),
        "{text}"
    );

    let out = lab.run(&[
        "list",
        "operators",
        "--catalog",
        &src.catalog,
        "--package",
        "alpah",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("alpha"), "{}", stderr(&out));

    let out = lab.run(&["list", "operators"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // `list bundles`: every bundle of the package per channel, head and default channel marked.
    let out = lab.run(&[
        "list",
        "bundles",
        "--catalog",
        &src.catalog,
        "--package",
        "alpha",
        "--channel",
        "stable",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["stable", "alpha.v1.0.0", "1.0.0", "default", "channel"],
            vec![
                "stable",
                "alpha.v1.1.0",
                "1.1.0",
                "head,",
                "default",
                "channel"
            ],
        ],
        "{text}"
    );
    let out = lab.run(&[
        "list",
        "bundles",
        "--catalog",
        &src.catalog,
        "--package",
        "alpha",
        "--channel",
        "stabel",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stable"),
        "did-you-mean: {}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn build_rebuilds_a_single_docker_manifest_catalog() {
    let src = source_shaped(Shape::DockerSingle).await;
    let lab = Lab::new(one_package(&src.catalog, "beta"));
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    let repo = "mirror/catalogs/test-index";
    let (_, platforms) = read_catalog(&lab.mirror, repo, "v1").await;
    assert_eq!(platforms, vec![set(&["beta.v2.0.0"])]);
    let raw = support::skopeo_inspect_raw(
        &format!("{}/{repo}:v1", lab.mirror.host()),
        &SkopeoAuth::default(),
    )
    .expect("rebuilt");
    let m: Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(m["mediaType"], DOCKER_MANIFEST);
    for l in m["layers"].as_array().expect("layers") {
        assert_eq!(l["mediaType"], DOCKER_LAYER);
    }
    assert!(present(&mirrored(&lab, &src.beta.bundle)));
    assert!(!present(&mirrored(&lab, &src.alpha_new.bundle)));
}

#[tokio::test(flavor = "multi_thread")]
async fn moved_catalog_tag_rebuilds_the_catalog() {
    let src = source().await;
    let lab = Lab::new(one_package(&src.catalog, "alpha"));
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let repo = "mirror/catalogs/test-index";
    let (first, platforms) = read_catalog(&lab.mirror, repo, "v1").await;
    assert_eq!(platforms[0], set(&["alpha.v1.1.0"]));

    // The catalog's tag moves to a catalog whose alpha channel ends at 1.0.0.
    src.push_catalog(Shape::OciIndex, false).await;
    // The lock pins the old catalog digest until `update` moves it.
    let pinned = lab.run(&["plan"]);
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    assert!(
        !String::from_utf8_lossy(&pinned.stdout).contains("source digest changed"),
        "{}",
        String::from_utf8_lossy(&pinned.stdout)
    );
    let update = lab.run(&["update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.contains("prune-catalog") && l.contains("source digest changed")),
        "{text}"
    );
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (second, platforms) = read_catalog(&lab.mirror, repo, "v1").await;
    assert_ne!(first, second);
    assert_eq!(platforms[0], set(&["alpha.v1.0.0"]));
    assert!(present(&mirrored(&lab, &src.alpha_old.bundle)));
    assert!(present(&mirrored(&lab, &src.alpha_old.operator)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_catalog_under_a_cosign_trust_is_neither_rebuilt_nor_copied() {
    let src = source_shaped(Shape::DockerSingle).await;
    let lab = Lab::new(|mirror| {
        format!(
            "catalog \"one\" \"{}\" {{\n    package \"beta\"\n}}\n\ntrust \"ops-key\" {{\n    cosign-key \"cosign.pub\"\n    applies-to \"one\"\n}}\n\ntarget \"mirror\" \"docker://{mirror}/mirror\" {{\n    needs \"one\"\n}}\n",
            src.catalog
        )
    });
    support::cosign::key_pair(lab.path(), "cosign");
    // The catalog image, the bundle and its operator image are each verified first.
    let out = lab.run(&["plan", "-v"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(plan.matches("run    verify-cosign").count(), 3, "{plan}");
    let catalog_repo = src.catalog.rsplit_once(':').expect("tag").0;
    assert!(
        plan.contains(&format!("run    verify-cosign {catalog_repo}@sha256:")),
        "{plan}"
    );
    // The rebuild depends on the verification of the source catalog itself.
    let out = lab.run(&["plan", "--format", "json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    let prune = doc["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["kind"]["kind"] == "prune-catalog")
        .expect("a prune-catalog task");
    let gate = format!("verify-cosign mirror {catalog_repo}@");
    assert!(
        prune["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.starts_with(&gate))),
        "{prune}"
    );

    let out = lab.run(&["build"]);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let err: String = stderr(&out)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    assert!(
        err.contains("nosignature:thesourcehasnosignaturetag"),
        "{err}"
    );
    assert!(!present(&format!(
        "{}/mirror/catalogs/test-index:v1",
        lab.mirror.host()
    )));
    assert!(!present(&mirrored(&lab, &src.beta.bundle)));
    assert!(!present(&mirrored(&lab, &src.beta.operator)));
}

/// Registry → registry: the enterprise mirror rebuilds the catalog from the source; the enclave
/// mirror (`needs "enterprise"`) copies that rebuilt image (same digest, no second prune), its
/// bundle and related images from the enterprise mirror, and gets its own CatalogSource.
#[tokio::test(flavor = "multi_thread")]
async fn inherited_catalog_is_copied_from_the_upstream_mirror() {
    let src = source().await;
    let enclave = Registry::start(RegistryOptions::default());
    let enclave_host = enclave.host();
    let lab = Lab::new(|mirror| {
        format!(
            r#"catalog "one" "{cat}" {{
    package "alpha"
}}

target "enterprise" "docker://{mirror}/mirror" {{
    needs "one"
}}

target "enclave" "docker://{enclave_host}/enclave" {{
    needs "enterprise"
}}
"#,
            cat = src.catalog
        )
    });
    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "plan failed:\n{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert_eq!(text.matches("run    prune-catalog").count(), 1, "{text}");
    let upstream = format!("{}/mirror/catalogs/test-index:v1", lab.mirror.host());
    let downstream = format!("{enclave_host}/enclave/catalogs/test-index:v1");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  run    copy") && l.contains(&downstream)),
        "{text}"
    );

    // mapping.txt: the enterprise rebuild from the pinned source catalog; the enclave copy
    // from the enterprise tag (its rebuilt digest is not known before the build).
    let source_digest =
        sha256(&support::skopeo_inspect_raw(&src.catalog, &SkopeoAuth::default()).expect("source"));
    let source_repo = src.catalog.trim_end_matches(":v1");
    let mapping = |target: &str| {
        std::fs::read_to_string(
            lab.path()
                .join(format!(".airlift/out/{target}/dry-run/mapping.txt")),
        )
        .expect("mapping.txt")
    };
    let enterprise = mapping("enterprise");
    assert!(
        enterprise
            .lines()
            .any(|l| l == format!("{source_repo}@{source_digest}={upstream}")),
        "{enterprise}"
    );
    assert_eq!(
        enterprise.lines().count(),
        3,
        "catalog, bundle, operator:\n{enterprise}"
    );
    let before = mapping("enclave");
    assert!(
        before
            .lines()
            .any(|l| l == format!("{upstream}={downstream}")),
        "{before}"
    );

    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    let (rebuilt, platforms) = read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await;
    // Once the enterprise rebuild is recorded, the enclave line names its digest.
    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let after = mapping("enclave");
    let upstream_repo = upstream.trim_end_matches(":v1");
    assert!(
        after
            .lines()
            .any(|l| l == format!("{upstream_repo}@{rebuilt}={downstream}")),
        "{after}"
    );
    assert_eq!(platforms[0], set(&["alpha.v1.1.0"]));
    let (copied, platforms) = read_catalog(&enclave, "enclave/catalogs/test-index", "v1").await;
    assert_eq!(
        copied, rebuilt,
        "the enclave holds the enterprise rebuild, digest preserved"
    );
    assert_eq!(platforms.len(), 2);
    for kept in [&src.alpha_new.bundle, &src.alpha_new.operator] {
        assert!(
            present(&mirrored_at(&enclave, "enclave", kept)),
            "{}",
            kept.repo
        );
    }
    assert!(!present(&mirrored_at(
        &enclave,
        "enclave",
        &src.alpha_old.bundle
    )));
    // The journal records one rebuild (enterprise) and one copy of it (enclave).
    let journal = std::fs::read_to_string(lab.path().join(".airlift/state/journal.jsonl"))
        .unwrap_or_default();
    let catalog_records: Vec<Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["dest"] == upstream.as_str() || r["dest"] == downstream.as_str())
        .collect();
    assert_eq!(catalog_records.len(), 2, "{journal}");
    for r in &catalog_records {
        assert_eq!(r["output_digest"], rebuilt.as_str(), "{r}");
        let kind = if r["dest"] == upstream.as_str() {
            "prune-catalog"
        } else {
            "copy"
        };
        assert_eq!(r["kind"], kind, "{r}");
    }

    let cs = std::fs::read_to_string(
        lab.path()
            .join(".airlift/out/enclave/cluster-resources/cs-test-index-v1.yaml"),
    )
    .expect("enclave CatalogSource");
    assert!(cs.contains(&downstream), "{cs}");
    support::crds::assert_valid(&[lab
        .path()
        .join(".airlift/out/enclave/cluster-resources/cs-test-index-v1.yaml")]);
    let verify = lab.run(&["verify", "enclave"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stderr(&verify).contains("3 image(s)"),
        "{}",
        stderr(&verify)
    );

    assert_fresh(&lab, &["build"], 6);
}

/// `skopeo copy --all --preserve-digests docker://<image> oci:<dir>:<tag>`.
fn skopeo_to_layout(image: &str, dir: &Path, tag: &str) {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--src-no-creds",
        ])
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:{tag}", dir.display()))
        .output()
        .expect("run skopeo");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `catalog "x" "oci://DIR"`: the catalog is read from an OCI image layout on disk, filtered,
/// rebuilt and pushed like a registry catalog; the lock pins the layout image's digest; the
/// rebuilt digest equals that of the same catalog read from its registry.
#[tokio::test(flavor = "multi_thread")]
async fn oci_layout_catalog_is_rebuilt_and_locked() {
    let src = source().await;
    let lab = Lab::new(|mirror| {
        format!(
            r#"catalog "local" "oci://./layouts/test-index" {{
    package "alpha"
}}

catalog "remote" "{cat}" {{
    rename "remote/test-index"
    package "alpha"
}}

target "mirror" "docker://{mirror}/mirror" {{
    needs "local" "remote"
}}
"#,
            cat = src.catalog
        )
    });
    let layout = lab.path().join("layouts/test-index");
    std::fs::create_dir_all(&layout).expect("layout dir");
    skopeo_to_layout(&src.catalog, &layout, "v1");

    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "plan failed:\n{}", stderr(&plan));
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    let dest = format!("{}/mirror/test-index:latest", lab.mirror.host());
    assert!(
        text.lines().any(
            |l| l.contains("run    prune-catalog oci.invalid/test-index:latest")
                && l.contains(&dest)
        ),
        "{text}"
    );

    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    let (local, platforms) = read_catalog(&lab.mirror, "mirror/test-index", "latest").await;
    assert_eq!(platforms.len(), 2);
    for p in &platforms {
        assert_eq!(p, &set(&["alpha.v1.1.0"]));
    }
    let (remote, _) = read_catalog(&lab.mirror, "mirror/remote/test-index", "v1").await;
    assert_eq!(
        local, remote,
        "same catalog, same filter, same rebuilt digest"
    );
    assert!(present(&mirrored(&lab, &src.alpha_new.bundle)));
    assert!(present(&mirrored(&lab, &src.alpha_new.operator)));

    // The lock pins the layout image by digest (the source catalog's, copied unchanged).
    let source_digest =
        sha256(&support::skopeo_inspect_raw(&src.catalog, &SkopeoAuth::default()).expect("source"));
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.path().join("airlift.lock")).expect("lock"),
    )
    .expect("lock json");
    let entry = lock["images"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|i| i["set"] == "local" && i["source"] == "oci.invalid/test-index:latest")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(entry["source"], "oci.invalid/test-index:latest", "{lock}");
    assert_eq!(entry["digest"], source_digest.as_str(), "{lock}");

    assert_fresh(&lab, &["build"], 4);
    // --offline reads the locked digest from the layout's blobs.
    assert_fresh(&lab, &["--offline", "build"], 4);
    let cs = lab
        .path()
        .join(".airlift/out/mirror/cluster-resources/cs-test-index-latest.yaml");
    let text = std::fs::read_to_string(&cs).expect("CatalogSource of the layout catalog");
    assert!(text.contains(&dest), "{text}");

    // Alone (nothing else pushes the original layers), the layers stream from the layout.
    let alone = Lab::new(|mirror| {
        format!(
            "catalog \"local\" \"oci://{}\" {{\n    package \"alpha\"\n}}\n\ntarget \"mirror\" \"docker://{mirror}/mirror\" {{\n    needs \"local\"\n}}\n",
            layout.display()
        )
    });
    let out = alone.run(&["build"]);
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    let (digest, _) = read_catalog(&alone.mirror, "mirror/test-index", "latest").await;
    assert_eq!(digest, local);

    // `list operators` reads the layout too (path relative to the working directory).
    let list = lab.run(&["list", "operators", "--catalog", "oci://layouts/test-index"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let rows = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(rows.lines().any(|r| r.starts_with("alpha ")), "{rows}");
    assert!(rows.lines().any(|r| r.starts_with("beta ")), "{rows}");

    // A layout that is not one: exit 5 and a message naming the directory.
    std::fs::remove_file(layout.join("oci-layout")).expect("remove marker");
    let broken = lab.run(&["plan"]);
    assert_eq!(broken.status.code(), Some(5), "{}", stderr(&broken));
    assert!(
        stderr(&broken).contains("not an OCI image layout"),
        "{}",
        stderr(&broken)
    );
}

/// Catalogs are read and filtered concurrently, but their errors are reported in recipe order
/// (every one of them), identically on every run.
#[tokio::test(flavor = "multi_thread")]
async fn errors_of_several_catalogs_come_in_recipe_order() {
    let src = source().await;
    let host = src.reg.host();
    let lab = Lab::new(|mirror| {
        format!(
            r#"catalog "a" "{cat}" {{
    package "zzz-first"
}}

catalog "b" "{host}/catalogs/absent:v1" {{
    package "alpha"
}}

catalog "c" "{cat}" {{
    package "yyy-third"
}}

target "mirror" "docker://{mirror}/mirror" {{
    needs "a" "b" "c"
}}
"#,
            cat = src.catalog
        )
    });
    let first = lab.run(&["plan"]);
    assert_eq!(first.status.code(), Some(5), "{}", stderr(&first));
    let err = stderr(&first);
    let at = |needle: &str| {
        err.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing:\n{err}"))
    };
    assert!(at("zzz-first") < at("catalogs/absent"), "{err}");
    assert!(at("catalogs/absent") < at("yyy-third"), "{err}");
    let second = lab.run(&["plan"]);
    assert_eq!(stderr(&second), err);
}

/// Catalogs through disk with two separated sides: the connected side packs each catalog
/// image as published with the bundle and related images its filter keeps; a side that has
/// only the copied directory (source registry stopped) reads and filters the catalogs from the
/// archives, rebuilds them into its registry and writes the same resources as a direct build.
#[tokio::test(flavor = "multi_thread")]
async fn catalogs_go_through_disk_and_are_rebuilt_on_the_separated_side() {
    let mut src = source().await;
    let cat = src.catalog.clone();
    let recipe = move |disk: &str, mirror: &str| {
        format!(
            r#"catalog "one" "{cat}" {{
    package "alpha"
}}

catalog "two" "{cat}" {{
    rename "other/test-index" tag="v1-beta"
    package "beta"
    catalog-source-template "cs-template.yaml"
}}

target "disk" "file://{disk}" {{
    needs "one" "two"
}}

target "enterprise" "docker://{mirror}/ent" {{
    needs "disk"
}}

target "direct" "docker://{mirror}/direct" {{
    needs "one" "two"
}}
"#
        )
    };
    let connected = recipe.clone();
    let lab = Lab::new(move |mirror| connected("out/disk", mirror));
    let out = lab.run(&["build", "disk", "direct"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let described = lab.run(&["describe", "out/disk", "--format", "json"]);
    assert!(described.status.success(), "{}", stderr(&described));
    let text = String::from_utf8_lossy(&described.stdout).into_owned();
    assert!(
        text.contains("\"alpha\"") && text.contains("\"beta\""),
        "describe names the kept packages: {text}"
    );

    let side = tempfile::tempdir().expect("tempdir");
    let carried = side.path().join("media/disk");
    support::sides::copy_dir(&lab.path().join("out/disk"), &carried, |_| true);
    std::fs::write(side.path().join("cs-template.yaml"), TEMPLATE).expect("template");
    std::fs::write(
        side.path().join("airlift.kdl"),
        recipe(&carried.display().to_string(), &lab.mirror.host()),
    )
    .expect("recipe");
    src.reg.stop();
    let out = support::sides::airlift_in(BIN, side.path(), &["build", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (repo, tag) in [
        ("catalogs/test-index", "v1"),
        ("other/test-index", "v1-beta"),
    ] {
        let ent = read_catalog(&lab.mirror, &format!("ent/{repo}"), tag).await;
        let direct = read_catalog(&lab.mirror, &format!("direct/{repo}"), tag).await;
        assert_eq!(ent, direct, "{repo}: the rebuild is the direct build's");
    }
    for kept in [&src.alpha_new, &src.beta] {
        assert!(present(&mirrored_at(&lab.mirror, "ent", &kept.bundle)));
        assert!(present(&mirrored_at(&lab.mirror, "ent", &kept.operator)));
    }
    assert!(!present(&mirrored_at(
        &lab.mirror,
        "ent",
        &src.alpha_old.bundle
    )));
    assert_eq!(
        support::sides::resources_of(side.path(), "enterprise", "ent"),
        support::sides::resources_of(lab.path(), "direct", "direct"),
        "disk-to-mirror renders what a direct build renders"
    );
    let again = support::sides::airlift_in(BIN, side.path(), &["build", "enterprise"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("0 copied"), "{}", stderr(&again));
}

/// An enclave chain, each side separated from the others: the connected side writes `disk`;
/// the enterprise side (only the copied directory, source registry stopped) loads its registry
/// from it and cuts the enclave archive from that registry (`only` the catalog set); the enclave
/// side (only the enclave archive) loads its registry. The enclave's catalog is the enterprise's
/// rebuild, byte for byte; the set `only` leaves out does not reach the enclave.
#[tokio::test(flavor = "multi_thread")]
async fn an_enclave_chain_carries_the_rebuilt_catalog_from_disk_to_enclave() {
    let mut src = source().await;
    let cat = src.catalog.clone();
    let tool = src.beta.operator.by_digest(&src.reg.host());
    let recipe = move |disk: &str, enclave_disk: &str, mirror: &str| {
        format!(
            r#"catalog "one" "{cat}" {{
    package "alpha"
}}

images "tools" {{
    image "{tool}"
}}

target "disk" "file://{disk}" {{
    needs "one" "tools"
}}

target "enterprise" "docker://{mirror}/ent" {{
    needs "disk"
}}

target "enclave-disk" "file://{enclave_disk}" {{
    needs "enterprise"
    only "one"
}}

target "enclave" "docker://{mirror}/enclave" {{
    needs "enclave-disk"
}}

target "direct" "docker://{mirror}/direct" {{
    needs "one"
}}
"#
        )
    };
    let connected = recipe.clone();
    let lab = Lab::new(move |mirror| connected("out/disk", "unused", mirror));
    let out = lab.run(&["build", "disk", "direct"]);
    assert!(out.status.success(), "{}", stderr(&out));
    src.reg.stop();
    let mirror = lab.mirror.host();
    // The enterprise side: its registry from the disk, then the enclave archive from it.
    let enterprise = tempfile::tempdir().expect("tempdir");
    let disk = enterprise.path().join("media/disk");
    support::sides::copy_dir(&lab.path().join("out/disk"), &disk, |_| true);
    std::fs::write(
        enterprise.path().join("airlift.kdl"),
        recipe(&disk.display().to_string(), "out/enclave", &mirror),
    )
    .expect("recipe");
    let out = support::sides::airlift_in(
        BIN,
        enterprise.path(),
        &["build", "enterprise", "enclave-disk"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The enclave side: only the enclave archive.
    let enclave = tempfile::tempdir().expect("tempdir");
    let enclave_disk = enclave.path().join("media/enclave");
    support::sides::copy_dir(
        &enterprise.path().join("out/enclave"),
        &enclave_disk,
        |_| true,
    );
    std::fs::write(
        enclave.path().join("airlift.kdl"),
        recipe("unused", &enclave_disk.display().to_string(), &mirror),
    )
    .expect("recipe");
    let out = support::sides::airlift_in(BIN, enclave.path(), &["build", "enclave"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let digest = |ns: &str| {
        support::skopeo_inspect_raw(
            &format!("{mirror}/{ns}/catalogs/test-index:v1"),
            &SkopeoAuth::default(),
        )
        .map(|raw| sha256(&raw))
        .unwrap_or_else(|e| panic!("catalog at {ns}: {e}"))
    };
    assert_eq!(digest("enclave"), digest("ent"), "the enterprise's rebuild");
    assert_eq!(
        digest("ent"),
        digest("direct"),
        "the direct build's rebuild"
    );
    for kept in [&src.alpha_new.bundle, &src.alpha_new.operator] {
        assert!(present(&mirrored_at(&lab.mirror, "enclave", kept)));
    }
    assert!(
        !present(&mirrored_at(&lab.mirror, "enclave", &src.beta.operator)),
        "`only` keeps the tools set out of the enclave"
    );
    assert!(present(&mirrored_at(
        &lab.mirror,
        "ent",
        &src.beta.operator
    )));
    assert_eq!(
        support::sides::resources_of(enclave.path(), "enclave", "enclave"),
        support::sides::resources_of(lab.path(), "direct", "direct"),
    );
}

/// A catalog delete set removes alpha 1.0.0 (bundle and operator image) once the recipe keeps
/// alpha from 1.1.0 only, and keeps beta's images, which the other catalog's filter still
/// needs; the rebuilt catalogs and alpha 1.1.0 are untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_delete_removes_older_bundles_and_keeps_what_another_filter_needs() {
    let src = source().await;
    let recipe = |alpha_min: &str, beta_in_one: bool| {
        let cat = src.catalog.clone();
        let beta = if beta_in_one {
            "    package \"beta\"\n"
        } else {
            ""
        };
        let alpha_min = alpha_min.to_string();
        move |mirror: &str| {
            format!(
                r#"catalog "one" "{cat}" {{
    package "alpha" min="{alpha_min}"
{beta}}}

catalog "two" "{cat}" {{
    rename "other/test-index" tag="v1-beta"
    package "beta"
}}

target "mirror" "docker://{mirror}/mirror" {{
    needs "one" "two"
}}

delete "old-alpha" from="mirror" {{
    catalog "{cat}" {{
        package "alpha" max="1.0.0"
        package "beta"
    }}
}}
"#
            )
        }
    };
    let lab = Lab::new(recipe("1.0.0", true));
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for p in [
        &src.alpha_old.bundle,
        &src.alpha_old.operator,
        &src.beta.bundle,
    ] {
        assert!(present(&mirrored(&lab, p)), "{}", mirrored(&lab, p));
    }
    // The recipe moves on: alpha from 1.1.0, beta only through catalog `two`.
    let text = recipe("1.1.0", false)(&lab.mirror.host());
    std::fs::write(lab.path().join("airlift.kdl"), text).expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let catalogs = [
        read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await,
        read_catalog(&lab.mirror, "mirror/other/test-index", "v1-beta").await,
    ];

    let out = lab.run(&["delete", "old-alpha"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    let deleted: Vec<&str> = list.lines().filter(|l| l.starts_with("delete ")).collect();
    assert_eq!(deleted.len(), 2, "{list}");
    let beta_kept: Vec<&str> = list
        .lines()
        .filter(|l| l.starts_with("kept ") && l.contains("catalog set `two` of target `mirror`"))
        .collect();
    assert_eq!(beta_kept.len(), 2, "{list}");
    let out = lab.run(&[
        "delete",
        "old-alpha",
        "--execute",
        "--message-format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let finished = events
        .iter()
        .filter(|e| e["event"] == "manifest-deleted")
        .count();
    assert_eq!(finished, 2, "{events:?}");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "delete-finished", "{events:?}");
    assert_eq!(last["deleted"], 2, "{last}");
    assert_eq!(last["kept"], 2, "{last}");
    for p in [&src.alpha_old.bundle, &src.alpha_old.operator] {
        assert!(
            !present(&mirrored(&lab, p)),
            "{} survived",
            mirrored(&lab, p)
        );
    }
    for p in [
        &src.alpha_new.bundle,
        &src.alpha_new.operator,
        &src.beta.bundle,
        &src.beta.operator,
    ] {
        assert!(
            present(&mirrored(&lab, p)),
            "{} was deleted",
            mirrored(&lab, p)
        );
    }
    assert_eq!(
        [
            read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await,
            read_catalog(&lab.mirror, "mirror/other/test-index", "v1-beta").await,
        ],
        catalogs
    );
}

/// An oc-mirror ImageSetConfiguration imported with `airlift import` plans what oc-mirror's
/// documented filtering selects: a package `minVersion` keeps the default channel from that
/// version (scenario 5), named bundles keep exactly those (scenario 14); nothing else of the
/// catalog is copied.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_image_set_plans_what_oc_mirror_selects() {
    let src = source().await;
    let lab = Lab::new(one_package(&src.catalog, "alpha"));
    let isc = format!(
        "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  operators:\n  - catalog: {}\n    packages:\n    - name: alpha\n      minVersion: 1.1.0\n    - name: beta\n      bundles:\n      - name: beta.v2.0.0\n",
        src.catalog
    );
    std::fs::write(lab.path().join("isc.yaml"), isc).expect("isc");
    let to = format!("docker://{}/mirror", lab.mirror.host());
    let out = lab.run(&[
        "import",
        "isc.yaml",
        "-o",
        "airlift.kdl",
        "--force",
        "--to",
        &to,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.run(&["plan", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    let copied: BTreeSet<String> = doc["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["kind"]["kind"] == "copy")
        .filter_map(|t| t["kind"]["origin"].as_str().map(str::to_string))
        .collect();
    let host = src.reg.host();
    let want: BTreeSet<String> = [
        &src.alpha_new.bundle,
        &src.alpha_new.operator,
        &src.beta.bundle,
        &src.beta.operator,
    ]
    .iter()
    .map(|p| p.by_digest(&host))
    .collect();
    assert_eq!(copied, want);
    // The plan lists the kept bundles by package and channel for review.
    let kept = &doc["catalogs"][0]["packages"];
    assert_eq!(
        kept["alpha"]["channels"]["stable"],
        json!(["alpha.v1.1.0"]),
        "{kept}"
    );
    assert_eq!(
        kept["beta"]["channels"]["stable"],
        json!(["beta.v2.0.0"]),
        "{kept}"
    );
    assert_eq!(kept["alpha"]["default-channel"], "stable");
    // `-f isc.yaml` is recognised and answered with the import command.
    let out = lab.run(&["plan", "-f", "isc.yaml"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("airlift import isc.yaml"),
        "{}",
        stderr(&out)
    );
}

/// A package-manifest (SQLite) catalog image, as `oc adm catalog mirror` mirrors them: read
/// from its `index.db`, filtered with the same filter, rebuilt as a file-based catalog image
/// that `opm serve` serves; the kept bundles and their images are mirrored, the others not;
/// the rebuilt catalog has one head per channel and its default channel; the CatalogSource
/// validates against the CRD.
#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_catalog_is_filtered_and_rebuilt_as_a_file_based_catalog() {
    let src = source_shaped(Shape::Sqlite).await;
    let lab = Lab::new(|mirror| {
        format!(
            "catalog \"legacy\" \"{}\" {{\n    package \"alpha\" min=\"1.1.0\"\n    package \"beta\"\n}}\n\ntarget \"mirror\" \"docker://{mirror}/mirror\" {{\n    needs \"legacy\"\n}}\n",
            src.catalog
        )
    });
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, platforms) = read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await;
    assert_eq!(platforms, vec![set(&["alpha.v1.1.0", "beta.v2.0.0"])]);
    for p in [
        &src.alpha_new.bundle,
        &src.alpha_new.operator,
        &src.beta.bundle,
        &src.beta.operator,
    ] {
        assert!(present(&mirrored(&lab, p)), "{}", mirrored(&lab, p));
    }
    assert!(!present(&mirrored(&lab, &src.alpha_old.bundle)));
    // The rebuilt image serves the file-based catalog, with one head per channel and the
    // default channel there.
    let f = Fixture::new(&lab.mirror);
    let repo = "mirror/catalogs/test-index";
    let m: Value =
        serde_json::from_slice(&f.manifest(repo, "v1").await.expect("manifest")).expect("json");
    let config: Value = serde_json::from_slice(
        &f.blob(repo, m["config"]["digest"].as_str().expect("config"))
            .await
            .expect("config blob"),
    )
    .expect("config json");
    assert_eq!(config["config"]["Cmd"][0], "serve", "{config}");
    assert_eq!(
        config["config"]["Labels"]["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );
    let mut layers = Vec::new();
    for l in m["layers"].as_array().expect("layers") {
        layers.push(std::io::Cursor::new(
            f.blob(repo, l["digest"].as_str().expect("digest"))
                .await
                .expect("layer"),
        ));
    }
    let catalog =
        parse_catalog(&configs_from_layers(layers, "/configs").expect("configs")).expect("fbc");
    for p in catalog.packages.values() {
        let default = p.default_channel.as_deref().expect("a default channel");
        assert!(
            p.channels.contains_key(default),
            "{} lost its default channel",
            p.name
        );
        for c in p.channels.values() {
            let g = airlift::catalog::ChannelGraph::build(p, c).expect("graph");
            assert!(g.head().is_ok(), "{} {} has no single head", p.name, c.name);
        }
    }
    let cs = lab
        .path()
        .join(".airlift/out/mirror/cluster-resources/cs-test-index-v1.yaml");
    support::crds::assert_valid(&[cs]);
}

/// `platforms "linux/amd64"` (`oc adm catalog mirror --index-filter-by-os`): only that
/// platform of the two-platform catalog index is rebuilt and listed in the rebuilt index; a
/// platform the image lacks is an error listing the ones it has.
#[tokio::test(flavor = "multi_thread")]
async fn platforms_keep_only_the_named_platforms_of_a_catalog_index() {
    let src = source().await;
    let recipe = |platform: &str| {
        let catalog = src.catalog.clone();
        let platform = platform.to_string();
        move |mirror: &str| {
            format!(
                "catalog \"one\" \"{catalog}\" {{\n    platforms \"{platform}\"\n    package \"beta\"\n}}\n\ntarget \"mirror\" \"docker://{mirror}/mirror\" {{\n    needs \"one\"\n}}\n"
            )
        }
    };
    let lab = Lab::new(recipe("linux/amd64"));
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, platforms) = read_catalog(&lab.mirror, "mirror/catalogs/test-index", "v1").await;
    assert_eq!(platforms, vec![set(&["beta.v2.0.0"])]);
    let index: Value = serde_json::from_slice(
        &support::skopeo_inspect_raw(
            &format!("{}/mirror/catalogs/test-index:v1", lab.mirror.host()),
            &SkopeoAuth::default(),
        )
        .expect("index"),
    )
    .expect("json");
    let arches: Vec<&str> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .collect();
    assert_eq!(arches, ["amd64"]);
    std::fs::write(
        lab.path().join("airlift.kdl"),
        recipe("linux/s390x")(&lab.mirror.host()),
    )
    .expect("recipe");
    let out = lab.run(&["plan"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64, linux/arm64"),
        "{err}"
    );
}
