//! The `pack` kind: the next archive of a `file://DIR` target (mirror-to-disk). The manifests of
//! its images are in the target's staging layout (written by `write-layout` tasks, which
//! verifications gate); `pack` lays out the whole archive first (`archive::ArchiveLayout`: every
//! manifest, every blob that no earlier archive of the series shipped (with `--since`, also
//! those shipped since then), the layout's `oci-layout` and `index.json`, and under `airlift/`
//! the recipe, the lock, `carried.json`, the verified release signatures and the graph data),
//! then streams the blobs straight from their registries into their places in the
//! `airlift-NNNNNN.tar` chunks, several at once under the registries' transfer permits
//! (`archive::ArchiveWriter`; no staging copy of the content), and appends the archive to
//! `airlift-index.json`. What was shipped is remembered in the workspace
//! (`state/shipped-<target>.json`), so the next archive carries only what is new.
//!
//! Crash safety: chunks are written as `.tmp` files and renamed when complete; the series index
//! is written (atomically) only after every chunk, and the shipped list after the index, so a
//! kill leaves at most temporary chunks, which the rerun resumes (blobs already in them are
//! checked and kept) or, when the archive would differ, replaces.
//! Recorded under `pack:<dir>` with the archive's id; fresh while the directory's series index
//! still ends with that archive and nothing of the target changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Loaded, Output, RunCx, TaskError};
use crate::archive::{
    ArchiveEntry, ArchiveError, ArchiveLayout, ArchiveWriter, CARRIED_FILE, Carried,
    GRAPH_DATA_FILE, ImageEntry, SIGNATURES_PREFIX, SeriesIndex, archive_id, chart_file,
};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef, Repository};
use crate::plan::TaskKey;
use crate::registry::{ByteStream, Manifest};
use crate::state::LockFile;
use crate::store::{LayoutError, LayoutStore};
use crate::task::Counts;

/// One image of the archive: its name in the staging layout (which holds its manifests), and
/// where its blobs are read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackImage {
    pub set: String,
    pub origin: ImageRef,
    pub digest: Digest,
    pub name: String,
    /// The repository the blobs are read from.
    pub from: Repository,
    /// `from` is on the destination side (the image is taken from a needed target).
    pub from_dest: bool,
}

/// Blobs read into the archive at once (each also takes a transfer permit of its registry).
const FILLS: usize = 16;

/// Write the next archive of one `file://` target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackSpec {
    pub target: String,
    pub dir: PathBuf,
    /// `archive-size`; `None` is unlimited.
    pub chunk_size: Option<u64>,
    pub split_blobs: bool,
    /// The staging layout the images were written to.
    pub staging: PathBuf,
    /// The workspace file listing the blobs earlier archives shipped.
    pub shipped: PathBuf,
    pub images: Vec<PackImage>,
    pub recipe_files: Vec<PathBuf>,
    #[serde(skip)]
    pub lock: Loaded<LockFile>,
    pub lock_digest: Digest,
    /// `SOURCE_DATE_EPOCH`, recorded as the archive's creation time.
    pub created: Option<i64>,
    /// `--since DATE`: carry again every blob archives shipped since then.
    pub since: Option<i64>,
    /// Releases, graph-data inputs and catalog packages the disconnected side plans from.
    pub carried: Carried,
    /// Where the verified release signatures of the workspace are (`<workspace>/signatures`).
    pub signatures_dir: PathBuf,
    /// The stored graph-data tarball, when `carried.graph` names one.
    pub graph_tarball: Option<PathBuf>,
    /// The workspace's chart cache, where the archives of `carried.charts` are.
    pub chart_cache: PathBuf,
}

impl PackSpec {
    /// The slot under which discovery reports the id of the directory's last archive.
    pub fn slot_of(dir: &Path) -> String {
        format!("pack:{}", dir.display())
    }
}

impl Kind for PackSpec {
    const NAME: super::KindName = super::KindName::Pack;

