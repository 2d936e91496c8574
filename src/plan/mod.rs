//! The planner: goals + discovery + state → an ordered DAG of tasks with keys and freshness.
//! Pure: no network, no files.

mod build;
mod expand;
pub mod explain;
mod goal;
mod key;
mod task;

pub use build::{Plan, PlanOptions, RecordedState, build};
pub use expand::{Unsupported, expand};
pub use goal::{DestRoot, GoalItem, TargetGoal};
pub use key::{KEY_VERSION, TaskKey};
pub use task::{CopySpec, DirtyReason, Freshness, Task, TaskId, TaskKind};

#[cfg(test)]
mod tests;
