//! The `push-chart` kind: a Helm chart from a classic repository or a local chart, packed as an
//! OCI chart artifact (`helm::artifact`) and pushed to `<target>/<path>:<version>`, so
//! `helm install oci://…` works from the disconnected side. Its key names the chart archive's
//! bytes, so a no-op build reads nothing but one manifest HEAD. Recorded under the destination
//! reference; confirmed by a manifest HEAD there.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::helm::{Chart, artifact};
use crate::oci::{Digest, ImageRef};
use crate::plan::TaskKey;
use crate::state::KindName;
use crate::task::Counts;

/// Pack one chart archive as an OCI artifact and push it to `dest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChartSpec {
    /// The `helm` set.
    pub set: String,
    /// Where the chart came from (repository URL or local path) and its name and version.
    pub repository: String,
    pub chart: String,
    pub version: String,
    /// The chart archive in the workspace cache, and the digest of its bytes when planned.
    pub archive: PathBuf,
    pub archive_digest: Digest,
    pub dest: ImageRef,
    /// `org.opencontainers.image.created` (from `SOURCE_DATE_EPOCH`), or none.
    pub created: Option<String>,
}

impl Kind for ChartSpec {
    const NAME: KindName = KindName::PushChart;

    fn key(&self) -> TaskKey {
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.archive_digest],
            &json!({
                "created": self.created,
                "dest": self.dest.to_string(),
            }),
        )
    }

    fn slot(&self) -> String {
        self.dest.to_string()
    }

    fn source_digest(&self) -> Digest {
        self.archive_digest.clone()
    }

    fn check(&self) -> Check {
        Check::Registry(self.dest.to_string())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let source = format!(
            "chart {} {} ({})",
            self.chart, self.version, self.repository
        );
        let work = self.pack_and_push(cx);
        super::reported(cx, inputs.job, source, self.dest.to_string(), work).await
    }
}

impl ChartSpec {
    async fn pack_and_push(&self, cx: &RunCx<'_>) -> Result<Output, TaskError> {
        let bytes = std::fs::read(&self.archive).map_err(|e| {
            TaskError::new(
                Exit::Io,
                format!(
                    "chart {} {}: cannot read its archive {}: {e}",
                    self.chart,
                    self.version,
                    self.archive.display()
                ),
                "rerun `airlift build`: the chart is fetched again",
            )
        })?;
        if Digest::of(&bytes) != self.archive_digest {
            return Err(TaskError::new(
                Exit::Io,
                format!(
                    "chart {} {}: {} changed while airlift ran",
                    self.chart,
                    self.version,
                    self.archive.display()
                ),
                "rerun `airlift build`",
            ));
        }
        let chart =
            Chart::from_archive(&self.archive.display().to_string(), &bytes).map_err(|e| {
                TaskError::new(
                    Exit::InvalidInput,
                    format!("chart {} {}: {e}", self.chart, self.version),
                    "fix or replace the chart, then rerun `airlift build`",
                )
            })?;
        let size = bytes.len() as u64;
        let packed = artifact::build(&chart, bytes, self.created.as_deref());
        let digest = artifact::push(&cx.sides.dest, &self.dest, &packed)
            .await
            .map_err(|e| {
                TaskError::new(
                    Exit::Remote,
                    format!("chart push to {}: {e}", self.dest),
                    "check the destination registry's reachability and credentials, then rerun",
                )
            })?;
        Ok(Output {
            digest,
            counts: Counts {
                bytes: size,
                ..Counts::default()
            },
        })
    }
}
