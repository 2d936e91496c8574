//! `airlift resources TARGET [--icsp]`: render cluster resources from what the target holds
//! (the lock's digests whose copies the journal records). Needs no network.

use super::GlobalOpts;
use crate::exit::{CmdResult, Exit, Failure};
use crate::pipeline::{self, Session};

pub(crate) fn run(global: &GlobalOpts, target: &str, icsp: bool) -> CmdResult {
    let options = global.options();
    let session = Session::open(&options)?;
    let goal = &session.registry_goal(target, "resources")?;
    let Some(lock) = session.read_lock()? else {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "run `airlift build` (or `airlift lock`) first",
                "{} does not exist: nothing is known to be mirrored",
                session.lock_path.display()
            ),
        ));
    };
    let journal = session.journal()?;
    let r = pipeline::render_target(&options, &session, goal, &lock, &journal, icsp)?;
    if !global.quiet {
        eprintln!(
            "resources: {} file(s) for {} image(s) of target `{target}` in {}",
            r.files,
            r.held,
            r.dir.display()
        );
        for n in &r.notes {
            eprintln!("  note: {n}");
        }
        if !r.not_held.is_empty() {
            eprintln!(
                "  note: {} image(s) of the target are not mirrored yet and are left out: {}",
                r.not_held.len(),
                r.not_held.join(", ")
            );
        }
    }
    for name in std::fs::read_dir(&r.dir)
        .map(|d| {
            let mut v: Vec<_> = d.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            v.sort();
            v
        })
        .unwrap_or_default()
    {
        println!("{}", name.display());
    }
    Ok(())
}
