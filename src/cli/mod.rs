//! The command-line interface: argument definitions and one file per command.

mod args;
mod convert_icsp;

pub use args::{Cli, Command, GlobalOpts, ListWhat, MessageFormat, PlanFormat};
