//! Cluster-resource rendering: snapshots of every file for each input shape and scope, the
//! widening refusal, determinism under input shuffling, `write_dir`, and validation of every
//! generated document against the upstream CRDs with `shared/crds/validate.py`.

mod support;

use support::crds::validate;

use std::fs;
use std::path::Path;
use std::process::Command;

use airlift::resources::{
    Category, MirrorScope, MirroredImage, Rendered, ResourceOptions, SourcePolicy, convert_icsp,
    render, write_dir,
};

const MIRROR: &str = "mirror.example:5000";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn img(source: &str, mirror: &str, category: Category) -> MirroredImage {
    MirroredImage {
        source: source.parse().expect("test source reference"),
        mirror: mirror.parse().expect("test mirror reference"),
        category,
    }
}

fn opts(scope: MirrorScope) -> ResourceOptions {
    ResourceOptions {
        target: "enterprise".into(),
        scope,
        ..ResourceOptions::default()
    }
}

/// Every file of a rendering, with its name, plus the notes.
fn show(r: &Rendered) -> String {
    let mut out = String::new();
    for (name, bytes) in &r.files {
        out.push_str(&format!("=== {name} ===\n"));
        out.push_str(&String::from_utf8_lossy(bytes));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn show_error(e: &airlift::resources::ResourceError) -> String {
    let help = miette::Diagnostic::help(e).map(|h| h.to_string());
    format!("error: {e}\nhelp: {}\n", help.unwrap_or_default())
}

fn snap(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/resources"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn by_tag() -> Vec<MirroredImage> {
    vec![
        img(
            "quay.io/ns/app:1.0",
            &format!("{MIRROR}/ns/app:1.0"),
            Category::Generic,
        ),
        img(
            "busybox:1.36",
            &format!("{MIRROR}/library/busybox:1.36"),
            Category::Generic,
        ),
    ]
}

fn by_digest() -> Vec<MirroredImage> {
    let d = digest('a');
    let e = digest('b');
    vec![
        img(
            &format!("quay.io/ns/app@{d}"),
            &format!("{MIRROR}/ns/app:sha256-{}@{d}", &d[7..]),
            Category::Generic,
        ),
        img(
            &format!("ghcr.io/org/tool@{e}"),
            &format!("{MIRROR}/org/tool@{e}"),
            Category::Generic,
        ),
    ]
}

fn mixed() -> Vec<MirroredImage> {
    let (p, c, o, b, g) = (
        digest('1'),
        digest('2'),
        digest('3'),
        digest('4'),
        digest('5'),
    );
    vec![
        img(
            "quay.io/openshift-release-dev/ocp-release:4.15.3-x86_64",
            &format!("{MIRROR}/openshift/release-images:4.15.3-x86_64"),
            Category::Release,
        ),
        img(
            &format!("quay.io/openshift-release-dev/ocp-release@{p}"),
            &format!("{MIRROR}/openshift/release-images@{p}"),
            Category::Release,
        ),
        img(
            &format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev@{c}"),
            &format!("{MIRROR}/openshift/release:4.15.3-x86_64-cli@{c}"),
            Category::Release,
        ),
        img(
            "registry.redhat.io/redhat/redhat-operator-index:v4.15",
            &format!("{MIRROR}/redhat/redhat-operator-index:v4.15"),
            Category::Operator,
        ),
        img(
            &format!("registry.redhat.io/openshift4/ose-kube-rbac-proxy@{o}"),
            &format!("{MIRROR}/openshift4/ose-kube-rbac-proxy@{o}"),
            Category::Operator,
        ),
        img(
            &format!("registry.redhat.io/albo/aws-load-balancer-rhel8-operator:v1.1.0@{b}"),
            &format!("{MIRROR}/albo/aws-load-balancer-rhel8-operator:v1.1.0@{b}"),
            Category::Operator,
        ),
        img(
            "registry.redhat.io/ubi9/ubi:latest",
            &format!("{MIRROR}/ubi9/ubi:latest"),
            Category::Generic,
        ),
        img(
            &format!("registry.redhat.io/ubi9/ubi@{g}"),
            &format!("{MIRROR}/ubi9/ubi@{g}"),
            Category::Generic,
        ),
    ]
}

/// Siblings in one namespace, another namespace, another registry; under a namespaced mirror.
fn scoped_set() -> Vec<MirroredImage> {
    let dst = format!("{MIRROR}/team/mirror");
    let d = digest('c');
    vec![
        img(
            "quay.io/ns/a:1",
            &format!("{dst}/ns/a:1"),
            Category::Generic,
        ),
        img(
            &format!("quay.io/ns/b@{d}"),
            &format!("{dst}/ns/b@{d}"),
            Category::Generic,
        ),
        img(
            "quay.io/other/c:2",
            &format!("{dst}/other/c:2"),
            Category::Generic,
        ),
        img(
            "registry.example.com/x/y/z:3",
            &format!("{dst}/x/y/z:3"),
            Category::Generic,
        ),
    ]
}

fn render_ok(images: &[MirroredImage], o: &ResourceOptions) -> Rendered {
    match render(images, o) {
        Ok(r) => r,
        Err(e) => panic!("render failed: {e}"),
    }
}

#[test]
fn images_by_tag_only() {
    let r = render_ok(&by_tag(), &opts(MirrorScope::Repository));
    assert!(r.files.contains_key("itms-generic-0.yaml"));
    assert!(!r.files.contains_key("idms-generic-0.yaml"));
    snap("by_tag", &show(&r));
}

#[test]
fn images_by_digest_only() {
    let r = render_ok(&by_digest(), &opts(MirrorScope::Repository));
    assert!(r.files.contains_key("idms-generic-0.yaml"));
    assert!(!r.files.contains_key("itms-generic-0.yaml"));
    snap("by_digest", &show(&r));
}

#[test]
fn images_by_tag_and_digest() {
    let d = digest('d');
    let images = [img(
        &format!("quay.io/ns/app:2.1@{d}"),
        &format!("{MIRROR}/ns/app:2.1@{d}"),
        Category::Generic,
    )];
    let r = render_ok(&images, &opts(MirrorScope::Repository));
    assert_eq!(
        r.files.keys().collect::<Vec<_>>(),
        [
            "extras/install-config-snippet.yaml",
            "extras/registries.conf",
            "idms-generic-0.yaml",
        ]
    );
    snap("by_tag_and_digest", &show(&r));
}

#[test]
fn mixed_registries_and_categories() {
    let r = render_ok(&mixed(), &opts(MirrorScope::Repository));
    for f in [
        "idms-release-0.yaml",
        "itms-release-0.yaml",
        "idms-operator-0.yaml",
        "itms-operator-0.yaml",
        "idms-generic-0.yaml",
        "itms-generic-0.yaml",
    ] {
        assert!(r.files.contains_key(f), "{f} missing");
    }
    snap("mixed", &show(&r));
}

#[test]
fn destination_with_a_namespace() {
    let images = [
        img(
            "quay.io/ns/app:1.0",
            &format!("{MIRROR}/team/mirror/ns/app:1.0"),
            Category::Generic,
        ),
        img(
            &format!("quay.io/ns/app@{}", digest('e')),
            &format!("{MIRROR}/team/mirror/ns/app@{}", digest('e')),
            Category::Generic,
        ),
    ];
    let r = render_ok(&images, &opts(MirrorScope::Repository));
    snap("dest_namespace", &show(&r));
}

#[test]
fn folded_paths_force_repository_scope() {
    // max-nested-paths 2 under mirror.example:5000/team: keep 1 component, fold the rest.
    let images = [
        img(
            "quay.io/ns/sub/app:1.0",
            &format!("{MIRROR}/team/ns-sub-app:1.0"),
            Category::Generic,
        ),
        img(
            "quay.io/ns/tool:2.0",
            &format!("{MIRROR}/team/ns-tool:2.0"),
            Category::Generic,
        ),
    ];
    let mut o = opts(MirrorScope::Namespace);
    o.folded_paths = true;
    let r = render_ok(&images, &o);
    assert_eq!(r.notes.len(), 1, "the narrowing must be reported");
    snap("folded_paths", &show(&r));
}

#[test]
fn scope_repository() {
    let r = render_ok(&scoped_set(), &opts(MirrorScope::Repository));
    snap("scope_repository", &show(&r));
}

#[test]
fn scope_namespace() {
    let r = render_ok(&scoped_set(), &opts(MirrorScope::Namespace));
    let itms = String::from_utf8_lossy(&r.files["itms-generic-0.yaml"]).into_owned();
    assert!(itms.contains("source: quay.io/ns\n"));
    snap("scope_namespace", &show(&r));
}

#[test]
fn scope_registry() {
    let r = render_ok(&scoped_set(), &opts(MirrorScope::Registry));
    let itms = String::from_utf8_lossy(&r.files["itms-generic-0.yaml"]).into_owned();
    assert!(itms.contains("source: quay.io\n"));
    assert!(itms.contains(&format!("- {MIRROR}/team/mirror\n")));
    snap("scope_registry", &show(&r));
}

#[test]
fn widening_is_refused_when_a_source_would_be_redirected_elsewhere() {
    // The release payload is renamed to openshift/release-images, so quay.io/openshift-release-dev
    // cannot be redirected as a whole.
    let e = render(&mixed(), &opts(MirrorScope::Namespace)).expect_err("must refuse");
    let mut text = show_error(&e);
    let mut images = scoped_set();
    images.push(img(
        "quay.io/ns/renamed:1",
        &format!("{MIRROR}/team/mirror/elsewhere/renamed:1"),
        Category::Generic,
    ));
    let e = render(&images, &opts(MirrorScope::Registry)).expect_err("must refuse");
    let shown = e.to_string();
    assert!(shown.contains("quay.io/ns/renamed"), "{shown}");
    assert!(shown.contains("team/mirror/ns/renamed"), "{shown}");
    assert!(shown.contains("elsewhere/renamed"), "{shown}");
    text.push_str(&show_error(&e));
    snap("widening_refused", &text);
    assert!(render(&images, &opts(MirrorScope::Repository)).is_ok());
}

#[test]
fn legacy_icsp() {
    let mut o = opts(MirrorScope::Repository);
    o.icsp = true;
    let r = render_ok(&mixed(), &o);
    let icsp = String::from_utf8_lossy(&r.files["imageContentSourcePolicy.yaml"]).into_owned();
    snap("icsp", &icsp);
}

#[test]
fn source_date_epoch_adds_one_annotation() {
    let mut o = opts(MirrorScope::Repository);
    o.source_date_epoch = Some(1_700_000_000);
    let r = render_ok(&by_tag(), &o);
    let itms = String::from_utf8_lossy(&r.files["itms-generic-0.yaml"]).into_owned();
    assert!(itms.contains("airlift/created: \"2023-11-14T22:13:20Z\""));
    let plain = render_ok(&by_tag(), &opts(MirrorScope::Repository));
    assert!(!show(&plain).contains("airlift/created"));
    snap("source_date_epoch", &itms);
}

#[test]
fn registries_conf_for_hosts() {
    let mut o = opts(MirrorScope::Repository);
    o.insecure_mirrors = true;
    o.source_policy = Some(SourcePolicy::NeverContactSource);
    let r = render_ok(&mixed(), &o);
    let conf = String::from_utf8_lossy(&r.files["extras/registries.conf"]).into_owned();
    assert!(conf.contains("pull-from-mirror = \"all\""));
    assert!(conf.contains("pull-from-mirror = \"digest-only\""));
    assert!(conf.contains("pull-from-mirror = \"tag-only\""));
    assert!(conf.contains("insecure = true"));
    assert!(conf.contains("blocked = true"));
    snap("registries_conf", &conf);
    let plain = render_ok(&mixed(), &opts(MirrorScope::Repository));
    let conf = String::from_utf8_lossy(&plain.files["extras/registries.conf"]).into_owned();
    assert!(!conf.contains("insecure") && !conf.contains("blocked"));
}

#[test]
fn install_config_snippet() {
    let mut o = opts(MirrorScope::Repository);
    o.source_policy = Some(SourcePolicy::AllowContactingSource);
    let r = render_ok(&mixed(), &o);
    let s = String::from_utf8_lossy(&r.files["extras/install-config-snippet.yaml"]).into_owned();
    snap("install_config_snippet", &s);
}

#[test]
fn no_images_no_files() {
    let r = render_ok(&[], &opts(MirrorScope::Registry));
    assert!(r.files.is_empty());
}

#[test]
fn byte_identical_whatever_the_input_order() {
    let mut o = opts(MirrorScope::Repository);
    o.icsp = true;
    o.source_policy = Some(SourcePolicy::AllowContactingSource);
    let mut images = mixed();
    images.extend(by_tag());
    images.extend(by_digest());
    let first = render_ok(&images, &o);
    for seed in 1..=5u64 {
        let mut shuffled = images.clone();
        fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
        shuffled.extend(images.iter().take(3).cloned());
        assert_eq!(render_ok(&shuffled, &o), first, "seed {seed}");
    }
}

#[test]
fn write_dir_replaces_and_removes_only_stale_airlift_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cluster-resources");
    let everything = render_ok(&mixed(), &opts(MirrorScope::Repository));
    write_dir(&everything, &out).expect("first write");
    fs::write(out.join("notes.yaml"), "mine: true\n").expect("user file");
    let fewer = render_ok(&by_tag(), &opts(MirrorScope::Repository));
    write_dir(&fewer, &out).expect("second write");
    let mut names: Vec<String> = Vec::new();
    for (sub, prefix) in [(out.clone(), ""), (out.join("extras"), "extras/")] {
        for e in fs::read_dir(&sub).expect("read dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_file() {
                names.push(format!("{prefix}{}", e.file_name().to_string_lossy()));
            }
        }
    }
    names.sort();
    let mut expected: Vec<String> = fewer.files.keys().cloned().collect();
    expected.push("notes.yaml".into());
    expected.sort();
    assert_eq!(names, expected);
    for (name, bytes) in &fewer.files {
        assert_eq!(&fs::read(out.join(name)).expect("read back"), bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(out.join(name))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "{name}");
        }
    }
}

