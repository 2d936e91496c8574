//! The `render-resources` kind: a target's cluster resources, written from what the journal
//! records it holds (`resources::render_held`). It runs after every task of its target, whether
//! they succeeded or not, so what is held is always described. Recorded under
//! `render-resources:<target>` with the digest of the files written; fresh when no task of the
//! target ran, its key is unchanged and the files on disk still have that digest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Loaded, Output, RunCx, TaskError};
use crate::exec::Event;
use crate::exit::Exit;
use crate::oci::Digest;
use crate::plan::{CatalogGoal, Destination, GoalItem, TaskKey};
use crate::resources::{HeldError, HeldInput, ResourceOptions, dir_digest, render_held};
use crate::state::{KindName, LockFile};

/// Write the cluster resources of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenderSpec {
    pub target: String,
    #[serde(skip)]
    pub dest: Destination,
    /// Everything the target holds when complete.
    #[serde(skip)]
    pub items: Vec<GoalItem>,
    #[serde(skip)]
    pub catalogs: Vec<CatalogGoal>,
    /// The target carries a release set with `graph #true`.
    pub graph: bool,
    #[serde(skip)]
    pub options: ResourceOptions,
    /// `catalog-source-template` per catalog set: the name the recipe gives it and its path.
    #[serde(skip)]
    pub templates: BTreeMap<String, (String, PathBuf)>,
    /// The lock of this build and the digest of its text.
    #[serde(skip)]
    pub lock: Loaded<LockFile>,
    pub lock_digest: Digest,
    #[serde(skip)]
    pub signatures_dir: PathBuf,
    /// `<workspace>/out/<target>/cluster-resources`.
    pub dir: PathBuf,
}

impl RenderSpec {
    /// What `resources::render_held` reads.
    pub fn input(&self) -> HeldInput<'_> {
        HeldInput {
            dest: &self.dest,
            items: &self.items,
            catalogs: &self.catalogs,
            graph: self.graph,
            options: &self.options,
            templates: &self.templates,
            lock: Some(&self.lock),
            signatures_dir: &self.signatures_dir,
            dir: &self.dir,
        }
    }
}

impl RenderSpec {
    /// The journal slot of a target's resources (discovery reports their digest under it).
    pub fn slot_of(target: &str) -> String {
        format!("render-resources:{target}")
    }
}

impl Kind for RenderSpec {
    const NAME: KindName = KindName::RenderResources;

    fn key(&self) -> TaskKey {
        let mut items: Vec<String> = self
            .items
            .iter()
            .map(|i| match i.dest(&self.dest) {
                Ok(d) => format!("{} {} {:?} {d}", i.set, i.origin, i.category),
                Err(_) => format!("{} {} {:?}", i.set, i.origin, i.category),
            })
            .collect();
        items.sort();
        let mut catalogs: Vec<String> = self
            .catalogs
            .iter()
            .map(|c| format!("{} {} {:?}", c.set, c.source, c.dest(&self.dest).ok()))
            .collect();
        catalogs.sort();
        let o = &self.options;
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.lock_digest],
            &json!({
                "target": self.target,
                "items": items,
                "catalogs": catalogs,
                "graph": self.graph,
                "scope": format!("{:?}", o.scope),
                "source-policy": format!("{:?}", o.source_policy),
                "folded": o.folded_paths,
                "icsp": o.icsp,
                "insecure": o.insecure_mirrors,
                "epoch": o.source_date_epoch,
                "templates": self.templates,
                "dir": self.dir,
            }),
        )
    }

    fn slot(&self) -> String {
        Self::slot_of(&self.target)
    }

    fn source_digest(&self) -> Digest {
        self.lock_digest.clone()
    }

    fn check(&self) -> Check {
        Check::Local(self.slot())
    }

    async fn run(&self, cx: &RunCx<'_>, _inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let fail = |e: HeldError| {
            let exit = match e {
                HeldError::Write { .. } => Exit::Io,
                _ => Exit::InvalidInput,
            };
            let help = match e {
                HeldError::Template { .. } => {
                    "fix the `catalog-source-template` path in the recipe"
                }
                HeldError::Write { .. } => {
                    "check that the workspace is writable and the disk has space, then rerun"
                }
                _ => "fix the recipe's target options, then rerun `airlift build`",
            };
            TaskError::new(exit, e.to_string(), help)
        };
        let written = {
            let journal = cx.journal.lock().unwrap_or_else(|e| e.into_inner());
            render_held(&self.input(), &journal).map_err(fail)?
        };
        let digest = dir_digest(&self.dir)
            .map_err(|source| {
                fail(HeldError::Write {
                    dir: self.dir.clone(),
                    source,
                })
            })?
            .unwrap_or_else(|| Digest::of(b""));
        cx.events.send(Event::ResourcesWritten {
            target: self.target.clone(),
            dir: written.dir.display().to_string(),
            files: written.files,
            held: written.held,
            not_held: written.not_held,
            notes: written.notes,
        });
        Ok(Output {
            digest,
            counts: Default::default(),
        })
    }
}
