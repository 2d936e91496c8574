//! A throwaway `gpg` home for tests that need real OpenPGP keys and signed messages: generate
//! a key, export it, sign a message. The agent gpg starts is stopped on drop.

use std::process::{Command, Stdio};

pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Self {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .expect("tempdir");
        Gpg { home }
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let mut child = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--yes", "--quiet", "--pinentry-mode", "loopback"])
            .args(["--passphrase", ""])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpg is not installed: apt-get install gnupg");
        if let Some(data) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(data)
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("gpg runs");
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Generates an ed25519 signing key for `uid` that never expires.
    pub fn gen_key(&self, uid: &str) {
        self.run(&["--quick-gen-key", uid, "ed25519", "sign", "never"], None);
    }

    /// The armored public key of `uid`.
    pub fn export(&self, uid: &str) -> Vec<u8> {
        self.run(&["--armor", "--export", uid], None)
    }

    /// `gpg --sign` (a signed message, not detached) of `data` by `uid`.
    pub fn sign(&self, uid: &str, data: &[u8]) -> Vec<u8> {
        self.run(&["--local-user", uid, "--sign"], Some(data))
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// The simple-signing document of a release payload.
pub fn simple_signing(digest: &str, reference: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "atomic container signature",
        },
        "optional": {"creator": "airlift test"},
    })
    .to_string()
    .into_bytes()
}
