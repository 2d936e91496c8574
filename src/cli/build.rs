//! `airlift build [TARGET…]`: resolve, plan (with the signature verifications the `trust`
//! blocks ask for), run what is dirty, record it, write the lock and the cluster resources of
//! every target built.

use super::GlobalOpts;
use super::release;
use super::render;
use super::session::{self, Session};
use super::trust;
use crate::exec::{self, MessageFormat as ReportFormat, Reporter};
use crate::exit::{CmdResult, Exit, Failure};
use crate::plan::{self, PlanOptions, explain::human_bytes};

/// The `build` flags.
pub(crate) struct BuildArgs<'a> {
    pub targets: &'a [String],
    pub trust_state: bool,
    pub no_signatures: bool,
    pub no_verify: bool,
    pub split_blobs: bool,
    pub shard: Option<&'a str>,
    pub shards_done: Option<u32>,
}

pub(crate) fn run(global: &GlobalOpts, args: &BuildArgs) -> CmdResult {
    if args.shard.is_some() || args.shards_done.is_some() {
        return Err(Failure::not_available(
            "airlift build --shard/--shards-done",
        ));
    }
    if args.split_blobs {
        return Err(Failure::not_available(
            "airlift build --split-blobs (archive targets)",
        ));
    }
    let session = Session::open(global)?;
    let mut goals = session.goals(args.targets)?;
    let cosign = trust::cosign_trusts(&session, &goals, args.no_verify)?;
    let lock = session.read_lock()?;
    let mut journal = session.journal()?;
    let rt = session::runtime()?;
    let resolution = session::resolution(global);
    let releases = release::prepare(&rt, &session, global, &mut goals, lock.as_ref(), resolution)?;
    let verify = release::verifications(&session, &releases, args.no_verify)?;
    let mut discovery = session::discover_with_catalogs(
        &rt,
        &session,
        global,
        &mut goals,
        lock.as_ref(),
        &journal,
        session::DiscoverMode {
            resolution,
            trust_state: args.trust_state,
        },
    )?;
    discovery.releases = releases;
    let new_lock = session::merged_lock(lock.as_ref(), &goals, &discovery);
    if global.locked {
        session::check_locked(&session.lock_path, lock.as_ref(), &new_lock)?;
    }
    let mut plan = plan::build(
        &goals,
        &discovery,
        &journal,
        &PlanOptions {
            trust_state: args.trust_state,
            signatures: !args.no_signatures,
        },
    );
    plan::add_verification(&mut plan, &verify, &journal);
    plan::add_cosign_verification(&mut plan, &goals, &cosign, &journal);
    plan::payload_after_components(&mut plan, &goals);
    let dirty = plan.dirty().count();
    let fresh = plan.tasks.len() - dirty;
    let outcome = if dirty == 0 {
        exec::ExecOutcome::default()
    } else {
        let sides = session.sides(global)?;
        let format = match global.message_format {
            super::MessageFormat::Json => ReportFormat::Json,
            super::MessageFormat::Human => ReportFormat::Human,
        };
        rt.block_on(async {
            // `-q` prints errors only: no reporter, events are dropped.
            let (sink, reporter) = if global.quiet && format == ReportFormat::Human {
                (exec::EventSink::discard(), None)
            } else {
                // The progress bar counts images; verifications report no progress.
                let images = plan.dirty().filter(|t| !t.kind.is_verification()).count();
                let (s, r) = Reporter::start(format, images);
                (s, Some(r))
            };
            let r = exec::execute(
                &plan,
                &sides,
                session::limits(global),
                Some(&session.cache()),
                &mut journal,
                &sink,
            )
            .await;
            drop(sink);
            if let Some(reporter) = reporter {
                reporter.finish().await;
            }
            r
        })
        .map_err(Failure::io)?
    };
    if outcome.failed.is_empty() {
        release::build_graph_images(&rt, &session, global, &goals, &mut journal)?;
    }
    if !global.offline {
        new_lock.write(&session.lock_path).map_err(Failure::io)?;
    }
    for g in &goals {
        let r = render::render_target(&session, global, g, Some(&new_lock), &journal, false)?;
        render::report(&g.name, &r, global.quiet);
    }
    if !global.quiet {
        let t = &outcome.totals;
        eprintln!(
            "build: {} copied, {fresh} fresh, {} failed, {} missing; {} uploaded ({} blobs), {} blobs mounted, {} already present",
            outcome
                .done
                .keys()
                .filter(|id| plan.task(id).is_some_and(|t| t.kind.as_copy().is_some()))
                .count(),
            outcome.failed.len(),
            plan.missing.len(),
            human_bytes(t.bytes),
            t.blobs_uploaded,
            t.blobs_mounted,
            t.blobs_present,
        );
    }
    if outcome.failed.is_empty() && plan.missing.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<String> = outcome
        .failed
        .iter()
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    lines.extend(
        plan.missing
            .iter()
            .map(|(img, why)| format!("missing {img}: {why}")),
    );
    let unverified = outcome
        .failed
        .keys()
        .any(|id| plan.task(id).is_some_and(|t| t.kind.is_verification()));
    let exit = if unverified {
        Exit::Verification
    } else if outcome.done.is_empty() && fresh == 0 {
        Exit::Remote
    } else {
        Exit::Partial
    };
    // Tasks (copies, verifications, prunes) and unresolved images are counted apart: a failed
    // verification and the copies it stopped are several tasks of one image.
    let mut counts = Vec::new();
    if !outcome.failed.is_empty() {
        counts.push(format!(
            "{} of {} task(s) did not finish",
            outcome.failed.len(),
            plan.tasks.len()
        ));
    }
    if !plan.missing.is_empty() {
        counts.push(format!(
            "{} image(s) could not be resolved",
            plan.missing.len()
        ));
    }
    Err(Failure::new(
        exit,
        miette::miette!(
            help = "fix the causes above and rerun `airlift build`: finished work is not repeated",
            "{}:\n  {}",
            counts.join("; "),
            lines.join("\n  ")
        ),
    ))
}
