//! Network and cache edge of the release module: the update-graph client (on the run's web
//! client, `crate::web`: the source side's TLS settings, proxies, timeouts and retries) and the
//! response cache that lets disk-to-mirror and `--offline` runs work without network.
//!
//! This is the only file of `release` that opens connections or writes files. It never talks
//! to a container registry. Responses are stored byte for byte as the server sent them, at
//! deterministic paths: `<dir>/<channel>-<arch>.json` and `<dir>/graph-data.tar.gz`.

use std::fs;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use super::graph::{GraphError, UpdateGraph};
use super::select::{helper_channels, requests_of};
use crate::recipe::ReleaseSet;

/// Cincinnati endpoint used when neither the recipe (`update-url`) nor `UPDATE_URL_OVERRIDE`
/// names one.
pub const DEFAULT_GRAPH_URL: &str = "https://api.openshift.com/api/upgrades_info/v1/graph";
/// Graph-data tarball used when the recipe has no `graph-data-url`.
pub const DEFAULT_GRAPH_DATA_URL: &str = "https://api.openshift.com/api/upgrades_info/graph-data";
/// Environment variable that overrides the default update-graph URL (as in oc-mirror).
pub const UPDATE_URL_ENV: &str = "UPDATE_URL_OVERRIDE";
/// File name of the stored graph-data tarball inside a cache directory.
pub const GRAPH_DATA_FILE: &str = "graph-data.tar.gz";
/// Largest response body accepted (a full graph is a few MiB; graph data a few more).
const MAX_BODY: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FetchError {
    #[error("`{url}` did not answer within {seconds} s")]
    #[diagnostic(
        code(airlift::release::timeout),
        help(
            "check the network path to the update service (HTTPS_PROXY / NO_PROXY), point `update-url` or UPDATE_URL_OVERRIDE at a reachable service, or run with --offline to use the stored responses"
        )
    )]
    Timeout { url: String, seconds: u64 },
    #[error("could not reach `{url}`: {message}")]
    #[diagnostic(
        code(airlift::release::unreachable),
        help(
            "check the URL and the network path (HTTPS_PROXY / NO_PROXY); without network, run with --offline to use the stored responses"
        )
    )]
    Unreachable { url: String, message: String },
    #[error("`{url}` answered HTTP {status}: {body}")]
    #[diagnostic(
        code(airlift::release::http_status),
        help(
            "check the channel and architecture names (`airlift list releases` shows the known channels) and the update URL"
        )
    )]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("no stored update graph for channel `{channel}` ({arch}) at {}", path.display())]
    #[diagnostic(
        code(airlift::release::not_stored),
        help(
            "run once with network access (without --offline) so the response is stored, or copy the stored responses of the connected side into this directory"
        )
    )]
    NotStored {
        channel: String,
        arch: String,
        path: PathBuf,
    },
    #[error("no stored graph-data tarball at {}", path.display())]
    #[diagnostic(
        code(airlift::release::graph_data_not_stored),
        help("run once with network access (without --offline) so the graph data is stored")
    )]
    GraphDataNotStored { path: PathBuf },
    #[error("`{name}` cannot be used as a {what}: use letters, digits, `.`, `_` and `-` only")]
    #[diagnostic(
        code(airlift::release::bad_name),
        help("fix the channel or architecture name in the recipe")
    )]
    BadName { what: &'static str, name: String },
    #[error("could not {action} {}: {source}", path.display())]
    #[diagnostic(
        code(airlift::release::cache_io),
        help("check that the workspace directory exists and is writable")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
}

/// The update-graph URL: the recipe's `update-url`, else `UPDATE_URL_OVERRIDE` (pass
/// `std::env::var(UPDATE_URL_ENV).ok()`), else [`DEFAULT_GRAPH_URL`]. Empty values count as unset.
pub fn graph_url(recipe: Option<&str>, env_override: Option<&str>) -> String {
    [recipe, env_override]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|u| !u.is_empty())
        .unwrap_or(DEFAULT_GRAPH_URL)
        .to_string()
}

fn check_name(what: &'static str, name: &str) -> Result<(), FetchError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FetchError::BadName {
            what,
            name: name.to_string(),
        })
    }
}

/// A blocking HTTP client for the update graph and the graph-data tarball: the one web
/// client (`crate::web`), with the source side's TLS options, proxies and retries.
#[derive(Clone, Debug)]
pub struct GraphClient {
    web: crate::web::WebClient,
}

