//! The upstream CRD validator (`../shared/crds/validate.py`, beside the repository) as a test
//! helper. It never skips: a missing validator or missing Python modules fail the test with
//! what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const VALIDATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/crds/validate.py");

/// Runs the validator over `files`: (exit 0, stdout+stderr).
pub fn validate(files: &[PathBuf]) -> (bool, String) {
    assert!(
        Path::new(VALIDATE).is_file(),
        "{VALIDATE} not found: check out the `shared/` directory beside the repository"
    );
    let probe = Command::new("python3")
        .args(["-c", "import yaml, jsonschema"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "python3 with PyYAML and jsonschema is required: `apt-get install python3-yaml python3-jsonschema` or `pip install pyyaml jsonschema`"
        ),
    }
    let out = Command::new("python3")
        .arg(VALIDATE)
        .args(files)
        .output()
        .expect("run validate.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Fails the test unless every document of `files` validates.
pub fn assert_valid(files: &[PathBuf]) {
    let (ok, text) = validate(files);
    assert!(ok, "validate.py failed:\n{text}");
}
