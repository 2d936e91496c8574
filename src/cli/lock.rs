//! `airlift lock` and `airlift update [SET…]`: resolve tags to digests and write airlift.lock.
//! Prints the change against the previous lock on stdout. Copies nothing.

use super::GlobalOpts;
use super::release;
use super::session::{self, Session};
use crate::discover::Resolution;
use crate::exit::{CmdResult, Exit, Failure};
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
    let session = Session::open(global)?;
    for n in names {
        if session.recipe.content_set(n).is_none() {
            let known: Vec<&str> = session
                .recipe
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
    let mut goals = session.goals(&[])?;
    if !names.is_empty() {
        for g in &mut goals {
            g.items.retain(|i| names.contains(&i.set));
            g.releases.retain(|r| names.contains(&r.set));
            g.catalogs.retain(|c| names.contains(&c.set));
        }
    }
    let old = session.read_lock()?;
    let journal = session.journal()?;
    let rt = session::runtime()?;
    let releases = release::prepare(
        &rt,
        &session,
        global,
        &mut goals,
        old.as_ref(),
        Resolution::Fresh,
    )?;
    let mut discovery = session::discover_with_catalogs(
        &rt,
        &session,
        global,
        &mut goals,
        old.as_ref(),
        &journal,
        session::DiscoverMode {
            resolution: Resolution::Fresh,
            trust_state: true,
        },
    )?;
    discovery.releases = releases;
    release::refresh_graph_data(&session, &goals)?;
    let new = session::merged_lock(old.as_ref(), &goals, &discovery);
    let diff = LockFile::diff(&old.clone().unwrap_or_default(), &new);
    new.write(&session.lock_path).map_err(Failure::io)?;
    print!("{}", diff.render());
    if !global.quiet {
        eprintln!(
            "wrote {} ({} image(s))",
            session.lock_path.display(),
            new.images.len()
        );
    }
    if discovery.unresolved.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = discovery
        .unresolved
        .iter()
        .map(|(i, why)| format!("{i}: {why}"))
        .collect();
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
