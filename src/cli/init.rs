//! `airlift init [--force]`: write a commented starter recipe (the `-f` path, default
//! `airlift.kdl`) that passes `airlift check`.
//!
//! Writes that one file only; refuses to overwrite an existing file without `--force`.

use std::fs;

use crate::exit::{CmdResult, Exit, Failure};

use super::GlobalOpts;

/// The starter recipe; a test checks that it validates cleanly.
pub const STARTER: &str = r#"// airlift recipe: what to mirror (content sets) and where (targets).
// Check it with `airlift check`; see the book's "Recipe reference" for every node.

// An OpenShift release: versions 4.15.0 to 4.15.3 of the stable-4.15 channel.
release "ocp" {
    channel "stable-4.15" min="4.15.0" max="4.15.3"
    arch "amd64"
    graph #false                    // #true also builds the update-graph image (OSUS)
}

// An operator catalog, filtered to two packages (head of their default channel or a range).
catalog "redhat" "registry.redhat.io/redhat/redhat-operator-index:v4.15" {
    package "aws-load-balancer-operator"
    package "compliance-operator" {
        channel "stable" min="1.5.0"
    }
}

// Extra images by tag or digest.
images "extras" {
    image "registry.redhat.io/ubi9/ubi:latest"
}

// Mirror to a registry: copies, catalog rebuilds, cluster resources.
target "mirror" "docker://registry.example.com:5000/mirror" {
    needs "ocp" "redhat" "extras"
}

// Mirror to disk: archives beside this file, in chunks of at most 4GiB, each carrying only
// what earlier ones did not (`airlift describe out/archive`). Carry the directory across; on
// the disconnected side `airlift build enterprise` loads the registry from it (releases with
// their signatures, catalogs rebuilt there, images) and writes the cluster resources.
target "disk" "file://out/archive" {
    needs "ocp" "redhat" "extras"
    archive-size "4GiB"
}

target "enterprise" "docker://mirror.corp.example:8443/mirror" {
    needs "disk"
}

// At most this many transfers at once to a registry (default 6 each), e.g. for one that
// answers 429 when pressed: `registry "quay.io" concurrency=4`.
"#;

pub(crate) fn run(global: &GlobalOpts, force: bool) -> CmdResult {
    let path = &global.recipe;
    if path.exists() && !force {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "pass --force to overwrite it, or -f OTHER.kdl to write elsewhere",
                "{} already exists; not overwriting it",
                path.display()
            ),
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| io_failure(&dir.display().to_string(), &e))?;
    }
    fs::write(path, STARTER).map_err(|e| io_failure(&path.display().to_string(), &e))?;
    if !global.quiet {
        eprintln!(
            "wrote {}; edit it, then run `airlift check`",
            path.display()
        );
    }
    Ok(())
}

fn io_failure(path: &str, e: &std::io::Error) -> Failure {
    Failure::new(
        Exit::Io,
        miette::miette!(
            help = "check that the directory exists and is writable",
            "cannot write {path}: {e}"
        ),
    )
}
