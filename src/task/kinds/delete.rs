//! The `delete` kind: one manifest of a reviewed deletion list (`airlift delete NAME`, phase
//! one) removed from its repository by digest, then the tags phase one saw on it wherever the
//! registry kept them (CNCF distribution drops a manifest's tags with it; registries that keep
//! them get a DELETE by tag).
//!
//! Crash-safe by construction: a manifest that is already gone counts as deleted, so a rerun
//! after a kill finishes the list and deletes nothing else. Recorded under `<repo>@<digest>`;
//! that record is a tombstone in the journal (see `state::journal`), and the record alone
//! confirms the task. A registry that refuses deletion fails the task with
//! `RegistryError::DeleteRefused` (what to enable, and that nothing was deleted).

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef, Repository};
use crate::plan::TaskKey;
use crate::task::Counts;

/// Delete one manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeleteSpec {
    /// The delete set of the recipe.
    pub delete: String,
    pub repository: Repository,
    pub digest: Digest,
    /// Tags of the repository that pointed at it when the list was written.
    pub tags: Vec<String>,
}

impl DeleteSpec {
    /// `registry/repo@sha256:…`.
    pub fn manifest(&self) -> ImageRef {
        self.repository.with_digest(self.digest.clone())
    }
}

impl Kind for DeleteSpec {
    const NAME: super::KindName = super::KindName::Delete;

    fn key(&self) -> TaskKey {
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.digest],
            &json!({ "manifest": self.manifest().to_string(), "tags": self.tags }),
        )
    }

    fn slot(&self) -> String {
        self.manifest().to_string()
    }

    fn source_digest(&self) -> Digest {
        self.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Record
    }

    async fn run(&self, cx: &RunCx<'_>, inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        use crate::exec::Event;
        let client = &cx.sides.dest;
        let failed =
            |e: crate::registry::RegistryError| TaskError::from_diagnostic(Exit::Remote, &e);
        let manifest = self.manifest();
        let image = manifest.to_string();
        cx.events.send(Event::JobStarted {
            job: inputs.job,
            source: image.clone(),
            dest: image.clone(),
        });
        let work = async {
            let existed = client.delete_manifest(&manifest).await.map_err(failed)?;
            for tag in &self.tags {
                let tagged = self.repository.with_tag(tag);
                // Only a tag that still names the deleted manifest: a tag moved since phase
                // one names something else now and stays.
                if client
                    .head_manifest(&tagged)
                    .await
                    .map_err(failed)?
                    .as_ref()
                    == Some(&self.digest)
                {
                    client.delete_manifest(&tagged).await.map_err(failed)?;
                }
            }
            Ok::<bool, TaskError>(existed)
        };
        match work.await {
            Ok(existed) => {
                cx.events.send(Event::ManifestDeleted {
                    job: inputs.job,
                    image,
                    existed,
                });
                Ok(Output {
                    digest: self.digest.clone(),
                    counts: Counts::default(),
                })
            }
            Err(e) => {
                cx.events.send(Event::JobFailed {
                    job: inputs.job,
                    source: image,
                    error: e.message.clone(),
                });
                Err(e)
            }
        }
    }
}
