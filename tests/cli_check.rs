//! `airlift check` and `airlift init` run as the built binary: exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn airlift(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlift"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run airlift: {e}"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kdl_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "kdl"));
    v.sort();
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_accepts_every_valid_recipe() {
    let files = kdl_files("recipes");
    assert!(files.len() >= 5);
    for f in files {
        let rel = f
            .strip_prefix(root())
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let out = airlift(&["check", &rel], root());
        assert_eq!(out.status.code(), Some(0), "{rel}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!("ok: {rel} (")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn check_rejects_every_bad_recipe_with_its_diagnostic() {
    let files = kdl_files("recipes/bad");
    assert!(files.len() >= 17);
    for f in files {
        let rel = f
            .strip_prefix(root())
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let out = airlift(&["check", &rel], root());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{rel}: {err}");
        assert!(
            err.contains(&format!("[{rel}:")) || err.contains("recipes/bad/cycle/inner.kdl:"),
            "{rel}: {err}"
        );
        assert!(err.contains("help:"), "{rel}: {err}");
    }
}

#[test]
fn check_reports_all_files_and_counts() {
    let out = airlift(
        &[
            "check",
            "recipes/images-only.kdl",
            "recipes/design-example.kdl",
        ],
        root(),
    );
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("ok: recipes/images-only.kdl (1 content set, 1 target)"),
        "{err}"
    );
    assert!(
        err.contains("ok: recipes/design-example.kdl (5 content sets, 3 targets)"),
        "{err}"
    );
}

#[test]
fn check_of_a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = airlift(&["check", "nope.kdl"], dir.path());
    assert_eq!(out.status.code(), Some(10));
    assert!(stderr(&out).contains("nope.kdl"), "{}", stderr(&out));
}

#[test]
fn init_writes_a_recipe_that_checks_clean_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = airlift(&["init"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(dir.path().join("airlift.kdl")).unwrap_or_default();
    assert_eq!(written, airlift::cli::STARTER);

    let out = airlift(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("ok: airlift.kdl"));

    let out = airlift(&["init"], dir.path());
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));

    let out = airlift(&["init", "--force"], dir.path());
    assert_eq!(out.status.code(), Some(0));

    let out = airlift(&["-f", "sub/other.kdl", "init"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = airlift(&["-f", "sub/other.kdl", "check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Hardening (recipe input bounds). A recipe nested 1,400 levels deep used to abort the process
/// with a stack overflow inside the KDL parser (exit 134): it is a diagnostic now (exit 3).
/// `include` of a directory, a device or a FIFO (which blocked forever) fails at once.
/// 20,000 duplicate names used to take minutes to print: the first 50 are shown with the count.
#[test]
fn hostile_recipes_fail_fast_with_diagnostics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let deep = format!("{}{}", "a {".repeat(1400), "}".repeat(1400));
    std::fs::write(d.join("deep.kdl"), deep).expect("write");
    let out = airlift(&["check", "deep.kdl"], d);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nest deeper than 64"),
        "{}",
        stderr(&out)
    );

    std::fs::create_dir(d.join("adir")).expect("mkdir");
    let fifo = d.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    for target in ["adir", "/dev/zero", "fifo"] {
        std::fs::write(d.join("inc.kdl"), format!("include \"{target}\"\n")).expect("write");
        let out = airlift(&["check", "inc.kdl"], d);
        assert_eq!(out.status.code(), Some(3), "{target}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "{target}: {}",
            stderr(&out)
        );
        let out = airlift(&["-f", target, "check"], d);
        assert_ne!(out.status.code(), Some(0), "-f {target}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a regular file"),
            "-f {target}: {}",
            stderr(&out)
        );
    }

    let mut dup = String::new();
    for _ in 0..20_000 {
        dup.push_str("images \"a\" {}\n");
    }
    std::fs::write(d.join("dup.kdl"), dup).expect("write");
    let out = airlift(&["check", "dup.kdl"], d);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("the first 50 are shown"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        err.matches("is used twice").count() <= 50,
        "{}",
        err.matches("is used twice").count()
    );
}