impl GraphClient {
    /// A client on `web` (the run's settings).
    pub fn with(web: crate::web::WebClient) -> GraphClient {
        GraphClient { web }
    }

    /// `GET url` with `Accept: accept`; the body on 2xx.
    pub fn get(&self, url: &str, accept: &str) -> Result<Vec<u8>, FetchError> {
        use crate::web::WebError;
        let resp = self
            .web
            .get(url, Some(accept), MAX_BODY)
            .map_err(|e| match e {
                WebError::Timeout { url, seconds } => FetchError::Timeout { url, seconds },
                WebError::Status { url, status, body } => FetchError::Status { url, status, body },
                WebError::Unreachable { url, message } => FetchError::Unreachable { url, message },
                e @ WebError::TooLarge { .. } => FetchError::Unreachable {
                    url: url.to_string(),
                    message: e.to_string(),
                },
            })?;
        if !(200..300).contains(&resp.status) {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: resp.status,
                body: crate::web::snippet(&resp.body),
            });
        }
        Ok(resp.body)
    }

    /// The raw Cincinnati response for `channel` and `arch` from the endpoint `base_url`.
    pub fn fetch_graph_raw(
        &self,
        base_url: &str,
        channel: &str,
        arch: &str,
    ) -> Result<Vec<u8>, FetchError> {
        check_name("channel", channel)?;
        check_name("architecture", arch)?;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{sep}channel={channel}&arch={arch}");
        self.get(&url, "application/json")
    }

    /// Fetches, parses and stores the graph of `channel`/`arch` in `cache`. The response is
    /// stored only after it parsed, so a broken answer never replaces a good stored one.
    pub fn fetch_graph(
        &self,
        base_url: &str,
        cache: &GraphCache,
        channel: &str,
        arch: &str,
    ) -> Result<UpdateGraph, FetchError> {
        let bytes = self.fetch_graph_raw(base_url, channel, arch)?;
        let graph = UpdateGraph::parse(channel, arch, &bytes)?;
        cache.store(channel, arch, &bytes)?;
        Ok(graph)
    }
}

/// Stored update-graph responses, one file per channel and architecture.
#[derive(Clone, Debug)]
pub struct GraphCache {
    dir: PathBuf,
}

