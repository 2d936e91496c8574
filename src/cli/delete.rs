//! `airlift delete NAME [--execute]`: phase one writes and prints the reviewed list; phase two
//! deletes it. The work is `pipeline::delete`; this file parses nothing more and prints.

use super::GlobalOpts;
use crate::exec::MessageFormat;
use crate::exit::CmdResult;
use crate::pipeline::delete::{self, Deletion};
use crate::plan::delete::DeletionList;

/// How a registry's garbage collector gives the space back (printed after a deletion).
const GC_NOTE: &str = "blob space returns only after the registry's garbage collection; for CNCF distribution stop it (or make it read-only) and run `registry garbage-collect --delete-untagged /etc/docker/registry/config.yml` (Debian: `docker-registry garbage-collect …`)";

pub(crate) fn run(global: &GlobalOpts, name: &str, execute: bool) -> CmdResult {
    let options = global.options();
    if execute {
        let done = delete::execute_list(&options, name, global.report_format())?;
        if let Some(f) = delete::failure(&done) {
            return Err(f);
        }
        let deleted = done.list.manifests.len() - done.already;
        if global.report_format() == MessageFormat::Json {
            let event = serde_json::json!({
                "event": "delete-finished",
                "delete": done.list.delete,
                "target": done.list.target,
                "deleted": deleted,
                "already-deleted": done.already,
                "kept": done.list.kept.len(),
            });
            println!("{event}");
        }
        if !global.quiet {
            eprintln!(
                "delete `{}`: {deleted} manifest(s) deleted now or found gone, {} deleted by an earlier run, {} kept (still used)",
                done.list.delete,
                done.already,
                done.list.kept.len()
            );
            eprintln!("note: {GC_NOTE}");
        }
        return Ok(());
    }
    let d = delete::resolve(&options, name)?;
    let files = delete::write_list(&d)?;
    print_list(
        global,
        &d,
        false,
        global.report_format() == MessageFormat::Json,
    );
    if !global.quiet {
        let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("wrote {}", shown.join(" and "));
        eprintln!(
            "nothing was deleted: review the list, then run `airlift delete {name} --execute`"
        );
    }
    Ok(())
}

/// Prints a deletion list: JSON (`json`: one `delete-list` event on stdout) or one line per
/// manifest on stdout with a summary on stderr. `pending` marks a list `airlift plan` shows.
pub(crate) fn print_list(global: &GlobalOpts, d: &Deletion, pending: bool, json: bool) {
    let l = &d.list;
    if json {
        let mut v = serde_json::to_value(l).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "delete-list".into());
            o.insert("pending".into(), pending.into());
        }
        println!("{v}");
        return;
    }
    if !global.quiet {
        for n in &d.notes {
            eprintln!("{n}");
        }
        eprintln!("{}", summary(l));
    }
    for e in &l.manifests {
        println!("delete {} ({})", e.image, e.reasons.join("; "));
    }
    for k in &l.kept {
        println!(
            "kept   {} ({}): still used by {}",
            k.image,
            k.reasons.join("; "),
            k.used_by.join(", ")
        );
    }
    for a in &l.absent {
        println!("absent {a}");
    }
}

fn summary(l: &DeletionList) -> String {
    format!(
        "delete `{}` from `{}` ({}): {} manifest(s) to delete, {} kept (still used), {} not at the target",
        l.delete,
        l.target,
        l.registry,
        l.manifests.len(),
        l.kept.len(),
        l.absent.len()
    )
}
