//! `RegistryClient`: one side's (source or destination) connection to any number of
//! registries. It resolves each registry's scheme and auth challenge once (`GET /v2/`), attaches
//! credentials or bearer tokens (cached per registry and scope), and retries transient failures.
//! Manifest and blob operations live in `manifest.rs` and `blob.rs`; reads that a
//! registries.conf redirects go through `pull.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::auth::{Challenge, Scopes, TokenResponse, parse_challenge};
use super::authfile::{AuthFile, Credentials, Secret};
use super::conf::RegistriesConf;
use super::error::{RegistryError, is_transient_status};
use super::retry::{RetryPolicy, parse_retry_after};
use super::traffic::{HostTraffic, Traffic, UploadMeter, run_epoch};
use super::transport::{TlsOptions, api_host, build_http, describe, schemes};

/// Settings of one side.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    pub tls: TlsOptions,
    /// `--authfile`; `None` searches the default locations.
    pub authfile: Option<PathBuf>,
    pub retry: RetryPolicy,
    /// registries.conf redirects for reads (the source side only): mirrors, `location`
    /// rewrites, `blocked` and `insecure`. `None` reads every image where its name says.
    pub registries: Option<Arc<RegistriesConf>>,
}

/// A cheap-to-clone handle to one side's registry connections.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Without certificate verification, for registries.conf sources marked `insecure` when
    /// this side verifies; built only when the file has such a source.
    insecure_http: Option<reqwest::Client>,
    tls: TlsOptions,
    auth: AuthFile,
    retry: RetryPolicy,
    registries: Option<Arc<RegistriesConf>>,
    /// Each registry is pinged once per run (per `relaxed`, see [`Host`]); a registry that
    /// stays unreachable through the retries fails every later request at once (40 images do
    /// not wait 40 retry windows).
    hosts: Mutex<HashMap<HostKey, Arc<OnceCell<Pinged>>>>,
    tokens: Mutex<HashMap<(String, Scopes), TokenSlot>>,
    traffic: Arc<Traffic>,
    meter: Arc<UploadMeter>,
    /// Per registry: whether it takes a blob in one `POST …/blobs/uploads/?digest=` (learnt
    /// from the first small upload; absent while unknown).
    single_post: Mutex<HashMap<String, bool>>,
}

/// A registry and whether it is reached `relaxed` (see [`Host`]).
type HostKey = (String, bool);

/// One cached token; the async lock makes concurrent requests for a scope fetch it once.
type TokenSlot = Arc<tokio::sync::Mutex<Option<(Secret, Instant)>>>;

/// What `GET /v2/` told us about a registry.
pub(crate) struct Host {
    pub base: String,
    challenge: Mutex<Challenge>,
    /// Reached with verification off although this side verifies (an `insecure`
    /// registries.conf source): its requests and token requests use the unverified client.
    relaxed: bool,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("tls", &self.inner.tls)
            .field("auth", self.inner.auth.source())
            .finish()
    }
}

/// A registry's API check, once per run: its scheme and challenge, or why it failed.
type Pinged = Result<Arc<Host>, Arc<RegistryError>>;

