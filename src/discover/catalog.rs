//! Catalog discovery (network, read-only): resolve each `catalog` set's image to a digest, read
//! its index (or single manifest), every platform manifest and config, and the first platform's
//! layers (spooled to anonymous temporary files, so memory does not grow with layer size);
//! extract the file-based catalog, filter it, and keep everything the prune task needs
//! to rebuild every platform. Catalogs of a run are read concurrently (parsing and filtering
//! on blocking threads) and collected in recipe order. Catalogs from OCI layouts are read by
//! `layout.rs`. Also the reader behind `airlift list operators`.
//!
//! Writes nothing but anonymous temporary files (not even the manifest cache: catalog configs
//! and layers are read once per run). Never touches the plan, the journal or the terminal.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;

use super::{DiscoverOptions, Lookup, Sides};
use crate::catalog::{
    CONFIGS_LABEL, Catalog, CatalogFilter, FilterErrors, Filtered, LayerError, ParseError,
    RebuildOptions, configs_from_layers, filter_catalog, parse_catalog,
};
use crate::oci::{Digest, ImageRef, MediaType, Repository};
use crate::plan::{CatalogGoal, TargetGoal};
use crate::registry::{Descriptor, ManifestDoc, RegistryClient, RegistryError};
use crate::state::{Journal, LockFile};

/// A manifest exactly as the registry returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// One platform image of a catalog: its manifest, config bytes and layer descriptors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformImage {
    pub manifest: RawManifest,
    pub config: Vec<u8>,
    pub layers: Vec<Descriptor>,
}

/// A catalog image as read from the registry, with its file-based catalog (from the first
/// platform: every platform carries the same FBC).
#[derive(Clone, Debug)]
pub struct FetchedCatalog {
    pub image: ImageRef,
    pub digest: Digest,
    /// The index, or the single manifest (then also `platforms[0].manifest`).
    pub top: RawManifest,
    pub platforms: Vec<PlatformImage>,
    /// The configs directory (label, default `/configs`) and the opm cache directory (from
    /// `--cache-dir=` in the image's command, default `/tmp/cache`).
    pub rebuild: RebuildOptions,
    pub catalog: Catalog,
    /// The OCI image layout directory the catalog was read from (`oci://DIR`); `None` for a
    /// registry catalog. The prune task reads the original layers from here.
    pub layout: Option<std::path::PathBuf>,
    /// The archive directory (`file://` target) the catalog was read from on a disconnected
    /// side; the prune task reads the original layers from its chunks.
    pub archive: Option<std::path::PathBuf>,
    /// Read from an archive that carries it already rebuilt (an enclave chain: the archive
    /// target took it from a registry target that rebuilt it): kept whole and copied as is.
    pub prebuilt: bool,
    /// Platform manifests of the index that `platforms` left out: not rebuilt, and dropped
    /// from the rebuilt index.
    pub dropped: Vec<Digest>,
}

impl FetchedCatalog {
    /// Keeps only the platforms `wanted` names (`os/arch` or `os/arch/variant`); an error
    /// lists the platforms there are when none matches.
    pub fn keep_platforms(&mut self, wanted: &[String]) -> Result<(), String> {
        if wanted.is_empty() {
            return Ok(());
        }
        let platform_of = |p: &PlatformImage| -> String {
            let v: Value = serde_json::from_slice(&p.config).unwrap_or(Value::Null);
            let s = |k: &str| v[k].as_str().unwrap_or("unknown").to_string();
            match v["variant"].as_str() {
                Some(variant) => format!("{}/{}/{variant}", s("os"), s("architecture")),
                None => format!("{}/{}", s("os"), s("architecture")),
            }
        };
        let matches = |have: &str| {
            wanted
                .iter()
                .any(|w| have == w || have.starts_with(&format!("{w}/")))
        };
        let all: Vec<String> = self.platforms.iter().map(platform_of).collect();
        if !all.iter().any(|p| matches(p)) {
            return Err(format!(
                "the catalog image has none of the platforms {}; it has: {} (name one of those in `platforms`)",
                wanted.join(", "),
                all.join(", ")
            ));
        }
        let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut self.platforms)
            .into_iter()
            .partition(|p| matches(&platform_of(p)));
        self.dropped = drop.into_iter().map(|p| p.manifest.digest).collect();
        self.platforms = keep;
        Ok(())
    }

    /// True when the catalog image is an index (one manifest per platform).
    pub fn is_index(&self) -> bool {
        MediaType::parse(&self.top.media_type).is_some_and(MediaType::is_index)
    }
}

