//! Release discovery (read-only): for each release set the goals carry, load its update graphs
//! (online: fetched and stored under the workspace; `--offline`: stored responses only), select
//! its releases, and read each selected payload's `release-manifests/image-references` from the
//! source registry to learn its components.
//!
//! Writes nothing but its caches: stored graph responses (through [`GraphCache`]) and one small
//! JSON file per payload digest with the components read from it, so a rerun reads no payload
//! layers. Never writes to a registry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DiscoveredRelease;
use super::resolve::{Lookup, Resolution};
use crate::oci::{Digest, ImageRef};
use crate::recipe::{ContentSet, Recipe, ReleaseSet};
use crate::registry::RegistryClient;
use crate::release::{
    FetchError, GraphCache, GraphSource, SelectError, Selection, load_graphs, read_payload_from,
    select_release_set,
};
use crate::state::LockFile;

/// Why the releases of a set could not be discovered.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseDiscoveryError {
    #[error("release `{set}`: cannot load its update graph: {source}")]
    Graph {
        set: String,
        #[source]
        source: Box<FetchError>,
    },
    #[error("release `{set}`: {source}")]
    Select {
        set: String,
        #[source]
        source: Box<SelectError>,
    },
    #[error("release `{set}`: cannot read the payload {payload}: {reason}")]
    Payload {
        set: String,
        payload: String,
        reason: String,
    },
}

impl ReleaseDiscoveryError {
    /// What the user can do about it.
    pub fn help(&self) -> String {
        match self {
            ReleaseDiscoveryError::Graph { source, .. } => miette::Diagnostic::help(&**source)
                .map(|h| h.to_string())
                .unwrap_or_else(|| {
                    "check the set's `update-url` and that the update service is reachable"
                        .to_string()
                }),
            ReleaseDiscoveryError::Select { source, .. } => miette::Diagnostic::help(&**source)
                .map(|h| h.to_string())
                .unwrap_or_else(|| "check the channel's min and max".to_string()),
            ReleaseDiscoveryError::Payload { .. } => {
                "check that the source registry is reachable and holds the payload (credentials: --authfile)"
                    .to_string()
            }
        }
    }
}

/// The selection of every named release set, in the order given (sets that are not release
/// sets are skipped). Blocking: online graph loading makes HTTP requests.
pub fn select_releases(
    recipe: &Recipe,
    sets: &[String],
    source: &GraphSource<'_>,
    cache: &GraphCache,
) -> Result<Vec<(String, Selection)>, ReleaseDiscoveryError> {
    let mut out = Vec::new();
    for name in sets {
        let Some(ContentSet::Release(set)) = recipe.content_set(name) else {
            continue;
        };
        let graphs =
            load_graphs(set, source, cache).map_err(|source| ReleaseDiscoveryError::Graph {
                set: name.clone(),
                source: Box::new(source),
            })?;
        let selection =
            select_release_set(set, &graphs).map_err(|source| ReleaseDiscoveryError::Select {
                set: name.clone(),
                source: Box::new(source),
            })?;
        out.push((name.clone(), selection));
    }
    Ok(out)
}

