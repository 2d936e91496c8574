//! cosign-style keys and signatures made by the real `openssl` at test time: a P-256 key pair
//! (`openssl ecparam` + `openssl pkey -pubout`) and ASN.1 DER ECDSA signatures over SHA-256
//! (`openssl dgst -sha256 -sign`), which is what cosign's key-based signing produces.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `openssl` with `args`; a failure is a panic with its stderr.
pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is not installed: apt-get install openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `<dir>/<name>.key` (P-256 private key) and `<dir>/<name>.pub` (PEM public key).
pub fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    openssl(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-out",
        path_str(&private),
    ]);
    openssl(&[
        "pkey",
        "-in",
        path_str(&private),
        "-pubout",
        "-out",
        path_str(&public),
    ]);
    (private, public)
}

/// ASN.1 DER ECDSA signature of `payload` by the private key `key`.
pub fn sign(key: &Path, payload: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("payload.json");
    let sig = dir.path().join("payload.sig");
    std::fs::write(&data, payload).expect("write payload");
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        path_str(key),
        "-out",
        path_str(&sig),
        path_str(&data),
    ]);
    std::fs::read(sig).expect("signature")
}
