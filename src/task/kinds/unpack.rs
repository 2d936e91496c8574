//! The `unpack` kind (disk-to-mirror): one image pushed from the archives of a `file://` target
//! into a registry target that needs it. Blobs are read straight from the chunks by offset
//! (`archive::ArchiveReader`), never extracted. Before the first push of a build, every archive
//! of the directory is opened once (`ArchiveSet::shared`): every chunk's size and sha256, every
//! tar entry (absolute paths, `..`, links and devices refused) and every blob's digest are
//! checked; an archive of the series whose chunks are missing stops everything, naming it.
//! Blobs the destination holds are not sent. It is a copy from another store, so the planner
//! treats it as a copy. Recorded under the destination reference; confirmed by a manifest HEAD.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::json;

use super::{Check, CopySpec, Inputs, Kind, Output, RunCx, TaskError};
use crate::archive::{ArchiveSet, SeriesError};
use crate::exit::Exit;
use crate::oci::{Digest, Repository};
use crate::plan::TaskKey;
use crate::registry::{Manifest, RegistryClient, RegistryError};
use crate::store::ImageStore;
use crate::task::{Counts, PlacedBlobs, Placement, copy_blob};

/// Push one image from the archives of `dir` to `copy.dest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnpackSpec {
    /// `copy.from` is the image as the recipe names it, pinned; `copy.dest` where it goes.
    pub copy: CopySpec,
    /// The archive target and its directory.
    pub archive: String,
    pub dir: PathBuf,
}

impl Kind for UnpackSpec {
    const NAME: super::KindName = super::KindName::Unpack;

    fn key(&self) -> TaskKey {
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.copy.digest],
            &json!({"dest": self.copy.dest.to_string(), "dir": self.dir}),
        )
    }

    fn slot(&self) -> String {
        self.copy.dest.to_string()
    }

    fn source_digest(&self) -> Digest {
        self.copy.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Registry(self.copy.dest.to_string())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let source = format!("{} (archive {})", self.copy.origin, self.dir.display());
        let work = self.unpack(&cx.sides.dest, cx.placed);
        super::reported(cx, inputs.job, source, self.copy.dest.to_string(), work).await
    }
}

impl UnpackSpec {
    async fn unpack(
        &self,
        dest: &RegistryClient,
        placed: &PlacedBlobs,
    ) -> Result<Output, TaskError> {
        let set = ArchiveSet::shared(&self.dir)
            .await
            .map_err(|e| series_error(&e))?;
        let repo = self.copy.dest.repository();
        // One writer per (repository, image): a release component shared by two releases is
        // unpacked twice (once per tag); the second finds everything there.
        let image_lock = set.lock(repo, &self.copy.digest);
        let _writing = image_lock.lock().await;
        let manifest = manifest_of(&set, &self.copy.digest, &self.dir).await?;
        let mut counts = Counts::default();
        push_children(&set, dest, repo, &manifest, &self.dir, placed, &mut counts).await?;
        let reference = self
            .copy
            .dest
            .tag()
            .map_or_else(|| manifest.digest.to_string(), str::to_string);
        dest.put_manifest(repo, &reference, &manifest.media_type, &manifest.bytes)
            .await
            .map_err(|e| remote(&e))?;
        counts.manifests_pushed += 1;
        Ok(Output {
            digest: manifest.digest,
            counts,
        })
    }
}

/// Archives that cannot be read: damaged ones fail verification, a missing index is input.
pub(crate) fn series_error(e: &SeriesError) -> TaskError {
    TaskError {
        exit: if e.is_damage() {
            Exit::Verification
        } else {
            Exit::InvalidInput
        },
        message: e.to_string(),
        help: e.help(),
    }
}

fn remote(e: &RegistryError) -> TaskError {
    TaskError::from_diagnostic(Exit::Remote, e)
}

fn missing(digest: &Digest, dir: &Path) -> TaskError {
    TaskError::new(
        Exit::Verification,
        format!(
            "{digest} is in no archive of {} and not at the destination",
            dir.display()
        ),
        "apply the archives in order: keep every archive of the series in the directory (copy the missing chunks from the connected side)",
    )
}

async fn manifest_of(set: &ArchiveSet, digest: &Digest, dir: &Path) -> Result<Manifest, TaskError> {
    let bytes = set
        .bytes(digest)
        .await
        .ok_or_else(|| missing(digest, dir))?;
    Manifest::from_stored(bytes, digest).ok_or_else(|| {
        TaskError::new(
            Exit::Verification,
            format!("{digest} in {} is not a manifest", dir.display()),
            "the archive is damaged: copy it again from the connected side",
        )
    })
}

/// Pushes every blob and child manifest `m` names (children first, by digest), skipping what
/// the destination repository holds.
fn push_children<'a>(
    set: &'a Arc<ArchiveSet>,
    dest: &'a RegistryClient,
    repo: &'a Repository,
    m: &'a Manifest,
    dir: &'a Path,
    placed: &'a PlacedBlobs,
    counts: &'a mut Counts,
) -> BoxFuture<'a, Result<(), TaskError>> {
    Box::pin(async move {
        let doc = m.doc(repo.registry()).map_err(|e| remote(&e))?;
        for child in &doc.manifests {
            let lock = set.lock(repo, &child.digest);
            let _held = lock.lock().await;
            let at = repo.with_digest(child.digest.clone());
            if dest
                .head_manifest(&at)
                .await
                .map_err(|e| remote(&e))?
                .as_ref()
                == Some(&child.digest)
            {
                continue;
            }
            let cm = manifest_of(set, &child.digest, dir).await?;
            push_children(set, dest, repo, &cm, dir, placed, counts).await?;
            dest.put_manifest(repo, &cm.digest.to_string(), &cm.media_type, &cm.bytes)
                .await
                .map_err(|e| remote(&e))?;
            counts.manifests_pushed += 1;
        }
        let from = (ImageStore::Archive(set.clone()), repo.clone());
        for blob in doc.config.iter().chain(&doc.layers) {
            // Images sharing a blob: one uploads it, the others wait and then find it or mount
            // it from that repository.
            let blob_lock = set.lock_in(repo.registry(), &blob.digest);
            let _uploading = blob_lock.lock().await;
            if set.find(&blob.digest).is_none()
                && !dest
                    .blob_exists(repo, &blob.digest)
                    .await
                    .map_err(|e| remote(&e))?
            {
                return Err(missing(&blob.digest, dir));
            }
            // Present, mounted from a repository this run placed it in, or streamed from the
            // chunks.
            let at = Placement {
                client: dest,
                repo,
                digest: &blob.digest,
                size: blob.size,
            };
            let sent = copy_blob(&from, &at, placed)
                .await
                .map_err(|e| remote(&e))?;
            if sent > 0 {
                counts.bytes += sent;
                counts.blobs_uploaded += 1;
            } else {
                counts.blobs_present += 1;
            }
        }
        Ok(())
    })
}
