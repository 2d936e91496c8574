//! One pipeline, four calls: [`prepare`] (discover → merged lock → `plan::build`) and
//! [`execute`] (`exec::execute` with the one reporter). `build`, `plan`, `lock` and `update`
//! are these calls with different requests; [`failure`] is the one place a build's task
//! failures become an exit code.

use std::collections::{BTreeMap, BTreeSet};

use super::discover::{DiscoverMode, discover};
use super::lock::{check_locked, merged_lock};
use super::{Options, Session, runtime, source_date_epoch};
use crate::discover::{Discovery, Resolution};
use crate::exec::{self, ExecOutcome, Failed, MessageFormat, Reporter, RunEnv};
use crate::exit::{Exit, Failure};
use crate::plan::{self, Outputs, Plan, PlanOptions, TargetGoal, TaskId};
use crate::state::{Journal, LockFile};

/// What a command asks of the pipeline.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// Targets to build (all when empty).
    pub targets: &'a [String],
    /// Content sets to resolve (all when empty): `update NAME…`.
    pub sets: &'a [String],
    pub resolution: Resolution,
    /// `--trust-state`.
    pub trust_state: bool,
    /// Copy cosign attachments and referrers with their subjects (not `--no-signatures`).
    pub signatures: bool,
    /// Verify signatures (not `--no-verify`).
    pub verify: bool,
    /// `--split-blobs`: a blob larger than `archive-size` spans chunks.
    pub split_blobs: bool,
    /// `--shard K/N`: run this shard's share of the copies (see [`crate::plan::shard`]).
    pub shard: Option<plan::Shard>,
    /// `--shards-done N`: merge the N shards' journals first, then build what is left.
    pub shards_done: Option<u32>,
}

impl<'a> Request<'a> {
    /// What `build` and `plan` ask by default.
    pub fn new(options: &Options, targets: &'a [String]) -> Self {
        Request {
            targets,
            sets: &[],
            resolution: options.resolution(),
            trust_state: false,
            signatures: true,
            verify: true,
            split_blobs: false,
            shard: None,
            shards_done: None,
        }
    }
}

/// Everything a command needs after planning.
pub struct Prepared {
    pub session: Session,
    pub runtime: tokio::runtime::Runtime,
    /// The goals as expanded from the recipe (release and catalog items are added by the
    /// planner from `discovery`).
    pub goals: Vec<TargetGoal>,
    pub discovery: Discovery,
    /// The lock before and after this resolution.
    pub old_lock: Option<LockFile>,
    pub lock: std::sync::Arc<LockFile>,
    pub plan: Plan,
    /// The journal, shared with the tasks while they run (`exec::execute` appends to it).
    pub journal: std::sync::Mutex<Journal>,
    /// Discovery's warnings (lines starting with `WARNING` are printed even with `-q`) and
    /// notes.
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// `--shard K/N`: the shard and its share of the plan.
    pub share: Option<(plan::Shard, plan::ShardShare)>,
    /// `--shards-done N`: the shards merged before planning.
    pub shards_done: Option<u32>,
}

/// Discover, merge the lock (and check it with `--locked`), plan.
pub fn prepare(options: &Options, request: &Request<'_>) -> Result<Prepared, Failure> {
    let session = Session::open_as(options, request.shard)?;
    if let Some(s) = request.shard {
        super::shards::start(&session, s)?;
    }
    let merged = match request.shards_done {
        Some(n) => Some((n, super::shards::merge(&session, n)?)),
        None => None,
    };
    let mut prepared = prepare_in(session, options, request)?;
    if let Some((n, records)) = merged {
        prepared
            .notes
            .push(format!("merged {records} record(s) of {n} shard(s)"));
    }
    Ok(prepared)
}

