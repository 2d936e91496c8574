//! The exit-code table in the book's Reference is the CLI contract: it must list exactly the
//! codes and names `airlift::exit::Exit` defines, in order, and the binary must use them.

use std::process::Command;

use airlift::exit::Exit;

#[test]
fn book_table_matches_the_exit_enum() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/book/src/reference/exit-codes.md"
    ))
    .expect("read exit-codes.md");
    let rows: Vec<(u8, String)> = page
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.to_string()))
        })
        .collect();
    let expected: Vec<(u8, String)> = Exit::ALL
        .iter()
        .map(|e| (e.code(), e.name().to_string()))
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn binary_uses_the_documented_codes() {
    let bin = env!("CARGO_BIN_EXE_airlift");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run airlift")
            .status
            .code()
    };
    assert_eq!(run(&["--no-such-flag"]), Some(Exit::Usage.code() as i32));
    // A file that cannot be read.
    assert_eq!(
        run(&["--registries-conf", "r.conf", "check"]),
        Some(Exit::Io.code() as i32)
    );
    assert_eq!(run(&["import", "x"]), Some(Exit::Io.code() as i32));
    // Not an archive directory: an input error.
    assert_eq!(
        run(&["describe", "x"]),
        Some(Exit::InvalidInput.code() as i32)
    );
    assert_eq!(run(&["check", "missing.kdl"]), Some(Exit::Io.code() as i32));
    std::fs::write(dir.path().join("bad.kdl"), "imagez \"x\" {}\n").expect("write");
    assert_eq!(
        run(&["check", "bad.kdl"]),
        Some(Exit::InvalidInput.code() as i32)
    );
    assert_eq!(run(&["--version"]), Some(Exit::Success.code() as i32));
}

/// Nothing accepted is silently ignored: a flag that does not apply to the command is a usage
/// error, and no command or flag in `--help` says it is not available.
#[test]
fn flags_that_would_do_nothing_are_refused_and_help_says_what_is_not_available() {
    let bin = env!("CARGO_BIN_EXE_airlift");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run airlift")
    };
    for args in [
        &["list", "operators", "--channel", "stable"][..],
        &["list", "releases", "--catalog", "quay.io/x/index:v1"][..],
        &["describe", "out", "--since", "2026-01-01"][..],
        // Shards count from 1 to N, and a build is a shard or the step after the shards.
        &["build", "--shard", "0/3"][..],
        &["build", "--shard", "4/3"][..],
        &["build", "--shard", "3"][..],
        &["build", "--shards-done", "0"][..],
        &["build", "--shard", "1/3", "--shards-done", "3"][..],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(Exit::Usage.code() as i32),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every command is available: none says otherwise in `--help`.
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|c| c.split("Options:").next())
        .expect("a Commands section");
    assert!(!commands.contains("not available"), "{help}");
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("import ")),
        "{help}"
    );
    assert!(
        help.lines().any(|l| l.trim_start().starts_with("delete ")),
        "{help}"
    );
    // Every flag is available too.
    let help = String::from_utf8_lossy(&run(&["build", "--help"]).stdout).into_owned();
    assert!(help.contains("--shards-done"), "{help}");
    assert!(!help.contains("not available"), "{help}");
}
