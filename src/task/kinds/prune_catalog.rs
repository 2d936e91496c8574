//! The `prune-catalog` kind: an operator catalog rebuilt with its filtered FBC for every
//! platform and pushed to its destination (`task::prune`). Depends on the copies of everything
//! the filtered catalog lists. Recorded under the destination reference; confirmed by a
//! manifest HEAD there.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::discover::CatalogImage;
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef};
use crate::plan::{TaskKey, filter_json};
use crate::state::KindName;
use crate::task::{Counts, prune_catalog};

/// Rebuild an operator catalog with its filtered FBC for every platform and push it (its
/// original layers, two new layers, new configs and manifests, the index) to `dest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PruneSpec {
    /// The `catalog` set.
    pub set: String,
    /// The catalog image as the recipe names it.
    pub origin: ImageRef,
    /// The source catalog pinned to `digest`.
    pub from: ImageRef,
    pub digest: Digest,
    pub dest: ImageRef,
    /// Bundles the filter kept.
    pub bundles: usize,
    /// What discovery read (manifests, configs, layer descriptors, filtered catalog).
    #[serde(skip)]
    pub input: CatalogInput,
}

/// The discovered catalog a prune task rebuilds; compared by set and digest (the task key
/// covers the filter and options).
#[derive(Clone)]
pub struct CatalogInput(pub Arc<CatalogImage>);

impl PartialEq for CatalogInput {
    fn eq(&self, other: &Self) -> bool {
        self.0.set == other.0.set && self.0.fetched.digest == other.0.fetched.digest
    }
}

impl Eq for CatalogInput {}

impl fmt::Debug for CatalogInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CatalogInput({}@{})", self.0.set, self.0.fetched.digest)
    }
}

impl Kind for PruneSpec {
    const NAME: KindName = KindName::PruneCatalog;

    fn key(&self) -> TaskKey {
        let found = &self.input.0;
        let rebuild = &found.fetched.rebuild;
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.digest],
            &json!({
                "dest": self.dest.to_string(),
                "filter": filter_json(&found.filter),
                "configs-dir": rebuild.configs_dir,
                "cache-dir": rebuild.cache_dir,
                "mtime": rebuild.mtime,
            }),
        )
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
        let work = async {
            let done = prune_catalog(self, &cx.sides.source, &cx.sides.dest, cx.placed)
                .await
                .map_err(|e| {
                    TaskError::new(
                        Exit::Remote,
                        e.to_string(),
                        "check the registries' reachability and credentials, then rerun `airlift build`: finished work is not repeated",
                    )
                })?;
            Ok(Output {
                digest: done.digest,
                counts: Counts {
                    bytes: done.bytes,
                    ..Counts::default()
                },
            })
        };
        let source = match &self.input.0.fetched.archive {
            Some(dir) => format!("{} (archive {})", self.from, dir.display()),
            None => self.from.to_string(),
        };
        let dest = self.dest.to_string();
        super::reported(cx, inputs.job, source, dest, work).await
    }
}
