//! The `write-layout` kind: one image written into an `oci://DIR` target, a plain OCI image
//! layout (`store::LayoutStore`) that `skopeo copy oci:DIR:NAME` reads; or, for an archive
//! (`file://`) target, only its manifests into the target's staging layout, from which `pack`
//! lays out the archive (the blobs go from their registries straight into the chunks). The image is named
//! `<path>:<tag>` as it would be below a registry target (`sha256-<hex>` for an image named by
//! digest). Blobs the layout holds are not read again. It is a copy to another store, so the
//! planner treats it as a copy (verifications gate it, payloads wait for their components).
//! Recorded under `write-layout:<dir>:<name>`; confirmed by reading the layout's `index.json`.

use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::json;

use super::{Check, CopySpec, Inputs, Kind, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef, Repository};
use crate::plan::TaskKey;
use crate::registry::{Manifest, RegistryError};
use crate::store::{ImageStore, LayoutEntry, LayoutError, LayoutStore};
use crate::task::Counts;

/// Write one image into an OCI image layout directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayoutSpec {
    /// The image, its source and its name (`dest` is below `plan::LAYOUT_REGISTRY`).
    pub copy: CopySpec,
    /// The layout directory.
    pub dir: PathBuf,
    /// Only the manifests: the staging layout of an archive target, whose `pack` reads the
    /// blobs from their registries straight into the archive.
    pub manifests_only: bool,
}

impl LayoutSpec {
    /// The image's name in the layout: `<path>:<tag>`.
    pub fn name(&self) -> String {
        let dest = &self.copy.dest;
        let tag = dest
            .tag()
            .map_or_else(|| self.copy.digest.tag_form(), str::to_string);
        format!("{}:{tag}", dest.repository().path())
    }

    /// The journal slot of `name` in the layout `dir` (discovery reports its digest under it).
    pub fn slot_of(dir: &Path, name: &str) -> String {
        format!("write-layout:{}:{name}", dir.display())
    }
}

impl Kind for LayoutSpec {
    const NAME: super::KindName = super::KindName::WriteLayout;

    fn key(&self) -> TaskKey {
        let mut params = json!({
            "dir": self.dir,
            "name": self.name(),
            "platforms": self.copy.platforms,
        });
        // Only when set, so the keys of `oci://` targets' tasks stay what they were.
        if self.manifests_only {
            params["manifests-only"] = json!(true);
        }
        TaskKey::compute(Self::NAME.as_str(), &[&self.copy.digest], &params)
    }

    fn slot(&self) -> String {
        Self::slot_of(&self.dir, &self.name())
    }

    fn source_digest(&self) -> Digest {
        self.copy.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Local(self.slot())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let dest = format!("oci:{}:{}", self.dir.display(), self.name());
        let work = self.write(cx, inputs);
        super::reported(cx, inputs.job, self.copy.from.to_string(), dest, work).await
    }
}

impl LayoutSpec {
    async fn write(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let c = &self.copy;
        if c.platforms.is_some() {
            return Err(TaskError::new(
                Exit::NotAvailable,
                format!(
                    "{}: `arch` filters are not available for oci:// targets yet",
                    c.origin
                ),
                "write the whole image (drop the arch filter) or use a docker:// target",
            ));
        }
        // Like a copy: the original source, or the destination of a needed target.
        let (client, from) = match &c.from_task {
            None => (&cx.sides.source, c.from.clone()),
            Some(dep) => match (c.from.digest(), inputs.deps.get(dep)) {
                (None, Some(d)) => (&cx.sides.dest, c.from.pinned(d.clone())),
                _ => (&cx.sides.dest, c.from.clone()),
            },
        };
        let source = ImageStore::Registry(client.clone());
        let store = LayoutStore::shared(&self.dir).map_err(|e| layout_error(&from, e))?;
        let remote = |e: RegistryError| TaskError::from_diagnostic(Exit::Remote, &e);
        let top = source.get_manifest(&from).await.map_err(remote)?;
        let mut counts = Counts::default();
        let tree = Tree {
            source: &source,
            repo: from.repository(),
            store: &store,
            blobs: !self.manifests_only,
        };
        tree.write(&top, &mut counts).await.map_err(|e| match e {
            LayoutError::Source(r) => remote(r),
            other => layout_error(&from, other),
        })?;
        let entry = LayoutEntry {
            media_type: top.media_type.clone(),
            digest: top.digest.clone(),
            size: top.bytes.len() as u64,
            source: Some(c.origin.to_string()),
        };
        store
            .tag(&self.name(), entry)
            .map_err(|e| layout_error(&from, e))?;
        Ok(Output {
            digest: top.digest,
            counts,
        })
    }
}

fn layout_error(image: &ImageRef, e: LayoutError) -> TaskError {
    let exit = match e {
        LayoutError::Blob { .. } => Exit::Verification,
        _ => Exit::Io,
    };
    TaskError {
        exit,
        message: format!("writing {image} into the OCI layout: {e}"),
        help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
    }
}

/// What `write` needs besides the manifest.
struct Tree<'a> {
    source: &'a ImageStore,
    repo: &'a Repository,
    store: &'a LayoutStore,
    /// Config and layers too, not only manifests.
    blobs: bool,
}

impl Tree<'_> {
    /// Writes the blobs (unless manifests only) and child manifests of `m`, then `m` itself: a
    /// manifest is stored only after everything it names.
    fn write<'a>(
        &'a self,
        m: &'a Manifest,
        counts: &'a mut Counts,
    ) -> BoxFuture<'a, Result<(), LayoutError>> {
        Box::pin(async move {
            let doc = m.doc(self.repo.registry())?;
            for child in &doc.manifests {
                if self.store.has_blob(&child.digest) {
                    continue;
                }
                let cm = self
                    .source
                    .get_manifest(&self.repo.with_digest(child.digest.clone()))
                    .await?;
                self.write(&cm, counts).await?;
            }
            for blob in doc.config.iter().chain(&doc.layers).filter(|_| self.blobs) {
                let lock = self.store.blob_lock(&blob.digest);
                let _writing = lock.lock().await;
                if self.store.has_blob(&blob.digest) {
                    counts.blobs_present += 1;
                    continue;
                }
                let stream = self.source.get_blob(self.repo, &blob.digest).await?;
                counts.bytes += self.store.put_blob(&blob.digest, blob.size, stream).await?;
                counts.blobs_uploaded += 1;
            }
            self.store.put_bytes(&m.digest, &m.bytes)?;
            counts.manifests_pushed += 1;
            Ok(())
        })
    }
}
