//! `airlift diff OLD.lock NEW.lock`: what a refresh changes — added, removed and re-pointed tags.

use std::path::Path;

use crate::exit::{CmdResult, Exit, Failure};
use crate::state::LockFile;

pub fn run(old: &Path, new: &Path) -> CmdResult {
    let read = |p: &Path| -> Result<LockFile, Failure> {
        match LockFile::read(p) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err(Failure::new(
                Exit::Io,
                miette::miette!(
                    help = "pass two airlift.lock files, e.g. one from git: `git show HEAD~1:airlift.lock > old.lock`",
                    "{} does not exist",
                    p.display()
                ),
            )),
            Err(e) => Err(Failure::new(
                Exit::InvalidInput,
                miette::miette!(help = "both files must be airlift lock files", "{e}"),
            )),
        }
    };
    let d = LockFile::diff(&read(old)?, &read(new)?);
    print!("{}", d.render());
    Ok(())
}