/// A `catalog` set after discovery: the fetched image and the result of its filter.
#[derive(Clone, Debug)]
pub struct CatalogImage {
    /// The `catalog` set's name.
    pub set: String,
    pub fetched: FetchedCatalog,
    pub filter: CatalogFilter,
    pub filtered: Filtered,
}

/// Discovered catalogs by set name, and probes of their destinations.
#[derive(Clone, Debug, Default)]
pub struct DiscoveredCatalogs {
    pub catalogs: BTreeMap<String, Arc<CatalogImage>>,
    /// Destination probes of rebuilt catalogs the journal records (`None` = absent).
    pub dest: BTreeMap<String, Option<Digest>>,
}

/// Reading a catalog image failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogReadError {
    #[error("cannot read catalog image {image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("catalog image {image}: {reason}")]
    Shape { image: String, reason: String },
    #[error("catalog image {image}: cannot read its layers: {source}")]
    Layers {
        image: String,
        #[source]
        source: LayerError,
    },
    #[error("catalog image {image}: {source}")]
    Parse {
        image: String,
        #[source]
        source: ParseError,
    },
}

/// Discovering one `catalog` set failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CatalogDiscoveryError {
    /// `error` carries its causes in its message (no source chain, so nothing prints twice).
    #[error("catalog `{set}`: {error}")]
    #[diagnostic(help(
        "check that the catalog image exists and is readable with the given --authfile and TLS flags"
    ))]
    Read {
        set: String,
        error: CatalogReadError,
    },
    #[error("catalog `{set}`: {image} is not in airlift.lock (--offline)")]
    #[diagnostic(help("run `airlift lock` where the source is reachable"))]
    NotLocked { set: String, image: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Filter(FilterErrors),
}

impl CatalogDiscoveryError {
    /// True when the recipe's filter is at fault (not the registry).
    pub fn is_filter(&self) -> bool {
        matches!(self, CatalogDiscoveryError::Filter(_))
    }

    /// True when the error is about the `catalog` set `set`.
    fn is_about(&self, set: &str) -> bool {
        match self {
            CatalogDiscoveryError::Read { set: s, .. }
            | CatalogDiscoveryError::NotLocked { set: s, .. } => s == set,
            CatalogDiscoveryError::Filter(f) => f.catalog == set,
        }
    }
}

