//! Helm sets in discovery: for every chart of every `helm` set the goals carry, choose its
//! version (the lock's, unless resolving afresh), fetch its archive into the workspace cache
//! (`cache/charts/sha256/<hex>`, content-addressed: a no-op build fetches nothing), render it
//! and collect the images it deploys.
//!
//! - Classic repositories: `index.yaml` and the archive over HTTP(S) through the source side's
//!   client (its TLS flags, `--cert-dir`, proxies and retries), with basic credentials from the
//!   auth file entry of the repository's host. A digest the index or the lock states is
//!   checked against the bytes.
//! - OCI repositories: the tags (for a range or the latest), the artifact manifest and its
//!   chart layer, through the source registry client (auth file, TLS flags, retries).
//! - Local charts: an archive as is, a directory packed reproducibly.
//!
//! Writes the chart cache and nothing else. Chart images join the goals only through
//! `plan::expand_items`.

use std::collections::BTreeSet;
use std::path::Path;

use super::Session;
use super::discover::Said;
use crate::discover::{ChartSource, DiscoveredChart, ManifestCache, Resolution, Sides};
use crate::exit::{Exit, Failure};
use crate::helm::{self, Chart, ImagePath, artifact, repo};
use crate::oci::{Digest, ImageRef};
use crate::recipe::{ChartRender, ChartRepoUrl, ChartVersion, ContentSet, HelmSet};
use crate::state::LockFile;

/// Largest `index.yaml` or chart archive read (Bitnami's index is about 30 MiB).
const MAX_CHART_FILE: usize = 128 << 20;

/// Where chart archives are cached.
fn chart_cache(session: &Session) -> ManifestCache {
    ManifestCache::new(&session.workspace.chart_cache())
}

/// What one chart's fetch produced before rendering.
struct Fetched {
    version: String,
    source: ChartSource,
    archive: Vec<u8>,
}

/// Discovers the charts of the helm sets `sets` (those the goals carry and do not take from
/// archives).
pub fn discover_charts(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    sets: &BTreeSet<String>,
    lock: Option<&LockFile>,
    resolution: Resolution,
    sides: &Sides,
    said: &mut Said,
) -> Result<Vec<DiscoveredChart>, Failure> {
    let cache = chart_cache(session);
    let cx = Cx {
        rt,
        sides,
        cache: &cache,
        lock,
        resolution,
        manifests: session.cache(),
        indexes: Default::default(),
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for set in sets {
        let set = set.as_str();
        let Some(ContentSet::Helm(h)) = session.recipe.content_set(set) else {
            continue;
        };
        for (entry, repository, what, render) in entries(h) {
            let fetched = match &what {
                What::Repo(url, chart, version) => {
                    cx.fetch_from_repository(set, url, chart, *version)
                }
                What::Local(path) => from_local(path),
            };
            let fetched = match fetched {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!("helm set `{set}`, {}: {e}", what.describe()));
                    continue;
                }
            };
            match rendered(&cx, set, &entry, &repository, render, fetched, said) {
                Ok(c) => out.push(c),
                Err(e) => problems.push(format!("helm set `{set}`, {}: {e}", what.describe())),
            }
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        let last = problems.pop().unwrap_or_default();
        for p in &problems {
            eprintln!("error: {p}");
        }
        return Err(Failure::new(
            Exit::Remote,
            miette::miette!(
                help = "check the chart names, versions and repository URLs in the recipe, the repositories' reachability and the credentials in the auth file; then rerun",
                "{last}{}",
                if n > 1 {
                    format!(" ({n} chart problems, all listed above)")
                } else {
                    String::new()
                }
            ),
        ));
    }
    out.sort();
    Ok(out)
}

/// One chart entry of a set: where it comes from.
enum What<'a> {
    Repo(&'a ChartRepoUrl, &'a str, Option<&'a ChartVersion>),
    Local(&'a Path),
}

impl What<'_> {
    fn describe(&self) -> String {
        match self {
            What::Repo(url, chart, _) => format!("chart `{chart}` of {url}"),
            What::Local(p) => format!("local chart {}", p.display()),
        }
    }
}

/// (entry name, lock repository, what, render options) of every chart of `h`.
fn entries(h: &HelmSet) -> Vec<(String, String, What<'_>, &ChartRender)> {
    let mut out = Vec::new();
    for r in &h.repositories {
        for c in &r.charts {
            out.push((
                r.name.value.clone(),
                r.url.value.to_string(),
                What::Repo(
                    &r.url.value,
                    &c.name.value,
                    c.version.as_ref().map(|v| &v.value),
                ),
                &c.render,
            ));
        }
    }
    for l in &h.locals {
        out.push((
            h.name.value.clone(),
            format!("local:{}", l.name.value),
            What::Local(&l.path.value),
            &l.render,
        ));
    }
    out
}

