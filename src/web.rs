//! The one blocking HTTP client for what is not a registry API: the update-graph service, the
//! graph-data tarball and release-signature stores. It takes the source side's settings, so
//! these reads behave exactly as registry reads do: `--src-tls-verify=false` skips certificate
//! checks, `--cert-dir` CA files are trusted beside Mozilla's roots (the ones reqwest trusts
//! for registries), proxies come from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, and
//! transient failures (connection errors, timeouts, 408, 429, 5xx) are retried with the
//! registries' backoff policy, honouring `Retry-After`.
//!
//! Built on `ureq` (blocking, small) because the graph and signature code is synchronous.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use crate::registry::{RetryPolicy, TlsOptions, is_transient_status, parse_retry_after};

/// Default connect and read timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a GET failed (after any retries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebError {
    /// The server did not answer in time.
    Timeout { url: String, seconds: u64 },
    /// No connection, a TLS failure, or a broken transfer; `message` says what to do when a
    /// user would not recognise the cause.
    Unreachable { url: String, message: String },
    /// The body is larger than the caller's limit.
    TooLarge { url: String, limit: u64 },
    /// Retries ran out on a transient status.
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebError::Timeout { url, seconds } => write!(f, "{url}: no answer within {seconds}s"),
            WebError::Unreachable { url, message } => write!(f, "{url}: {message}"),
            WebError::TooLarge { url, limit } => write!(f, "{url}: larger than {limit} bytes"),
            WebError::Status { url, status, body } => {
                write!(f, "{url} answered HTTP {status}")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
        }
    }
}

/// An answer that was not retried: any 2xx, and statuses that are not transient (404 and 403
/// mean "no such signature" to a signature store).
#[derive(Clone, Debug)]
pub struct WebResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The client; cheap to clone.
#[derive(Clone, Debug)]
pub struct WebClient {
    agent: ureq::Agent,
    retry: Arc<RetryPolicy>,
    timeout: Duration,
}

impl WebClient {
    /// A client with the source side's TLS options and retry policy.
    pub fn new(
        tls: &TlsOptions,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, crate::registry::RegistryError> {
        let mut tls_config = ureq::tls::TlsConfig::builder();
        if let Some(dir) = &tls.cert_dir {
            let mut roots: Vec<ureq::tls::Certificate<'static>> =
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                    .collect();
            for (file, pem) in crate::registry::read_cert_dir(dir)? {
                for item in ureq::tls::parse_pem(&pem) {
                    match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => roots.push(c),
                        Ok(_) => {}
                        Err(e) => {
                            return Err(crate::registry::RegistryError::CertDir {
                                path: dir.display().to_string(),
                                message: format!("{}: {e}", file.display()),
                            });
                        }
                    }
                }
            }
            tls_config = tls_config.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        if !tls.verify {
            tls_config = tls_config.disable_verification(true);
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout))
            .user_agent(concat!("airlift/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls_config.build())
            .build();
        Ok(WebClient {
            agent: config.into(),
            retry: Arc::new(retry),
            timeout,
        })
    }

    /// Default settings: certificates verified against Mozilla's roots, default retries.
    pub fn plain(timeout: Duration) -> Self {
        WebClient::new(&TlsOptions::default(), RetryPolicy::default(), timeout)
            .expect("no certificate directory to read")
    }

    /// The same client with another retry policy (tests).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Arc::new(retry);
        self
    }

    /// `GET url` (with `Accept` when given), at most `limit` body bytes. Transient failures
    /// are retried; any other answer is returned with its status.
    pub fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        limit: u64,
    ) -> Result<WebResponse, WebError> {
        let mut backoff = self.retry.start();
        loop {
            let (err, retry_after) = match self.attempt(url, accept, limit) {
                Ok(r) if !is_transient_status(r.status) => return Ok(r.into()),
                Ok(r) => (
                    WebError::Status {
                        url: url.to_string(),
                        status: r.status,
                        body: snippet(&r.body),
                    },
                    r.retry_after,
                ),
                Err(e @ WebError::TooLarge { .. }) => return Err(e),
                Err(WebError::Unreachable { message, .. })
                    if crate::registry::is_tls_failure(&message) =>
                {
                    return Err(WebError::Unreachable {
                        url: url.to_string(),
                        message,
                    });
                }
                Err(e) => (e, None),
            };
            if !backoff.wait_blocking(retry_after) {
                return Err(err);
            }
        }
    }

    fn attempt(&self, url: &str, accept: Option<&str>, limit: u64) -> Result<Attempt, WebError> {
        let seconds = self.timeout.as_secs().max(1);
        let failed = |e: ureq::Error| match e {
            ureq::Error::Timeout(_) => WebError::Timeout {
                url: url.to_string(),
                seconds,
            },
            other => {
                let mut message = other.to_string();
                if let Some(h) = crate::registry::transport_hint(&message, false) {
                    message = format!("{message} — {h}");
                }
                WebError::Unreachable {
                    url: url.to_string(),
                    message,
                }
            }
        };
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let mut resp = req.call().map_err(failed)?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        resp.body_mut()
            .with_config()
            .limit(limit.saturating_add(1))
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => WebError::Timeout {
                    url: url.to_string(),
                    seconds,
                },
                _ => WebError::Unreachable {
                    url: url.to_string(),
                    message: e.to_string(),
                },
            })?;
        if body.len() as u64 > limit {
            return Err(WebError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        Ok(Attempt {
            status,
            body,
            retry_after,
        })
    }
}

struct Attempt {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl From<Attempt> for WebResponse {
    fn from(a: Attempt) -> Self {
        WebResponse {
            status: a.status,
            body: a.body,
        }
    }
}

/// The first 200 characters of a body, for an error message.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s.trim().to_string()
}