/// Fetches, reads and filters every catalog the goals carry, once per set. Destinations the
/// journal records are probed unless `--trust-state`.
pub async fn discover_catalogs(
    goals: &[TargetGoal],
    lock: Option<&LockFile>,
    journal: &Journal,
    sides: &Sides,
    opts: &DiscoverOptions,
    source_date_epoch: Option<&str>,
) -> Result<DiscoveredCatalogs, Vec<CatalogDiscoveryError>> {
    let mut out = DiscoveredCatalogs::default();
    let mut errors: Vec<CatalogDiscoveryError> = Vec::new();
    let mut jobs: Vec<(&CatalogGoal, Option<Digest>)> = Vec::new();
    for goal in goals {
        for c in &goal.catalogs {
            if jobs.iter().any(|(j, _)| j.set == c.set) || errors.iter().any(|e| e.is_about(&c.set))
            {
                continue;
            }
            let digest = match c.source.digest() {
                Some(d) => Some(d.clone()),
                // The archives say which image (see `read_archived`).
                None if c.archive.is_some() => None,
                None => match opts.resolution.lookup(lock, &c.set, &c.source) {
                    Lookup::Locked(d) => Some(d),
                    // A local layout needs no network: `--offline` reads what it names now.
                    Lookup::Resolve => None,
                    Lookup::NotLocked if c.layout.is_some() => None,
                    Lookup::NotLocked => {
                        errors.push(CatalogDiscoveryError::NotLocked {
                            set: c.set.clone(),
                            image: c.source.to_string(),
                        });
                        continue;
                    }
                },
            };
            jobs.push((c, digest));
        }
    }
    // Catalogs are read and filtered concurrently; results are taken in recipe order, so
    // errors and everything after come out the same whatever finishes first.
    let results: Vec<_> = stream::iter(jobs)
        .map(|(c, digest)| read_and_filter(c, digest, sides, source_date_epoch))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    for r in results {
        match r {
            Ok(found) => {
                out.catalogs.insert(found.set.clone(), Arc::new(found));
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if !opts.trust_state {
        for goal in goals {
            for c in &goal.catalogs {
                let Ok(dest) = c.dest(&goal.dest) else {
                    continue;
                };
                let key = dest.to_string();
                if journal.get(&key).is_some() && !out.dest.contains_key(&key) {
                    let found = sides.dest.head_manifest(&dest).await.ok().flatten();
                    out.dest.insert(key, found);
                }
            }
        }
    }
    Ok(out)
}

/// Reads one catalog (registry or OCI layout) and filters it; file reading, decompression,
/// parsing and filtering run on blocking threads so several catalogs use several cores.
async fn read_and_filter(
    c: &CatalogGoal,
    digest: Option<Digest>,
    sides: &Sides,
    source_date_epoch: Option<&str>,
) -> Result<CatalogImage, CatalogDiscoveryError> {
    let read_error = |error| CatalogDiscoveryError::Read {
        set: c.set.clone(),
        error,
    };
    let stopped = |e: tokio::task::JoinError| CatalogReadError::Shape {
        image: c.source.to_string(),
        reason: format!("reading stopped: {e}"),
    };
    let read = match (&c.layout, &c.archive) {
        (_, Some(dir)) => read_archived(c, dir).await,
        (Some(dir), None) => {
            let (dir, image) = (dir.clone(), c.source.clone());
            tokio::task::spawn_blocking(move || super::layout::fetch_layout(&dir, &image, digest))
                .await
                .map_err(stopped)
                .and_then(|r| r)
        }
        (None, None) => fetch_catalog(&sides.source, &c.source, digest).await,
    };
    let mut fetched = read.map_err(read_error)?;
    if !fetched.prebuilt {
        fetched
            .keep_platforms(&c.filter.platforms)
            .map_err(|reason| {
                read_error(CatalogReadError::Shape {
                    image: c.source.to_string(),
                    reason,
                })
            })?;
    }
    fetched.rebuild = fetched
        .rebuild
        .clone()
        .with_source_date_epoch(source_date_epoch);
    // A catalog an archive carries rebuilt was filtered upstream: everything in it is kept.
    let filter = if fetched.prebuilt {
        CatalogFilter {
            full: true,
            ..CatalogFilter::default()
        }
    } else {
        c.filter.clone()
    };
    let set = c.set.clone();
    let (fetched, filtered) = tokio::task::spawn_blocking(move || {
        let filtered = filter_catalog(&set, &fetched.catalog, &filter);
        (fetched, filtered)
    })
    .await
    .map_err(|e| read_error(stopped(e)))?;
    Ok(CatalogImage {
        set: c.set.clone(),
        fetched,
        filter: c.filter.clone(),
        filtered: filtered.map_err(CatalogDiscoveryError::Filter)?,
    })
}

/// Reads a catalog from the archives of `dir`: the image the newest archive lists under the
/// catalog's source reference (the lock of the side that wrote it pinned it).
async fn read_archived(
    c: &CatalogGoal,
    dir: &std::path::Path,
) -> Result<FetchedCatalog, CatalogReadError> {
    let shape = |reason: String| CatalogReadError::Shape {
        image: c.source.to_string(),
        reason,
    };
    let set = crate::archive::ArchiveSet::shared(dir)
        .await
        .map_err(|e| shape(e.to_string()))?;
    let entry = set.image(&c.source.to_string()).ok_or_else(|| {
        shape(format!(
            "not in the archives of {} (build the file:// target with this catalog set on the connected side)",
            dir.display()
        ))
    })?;
    let digest = entry.digest.clone();
    let prebuilt = carried_catalog(&set, &c.set).is_some_and(|k| k.rebuilt);
    let image = c.source.clone();
    let mut fetched =
        tokio::task::spawn_blocking(move || super::layout::fetch_archived(&set, &image, digest))
            .await
            .map_err(|e| shape(format!("reading stopped: {e}")))??;
    fetched.prebuilt = prebuilt;
    Ok(fetched)
}

/// What the newest archive's `carried.json` says of catalog set `set`.
fn carried_catalog(
    archives: &crate::archive::ArchiveSet,
    set: &str,
) -> Option<crate::archive::CarriedCatalog> {
    let bytes = archives.file(crate::archive::CARRIED_FILE)?.ok()?;
    let carried: crate::archive::Carried = serde_json::from_slice(&bytes).ok()?;
    carried.catalogs.into_iter().find(|c| c.set == set)
}

/// Reads a catalog image: `digest` pins it (else the reference is resolved), then its index or
/// manifest, every platform's manifest and config, and the first platform's layers.
pub async fn fetch_catalog(
    client: &RegistryClient,
    image: &ImageRef,
    digest: Option<Digest>,
) -> Result<FetchedCatalog, CatalogReadError> {
    let name = image.to_string();
    let registry = |source| CatalogReadError::Registry {
        image: name.clone(),
        source: Box::new(source),
    };
    let shape = |reason: String| CatalogReadError::Shape {
        image: name.clone(),
        reason,
    };
    let at = match digest {
        Some(d) => image.repository().with_digest(d),
        None => image.clone(),
    };
    let top = client.get_manifest(&at).await.map_err(registry)?;
    let repo = image.repository().clone();
    let top_raw = RawManifest {
        digest: top.digest.clone(),
        media_type: top.media_type.clone(),
        bytes: top.bytes.to_vec(),
    };
    let doc = doc_of(&top_raw).map_err(&shape)?;
    let mut platforms = Vec::new();
    if top.is_index() {
        for child in &doc.manifests {
            let m = client
                .get_manifest(&repo.with_digest(child.digest.clone()))
                .await
                .map_err(registry)?;
            let raw = RawManifest {
                digest: m.digest.clone(),
                media_type: m.media_type.clone(),
                bytes: m.bytes.to_vec(),
            };
            platforms.push(platform(client, &repo, raw).await.map_err(|e| match e {
                Fail::Registry(s) => registry(s),
                Fail::Shape(r) | Fail::Mismatch(r) => shape(r),
            })?);
        }
    } else {
        platforms.push(
            platform(client, &repo, top_raw.clone())
                .await
                .map_err(|e| match e {
                    Fail::Registry(s) => registry(s),
                    Fail::Shape(r) | Fail::Mismatch(r) => shape(r),
                })?,
        );
    }
    let Some(first) = platforms.first() else {
        return Err(shape("the index lists no platform manifest".into()));
    };
    let mut layers = Vec::new();
    for l in &first.layers {
        let file = spool_blob(client, &repo, &l.digest)
            .await
            .map_err(|e| match e {
                Fail::Registry(s) => registry(s),
                Fail::Shape(r) | Fail::Mismatch(r) => shape(r),
            })?;
        layers.push(std::io::BufReader::new(file));
    }
    let image = image.clone();
    tokio::task::spawn_blocking(move || read_configs(&image, top_raw, platforms, layers, None))
        .await
        .map_err(|e| shape(format!("reading stopped: {e}")))?
}

/// The rest of reading a catalog once its manifests, configs and the first platform's layers
/// are at hand (from a registry or an OCI layout): the rebuild options, the configs directory
/// and the parsed file-based catalog.
pub(super) fn read_configs<R: std::io::Read>(
    image: &ImageRef,
    top: RawManifest,
    platforms: Vec<PlatformImage>,
    layers: Vec<R>,
    layout: Option<std::path::PathBuf>,
) -> Result<FetchedCatalog, CatalogReadError> {
    let name = image.to_string();
    let Some(first) = platforms.first() else {
        return Err(CatalogReadError::Shape {
            image: name,
            reason: "the index lists no platform manifest".into(),
        });
    };
    let rebuild = rebuild_options(&first.config);
    // A package-manifest (SQLite) index: its database, converted to a file-based catalog.
    let files = match database_path(&first.config) {
        Some(db) => read_database(&name, layers, &db)?,
        None => configs_from_layers(layers, &rebuild.configs_dir).map_err(|source| {
            CatalogReadError::Layers {
                image: name.clone(),
                source,
            }
        })?,
    };
    if files.is_empty() {
        return Err(CatalogReadError::Shape {
            image: name,
            reason: format!(
                "no file-based catalog under {} (label `{CONFIGS_LABEL}`)",
                rebuild.configs_dir
            ),
        });
    }
    let catalog = parse_catalog(&files).map_err(|source| CatalogReadError::Parse {
        image: name.clone(),
        source,
    })?;
    Ok(FetchedCatalog {
        image: image.clone(),
        digest: top.digest.clone(),
        top,
        platforms,
        rebuild,
        catalog,
        layout,
        archive: None,
        prebuilt: false,
        dropped: Vec::new(),
    })
}

use super::spool::{SpoolError as Fail, spool_blob};

pub(super) fn doc_of(m: &RawManifest) -> Result<ManifestDoc, String> {
    serde_json::from_slice(&m.bytes)
        .map_err(|e| format!("manifest {} is not valid JSON: {e}", m.digest))
}

async fn platform(
    client: &RegistryClient,
    repo: &Repository,
    manifest: RawManifest,
) -> Result<PlatformImage, Fail> {
    let doc = doc_of(&manifest).map_err(Fail::Shape)?;
    let Some(config) = doc.config else {
        return Err(Fail::Shape(format!(
            "manifest {} has no config: not a catalog image",
            manifest.digest
        )));
    };
    let config = read_blob(client, repo, &config.digest).await?;
    Ok(PlatformImage {
        manifest,
        config,
        layers: doc.layers,
    })
}

/// A whole blob, verified against its digest.
async fn read_blob(
    client: &RegistryClient,
    repo: &Repository,
    digest: &Digest,
) -> Result<Vec<u8>, Fail> {
    let mut stream = client
        .get_blob(repo, digest)
        .await
        .map_err(Fail::Registry)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(Fail::Registry)?);
    }
    if &Digest::of(&bytes) != digest {
        return Err(Fail::Shape(format!(
            "blob {digest} does not match its digest"
        )));
    }
    Ok(bytes)
}

/// The database path of a package-manifest (SQLite) index image: its database label, when the
/// image has no file-based catalog label.
fn database_path(config: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(config).ok()?;
    let labels = &v["config"]["Labels"];
    if labels[CONFIGS_LABEL].is_string() {
        return None;
    }
    labels[crate::catalog::sqlite::DATABASE_LABEL]
        .as_str()
        .filter(|p| p.starts_with('/') && !p.ends_with('/'))
        .map(str::to_string)
}

/// Reads the SQLite database at `db` out of the layers and converts it to a file-based
/// catalog (one JSON stream).
fn read_database<R: std::io::Read>(
    name: &str,
    layers: Vec<R>,
    db: &str,
) -> Result<std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>, CatalogReadError> {
    let shape = |reason: String| CatalogReadError::Shape {
        image: name.to_string(),
        reason,
    };
    let (dir, file) = db.rsplit_once('/').unwrap_or(("", db));
    let dir = if dir.is_empty() { "/" } else { dir };
    let mut files =
        configs_from_layers(layers, dir).map_err(|source| CatalogReadError::Layers {
            image: name.to_string(),
            source,
        })?;
    let bytes = files.remove(std::path::Path::new(file)).ok_or_else(|| {
        shape(format!(
            "no database at {db} (label `{}`)",
            crate::catalog::sqlite::DATABASE_LABEL
        ))
    })?;
    let mut tmp = tempfile::NamedTempFile::new()
        .map_err(|e| shape(format!("cannot spool the database: {e}")))?;
    tmp.write_all(&bytes)
        .map_err(|e| shape(format!("cannot spool the database: {e}")))?;
    let fbc = crate::catalog::sqlite::to_fbc(tmp.path()).map_err(|e| {
        shape(format!(
            "{e}{}",
            miette::Diagnostic::help(&e)
                .map(|h| format!(" ({h})"))
                .unwrap_or_default()
        ))
    })?;
    Ok(std::collections::BTreeMap::from([(
        std::path::PathBuf::from("index.db.json"),
        fbc,
    )]))
}

/// The configs directory (label) and opm cache directory (`--cache-dir=` in Cmd/Entrypoint) of
/// an image config; defaults where absent.
fn rebuild_options(config: &[u8]) -> RebuildOptions {
    let mut o = RebuildOptions::default();
    let Ok(v) = serde_json::from_slice::<Value>(config) else {
        return o;
    };
    let c = &v["config"];
    if let Some(dir) = c["Labels"][CONFIGS_LABEL].as_str()
        && dir.starts_with('/')
    {
        o.configs_dir = dir.trim_end_matches('/').to_string();
    }
    let args = c["Entrypoint"]
        .as_array()
        .into_iter()
        .chain(c["Cmd"].as_array())
        .flatten()
        .filter_map(Value::as_str);
    for a in args {
        if let Some(dir) = a.strip_prefix("--cache-dir=")
            && dir.starts_with('/')
        {
            o.cache_dir = dir.trim_end_matches('/').to_string();
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_options_from_label_and_cmd() {
        let cfg = serde_json::json!({"config": {
            "Labels": {CONFIGS_LABEL: "/catalog/"},
            "Cmd": ["serve", "/catalog", "--cache-dir=/var/cache"]
        }});
        let o = rebuild_options(&serde_json::to_vec(&cfg).unwrap_or_default());
        assert_eq!(o.configs_dir, "/catalog");
        assert_eq!(o.cache_dir, "/var/cache");
        let d = rebuild_options(b"{}");
        assert_eq!(d, RebuildOptions::default());
    }
}
