//! The command-line interface: argument definitions and one file per command.

mod args;
mod build;
mod check;
mod convert_icsp;
mod diff;
mod init;
mod list;
mod list_operators;
mod lock;
mod plan;
mod release;
mod render;
mod resources;
mod session;
mod trust;
mod verify;

pub use args::{Cli, Command, GlobalOpts, ListWhat, MessageFormat, PlanFormat};
pub use init::STARTER;
