//! Persistent state: the lock file beside the recipe and the workspace (journal, cache, outputs).
//!
//! Only the executor and the lock/update commands write here; the planner reads snapshots.

mod atomic;
mod journal;
mod lockfile;
mod workspace;

pub use atomic::write_atomic;
pub use journal::{Journal, JournalError, KindName, Record};
pub use lockfile::{LockDiff, LockError, LockFile, LockedChart, LockedImage};
pub use workspace::{Workspace, WorkspaceError, WorkspaceGuard};