impl RegistryClient {
    /// Builds the client: loads CA certificates and the auth file (no network yet).
    pub fn new(options: ClientOptions) -> Result<Self, RegistryError> {
        let http = build_http(&options.tls)?;
        let insecure_http = match &options.registries {
            Some(conf) if conf.has_insecure() && options.tls.verify => {
                Some(build_http(&TlsOptions {
                    verify: false,
                    cert_dir: options.tls.cert_dir.clone(),
                })?)
            }
            _ => None,
        };
        let auth = AuthFile::load(options.authfile.as_deref())?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                insecure_http,
                tls: options.tls,
                auth,
                retry: options.retry,
                registries: options.registries,
                hosts: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                traffic: Arc::new(Traffic::new(run_epoch())),
                meter: Arc::default(),
                single_post: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The live counters (the transfer permits read throttling from them).
    pub fn traffic_handle(&self) -> Arc<Traffic> {
        self.inner.traffic.clone()
    }

    /// What this client asked of each registry host so far.
    pub fn traffic(&self) -> std::collections::BTreeMap<String, HostTraffic> {
        self.inner.traffic.snapshot()
    }

    /// Bytes streamed into uploads by this client so far, and the large ones in flight.
    pub fn meter(&self) -> Arc<UploadMeter> {
        self.inner.meter.clone()
    }

    /// Sends `req` to `host`, counted in this client's traffic: in flight until the answer's
    /// headers arrive, and its status (429/503 count as throttling).
    async fn counted(
        &self,
        host: &str,
        req: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let sent = {
            let _in_flight = self.inner.traffic.begin(host);
            req.send().await
        };
        if let Ok(resp) = &sent {
            self.inner.traffic.answered(host, resp.status().as_u16());
        }
        sent
    }

    /// Counts an attempt after the first (for retries outside [`Self::send`]).
    pub(crate) fn note_retry(&self, host: &str) {
        self.inner.traffic.retried(host);
    }

    /// Whether `registry` takes single-request uploads: `None` until an upload has asked.
    pub(crate) fn single_post(&self, registry: &str) -> Option<bool> {
        let known = self
            .inner
            .single_post
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known.get(registry).copied()
    }

    /// Records what `registry` answered to a single-request upload.
    pub(crate) fn learn_single_post(&self, registry: &str, takes_it: bool) {
        let mut known = self
            .inner
            .single_post
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        known.insert(registry.to_string(), takes_it);
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The registries.conf this side reads through, if any.
    pub(crate) fn registries(&self) -> Option<&RegistriesConf> {
        self.inner.registries.as_deref()
    }

    /// Whether a source marked `insecure` needs more than this side's own TLS settings.
    fn relaxed(&self, insecure: bool) -> bool {
        insecure && self.inner.tls.verify && self.inner.insecure_http.is_some()
    }

    /// The HTTP client for a host reached `relaxed` or not.
    fn http(&self, relaxed: bool) -> &reqwest::Client {
        match &self.inner.insecure_http {
            Some(insecure) if relaxed => insecure,
            _ => &self.inner.http,
        }
    }

    /// `GET url` outside the registry API (a Helm chart repository's `index.yaml` and archives)
    /// with this side's TLS options, proxies and retry policy, and the auth file's basic
    /// credentials for the URL's host. The body of a 2xx answer, at most `limit` bytes.
    pub async fn get_url(&self, url: &str, limit: usize) -> Result<Vec<u8>, String> {
        let host = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest.split('/').next().unwrap_or(rest));
        let creds = self.credentials(host, "");
        let mut backoff = self.inner.retry.start();
        loop {
            let mut req = self.inner.http.get(url);
            if let Some(c) = creds {
                req = req.basic_auth(&c.username, Some(c.password.expose()));
            }
            let failure = match self.counted(host, req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if (200..300).contains(&status) {
                        if resp.content_length().is_some_and(|n| n > limit as u64) {
                            return Err(format!("{url} is larger than {limit} bytes"));
                        }
                        let body = resp
                            .bytes()
                            .await
                            .map_err(|e| format!("{url}: {}", super::transport::describe(&e)))?;
                        if body.len() > limit {
                            return Err(format!("{url} is larger than {limit} bytes"));
                        }
                        return Ok(body.to_vec());
                    }
                    let retry_after = super::parse_retry_after(
                        resp.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                    );
                    let message = match status {
                        401 | 403 => format!(
                            "{url} answered {status}: add credentials for {host} to the auth file ({})",
                            self.inner.auth.source()
                        ),
                        _ => format!("{url} answered {status}"),
                    };
                    if !super::is_transient_status(status) {
                        return Err(message);
                    }
                    (message, retry_after)
                }
                Err(e) => {
                    let message = format!("{url}: {}", super::transport::describe(&e));
                    if super::error::is_tls_failure(&message) {
                        return Err(message);
                    }
                    (message, None)
                }
            };
            if !backoff.wait(failure.1).await {
                return Err(format!(
                    "{} (after {} attempts over {}s)",
                    failure.0,
                    backoff.attempts(),
                    backoff.elapsed_secs()
                ));
            }
            self.inner.traffic.retried(host);
        }
    }

    /// The auth file's credentials for `path` in `registry` (also used for chart repositories
    /// by host).
    pub fn credentials(&self, registry: &str, path: &str) -> Option<&Credentials> {
        self.inner.auth.lookup(registry, path)
    }

    /// Scheme and challenge of `registry`, pinged once.
    pub(crate) async fn host(&self, registry: &str) -> Result<Arc<Host>, RegistryError> {
        self.host_at(registry, false).await
    }

