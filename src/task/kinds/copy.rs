//! The `copy` kind: one image (with its children, blobs and attachments) to one destination
//! reference, through the run's shared copy engine (`task::copy`). Recorded under the
//! destination reference; confirmed by a manifest HEAD there.

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::oci::{Digest, ImageRef};
use crate::plan::{TaskId, TaskKey};
use crate::state::KindName;
use crate::task::CopyJob;

/// Copy one image (with every child, blob and attachment) to one destination reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// Where the bytes come from (pinned to `digest`): the original source, or the destination
    /// of the target this target needs.
    pub from: ImageRef,
    /// The reference as the recipe names it (for reports and cluster resources).
    pub origin: ImageRef,
    pub digest: Digest,
    pub dest: ImageRef,
    pub platforms: Option<Vec<String>>,
    pub signatures: bool,
    /// The task that filled `from` (a copy or catalog rebuild of a needed target): the copy
    /// reads from the destination side, and a `from` named by tag is pinned to the digest that
    /// task produced. `None` reads the original source.
    pub from_task: Option<TaskId>,
    /// For the copy of a catalog rebuilt by a needed target: the rebuild's key (it names the
    /// bytes, which are not known before the rebuild runs).
    pub rebuild: Option<TaskKey>,
}

impl Kind for CopySpec {
    const NAME: KindName = KindName::Copy;

    fn key(&self) -> TaskKey {
        let dest = self.dest.to_string();
        let params = match &self.rebuild {
            Some(k) => json!({"dest": dest, "catalog": k.as_str()}),
            None => json!({
                "dest": dest,
                "platforms": self.platforms,
                "signatures": self.signatures,
            }),
        };
        TaskKey::compute(Self::NAME.as_str(), &[&self.digest], &params)
    }

    fn slot(&self) -> String {
        self.dest.to_string()
    }

    fn source_digest(&self) -> Digest {
        self.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Registry(self.dest.to_string())
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let (engine, source) = match &self.from_task {
            None => (cx.from_source, self.from.clone()),
            Some(dep) => {
                let pinned = match (self.from.digest(), inputs.deps.get(dep)) {
                    (None, Some(d)) => self.from.pinned(d.clone()),
                    _ => self.from.clone(),
                };
                (cx.from_dest, pinned)
            }
        };
        let job = CopyJob {
            source,
            dest: self.dest.clone(),
            platforms: self.platforms.clone(),
            signatures: self.signatures,
        };
        let copied = engine
            .copy_one(inputs.job, &job)
            .await
            .map_err(|e| TaskError::from_diagnostic(e.exit(), &e))?;
        Ok(Output {
            digest: copied.digest,
            counts: copied.counts,
        })
    }
}
