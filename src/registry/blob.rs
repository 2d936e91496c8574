//! Blob operations: HEAD, GET as a byte stream, cross-repository mount, and streaming upload.
//! An upload is one `POST …/blobs/uploads/?digest=` with the body where the registry takes
//! that (the distribution spec's single-request upload, which Quay takes), else POST then a
//! monolithic PUT, falling back to a streamed PATCH session when the registry refuses that.
//! Which a registry does is learnt from its first small upload at no cost in requests (see
//! [`ASK_SINGLE_POST_MAX`]). Every upload verifies the bytes it sends against the digest and
//! size it claims, while they stream: a mismatch aborts the upload. Only those small blobs are
//! held whole. HEAD and GET go through the registries.conf sources (`pull.rs`); uploads and
//! mounts do not.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use sha2::{Digest as _, Sha256};

use super::auth::{Access, Scopes};
use super::client::{RegistryClient, exhausted, header, status_error};
use super::conf::{PullBy, PullSource};
use super::error::RegistryError;
use super::transport::describe;
use crate::oci::{Digest, Repository};

/// A blob's bytes as they arrive.
pub type ByteStream = BoxStream<'static, Result<Bytes, RegistryError>>;

/// Opens the source of an upload; called again when an upload attempt is retried.
pub type OpenSource<'a> =
    &'a (dyn Fn() -> BoxFuture<'static, Result<ByteStream, RegistryError>> + Send + Sync);

/// Result of a cross-repository mount request.
#[derive(Debug)]
pub enum Mount {
    /// 201: the blob is now in the repository.
    Mounted,
    /// 202: not mounted; this upload session can take the bytes instead.
    Upload(UploadSession),
}

/// An open upload session (its location is not printed: it carries registry state).
pub struct UploadSession {
    location: String,
}

impl std::fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSession")
    }
}

/// What an upload must deliver.
#[derive(Clone, Debug)]
pub struct BlobTarget<'a> {
    pub repo: &'a Repository,
    pub digest: &'a Digest,
    pub size: u64,
    /// Where the bytes come from, for error messages (`registry/repo`).
    pub source: &'a str,
}

/// Blobs up to this size ask a registry whose answer is not known yet to take them in one
/// `POST`: they are held in memory, so a registry that answers with a session instead (202, as
/// distribution does) gets them in the usual `PUT` — no extra request, no second read of the
/// source. Small enough for a server that does not read the body to drain it and keep the
/// connection.
const ASK_SINGLE_POST_MAX: u64 = 64 * 1024;

/// What a registry did with a single-request upload.
enum Posted {
    /// 201: the blob is stored.
    Stored,
    /// 202: not taken; this session takes the bytes.
    Session(String),
    /// The registry does not understand the request (400, 405, 415, 501).
    Refused,
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

impl RegistryClient {
    /// HEAD: true when `repo` holds the blob.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        Ok(self.blob_size(repo, digest).await?.is_some())
    }

    /// Puts a blob built in memory (a config, a graph-data layer, a chart) into `repo` unless
    /// it is there; `source` says where it came from in errors.
    pub async fn push_bytes(
        &self,
        repo: &Repository,
        data: &[u8],
        source: &str,
    ) -> Result<(), RegistryError> {
        use futures_util::FutureExt as _;
        use futures_util::stream::{self, StreamExt as _};
        let digest = Digest::of(data);
        if self.blob_exists(repo, &digest).await? {
            return Ok(());
        }
        let bytes = bytes::Bytes::copy_from_slice(data);
        let size = bytes.len() as u64;
        let open = move || {
            let b = bytes.clone();
            async move {
                let s: ByteStream = stream::once(async move { Ok(b) }).boxed();
                Ok::<ByteStream, RegistryError>(s)
            }
            .boxed()
        };
        let target = BlobTarget {
            repo,
            digest: &digest,
            size,
            source,
        };
        self.upload_blob(&target, None, &open).await.map(|_| ())
    }

    /// HEAD: the blob's size (its `Content-Length`) when `repo` holds it.
    pub async fn blob_size(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        self.read_through(repo, PullBy::Blob, Option::is_some, |s| async move {
            self.blob_size_from(&s, digest).await
        })
        .await
    }