impl GraphCache {
    pub fn new(dir: impl Into<PathBuf>) -> GraphCache {
        GraphCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<channel>-<arch>.json`.
    pub fn path(&self, channel: &str, arch: &str) -> Result<PathBuf, FetchError> {
        check_name("channel", channel)?;
        check_name("architecture", arch)?;
        Ok(self.dir.join(format!("{channel}-{arch}.json")))
    }

    /// Stores a response (atomically: temporary file, then rename).
    pub fn store(&self, channel: &str, arch: &str, bytes: &[u8]) -> Result<(), FetchError> {
        let path = self.path(channel, arch)?;
        write_atomic(&self.dir, &path, bytes)
    }

    /// The stored graph of `channel`/`arch`, parsed.
    pub fn load(&self, channel: &str, arch: &str) -> Result<UpdateGraph, FetchError> {
        let path = self.path(channel, arch)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FetchError::NotStored {
                    channel: channel.to_string(),
                    arch: arch.to_string(),
                    path,
                });
            }
            Err(source) => {
                return Err(FetchError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        Ok(UpdateGraph::parse(channel, arch, &bytes)?)
    }

    /// Every stored graph, sorted by file name (for `list releases`).
    pub fn load_all(&self) -> Result<Vec<UpdateGraph>, FetchError> {
        let io = |source| FetchError::Io {
            action: "list",
            path: self.dir.clone(),
            source,
        };
        let mut names = Vec::new();
        // Nothing stored yet (a fresh directory): no graphs, not an error.
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io)?;
            if let Some(stem) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
            {
                names.push(stem.to_string());
            }
        }
        names.sort();
        let mut out = Vec::new();
        for stem in names {
            if let Some((channel, arch)) = stem.rsplit_once('-') {
                out.push(self.load(channel, arch)?);
            }
        }
        Ok(out)
    }
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let io = |action, source| FetchError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    crate::state::write_atomic(path, bytes).map_err(|e| io("write", e))
}

/// Where update graphs come from.
#[derive(Clone, Debug)]
pub enum GraphSource<'a> {
    /// Query the update service (the set's `update-url`, else `env_override` — pass
    /// `std::env::var(UPDATE_URL_ENV).ok()` — else [`DEFAULT_GRAPH_URL`]) and store every
    /// response in the cache.
    Online {
        client: &'a GraphClient,
        env_override: Option<String>,
    },
    /// The stored response when there is one, else as [`GraphSource::Online`]: a build pinned
    /// by its lock selects from the graphs it selected from before (`airlift update` refetches).
    Stored {
        client: &'a GraphClient,
        env_override: Option<String>,
    },
    /// Stored responses only (`--offline`, disk-to-mirror).
    Offline,
}

/// Every graph the selection of `set` needs, keyed by `(channel, arch)`: each channel for each
/// architecture, plus whichever helper channels ([`helper_channels`]) exist (a helper the
/// service does not know, or that was not stored, is skipped). A set with `image=` needs none.
pub fn load_graphs(
    set: &ReleaseSet,
    source: &GraphSource<'_>,
    cache: &GraphCache,
) -> Result<BTreeMap<(String, String), UpdateGraph>, FetchError> {
    let mut out = BTreeMap::new();
    if set.image.is_some() {
        return Ok(out);
    }
    let arches: Vec<&str> = if set.arch.is_empty() {
        vec!["amd64"]
    } else {
        set.arch.iter().map(|a| a.value.as_str()).collect()
    };
    let requests = requests_of(set);
    let helpers = helper_channels(&requests);
    let fetch = |client: &GraphClient, env_override: &Option<String>, channel: &str, arch: &str| {
        let url = graph_url(
            set.update_url.as_ref().map(|u| u.value.as_str()),
            env_override.as_deref(),
        );
        client.fetch_graph(&url, cache, channel, arch)
    };
    let get = |channel: &str, arch: &str| match source {
        GraphSource::Online {
            client,
            env_override,
        } => fetch(client, env_override, channel, arch),
        GraphSource::Stored {
            client,
            env_override,
        } => match cache.load(channel, arch) {
            Err(FetchError::NotStored { .. }) => fetch(client, env_override, channel, arch),
            other => other,
        },
        GraphSource::Offline => cache.load(channel, arch),
    };
    for arch in arches {
        for r in &requests {
            out.insert(
                (r.channel.clone(), arch.to_string()),
                get(&r.channel, arch)?,
            );
        }
        for h in &helpers {
            match get(h, arch) {
                Ok(g) => {
                    out.insert((h.clone(), arch.to_string()), g);
                }
                Err(
                    FetchError::Status {
                        status: 400 | 404, ..
                    }
                    | FetchError::NotStored { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

/// Fetches the graph-data tarball from `url` and stores it as `<dir>/graph-data.tar.gz`.
pub fn fetch_graph_data(
    client: &GraphClient,
    url: &str,
    dir: &Path,
) -> Result<Vec<u8>, FetchError> {
    let bytes = client.get(url, "application/gzip, application/octet-stream, */*")?;
    write_atomic(dir, &dir.join(GRAPH_DATA_FILE), &bytes)?;
    Ok(bytes)
}

/// The stored graph-data tarball of `dir`.
pub fn load_graph_data(dir: &Path) -> Result<Vec<u8>, FetchError> {
    let path = dir.join(GRAPH_DATA_FILE);
    match fs::read(&path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(FetchError::GraphDataNotStored { path })
        }
        Err(source) => Err(FetchError::Io {
            action: "read",
            path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_precedence_recipe_then_env_then_default() {
        assert_eq!(
            graph_url(Some("http://a/graph"), Some("http://b")),
            "http://a/graph"
        );
        assert_eq!(graph_url(None, Some("http://b/graph")), "http://b/graph");
        assert_eq!(graph_url(Some(" "), Some("")), DEFAULT_GRAPH_URL);
        assert_eq!(graph_url(None, None), DEFAULT_GRAPH_URL);
    }

    #[test]
    fn cache_paths_are_deterministic_and_safe() {
        let c = GraphCache::new("/w/graphs");
        assert_eq!(
            c.path("eus-4.16", "multi").unwrap(),
            PathBuf::from("/w/graphs/eus-4.16-multi.json")
        );
        assert!(matches!(
            c.path("../etc", "amd64"),
            Err(FetchError::BadName { .. })
        ));
        assert!(c.path("stable-4.15", "amd64/x").is_err());
    }
}
