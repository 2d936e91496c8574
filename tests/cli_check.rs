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
        // No block: a file opens at most 4,000 (`{`), and the point here is the error count.
        dup.push_str("images \"a\"\n");
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

/// The positional arguments that get each command past argument parsing.
fn minimal(command: &str) -> Vec<&'static str> {
    match command {
        "resources" | "verify" => vec!["t"],
        "delete" => vec!["d"],
        "list" => vec!["releases"],
        "describe" => vec!["."],
        "diff" => vec!["a.lock", "b.lock"],
        "import" => vec!["isc.yaml"],
        "extract" => vec!["t", "--release", "4.15.3", "--command", "oc"],
        _ => vec![],
    }
}

/// Every test function of the integration tests, as `file::name`.
fn test_functions() -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root().join("tests"))
        .expect("tests/")
        .flatten()
    {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let file = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        for line in text.lines() {
            let l = line.trim_start();
            let rest = l
                .strip_prefix("async fn ")
                .or_else(|| l.strip_prefix("fn "));
            if let Some(name) = rest.and_then(|r| r.split('(').next()) {
                out.insert(format!("{file}::{name}"));
            }
        }
    }
    out
}

/// Where each command's own flags (and the global ones) are shown to have their effect, as
/// `file::test`. A new flag without an entry fails `every_flag_of_every_command_is_tested`.
const COVERED: &[(&str, &str, &str)] = &[
    (
        "*",
        "recipe",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "*",
        "workspace",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "*",
        "authfile",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "*",
        "registries_conf",
        "build.rs::registries_conf_location_serves_a_name_that_resolves_nowhere",
    ),
    (
        "*",
        "src_tls_verify",
        "build.rs::tls_failures_name_the_flag_that_fixes_them",
    ),
    (
        "*",
        "dest_tls_verify",
        "build.rs::tls_failures_name_the_flag_that_fixes_them",
    ),
    (
        "*",
        "cert_dir",
        "trust_release.rs::the_web_client_trusts_the_cert_dir_and_does_not_retry_tls_failures",
    ),
    (
        "*",
        "jobs",
        "cli_check.rs::behaviour_flags_are_refused_where_they_do_nothing",
    ),
    (
        "*",
        "registry_concurrency",
        "build.rs::a_registry_ceiling_from_the_recipe_or_the_command_line_keeps_a_registry_from_throttling",
    ),
    (
        "*",
        "locked",
        "build.rs::locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts",
    ),
    (
        "*",
        "offline",
        "build.rs::locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts",
    ),
    (
        "*",
        "since",
        "build.rs::archives_apply_in_sequence_and_since_writes_one_that_restores_alone",
    ),
    (
        "*",
        "message_format",
        "build.rs::rebuild_is_fresh_and_a_moved_tag_copies_only_its_new_blobs",
    ),
    (
        "*",
        "quiet",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "*",
        "verbose",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "init",
        "force",
        "cli_check.rs::init_writes_a_recipe_that_checks_clean_and_refuses_to_overwrite",
    ),
    (
        "check",
        "files",
        "cli_check.rs::check_reports_all_files_and_counts",
    ),
    (
        "update",
        "names",
        "build.rs::locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts",
    ),
    (
        "plan",
        "targets",
        "build.rs::timings_and_plan_pages_show_every_task_and_render_in_a_browser",
    ),
    (
        "plan",
        "format",
        "build.rs::timings_and_plan_pages_show_every_task_and_render_in_a_browser",
    ),
    (
        "build",
        "targets",
        "build_catalog.rs::inherited_catalog_is_copied_from_the_upstream_mirror",
    ),
    (
        "build",
        "trust_state",
        "build.rs::rebuild_is_fresh_and_a_moved_tag_copies_only_its_new_blobs",
    ),
    (
        "build",
        "no_signatures",
        "build_cosign.rs::no_signatures_mirrors_the_image_without_its_signature",
    ),
    (
        "build",
        "no_verify",
        "build_release.rs::a_release_signed_by_an_unknown_key_is_not_mirrored",
    ),
    (
        "build",
        "split_blobs",
        "build.rs::killed_packing_and_unpacking_complete_on_rerun",
    ),
    (
        "build",
        "shard",
        "build.rs::three_shards_at_once_then_shards_done_match_a_single_build",
    ),
    (
        "build",
        "shards_done",
        "build.rs::three_shards_at_once_then_shards_done_match_a_single_build",
    ),
    (
        "build",
        "summary_md",
        "helm.rs::two_charts_and_their_images_reach_a_registry_and_a_rebuild_moves_nothing",
    ),
    (
        "build",
        "timings",
        "build.rs::timings_and_plan_pages_show_every_task_and_render_in_a_browser",
    ),
    (
        "resources",
        "target",
        "build_catalog.rs::build_mirrors_filtered_catalogs_reproducibly",
    ),
    (
        "resources",
        "icsp",
        "build.rs::rebuild_is_fresh_and_a_moved_tag_copies_only_its_new_blobs",
    ),
    (
        "delete",
        "name",
        "build_catalog.rs::a_catalog_delete_removes_older_bundles_and_keeps_what_another_filter_needs",
    ),
    (
        "delete",
        "execute",
        "build_catalog.rs::a_catalog_delete_removes_older_bundles_and_keeps_what_another_filter_needs",
    ),
    (
        "verify",
        "target",
        "build_catalog.rs::build_mirrors_filtered_catalogs_reproducibly",
    ),
    (
        "list",
        "what",
        "build_catalog.rs::list_operators_reads_the_catalog",
    ),
    (
        "list",
        "channel",
        "build_release.rs::list_releases_shows_versions_and_channels_and_works_offline",
    ),
    (
        "list",
        "arch",
        "build_release.rs::list_releases_shows_versions_and_channels_and_works_offline",
    ),
    (
        "list",
        "catalog",
        "build_catalog.rs::list_operators_reads_the_catalog",
    ),
    (
        "list",
        "package",
        "build_catalog.rs::list_operators_reads_the_catalog",
    ),
    (
        "describe",
        "dir",
        "build.rs::a_file_target_packs_archives_that_carry_only_what_is_new",
    ),
    (
        "describe",
        "format",
        "build.rs::a_file_target_packs_archives_that_carry_only_what_is_new",
    ),
    (
        "diff",
        "old",
        "build.rs::locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts",
    ),
    (
        "diff",
        "new",
        "build.rs::locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts",
    ),
    (
        "import",
        "file",
        "build_catalog.rs::an_imported_image_set_plans_what_oc_mirror_selects",
    ),
    (
        "import",
        "output",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "import",
        "to",
        "build_catalog.rs::an_imported_image_set_plans_what_oc_mirror_selects",
    ),
    (
        "import",
        "force",
        "cli_check.rs::global_settings_change_what_the_command_reads",
    ),
    (
        "extract",
        "target",
        "build_release.rs::extract_takes_the_installer_and_oc_out_of_a_mirrored_release",
    ),
    (
        "extract",
        "release",
        "build_release.rs::extract_takes_the_installer_and_oc_out_of_a_mirrored_release",
    ),
    (
        "extract",
        "command",
        "build_release.rs::extract_takes_the_installer_and_oc_out_of_a_mirrored_release",
    ),
    (
        "extract",
        "arch",
        "build_release.rs::extract_takes_the_installer_and_oc_out_of_a_mirrored_release",
    ),
    (
        "extract",
        "to",
        "build_release.rs::extract_takes_the_installer_and_oc_out_of_a_mirrored_release",
    ),
    (
        "convert-icsp",
        "files",
        "convert_icsp.rs::a_list_from_oc_get_on_stdin_converts_every_item",
    ),
    (
        "convert-icsp",
        "dest_dir",
        "convert_icsp.rs::the_command_writes_one_file_per_input_and_prints_the_paths",
    ),
];