#[test]
fn every_generated_document_validates_against_the_upstream_crds() {
    let mut o = opts(MirrorScope::Repository);
    o.icsp = true;
    o.source_policy = Some(SourcePolicy::NeverContactSource);
    o.source_date_epoch = Some(1_700_000_000);
    let mut images = mixed();
    images.extend(by_tag());
    images.extend(by_digest());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for (i, r) in [
        render_ok(&images, &o),
        render_ok(&scoped_set(), &opts(MirrorScope::Registry)),
    ]
    .iter()
    .enumerate()
    {
        for (name, bytes) in &r.files {
            if name.ends_with(".yaml") && !name.starts_with("extras/") {
                let path = dir.path().join(format!("{i}-{name}"));
                fs::write(&path, bytes).expect("write");
                files.push(path);
            }
        }
    }
    for fixture in ["single.yaml", "multi.yaml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/icsp")
            .join(fixture);
        let input = fs::read_to_string(&path).expect("fixture");
        let idms = convert_icsp(&input, fixture).expect("fixture converts");
        let out = dir.path().join(format!("converted-{fixture}"));
        fs::write(&out, idms).expect("write");
        files.push(out);
    }
    assert_eq!(files.len(), 9 + 2);
    let (ok, output) = validate(&files);
    assert!(ok, "validate.py rejected generated documents:\n{output}");
    assert_eq!(output.matches("OK ").count(), 11 + 3, "{output}");
}

