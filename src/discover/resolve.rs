//! Network discovery (read-only): resolve every image the goals name to a digest, read its
//! manifests (through the manifest cache) to learn its blobs, and probe destinations the journal
//! records as done. Writes nothing but the manifest cache.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};

use super::{Discovery, ManifestCache, ResolvedImage};
use crate::oci::{Digest, ImageRef, MediaType};
use crate::plan::TargetGoal;
use crate::registry::{ManifestDoc, RegistryClient, RegistryError};
use crate::state::{Journal, LockFile};

/// Where discovery takes the digest of an image named by tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Ask the registry what the tag points at now (`lock`, `update`, `--locked`).
    Fresh,
    /// The lock's digest when it has an entry; ask the registry only for what the lock does not
    /// name yet (`build`, `plan`: a no-op rerun asks sources nothing).
    Pinned,
    /// The lock's digest only; an image the lock does not name is an error (`--offline`).
    Offline,
}

/// What [`Resolution::lookup`] decided for one image named by tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Use this digest.
    Locked(Digest),
    /// Ask the registry.
    Resolve,
    /// `--offline` and the lock does not name it.
    NotLocked,
}

impl Resolution {
    /// Where the digest of `image` (named by tag in content set `set`) comes from.
    pub fn lookup(self, lock: Option<&LockFile>, set: &str, image: &ImageRef) -> Lookup {
        let locked = || lock.and_then(|l| l.digest_of(set, image)).cloned();
        match self {
            Resolution::Fresh => Lookup::Resolve,
            Resolution::Pinned => locked().map_or(Lookup::Resolve, Lookup::Locked),
            Resolution::Offline => locked().map_or(Lookup::NotLocked, Lookup::Locked),
        }
    }

    /// True when no tag may be resolved through the network.
    pub fn is_offline(self) -> bool {
        self == Resolution::Offline
    }
}

/// How discovery may use the network.
#[derive(Clone, Debug)]
pub struct DiscoverOptions {
    /// Where digests of tags come from.
    pub resolution: Resolution,
    /// Skip destination probes (`--trust-state`).
    pub trust_state: bool,
    /// Concurrent registry requests in all.
    pub concurrency: usize,
    /// Concurrent requests to one registry (`concurrency` bounds the total): as many as the
    /// copies use, so a registry sees no more connections while airlift discovers than while
    /// it copies.
    pub limits: crate::exec::Limits,
}

/// Registry clients of both sides.
#[derive(Clone, Debug)]
pub struct Sides {
    pub source: RegistryClient,
    pub dest: RegistryClient,
    /// The update-graph and signature-store client, with the source side's settings.
    pub web: crate::web::WebClient,
}

/// Where an origin's manifests can be read.
#[derive(Clone, Debug)]
enum ReadFrom {
    Source(ImageRef),
    Upstream(ImageRef),
}

