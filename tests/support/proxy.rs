//! A small fault-injecting HTTP proxy on loopback. It forwards every request to an upstream
//! plain-HTTP registry and can answer 503 (optionally with `Retry-After`) to the first N
//! requests matching a predicate, corrupt the body of matching responses, or hold matching
//! requests at a gate until the test opens it (to keep one transfer in flight while asserting
//! on what else got done meanwhile, with no timing assumptions). It counts requests and logs each
//! one's method and target as soon as its head arrives (before its body, so a request cut off by
//! a killed client is logged too). With `bearer` it also plays the token server of a registry
//! deployment: `/v2/` requests need `Authorization: Bearer` tokens from its `/token` endpoint
//! (which checks basic credentials and records the scopes asked for), as with a registry behind a
//! separate auth service. With `single_post` it takes single-request blob uploads (`POST
//! …/blobs/uploads/?digest=` with the body, answered 201), as Quay does, storing them in the
//! upstream distribution with POST then PUT. One request per connection (`Connection:
//! close`), which every client handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Which requests a fault applies to: `(method, path_and_query)`.
pub type Matcher = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Faults to inject.
#[derive(Clone)]
pub struct ProxyOptions {
    /// Requests the faults apply to.
    pub matcher: Matcher,
    /// Answer 503 to the first N matching requests.
    pub fail_first: usize,
    /// `Retry-After` seconds sent with each injected 503.
    pub retry_after: Option<u64>,
    /// Flip a byte in the body of the first N matching successful responses (`usize::MAX`:
    /// every one).
    pub corrupt: usize,
    /// Demand bearer tokens, issued by `/token` to these basic credentials.
    pub bearer: Option<(String, String)>,
    /// Answer 405 to a monolithic blob upload (a `PUT` with a body), as registries that
    /// only take chunked uploads do.
    pub refuse_monolithic: bool,
    /// Take a blob in one `POST …/blobs/uploads/?digest=` with its body (201), as Quay does:
    /// the proxy stores it upstream with POST then PUT, since distribution only opens a
    /// session for such a request.
    pub single_post: bool,
    /// Answer 405 to a single-request blob upload (a `POST …?digest=`), as a registry that does
    /// not know the request may.
    pub refuse_single_post: bool,
    /// Hold every matching request that is forwarded (after any injected 503s) until
    /// [`FaultProxy::open_gate`]; [`FaultProxy::held`] counts those waiting.
    pub gate: bool,
    /// Answer 429 to a request that would make more than N requests in flight at once, as a
    /// rate-limited registry does.
    pub throttle_above: Option<usize>,
}

impl ProxyOptions {
    /// Forward everything unchanged.
    pub fn passthrough() -> Self {
        ProxyOptions {
            matcher: Arc::new(|_, _| false),
            fail_first: 0,
            retry_after: None,
            corrupt: 0,
            bearer: None,
            refuse_monolithic: false,
            single_post: false,
            refuse_single_post: false,
            gate: false,
            throttle_above: None,
        }
    }
}

