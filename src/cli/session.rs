//! What every pipeline command (`plan`, `build`, `lock`, `update`, `verify`, `resources`) sets up
//! first: the recipe, the workspace and its lock, the lock file, the journal, the registry
//! clients, and the goals of the selected targets. Errors here carry their exit class.

use std::path::{Path, PathBuf};

use super::GlobalOpts;
use crate::discover::{self, DiscoverOptions, Discovery, ManifestCache, Resolution, Sides};
use crate::exec::Limits;
use crate::exit::{Exit, Failure};
use crate::plan::{self, TargetGoal};
use crate::recipe::{self, Recipe};
use crate::registry::{ClientOptions, RegistryClient, TlsOptions};
use crate::state::{Journal, LockFile, LockedImage, Workspace, WorkspaceError, WorkspaceGuard};

pub(crate) struct Session {
    pub recipe: Recipe,
    pub lock_path: PathBuf,
    pub workspace: Workspace,
    /// Registry clients, built once per command so every stage shares their registry pings,
    /// token caches and connection pools.
    sides: std::sync::OnceLock<Sides>,
    _guard: WorkspaceGuard,
}

impl Session {
    /// Loads and validates the recipe and takes the workspace lock.
    pub fn open(global: &GlobalOpts) -> Result<Self, Failure> {
        let recipe = recipe::load(&global.recipe).map_err(|e| {
            let exit = if e.is_io() {
                Exit::Io
            } else {
                Exit::InvalidInput
            };
            Failure::new(exit, e)
        })?;
        let workspace = Workspace::for_recipe(&global.recipe, global.workspace.as_deref());
        let guard = workspace.lock().map_err(|e| match e {
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
        Ok(Session {
            recipe,
            lock_path,
            workspace,
            sides: std::sync::OnceLock::new(),
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

    pub fn journal(&self) -> Result<Journal, Failure> {
        Journal::open(&self.workspace.journal_path()).map_err(Failure::io)
    }

    /// The registry clients of this command (see [`sides`]); cheap to clone.
    pub fn sides(&self, global: &GlobalOpts) -> Result<Sides, Failure> {
        if let Some(s) = self.sides.get() {
            return Ok(s.clone());
        }
        let built = sides(global)?;
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
                    help = "this version mirrors `images` and `release` sets to registry (docker://) targets; nothing was changed",
                    "not available yet:\n  {}",
                    lines.join("\n  ")
                ),
            )
        })
    }
}

/// Registry clients for both sides, from the common flags.
pub(crate) fn sides(global: &GlobalOpts) -> Result<Sides, Failure> {
    let client = |verify: bool| {
        RegistryClient::new(ClientOptions {
            tls: TlsOptions {
                verify,
                cert_dir: global.cert_dir.clone(),
            },
            authfile: global.authfile.clone(),
            ..ClientOptions::default()
        })
        .map_err(|e| Failure::new(Exit::InvalidInput, e))
    };
    Ok(Sides {
        source: client(global.src_tls_verify)?,
        dest: client(global.dest_tls_verify)?,
    })
}

pub(crate) fn limits(global: &GlobalOpts) -> Limits {
    let d = Limits::default();
    match global.jobs {
        Some(j) => Limits {
            jobs: j.max(1),
            per_registry: d.per_registry.min(j.max(1)),
        },
        None => d,
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Internal,
                miette::miette!("cannot start the runtime: {e}"),
            )
        })
}

/// How `build` and `plan` resolve tags: the lock pins what it names (a no-op rerun asks sources
/// nothing); `--locked` resolves afresh to compare with the lock; `--offline` uses the lock only.
/// `lock` and `update` always resolve afresh ([`Resolution::Fresh`]).
pub(crate) fn resolution(global: &GlobalOpts) -> Resolution {
    if global.offline {
        Resolution::Offline
    } else if global.locked {
        Resolution::Fresh
    } else {
        Resolution::Pinned
    }
}

/// How a command discovers: where digests of tags come from, and whether destinations the
/// journal records are probed (`--trust-state` skips that).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DiscoverMode {
    pub resolution: Resolution,
    pub trust_state: bool,
}

/// Runs discovery for `goals`.
pub(crate) fn discover(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &GlobalOpts,
    goals: &[TargetGoal],
    lock: Option<&LockFile>,
    journal: &Journal,
    mode: DiscoverMode,
) -> Result<Discovery, Failure> {
    let sides = session.sides(global)?;
    let opts = DiscoverOptions {
        resolution: mode.resolution,
        trust_state: mode.trust_state,
        // Manifest HEADs and GETs are small: more of them in flight than blob transfers.
        concurrency: limits(global).jobs * 4,
    };
    Ok(rt.block_on(discover::discover(
        goals,
        lock,
        journal,
        &session.cache(),
        &sides,
        &opts,
    )))
}

