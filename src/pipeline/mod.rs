//! The pipeline every command shares, in the library: open a session (recipe, workspace, lock,
//! journal), discover (one value), plan (`plan::build`, the complete DAG), execute
//! (`exec::execute`, the one reporter). The CLI parses flags, calls these, and prints.

mod carried;
pub mod delete;
mod discover;
pub mod extract;
mod held;
mod helm;
mod lock;
mod options;
mod release;
mod report;
mod run;
mod session;
mod shards;
pub mod timings;
mod trust;

pub use held::{offline_goal, render_target};
pub use lock::merged_lock;
pub use options::{Options, RegistryConcurrency, parse_date, runtime, source_date_epoch};
pub use report::BuildReport;
pub use run::{Prepared, Request, conclude, execute, failure, prepare, report};
pub use session::Session;