#[derive(Default)]
struct Counters {
    total: AtomicUsize,
    matched: AtomicUsize,
    injected: AtomicUsize,
    tokens: AtomicUsize,
    held: AtomicUsize,
    corrupted: AtomicUsize,
    in_flight: AtomicUsize,
    throttled: AtomicUsize,
    scopes: std::sync::Mutex<Vec<String>>,
    log: std::sync::Mutex<Vec<(String, String)>>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    port: u16,
    counters: Arc<Counters>,
    gate: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: String,
    own: String,
    options: ProxyOptions,
    counters: Arc<Counters>,
    gate: tokio::sync::watch::Receiver<bool>,
    client: reqwest::Client,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream_host` (`127.0.0.1:PORT`, plain HTTP). Must be called
    /// inside a tokio runtime.
    pub async fn start(upstream_host: &str, options: ProxyOptions) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let counters = Arc::new(Counters::default());
        let (gate, gate_open) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            upstream: upstream_host.to_string(),
            own: format!("127.0.0.1:{port}"),
            options,
            counters: counters.clone(),
            gate: gate_open,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("proxy client"),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, &shared).await;
                });
            }
        });
        FaultProxy {
            port,
            counters,
            gate,
            task,
        }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// All requests seen.
    pub fn total(&self) -> usize {
        self.counters.total.load(Ordering::SeqCst)
    }

    /// Requests that matched the predicate.
    pub fn matched(&self) -> usize {
        self.counters.matched.load(Ordering::SeqCst)
    }

    /// 503s injected.
    pub fn injected(&self) -> usize {
        self.counters.injected.load(Ordering::SeqCst)
    }

    /// Tokens issued by `/token`.
    pub fn tokens_issued(&self) -> usize {
        self.counters.tokens.load(Ordering::SeqCst)
    }

    /// Requests answered 429 (see [`ProxyOptions::throttle_above`]).
    pub fn throttled(&self) -> usize {
        self.counters.throttled.load(Ordering::SeqCst)
    }

    /// Matching requests waiting at the gate now (see [`ProxyOptions::gate`]).
    pub fn held(&self) -> usize {
        self.counters.held.load(Ordering::SeqCst)
    }

    /// Lets every held and later matching request through.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    /// `(method, path_and_query)` of every request whose head arrived, in arrival order.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.counters
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every scope asked of `/token`, in order (including refused requests).
    pub fn scopes(&self) -> Vec<String> {
        self.counters
            .scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_body<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                let mut trailer = String::new();
                while r.read_line(&mut trailer).await? > 2 {
                    trailer.clear();
                }
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).await?;
        }
    }
    let len: usize = get("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// Counts a request out of flight when its handling ends, whichever way.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(stream: TcpStream, s: &Shared) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    s.counters
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((method.clone(), target.clone()));
    let body = read_body(&mut r, &headers).await?;
    s.counters.total.fetch_add(1, Ordering::SeqCst);
    let matched = (s.options.matcher)(&method, &target);
    let mut stream = r.into_inner();
    let now = s.counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _in_flight = InFlight(&s.counters.in_flight);
    if s.options.throttle_above.is_some_and(|n| now > n) {
        s.counters.throttled.fetch_add(1, Ordering::SeqCst);
        stream
            .write_all(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return stream.shutdown().await;
    }
    if let Some((user, pass)) = &s.options.bearer {
        let auth = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if target.starts_with("/token") {
            let scopes: Vec<String> = target
                .split(['?', '&'])
                .filter_map(|kv| kv.strip_prefix("scope="))
                .map(percent_decode)
                .collect();
            s.counters
                .scopes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(scopes.clone());
            use base64::Engine as _;
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            );
            let resp = if auth == expected {
                s.counters.tokens.fetch_add(1, Ordering::SeqCst);
                let body = format!(r#"{{"token":"tok-{}","expires_in":300}}"#, scopes.join("|"));
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            stream.write_all(resp.as_bytes()).await?;
            return stream.shutdown().await;
        }
        let write = matches!(method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE");
        let ok = auth.starts_with("Bearer tok-") && (!write || auth.contains("push"));
        if !ok {
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{}/token\",service=\"airlift-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                s.own
            );
            stream.write_all(resp.as_bytes()).await?;
            return stream.shutdown().await;
        }
    }
    // The digest of a single-request upload (`POST …/blobs/uploads/?digest=`).
    let single_post = (method == "POST" && target.contains("/blobs/uploads/?"))
        .then(|| {
            target
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("digest="))
        })
        .flatten();
    let monolithic_put = method == "PUT" && target.contains("/blobs/uploads/") && !body.is_empty();
    if (s.options.refuse_monolithic && monolithic_put)
        || (s.options.refuse_single_post && single_post.is_some())
    {
        s.counters.injected.fetch_add(1, Ordering::SeqCst);
        stream
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        return stream.shutdown().await;
    }
    if s.options.single_post
        && let Some(digest) = single_post
    {
        let resp = store_whole(s, &target, digest, &headers, body).await;
        stream.write_all(resp.as_bytes()).await?;
        return stream.shutdown().await;
    }
    if matched {
        let n = s.counters.matched.fetch_add(1, Ordering::SeqCst);
        if n < s.options.fail_first {
            s.counters.injected.fetch_add(1, Ordering::SeqCst);
            let retry = s
                .options
                .retry_after
                .map(|n| format!("Retry-After: {n}\r\n"))
                .unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 503 Service Unavailable\r\n{retry}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(resp.as_bytes()).await?;
            return stream.shutdown().await;
        }
    }
    if matched && s.options.gate {
        s.counters.held.fetch_add(1, Ordering::SeqCst);
        // An error means the proxy is gone: forward anyway, nobody is waiting on the gate.
        let _ = s.gate.clone().wait_for(|open| *open).await;
        s.counters.held.fetch_sub(1, Ordering::SeqCst);
    }
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = s
        .client
        .request(m, format!("http://{}{target}", s.upstream));
    for (k, v) in &headers {
        let lk = k.to_ascii_lowercase();
        let hop =
            ["host", "connection", "transfer-encoding", "content-length"].contains(&lk.as_str());
        let token = lk == "authorization" && s.options.bearer.is_some();
        if !(hop || token) {
            req = req.header(k, v);
        }
    }
    if !body.is_empty() || method == "PUT" || method == "PATCH" || method == "POST" {
        req = req.body(body);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(_) => {
            stream
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
            return stream.shutdown().await;
        }
    };
    let status = resp.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for (k, v) in resp.headers() {
        let k = k.as_str();
        if ["connection", "transfer-encoding", "content-length"].contains(&k) {
            continue;
        }
        let v = String::from_utf8_lossy(v.as_bytes()).replace(&s.upstream, &s.own);
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let is_head = method == "HEAD";
    let declared: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut data = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    if matched
        && status.is_success()
        && !is_head
        && s.counters.corrupted.fetch_add(1, Ordering::SeqCst) < s.options.corrupt
        && let Some(b) = data.last_mut()
    {
        *b ^= 0xff;
    }
    let len = if is_head {
        declared.unwrap_or(0) as usize
    } else {
        data.len()
    };
    head.push_str(&format!(
        "Content-Length: {len}\r\nConnection: close\r\n\r\n"
    ));
    stream.write_all(head.as_bytes()).await?;
    if !is_head {
        stream.write_all(&data).await?;
    }
    stream.shutdown().await
}

/// A single-request upload done upstream as POST then PUT; the answer the client gets.
async fn store_whole(
    s: &Shared,
    target: &str,
    digest: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let auth = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization") && s.options.bearer.is_none())
        .map(|(_, v)| v.clone())
        .next();
    let with_auth = |req: reqwest::RequestBuilder| match &auth {
        Some(a) => req.header("authorization", a),
        None => req,
    };
    let started = with_auth(s.client.post(format!("http://{}{path}", s.upstream)))
        .send()
        .await;
    let location = match started {
        Ok(r) if r.status().as_u16() == 202 => r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        _ => None,
    };
    let Some(location) = location else {
        return "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into();
    };
    let url = if location.starts_with('/') {
        format!("http://{}{location}", s.upstream)
    } else {
        location
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let put = with_auth(s.client.put(format!("{url}{sep}digest={digest}")))
        .body(body)
        .send()
        .await;
    match put {
        Ok(r) if r.status().as_u16() == 201 => {
            let blob = path.replace("/blobs/uploads/", &format!("/blobs/{digest}"));
            format!(
                "HTTP/1.1 201 Created\r\nLocation: {blob}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        Ok(r) => format!(
            "HTTP/1.1 {} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            r.status().as_u16()
        ),
        Err(_) => {
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
