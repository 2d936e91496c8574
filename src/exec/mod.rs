//! The executor: the ready-queue scheduler, typed events and the one reporter that renders
//! them, and the transfer permits (a global pool plus per-registry limits). Task logic lives in
//! `task/`; this module never talks to a registry itself.

mod events;
mod limits;
mod queue;
mod reporter;
mod run;
pub mod timings;

pub use events::{Event, EventSink};
pub use limits::{Limits, Permit, Permits};
pub use queue::{DependencyQueue, Edge};
pub use reporter::{Expected, MessageFormat, Reporter};
pub use run::{ExecOutcome, Failed, RunEnv, execute};