/// Hardening (#18): `--help` listed flags whose effect no test showed. Every argument of every
/// command (and every global flag) names the test that shows its effect, and that test exists.
#[test]
fn every_flag_of_every_command_is_tested() {
    use clap::CommandFactory;
    let cli = airlift::cli::Cli::command();
    let tests = test_functions();
    let mut missing = Vec::new();
    let mut check = |command: &str, arg: &str| {
        let entry = COVERED
            .iter()
            .find(|(c, a, _)| (*c == command || *c == "*") && *a == arg);
        match entry {
            None => missing.push(format!("{command} {arg}: no test named")),
            Some((_, _, t)) if !tests.contains(*t) => {
                missing.push(format!("{command} {arg}: {t} does not exist"))
            }
            Some(_) => {}
        }
    };
    for a in cli.get_arguments() {
        let id = a.get_id().as_str();
        if id != "help" && id != "version" {
            check("*", id);
        }
    }
    for sub in cli.get_subcommands() {
        for a in sub.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" || a.is_global_set() {
                continue;
            }
            check(sub.get_name(), id);
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Hardening (#18): `--jobs`, `--locked`, `--message-format json` and `-v` were accepted by
/// every command and silently did nothing for most. Each is now refused (exit 2, naming the
/// commands it applies to) where it does nothing, and gets past the argument checks where it
/// applies.
#[test]
fn behaviour_flags_are_refused_where_they_do_nothing() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().expect("tempdir");
    let cli = airlift::cli::Cli::command();
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        for (flag, applies) in airlift::cli::APPLIES {
            let mut args: Vec<&str> = flag.split(' ').collect();
            if *flag == "--jobs" || *flag == "--registry-concurrency" {
                args.push("2");
            }
            args.push(name);
            args.extend(minimal(name));
            let out = airlift(&args, dir.path());
            let err = stderr(&out);
            let refused = err.contains("does nothing for");
            if applies.contains(&name) {
                assert!(!refused, "`{}` refused: {err}", args.join(" "));
            } else {
                assert_eq!(out.status.code(), Some(2), "`{}`: {err}", args.join(" "));
                assert!(refused, "`{}`: {err}", args.join(" "));
                assert!(err.contains(&format!("`{}`", applies[0])), "{err}");
            }
        }
    }
}

