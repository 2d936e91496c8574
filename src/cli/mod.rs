//! The command-line interface: argument definitions and one file per command.

mod args;
mod check;
mod convert_icsp;
mod diff;
mod init;

pub use args::{Cli, Command, GlobalOpts, ListWhat, MessageFormat, PlanFormat};
pub use init::STARTER;
