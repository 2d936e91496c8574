//! `airlift plan [TARGET…]`: prepare the pipeline and print every task `build` would run and
//! why, and write the dry-run files `mapping.txt` and `missing.txt` per target. Changes no
//! registry and writes no lock. `airlift plan NAME` with a `delete` set's name shows the
//! deletion it would plan (pending deletions), writing nothing.

use std::fs;

use super::{GlobalOpts, PlanFormat};
use crate::exit::{CmdResult, Failure};
use crate::pipeline::{self, Request};
use crate::plan::explain;

pub(crate) fn run(global: &GlobalOpts, targets: &[String], format: PlanFormat) -> CmdResult {
    let options = global.options();
    if let [name] = targets
        && crate::recipe::load(&options.recipe).is_ok_and(|r| r.delete(name).is_some())
    {
        if matches!(format, PlanFormat::Dot | PlanFormat::Html) {
            return Err(Failure::new(
                crate::exit::Exit::Usage,
                miette::miette!(
                    help = "use --format text or json to show a pending deletion",
                    "`{name}` is a delete set: its plan is a list, not a graph"
                ),
            ));
        }
        let d = pipeline::delete::resolve(&options, name)?;
        super::delete::print_list(global, &d, true, format == PlanFormat::Json);
        if !global.quiet {
            eprintln!(
                "pending: nothing was written; `airlift delete {name}` writes the list to review"
            );
        }
        return Ok(());
    }
    let prepared = pipeline::prepare(&options, &Request::new(&options, targets))?;
    super::print_discovery(global, &prepared);
    let plan = &prepared.plan;
    match format {
        PlanFormat::Text => print!("{}", explain::text(plan, global.verbose > 0)),
        PlanFormat::Json => print!("{}", explain::json(plan)),
        PlanFormat::Dot => print!("{}", explain::dot(plan)),
        PlanFormat::Html => {
            let names: Vec<&str> = prepared.goals.iter().map(|g| g.name.as_str()).collect();
            let title = format!("airlift plan of {}", names.join(", "));
            print!("{}", crate::html::graph_page(&explain::graph(plan, &title)));
        }
    }
    for g in &prepared.goals {
        let dir = prepared.session.workspace.out_dir(&g.name).join("dry-run");
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            fs::write(dir.join("mapping.txt"), explain::mapping(plan, &g.name))?;
            fs::write(dir.join("missing.txt"), explain::missing(plan))
        };
        write().map_err(|e| Failure::io(format!("cannot write {}: {e}", dir.display())))?;
        if !global.quiet {
            eprintln!("dry run: {}", dir.join("mapping.txt").display());
        }
    }
    Ok(())
}