    async fn blob_size_from(
        &self,
        source: &PullSource,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let repo = &source.repository;
        let what = format!("blob {digest} in {repo}");
        let url_path = format!("/v2/{}/blobs/{digest}", repo.path());
        let resp = self
            .send_to(
                repo.registry(),
                source.insecure,
                &Scopes::repo(repo.path(), Access::Pull),
                &what,
                true,
                |http, base| http.head(format!("{base}{url_path}")),
            )
            .await?;
        match resp.status().as_u16() {
            200 => Ok(Some(
                header(&resp, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            404 => Ok(None),
            _ => Err(status_error(repo.registry(), &what, resp).await),
        }
    }

    /// GET: the blob as a stream (not verified here; uploads verify what they send).
    pub async fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<ByteStream, RegistryError> {
        self.read_through(
            repo,
            PullBy::Blob,
            |_| true,
            |s| async move { self.get_blob_from(&s, digest).await },
        )
        .await
    }

    async fn get_blob_from(
        &self,
        source: &PullSource,
        digest: &Digest,
    ) -> Result<ByteStream, RegistryError> {
        let repo = &source.repository;
        let registry = repo.registry().to_string();
        let what = format!("blob {digest} in {repo}");
        let url_path = format!("/v2/{}/blobs/{digest}", repo.path());
        let resp = self
            .send_to(
                &registry,
                source.insecure,
                &Scopes::repo(repo.path(), Access::Pull),
                &what,
                true,
                |http, base| http.get(format!("{base}{url_path}")),
            )
            .await?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Err(RegistryError::NotFound { registry, what }),
            _ => return Err(status_error(&registry, &what, resp).await),
        }
        Ok(resp
            .bytes_stream()
            .map(move |r| {
                r.map_err(|e| RegistryError::Connect {
                    registry: registry.clone(),
                    what: what.clone(),
                    message: describe(&e),
                })
            })
            .boxed())
    }

    /// Asks the registry to mount `digest` from `from` (same registry) into `repo`.
    pub async fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<Mount, RegistryError> {
        let registry = repo.registry();
        let what = format!("mount of blob {digest} from {from} into {repo}");
        let url_path = format!(
            "/v2/{}/blobs/uploads/?mount={digest}&from={}",
            repo.path(),
            from.path()
        );
        let resp = self
            .send(
                registry,
                &Scopes::mount(repo.path(), from.path()),
                &what,
                true,
                |http, base| {
                    http.post(format!("{base}{url_path}"))
                        .header("content-length", "0")
                },
            )
            .await?;
        match resp.status().as_u16() {
            201 => Ok(Mount::Mounted),
            202 => Ok(Mount::Upload(UploadSession {
                location: self.session_location(registry, &what, &resp).await?,
            })),
            _ => Err(status_error(registry, &what, resp).await),
        }
    }

    async fn start_upload(&self, repo: &Repository, what: &str) -> Result<String, RegistryError> {
        let registry = repo.registry();
        let url_path = format!("/v2/{}/blobs/uploads/", repo.path());
        let resp = self
            .send(
                registry,
                &Scopes::repo(repo.path(), Access::Push),
                what,
                true,
                |http, base| {
                    http.post(format!("{base}{url_path}"))
                        .header("content-length", "0")
                },
            )
            .await?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(registry, what, resp).await);
        }
        self.session_location(registry, what, &resp).await
    }

    /// The absolute URL of the upload session a `202` answer opened.
    async fn session_location(
        &self,
        registry: &str,
        what: &str,
        resp: &reqwest::Response,
    ) -> Result<String, RegistryError> {
        let host = self.host(registry).await?;
        header(resp, "location")
            .map(|l| host.absolute(&l))
            .ok_or_else(|| RegistryError::Protocol {
                registry: registry.to_string(),
                what: what.to_string(),
                message: "upload session (202) without a Location header".into(),
            })
    }

