//! `airlift import FILE [-o OUT] [--to URL] [--force]`: an oc-mirror image set to a recipe
//! (`crate::import`), printed or written; warnings to stderr, one per line with the YAML line.

use std::io::Read as _;
use std::path::Path;

use super::GlobalOpts;
use crate::exit::{CmdResult, Exit, Failure};
use crate::import::{self, Direction};

pub(crate) fn run(
    global: &GlobalOpts,
    file: &Path,
    output: Option<&Path>,
    to: Option<&str>,
    force: bool,
) -> CmdResult {
    let shown = file.display().to_string();
    let text = if shown == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .map_err(|e| Failure::io(format!("cannot read stdin: {e}")))?;
        t
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            Failure::new(
                Exit::Io,
                miette::miette!(
                    help = "check the path; the file must be readable UTF-8 YAML",
                    "cannot read {shown}: {e}"
                ),
            )
        })?
    };
    let usage = |msg: String| {
        Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "pass --to docker://HOST[:PORT]/NAMESPACE or --to file://DIR",
                "{msg}"
            ),
        )
    };
    let delete = import::is_image_set(&text) == Some("DeleteImageSetConfiguration");
    let to = match to {
        Some(u) if u.starts_with("docker://") && u.len() > "docker://".len() => {
            Direction::Registry(u.to_string())
        }
        Some(u) if u.starts_with("file://") && u.len() > "file://".len() => {
            if delete {
                return Err(usage(format!(
                    "a delete removes content from a registry, not from {u}"
                )));
            }
            Direction::Archive(u.to_string())
        }
        Some(u) => {
            return Err(usage(format!(
                "--to {u} is neither docker://… nor file://…"
            )));
        }
        None if delete => {
            return Err(usage(
                "a DeleteImageSetConfiguration needs the registry it deletes from".into(),
            ));
        }
        None => Direction::Archive("file://mirror".into()),
    };
    if let Some(out) = output
        && out.exists()
        && !force
    {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "pass --force to overwrite it, or another -o",
                "{} exists",
                out.display()
            ),
        ));
    }
    let imported = import::import(&text, &shown, &to)
        .map_err(|e| Failure::new(Exit::InvalidInput, miette::Report::new(e)))?;
    for w in &imported.warnings {
        match w.line {
            Some(l) => eprintln!("warning: {shown}:{l}: {}", w.message),
            None => eprintln!("warning: {shown}: {}", w.message),
        }
    }
    match output {
        Some(out) => {
            std::fs::write(out, &imported.recipe)
                .map_err(|e| Failure::io(format!("cannot write {}: {e}", out.display())))?;
            if !global.quiet {
                eprintln!(
                    "wrote {} from the {} ({} warning(s)); next: `airlift check -f {0}`",
                    out.display(),
                    imported.kind,
                    imported.warnings.len()
                );
            }
        }
        None => print!("{}", imported.recipe),
    }
    Ok(())
}
