//! Docker/podman auth files (`auth.json`, `~/.docker/config.json`): finding the file, parsing
//! it, and picking the credentials for a repository. Credential types redact themselves.
//!
//! This module reads files only; it never writes them and never prints a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::error::{AuthSource, RegistryError};

/// A secret string: `Debug` and `Display` print `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for building an `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:****", self.username)
    }
}

#[derive(Deserialize)]
struct FileJson {
    #[serde(default)]
    auths: BTreeMap<String, EntryJson>,
}

#[derive(Deserialize)]
struct EntryJson {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The parsed auth file (or the record that none was found).
#[derive(Clone, Debug)]
pub struct AuthFile {
    /// Normalised key (`host` or `host/ns/repo`) → credentials.
    entries: BTreeMap<String, Credentials>,
    source: AuthSource,
}

/// The default search order: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `~/.docker/config.json`.
pub fn default_search_paths() -> Vec<PathBuf> {
    search_paths(|k| std::env::var_os(k))
}

/// The search order for an environment given as a lookup function.
fn search_paths(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        paths.push(PathBuf::from(p));
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        paths.push(PathBuf::from(p).join("containers/auth.json"));
    }
    if let Some(h) = env("HOME") {
        paths.push(PathBuf::from(h).join(".docker/config.json"));
    }
    paths
}

/// `host` for any spelling of a registry key: strips a scheme, `/v1/`/`/v2/` suffixes and
/// trailing slashes, and maps Docker Hub aliases to `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    let (host, rest) = match k.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (k, None),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    };
    match rest {
        Some(r) if !r.is_empty() => format!("{host}/{r}"),
        _ => host.to_string(),
    }
}

impl AuthFile {
    /// Loads `explicit` when given (it must exist), else the first existing file of the default
    /// search order; no file at all is not an error.
    pub fn load(explicit: Option<&Path>) -> Result<Self, RegistryError> {
        if let Some(p) = explicit {
            return Self::read(p);
        }
        let paths = default_search_paths();
        match paths.iter().find(|p| p.is_file()) {
            Some(p) => Self::read(p),
            None => Ok(AuthFile {
                entries: BTreeMap::new(),
                source: AuthSource::NotFound(paths),
            }),
        }
    }

    /// Reads and parses one auth file.
    pub fn read(path: &Path) -> Result<Self, RegistryError> {
        let err = |message: String| RegistryError::AuthFile {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut file = Self::parse(&text).map_err(err)?;
        file.source = AuthSource::File(path.to_path_buf());
        Ok(file)
    }

    /// Parses auth-file JSON. Error messages never quote the file's content.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: FileJson = serde_json::from_str(text)
            .map_err(|e| format!("invalid JSON at line {} column {}", e.line(), e.column()))?;
        let mut entries = BTreeMap::new();
        for (key, e) in json.auths {
            let creds = match (
                e.auth.as_deref().filter(|a| !a.is_empty()),
                e.username,
                e.password,
            ) {
                (Some(a), _, _) => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(a.trim())
                        .map_err(|_| format!("`auth` of entry `{key}` is not base64"))?;
                    let decoded = String::from_utf8(decoded)
                        .map_err(|_| format!("`auth` of entry `{key}` is not UTF-8"))?;
                    let (u, p) = decoded.split_once(':').ok_or_else(|| {
                        format!("`auth` of entry `{key}` is not base64(user:password)")
                    })?;
                    Credentials {
                        username: u.to_string(),
                        password: Secret::new(p),
                    }
                }
                (None, Some(u), Some(p)) => Credentials {
                    username: u,
                    password: Secret::new(p),
                },
                _ => continue,
            };
            entries.insert(normalize_key(&key), creds);
        }
        Ok(AuthFile {
            entries,
            source: AuthSource::NotFound(Vec::new()),
        })
    }

    /// Where these credentials came from.
    pub fn source(&self) -> &AuthSource {
        &self.source
    }

    /// Credentials for `path` in `registry`: the most specific matching key wins
    /// (`host/ns/repo` over `host/ns` over `host`).
    pub fn lookup(&self, registry: &str, path: &str) -> Option<&Credentials> {
        let registry = normalize_key(registry);
        let mut candidate = format!("{registry}/{path}");
        loop {
            if let Some(c) = self.entries.get(&candidate) {
                return Some(c);
            }
            match candidate.rsplit_once('/') {
                Some((head, _)) => candidate = head.to_string(),
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn most_specific_key_wins_and_aliases_normalise() {
        let text = format!(
            r#"{{"auths": {{
                "quay.io": {{"auth": "{}"}},
                "quay.io/team": {{"auth": "{}"}},
                "quay.io/team/app": {{"username": "app", "password": "pw3"}},
                "https://index.docker.io/v1/": {{"auth": "{}"}}
            }}}}"#,
            b64("all:pw1"),
            b64("team:pw2"),
            b64("hub:pw4")
        );
        let f = AuthFile::parse(&text).unwrap();
        assert_eq!(f.lookup("quay.io", "other/x").unwrap().username, "all");
        assert_eq!(f.lookup("quay.io", "team/x").unwrap().username, "team");
        assert_eq!(f.lookup("quay.io", "team/app").unwrap().username, "app");
        assert_eq!(
            f.lookup("docker.io", "library/ubuntu").unwrap().username,
            "hub"
        );
        assert!(f.lookup("ghcr.io", "x").is_none());
    }

    #[test]
    fn secrets_redact_themselves() {
        let c = Credentials {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c}").contains("hunter2"));
        assert_eq!(c.password.expose(), "hunter2");
    }

    #[test]
    fn bad_json_does_not_echo_content() {
        let e = AuthFile::parse(r#"{"auths": {"h": {"auth": "c2VjcmV0"#).unwrap_err();
        assert!(!e.contains("c2VjcmV0"), "{e}");
        let e = AuthFile::parse(r#"{"auths": {"h": {"auth": "nocolon"}}}"#).unwrap_err();
        assert!(e.contains("not base64"), "{e}");
    }

    #[test]
    fn search_order_is_env_then_xdg_then_docker() {
        let env = |k: &str| match k {
            "REGISTRY_AUTH_FILE" => Some("/etc/auth.json".into()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1000".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        };
        assert_eq!(
            search_paths(env),
            [
                PathBuf::from("/etc/auth.json"),
                PathBuf::from("/run/user/1000/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        assert_eq!(
            search_paths(|k| (k == "HOME").then(|| "/h".into())),
            [PathBuf::from("/h/.docker/config.json")]
        );
    }

    #[test]
    fn explicit_file_must_exist_and_no_file_is_recorded() {
        let e = AuthFile::load(Some(Path::new("/nonexistent/airlift-auth.json"))).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/airlift-auth.json"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        std::fs::write(&p, r#"{"auths":{}}"#).unwrap();
        let f = AuthFile::load(Some(&p)).unwrap();
        assert_eq!(f.source(), &AuthSource::File(p.clone()));
        assert!(f.source().to_string().contains(&p.display().to_string()));
    }

    #[test]
    fn normalises_keys() {
        assert_eq!(
            normalize_key("https://registry-1.docker.io/v2/"),
            "docker.io"
        );
        assert_eq!(normalize_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize_key("quay.io/ns/"), "quay.io/ns");
    }
}