struct Cx<'a> {
    rt: &'a tokio::runtime::Runtime,
    sides: &'a Sides,
    cache: &'a ManifestCache,
    lock: Option<&'a LockFile>,
    resolution: Resolution,
    manifests: ManifestCache,
    /// Each repository's `index.yaml`, read once per run (or why it could not be read: the
    /// other charts of an unreachable repository fail at once).
    indexes:
        std::cell::RefCell<std::collections::BTreeMap<String, Result<std::rc::Rc<String>, String>>>,
}

impl Cx<'_> {
    /// The lock's entry when this resolution uses it and it satisfies the recipe's version.
    fn locked(
        &self,
        set: &str,
        url: &ChartRepoUrl,
        chart: &str,
        wanted: Option<&ChartVersion>,
    ) -> Result<Option<(String, Digest)>, String> {
        if self.resolution == Resolution::Fresh {
            return Ok(None);
        }
        let entry = self
            .lock
            .and_then(|l| l.chart(set, &url.to_string(), chart));
        let usable = entry.filter(|e| {
            let v = semver::Version::parse(e.version.trim_start_matches('v'));
            wanted.is_none_or(|w| v.is_ok_and(|v| w.matches(&v)))
        });
        match usable {
            Some(e) => Ok(Some((e.version.clone(), e.digest.clone()))),
            None if self.resolution == Resolution::Offline => Err(
                "not pinned in airlift.lock (--offline resolves from the lock only); run `airlift lock` where the repository is reachable".to_string(),
            ),
            None => Ok(None),
        }
    }

    fn fetch_from_repository(
        &self,
        set: &str,
        url: &ChartRepoUrl,
        chart: &str,
        wanted: Option<&ChartVersion>,
    ) -> Result<Fetched, String> {
        let locked = self.locked(set, url, chart, wanted)?;
        match url {
            ChartRepoUrl::Http(base) => self.fetch_http(base, chart, wanted, locked),
            ChartRepoUrl::Oci(prefix) => self.fetch_oci(prefix, chart, wanted, locked),
        }
    }

    fn fetch_http(
        &self,
        base: &str,
        chart: &str,
        wanted: Option<&ChartVersion>,
        locked: Option<(String, Digest)>,
    ) -> Result<Fetched, String> {
        if let Some((version, digest)) = &locked
            && let Some(bytes) = self.cache.get(digest)
        {
            return Ok(Fetched {
                version: version.clone(),
                source: packed_source(chart, version),
                archive: bytes,
            });
        }
        let get = |url: &str| {
            self.rt
                .block_on(self.sides.source.get_url(url, MAX_CHART_FILE))
        };
        let index = self
            .indexes
            .borrow_mut()
            .entry(base.to_string())
            .or_insert_with(|| {
                get(&format!("{base}/index.yaml"))
                    .map(|b| std::rc::Rc::new(String::from_utf8_lossy(&b).into_owned()))
            })
            .clone()?;
        let exact = locked
            .as_ref()
            .and_then(|(v, _)| ChartVersion::parse(v).ok());
        let entry = repo::select(base, &index, chart, exact.as_ref().or(wanted))
            .map_err(|e| e.to_string())?;
        let bytes = get(&entry.url)?;
        let digest = Digest::of(&bytes);
        let expected = locked.map(|(_, d)| d).or(entry.digest);
        if let Some(want) = expected
            && want != digest
        {
            return Err(format!(
                "{} has digest {digest}, not {want} as the {} says; the repository changed a published chart (run `airlift update` to accept it)",
                entry.url,
                if exact.is_some() { "lock" } else { "index" }
            ));
        }
        Ok(Fetched {
            source: packed_source(chart, &entry.version_text),
            version: entry.version_text,
            archive: bytes,
        })
    }

    fn fetch_oci(
        &self,
        prefix: &str,
        chart: &str,
        wanted: Option<&ChartVersion>,
        locked: Option<(String, Digest)>,
    ) -> Result<Fetched, String> {
        let base: ImageRef = format!("{prefix}/{chart}:latest")
            .parse()
            .map_err(|e| format!("oci://{prefix}/{chart}: {e}"))?;
        let (version, tag) = match (&locked, wanted) {
            (Some((v, _)), _) => (v.clone(), artifact::tag_of(v)),
            (None, Some(ChartVersion::Exact(v))) => {
                (v.to_string(), artifact::tag_of(&v.to_string()))
            }
            (None, w) => {
                let tags = self
                    .rt
                    .block_on(self.sides.source.tags(base.repository()))
                    .map_err(|e| e.to_string())?;
                let (v, t) = repo::select_tag(&tags, w).ok_or_else(|| {
                    format!(
                        "no tag of {} is a chart version{}",
                        base.repository(),
                        w.map(|w| format!(" matching {w}")).unwrap_or_default()
                    )
                })?;
                (v.to_string(), t)
            }
        };
        let reference = base.repository().with_tag(&tag);
        // The manifest: from the cache when the lock pins it, else from the registry.
        let manifest = match locked.as_ref().and_then(|(_, d)| self.manifests.get(d)) {
            Some(bytes) => bytes,
            None => {
                let m = self
                    .rt
                    .block_on(self.sides.source.get_manifest(&reference))
                    .map_err(|e| e.to_string())?;
                if let Some((_, d)) = &locked
                    && &m.digest != d
                {
                    return Err(format!(
                        "{reference} is now {}, not {d} as airlift.lock pins; run `airlift update` to accept it",
                        m.digest
                    ));
                }
                let _ = self.manifests.put(&m.bytes);
                m.bytes.to_vec()
            }
        };
        let (layer, _) = artifact::content_layer(&manifest).ok_or_else(|| {
            format!("{reference} is not a Helm chart artifact (no chart content layer)")
        })?;
        let archive = match self.cache.get(&layer) {
            Some(b) => b,
            None => {
                let bytes = self.rt.block_on(async {
                    use futures_util::StreamExt;
                    let mut body = self
                        .sides
                        .source
                        .get_blob(reference.repository(), &layer)
                        .await?;
                    let mut out = Vec::new();
                    while let Some(chunk) = body.next().await {
                        out.extend_from_slice(&chunk?);
                    }
                    Ok::<_, crate::registry::RegistryError>(out)
                });
                let bytes = bytes.map_err(|e| e.to_string())?;
                if Digest::of(&bytes) != layer {
                    return Err(format!(
                        "the chart layer {layer} of {reference} does not match its digest"
                    ));
                }
                bytes
            }
        };
        Ok(Fetched {
            version,
            source: ChartSource::Oci(reference),
            archive,
        })
    }
}

