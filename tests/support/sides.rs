//! Two separated sides of an air gap in one test: copying an archive directory across, and
//! comparing the cluster resources of two targets.

use std::collections::BTreeMap;
use std::path::Path;

/// Copies every file of `from` (flat: an archive directory) into `to`.
pub fn copy_dir(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && keep(&name) {
            std::fs::copy(e.path(), to.join(&name)).expect("copy");
        }
    }
}

/// The YAML documents of a target's cluster resources, with the target's name and namespace
/// normalised so two targets can be compared.
pub fn resources_of(dir: &Path, target: &str, ns: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(dir.join(format!(".airlift/out/{target}/cluster-resources")))
        .expect("resources")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("read");
            let text = text
                .replace(&format!("airlift/target: {target}"), "airlift/target: T")
                .replace(&format!("/{ns}/"), "/NS/");
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// Runs the airlift binary `bin` (the test's `CARGO_BIN_EXE_airlift`) in `dir`, one side's
/// workspace, against loopback registries (plain HTTP).
pub fn airlift_in(bin: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run airlift")
}