/// Runs discovery for `goals`. Unresolvable images end up in `Discovery::unresolved` with the
/// reason; they never stop the others.
pub async fn discover(
    goals: &[TargetGoal],
    lock: Option<&LockFile>,
    journal: &Journal,
    cache: &ManifestCache,
    sides: &Sides,
    opts: &DiscoverOptions,
) -> Discovery {
    let mut d = Discovery::default();
    let jobs = origins(goals);
    let concurrency = opts.concurrency.max(1);
    let permits = crate::exec::Permits::new(opts.limits.with_jobs(concurrency));
    let permits = &permits;
    let resolve = stream::iter(jobs)
        .map(|(origin, (set, read))| async move {
            let registry = match &read {
                ReadFrom::Source(r) | ReadFrom::Upstream(r) => r.registry().to_string(),
            };
            let _permit = permits.acquire(&[&registry]).await;
            let r = resolve_one(&origin, &set, read, lock, cache, sides, opts.resolution).await;
            (origin, r)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    // Destination probes do not depend on resolution: run both at once.
    let probes: BTreeSet<String> = if opts.trust_state {
        BTreeSet::new()
    } else {
        goals
            .iter()
            .flat_map(|g| g.items.iter().filter_map(move |i| i.dest(&g.dest).ok()))
            .map(|dest| dest.to_string())
            .filter(|dest| journal.get(dest).is_some())
            .collect()
    };
    let probe = stream::iter(probes)
        .map(|dest| async move {
            let found = match dest.parse::<ImageRef>() {
                Ok(r) => {
                    let _permit = permits.acquire(&[r.registry()]).await;
                    sides.dest.head_manifest(&r).await.ok().flatten()
                }
                Err(_) => None,
            };
            (dest, found)
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>();
    // Probes first: resolution from the lock and the manifest cache runs without yielding, so
    // polled first it would hold the probes back until it finished.
    let (probed, resolved) = tokio::join!(probe, resolve);
    d.dest.extend(probed);
    for (origin, r) in resolved {
        match r {
            Ok(img) => {
                d.known_blobs
                    .insert(img.digest.clone(), img.blobs.keys().cloned().collect());
                d.images.insert(origin, img);
            }
            Err(why) => {
                d.unresolved.insert(origin, why);
            }
        }
    }
    for rec in journal.records() {
        if !d.known_blobs.contains_key(&rec.source_digest)
            && let Some(blobs) = cached_blobs(cache, &rec.source_digest)
        {
            d.known_blobs.insert(rec.source_digest.clone(), blobs);
        }
    }
    d
}

/// Every origin once, with one content set naming it and where to read it: the original source
/// when any target takes it from there, else the first upstream target holding it. Images taken
/// from archives are left out.
fn origins(goals: &[TargetGoal]) -> BTreeMap<ImageRef, (String, ReadFrom)> {
    let mut out: BTreeMap<ImageRef, (String, ReadFrom)> = BTreeMap::new();
    let by_name: BTreeMap<&str, &TargetGoal> = goals.iter().map(|g| (g.name.as_str(), g)).collect();
    for g in goals {
        for item in &g.items {
            let read = match &item.via {
                None => Some(ReadFrom::Source(item.origin.clone())),
                Some(up) => by_name
                    .get(up.as_str())
                    .and_then(|u| item.dest(&u.dest).ok())
                    .map(ReadFrom::Upstream),
            };
            let Some(read) = read else { continue };
            if from_archive(g, item, &by_name) {
                continue;
            }
            match out.get(&item.origin) {
                Some((_, ReadFrom::Source(_))) => {}
                Some((_, ReadFrom::Upstream(_))) if matches!(read, ReadFrom::Upstream(_)) => {}
                _ => {
                    out.insert(item.origin.clone(), (item.set.clone(), read));
                }
            }
        }
    }
    // An image some target takes from an archive this build does not write is resolved from
    // that archive (the caller's business), also for targets that take it from that target.
    for g in goals {
        for item in g.items.iter().filter(|i| from_archive(g, i, &by_name)) {
            out.remove(&item.origin);
        }
    }
    out
}

/// True when `item` comes from the archives of a `file://` target that is an input of `g`
/// (not written by this build).
fn from_archive(
    g: &TargetGoal,
    item: &crate::plan::GoalItem,
    goals: &BTreeMap<&str, &TargetGoal>,
) -> bool {
    item.via
        .as_ref()
        .is_some_and(|up| g.archive_inputs.contains_key(up) && !goals.contains_key(up.as_str()))
}

async fn resolve_one(
    origin: &ImageRef,
    set: &str,
    read: ReadFrom,
    lock: Option<&LockFile>,
    cache: &ManifestCache,
    sides: &Sides,
    resolution: Resolution,
) -> Result<ResolvedImage, String> {
    let (client, at) = match &read {
        ReadFrom::Source(r) => (&sides.source, r),
        ReadFrom::Upstream(r) => (&sides.dest, r),
    };
    let digest = match origin.digest() {
        Some(d) => d.clone(),
        None => match resolution.lookup(lock, set, origin) {
            Lookup::Locked(d) => d,
            Lookup::NotLocked => {
                return Err(
                    "not in airlift.lock (--offline): run `airlift lock` where the source is reachable"
                        .to_string(),
                );
            }
            // Docker Hub counts manifest GETs against its pull limits, not HEADs.
            Lookup::Resolve if at.registry() == "docker.io" => {
                match client.head_manifest(at).await {
                    Ok(Some(d)) => d,
                    Ok(None) => return Err(format!("manifest unknown at {at}")),
                    Err(e) => return Err(describe(e)),
                }
            }
            // One GET by tag yields the digest and the manifest the copy needs anyway (a HEAD
            // then a GET by digest were two requests).
            Lookup::Resolve => match client.get_manifest(at).await {
                Ok(m) => {
                    if let Err(e) = cache.put(&m.bytes) {
                        return Err(format!("cannot write the manifest cache: {e}"));
                    }
                    m.digest
                }
                Err(e) if matches!(e.last(), RegistryError::NotFound { .. }) => {
                    return Err(format!("manifest unknown at {at}"));
                }
                Err(e) => return Err(describe(e)),
            },
        },
    };
    let top = manifest_bytes(client, at, &digest, cache).await?;
    let doc = parse_doc(&top, &digest)?;
    let media_type = media_type_of(&doc).ok_or_else(|| {
        format!("{origin}@{digest} is not an image manifest or index airlift can copy")
    })?;
    let mut blobs = BTreeMap::new();
    let mut manifests = 1;
    if media_type.is_index() {
        for child in &doc.manifests {
            let bytes = manifest_bytes(client, at, &child.digest, cache).await?;
            let cdoc = parse_doc(&bytes, &child.digest)?;
            manifests += 1;
            add_blobs(&cdoc, &mut blobs);
        }
    } else {
        add_blobs(&doc, &mut blobs);
    }
    Ok(ResolvedImage {
        digest,
        media_type,
        blobs,
        manifests,
    })
}

async fn manifest_bytes(
    client: &RegistryClient,
    at: &ImageRef,
    digest: &Digest,
    cache: &ManifestCache,
) -> Result<Vec<u8>, String> {
    if let Some(b) = cache.get(digest) {
        return Ok(b);
    }
    let pinned = at.repository().with_digest(digest.clone());
    let m = client.get_manifest(&pinned).await.map_err(describe)?;
    if let Err(e) = cache.put(&m.bytes) {
        return Err(format!("cannot write the manifest cache: {e}"));
    }
    Ok(m.bytes.to_vec())
}

fn parse_doc(bytes: &[u8], digest: &Digest) -> Result<ManifestDoc, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("manifest {digest} is not valid JSON: {e}"))
}

fn media_type_of(doc: &ManifestDoc) -> Option<MediaType> {
    match doc.media_type.as_deref().and_then(MediaType::parse) {
        Some(m) => Some(m),
        None if !doc.manifests.is_empty() => Some(MediaType::OciIndex),
        None if doc.config.is_some() => Some(MediaType::OciManifest),
        None => None,
    }
}

fn add_blobs(doc: &ManifestDoc, blobs: &mut BTreeMap<Digest, u64>) {
    for d in doc.config.iter().chain(doc.layers.iter()) {
        blobs.insert(d.digest.clone(), d.size);
    }
}

/// Blobs of a digest from the cache alone (no network); `None` when anything is missing.
fn cached_blobs(cache: &ManifestCache, digest: &Digest) -> Option<BTreeSet<Digest>> {
    let doc: ManifestDoc = serde_json::from_slice(&cache.get(digest)?).ok()?;
    let mut blobs = BTreeMap::new();
    if doc.manifests.is_empty() {
        add_blobs(&doc, &mut blobs);
    } else {
        for child in &doc.manifests {
            let cdoc: ManifestDoc = serde_json::from_slice(&cache.get(&child.digest)?).ok()?;
            add_blobs(&cdoc, &mut blobs);
        }
    }
    Some(blobs.into_keys().collect())
}

fn describe(e: RegistryError) -> String {
    match e.last() {
        RegistryError::NotFound { .. } => format!("not found: {e}"),
        _ => e.to_string(),
    }
}