/// The global settings have their effect on commands that need no registry: `-f` names the
/// recipe, `-q` silences, `-v` explains more, `--workspace` moves the workspace, `--authfile`
/// and `--cert-dir` are read, and `import -o`/`--force` write (and refuse to overwrite) the
/// output file.
#[test]
fn global_settings_change_what_the_command_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = root().join("recipes/images-only.kdl");
    let plain = airlift(&["-f", recipe.to_str().expect("path"), "check"], dir.path());
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(!stderr(&plain).is_empty());
    let quiet = airlift(
        &["-q", "-f", recipe.to_str().expect("path"), "check"],
        dir.path(),
    );
    assert!(quiet.status.success());
    assert!(
        stderr(&quiet).is_empty() && quiet.stdout.is_empty(),
        "{}",
        stderr(&quiet)
    );
    let verbose = airlift(
        &["-v", "-f", recipe.to_str().expect("path"), "check"],
        dir.path(),
    );
    assert!(
        stderr(&verbose).len() + verbose.stdout.len() > stderr(&plain).len() + plain.stdout.len(),
        "-v says more"
    );
    // Without -f the default airlift.kdl (absent here) is read.
    assert_ne!(airlift(&["check"], dir.path()).status.code(), Some(0));

    // --workspace: a plan of an unreachable source still takes the workspace lock there.
    let ws = dir.path().join("elsewhere");
    std::fs::write(
        dir.path().join("airlift.kdl"),
        "images \"a\" {\n    image \"127.0.0.1:1/x/y:1\"\n}\ntarget \"t\" \"docker://127.0.0.1:1/m\" {\n    needs \"a\"\n}\n",
    )
    .expect("recipe");
    let _ = airlift(
        &[
            "--workspace",
            ws.to_str().expect("path"),
            "--offline",
            "plan",
        ],
        dir.path(),
    );
    assert!(
        ws.exists(),
        "the workspace is created where --workspace says"
    );
    assert!(
        !dir.path().join(".airlift").exists(),
        "not beside the recipe"
    );

    // --authfile and --cert-dir are read before any request: a missing one is named.
    let auth = airlift(&["--authfile", "missing-auth.json", "plan"], dir.path());
    assert!(!auth.status.success());
    assert!(
        stderr(&auth).contains("missing-auth.json"),
        "{}",
        stderr(&auth)
    );
    let certs = airlift(&["--cert-dir", "missing-certs", "plan"], dir.path());
    assert!(!certs.status.success());
    assert!(
        stderr(&certs).contains("missing-certs"),
        "{}",
        stderr(&certs)
    );

    // import -o writes the file; a second run needs --force.
    let isc = root().join("tests/fixtures/isc");
    let first_isc = std::fs::read_dir(&isc)
        .expect("isc fixtures")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml"))
        .expect("an ImageSetConfiguration fixture");
    let out = dir.path().join("imported.kdl");
    let args = [
        "import",
        first_isc.to_str().expect("path"),
        "-o",
        out.to_str().expect("path"),
    ];
    let made = airlift(&args, dir.path());
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(
        std::fs::read_to_string(&out)
            .expect("written")
            .contains("target")
    );
    let again = airlift(&args, dir.path());
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(airlift(&forced, dir.path()).status.success());
}