/// Reads the components of every selected payload (and of payloads named with `image=`).
/// `cache_dir` holds the components already read, per payload digest. A payload named by tag
/// is resolved as `resolution` says (through the lock, the registry, or the lock first).
pub async fn read_releases(
    recipe: &Recipe,
    selections: &[(String, Selection)],
    client: &RegistryClient,
    cache_dir: &Path,
    lock: Option<&LockFile>,
    resolution: Resolution,
) -> Result<Vec<DiscoveredRelease>, ReleaseDiscoveryError> {
    let mut out = Vec::new();
    for (name, selection) in selections {
        let Some(ContentSet::Release(set)) = recipe.content_set(name) else {
            continue;
        };
        let fail = |payload: &ImageRef, reason: String| ReleaseDiscoveryError::Payload {
            set: name.clone(),
            payload: payload.to_string(),
            reason,
        };
        for r in &selection.releases {
            let components = components_of(set, &r.payload, &r.arch, client, cache_dir)
                .await
                .map_err(|why| fail(&r.payload, why))?;
            out.push(DiscoveredRelease {
                set: name.clone(),
                version: r.version.clone(),
                arch: r.arch.clone(),
                source: r.payload.clone(),
                payload: r.payload.clone(),
                components: components.components,
            });
        }
        for d in &selection.direct {
            let digest = match d.image.digest() {
                Some(x) => x.clone(),
                None => match resolution.lookup(lock, name, &d.image) {
                    Lookup::Locked(x) => x,
                    Lookup::NotLocked => {
                        return Err(fail(
                            &d.image,
                            "not in airlift.lock (--offline): run `airlift lock` where the source is reachable"
                                .to_string(),
                        ));
                    }
                    Lookup::Resolve => match client.head_manifest(&d.image).await {
                        Ok(Some(x)) => x,
                        Ok(None) => return Err(fail(&d.image, "manifest unknown".to_string())),
                        Err(e) => return Err(fail(&d.image, e.to_string())),
                    },
                },
            };
            let payload = d.image.pinned(digest);
            let components = components_of(set, &payload, &d.arch, client, cache_dir)
                .await
                .map_err(|why| fail(&payload, why))?;
            out.push(DiscoveredRelease {
                set: name.clone(),
                version: components.version.clone(),
                arch: d.arch.clone(),
                source: d.image.clone(),
                payload,
                components: components.components,
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The releases of `selections` from the payload cache alone (no network), for commands that
/// render what a target holds. A release whose components were never read is an error.
pub fn stored_releases(
    selections: &[(String, Selection)],
    cache_dir: &Path,
    lock: Option<&LockFile>,
    kubevirt: impl Fn(&str) -> bool,
) -> Result<Vec<DiscoveredRelease>, ReleaseDiscoveryError> {
    let mut out = Vec::new();
    for (name, selection) in selections {
        for d in &selection.direct {
            let digest = d
                .image
                .digest()
                .or_else(|| lock.and_then(|l| l.digest_of(name, &d.image)));
            let stored = digest
                .map(|x| cache_path(cache_dir, x, &d.arch, kubevirt(name)))
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| Stored::parse(&b));
            let (Some(digest), Some(stored)) = (digest, stored) else {
                return Err(ReleaseDiscoveryError::Payload {
                    set: name.clone(),
                    payload: d.image.to_string(),
                    reason:
                        "it was never resolved and read here; run `airlift build` (or `plan`) first"
                            .to_string(),
                });
            };
            out.push(DiscoveredRelease {
                set: name.clone(),
                version: stored.version,
                arch: d.arch.clone(),
                source: d.image.clone(),
                payload: d.image.pinned(digest.clone()),
                components: stored.components,
            });
        }
        for r in &selection.releases {
            let stored = r
                .payload
                .digest()
                .map(|d| cache_path(cache_dir, d, &r.arch, kubevirt(name)))
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| Stored::parse(&b))
                .ok_or_else(|| ReleaseDiscoveryError::Payload {
                    set: name.clone(),
                    payload: r.payload.to_string(),
                    reason:
                        "its components were never read here; run `airlift build` (or `plan`) first"
                            .to_string(),
                })?;
            out.push(DiscoveredRelease {
                set: name.clone(),
                version: r.version.clone(),
                arch: r.arch.clone(),
                source: r.payload.clone(),
                payload: r.payload.clone(),
                components: stored.components,
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What a payload holds: its version and components.
#[derive(Debug)]
struct Components {
    version: semver::Version,
    components: BTreeMap<String, ImageRef>,
}

/// The payload cache's file format (text, parsed back through the typed values).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: String,
    components: BTreeMap<String, String>,
}

impl Stored {
    fn of(c: &Components) -> Stored {
        Stored {
            version: c.version.to_string(),
            components: c
                .components
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        }
    }

    fn parse(bytes: &[u8]) -> Option<Components> {
        let s: Stored = serde_json::from_slice(bytes).ok()?;
        let mut components = BTreeMap::new();
        for (k, v) in s.components {
            components.insert(k, v.parse().ok()?);
        }
        Some(Components {
            version: s.version.parse().ok()?,
            components,
        })
    }
}

fn cache_path(cache_dir: &Path, digest: &Digest, arch: &str, kubevirt: bool) -> PathBuf {
    let suffix = if kubevirt { "-kubevirt" } else { "" };
    cache_dir.join(format!("sha256-{}-{arch}{suffix}.json", digest.hex()))
}

async fn components_of(
    set: &ReleaseSet,
    payload: &ImageRef,
    arch: &str,
    client: &RegistryClient,
    cache_dir: &Path,
) -> Result<Components, String> {
    let digest = payload
        .digest()
        .ok_or_else(|| "the payload is not pinned by digest".to_string())?;
    let path = cache_path(cache_dir, digest, arch, set.kubevirt_container);
    if let Ok(bytes) = std::fs::read(&path)
        && let Some(c) = Stored::parse(&bytes)
    {
        return Ok(c);
    }
    let layers = super::spool::image_layers(client, payload, arch, true)
        .await
        .map_err(|e| e.to_string())?;
    let read = read_payload_from(
        layers.into_iter().map(std::io::BufReader::new),
        arch,
        set.kubevirt_container,
    )
    .map_err(|e| e.to_string())?;
    let c = Components {
        version: read.version,
        components: read.components,
    };
    let text = serde_json::to_vec_pretty(&Stored::of(&c)).map_err(|e| e.to_string())?;
    // Whole or not at all: the shards of a sharded build read and write this cache at once.
    std::fs::create_dir_all(cache_dir)
        .and_then(|()| crate::state::write_atomic(&path, &text))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(c)
}