    fn key(&self) -> TaskKey {
        let mut images: Vec<&PackImage> = self.images.iter().collect();
        images.sort();
        let digests: Vec<&Digest> = images.iter().map(|i| &i.digest).collect();
        let carried = Digest::of(&self.carried.to_bytes());
        let mut inputs = digests;
        inputs.push(&self.lock_digest);
        inputs.push(&carried);
        TaskKey::compute(
            Self::NAME.as_str(),
            &inputs,
            &json!({
                "dir": self.dir,
                "chunk-size": self.chunk_size,
                "split-blobs": self.split_blobs,
                "names": images.iter().map(|i| &i.name).collect::<Vec<_>>(),
                "recipe": self.recipe_files,
            }),
        )
    }

    fn slot(&self) -> String {
        Self::slot_of(&self.dir)
    }

    fn source_digest(&self) -> Digest {
        self.lock_digest.clone()
    }

    fn check(&self) -> Check {
        Check::Local(self.slot())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let source = format!("images of `{}`", self.target);
        let dest = format!("archive {}", self.dir.display());
        super::reported(cx, inputs.job, source, dest, self.pack(cx)).await
    }
}

fn archive_error(e: ArchiveError) -> TaskError {
    let exit = match e {
        ArchiveError::BlobTooLarge { .. } | ArchiveError::ArchiveSizeTooSmall { .. } => {
            Exit::InvalidInput
        }
        ArchiveError::SourceDigest { .. } | ArchiveError::SourceSize { .. } => Exit::Verification,
        ArchiveError::Source { .. } => Exit::Remote,
        _ => Exit::Io,
    };
    TaskError {
        exit,
        message: e.to_string(),
        help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
    }
}

fn layout_error(e: LayoutError) -> TaskError {
    TaskError {
        exit: Exit::Io,
        message: format!("reading the staging layout: {e}"),
        help: Some(
            "rerun `airlift build`: images missing from the staging layout are written again"
                .into(),
        ),
    }
}

fn bytes_stream(bytes: Vec<u8>) -> ByteStream {
    futures_util::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed()
}

/// Where the bytes of a blob of the archive come from.
enum BlobOrigin {
    /// A registry: the destination side's (an image taken from a needed target) or the
    /// source side's.
    Registry { dest_side: bool, repo: Repository },
    /// The staging layout (manifests).
    Staging,
}

