//! `airlift resources TARGET [--icsp]`: render cluster resources from what the target holds
//! (the lock's digests whose copies the journal records). Needs no network.

use super::GlobalOpts;
use super::render;
use super::session::Session;
use crate::exit::{CmdResult, Exit, Failure};

pub(crate) fn run(global: &GlobalOpts, target: &str, icsp: bool) -> CmdResult {
    let session = Session::open(global)?;
    let goals = session.goals(&[target.to_string()])?;
    let lock = session.read_lock()?;
    if lock.is_none() {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "run `airlift build` (or `airlift lock`) first",
                "{} does not exist: nothing is known to be mirrored",
                session.lock_path.display()
            ),
        ));
    }
    let journal = session.journal()?;
    let Some(goal) = goals.iter().find(|g| g.name == target) else {
        return Err(Failure::new(
            Exit::Internal,
            miette::miette!("target `{target}` has no goal"),
        ));
    };
    let r = render::render_target(&session, global, goal, lock.as_ref(), &journal, icsp)?;
    render::report(target, &r, global.quiet);
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
