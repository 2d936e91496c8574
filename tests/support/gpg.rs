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

    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", self.home.path())
            .args(["--batch", "--yes", "--quiet", "--pinentry-mode", "loopback"])
            .args(["--passphrase", ""])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
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

    /// Generates a signing key; returns its long key ID (uppercase hex).
    pub fn gen_key(&self, uid: &str, algo: &str, expire: &str, faked_time: Option<&str>) -> String {
        let mut args = Vec::new();
        if let Some(t) = faked_time {
            args.extend(["--faked-system-time", t]);
        }
        args.extend(["--quick-gen-key", uid, algo, "sign", expire]);
        self.run(&args, None);
        let listing = self.run(
            &[
                "--with-colons",
                "--list-keys",
                "--keyid-format",
                "long",
                uid,
            ],
            None,
        );
        String::from_utf8_lossy(&listing)
            .lines()
            .find(|l| l.starts_with("pub:"))
            .and_then(|l| l.split(':').nth(4))
            .expect("key id in listing")
            .to_uppercase()
    }

    pub fn export(&self, uid: &str, armor: bool) -> Vec<u8> {
        if armor {
            self.run(&["--armor", "--export", uid], None)
        } else {
            self.run(&["--export", uid], None)
        }
    }

    /// `gpg --sign` (a signed message, not detached, not clearsigned) of `data` by `uid`.
    pub fn sign(&self, uid: &str, data: &[u8], extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["--local-user", uid];
        args.extend_from_slice(extra);
        args.push("--sign");
        self.run(&args, Some(data))
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