    /// Uploads a blob streamed from `open()`, verifying digest and size on the way. Transient
    /// failures restart the upload from the source (a new `open()`), within the retry budget.
    /// Returns the bytes sent.
    pub async fn upload_blob(
        &self,
        target: &BlobTarget<'_>,
        session: Option<UploadSession>,
        open: OpenSource<'_>,
    ) -> Result<u64, RegistryError> {
        let what = format!("upload of blob {} to {}", target.digest, target.repo);
        let registry = target.repo.registry();
        let mut session = session.map(|s| s.location);
        let policy = self.retry_policy().clone();
        let mut backoff = policy.start();
        // Bytes that did not match their digest are read once more from the source (a
        // corrupted transfer or a flaky cache in front of it); a second mismatch is the answer.
        let mut reread = false;
        loop {
            let err = match self
                .upload_attempt(target, session.take(), open, &what)
                .await
            {
                Ok(n) => return Ok(n),
                Err(RegistryError::DigestMismatch { .. }) if !reread => {
                    reread = true;
                    self.note_retry(registry);
                    continue;
                }
                Err(e) if e.is_transient() => e,
                Err(e) => return Err(e),
            };
            if !backoff.wait(err.retry_after()).await {
                return Err(exhausted(registry, &what, &backoff, err));
            }
            self.note_retry(registry);
        }
    }

    async fn upload_attempt(
        &self,
        t: &BlobTarget<'_>,
        session: Option<String>,
        open: OpenSource<'_>,
        what: &str,
    ) -> Result<u64, RegistryError> {
        let registry = t.repo.registry();
        if let Some(location) = session {
            return self.put_upload(t, location, None, open, what).await;
        }
        let known = self.single_post(registry);
        let ask = known.unwrap_or(t.size <= ASK_SINGLE_POST_MAX);
        if !ask {
            let location = self.start_upload(t.repo, what).await?;
            return self.put_upload(t, location, None, open, what).await;
        }
        // While the registry's answer is unknown only small blobs ask, read into memory first:
        // a registry that says no gets the same bytes in the PUT to the session it opened.
        let held = match known {
            Some(true) => None,
            _ => Some(self.read_verified(t, open).await?),
        };
        match self.post_whole(t, held.clone(), open, what).await? {
            Posted::Stored => {
                self.learn_single_post(registry, true);
                Ok(t.size)
            }
            Posted::Session(location) => {
                self.learn_single_post(registry, false);
                self.put_upload(t, location, held, open, what).await
            }
            Posted::Refused => {
                self.learn_single_post(registry, false);
                let location = self.start_upload(t.repo, what).await?;
                self.put_upload(t, location, held, open, what).await
            }
        }
    }

