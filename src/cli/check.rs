//! `airlift check [FILE…]`: parse and validate recipes without touching the network.
//!
//! Prints one `ok:` line per valid file on stderr (and, with `-v`, the recipe summary on stdout)
//! and every diagnostic of every invalid file. Reads recipe files only; writes nothing.

use std::path::PathBuf;

use crate::exit::{CmdResult, Exit, Failure};
use crate::recipe::{self, RecipeErrors};

use super::GlobalOpts;

pub(crate) fn run(global: &GlobalOpts, files: &[PathBuf]) -> CmdResult {
    let files = if files.is_empty() {
        vec![global.recipe.clone()]
    } else {
        files.to_vec()
    };
    let mut failures: Vec<RecipeErrors> = Vec::new();
    for file in &files {
        match recipe::load(file) {
            Ok(r) => {
                if !global.quiet {
                    eprintln!(
                        "ok: {} ({}, {})",
                        file.display(),
                        count(r.sets.len(), "content set"),
                        count(r.targets.len(), "target")
                    );
                }
                if global.verbose > 0 {
                    print!("{}", r.summary());
                }
            }
            Err(e) => failures.push(e),
        }
    }
    let exit = if failures.iter().any(|f| !f.is_io()) {
        Exit::InvalidInput
    } else {
        Exit::Io
    };
    let Some(last) = failures.pop() else {
        return Ok(());
    };
    for earlier in failures {
        eprintln!("{:?}", miette::Report::new(earlier));
    }
    Err(Failure::new(exit, last))
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
