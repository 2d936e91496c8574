//! A real CNCF distribution registry (`docker-registry serve`, Debian package
//! `docker-registry`) on a free loopback port with temporary storage, optional TLS and optional
//! htpasswd auth. The process is killed when the `Registry` is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tls::{self, TlsFiles};

const BINARY: &str = "/usr/bin/docker-registry";

/// How to start a registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate from a CA generated for this registry.
    pub tls: bool,
    /// Require basic auth with this user and password (stored bcrypt-hashed in htpasswd).
    pub htpasswd: Option<(String, String)>,
    /// Refuse manifest deletion (distribution's default; the harness enables it otherwise).
    pub no_delete: bool,
}

/// A running registry.
pub struct Registry {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    tls: Option<TlsFiles>,
    creds: Option<(String, String)>,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Registry {
    /// Starts a registry and waits until `/v2/` answers. Panics with what to install when the
    /// binary is missing.
    pub fn start(options: RegistryOptions) -> Registry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} not found: apt-get install docker-registry"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = options.tls.then(|| tls::generate(&dir.path().join("tls")));
        let htpasswd = options.htpasswd.as_ref().map(|(user, pass)| {
            let hash = bcrypt::hash(pass, 5).expect("bcrypt");
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, format!("{user}:{hash}\n")).expect("write htpasswd");
            path
        });
        let mut registry = Registry {
            child: None,
            port: 0,
            dir,
            tls,
            creds: options.htpasswd.clone(),
        };
        for attempt in 0..5 {
            let port = free_port();
            let config = registry.write_config(port, htpasswd.as_deref(), !options.no_delete);
            let log =
                std::fs::File::create(registry.dir.path().join(format!("registry-{attempt}.log")))
                    .expect("create log");
            let child = Command::new(BINARY)
                .arg("serve")
                .arg(&config)
                .stdout(log.try_clone().expect("clone log"))
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {BINARY} ({e}): apt-get install docker-registry")
                });
            registry.child = Some(child);
            registry.port = port;
            if registry.wait_ready() {
                return registry;
            }
            registry.kill();
        }
        panic!(
            "docker-registry did not become ready; logs in {}",
            registry.dir.path().display()
        );
    }

    fn write_config(&self, port: u16, htpasswd: Option<&Path>, delete: bool) -> PathBuf {
        let storage = self.dir.path().join("storage");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {delete}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: airlift-test-secret\n",
            storage.display()
        );
        if let Some(t) = &self.tls {
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.server_cert.display(),
                t.server_key.display()
            ));
        }
        if let Some(h) = htpasswd {
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: airlift-test\n    path: {}\n",
                h.display()
            ));
        }
        let path = self.dir.path().join("config.yml");
        std::fs::write(&path, yaml).expect("write registry config");
        path
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                if self.tls.is_some() {
                    return true;
                }
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.port
                );
                let mut buf = [0u8; 12];
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && buf.starts_with(b"HTTP/1.1 ")
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `scheme://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.host())
    }

    /// The CA certificate that signed the server certificate (TLS registries only).
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    /// A directory holding only the CA certificate, for `--cert-dir` (TLS registries only).
    pub fn cert_dir(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.cert_dir.as_path())
    }

    /// The htpasswd user and password, when auth is on.
    pub fn creds(&self) -> Option<(&str, &str)> {
        self.creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Directory for test scratch files that lives as long as the registry.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the registry now (also done on drop).
    pub fn stop(&mut self) {
        self.kill();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

impl super::Fixture {
    /// A pusher for `registry` (trusts its CA, uses its htpasswd credentials).
    pub fn new(registry: &Registry) -> super::Fixture {
        let ca = registry
            .ca_cert_path()
            .map(|p| std::fs::read(p).expect("read ca"));
        let creds = registry
            .creds()
            .map(|(u, p)| (u.to_string(), p.to_string()));
        super::Fixture::connect(&registry.base_url(), ca.as_deref(), creds)
    }
}
