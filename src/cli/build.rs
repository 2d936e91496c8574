//! `airlift build [TARGET…]`: prepare the pipeline (discover, lock, plan), run what is dirty —
//! verifications, copies, catalog rebuilds, the graph-data image, cluster resources, the lock —
//! and print the summary (a line, the final JSON event, and `--summary-md` Markdown).

use super::GlobalOpts;
use crate::exit::{CmdResult, Exit, Failure};
use crate::pipeline::{self, Request};

/// The `build` flags.
pub(crate) struct BuildArgs<'a> {
    pub targets: &'a [String],
    pub trust_state: bool,
    pub no_signatures: bool,
    pub no_verify: bool,
    pub split_blobs: bool,
    pub shard: Option<&'a str>,
    pub shards_done: Option<u32>,
    pub summary_md: Option<&'a std::path::Path>,
    pub timings: bool,
}

pub(crate) fn run(global: &GlobalOpts, args: &BuildArgs) -> CmdResult {
    let shard = args
        .shard
        .map(|s| {
            s.parse::<crate::plan::Shard>().map_err(|e| {
                Failure::new(
                    Exit::Usage,
                    miette::miette!(help = "e.g. `--shard 1/3` … `--shard 3/3`", "--shard: {e}"),
                )
            })
        })
        .transpose()?;
    if args.shards_done == Some(0) {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "give the number of shards the build ran as (`--shard K/N` → `--shards-done N`)",
                "--shards-done: the number of shards must be at least 1"
            ),
        ));
    }
    let options = global.options();
    let mut request = Request::new(&options, args.targets);
    request.trust_state = args.trust_state;
    request.signatures = !args.no_signatures;
    request.verify = !args.no_verify;
    request.split_blobs = args.split_blobs;
    request.shard = shard;
    request.shards_done = args.shards_done;
    let mut prepared = pipeline::prepare(&options, &request)?;
    super::print_discovery(global, &prepared);
    let outcome = pipeline::execute(&options, &mut prepared, global.report_format())?;
    let report = pipeline::report(&options, &prepared, &outcome)?;
    if args.timings {
        let pages = pipeline::timings::write(&options, &prepared, &outcome, args.targets)?;
        if !global.quiet {
            for p in pages {
                eprintln!("timings: {}", p.display());
            }
        }
    }
    if global.report_format() == crate::exec::MessageFormat::Json {
        println!("{}", report.event());
    }
    if !global.quiet {
        eprintln!("{}", report.line());
    }
    if let Some(path) = args.summary_md {
        std::fs::write(path, report.markdown(args.targets)).map_err(|e| {
            Failure::io(format!("cannot write the summary {}: {e}", path.display()))
        })?;
    }
    if let Some(f) = pipeline::failure(&prepared.plan, &outcome) {
        return Err(f);
    }
    if let Some(s) = shard {
        pipeline::shards::mark_done(&prepared.session, s, &report.line())?;
    }
    if let Some(n) = args.shards_done {
        pipeline::shards::finish(&prepared.session, n)?;
    }
    Ok(())
}
