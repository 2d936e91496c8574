//! `ImageRef` and `Repository`: parsed, normalised image references.
//!
//! The grammar is the distribution reference grammar used by docker, podman and skopeo:
//! `[registry[:port]/]path[:tag][@sha256:hex]`. A first component counts as a registry when it
//! contains `.` or `:` or is `localhost`; otherwise the registry is `docker.io` and one-component
//! paths get the `library/` prefix, as every container client does.
//!
//! Names are interned (`Arc<str>`, one allocation per distinct name in the process): a build of
//! thousands of images holds each reference many times over, in the discovery, the plan, the
//! copy engine's maps and the journal, and clones them freely.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Digest, DigestError};

pub const DOCKER_HUB: &str = "docker.io";

/// The one shared copy of `name`.
fn intern(name: &str) -> Arc<str> {
    static NAMES: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.get(name) {
        return known.clone();
    }
    let new: Arc<str> = Arc::from(name);
    names.insert(new.clone());
    new
}

/// A repository in a registry: `registry/path`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    registry: Arc<str>,
    path: Arc<str>,
}

/// A reference to one image: a repository plus a tag, a digest, or both.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    repository: Repository,
    tag: Option<Arc<str>>,
    digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("image reference is empty")]
    Empty,
    #[error(
        "`{reference}` has an invalid repository path component `{component}`: use lowercase letters, digits and single `.`, `_`, `__` or `-` separators"
    )]
    Component {
        reference: String,
        component: String,
    },
    #[error("`{reference}` has an invalid registry `{registry}`")]
    Registry { reference: String, registry: String },
    #[error(
        "`{reference}` has an invalid tag `{tag}`: a tag is 1-128 of [A-Za-z0-9_.-] and cannot start with `.` or `-`"
    )]
    Tag { reference: String, tag: String },
    #[error("`{reference}` has an invalid digest: {source}")]
    Digest {
        reference: String,
        source: DigestError,
    },
    #[error("`{0}` names no tag and no digest")]
    NoTagOrDigest(String),
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'.' || x == b'-')
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (r, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host.starts_with('[') && host.ends_with(']') {
        return true;
    }
    !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// True for a `host[:port]` that names a registry in a reference (it has a `.` or a `:` or is
/// `localhost`, like the first component of `registry.example.com/app`).
pub fn is_registry_host(s: &str) -> bool {
    looks_like_registry(s) && valid_registry(s)
}

/// `host[:port]` as image references name the registry (Docker Hub's aliases become
/// `docker.io`), when `s` is a registry host at all.
pub fn registry_name(s: &str) -> Option<String> {
    if !is_registry_host(s) {
        return None;
    }
    Some(match s {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => s.to_string(),
    })
}

/// True for a repository path inside a registry: `/`-separated valid components.
pub fn is_repository_path(s: &str) -> bool {
    s.split('/').all(valid_component)
}

impl Repository {
    /// Parses `registry/path` (no tag or digest) with the same normalisation as an image.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let r: ImageRef = format!("{s}:latest").parse()?;
        Ok(r.repository)
    }

    pub fn new(registry: &str, path: &str) -> Result<Self, ReferenceError> {
        Self::parse(&format!("{registry}/{path}"))
    }

    /// `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry, e.g. `openshift/release`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            repository: self.clone(),
            tag: Some(intern(tag)),
            digest: None,
        }
    }

    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef {
            repository: self.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// A repository below this one: `self/path`.
    pub fn join(&self, path: &str) -> Result<Self, ReferenceError> {
        let joined = if self.path.is_empty() {
            path.to_string()
        } else {
            format!("{}/{}", self.path, path)
        };
        Self::new(&self.registry, &joined)
    }
}

impl ImageRef {
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn registry(&self) -> &str {
        self.repository.registry()
    }

    pub fn path(&self) -> &str {
        self.repository.path()
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same reference pinned to `digest`, keeping the tag for naming.
    pub fn pinned(&self, digest: Digest) -> ImageRef {
        ImageRef {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same tag and digest in another repository (a mirror or a rewritten location).
    pub fn in_repository(&self, repository: Repository) -> ImageRef {
        ImageRef {
            repository,
            ..self.clone()
        }
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reference = s.to_string();
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    d.parse::<Digest>()
                        .map_err(|source| ReferenceError::Digest {
                            reference: reference.clone(),
                            source,
                        })?,
                ),
            ),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(ReferenceError::Tag {
                reference,
                tag: t.to_string(),
            });
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let registry = if parts.len() > 1 && looks_like_registry(parts[0]) {
            let r = parts.remove(0);
            if !valid_registry(r) {
                return Err(ReferenceError::Registry {
                    reference,
                    registry: r.to_string(),
                });
            }
            r
        } else {
            DOCKER_HUB
        };
        let registry = match registry {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            _ => registry,
        };
        if let Some(bad) = parts.iter().find(|c| !valid_component(c)) {
            return Err(ReferenceError::Component {
                reference,
                component: bad.to_string(),
            });
        }
        if registry == DOCKER_HUB && parts.len() == 1 {
            parts.insert(0, "library");
        }
        if tag.is_none() && digest.is_none() {
            return Err(ReferenceError::NoTagOrDigest(reference));
        }
        Ok(ImageRef {
            repository: Repository {
                registry: intern(registry),
                path: intern(&parts.join("/")),
            },
            tag: tag.map(intern),
            digest,
        })
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Repository({self})")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Repository {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Repository {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Repository::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    #[test]
    fn normalises_docker_hub_names() {
        assert_eq!(
            r("ubuntu:22.04").to_string(),
            "docker.io/library/ubuntu:22.04"
        );
        assert_eq!(
            r("bitnami/redis:7").to_string(),
            "docker.io/bitnami/redis:7"
        );
        assert_eq!(
            r("index.docker.io/library/ubuntu:1").registry(),
            "docker.io"
        );
    }

    #[test]
    fn keeps_registry_port_and_digest() {
        let d = format!("sha256:{}", "0".repeat(64));
        let i = r(&format!("127.0.0.1:5000/a/b/c:v1.2@{d}"));
        assert_eq!(i.registry(), "127.0.0.1:5000");
        assert_eq!(i.path(), "a/b/c");
        assert_eq!(i.tag(), Some("v1.2"));
        assert_eq!(i.reference(), d);
        let l = r("localhost/x:1");
        assert_eq!(l.registry(), "localhost");
        assert_eq!(l.path(), "x");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!("".parse::<ImageRef>(), Err(ReferenceError::Empty)));
        assert!(matches!(
            "Quay.io/UPPER:1".parse::<ImageRef>(),
            Err(ReferenceError::Component { .. })
        ));
        assert!(matches!(
            "quay.io/x:-bad".parse::<ImageRef>(),
            Err(ReferenceError::Tag { .. })
        ));
        assert!(matches!(
            "quay.io/x@sha256:1".parse::<ImageRef>(),
            Err(ReferenceError::Digest { .. })
        ));
        assert!(matches!(
            "quay.io/x".parse::<ImageRef>(),
            Err(ReferenceError::NoTagOrDigest(_))
        ));
        assert!(matches!(
            "quay.io/a//b:1".parse::<ImageRef>(),
            Err(ReferenceError::Component { .. })
        ));
    }

    #[test]
    fn component_separators() {
        assert!(valid_component("a__b"));
        assert!(valid_component("a---b"));
        assert!(valid_component("a.b_c"));
        assert!(!valid_component("a..b"));
        assert!(!valid_component("a___b"));
        assert!(!valid_component("-a"));
    }
}