    /// Reads a small blob whole, verified against its digest and size.
    async fn read_verified(
        &self,
        t: &BlobTarget<'_>,
        open: OpenSource<'_>,
    ) -> Result<Bytes, RegistryError> {
        let (mut body, check) = Verifier::wrap(open().await?, t.digest.clone(), t.size);
        let mut held = bytes::BytesMut::with_capacity(usize::try_from(t.size).unwrap_or(0));
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => held.extend_from_slice(&c),
                Err(e) => return Err(check.failure(t.repo.registry(), t).unwrap_or(e)),
            }
        }
        Ok(held.freeze())
    }

    /// The body of an upload request: `held` bytes, or a new read of the source; verified as
    /// it is sent, and metered when `metered`.
    async fn upload_body(
        &self,
        t: &BlobTarget<'_>,
        held: Option<Bytes>,
        open: OpenSource<'_>,
        metered: bool,
    ) -> Result<(Mutex<Option<Verifier>>, Check), RegistryError> {
        let source = match held {
            Some(b) => futures_util::stream::once(async move { Ok(b) }).boxed(),
            None => open().await?,
        };
        let (body, check) = Verifier::wrap(source, t.digest.clone(), t.size);
        let body = if metered {
            body.metered(self.meter(), format!("{} {}", t.repo, t.digest))
        } else {
            body
        };
        Ok((Mutex::new(Some(body)), check))
    }

    /// Sends the request `build` makes with the verified `body` (sent once: a streamed body is
    /// not replayable); a digest or size mismatch the verifier saw is the error.
    async fn send_verified<F>(
        &self,
        t: &BlobTarget<'_>,
        what: &str,
        (body, check): (Mutex<Option<Verifier>>, Check),
        build: F,
    ) -> Result<reqwest::Response, RegistryError>
    where
        F: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    {
        let registry = t.repo.registry();
        let scopes = Scopes::repo(t.repo.path(), Access::Push);
        let sent = self
            .send(registry, &scopes, what, false, |http, base| {
                let req = build(http, base);
                match body.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    Some(b) => req.body(reqwest::Body::wrap_stream(b)),
                    None => req,
                }
            })
            .await;
        if let Some(e) = check.failure(registry, t) {
            return Err(e);
        }
        sent
    }

    /// `POST …/blobs/uploads/?digest=` with the whole blob: the single-request upload of the
    /// distribution spec, which registries may take (201) or answer with a session (202).
    async fn post_whole(
        &self,
        t: &BlobTarget<'_>,
        held: Option<Bytes>,
        open: OpenSource<'_>,
        what: &str,
    ) -> Result<Posted, RegistryError> {
        let registry = t.repo.registry();
        // Held bytes that ask may be answered with a session and sent again: the meter counts
        // them once they are stored.
        let asking = held.is_some();
        let body = self.upload_body(t, held, open, !asking).await?;
        let url_path = format!("/v2/{}/blobs/uploads/?digest={}", t.repo.path(), t.digest);
        let resp = self
            .send_verified(t, what, body, |http, base| {
                http.post(format!("{base}{url_path}"))
                    .header("content-type", "application/octet-stream")
                    .header("content-length", t.size.to_string())
            })
            .await?;
        match resp.status().as_u16() {
            201 => {
                if asking {
                    let name = format!("{} {}", t.repo, t.digest);
                    self.meter().advance(&name, t.size, t.size, t.size);
                }
                Ok(Posted::Stored)
            }
            202 => Ok(Posted::Session(
                self.session_location(registry, what, &resp).await?,
            )),
            400 | 405 | 415 | 501 => Ok(Posted::Refused),
            _ => Err(status_error(registry, what, resp).await),
        }
    }

    /// `PUT` of the whole blob into the upload session at `location`.
    async fn put_upload(
        &self,
        t: &BlobTarget<'_>,
        location: String,
        held: Option<Bytes>,
        open: OpenSource<'_>,
        what: &str,
    ) -> Result<u64, RegistryError> {
        let registry = t.repo.registry();
        let body = self.upload_body(t, held, open, true).await?;
        let url = with_digest(&location, t.digest);
        let resp = self
            .send_verified(t, what, body, |http, _| {
                http.put(&url)
                    .header("content-type", "application/octet-stream")
                    .header("content-length", t.size.to_string())
            })
            .await?;
        match resp.status().as_u16() {
            201 | 204 => Ok(t.size),
            405 | 413 | 415 | 501 => self.upload_streamed_patch(t, open, what).await,
            _ => Err(status_error(registry, what, resp).await),
        }
    }

    /// Fallback for registries that refuse a monolithic PUT: one streamed PATCH, then an
    /// empty PUT with the digest.
    async fn upload_streamed_patch(
        &self,
        t: &BlobTarget<'_>,
        open: OpenSource<'_>,
        what: &str,
    ) -> Result<u64, RegistryError> {
        let registry = t.repo.registry();
        let location = self.start_upload(t.repo, what).await?;
        let body = self.upload_body(t, None, open, true).await?;
        let resp = self
            .send_verified(t, what, body, |http, _| {
                http.patch(&location)
                    .header("content-type", "application/octet-stream")
            })
            .await?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(registry, what, resp).await);
        }
        let host = self.host(registry).await?;
        let next = header(&resp, "location").map_or(location.clone(), |l| host.absolute(&l));
        let url = with_digest(&next, t.digest);
        let scopes = Scopes::repo(t.repo.path(), Access::Push);
        let resp = self
            .send(registry, &scopes, what, false, |http, _| {
                http.put(&url).header("content-length", "0")
            })
            .await?;
        match resp.status().as_u16() {
            201 | 204 => Ok(t.size),
            _ => Err(status_error(registry, what, resp).await),
        }
    }
}

/// What the verifier saw when the stream ended or failed.
#[derive(Default)]
struct Outcome {
    mismatch: Option<(String, u64)>,
}

/// A handle to read the verifier's verdict after the upload.
struct Check(Arc<Mutex<Outcome>>);

impl Check {
    fn failure(&self, registry: &str, t: &BlobTarget<'_>) -> Option<RegistryError> {
        let o = self.0.lock().unwrap_or_else(|e| e.into_inner());
        o.mismatch.as_ref().map(|(actual, size)| {
            if *actual == t.digest.to_string() {
                // The right bytes, but not as many as the descriptor says.
                return RegistryError::SizeMismatch {
                    what: format!("blob {} from {}", t.digest, t.source),
                    descriptor: t.size,
                    actual: *size,
                };
            }
            RegistryError::DigestMismatch {
                registry: t.source.split('/').next().unwrap_or(registry).to_string(),
                what: format!(
                    "blob {} ({size} bytes received, {} expected) from {}",
                    t.digest, t.size, t.source
                ),
                expected: t.digest.to_string(),
                actual: actual.clone(),
            }
        })
    }
}