/// [`prepare`] in an open session.
pub(super) fn prepare_in(
    session: Session,
    options: &Options,
    request: &Request<'_>,
) -> Result<Prepared, Failure> {
    let mut goals = session.goals(request.targets)?;
    if !request.sets.is_empty() {
        let keep = |s: &String| request.sets.contains(s);
        for g in &mut goals {
            g.items.retain(|i| keep(&i.set));
            g.releases.retain(|r| keep(&r.set));
            g.catalogs.retain(|c| keep(&c.set));
        }
    }
    if options.since.is_some() && goals.iter().all(|g| g.archive.is_none()) {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = "name a file:// target (`airlift build DISK --since DATE`), or drop --since",
                "--since applies to file:// targets, and this build writes none"
            ),
        ));
    }
    let old_lock = session.read_lock()?;
    let journal = session.journal()?;
    let rt = runtime()?;
    let found = discover(
        &rt,
        &session,
        options,
        &goals,
        old_lock.as_ref(),
        &journal,
        DiscoverMode {
            resolution: request.resolution,
            trust_state: request.trust_state,
            verify: request.verify,
        },
    )?;
    let discovery = found.discovery;
    let blocks: Vec<_> = session.recipe.block_patterns().cloned().collect();
    let (expanded, _) = plan::expand_items(&goals, &discovery, &blocks);
    let lock = std::sync::Arc::new(merged_lock(old_lock.as_ref(), &expanded, &discovery));
    if options.locked {
        check_locked(&session.lock_path, old_lock.as_ref(), &lock)?;
    }
    let plan = plan::build(
        &session.recipe,
        &goals,
        &discovery,
        &journal,
        &PlanOptions {
            trust_state: request.trust_state,
            signatures: request.signatures,
            outputs: Some(Outputs {
                workspace: session.workspace.clone(),
                lock: lock.clone(),
                lock_path: (!options.offline).then(|| session.lock_path.clone()),
                insecure_mirrors: !options.dest_tls_verify,
                source_date_epoch: source_date_epoch(),
                split_blobs: request.split_blobs,
                since: options.since,
            }),
        },
    );
    let share = request
        .shard
        .map(|s| (s, plan::shard::share(&plan, &discovery, s)));
    Ok(Prepared {
        share,
        shards_done: request.shards_done,
        session,
        runtime: rt,
        goals,
        discovery,
        old_lock,
        lock,
        plan,
        journal: std::sync::Mutex::new(journal),
        warnings: found.said.warnings,
        notes: found.said.notes,
    })
}

/// Runs the plan's dirty tasks, reporting progress in `format` (nothing with `quiet` and human
/// output). Returns what happened; records go to `prepared.journal` as tasks finish.
pub fn execute(
    options: &Options,
    prepared: &mut Prepared,
    format: MessageFormat,
) -> Result<ExecOutcome, Failure> {
    let share = prepared.share.as_ref().map(|(_, s)| s);
    let runs = |t: &&plan::Task| share.is_none_or(|s| s.run.contains(&t.id));
    if !prepared.plan.dirty().any(|t| runs(&t)) {
        return Ok(ExecOutcome::default());
    }
    let sides = prepared.session.sides(options)?;
    let env = RunEnv {
        sides: &sides,
        limits: options.limits(&prepared.session.recipe),
        manifests: Some(prepared.session.cache()),
        share,
    };
    let (plan, journal) = (&prepared.plan, &prepared.journal);
    prepared
        .runtime
        .block_on(async {
            // `-q` prints errors only: no reporter, events are dropped.
            let (sink, reporter) = if options.quiet && format == MessageFormat::Human {
                (exec::EventSink::discard(), None)
            } else {
                let expected = exec::Expected {
                    images: plan
                        .dirty()
                        .filter(runs)
                        .filter(|t| t.kind.counts_in_progress())
                        .count(),
                    bytes: plan.dirty().filter(runs).map(|t| t.bytes).sum(),
                    meter: Some(env.sides.dest.meter()),
                };
                let (s, r) = Reporter::start(format, expected);
                (s, Some(r))
            };
            let r = exec::execute(plan, &env, journal, &sink).await;
            drop(sink);
            if let Some(reporter) = reporter {
                reporter.finish().await;
            }
            r
        })
        .map_err(Failure::io)
}

/// What the build did (`BuildReport`), with the requests each side's client made.
pub fn report(
    options: &Options,
    prepared: &Prepared,
    outcome: &ExecOutcome,
) -> Result<super::BuildReport, Failure> {
    let mut report = super::BuildReport::new(
        &prepared.plan,
        outcome,
        prepared.old_lock.as_ref(),
        &prepared.lock,
    );
    if let Some((shard, share)) = &prepared.share {
        report.add_shard(&prepared.plan, *shard, share);
    }
    let sides = prepared.session.sides(options)?;
    report.add_traffic(
        &[("source", &sides.source), ("destination", &sides.dest)],
        outcome,
    );
    Ok(report)
}

/// One line per reason images could not be resolved: an unreachable registry is one line
/// naming how many images it holds back (the first three named), not one line per image.
fn missing_lines(missing: &[(crate::oci::ImageRef, String)]) -> Vec<String> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (img, why) in missing {
        by_reason
            .entry(why.as_str())
            .or_default()
            .push(img.to_string());
    }
    by_reason
        .into_iter()
        .map(|(why, images)| match images.as_slice() {
            [one] => format!("missing {one}: {why}"),
            many => {
                let shown: Vec<&str> = many.iter().take(3).map(String::as_str).collect();
                let more = if many.len() > 3 { ", …" } else { "" };
                format!(
                    "missing {} images ({}{more}): {why}",
                    many.len(),
                    shown.join(", ")
                )
            }
        })
        .collect()
}