#[test]
fn the_validator_rejects_broken_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_policy = dir.path().join("bad-policy.yaml");
    fs::write(
        &bad_policy,
        "apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: x\nspec:\n  imageDigestMirrors:\n  - mirrorSourcePolicy: Sometimes\n    mirrors:\n    - m.example/a\n    source: quay.io/a\n",
    )
    .expect("write");
    let unknown = dir.path().join("unknown-field.yaml");
    fs::write(
        &unknown,
        "apiVersion: config.openshift.io/v1\nkind: ImageTagMirrorSet\nmetadata:\n  name: x\nspec:\n  imageTagMirrors:\n  - mirrors:\n    - m.example/a\n    source: quay.io/a\n    pullFromMirror: all\n",
    )
    .expect("write");
    for (f, why) in [
        (bad_policy, "mirrorSourcePolicy: 'Sometimes' is not one of"),
        (unknown, "'pullFromMirror' was unexpected"),
    ] {
        let (ok, output) = validate(std::slice::from_ref(&f));
        assert!(!ok, "validate.py accepted {}:\n{output}", f.display());
        assert!(output.contains(why), "{output}");
    }
}

/// A real CNCF distribution registry on a loopback port, stopped on drop.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

fn start_registry() -> Registry {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = dir.path().join("config.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write registry config");
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry is required (Debian package `docker-registry`)");
    let registry = Registry {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return registry;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("docker-registry did not listen on 127.0.0.1:{port}");
}

/// A one-layer OCI image layout tagged `1.0`.
fn write_oci_layout(dir: &Path) {
    use airlift::oci::Digest;
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("mkdir");
    let put = |bytes: &[u8]| {
        let d = Digest::of(bytes);
        fs::write(blobs.join(d.hex()), bytes).expect("write blob");
        (d.to_string(), bytes.len())
    };
    let mut layer = vec![0u8; 512];
    let name = b"hello.txt";
    layer[..name.len()].copy_from_slice(name);
    layer[100..107].copy_from_slice(b"0000644");
    layer[124..135].copy_from_slice(b"00000000006");
    layer[136..147].copy_from_slice(b"00000000000");
    layer[156] = b'0';
    layer[257..263].copy_from_slice(b"ustar\0");
    layer[263..265].copy_from_slice(b"00");
    layer[148..156].copy_from_slice(b"        ");
    let sum: u32 = layer.iter().map(|&b| u32::from(b)).sum();
    layer[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut content = b"hello\n".to_vec();
    content.resize(512, 0);
    layer.extend(content);
    layer.extend(vec![0u8; 1024]);
    let (layer_digest, layer_size) = put(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}},"config":{{}}}}"#
    );
    let (config_digest, config_size) = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{layer_size}}}]}}"#
    );
    let (manifest_digest, manifest_size) = put(manifest.as_bytes());
    fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"1.0"}}}}]}}"#
        ),
    )
    .expect("write index.json");
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo is required (Debian package `skopeo`)")
}

