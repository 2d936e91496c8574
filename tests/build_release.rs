//! `airlift build`/`plan`/`list releases` with OpenShift release sets end to end: a local
//! update-graph server whose graphs point at release payloads pushed to a real source registry,
//! payload components read from the payloads, copies under oc-mirror's names checked with
//! skopeo, offline reruns from stored graph responses, and release signatures made with the
//! real `gpg` and served over HTTP.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use support::crds::assert_valid as validate;
use support::gpg::{Gpg, simple_signing};
use support::graph_server::{GraphServer, fixture_release};
use support::http::StaticServer;
use support::{Fixture, Format, Layer, Pushed, Registry, RegistryOptions, SkopeoAuth};

const BIN: &str = env!("CARGO_BIN_EXE_airlift");
const ART: &str = "openshift-release-dev/ocp-v4.0-art-dev";
const RELEASE_REPO: &str = "openshift-release-dev/ocp-release";

/// A source registry with two releases (4.15.2 and 4.15.3; they share the `cli` component), a
/// mirror registry, a graph server serving `stable-4.15` for them, and a recipe directory.
struct Lab {
    up: Registry,
    mirror: Registry,
    dir: tempfile::TempDir,
    _graphs: tempfile::TempDir,
    server: GraphServer,
    /// version → payload as pushed.
    payloads: BTreeMap<String, Pushed>,
    /// (version, component) → component image as pushed.
    components: BTreeMap<(String, String), Pushed>,
    /// `base/ubi:9` at the source registry (Docker format, two small layers): the graph-data
    /// image's base in recipes with `graph #true`, so nothing is read beyond loopback.
    base: Pushed,
}

impl Lab {
    async fn new() -> Lab {
        Lab::with_missing_installer(None).await
    }

    /// With `broken`, that release's payload names an installer image the source lacks.
    async fn with_missing_installer(broken: Option<&str>) -> Lab {
        Lab::start(broken, RegistryOptions::default()).await
    }

    async fn start(broken: Option<&str>, mirror: RegistryOptions) -> Lab {
        let up = Registry::start(RegistryOptions::default());
        let mirror = Registry::start(mirror);
        let fx = Fixture::new(&up);
        let host = fx.host().to_string();
        let cli = fx
            .image(
                ART,
                None,
                Format::Oci,
                "amd64",
                &[
                    Layer::Shared(Arc::new(tool_layer(
                        "usr/share/cli/noise",
                        &support::fixture::random_bytes(2048),
                    ))),
                    Layer::Shared(Arc::new(tool_layer("usr/bin/oc", &oc_bytes()))),
                ],
            )
            .await;
        let mut payloads = BTreeMap::new();
        let mut components = BTreeMap::new();
        for (i, version) in ["4.15.2", "4.15.3"].iter().enumerate() {
            let installer = fx
                .image(
                    ART,
                    None,
                    Format::Oci,
                    "amd64",
                    &[
                        Layer::Shared(Arc::new(tool_layer(
                            "usr/share/installer/noise",
                            &support::fixture::random_bytes(1024 + i * 100),
                        ))),
                        Layer::Shared(Arc::new(tool_layer(
                            "usr/bin/openshift-install",
                            &installer_bytes(version),
                        ))),
                    ],
                )
                .await;
            let installer_ref = if broken == Some(*version) {
                format!("{host}/{ART}@sha256:{}", "0".repeat(64))
            } else {
                installer.by_digest(&host)
            };
            let refs = [("cli", cli.by_digest(&host)), ("installer", installer_ref)];
            let release = fixture_release(version, &["4.15.0"], &refs);
            let layers: Vec<Layer> = release
                .layers
                .iter()
                .map(|l| Layer::Shared(Arc::new(l.clone())))
                .collect();
            let payload = fx
                .image(
                    RELEASE_REPO,
                    Some(&format!("{version}-x86_64")),
                    Format::Docker,
                    "amd64",
                    &layers,
                )
                .await;
            components.insert((version.to_string(), "cli".to_string()), cli.clone());
            components.insert((version.to_string(), "installer".to_string()), installer);
            payloads.insert(version.to_string(), payload);
        }
        let base = fx
            .image(
                "base/ubi",
                Some("9"),
                Format::Docker,
                "amd64",
                &[Layer::Random(3000), Layer::Random(700)],
            )
            .await;
        let graphs = tempfile::tempdir().expect("tempdir");
        write_graph(graphs.path(), &host, &payloads);
        let server = GraphServer::start_in(graphs.path().to_path_buf());
        Lab {
            up,
            mirror,
            dir: tempfile::tempdir().expect("tempdir"),
            _graphs: graphs,
            server,
            payloads,
            components,
            base,
        }
    }

    /// Writes `airlift.kdl`: release `ocp` (stable-4.15, 4.15.2..4.15.3) to target `mirror`,
    /// with `extra` appended (trust blocks).
    fn recipe(&self, extra: &str) -> PathBuf {
        self.write_recipe("", extra)
    }

    /// Like [`Lab::recipe`] with `graph #true`, the graph server's graph-data URL and the
    /// source registry's `base/ubi:9` as the graph image's base.
    fn recipe_with_graph(&self) -> PathBuf {
        self.write_recipe(
            &format!(
                " graph-data-url=\"{}\" graph-base-image=\"{}/base/ubi:9\"",
                self.server.graph_data_url(),
                self.up.host()
            ),
            "",
        )
    }

    fn write_recipe(&self, props: &str, extra: &str) -> PathBuf {
        let graph = if props.is_empty() {
            ""
        } else {
            "    graph #true\n"
        };
        let s = format!(
            "release \"ocp\" update-url=\"{}\"{props} {{\n    channel \"stable-4.15\" min=\"4.15.2\" max=\"4.15.3\"\n{graph}}}\n\n\
             target \"mirror\" \"docker://{}/mirror\" {{\n    needs \"ocp\"\n}}\n{extra}",
            self.server.url(),
            self.mirror.host()
        );
        let path = self.dir.path().join("airlift.kdl");
        std::fs::write(&path, s).expect("write recipe");
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.dir.path(), args)
    }

    /// Runs airlift in `dir` (another workspace) against this lab's registries and servers.
    fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("UPDATE_URL_OVERRIDE")
            .env_remove("OCP_SIGNATURE_URL")
            .output()
            .expect("run airlift")
    }

    fn payload_dest(&self, version: &str) -> String {
        format!(
            "{}/mirror/openshift/release-images:{version}-amd64",
            self.mirror.host()
        )
    }

    fn component_dest(&self, version: &str, name: &str) -> String {
        format!(
            "{}/mirror/openshift/release:{version}-amd64-{name}",
            self.mirror.host()
        )
    }

    fn resources_dir(&self) -> PathBuf {
        self.dir
            .path()
            .join(".airlift/out/mirror/cluster-resources")
    }
}

