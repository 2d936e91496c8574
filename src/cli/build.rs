//! `airlift build [TARGET…]`: prepare the pipeline (discover, lock, plan), run what is dirty —
//! verifications, copies, catalog rebuilds, the graph-data image, cluster resources, the lock —
//! and print the summary (a line, the final JSON event, and `--summary-md` Markdown).

use super::GlobalOpts;
use crate::exit::{CmdResult, Failure};
use crate::pipeline::{self, Request};

/// The `build` flags.
pub(crate) struct BuildArgs<'a> {
    pub targets: &'a [String],
    pub trust_state: bool,
    pub no_signatures: bool,
    pub no_verify: bool,
    pub split_blobs: bool,
    pub shard: Option<crate::plan::Shard>,
    pub shards_done: Option<u32>,
    pub summary_md: Option<&'a std::path::Path>,
    pub timings: bool,
}

pub(crate) fn run(global: &GlobalOpts, args: &BuildArgs) -> CmdResult {
    let options = global.options();
    let mut request = Request::new(&options, args.targets);
    request.trust_state = args.trust_state;
    request.signatures = !args.no_signatures;
    request.verify = !args.no_verify;
    request.split_blobs = args.split_blobs;
    request.shard = args.shard;
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
    pipeline::conclude(&prepared, &outcome, &report)
}
