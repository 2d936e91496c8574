//! Release test support: a tiny update-graph (Cincinnati) server on 127.0.0.1 serving the
//! fixture graphs of `tests/fixtures/release/graphs/` and a graph-data tarball; a server that
//! accepts connections and never answers (for timeouts); and builders of release-payload
//! layer bytes (`fixture_release`) and of a graph-data tarball.
//!
//! The server is std-only (one thread, one request per connection), counts requests and can
//! be stopped, so tests can prove that offline runs make no request.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;

/// Path of the graph endpoint on the fixture server.
pub const GRAPH_PATH: &str = "/api/upgrades_info/v1/graph";
/// Path of the graph-data tarball on the fixture server.
pub const GRAPH_DATA_PATH: &str = "/api/upgrades_info/graph-data";

/// Directory of the fixture graph responses (`<channel>-<arch>.json`).
pub fn graphs_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/release/graphs"
    ))
}

/// The fixture update-graph server.
pub struct GraphServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl GraphServer {
    /// Starts serving the fixture graphs and [`graph_data_tarball`].
    pub fn start() -> GraphServer {
        GraphServer::start_in(graphs_dir())
    }

    /// Starts serving the graphs of `dir` (`<channel>-<arch>.json`) and [`graph_data_tarball`].
    pub fn start_in(dir: PathBuf) -> GraphServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind graph server");
        let addr = listener.local_addr().expect("graph server address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tarball = graph_data_tarball();
        let (reqs, flag) = (requests.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                serve(stream, &reqs, &tarball, &dir);
            }
        });
        GraphServer {
            addr,
            requests,
            stop,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:PORT/api/upgrades_info/v1/graph`.
    pub fn url(&self) -> String {
        format!("http://{}{GRAPH_PATH}", self.addr)
    }

    pub fn graph_data_url(&self) -> String {
        format!("http://{}{GRAPH_DATA_PATH}", self.addr)
    }

    /// Request targets (path and query) received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests lock").clone()
    }

    /// Stops accepting; afterwards connections are refused.
    pub fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = h.join();
        }
    }
}

impl Drop for GraphServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn serve(mut stream: TcpStream, requests: &Mutex<Vec<String>>, tarball: &[u8], dir: &Path) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut accept = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("accept")
        {
            accept = v.trim().to_string();
        }
    }
    requests.lock().expect("requests lock").push(target.clone());
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    if path == GRAPH_DATA_PATH {
        respond(&mut stream, "200 OK", "application/gzip", tarball);
        return;
    }
    if path != GRAPH_PATH {
        respond(&mut stream, "404 Not Found", "text/plain", b"not found");
        return;
    }
    if !accept.contains("application/json") {
        respond(
            &mut stream,
            "406 Not Acceptable",
            "text/plain",
            b"accept application/json",
        );
        return;
    }
    let params: BTreeMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let (Some(channel), Some(arch)) = (params.get("channel"), params.get("arch")) else {
        respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            b"channel and arch are required",
        );
        return;
    };
    match std::fs::read(dir.join(format!("{channel}-{arch}.json"))) {
        Ok(body) => respond(&mut stream, "200 OK", "application/json", &body),
        Err(_) => respond(
            &mut stream,
            "404 Not Found",
            "application/json",
            br#"{"kind":"invalid_params","value":"channel not found"}"#,
        ),
    }
}

/// A server that accepts TCP connections and never answers them.
pub struct SilentServer {
    addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind silent server");
        let addr = listener.local_addr().expect("silent server address");
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                keep.lock().expect("held lock").push(conn);
            }
        });
        SilentServer { addr, held }
    }

    pub fn url(&self) -> String {
        format!("http://{}{GRAPH_PATH}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.held.lock().expect("held lock").len()
    }
}

/// gzip of a tar with the given `(path, bytes)` regular files (mode 0644, mtime 1).
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).expect("tar append");
    }
    let tar = b.into_inner().expect("tar finish");
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&tar).expect("gzip");
    gz.finish().expect("gzip finish")
}

/// A small graph-data tarball shaped like Cincinnati's (channels/, blocked-edges/, raw/).
pub fn graph_data_tarball() -> Vec<u8> {
    tar_gz(&[
        ("version", b"1.2.0\n"),
        (
            "channels/stable-4.15.yaml",
            b"name: stable-4.15\nversions:\n- 4.15.0\n- 4.15.2\n- 4.15.3\n",
        ),
        (
            "channels/eus-4.16.yaml",
            b"name: eus-4.16\nversions:\n- 4.16.0\n",
        ),
        (
            "blocked-edges/4.15.5-FixtureEtcdRisk.yaml",
            b"to: 4.15.5\nfrom: 4\\.15\\.2\n",
        ),
        ("raw/metadata.json", b"{}\n"),
    ])
}

/// Layer bytes of a synthetic release payload.
pub struct FixtureRelease {
    pub version: String,
    /// Layer blobs (gzip'd tars) in manifest order: a base layer, then `release-manifests/`.
    pub layers: Vec<Vec<u8>>,
    /// Component name → image reference written into `image-references`.
    pub components: BTreeMap<String, String>,
}

/// Builds the layers of a release payload for `version` whose `image-references` names
/// `components` (name, reference pinned by digest) and whose `release-metadata` lists
/// `previous`.
pub fn fixture_release(
    version: &str,
    previous: &[&str],
    components: &[(&str, String)],
) -> FixtureRelease {
    let tags: Vec<serde_json::Value> = components
        .iter()
        .map(|(n, r)| {
            serde_json::json!({"name": n, "annotations": {"io.openshift.build.source-location": "https://github.com/openshift/example"},
                               "from": {"kind": "DockerImage", "name": r}, "generation": null,
                               "importPolicy": {}, "referencePolicy": {"type": ""}})
        })
        .collect();
    let refs = serde_json::json!({
        "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": version, "creationTimestamp": null},
        "spec": {"lookupPolicy": {"local": false}, "tags": tags}, "status": {"dockerImageRepository": ""}
    });
    let meta = serde_json::json!({
        "kind": "cincinnati-metadata-v0", "version": version, "previous": previous,
        "metadata": {"url": format!("https://errata.example/{version}")}
    });
    let refs = serde_json::to_vec_pretty(&refs).expect("json");
    let meta = serde_json::to_vec(&meta).expect("json");
    let base = tar_gz(&[
        ("etc/os-release", b"ID=\"rhel\"\n"),
        ("usr/bin/cluster-version-operator", b"\x7fELF"),
    ]);
    let manifests = tar_gz(&[
        ("release-manifests/image-references", &refs),
        ("release-manifests/release-metadata", &meta),
        (
            "release-manifests/0000_00_cluster-version-operator_03_deployment.yaml",
            b"kind: Deployment\n",
        ),
    ]);
    FixtureRelease {
        version: version.to_string(),
        layers: vec![base, manifests],
        components: components
            .iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect(),
    }
}