/// Hashes bytes as they pass; at the end of the stream compares digest and size and turns a
/// mismatch into a stream error, which aborts the request that carries the body.
struct Verifier {
    inner: ByteStream,
    hasher: Sha256,
    seen: u64,
    expected: Digest,
    size: u64,
    outcome: Arc<Mutex<Outcome>>,
    done: bool,
    /// Where bytes that pass are counted (uploads), with the upload's name.
    meter: Option<(Arc<super::UploadMeter>, String)>,
}

impl Verifier {
    fn wrap(inner: ByteStream, expected: Digest, size: u64) -> (Self, Check) {
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        (
            Verifier {
                inner,
                hasher: Sha256::new(),
                seen: 0,
                expected,
                size,
                outcome: outcome.clone(),
                done: false,
                meter: None,
            },
            Check(outcome),
        )
    }
}

impl Verifier {
    fn metered(mut self, meter: Arc<super::UploadMeter>, what: String) -> Self {
        self.meter = Some((meter, what));
        self
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        if let Some((m, what)) = &self.meter {
            m.ended(what);
        }
    }
}

impl Stream for Verifier {
    type Item = Result<Bytes, RegistryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                self.hasher.update(&chunk);
                if let Some((m, what)) = &self.meter {
                    m.advance(what, chunk.len() as u64, self.seen, self.size);
                }
                if self.seen > self.size {
                    return Poll::Ready(Some(Err(self.fail())));
                }
                // A body with a Content-Length is not polled past its last byte, so the check
                // happens before the last chunk is handed over, not at end of stream.
                if self.seen == self.size && !self.matches() {
                    return Poll::Ready(Some(Err(self.fail())));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                self.done = true;
                if self.seen != self.size || !self.matches() {
                    return Poll::Ready(Some(Err(self.fail())));
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl Verifier {
    fn matches(&self) -> bool {
        Digest::from_sha256(self.hasher.clone().finalize().into()) == self.expected
    }

    fn fail(&mut self) -> RegistryError {
        self.done = true;
        let actual = Digest::from_sha256(self.hasher.clone().finalize().into());
        let mut o = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        o.mismatch = Some((actual.to_string(), self.seen));
        RegistryError::DigestMismatch {
            registry: String::new(),
            what: format!("blob {}", self.expected),
            expected: self.expected.to_string(),
            actual: actual.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    async fn drain(data: Vec<&'static [u8]>, expected: Digest, size: u64) -> (bool, bool) {
        let s = stream::iter(data.into_iter().map(|b| Ok(Bytes::from_static(b)))).boxed();
        let (mut v, check) = Verifier::wrap(s, expected, size);
        let mut errored = false;
        while let Some(r) = v.next().await {
            errored |= r.is_err();
        }
        let repo = Repository::parse("r.example/x").unwrap();
        let d = Digest::of(b"");
        let t = BlobTarget {
            repo: &repo,
            digest: &d,
            size,
            source: "src.example/x",
        };
        (errored, check.failure("r.example", &t).is_some())
    }

    #[tokio::test]
    async fn verifier_passes_good_bytes_and_fails_bad_ones() {
        assert_eq!(
            drain(vec![b"hel", b"lo"], Digest::of(b"hello"), 5).await,
            (false, false)
        );
        assert_eq!(
            drain(vec![b"hel", b"LO"], Digest::of(b"hello"), 5).await,
            (true, true)
        );
        assert_eq!(
            drain(vec![b"hello!"], Digest::of(b"hello"), 5).await,
            (true, true)
        );
    }

    #[test]
    fn digest_query_is_appended() {
        let d = Digest::of(b"");
        assert_eq!(
            with_digest("http://h/u?_state=x", &d),
            format!("http://h/u?_state=x&digest={d}")
        );
        assert_eq!(
            with_digest("http://h/u", &d),
            format!("http://h/u?digest={d}")
        );
    }
}
