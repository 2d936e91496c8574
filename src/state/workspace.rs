//! The workspace directory (`.airlift/` beside the recipe): layout and the process lock.
//!
//! Layout:
//! - `state/journal.jsonl` — completed tasks (see [`super::Journal`])
//! - `cache/manifests/sha256/<hex>` — manifests by digest (content-addressed, so never stale)
//! - `out/<target>/…` — rendered outputs (cluster resources, dry-run mapping)
//! - `lock` — held with an OS file lock while a command that writes runs
//!
//! Two airlift processes on one workspace: the second fails at once with the holder's pid
//! instead of queueing silently behind a possibly stuck nightly job.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("workspace {path} is in use by another airlift process{holder}")]
    Busy { path: PathBuf, holder: String },
    #[error("cannot use workspace {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Held while a writing command runs; the OS releases the lock when the process dies, so a
/// killed airlift never leaves the workspace locked.
#[derive(Debug)]
pub struct WorkspaceGuard {
    _file: File,
}

impl Workspace {
    /// The workspace for `recipe`: `explicit` when given, else `.airlift/` beside the recipe.
    pub fn for_recipe(recipe: &Path, explicit: Option<&Path>) -> Self {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => recipe
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .join(".airlift"),
        };
        Workspace { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn journal_path(&self) -> PathBuf {
        self.root.join("state").join("journal.jsonl")
    }

    pub fn manifest_cache(&self) -> PathBuf {
        self.root.join("cache").join("manifests")
    }

    /// Helm chart archives, content-addressed (`sha256/<hex>`).
    pub fn chart_cache(&self) -> PathBuf {
        self.root.join("cache").join("charts")
    }

    pub fn out_dir(&self, target: &str) -> PathBuf {
        self.root.join("out").join(target)
    }

    /// The directory of shard `index` of `count` (`build --shard`): its journal, its lock and
    /// the mark that it finished.
    pub fn shard_dir(&self, index: u32, count: u32) -> PathBuf {
        self.root.join("shards").join(format!("{index}-of-{count}"))
    }

    /// The journal of shard `index` of `count`: its records, over the workspace journal.
    pub fn shard_journal(&self, index: u32, count: u32) -> PathBuf {
        self.shard_dir(index, count).join("journal.jsonl")
    }

    /// Takes the workspace lock, creating the workspace when needed.
    pub fn lock(&self) -> Result<WorkspaceGuard, WorkspaceError> {
        lock_in(&self.root)
    }

    /// Takes the lock of one shard's directory: shards of one build share the workspace (its
    /// caches, and the journal they read), each holding only its own lock.
    pub fn lock_shard(&self, index: u32, count: u32) -> Result<WorkspaceGuard, WorkspaceError> {
        lock_in(&self.shard_dir(index, count))
    }
}

/// Takes the lock file of `dir`, creating it when needed.
fn lock_in(dir: &Path) -> Result<WorkspaceGuard, WorkspaceError> {
    let io_err = |source| WorkspaceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io_err)?;
    let path = dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let holder = if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            };
            return Err(WorkspaceError::Busy {
                path: dir.to_path_buf(),
                holder,
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
    }
    file.set_len(0).map_err(io_err)?;
    file.rewind().map_err(io_err)?;
    writeln!(file, "{}", std::process::id()).map_err(io_err)?;
    Ok(WorkspaceGuard { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_workspace_is_beside_the_recipe() {
        let w = Workspace::for_recipe(Path::new("airlift.kdl"), None);
        assert_eq!(w.root(), Path::new("./.airlift"));
        let w = Workspace::for_recipe(Path::new("site/a.kdl"), None);
        assert_eq!(w.root(), Path::new("site/.airlift"));
        let w = Workspace::for_recipe(Path::new("a.kdl"), Some(Path::new("/tmp/ws")));
        assert_eq!(w.root(), Path::new("/tmp/ws"));
    }

    #[test]
    fn second_lock_in_same_workspace_is_refused_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let w = Workspace::for_recipe(Path::new("x.kdl"), Some(dir.path()));
        let _g = w.lock().unwrap();
        let err = w.lock().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("in use by another airlift process"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
    }
}
