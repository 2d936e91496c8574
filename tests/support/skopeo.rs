//! `skopeo`, the independent client that checks what airlift wrote.

use std::path::PathBuf;
use std::process::Command;

use super::Registry;

/// How skopeo reaches a registry.
#[derive(Clone, Debug, Default)]
pub struct SkopeoAuth {
    /// `false` adds `--tls-verify=false` (needed for plain-HTTP registries).
    pub tls_verify: bool,
    pub cert_dir: Option<PathBuf>,
    pub creds: Option<(String, String)>,
}

impl SkopeoAuth {
    /// What reaching `registry` takes: its CA and credentials, or `--tls-verify=false` for HTTP.
    pub fn for_registry(registry: &Registry) -> Self {
        SkopeoAuth {
            tls_verify: registry.cert_dir().is_some(),
            cert_dir: registry.cert_dir().map(PathBuf::from),
            creds: registry
                .creds()
                .map(|(u, p)| (u.to_string(), p.to_string())),
        }
    }
}

/// `skopeo inspect --raw docker://<reference>`: the manifest bytes exactly as stored.
pub fn skopeo_inspect_raw(reference: &str, auth: &SkopeoAuth) -> Result<Vec<u8>, String> {
    skopeo(&["inspect", "--raw"], reference, auth)
}

/// `skopeo inspect --config --raw docker://<reference>`: the image's config blob.
pub fn skopeo_inspect_config(reference: &str, auth: &SkopeoAuth) -> Result<Vec<u8>, String> {
    skopeo(&["inspect", "--config", "--raw"], reference, auth)
}

/// `skopeo copy docker://<reference> dir:<dir>`: fetches every blob (skopeo verifies digests).
pub fn skopeo_copy_to_dir(
    reference: &str,
    dir: &std::path::Path,
    auth: &SkopeoAuth,
) -> Result<(), String> {
    let mut cmd = Command::new("skopeo");
    cmd.arg("copy");
    if !auth.tls_verify {
        cmd.arg("--src-tls-verify=false");
    }
    if let Some(d) = &auth.cert_dir {
        cmd.arg("--src-cert-dir").arg(d);
    }
    if let Some((u, p)) = &auth.creds {
        cmd.arg("--src-creds").arg(format!("{u}:{p}"));
    } else {
        cmd.arg("--src-no-creds");
    }
    cmd.arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", dir.display()));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run skopeo ({e}): apt-get install skopeo"));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn skopeo(args: &[&str], reference: &str, auth: &SkopeoAuth) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("skopeo");
    cmd.args(args);
    if !auth.tls_verify {
        cmd.arg("--tls-verify=false");
    }
    if let Some(d) = &auth.cert_dir {
        cmd.arg("--cert-dir").arg(d);
    }
    if let Some((u, p)) = &auth.creds {
        cmd.arg("--creds").arg(format!("{u}:{p}"));
    } else {
        cmd.arg("--no-creds");
    }
    cmd.arg(format!("docker://{reference}"));
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run skopeo ({e}): apt-get install skopeo"));
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
