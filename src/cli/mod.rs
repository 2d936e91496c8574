//! The command-line interface: argument definitions and one file per command.

pub mod advice;
mod args;
mod build;
mod check;
mod convert_icsp;
mod delete;
mod describe;
mod diff;
mod extract;
mod import;
mod init;
mod list;
mod list_operators;
mod lock;
mod plan;
mod resources;
mod verify;

pub use args::{
    APPLIES, Cli, Command, DescribeFormat, GlobalOpts, ListWhat, MessageFormat, PlanFormat,
};
pub use init::STARTER;

/// Prints what discovery found worth saying: warnings (`WARNING` lines even with `-q`: skipping
/// verification is never quiet) and, unless `-q`, the releases read.
pub(crate) fn print_discovery(global: &GlobalOpts, prepared: &crate::pipeline::Prepared) {
    for w in &prepared.warnings {
        if w.starts_with("WARNING") {
            eprintln!("{w}");
        } else if !global.quiet {
            eprintln!("warning: {w}");
        }
    }
    if !global.quiet {
        for n in &prepared.notes {
            eprintln!("{n}");
        }
    }
}