impl PackSpec {
    async fn pack(&self, cx: &RunCx<'_>) -> Result<Output, TaskError> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            TaskError::new(
                Exit::Io,
                format!("cannot {what} {}: {e}", path.display()),
                "check that the directory is writable and the disk has space, then rerun",
            )
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| io("create", &self.dir, e))?;
        let mut series = SeriesIndex::read(&self.dir)
            .map_err(archive_error)?
            .unwrap_or_else(|| SeriesIndex::new(self.target.clone()));
        let mut record = Shipped::read(&self.shipped, &series);
        let (shipped, resends_from) = record.before(self.since);
        let staging = LayoutStore::shared(&self.staging).map_err(layout_error)?;
        let mut layout = ArchiveLayout::new(
            series.next_chunk_number(),
            self.chunk_size.unwrap_or(u64::MAX),
            self.split_blobs,
        )
        .map_err(archive_error)?;
        let mut origins: BTreeMap<Digest, BlobOrigin> = BTreeMap::new();
        let mut names = BTreeMap::new();
        let mut images = Vec::new();
        let mut images_sorted: Vec<&PackImage> = self.images.iter().collect();
        images_sorted.sort();
        for image in images_sorted {
            let entry = staging.resolve(&image.name).ok_or_else(|| {
                TaskError::new(
                    Exit::Io,
                    format!(
                        "{} is not in the staging layout {}",
                        image.name,
                        self.staging.display()
                    ),
                    "rerun `airlift build`: the image is written again",
                )
            })?;
            let mut manifests = vec![entry.digest.clone()];
            while let Some(d) = manifests.pop() {
                let bytes = staging.read_blob(&d).map_err(layout_error)?;
                let m = Manifest::from_stored(bytes.clone(), &d).ok_or_else(|| {
                    layout_error(LayoutError::Blob {
                        digest: d.clone(),
                        reason: "not a manifest".into(),
                    })
                })?;
                let doc = m.doc("staging").map_err(|e| {
                    layout_error(LayoutError::Blob {
                        digest: d.clone(),
                        reason: e.to_string(),
                    })
                })?;
                manifests.extend(doc.manifests.iter().map(|c| c.digest.clone()));
                for blob in doc.config.iter().chain(&doc.layers) {
                    if shipped.contains(&blob.digest) {
                        continue;
                    }
                    if layout
                        .add_blob(&blob.digest, blob.size)
                        .map_err(archive_error)?
                    {
                        origins.insert(
                            blob.digest.clone(),
                            BlobOrigin::Registry {
                                dest_side: image.from_dest,
                                repo: image.from.clone(),
                            },
                        );
                    }
                }
                if layout
                    .add_blob(&d, bytes.len() as u64)
                    .map_err(archive_error)?
                {
                    origins.insert(d.clone(), BlobOrigin::Staging);
                }
            }
            names.insert(image.name.clone(), entry.clone());
            // What the layout holds (a catalog taken from a target that rebuilt it is that
            // target's rebuild, not the source's digest).
            images.push(ImageEntry {
                set: image.set.clone(),
                source: image.origin.to_string(),
                digest: entry.digest.clone(),
                media_type: Some(entry.media_type.clone()),
                name: Some(image.name.clone()),
            });
        }
        let file = |layout: &mut ArchiveLayout, path: &str, bytes: Vec<u8>| {
            layout.add_file(path, bytes).map_err(archive_error)
        };
        file(
            &mut layout,
            "oci-layout",
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        )?;
        file(&mut layout, "index.json", crate::store::index_bytes(&names))?;
        file(
            &mut layout,
            "airlift/airlift.lock",
            self.lock.to_text().into_bytes(),
        )?;
        let mut recipe_digest = Vec::new();
        for path in &self.recipe_files {
            let bytes = std::fs::read(path).map_err(|e| io("read", path, e))?;
            recipe_digest.extend_from_slice(Digest::of(&bytes).to_string().as_bytes());
            let name = path
                .file_name()
                .map_or_else(|| "recipe.kdl".into(), |n| n.to_string_lossy().into_owned());
            file(&mut layout, &format!("airlift/recipe/{name}"), bytes)?;
        }
        self.add_carried(&mut layout)?;
        let blobs = layout.blob_count();
        let blob_bytes = layout.blob_bytes();
        let blobs_in_archive: BTreeSet<Digest> = origins
            .iter()
            .filter(|(_, o)| matches!(o, BlobOrigin::Registry { .. }))
            .map(|(d, _)| d.clone())
            .collect();
        let writer = ArchiveWriter::create(&self.dir, layout).map_err(archive_error)?;
        let fills = writer.blobs().into_iter().map(|(digest, size)| {
            let origin = &origins[&digest];
            let (writer, staging) = (&writer, &staging);
            async move {
                self.fill(cx, writer, staging, (&digest, size), origin)
                    .await
            }
        });
        let mut fills = futures_util::stream::iter(fills).buffer_unordered(FILLS);
        let mut written = 0u64;
        while let Some(n) = fills.next().await {
            written += n?;
        }
        drop(fills);
        let chunks = writer.finish().await.map_err(archive_error)?;
        let mut summary = BTreeMap::new();
        for i in &images {
            let e = summary
                .entry(i.set.clone())
                .or_insert_with(|| json!({"images": 0}));
            e["images"] = json!(e["images"].as_u64().unwrap_or(0) + 1);
        }
        for r in &self.carried.releases {
            let e = summary
                .entry(r.set.clone())
                .or_insert_with(|| json!({"images": 0}));
            let mut list: Vec<serde_json::Value> =
                e["releases"].as_array().cloned().unwrap_or_default();
            list.push(json!(format!("{}-{}", r.version, r.arch)));
            e["releases"] = json!(list);
        }
        for c in &self.carried.catalogs {
            let e = summary
                .entry(c.set.clone())
                .or_insert_with(|| json!({"images": 0}));
            e["catalog"] = json!(c.source.to_string());
            e["packages"] = json!(c.packages);
        }
        for c in &self.carried.charts {
            let e = summary
                .entry(c.set.clone())
                .or_insert_with(|| json!({"images": 0}));
            let mut list: Vec<serde_json::Value> =
                e["charts"].as_array().cloned().unwrap_or_default();
            list.push(json!(format!("{} {}", c.name, c.version)));
            e["charts"] = json!(list);
        }
        let id = archive_id(&chunks);
        let entry = ArchiveEntry {
            sequence: series.next_sequence(),
            id: id.clone(),
            extends: series.last().map(|a| a.id.clone()),
            created: self.created.map(crate::resources::rfc3339_utc),
            resends_from,
            recipe_digest: Some(Digest::of(&recipe_digest)),
            lock_digest: Some(self.lock_digest.clone()),
            chunks,
            images,
            summary,
            blobs,
            blob_bytes,
        };
        let sequence = entry.sequence;
        series.archives.push(entry);
        series.write(&self.dir).map_err(archive_error)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        record.archives.push(ShippedArchive {
            sequence,
            id: id.clone(),
            shipped: now,
            blobs: blobs_in_archive,
        });
        record
            .write(&self.shipped)
            .map_err(|e| io("write", &self.shipped, e))?;
        Ok(Output {
            digest: id,
            counts: Counts {
                bytes: written,
                blobs_uploaded: blobs,
                ..Counts::default()
            },
        })
    }
}