/// Discovery for goals that may carry operator catalogs: reads and filters the catalogs first,
/// adds their bundle and related images to the goals, then resolves every image. A filter the
/// catalog cannot satisfy is an input error (exit 3); an unreadable catalog a remote one.
pub(crate) fn discover_with_catalogs(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &GlobalOpts,
    goals: &mut [TargetGoal],
    lock: Option<&LockFile>,
    journal: &Journal,
    mode: DiscoverMode,
) -> Result<Discovery, Failure> {
    let catalogs = if goals.iter().any(|g| !g.catalogs.is_empty()) {
        let sides = session.sides(global)?;
        let opts = DiscoverOptions {
            resolution: mode.resolution,
            trust_state: mode.trust_state,
            concurrency: limits(global).jobs * 2,
        };
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        let found = rt
            .block_on(discover::discover_catalogs(
                goals,
                lock,
                journal,
                &sides,
                &opts,
                epoch.as_deref(),
            ))
            .map_err(|e| catalog_failure(&session.recipe, e))?;
        let invalid = plan::add_catalog_items(goals, &found_discovery(&found), &session.recipe);
        for i in invalid {
            eprintln!(
                "warning: catalog `{}`: bundle `{}` names an invalid image `{}` ({}); it is not mirrored",
                i.set, i.bundle, i.image, i.reason
            );
        }
        Some(found)
    } else {
        None
    };
    let mut discovery = discover(rt, session, global, goals, lock, journal, mode)?;
    if let Some(found) = catalogs {
        discovery.catalogs = found.catalogs;
        discovery.dest.extend(found.dest);
    }
    Ok(discovery)
}

fn found_discovery(found: &discover::DiscoveredCatalogs) -> Discovery {
    Discovery {
        catalogs: found.catalogs.clone(),
        ..Discovery::default()
    }
}

fn catalog_failure(recipe: &Recipe, errors: Vec<discover::CatalogDiscoveryError>) -> Failure {
    let exit = if errors.iter().all(|e| e.is_filter()) {
        Exit::InvalidInput
    } else {
        Exit::Remote
    };
    // Every problem is shown: all but the last here, the last as the command's error.
    let mut reports: Vec<miette::Report> = errors
        .into_iter()
        .map(|e| match e {
            discover::CatalogDiscoveryError::Filter(f) => {
                match plan::filter_diagnostics(recipe, &f) {
                    Some(d) => miette::Report::new(d),
                    None => miette::Report::new(discover::CatalogDiscoveryError::Filter(f)),
                }
            }
            other => miette::Report::new(other),
        })
        .collect();
    let report = reports
        .pop()
        .unwrap_or_else(|| miette::miette!("catalog discovery failed"));
    for r in reports {
        eprintln!("{r:?}");
    }
    Failure::new(exit, report)
}

/// The lock after this resolution: entries of the sets resolved now replace the old ones; other
/// sets keep theirs.
pub(crate) fn merged_lock(
    old: Option<&LockFile>,
    goals: &[TargetGoal],
    discovery: &Discovery,
) -> LockFile {
    let mut sets = std::collections::BTreeSet::new();
    let mut images = Vec::new();
    for g in goals {
        sets.extend(g.releases.iter().map(|r| r.set.clone()));
        for item in &g.items {
            sets.insert(item.set.clone());
            // Release payloads are locked below; their components are pinned by the payload.
            if item.category == crate::resources::Category::Release {
                continue;
            }
            if let Some(r) = discovery.images.get(&item.origin) {
                images.push(LockedImage {
                    set: item.set.clone(),
                    source: item.origin.clone(),
                    digest: r.digest.clone(),
                });
            }
        }
    }
    images.extend(discovery.releases.iter().filter_map(|r| {
        Some(LockedImage {
            set: r.set.clone(),
            source: r.source.clone(),
            digest: r.payload.digest()?.clone(),
        })
    }));
    for c in discovery.catalogs.values() {
        sets.insert(c.set.clone());
        images.push(LockedImage {
            set: c.set.clone(),
            source: c.fetched.image.clone(),
            digest: c.fetched.digest.clone(),
        });
    }
    if let Some(old) = old {
        images.extend(
            old.images
                .iter()
                .filter(|i| !sets.contains(&i.set))
                .cloned(),
        );
    }
    LockFile::new(images)
}

/// `--locked`: fail naming every difference between the lock and this resolution.
pub(crate) fn check_locked(
    path: &Path,
    old: Option<&LockFile>,
    new: &LockFile,
) -> Result<(), Failure> {
    let Some(old) = old else {
        return Err(Failure::new(
            Exit::LockMismatch,
            miette::miette!(
                help = "run `airlift lock` and commit airlift.lock, or drop --locked",
                "--locked, but {} does not exist",
                path.display()
            ),
        ));
    };
    let diff = LockFile::diff(old, new);
    if diff.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::LockMismatch,
        miette::miette!(
            help = "review the changes, then run `airlift update` (or `airlift lock`) to accept them, or build without --locked",
            "resolution differs from {} (--locked):\n{}",
            path.display(),
            diff.render().trim_end()
        ),
    ))
}