#[test]
fn skopeo_pulls_through_the_generated_registries_conf_with_the_source_stopped() {
    let mirror = start_registry();
    let work = tempfile::tempdir().expect("tempdir");
    let layout = work.path().join("layout");
    write_oci_layout(&layout);
    let dst = format!("127.0.0.1:{}/team/mirror/ns/app", mirror.port);
    let copied = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1.0", layout.display()),
        &format!("docker://{dst}:1.0"),
    ]);
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    // skopeo may recompress the layer on the way, so ask the mirror what it holds.
    let held = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{dst}:1.0"),
    ]);
    assert!(
        held.status.success(),
        "{}",
        String::from_utf8_lossy(&held.stderr)
    );
    let digest = airlift::oci::Digest::of(&held.stdout).to_string();
    // Nothing listens on the source port: every pull must be served by the mirror.
    let source = format!("127.0.0.1:{}/ns/app", free_port());
    let images = [
        img(
            &format!("{source}:1.0"),
            &format!("{dst}:1.0"),
            Category::Generic,
        ),
        img(
            &format!("{source}@{digest}"),
            &format!("{dst}@{digest}"),
            Category::Generic,
        ),
    ];
    for scope in [MirrorScope::Repository, MirrorScope::Registry] {
        let mut o = opts(scope);
        o.insecure_mirrors = true;
        let r = render_ok(&images, &o);
        let conf = work.path().join(format!("registries-{scope}.conf"));
        fs::write(&conf, &r.files["extras/registries.conf"]).expect("write registries.conf");
        let conf = conf.to_str().expect("utf-8 path");
        for reference in [format!("{source}@{digest}"), format!("{source}:1.0")] {
            let out = skopeo(&[
                "inspect",
                "--raw",
                "--registries-conf",
                conf,
                &format!("docker://{reference}"),
            ]);
            assert!(
                out.status.success(),
                "{scope}: {reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                airlift::oci::Digest::of(&out.stdout).to_string(),
                digest,
                "{scope}: {reference}"
            );
        }
        let missing = skopeo(&[
            "inspect",
            "--raw",
            "--registries-conf",
            conf,
            &format!("docker://{source}:not-mirrored"),
        ]);
        assert!(!missing.status.success(), "the source must be unreachable");
    }
}
