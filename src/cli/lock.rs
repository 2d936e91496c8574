//! `airlift lock` and `airlift update [SET…]`: resolve tags afresh and run the plan's
//! `write-lock` task. Prints the change against the previous lock on stdout. Copies nothing.

use super::GlobalOpts;
use crate::discover::Resolution;
use crate::exec::MessageFormat;
use crate::exit::{CmdResult, Exit, Failure};
use crate::pipeline::{self, Request};
use crate::state::LockFile;

/// `names` empty: re-resolve everything (`lock`, or `update` without names).
pub(crate) fn run(global: &GlobalOpts, names: &[String]) -> CmdResult {
    if global.offline {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help =
                    "run it where the sources are reachable; `build --offline` then uses the lock",
                "`lock`/`update` resolve tags and cannot run --offline"
            ),
        ));
    }
    let options = global.options();
    let request = Request {
        sets: names,
        resolution: Resolution::Fresh,
        trust_state: true,
        ..Request::new(&options, &[])
    };
    let recipe = crate::recipe::load(&options.recipe).ok();
    if let Some(recipe) = &recipe {
        for n in names {
            if recipe.content_set(n).is_none() {
                let known: Vec<&str> = recipe
                    .sets
                    .iter()
                    .map(|s| s.name().value.as_str())
                    .collect();
                return Err(Failure::new(
                    Exit::InvalidInput,
                    miette::miette!(
                        help = format!("the recipe's content sets are: {}", known.join(", ")),
                        "no content set named `{n}`"
                    ),
                ));
            }
        }
    }
    let mut prepared = pipeline::prepare(&options, &request)?;
    super::print_discovery(global, &prepared);
    // Only the lock is written: the other tasks are `build`'s.
    prepared
        .plan
        .tasks
        .retain(|t| t.kind.kind_name() == crate::state::KindName::WriteLock);
    let outcome = pipeline::execute(&options, &mut prepared, MessageFormat::Human)?;
    if let Some(f) = pipeline::failure(&prepared.plan, &outcome) {
        return Err(f);
    }
    let diff = LockFile::diff(
        &prepared.old_lock.clone().unwrap_or_default(),
        &prepared.lock,
    );
    print!("{}", diff.render());
    if !global.quiet {
        eprintln!(
            "wrote {} ({} image(s))",
            prepared.session.lock_path.display(),
            prepared.lock.images.len()
        );
    }
    let mut lines: Vec<String> = prepared
        .discovery
        .unresolved
        .iter()
        .map(|(i, why)| format!("{i}: {why}"))
        .collect();
    if let Some(Err(why)) = &prepared.discovery.graph {
        lines.push(format!("graph-data image: {why}"));
    }
    if lines.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Remote,
        miette::miette!(
            help = "check the names and the registries' reachability and credentials; resolved entries were written",
            "{} image(s) could not be resolved:\n  {}",
            lines.len(),
            lines.join("\n  ")
        ),
    ))
}
