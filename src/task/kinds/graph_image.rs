//! The `build-graph-image` kind (`graph #true`): the update-graph data image, built from the
//! stored graph-data tarball on the release set's `graph-base-image` (pinned in the lock) and
//! pushed to `<target>/openshift/graph-image:latest` (`release::graph_image` builds it,
//! `task::graph_image` pushes it). Its key names the tarball's bytes and the base digest, so a
//! no-op build needs neither the source registry nor the graph-data URL. Recorded under the
//! destination reference; confirmed by a manifest HEAD there.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::archive::ArchiveSet;
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef};
use crate::plan::TaskKey;
use crate::release::{build_graph_data_layer, image_from_scratch, image_on_base};
use crate::state::KindName;
use crate::store::ImageStore;
use crate::task::{BaseSource, push_graph_image, read_graph_base};

/// Build the graph-data image of a release set and push it to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphImageSpec {
    /// The release set with `graph #true`.
    pub release_set: String,
    pub dest: ImageRef,
    /// The stored graph-data tarball and the digest of its bytes when planned.
    pub tarball: PathBuf,
    pub tarball_digest: Digest,
    /// The base image pinned by digest; `None` builds from scratch.
    pub base: Option<ImageRef>,
    /// The archive directory the base is read from (disk-to-mirror); `None` reads it from the
    /// source registry.
    pub base_archive: Option<PathBuf>,
    /// The architecture of the image (of its base's index).
    pub arch: String,
    /// The mtime of the layer's entries (0, or SOURCE_DATE_EPOCH).
    pub mtime: u64,
}

impl Kind for GraphImageSpec {
    const NAME: KindName = KindName::BuildGraphImage;

    fn key(&self) -> TaskKey {
        let mut inputs = vec![&self.tarball_digest];
        inputs.extend(self.base.as_ref().and_then(|b| b.digest()));
        let base = self
            .base
            .as_ref()
            .map_or_else(|| "scratch".to_string(), ToString::to_string);
        TaskKey::compute(
            Self::NAME.as_str(),
            &inputs,
            &json!({
                "arch": self.arch,
                "base": base,
                "dest": self.dest.to_string(),
                "mtime": self.mtime,
            }),
        )
    }

    fn slot(&self) -> String {
        self.dest.to_string()
    }

    fn source_digest(&self) -> Digest {
        self.tarball_digest.clone()
    }

    fn check(&self) -> Check {
        Check::Registry(self.dest.to_string())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let source = format!("graph data of release `{}`", self.release_set);
        let work = self.build_and_push(cx);
        super::reported(cx, inputs.job, source, self.dest.to_string(), work).await
    }
}

impl GraphImageSpec {
    async fn build_and_push(&self, cx: &RunCx<'_>) -> Result<Output, TaskError> {
        let name = &self.release_set;
        let tarball = std::fs::read(&self.tarball).map_err(|e| {
            TaskError::new(
                Exit::Io,
                format!(
                    "graph-data image: cannot read the stored graph data {}: {e}",
                    self.tarball.display()
                ),
                "run `airlift update` to fetch the graph data again",
            )
        })?;
        if Digest::of(&tarball) != self.tarball_digest {
            return Err(TaskError::new(
                Exit::Io,
                format!(
                    "graph-data image: {} changed while airlift ran",
                    self.tarball.display()
                ),
                "rerun `airlift build`",
            ));
        }
        let layer = build_graph_data_layer(&tarball, self.mtime).map_err(|e| {
            TaskError::new(
                Exit::Remote,
                format!("graph-data image: {e}"),
                "the graph-data tarball must be Cincinnati's graph-data (channels/, blocked-edges/)",
            )
        })?;
        let store = match &self.base_archive {
            Some(dir) => ImageStore::Archive(
                ArchiveSet::shared(dir)
                    .await
                    .map_err(|e| super::unpack::series_error(&e))?,
            ),
            None => ImageStore::Registry(cx.sides.source.clone()),
        };
        let base = match &self.base {
            None => None,
            Some(reference) => Some(
                read_graph_base(&store, reference, &self.arch)
                    .await
                    .map_err(|e| TaskError::new(
                        Exit::Remote,
                        format!(
                            "graph-data image: cannot read its base image `{reference}` (linux/{}): {e}",
                            self.arch
                        ),
                        format!(
                            "make `{reference}` readable from the source side (mirror it there, check credentials and TLS flags), or set `graph-base-image=\"<reachable image>\"` on release `{name}`; `graph-base-image=\"scratch\"` builds the image without a base (its copy command then cannot run)"
                        ),
                    ))?,
            ),
        };
        let image = match &base {
            None => image_from_scratch(&layer, &self.arch),
            Some(b) => image_on_base(&b.config, &b.layers, &layer).map_err(|e| {
                TaskError::new(
                    Exit::Remote,
                    format!("graph-data image on `{}`: {e}", b.image),
                    format!(
                        "set `graph-base-image=\"<image>\"` on release `{name}` to a regular Linux image with a shell (e.g. a UBI image)"
                    ),
                )
            })?,
        };
        let digest = push_graph_image(
            &cx.sides.dest,
            &self.dest,
            &image,
            &layer,
            base.as_ref().map(|b| BaseSource {
                client: &store,
                base: b,
            }),
        )
        .await
        .map_err(|e| {
            TaskError::new(
                Exit::Remote,
                format!("graph-data image push to {}: {e}", self.dest),
                "check the destination registry's reachability and credentials, then rerun",
            )
        })?;
        Ok(Output {
            digest,
            counts: Default::default(),
        })
    }
}