/// Where a packed chart goes below a target: `<chart>:<version>` under the entry's name (set by
/// the caller).
fn packed_source(chart: &str, version: &str) -> ChartSource {
    ChartSource::Packed {
        path: chart.to_string(),
        tag: artifact::tag_of(version),
    }
}

fn from_local(path: &Path) -> Result<Fetched, String> {
    let (chart, archive) = if path.is_dir() {
        let mtime = super::source_date_epoch()
            .and_then(|e| u64::try_from(e).ok())
            .unwrap_or(0);
        helm::package_dir(path, mtime).map_err(|e| e.to_string())?
    } else {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let chart =
            Chart::from_archive(&path.display().to_string(), &bytes).map_err(|e| e.to_string())?;
        (chart, bytes)
    };
    Ok(Fetched {
        source: packed_source(&chart.name, &chart.version),
        version: chart.version,
        archive,
    })
}

/// Reads, renders and describes one fetched chart.
fn rendered(
    cx: &Cx<'_>,
    set: &str,
    entry: &str,
    repository: &str,
    render: &ChartRender,
    fetched: Fetched,
    said: &mut Said,
) -> Result<DiscoveredChart, String> {
    let chart = Chart::from_archive(repository, &fetched.archive).map_err(|e| e.to_string())?;
    let mut values = Vec::new();
    for v in &render.values {
        let text = std::fs::read_to_string(&v.value)
            .map_err(|e| format!("values file {}: {e}", v.value.display()))?;
        let parsed: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| format!("values file {}: {e}", v.value.display()))?;
        values.push(parsed);
    }
    let paths: Vec<ImagePath> = render
        .image_paths
        .iter()
        .filter_map(|p| ImagePath::parse(&p.value).ok())
        .collect();
    let rendering = helm::chart_images(&chart, &values, &paths);
    let label = format!(
        "chart `{}` {} of helm set `{set}`",
        chart.name, fetched.version
    );
    for w in &rendering.warnings {
        said.warnings.push(format!(
            "{label}: {w}; its values were searched for images too"
        ));
    }
    let (images, bad) = helm::parse_found(&rendering.found);
    for (text, why) in bad {
        said.warnings.push(format!(
            "{label}: `{text}` is not an image reference ({why}); not mirrored"
        ));
    }
    said.notes.push(format!(
        "{label}: {} image{}",
        images.len(),
        if images.len() == 1 { "" } else { "s" }
    ));
    let source = match fetched.source {
        ChartSource::Packed { path, tag } => ChartSource::Packed {
            path: format!("{entry}/{path}"),
            tag,
        },
        oci => oci,
    };
    // The one place a chart archive enters the cache (`push-chart` and `pack` read it there).
    let archive_digest = Digest::of(&fetched.archive);
    cx.cache.put(&fetched.archive).map_err(|e| e.to_string())?;
    Ok(DiscoveredChart {
        set: set.to_string(),
        entry: entry.to_string(),
        repository: repository.to_string(),
        name: chart.name,
        version: fetched.version,
        source,
        archive: cx.cache.path(&archive_digest),
        archive_size: fetched.archive.len() as u64,
        archive_digest,
        images,
    })
}
