//! HTTP transport per side: the reqwest client with the TLS settings of that side, and the
//! scheme(s) to try for a registry. `tls_verify = false` skips certificate verification and
//! also allows plain HTTP (https is tried first, then http), as skopeo and podman do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::RegistryError;

/// TLS settings of one side (source or destination).
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// Verify certificates (default). `false` also allows plain HTTP.
    pub verify: bool,
    /// Extra CA certificates: every `*.crt` and `*.pem` file in this directory.
    pub cert_dir: Option<PathBuf>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            verify: true,
            cert_dir: None,
        }
    }
}

/// The host that serves the API of `registry` (Docker Hub's API is not at `docker.io`).
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" => "registry-1.docker.io",
        r => r,
    }
}

/// Schemes to try, in order.
pub fn schemes(tls: &TlsOptions) -> &'static [&'static str] {
    if tls.verify {
        &["https"]
    } else {
        &["https", "http"]
    }
}

/// The PEM files of a `--cert-dir` (every `*.crt` and `*.pem`, by name), read.
pub(crate) fn read_cert_dir(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, RegistryError> {
    let err = |message: String| RegistryError::CertDir {
        path: dir.display().to_string(),
        message,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt" || x == "pem"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let pem = std::fs::read(&f).map_err(|e| err(format!("{}: {e}", f.display())))?;
            Ok((f, pem))
        })
        .collect()
}

fn load_cert_dir(dir: &Path) -> Result<Vec<reqwest::Certificate>, RegistryError> {
    let mut certs = Vec::new();
    for (f, pem) in read_cert_dir(dir)? {
        let mut found =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| RegistryError::CertDir {
                path: dir.display().to_string(),
                message: format!("{}: {e}", f.display()),
            })?;
        certs.append(&mut found);
    }
    Ok(certs)
}

/// Builds the HTTP client of one side.
pub fn build_http(tls: &TlsOptions) -> Result<reqwest::Client, RegistryError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("airlift/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(300))
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(dir) = &tls.cert_dir {
        for c in load_cert_dir(dir)? {
            b = b.add_root_certificate(c);
        }
    }
    if !tls.verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| RegistryError::CertDir {
        path: tls
            .cert_dir
            .as_ref()
            .map_or_else(|| "(none)".to_string(), |p| p.display().to_string()),
        message: e.to_string(),
    })
}

/// A message for a reqwest error that names its cause chain but no URL (upload URLs carry
/// session state that does not belong in logs).
pub fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_body() {
        "transfer interrupted".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if let Some(h) = hint(&msg, e.is_timeout()) {
        msg.push_str(" — ");
        msg.push_str(h);
    }
    msg
}

/// What to do about a transport failure whose cause a user would not recognise.
pub(crate) fn hint(chain: &str, timeout: bool) -> Option<&'static str> {
    if chain.contains("InvalidContentType")
        || chain.contains("corrupt message")
        || chain.contains("wrong version number")
    {
        return Some(
            "the registry answered plain HTTP to a TLS request: if that is intended (a lab registry), pass --src-tls-verify=false or --dest-tls-verify=false (with the `=`) for its side",
        );
    }
    if chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate") {
        return Some(
            "its certificate is signed by a CA this machine does not trust: pass --cert-dir DIR holding the CA certificate (*.crt or *.pem), or add it to the system trust store",
        );
    }
    if chain.contains("NotValidForName") || chain.contains("certificate is not valid for") {
        return Some(
            "its certificate does not name this host: use the host name the certificate was issued for",
        );
    }
    if timeout {
        return Some(
            "the registry accepted the connection but did not answer in time: check its health, a proxy in between (HTTPS_PROXY/NO_PROXY), or lower --jobs",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_allows_http_after_https() {
        let t = TlsOptions {
            verify: false,
            cert_dir: None,
        };
        assert_eq!(schemes(&t), &["https", "http"]);
        assert_eq!(schemes(&TlsOptions::default()), &["https"]);
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
    }

    #[test]
    fn transport_failures_say_what_to_do() {
        let plain = "connection failed: error sending request: received corrupt message of type InvalidContentType";
        assert!(hint(plain, false).is_some_and(|h| h.contains("--src-tls-verify=false")));
        let ca = "connection failed: invalid peer certificate: UnknownIssuer";
        assert!(hint(ca, false).is_some_and(|h| h.contains("--cert-dir")));
        assert!(hint("timed out", true).is_some_and(|h| h.contains("did not answer in time")));
        assert_eq!(
            hint(
                "connection failed: Connection refused (os error 111)",
                false
            ),
            None
        );
    }

    #[test]
    fn cert_dir_errors_name_the_directory() {
        let e = load_cert_dir(Path::new("/nonexistent/airlift-certs")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/airlift-certs"));
    }
}