impl PackSpec {
    /// Writes one blob of the archive from where it comes: a manifest from the staging layout,
    /// anything else from its registry under a transfer permit, read a second time when the
    /// first read broke off or did not match its digest. Returns the bytes read from a registry.
    async fn fill(
        &self,
        cx: &RunCx<'_>,
        writer: &ArchiveWriter,
        staging: &LayoutStore,
        (digest, size): (&Digest, u64),
        origin: &BlobOrigin,
    ) -> Result<u64, TaskError> {
        if writer.already_written(digest).await {
            return Ok(0);
        }
        let (dest_side, repo) = match origin {
            BlobOrigin::Staging => {
                let bytes = staging.read_blob(digest).map_err(layout_error)?;
                writer
                    .write_blob(digest, bytes_stream(bytes))
                    .await
                    .map_err(archive_error)?;
                return Ok(0);
            }
            BlobOrigin::Registry { dest_side, repo } => (*dest_side, repo),
        };
        let client = if dest_side {
            &cx.sides.dest
        } else {
            &cx.sides.source
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _permit = cx.from_source.permits.acquire(&[repo.registry()]).await;
            let stream = client
                .get_blob(repo, digest)
                .await
                .map_err(|e| TaskError::from_diagnostic(Exit::Remote, &e))?;
            // The bytes count in the run's progress as they arrive, like an upload's.
            let (meter, what) = (cx.sides.dest.meter(), digest.to_string());
            let mut seen = 0;
            let stream = stream
                .inspect({
                    let (meter, what) = (meter.clone(), what.clone());
                    move |piece| {
                        if let Ok(b) = piece {
                            seen += b.len() as u64;
                            meter.advance(&what, b.len() as u64, seen, size);
                        }
                    }
                })
                .boxed();
            let written = writer.write_blob(digest, stream).await;
            if written.is_err() {
                meter.ended(&what);
            }
            match written {
                Ok(n) => return Ok(n),
                Err(
                    ArchiveError::Source { .. }
                    | ArchiveError::SourceSize { .. }
                    | ArchiveError::SourceDigest { .. },
                ) if attempt == 1 => client.note_retry(repo.registry()),
                Err(e) => {
                    let mut err = archive_error(e);
                    err.message = format!("{repo}: {}", err.message);
                    return Err(err);
                }
            }
        }
    }