/// One line per reason tasks failed: a registry that stayed unreachable is one line naming a
/// few of the tasks it stopped, not one line per task.
fn failed_lines(failed: &BTreeMap<TaskId, Failed>) -> Vec<String> {
    let mut by_reason: BTreeMap<String, Vec<&TaskId>> = BTreeMap::new();
    for (id, why) in failed {
        by_reason.entry(why.to_string()).or_default().push(id);
    }
    let mut lines: Vec<(&TaskId, String)> = by_reason
        .into_iter()
        .map(|(why, ids)| match ids.as_slice() {
            [one] => (*one, format!("{one}: {why}")),
            many => {
                let shown: Vec<String> = many.iter().take(3).map(ToString::to_string).collect();
                let more = if many.len() > 3 { ", …" } else { "" };
                (
                    many[0],
                    format!("{} tasks ({}{more}): {why}", many.len(), shown.join(", ")),
                )
            }
        })
        .collect();
    // In task order, as before grouping.
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}

/// The end of a build once its summary is out: its failure (see [`failure`]); else a shard
/// marks itself done, and `--shards-done` removes the shard directories it merged.
pub fn conclude(
    prepared: &Prepared,
    outcome: &ExecOutcome,
    report: &super::BuildReport,
) -> Result<(), Failure> {
    if let Some(f) = failure(&prepared.plan, outcome) {
        return Err(f);
    }
    if let Some((shard, _)) = &prepared.share {
        super::shards::mark_done(&prepared.session, *shard, &report.line())?;
    }
    if let Some(n) = prepared.shards_done {
        super::shards::finish(&prepared.session, n)?;
    }
    Ok(())
}

/// The build's failure, if any: every failed task and unresolved image, each task's help once,
/// and the exit code — `Verification` when a signature check failed, `Remote` when nothing was
/// done and nothing was fresh, the failure's own class when every failure has the same one,
/// else `Partial`.
pub fn failure(plan: &Plan, outcome: &ExecOutcome) -> Option<Failure> {
    if outcome.failed.is_empty() && plan.missing.is_empty() {
        return None;
    }
    let mut lines = failed_lines(&outcome.failed);
    lines.extend(missing_lines(&plan.missing));
    let errors: Vec<&exec::Failed> = outcome.failed.values().collect();
    let classes: BTreeSet<Exit> = errors
        .iter()
        .filter_map(|f| match f {
            Failed::Error(e) => Some(e.exit),
            Failed::NotAttempted { .. } => None,
        })
        .collect();
    let fresh = plan
        .tasks
        .iter()
        .filter(|t| t.kind.writes_image() && t.freshness.is_fresh())
        .count();
    let by_id = plan.by_id();
    let image_done = outcome
        .done
        .keys()
        .any(|id| by_id.get(id).is_some_and(|t| t.kind.writes_image()));
    let exit = if classes.contains(&Exit::Verification) {
        Exit::Verification
    } else if !image_done && fresh == 0 {
        Exit::Remote
    } else if classes.len() == 1
        && plan.missing.is_empty()
        && let Some(only) = classes.first()
        && matches!(only, Exit::Io | Exit::InvalidInput)
    {
        *only
    } else {
        Exit::Partial
    };
    // Tasks and unresolved images are counted apart: a failed verification and the copies it
    // stopped are several tasks of one image.
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
    let mut helps: Vec<String> = errors
        .iter()
        .filter_map(|f| match f {
            Failed::Error(e) => e.help.clone(),
            Failed::NotAttempted { .. } => None,
        })
        .collect();
    helps.sort();
    helps.dedup();
    helps.push(
        "fix the causes above and rerun `airlift build`: finished work is not repeated".to_string(),
    );
    Some(Failure::new(
        exit,
        miette::miette!(
            help = helps.join("\n"),
            "{}:\n  {}",
            counts.join("; "),
            lines.join("\n  ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::kinds::{KindName, TaskError};

    #[test]
    fn tasks_failing_for_one_reason_are_one_line() {
        let down = || {
            Failed::Error(TaskError::new(
                Exit::Remote,
                "cannot connect to registry 127.0.0.1:5000".to_string(),
                "check it",
            ))
        };
        let mut failed = BTreeMap::new();
        for i in 0..5 {
            failed.insert(
                TaskId::new(KindName::Copy, "t", &format!("src/app-{i}:1")),
                down(),
            );
        }
        let other = TaskId::new(KindName::Copy, "t", "src/zz:1");
        failed.insert(
            other.clone(),
            Failed::NotAttempted {
                dep: TaskId::new(KindName::Copy, "t", "src/app-0:1"),
            },
        );
        let lines = failed_lines(&failed);
        assert_eq!(
            lines,
            [
                "5 tasks (copy t src/app-0:1, copy t src/app-1:1, copy t src/app-2:1, …): cannot connect to registry 127.0.0.1:5000",
                "copy t src/zz:1: not attempted: `copy t src/app-0:1` failed",
            ]
        );
    }
}
