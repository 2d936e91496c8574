//! `airlift plan [TARGET…]`: resolve, build the DAG, print what would run and why, and write the
//! dry-run files `mapping.txt` and `missing.txt` per target. Changes no registry.

use std::fs;

use super::release;
use super::session::{self, Session};
use super::trust;
use super::{GlobalOpts, PlanFormat};
use crate::exit::{CmdResult, Failure};
use crate::plan::{self, PlanOptions, explain};

pub(crate) fn run(global: &GlobalOpts, targets: &[String], format: PlanFormat) -> CmdResult {
    let session = Session::open(global)?;
    let mut goals = session.goals(targets)?;
    let cosign = trust::cosign_trusts(&session, &goals, false)?;
    let lock = session.read_lock()?;
    let journal = session.journal()?;
    let rt = session::runtime()?;
    let resolution = session::resolution(global);
    let releases = release::prepare(&rt, &session, global, &mut goals, lock.as_ref(), resolution)?;
    let verify = release::verifications(&session, &releases, false)?;
    let mut discovery = session::discover_with_catalogs(
        &rt,
        &session,
        global,
        &mut goals,
        lock.as_ref(),
        &journal,
        session::DiscoverMode {
            resolution,
            trust_state: false,
        },
    )?;
    discovery.releases = releases;
    if global.locked {
        let new = session::merged_lock(lock.as_ref(), &goals, &discovery);
        session::check_locked(&session.lock_path, lock.as_ref(), &new)?;
    }
    let mut plan = plan::build(
        &goals,
        &discovery,
        &journal,
        &PlanOptions {
            trust_state: false,
            signatures: true,
        },
    );
    plan::add_verification(&mut plan, &verify, &journal);
    plan::add_cosign_verification(&mut plan, &goals, &cosign, &journal);
    plan::payload_after_components(&mut plan, &goals);
    match format {
        PlanFormat::Text => print!("{}", explain::text(&plan, global.verbose > 0)),
        PlanFormat::Json => print!("{}", explain::json(&plan)),
        PlanFormat::Dot => print!("{}", explain::dot(&plan)),
    }
    for g in &goals {
        let dir = session.workspace.out_dir(&g.name).join("dry-run");
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            fs::write(dir.join("mapping.txt"), explain::mapping(&plan, &g.name))?;
            fs::write(dir.join("missing.txt"), explain::missing(&plan))
        };
        write().map_err(|e| Failure::io(format!("cannot write {}: {e}", dir.display())))?;
        if !global.quiet {
            eprintln!("dry run: {}", dir.join("mapping.txt").display());
        }
    }
    Ok(())
}