    /// `airlift/carried.json`, the signatures of the carried releases (those the workspace
    /// verified) and the graph-data tarball.
    fn add_carried(&self, layout: &mut ArchiveLayout) -> Result<(), TaskError> {
        if self.carried.is_empty() {
            return Ok(());
        }
        layout
            .add_file(CARRIED_FILE, self.carried.to_bytes())
            .map_err(archive_error)?;
        let mut payloads: Vec<&Digest> = self
            .carried
            .releases
            .iter()
            .filter_map(|r| r.payload.digest())
            .collect();
        payloads.sort();
        payloads.dedup();
        for digest in payloads {
            let saved = crate::task::saved_signatures(&self.signatures_dir, digest);
            for (i, bytes) in saved.iter().enumerate() {
                let path = format!(
                    "{SIGNATURES_PREFIX}sha256={}/signature-{}",
                    digest.hex(),
                    i + 1
                );
                layout
                    .add_file(&path, bytes.clone())
                    .map_err(archive_error)?;
            }
        }
        let cache = crate::discover::ManifestCache::new(&self.chart_cache);
        let mut packed: Vec<&Digest> = self
            .carried
            .charts
            .iter()
            .filter(|c| c.oci.is_none())
            .map(|c| &c.archive_digest)
            .collect();
        packed.sort();
        packed.dedup();
        for digest in packed {
            let bytes = cache.get(digest).ok_or_else(|| {
                TaskError::new(
                    Exit::Io,
                    format!(
                        "the chart archive {digest} is missing from {}",
                        self.chart_cache.display()
                    ),
                    "rerun `airlift build`: the chart is fetched again",
                )
            })?;
            layout
                .add_file(&chart_file(digest), bytes)
                .map_err(archive_error)?;
        }
        if let (Some(g), Some(path)) = (&self.carried.graph, &self.graph_tarball) {
            let bytes = std::fs::read(path).map_err(|e| {
                TaskError::new(
                    Exit::Io,
                    format!("cannot read the graph data {}: {e}", path.display()),
                    "run `airlift update` to fetch the graph data again",
                )
            })?;
            if Digest::of(&bytes) != g.tarball_digest {
                return Err(TaskError::new(
                    Exit::Io,
                    format!("{} changed while airlift ran", path.display()),
                    "rerun `airlift build`",
                ));
            }
            layout
                .add_file(GRAPH_DATA_FILE, bytes)
                .map_err(archive_error)?;
        }
        Ok(())
    }
}

/// What the earlier archives of the target shipped, per archive, with when (the workspace's
/// `state/shipped-<target>.json`).
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Shipped {
    #[serde(default)]
    archives: Vec<ShippedArchive>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
struct ShippedArchive {
    sequence: u64,
    id: Digest,
    /// Seconds since the epoch.
    shipped: i64,
    blobs: BTreeSet<Digest>,
}

impl Shipped {
    /// The archives the directory's series still lists (a deleted directory or archive
    /// starts over); none when the file is absent or unreadable, so the next archive carries
    /// everything, which is safe.
    fn read(path: &Path, series: &SeriesIndex) -> Shipped {
        let mut shipped: Shipped = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        shipped.archives.retain(|a| {
            series
                .archives
                .iter()
                .any(|e| e.sequence == a.sequence && e.id == a.id)
        });
        shipped
    }

    /// The blobs a new archive need not carry, and with `since` the first archive whose blobs
    /// it carries again (the archives shipped at or after `since`).
    fn before(&self, since: Option<i64>) -> (BTreeSet<Digest>, Option<u64>) {
        let mut skip = BTreeSet::new();
        let mut resends_from = None;
        for a in &self.archives {
            if since.is_some_and(|t| a.shipped >= t) {
                resends_from = Some(resends_from.map_or(a.sequence, |r: u64| r.min(a.sequence)));
            } else {
                skip.extend(a.blobs.iter().cloned());
            }
        }
        (skip, resends_from)
    }

    fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::state::write_atomic(path, text.as_bytes())
    }
}
