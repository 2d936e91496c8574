//! What every pipeline command (`plan`, `build`, `lock`, `update`, `verify`, `resources`) sets up
//! first: the recipe, the workspace and its lock, the lock file, the journal, the registry
//! clients, and the goals of the selected targets. Errors here carry their exit class.

use std::path::PathBuf;

use super::Options;
use crate::discover::{ManifestCache, Sides};
use crate::exit::{Exit, Failure};
use crate::plan::{self, TargetGoal};
use crate::recipe::{self, Recipe};
use crate::state::{Journal, LockFile, Workspace, WorkspaceError, WorkspaceGuard};

pub struct Session {
    pub recipe: Recipe,
    pub lock_path: PathBuf,
    pub workspace: Workspace,
    /// Registry clients, built once per command so every stage shares their registry pings,
    /// token caches and connection pools.
    sides: std::sync::OnceLock<Sides>,
    /// The update-graph and signature-store client (`Options::web`).
    pub web: crate::web::WebClient,
    /// `build --shard K/N`: this process holds the shard's lock, not the workspace's, and
    /// records in the shard's journal.
    pub shard: Option<plan::Shard>,
    _guard: WorkspaceGuard,
}

impl Session {
    /// Loads and validates the recipe and takes the workspace lock.
    pub fn open(global: &Options) -> Result<Self, Failure> {
        Session::open_as(global, None)
    }

    /// [`Session::open`], as shard `shard` of a sharded build when given: it takes that
    /// shard's lock (the shards of one build run at once on one workspace).
    pub fn open_as(global: &Options, shard: Option<plan::Shard>) -> Result<Self, Failure> {
        let recipe = recipe::load(&global.recipe)
            .map_err(|e| Failure::unreadable_or_invalid(e.is_io(), e))?;
        let workspace = Workspace::for_recipe(&global.recipe, global.workspace.as_deref());
        let locked = match shard {
            Some(s) => workspace.lock_shard(s.index, s.count),
            None => workspace.lock(),
        };
        let guard = locked.map_err(|e| match e {
            WorkspaceError::Busy { .. } => Failure::new(
                Exit::WorkspaceBusy,
                miette::miette!(
                    help = "wait for the other run to finish, or give this one its own --workspace",
                    "{e}"
                ),
            ),
            WorkspaceError::Io { .. } => Failure::io(e),
        })?;
        let lock_path = global.recipe.with_file_name("airlift.lock");
        let web = global.web()?;
        Ok(Session {
            web,
            recipe,
            lock_path,
            workspace,
            sides: std::sync::OnceLock::new(),
            shard,
            _guard: guard,
        })
    }

    pub fn read_lock(&self) -> Result<Option<LockFile>, Failure> {
        LockFile::read(&self.lock_path).map_err(|e| {
            Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = "fix or delete the file; `airlift lock` writes a new one",
                    "{e}"
                ),
            )
        })
    }

    /// The journal; a shard's is its own file over the workspace's ([`Journal::open_over`]).
    pub fn journal(&self) -> Result<Journal, Failure> {
        let main = self.workspace.journal_path();
        match self.shard {
            Some(s) => Journal::open_over(&self.workspace.shard_journal(s.index, s.count), &main),
            None => Journal::open(&main),
        }
        .map_err(|e| match e {
            crate::state::JournalError::Damaged { .. } => {
                Failure::new(Exit::InvalidInput, miette::Report::new(e))
            }
            e => Failure::io(e),
        })
    }

    /// The registry clients of this command (see [`sides`]); cheap to clone.
    pub fn sides(&self, global: &Options) -> Result<Sides, Failure> {
        if let Some(s) = self.sides.get() {
            return Ok(s.clone());
        }
        let built = global.sides()?;
        Ok(self.sides.get_or_init(|| built).clone())
    }

    pub fn cache(&self) -> ManifestCache {
        ManifestCache::new(&self.workspace.manifest_cache())
    }

    /// Goals of the selected targets (all when none) and what they need.
    pub fn goals(&self, targets: &[String]) -> Result<Vec<TargetGoal>, Failure> {
        for t in targets {
            if self.recipe.target(t).is_none() {
                let names: Vec<&str> = self
                    .recipe
                    .targets
                    .iter()
                    .map(|t| t.name.value.as_str())
                    .collect();
                return Err(Failure::new(
                    Exit::InvalidInput,
                    miette::miette!(
                        help = format!("the recipe's targets are: {}", names.join(", ")),
                        "no target named `{t}` in the recipe"
                    ),
                ));
            }
        }
        plan::expand(&self.recipe, targets).map_err(|unsupported| {
            let lines: Vec<String> = unsupported
                .iter()
                .map(|u| format!("target `{}` needs {}", u.target, u.what))
                .collect();
            Failure::new(
                Exit::NotAvailable,
                miette::miette!(
                    help = "this version mirrors `images`, `release` and `catalog` sets to registry (docker://) targets, and `images` and `release` sets to OCI layout (oci://) targets; nothing was changed",
                    "not available yet:\n  {}",
                    lines.join("\n  ")
                ),
            )
        })
    }
}

impl Session {
    /// The goal of one registry target, for the commands that read a registry target
    /// (`verify`, `resources`): an archive or OCI layout target is refused, naming what reads it.
    pub fn registry_goal(&self, target: &str, command: &str) -> Result<TargetGoal, Failure> {
        let goals = self.goals(&[target.to_string()])?;
        let goal = goals
            .into_iter()
            .find(|g| g.name == target)
            .ok_or_else(|| {
                Failure::new(
                    Exit::Internal,
                    miette::miette!("target `{target}` has no goal"),
                )
            })?;
        if goal.layout.is_some() || goal.archive.is_some() {
            return Err(Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = "`airlift describe DIR` shows what an archive directory holds; `skopeo inspect oci:DIR:NAME` reads an OCI layout",
                    "`airlift {command}` reads a registry target; `{target}` is a directory"
                ),
            ));
        }
        Ok(goal)
    }
}
