//! `convert-icsp`: ImageContentSourcePolicy → ImageDigestMirrorSet, as a library call (snapshots
//! of the output and of the diagnostics) and as the `airlift convert-icsp` command (files
//! written, paths printed, exit codes).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use airlift::resources::{convert_icsp, convert_icsp_objects};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/icsp")
        .join(name)
}

fn read(name: &str) -> String {
    fs::read_to_string(fixture(name)).expect("fixture")
}

fn snap(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/resources"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// The diagnostic as a user sees it, without colour.
fn render_diagnostic(e: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, e)
        .expect("render diagnostic");
    out
}

fn airlift(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_airlift"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run airlift")
}

#[test]
fn converts_a_single_icsp_keeping_name_labels_and_annotations() {
    let out = convert_icsp(&read("single.yaml"), "single.yaml").expect("converts");
    assert!(out.contains("kind: ImageDigestMirrorSet\n"));
    assert!(out.contains("imageDigestMirrors:"));
    assert!(!out.contains("repositoryDigestMirrors"));
    assert!(out.contains("owner: platform-team"));
    assert!(out.contains("operators.openshift.org/catalog: \"true\""));
    assert!(!out.contains("resourceVersion") && !out.contains("last-applied"));
    snap("convert_icsp_single", &out);
}

#[test]
fn converts_every_document_of_a_stream() {
    let objects = convert_icsp_objects(&read("multi.yaml"), "multi.yaml").expect("converts");
    let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["ubi8repo", "ubi9repo"]);
    let out = convert_icsp(&read("multi.yaml"), "multi.yaml").expect("converts");
    assert_eq!(out.matches("kind: ImageDigestMirrorSet").count(), 2);
    snap("convert_icsp_multi", &out);
}

#[test]
fn a_missing_source_is_reported_with_its_path() {
    let e =
        convert_icsp(&read("missing-source.yaml"), "missing-source.yaml").expect_err("must fail");
    assert_eq!(
        e.to_string(),
        "missing-source.yaml: spec.repositoryDigestMirrors[1].source: missing"
    );
    snap("convert_icsp_missing_source", &render_diagnostic(&e));
}

#[test]
fn other_kinds_and_broken_yaml_are_reported() {
    let e = convert_icsp(&read("wrong-kind.yaml"), "wrong-kind.yaml").expect_err("must fail");
    snap("convert_icsp_wrong_kind", &render_diagnostic(&e));
    let e = convert_icsp(&read("not-yaml.yaml"), "not-yaml.yaml").expect_err("must fail");
    assert!(e.to_string().starts_with("could not read not-yaml.yaml"));
    assert!(convert_icsp("", "empty.yaml").is_err());
    assert!(convert_icsp("# only a comment\n", "empty.yaml").is_err());
}

#[test]
fn the_command_writes_one_file_per_input_and_prints_the_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = fixture("single.yaml");
    let multi = fixture("multi.yaml");
    let out = airlift(
        &[
            "convert-icsp",
            single.to_str().expect("utf-8 path"),
            multi.to_str().expect("utf-8 path"),
            "--dest-dir",
            "idms-files",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "wrote ImageDigestMirrorSet to idms-files/imagedigestmirrorset_mirror-ocp.yaml\n\
         wrote ImageDigestMirrorSet to idms-files/imagedigestmirrorset_ubi8repo.yaml\n"
    );
    let written = fs::read_to_string(
        dir.path()
            .join("idms-files/imagedigestmirrorset_ubi8repo.yaml"),
    )
    .expect("written");
    assert_eq!(
        written,
        convert_icsp(&read("multi.yaml"), &multi.display().to_string()).expect("converts")
    );
}

#[test]
fn the_command_writes_to_the_working_directory_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = fixture("single.yaml");
    let out = airlift(
        &["convert-icsp", single.to_str().expect("utf-8 path")],
        dir.path(),
    );
    assert!(out.status.success());
    assert!(
        dir.path()
            .join("imagedigestmirrorset_mirror-ocp.yaml")
            .is_file()
    );
}

#[test]
fn bad_input_exits_3_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = fixture("single.yaml");
    let bad = fixture("missing-source.yaml");
    let out = airlift(
        &[
            "convert-icsp",
            good.to_str().expect("utf-8 path"),
            bad.to_str().expect("utf-8 path"),
            "--dest-dir",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The message may wrap (its width depends on the fixture's path): compare it unwrapped.
    let unwrapped: Vec<&str> = stderr.split_whitespace().filter(|w| *w != "|").collect();
    assert!(
        unwrapped
            .join(" ")
            .contains("spec.repositoryDigestMirrors[1].source: missing"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn an_unreadable_file_exits_10() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = airlift(&["convert-icsp", "does-not-exist.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.yaml"));
}

/// `oc get imagecontentsourcepolicy -o yaml | airlift convert-icsp -`: the `kind: List` that
/// `oc get` prints, read from stdin, becomes one file of three ImageDigestMirrorSets that the
/// CRD accepts.
#[test]
fn a_list_from_oc_get_on_stdin_converts_every_item() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_airlift"))
        .args(["convert-icsp", "-", "--dest-dir", "out"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run airlift");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(read("list.yaml").as_bytes())
        .expect("pipe");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = dir.path().join("out/imagedigestmirrorset_release-0.yaml");
    let text = fs::read_to_string(&written).expect("one file named after the first item");
    assert_eq!(
        text.matches("kind: ImageDigestMirrorSet").count(),
        3,
        "{text}"
    );
    for name in ["release-0", "release-1", "operator-0"] {
        assert!(text.contains(&format!("name: {name}\n")), "{text}");
    }
    assert!(
        !text.contains("kind: List") && !text.contains("resourceVersion"),
        "{text}"
    );
    // One document per file for the validator.
    let docs: Vec<PathBuf> = text
        .split("\n---\n")
        .enumerate()
        .map(|(i, doc)| {
            let p = dir.path().join(format!("idms-{i}.yaml"));
            fs::write(&p, doc).expect("write");
            p
        })
        .collect();
    support::crds::assert_valid(&docs);
}