    /// Scheme and challenge of `registry` reached `relaxed` (see [`Host`]) or not, pinged once.
    async fn host_at(&self, registry: &str, relaxed: bool) -> Result<Arc<Host>, RegistryError> {
        let cell = {
            let mut hosts = self.inner.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry((registry.to_string(), relaxed))
                .or_default()
                .clone()
        };
        let host = cell
            .get_or_init(|| async {
                self.ping(registry, relaxed)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await;
        match host {
            Ok(h) => Ok(h.clone()),
            Err(e) => Err(match e.as_ref() {
                RegistryError::RetriesExhausted {
                    registry,
                    what,
                    attempts,
                    seconds,
                    last,
                } => RegistryError::RetriesExhausted {
                    registry: registry.clone(),
                    what: what.clone(),
                    attempts: *attempts,
                    seconds: *seconds,
                    last: last.clone(),
                },
                other => RegistryError::Connect {
                    registry: registry.to_string(),
                    what: "the API check (GET /v2/)".to_string(),
                    message: other.to_string(),
                },
            }),
        }
    }

    async fn ping(&self, registry: &str, relaxed: bool) -> Result<Host, RegistryError> {
        let what = "the API check (GET /v2/)";
        let mut backoff = self.inner.retry.start();
        let schemes = if relaxed {
            &["https", "http"]
        } else {
            schemes(&self.inner.tls)
        };
        loop {
            let mut last = None;
            for scheme in schemes {
                let base = format!("{scheme}://{}", api_host(registry));
                let ping = self.http(relaxed).get(format!("{base}/v2/"));
                match self.counted(registry, ping).await {
                    Ok(resp) if is_transient_status(resp.status().as_u16()) => {
                        last = Some(status_error(registry, what, resp).await);
                        break;
                    }
                    Ok(resp) => {
                        let challenge = if resp.status().as_u16() == 401 {
                            header(&resp, "www-authenticate")
                                .and_then(|h| parse_challenge(&h))
                                .unwrap_or(Challenge::None)
                        } else {
                            Challenge::None
                        };
                        return Ok(Host {
                            base,
                            challenge: Mutex::new(challenge),
                            relaxed,
                        });
                    }
                    Err(e) => {
                        last = Some(RegistryError::Connect {
                            registry: registry.to_string(),
                            what: what.to_string(),
                            message: describe(&e),
                        })
                    }
                }
            }
            let err = last.unwrap_or_else(|| RegistryError::Connect {
                registry: registry.to_string(),
                what: what.to_string(),
                message: "no scheme to try".into(),
            });
            // A TLS mismatch or an untrusted certificate does not heal by waiting.
            if !err.is_transient() && matches!(err, RegistryError::Connect { .. }) {
                return Err(err);
            }
            if !backoff.wait(err.retry_after()).await {
                return Err(exhausted(registry, what, &backoff, err));
            }
            self.inner.traffic.retried(registry);
        }
    }

    async fn token(
        &self,
        registry: &str,
        host: &Host,
        realm: &str,
        service: Option<&str>,
        scopes: &Scopes,
        what: &str,
    ) -> Result<Secret, RegistryError> {
        let slot = {
            let mut tokens = self.inner.tokens.lock().unwrap_or_else(|e| e.into_inner());
            tokens
                .entry((registry.to_string(), scopes.clone()))
                .or_default()
                .clone()
        };
        let mut cached = slot.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && *until > Instant::now()
        {
            return Ok(t.clone());
        }
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in scopes.as_slice() {
            query.push(("scope", s));
        }
        let mut req = self.http(host.relaxed).get(realm).query(&query);
        let path = scopes.primary_path();
        if let Some(c) = self.credentials(registry, path) {
            req = req.basic_auth(&c.username, Some(c.password.expose()));
        }
        let resp = self
            .counted(registry, req)
            .await
            .map_err(|e| RegistryError::Connect {
                registry: registry.to_string(),
                what: format!("the token request for {what}"),
                message: describe(&e),
            })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(self.unauthorized(registry, path, what, status));
        }
        if !(200..300).contains(&status) {
            return Err(
                status_error(registry, &format!("the token request for {what}"), resp).await,
            );
        }
        let body = resp.bytes().await.map_err(|e| RegistryError::Connect {
            registry: registry.to_string(),
            what: format!("the token request for {what}"),
            message: describe(&e),
        })?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| RegistryError::Protocol {
                registry: registry.to_string(),
                what: format!("the token request for {what}"),
                message: "token response is not the expected JSON".into(),
            })?;
        let ttl = parsed.expires_in.unwrap_or(60).max(20) - 10;
        let token = parsed.into_token().ok_or_else(|| RegistryError::Protocol {
            registry: registry.to_string(),
            what: format!("the token request for {what}"),
            message: "token response has no token".into(),
        })?;
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(ttl)));
        Ok(token)
    }

    fn forget_token(&self, registry: &str, scopes: &Scopes) {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(registry.to_string(), scopes.clone()));
    }

    /// The 401/403 error: names the registry and where credentials were looked for.
    pub(crate) fn unauthorized(
        &self,
        registry: &str,
        path: &str,
        what: &str,
        status: u16,
    ) -> RegistryError {
        let found = if self.credentials(registry, path).is_some() {
            "credentials found"
        } else {
            "no entry for this registry"
        };
        RegistryError::Unauthorized {
            registry: registry.to_string(),
            what: what.to_string(),
            status,
            source_desc: format!("{} ({found})", self.inner.auth.source()),
        }
    }

    async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
        registry: &str,
        host: &Host,
        scopes: &Scopes,
        what: &str,
    ) -> Result<reqwest::RequestBuilder, RegistryError> {
        let path = scopes.primary_path();
        match host.challenge() {
            Challenge::None => Ok(req),
            Challenge::Basic => Ok(match self.credentials(registry, path) {
                Some(c) => req.basic_auth(&c.username, Some(c.password.expose())),
                None => req,
            }),
            Challenge::Bearer { realm, service } => {
                let t = self
                    .token(registry, host, &realm, service.as_deref(), scopes, what)
                    .await?;
                Ok(req.bearer_auth(t.expose()))
            }
        }
    }

    /// Sends a request built by `build(http, base_url)`, authorised for `scopes`. With `retry`
    /// transient failures are retried (the builder is called again; its body must be
    /// replayable). 401/403 become `Unauthorized`; other statuses are returned to the caller.
    pub(crate) async fn send<F>(
        &self,
        registry: &str,
        scopes: &Scopes,
        what: &str,
        retry: bool,
        build: F,
    ) -> Result<reqwest::Response, RegistryError>
    where
        F: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    {
        self.send_to(registry, false, scopes, what, retry, build)
            .await
    }

    /// [`send`](Self::send) to a registry that registries.conf may mark `insecure`: such a
    /// registry is reached as with `--src-tls-verify=false` (no verification, plain HTTP
    /// allowed).
    pub(crate) async fn send_to<F>(
        &self,
        registry: &str,
        insecure: bool,
        scopes: &Scopes,
        what: &str,
        retry: bool,
        build: F,
    ) -> Result<reqwest::Response, RegistryError>
    where
        F: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    {
        let relaxed = self.relaxed(insecure);
        let host = self.host_at(registry, relaxed).await?;
        let mut backoff = self.inner.retry.start();
        let mut reauthed = false;
        loop {
            let req = build(self.http(relaxed), &host.base);
            let req = match self.authorize(req, registry, &host, scopes, what).await {
                Ok(r) => Some(r),
                Err(e) if e.is_transient() && retry => {
                    if !backoff.wait(e.retry_after()).await {
                        return Err(exhausted(registry, what, &backoff, e));
                    }
                    self.inner.traffic.retried(registry);
                    None
                }
                Err(e) => return Err(e),
            };
            let Some(req) = req else { continue };
            let err = match self.counted(registry, req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if status == 401 && !reauthed && retry {
                        reauthed = true;
                        self.forget_token(registry, scopes);
                        if let Some(c) =
                            header(&resp, "www-authenticate").and_then(|h| parse_challenge(&h))
                        {
                            host.set_challenge(c);
                        }
                        continue;
                    }
                    if status == 401 || status == 403 {
                        let path = scopes.primary_path();
                        return Err(self.unauthorized(registry, path, what, status));
                    }
                    if !is_transient_status(status) {
                        return Ok(resp);
                    }
                    status_error(registry, what, resp).await
                }
                Err(e) => RegistryError::Connect {
                    registry: registry.to_string(),
                    what: what.to_string(),
                    message: describe(&e),
                },
            };
            if !retry {
                return Err(err);
            }
            if !backoff.wait(err.retry_after()).await {
                return Err(exhausted(registry, what, &backoff, err));
            }
            self.inner.traffic.retried(registry);
        }
    }
}

impl Host {
    fn challenge(&self) -> Challenge {
        self.challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_challenge(&self, c: Challenge) {
        *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// `location` made absolute against this host.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        }
    }
}

/// A response header as a string.
pub(crate) fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The error for an unexpected status, with the registry's error codes and messages.
pub(crate) async fn status_error(
    registry: &str,
    what: &str,
    resp: reqwest::Response,
) -> RegistryError {
    let status = resp.status().as_u16();
    let retry_after = parse_retry_after(header(&resp, "retry-after").as_deref());
    let body = resp.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => v["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["code"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        )
                        .trim()
                        .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string(),
    };
    RegistryError::Status {
        registry: registry.to_string(),
        what: what.to_string(),
        status,
        message: if message.is_empty() {
            "no details".into()
        } else {
            message
        },
        retry_after,
    }
}

pub(crate) fn exhausted(
    registry: &str,
    what: &str,
    backoff: &super::retry::Backoff<'_>,
    last: RegistryError,
) -> RegistryError {
    RegistryError::RetriesExhausted {
        registry: registry.to_string(),
        what: what.to_string(),
        attempts: backoff.attempts(),
        seconds: backoff.elapsed_secs(),
        last: last.to_string(),
    }
}
