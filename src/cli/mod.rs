//! The command-line interface: argument definitions and one file per command.

mod args;
mod diff;

pub use args::{Cli, Command, GlobalOpts, ListWhat, MessageFormat, PlanFormat};