/// A gzip'd layer holding one executable file (mode 0755).
fn tool_layer(path: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_mtime(1);
    h.set_size(bytes.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, bytes).expect("tar append");
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("gzip");
    gz.finish().expect("gzip")
}

/// The fixture `openshift-install` of `version`: a script with the installer's release-image
/// marker (which `oc adm release extract` overwrites).
fn installer_bytes(version: &str) -> Vec<u8> {
    let mut b = format!("#!/bin/sh\necho openshift-install {version}\n# ").into_bytes();
    b.extend(airlift::release::extract::marker());
    b.extend(b"\n");
    b
}

fn oc_bytes() -> Vec<u8> {
    b"#!/bin/sh\necho oc\n".to_vec()
}

/// `stable-4.15-amd64.json`: 4.15.2 → 4.15.3, payloads by digest at the source registry.
fn write_graph(dir: &Path, host: &str, payloads: &BTreeMap<String, Pushed>) {
    let nodes: Vec<serde_json::Value> = payloads
        .iter()
        .map(|(v, p)| {
            serde_json::json!({
                "version": v,
                "payload": p.by_digest(host),
                "metadata": {
                    "io.openshift.upgrades.graph.release.channels": "stable-4.15",
                    "io.openshift.upgrades.graph.release.manifestref": p.digest,
                },
            })
        })
        .collect();
    let graph = serde_json::json!({"nodes": nodes, "edges": [[0, 1]], "conditionalEdges": []});
    std::fs::write(
        dir.join("stable-4.15-amd64.json"),
        serde_json::to_vec_pretty(&graph).expect("json"),
    )
    .expect("write graph");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn raw(reference: &str) -> Option<Vec<u8>> {
    support::skopeo_inspect_raw(reference, &SkopeoAuth::default()).ok()
}

/// Payloads and components of `version` are at the mirror under oc-mirror's names, with the
/// source's manifest bytes (hence digests).
fn assert_release_mirrored(lab: &Lab, version: &str) {
    let p = &lab.payloads[version];
    assert_eq!(
        raw(&lab.payload_dest(version)).as_deref(),
        Some(p.manifest.as_slice()),
        "payload {version}"
    );
    for ((v, name), c) in &lab.components {
        if v == version {
            assert_eq!(
                raw(&lab.component_dest(version, name)).as_deref(),
                Some(c.manifest.as_slice()),
                "component {name} of {version}"
            );
        }
    }
}

fn assert_release_absent(lab: &Lab, version: &str) {
    assert_eq!(raw(&lab.payload_dest(version)), None, "payload {version}");
    for (v, name) in lab.components.keys() {
        if v == version {
            assert_eq!(
                raw(&lab.component_dest(version, name)),
                None,
                "component {name} of {version}"
            );
        }
    }
}

/// Shards (#19): a release payload is tagged only once all of its components are at the mirror,
/// and the shards split the components between them, so no shard copies a payload and no
/// shard copies another's components. Two shards at once copy the four components once in all
/// and tag no payload; `--shards-done 2` tags both payloads, and both releases are complete.
#[tokio::test(flavor = "multi_thread")]
async fn shards_copy_release_components_once_and_shards_done_tags_the_payloads() {
    let lab = Lab::new().await;
    lab.recipe("");
    let dir = lab.dir.path().to_path_buf();
    let unset = ["UPDATE_URL_OVERRIDE", "OCP_SIGNATURE_URL"];
    let outputs =
        tokio::task::spawn_blocking(move || support::shards::shards_at_once(BIN, &dir, 2, &unset))
            .await
            .expect("join");
    let mut copied = 0;
    for (k, out) in (1..).zip(&outputs) {
        let n = support::shards::shard_copied(out, k, 2);
        assert!(
            n > 0,
            "every shard copies some components: shard {k} copied {n}"
        );
        copied += n;
    }
    assert_eq!(copied, lab.components.len(), "each component once in all");
    for (version, name) in lab.components.keys() {
        assert!(
            raw(&lab.component_dest(version, name)).is_some(),
            "component {name} of {version} is at the mirror"
        );
    }
    for v in lab.payloads.keys() {
        assert_eq!(raw(&lab.payload_dest(v)), None, "no shard tags payload {v}");
    }
    let done = lab.run(&["build", "--shards-done", "2"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let summary = stderr(&done);
    assert!(
        summary.contains(&format!("build: {} copied,", lab.payloads.len())),
        "--shards-done copies the payloads and nothing else: {summary}"
    );
    for v in lab.payloads.keys() {
        assert_release_mirrored(&lab, v);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn release_set_is_mirrored_under_oc_mirror_names_and_rebuilds_offline() {
    let mut lab = Lab::new().await;
    lab.recipe("");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    for v in ["4.15.2", "4.15.3"] {
        assert_release_mirrored(&lab, v);
    }
    assert!(
        lab.server
            .requests()
            .iter()
            .any(|r| r.contains("channel=stable-4.15&arch=amd64")),
        "{:?}",
        lab.server.requests()
    );
    // The lock pins each payload; components are pinned by their payload.
    let lock = std::fs::read_to_string(lab.dir.path().join("airlift.lock")).expect("lock");
    for p in lab.payloads.values() {
        assert!(lock.contains(&p.digest), "{lock}");
    }
    assert!(!lock.contains(ART), "components are not locked: {lock}");
    // Cluster resources: the release category, valid against the upstream CRDs.
    let idms = lab.resources_dir().join("idms-release-0.yaml");
    let text = std::fs::read_to_string(&idms).expect("idms-release-0.yaml");
    let host = lab.up.host();
    assert!(
        text.contains(&format!("source: {host}/{RELEASE_REPO}")),
        "{text}"
    );
    assert!(text.contains(&format!("source: {host}/{ART}")), "{text}");
    assert!(text.contains("/mirror/openshift/release-images"), "{text}");
    assert!(text.contains("/mirror/openshift/release\n"), "{text}");
    validate(std::slice::from_ref(&idms));

    // Offline with the graph server gone: `resources` renders the same release resources
    // from stored graph responses and payload components.
    lab.server.stop();
    let out = lab.run(&["resources", "mirror"]);
    assert!(out.status.success(), "resources failed: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&idms).expect("idms again"), text);
    let out = lab.run(&["verify", "mirror"]);
    assert!(out.status.success(), "verify failed: {}", stderr(&out));
    assert!(
        stderr(&out).contains("6 image(s), 6 manifest(s)"),
        "{}",
        stderr(&out)
    );

    // Offline with the graph server gone: stored responses and cached payload components.
    lab.server.stop();
    let before = lab.server.requests().len();
    let out = lab.run(&["build", "--offline"]);
    assert!(
        out.status.success(),
        "offline build failed: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("0 copied"), "{}", stderr(&out));
    assert_eq!(lab.server.requests().len(), before);
    let out = lab.run(&["plan", "--offline"]);
    assert!(out.status.success(), "plan failed: {}", stderr(&out));
    assert!(
        // 6 copies and the cluster resources (`--offline` writes no lock).
        stdout(&out).contains("plan: 0 to run, 7 fresh"),
        "{}",
        stdout(&out)
    );

    // Without --offline too: the stored graphs pin the selection as the lock pins tags, so a
    // rebuild asks the update service nothing; `update` is what asks again (and here fails).
    let out = lab.run(&["build"]);
    assert!(
        out.status.success(),
        "pinned build failed: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("0 copied"), "{}", stderr(&out));
    assert_eq!(lab.server.requests().len(), before);
    let out = lab.run(&["update"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

/// Signs the payload of `version` with `uid`'s key; returns (URL path, signature).
fn signature(gpg: &Gpg, uid: &str, lab: &Lab, version: &str) -> (String, Vec<u8>) {
    let p = &lab.payloads[version];
    let hex = p.digest.trim_start_matches("sha256:");
    let reference = format!("{}/{RELEASE_REPO}:{version}-x86_64", lab.up.host());
    (
        format!("/sigs/sha256={hex}/signature-1"),
        gpg.sign(uid, &simple_signing(&p.digest, &reference), &[]),
    )
}

/// Both payloads signed by `Release <r@example.com>`, the signatures served over HTTP, and a
/// trust block for release `ocp` with that key; the key holder and the server live as long as
/// the caller keeps them.
fn signed_by_release_key(lab: &Lab) -> (Gpg, StaticServer, String) {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let files: BTreeMap<String, Vec<u8>> = ["4.15.2", "4.15.3"]
        .iter()
        .map(|v| signature(&gpg, "r@example.com", lab, v))
        .collect();
    let store = StaticServer::start(files);
    let trust = trust_block(lab, &gpg, "r@example.com", &store);
    (gpg, store, trust)
}

fn trust_block(lab: &Lab, gpg: &Gpg, uid: &str, store: &StaticServer) -> String {
    std::fs::create_dir_all(lab.dir.path().join("keys")).expect("keys dir");
    std::fs::write(
        lab.dir.path().join("keys/release.asc"),
        gpg.export(uid, true),
    )
    .expect("keyring");
    format!(
        "\ntrust \"release-keys\" signature-store=\"{}/sigs\" {{\n    gpg-keyring \"keys/release.asc\"\n    applies-to \"ocp\"\n}}\n",
        store.base_url()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_releases_are_mirrored_with_their_signature_configmap() {
    let lab = Lab::new().await;
    let (_gpg, _store, trust) = signed_by_release_key(&lab);
    lab.recipe(&trust);
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    for v in ["4.15.2", "4.15.3"] {
        assert_release_mirrored(&lab, v);
    }
    let cm = std::fs::read_to_string(lab.resources_dir().join("mirrored-release-signatures.yaml"))
        .expect("signature configmap");
    assert!(
        cm.contains("release.openshift.io/verification-signatures"),
        "{cm}"
    );
    for p in lab.payloads.values() {
        let hex = p.digest.trim_start_matches("sha256:");
        assert!(cm.contains(&format!("sha256-{hex}-1")), "{cm}");
        assert!(
            lab.dir
                .path()
                .join(format!(".airlift/signatures/sha256={hex}/signature-1"))
                .is_file()
        );
    }
    // Verified once: a rerun plans no verification.
    let out = lab.run(&["plan"]);
    assert!(
        // 8 tasks of content, the cluster resources and the lock.
        stdout(&out).contains("plan: 0 to run, 10 fresh"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_signed_by_an_unknown_key_is_not_mirrored() {
    let lab = Lab::new().await;
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    gpg.gen_key("Stranger <s@example.com>", "ed25519", "never", None);
    let files: BTreeMap<String, Vec<u8>> = [
        signature(&gpg, "r@example.com", &lab, "4.15.2"),
        signature(&gpg, "s@example.com", &lab, "4.15.3"),
    ]
    .into_iter()
    .collect();
    let store = StaticServer::start(files);
    lab.recipe(&trust_block(&lab, &gpg, "r@example.com", &store));
    let out = lab.run(&["build", "--message-format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "exit 9 (verification): {}",
        stderr(&out)
    );
    // Regression (#18): a failed verification is an event of its own for CI to read.
    let failed: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "verification-failed")
        .collect();
    assert_eq!(failed.len(), 1, "{}", stdout(&out));
    assert!(
        failed[0]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("4.15.3"))
            && failed[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("is not verified")),
        "{:#}",
        failed[0]
    );
    // miette wraps long lines under a `|` gutter: read the words back in order.
    let text = stderr(&out);
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "|").collect();
    let err = words.join(" ");
    assert!(
        err.contains("release `ocp` 4.15.3-amd64") && err.contains("is not verified"),
        "{err}"
    );
    assert!(err.contains("not attempted"), "{err}");
    assert_release_mirrored(&lab, "4.15.2");
    assert_release_absent(&lab, "4.15.3");
    let cm = std::fs::read_to_string(lab.resources_dir().join("mirrored-release-signatures.yaml"))
        .expect("signature configmap");
    let bad = lab.payloads["4.15.3"].digest.trim_start_matches("sha256:");
    assert!(!cm.contains(bad), "{cm}");

    // `plan` shows the failed verification still to run, gating its release.
    let out = lab.run(&["plan", "-v"]);
    let text = stdout(&out);
    assert!(
        text.contains("run    verify-signature 4.15.3-amd64")
            && text.contains("fresh  verify-signature 4.15.2-amd64"),
        "{text}"
    );

    // --no-verify mirrors it anyway, warning even under -q.
    let out = lab.run(&["-q", "build", "--no-verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("WARNING: --no-verify: release signatures are NOT verified"),
        "{}",
        stderr(&out)
    );
    assert_release_mirrored(&lab, "4.15.3");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_trust_block_of_a_release_set_is_used_and_any_keyring_verifies() {
    let lab = Lab::new().await;
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    gpg.gen_key("Stranger <s@example.com>", "ed25519", "never", None);
    let files: BTreeMap<String, Vec<u8>> = ["4.15.2", "4.15.3"]
        .iter()
        .map(|v| signature(&gpg, "r@example.com", &lab, v))
        .collect();
    let store = StaticServer::start(files);
    // `a-stranger` sorts first and holds only a key that signed nothing: the release verifies
    // with the keyring of the second trust block.
    std::fs::create_dir_all(lab.dir.path().join("keys")).expect("keys dir");
    std::fs::write(
        lab.dir.path().join("keys/stranger.asc"),
        gpg.export("s@example.com", true),
    )
    .expect("keyring");
    let extra = format!(
        "{}\ntrust \"a-stranger\" {{\n    gpg-keyring \"keys/stranger.asc\"\n    applies-to \"ocp\"\n}}\n",
        trust_block(&lab, &gpg, "r@example.com", &store)
    );
    lab.recipe(&extra);
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    for v in ["4.15.2", "4.15.3"] {
        assert_release_mirrored(&lab, v);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_releases_shows_versions_and_channels_and_works_offline() {
    let mut lab = Lab::new().await;
    // Hardening: in a fresh directory (no recipe, nothing stored) `list releases` used to fail
    // reading the missing cache directory. With --channel it fetches; without, it says what
    // to pass.
    let fresh = tempfile::tempdir().expect("tempdir");
    let run_fresh = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(fresh.path())
            .env("UPDATE_URL_OVERRIDE", lab.server.url())
            .output()
            .expect("run airlift")
    };
    let out = run_fresh(&["list", "releases", "--channel", "stable-4.15"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4.15.3"), "{}", stdout(&out));
    let empty = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["list", "releases"])
        .current_dir(empty.path())
        .output()
        .expect("run airlift");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("--channel"), "{}", stderr(&out));
    lab.recipe("");
    let out = lab.run(&["list", "releases", "--channel", "stable-4.15"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Channel: stable-4.15\nArchitecture: amd64\n\n4.15.2\n4.15.3\n"
    );
    // --arch asks the service for that architecture's graph (this server has none for it).
    let before = lab.server.requests().len();
    let out = lab.run(&[
        "list",
        "releases",
        "--channel",
        "stable-4.15",
        "--arch",
        "s390x",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("arch=s390x"), "{}", stderr(&out));
    assert!(
        lab.server.requests()[before..]
            .iter()
            .any(|r| r.contains("arch=s390x")),
        "{:?}",
        lab.server.requests()
    );
    lab.server.stop();
    let out = lab.run(&["--offline", "list", "releases"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Available OpenShift release channels:\nstable-4.15\n"
    );
    let out = lab.run(&["--offline", "list", "releases", "--channel", "eus-4.16"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("eus-4.16"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_true_pushes_the_graph_data_image_and_renders_the_update_service() {
    let mut lab = Lab::new().await;
    let recipe = lab.recipe_with_graph();
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    assert_release_mirrored(&lab, "4.15.3");
    let graph_ref = format!("{}/mirror/openshift/graph-image:latest", lab.mirror.host());
    let manifest = raw(&graph_ref).expect("graph-data image at the mirror");
    let digest = support::fixture::sha256(&manifest);
    assert!(
        stderr(&out).contains(&format!("copied {graph_ref}@{digest}")),
        "{}",
        stderr(&out)
    );
    // The base is pinned in the lock like any image, so a no-op build never asks for it.
    let lock = std::fs::read_to_string(lab.dir.path().join("airlift.lock")).expect("lock");
    assert!(
        lock.contains(&format!("{}/base/ubi:9", lab.up.host())) && lock.contains(&lab.base.digest),
        "{lock}"
    );
    assert_graph_image_on_base(&lab, &graph_ref);
    let us = lab.resources_dir().join("updateService.yaml");
    let text = std::fs::read_to_string(&us).expect("updateService.yaml");
    assert!(
        text.contains(&format!(
            "graphDataImage: {}/mirror/openshift/graph-image@{digest}",
            lab.mirror.host()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "releases: {}/mirror/openshift/release-images",
            lab.mirror.host()
        )),
        "{text}"
    );
    validate(&[us]);
    // A fresh workspace building the same recipe into another repository: the same image.
    let again = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(&recipe).expect("recipe");
    let text = text.replace("/mirror\"", "/again\"");
    std::fs::write(again.path().join("airlift.kdl"), text).expect("write recipe");
    let out = lab.run_in(again.path(), &["build"]);
    assert!(
        out.status.success(),
        "second build failed: {}",
        stderr(&out)
    );
    let again_ref = format!("{}/again/openshift/graph-image:latest", lab.mirror.host());
    assert_eq!(
        raw(&again_ref).as_deref(),
        Some(manifest.as_slice()),
        "the graph-data image is reproducible"
    );
    assert_graph_image_on_base(&lab, &again_ref);
    // Offline rebuild: stored graph data, same image, nothing pushed again.
    lab.server.stop();
    let out = lab.run(&["build", "--offline"]);
    assert!(
        out.status.success(),
        "offline build failed: {}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("graph-data image:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(raw(&graph_ref), Some(manifest));
}

/// A no-op build of a release recipe with `graph #true` reads nothing from the source
/// registry or the update service: with both stopped, `build` and `build --offline` succeed
/// and leave the graph-data image as it was, and `plan -v` (with and without `--offline`)
/// lists the graph-data image's `build-graph-image` task as fresh.
#[tokio::test(flavor = "multi_thread")]
async fn a_no_op_graph_build_needs_neither_the_source_registry_nor_the_update_service() {
    let mut lab = Lab::new().await;
    lab.recipe_with_graph();
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    let graph_ref = format!("{}/mirror/openshift/graph-image:latest", lab.mirror.host());
    let manifest = raw(&graph_ref).expect("graph-data image at the mirror");

    lab.server.stop();
    lab.up.stop();
    for args in [&["build"][..], &["build", "--offline"]] {
        let out = lab.run(args);
        assert!(
            out.status.success(),
            "no-op `airlift {}` with the source registry and update service stopped failed: {}",
            args.join(" "),
            stderr(&out)
        );
        assert_eq!(
            raw(&graph_ref).as_deref(),
            Some(manifest.as_slice()),
            "the graph-data image is unchanged after `airlift {}`",
            args.join(" ")
        );
    }
    for args in [&["plan", "-v"][..], &["plan", "-v", "--offline"]] {
        let out = lab.run(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with("fresh") && l.contains("build-graph-image")
            }),
            "`airlift {}` lists no fresh build-graph-image task:\n{text}",
            args.join(" ")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_graph_base_image_fails_naming_it_and_the_property() {
    let lab = Lab::new().await;
    let recipe = lab.recipe_with_graph();
    let text = std::fs::read_to_string(&recipe).expect("recipe");
    std::fs::write(&recipe, text.replace("/base/ubi:9", "/base/missing:9")).expect("write");
    let out = lab.run(&["build"]);
    assert!(!out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "|").collect();
    let err = words.join(" ");
    let base = format!("{}/base/missing:9", lab.up.host());
    assert!(
        err.contains(&format!("cannot read its base image `{base}`")),
        "{err}"
    );
    assert!(err.contains("graph-base-image="), "{err}");
    assert!(err.contains("\"scratch\""), "{err}");
    let graph_ref = format!("{}/mirror/openshift/graph-image:latest", lab.mirror.host());
    assert_eq!(raw(&graph_ref), None);
    // Hardening: the releases were copied, so the build leaves a usable state: the lock and
    // the cluster resources that do not depend on the failed graph image.
    assert_release_mirrored(&lab, "4.15.3");
    assert!(
        lab.dir.path().join("airlift.lock").is_file(),
        "no lock was written"
    );
    let resources = lab.resources_dir();
    let names: Vec<String> = std::fs::read_dir(&resources)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(names.iter().any(|n| n.starts_with("idms-")), "{names:?}");
}

/// The graph image at `reference` (checked with skopeo): the base's layers, then one
/// graph-data layer; the config's `Cmd` is the copy command and its `diff_ids` end with the
/// graph-data layer's; every blob can be fetched and matches its digest.
fn assert_graph_image_on_base(lab: &Lab, reference: &str) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&raw(reference).expect("graph image manifest")).expect("json");
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["digest"].as_str())
        .collect();
    let base_layers: Vec<&str> = lab.base.blobs[1..]
        .iter()
        .map(|b| b.digest.as_str())
        .collect();
    assert_eq!(layers.len(), base_layers.len() + 1, "{manifest}");
    assert_eq!(layers[..base_layers.len()], base_layers[..], "{manifest}");
    let types: Vec<&str> = manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .filter_map(|l| l["mediaType"].as_str())
        .collect();
    assert!(
        types
            .iter()
            .all(|t| *t == "application/vnd.oci.image.layer.v1.tar+gzip"),
        "{types:?}"
    );
    let auth = SkopeoAuth::default();
    let config = support::skopeo::skopeo_inspect_config(reference, &auth).expect("config");
    let config: serde_json::Value = serde_json::from_slice(&config).expect("config json");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(airlift::release::GRAPH_IMAGE_CMD),
        "{config}"
    );
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().map(Vec::len),
        Some(layers.len()),
        "{config}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    support::skopeo::skopeo_copy_to_dir(reference, dir.path(), &auth)
        .expect("skopeo fetches every blob of the graph image");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_with_a_missing_component_is_not_tagged() {
    let lab = Lab::with_missing_installer(Some("4.15.3")).await;
    lab.recipe("");
    let out = lab.run(&["build"]);
    assert_eq!(out.status.code(), Some(6), "partial: {}", stderr(&out));
    let text = stderr(&out);
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "|").collect();
    let err = words.join(" ");
    assert!(
        err.contains("release 4.15.3-amd64 is incomplete (missing"),
        "{err}"
    );
    assert_release_mirrored(&lab, "4.15.2");
    assert_eq!(raw(&lab.payload_dest("4.15.3")), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_named_by_tag_is_resolved_locked_and_mirrored_without_a_graph() {
    let lab = Lab::new().await;
    let by_tag = format!("{}/{RELEASE_REPO}:4.15.3-x86_64", lab.up.host());
    std::fs::write(
        lab.dir.path().join("airlift.kdl"),
        format!(
            "release \"hot\" image=\"{by_tag}\" {{\n    arch \"amd64\"\n}}\n\n\
             target \"mirror\" \"docker://{}/mirror\" {{\n    needs \"hot\"\n}}\n",
            lab.mirror.host()
        ),
    )
    .expect("write recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    assert_release_mirrored(&lab, "4.15.3");
    assert!(lab.server.requests().is_empty(), "no graph query");
    let lock = std::fs::read_to_string(lab.dir.path().join("airlift.lock")).expect("lock");
    assert!(lock.contains(&by_tag), "{lock}");
    assert!(lock.contains(&lab.payloads["4.15.3"].digest), "{lock}");
    let out = lab.run(&["--offline", "build"]);
    assert!(
        out.status.success(),
        "offline build failed: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("0 copied"), "{}", stderr(&out));
}

/// A release with signatures and its graph-data image through disk, two separated sides: the
/// connected side packs the releases, their verified signatures, the graph data and the graph
/// image's base; with the update service, the signature store and the source registry stopped,
/// a side that has only the copied directory, its recipe and its keyring verifies the
/// signatures, pushes the payloads and components with their digests, builds the same
/// graph-data image and writes the resources a direct build writes (UpdateService, signature
/// ConfigMap, IDMS/ITMS).
#[tokio::test(flavor = "multi_thread")]
async fn a_release_with_signatures_and_graph_goes_through_disk_to_a_separated_side() {
    let mut lab = Lab::new().await;
    let (_gpg, store, trust) = signed_by_release_key(&lab);
    let recipe = |disk: &str| {
        format!(
            "release \"ocp\" update-url=\"{}\" graph-data-url=\"{}\" graph-base-image=\"{}/base/ubi:9\" {{\n    channel \"stable-4.15\" min=\"4.15.2\" max=\"4.15.3\"\n    graph #true\n}}\n\n\
             target \"disk\" \"file://{disk}\" {{\n    needs \"ocp\"\n    archive-size \"64KiB\"\n}}\n\n\
             target \"enterprise\" \"docker://{mirror}/ent\" {{\n    needs \"disk\"\n}}\n\n\
             target \"direct\" \"docker://{mirror}/direct\" {{\n    needs \"ocp\"\n}}\n{trust}",
            lab.server.url(),
            lab.server.graph_data_url(),
            lab.up.host(),
            mirror = lab.mirror.host(),
        )
    };
    std::fs::write(lab.dir.path().join("airlift.kdl"), recipe("out/disk")).expect("recipe");
    let out = lab.run(&["build", "disk", "direct"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let described = lab.run(&["describe", "out/disk"]);
    let text = stdout(&described);
    assert!(
        text.contains("releases: 4.15.2-amd64, 4.15.3-amd64"),
        "describe lists the releases: {text}"
    );

    let side = tempfile::tempdir().expect("tempdir");
    let carried = side.path().join("media/disk");
    support::sides::copy_dir(&lab.dir.path().join("out/disk"), &carried, |_| true);
    support::sides::copy_dir(
        &lab.dir.path().join("keys"),
        &side.path().join("keys"),
        |_| true,
    );
    std::fs::write(
        side.path().join("airlift.kdl"),
        recipe(&carried.display().to_string()),
    )
    .expect("recipe");
    lab.server.stop();
    drop(store);
    lab.up.stop();
    let out = lab.run_in(side.path(), &["build", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for v in ["4.15.2", "4.15.3"] {
        let at = format!(
            "{}/ent/openshift/release-images:{v}-amd64",
            lab.mirror.host()
        );
        assert_eq!(raw(&at), Some(lab.payloads[v].manifest.clone()), "{at}");
        for name in ["cli", "installer"] {
            let c = &lab.components[&(v.to_string(), name.to_string())];
            let at = format!(
                "{}/ent/openshift/release:{v}-amd64-{name}",
                lab.mirror.host()
            );
            assert_eq!(raw(&at), Some(c.manifest.clone()), "{at}");
        }
    }
    let graph = |ns: &str| {
        raw(&format!(
            "{}/{ns}/openshift/graph-image:latest",
            lab.mirror.host()
        ))
    };
    assert!(graph("ent").is_some());
    assert_eq!(graph("ent"), graph("direct"), "the same graph-data image");
    let ent = support::sides::resources_of(side.path(), "enterprise", "ent");
    assert!(ent.contains_key("updateService.yaml"), "{:?}", ent.keys());
    assert!(
        ent.contains_key("mirrored-release-signatures.yaml"),
        "{:?}",
        ent.keys()
    );
    assert_eq!(
        ent,
        support::sides::resources_of(lab.dir.path(), "direct", "direct"),
        "disk-to-mirror renders what a direct build renders"
    );
    let again = lab.run_in(side.path(), &["build", "enterprise"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("0 copied"), "{}", stderr(&again));
    // `resources` and `verify` read the releases from the archives too.
    std::fs::remove_dir_all(
        side.path()
            .join(".airlift/out/enterprise/cluster-resources"),
    )
    .expect("remove resources");
    let out = lab.run_in(side.path(), &["resources", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        support::sides::resources_of(side.path(), "enterprise", "ent"),
        ent
    );
    let out = lab.run_in(side.path(), &["verify", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Releases down an enclave chain, each side separated: the enterprise side (only the copied
/// disk, every server stopped) loads its registry and cuts the enclave archive from it; the
/// enclave side (only that archive) verifies the signatures the archives carried through both
/// hops and mirrors the releases with their digests.
#[tokio::test(flavor = "multi_thread")]
async fn releases_and_signatures_go_down_an_enclave_chain() {
    let mut lab = Lab::new().await;
    let (_gpg, store, trust) = signed_by_release_key(&lab);
    let mirror = lab.mirror.host();
    let update_url = lab.server.url();
    let recipe = |disk: &str, enclave_disk: &str| {
        format!(
            "release \"ocp\" update-url=\"{}\" {{\n    channel \"stable-4.15\" min=\"4.15.2\" max=\"4.15.3\"\n}}\n\n\
             target \"disk\" \"file://{disk}\" {{\n    needs \"ocp\"\n}}\n\n\
             target \"enterprise\" \"docker://{mirror}/ent\" {{\n    needs \"disk\"\n}}\n\n\
             target \"enclave-disk\" \"file://{enclave_disk}\" {{\n    needs \"enterprise\"\n    only \"ocp\"\n}}\n\n\
             target \"enclave\" \"docker://{mirror}/enclave\" {{\n    needs \"enclave-disk\"\n}}\n{trust}",
            update_url,
        )
    };
    std::fs::write(
        lab.dir.path().join("airlift.kdl"),
        recipe("out/disk", "unused"),
    )
    .expect("recipe");
    let out = lab.run(&["build", "disk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.server.stop();
    drop(store);
    lab.up.stop();
    let keys = lab.dir.path().join("keys");
    let side = |from: &Path, name: &str, disk: &str, enclave: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        support::sides::copy_dir(from, &dir.path().join(name), |_| true);
        support::sides::copy_dir(&keys, &dir.path().join("keys"), |_| true);
        std::fs::write(dir.path().join("airlift.kdl"), recipe(disk, enclave)).expect("recipe");
        dir
    };
    let enterprise = side(
        &lab.dir.path().join("out/disk"),
        "disk",
        "disk",
        "out/enclave",
    );
    let out = lab.run_in(enterprise.path(), &["build", "enterprise", "enclave-disk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let enclave = side(
        &enterprise.path().join("out/enclave"),
        "enclave",
        "unused",
        "enclave",
    );
    let out = lab.run_in(enclave.path(), &["build", "enclave"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for v in ["4.15.2", "4.15.3"] {
        let at = format!("{mirror}/enclave/openshift/release-images:{v}-amd64");
        assert_eq!(raw(&at), Some(lab.payloads[v].manifest.clone()), "{at}");
        let c = &lab.components[&(v.to_string(), "installer".to_string())];
        let at = format!("{mirror}/enclave/openshift/release:{v}-amd64-installer");
        assert_eq!(raw(&at), Some(c.manifest.clone()), "{at}");
    }
    let cm = std::fs::read_to_string(
        enclave
            .path()
            .join(".airlift/out/enclave/cluster-resources/mirrored-release-signatures.yaml"),
    )
    .expect("the enclave verified the carried signatures");
    for p in lab.payloads.values() {
        let hex = p.digest.trim_start_matches("sha256:");
        assert!(cm.contains(&format!("sha256-{hex}-1")), "{cm}");
    }
}

/// The recipe of a mirror that keeps only 4.15.3, with a delete set retiring 4.15.2 (`target`
/// is `docker://HOST/mirror`'s host).
fn retiring_recipe(lab: &Lab, host: &str, min: &str) -> PathBuf {
    let s = format!(
        "release \"ocp\" update-url=\"{}\" {{\n    channel \"stable-4.15\" min=\"{min}\" max=\"4.15.3\"\n}}\n\n\
         target \"mirror\" \"docker://{host}/mirror\" {{\n    needs \"ocp\"\n}}\n\n\
         delete \"retire-4.15.2\" from=\"mirror\" {{\n    release channel=\"stable-4.15\" min=\"4.15.2\" max=\"4.15.2\"\n}}\n",
        lab.server.url(),
    );
    let path = lab.dir.path().join("airlift.kdl");
    std::fs::write(&path, s).expect("write recipe");
    path
}

fn by_digest(host: &str, repo: &str, p: &Pushed) -> String {
    format!("{host}/mirror/{repo}@{}", p.digest)
}

/// Phase one changes nothing; phase two deletes the older release's own manifests and keeps
/// the component the newer one shares; the lock and the newer release are untouched; an
/// `--execute` after the lock moved is refused naming the change.
#[tokio::test(flavor = "multi_thread")]
async fn delete_retires_the_older_release_and_keeps_what_the_newer_shares() {
    let lab = Lab::new().await;
    let host = lab.mirror.host();
    lab.recipe("");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The recipe now keeps 4.15.3 only; a build records that (the lock loses 4.15.2).
    retiring_recipe(&lab, &host, "4.15.3");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mirror = Fixture::new(&lab.mirror);
    let before = mirror.listing().await;

    // `plan` shows the pending deletion and writes nothing.
    let dir = lab.dir.path().join(".airlift/out/mirror/delete");
    let out = lab.run(&["plan", "retire-4.15.2", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pending: serde_json::Value =
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    assert_eq!(pending["event"], "delete-list");
    assert_eq!(pending["pending"], true);
    assert_eq!(
        pending["manifests"].as_array().map(Vec::len),
        Some(2),
        "{pending}"
    );
    assert!(!dir.exists(), "plan wrote {}", dir.display());

    // Phase one: the list, nothing deleted.
    let out = lab.run(&["delete", "retire-4.15.2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        mirror.listing().await,
        before,
        "phase one changed the registry"
    );
    let yaml = std::fs::read_to_string(dir.join("delete-images.yaml")).expect("list written");
    let text = std::fs::read_to_string(dir.join("delete-images.txt")).expect("text written");
    let old_payload = by_digest(&host, "openshift/release-images", &lab.payloads["4.15.2"]);
    let old_installer = by_digest(
        &host,
        "openshift/release",
        &lab.components[&("4.15.2".to_string(), "installer".to_string())],
    );
    let cli = by_digest(
        &host,
        "openshift/release",
        &lab.components[&("4.15.2".to_string(), "cli".to_string())],
    );
    let mut listed: Vec<&str> = text.lines().collect();
    listed.sort();
    let mut want = vec![old_payload.as_str(), old_installer.as_str()];
    want.sort();
    assert_eq!(listed, want, "{yaml}");
    // The shared cli component is listed as kept, with who needs it.
    assert!(yaml.contains(&format!("image: {cli}")), "{yaml}");
    assert!(
        yaml.contains("release set `ocp` of target `mirror`"),
        "{yaml}"
    );
    assert!(
        stdout(&out).contains(&format!("kept   {cli}")),
        "{}",
        stdout(&out)
    );

    // The lock moves (4.15.2 back in the recipe): --execute is refused, naming the change.
    let lock_path = lab.dir.path().join("airlift.lock");
    let lock = std::fs::read(&lock_path).expect("lock");
    retiring_recipe(&lab, &host, "4.15.2");
    let out = lab.run(&["lock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.run(&["delete", "retire-4.15.2", "--execute"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("airlift.lock changed"),
        "{}",
        stderr(&out)
    );
    // `+ ocp <payload 4.15.2>` (miette may wrap the reference, never the digest).
    assert!(stderr(&out).contains("+ ocp"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&lab.payloads["4.15.2"].digest),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        mirror.listing().await,
        before,
        "a refused --execute deleted something"
    );
    // Back to the reviewed lock: --execute deletes exactly the list.
    retiring_recipe(&lab, &host, "4.15.3");
    std::fs::write(&lock_path, &lock).expect("restore lock");
    let out = lab.run(&["delete", "retire-4.15.2", "--execute"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 manifest(s) deleted"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("garbage-collect"), "{}", stderr(&out));
    assert!(raw(&old_payload).is_none(), "{old_payload} still there");
    assert!(raw(&old_installer).is_none(), "{old_installer} still there");
    assert!(raw(&cli).is_some(), "the shared component was deleted");
    // The newer release is complete: skopeo copies its payload and every component.
    let copied = tempfile::tempdir().expect("tempdir");
    for (i, reference) in std::iter::once(lab.payload_dest("4.15.3"))
        .chain(["cli", "installer"].map(|c| lab.component_dest("4.15.3", c)))
        .enumerate()
    {
        support::skopeo::skopeo_copy_to_dir(
            &reference,
            &copied.path().join(i.to_string()),
            &SkopeoAuth::default(),
        )
        .unwrap_or_else(|e| panic!("skopeo copy {reference}: {e}"));
    }
    assert_eq!(
        std::fs::read(&lock_path).expect("lock"),
        lock,
        "the lock changed"
    );
    // A second --execute has nothing left to do, and a build finds nothing missing.
    let out = lab.run(&["delete", "retire-4.15.2", "--execute"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("0 manifest(s) deleted now or found gone, 2 deleted by an earlier run"),
        "{}",
        stderr(&out)
    );
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("build: 0 copied"), "{}", stderr(&out));
}

/// An imported ImageSetConfiguration (channel with minVersion and maxVersion, oc-mirror v2)
/// plans both releases of the range, payloads and components, under oc-mirror's names; the
/// update service comes from UPDATE_URL_OVERRIDE, as with oc-mirror.
#[tokio::test(flavor = "multi_thread")]
async fn an_imported_image_set_plans_the_releases_oc_mirror_selects() {
    let lab = Lab::new().await;
    let isc = "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  platform:\n    channels:\n    - name: stable-4.15\n      minVersion: 4.15.2\n      maxVersion: 4.15.3\n";
    std::fs::write(lab.dir.path().join("isc.yaml"), isc).expect("isc");
    let to = format!("docker://{}/mirror", lab.mirror.host());
    let out = lab.run(&["import", "isc.yaml", "-o", "airlift.kdl", "--to", &to]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new(BIN)
        .args(["--src-tls-verify=false", "plan", "--format", "json"])
        .current_dir(lab.dir.path())
        .env("UPDATE_URL_OVERRIDE", lab.server.url())
        .output()
        .expect("run airlift");
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan json");
    let dests: std::collections::BTreeSet<String> = doc["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["kind"]["kind"] == "copy")
        .filter_map(|t| t["kind"]["dest"].as_str().map(str::to_string))
        .collect();
    let mut want = std::collections::BTreeSet::new();
    for v in ["4.15.2", "4.15.3"] {
        want.insert(lab.payload_dest(v));
        for c in ["cli", "installer"] {
            want.insert(lab.component_dest(v, c));
        }
    }
    assert_eq!(dests, want);
}

/// `airlift extract`: the installer of a mirrored release comes out of the target with its mode
/// and its bytes, the release-image marker set to the mirrored payload by digest (as `oc adm
/// release extract` does); `oc` comes out unchanged; a release the target lacks is exit 5.
#[tokio::test(flavor = "multi_thread")]
async fn extract_takes_the_installer_and_oc_out_of_a_mirrored_release() {
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new().await;
    lab.recipe("");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let args = [
        "extract",
        "mirror",
        "--release",
        "4.15.3",
        "--command",
        "openshift-install",
        "--to",
        "bin",
    ];
    let out = lab.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = lab.dir.path().join("bin/openshift-install");
    assert_eq!(stdout(&out).trim(), "bin/openshift-install");
    // --arch picks the payload's architecture: none for arm64 was mirrored.
    let arm = [
        "extract",
        "mirror",
        "--release",
        "4.15.3",
        "--command",
        "openshift-install",
        "--arch",
        "arm64",
        "--to",
        "arm",
    ];
    let refused = lab.run(&arm);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("arm64"), "{}", stderr(&refused));
    assert!(!lab.dir.path().join("arm/openshift-install").exists());
    let got = std::fs::read(&path).expect("extracted");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(mode, 0o755);
    let payload = format!(
        "{}/mirror/openshift/release-images@{}",
        lab.mirror.host(),
        lab.payloads["4.15.3"].digest
    );
    let mut want = installer_bytes("4.15.3");
    let at = want
        .windows(26)
        .position(|w| w == b"\x00_RELEASE_IMAGE_LOCATION_\x00")
        .expect("marker");
    want[at..at + payload.len()].copy_from_slice(payload.as_bytes());
    want[at + payload.len()] = 0;
    assert_eq!(got, want);
    assert!(
        stderr(&out).contains(&format!("it installs {payload}")),
        "{}",
        stderr(&out)
    );

    let out = lab.run(&[
        "extract",
        "mirror",
        "--release",
        "4.15.2",
        "--command",
        "oc",
        "--to",
        "bin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(lab.dir.path().join("bin/oc")).expect("oc"),
        oc_bytes()
    );

    let out = lab.run(&[
        "extract",
        "mirror",
        "--release",
        "4.15.9",
        "--command",
        "oc",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("4.15.9"), "{}", stderr(&out));
}

/// `block` applies to release payload components too: the blocked component is not planned,
/// and the plan says what was blocked.
#[tokio::test(flavor = "multi_thread")]
async fn block_applies_to_release_components_and_is_reported() {
    let lab = Lab::new().await;
    let installer = &lab.components[&("4.15.2".to_string(), "installer".to_string())];
    let digest = installer.digest.clone();
    lab.recipe(&format!(
        "images \"blocks\" {{\n    block \"{digest}\"\n}}\n"
    ));
    let out = lab.run(&["plan"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(!plan.contains("4.15.2-amd64-installer"), "{plan}");
    assert!(plan.contains("4.15.3-amd64-installer"), "{plan}");
    assert!(
        stderr(&out).contains("blocked: ") && stderr(&out).contains(&digest),
        "{}",
        stderr(&out)
    );
}
