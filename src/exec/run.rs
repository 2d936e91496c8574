//! The scheduler: runs a plan's dirty tasks through a ready queue ([`DependencyQueue`]) and
//! records each finished task in the journal the moment it is done.
//!
//! A task starts as soon as the tasks it waits for have finished, within one pool of task slots;
//! network operations inside tasks take transfer permits (a global pool and per-registry
//! limits, `exec::limits`). The scheduler knows no task kinds: it calls [`TaskKind::run`] and
//! writes the record [`TaskKind::record`] gives. A failed task leaves its hard dependants "not
//! attempted"; independent tasks go on. Journal write failures abort (state must stay
//! truthful).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::queue::{DependencyQueue, Edge};
use super::timings::{BlobSpan, RunSpan, SlowBlobs, ms_since};
use super::{Event, EventSink, Limits};
use crate::discover::{ManifestCache, Sides};
use crate::oci::Digest;
use crate::plan::{Plan, TaskId};
use crate::state::{Journal, JournalError};
use crate::task::{
    CopyContext, CopyEngine, Counts, Inputs, PlacedBlobs, RunCx, TaskError, TaskKind,
};

/// What the caller gives a run besides the plan.
pub struct RunEnv<'a> {
    pub sides: &'a Sides,
    pub limits: Limits,
    /// Manifests discovery read, so copies do not GET them again.
    pub manifests: Option<ManifestCache>,
    /// `build --shard`: run only this share of the dirty tasks, waiting for the blobs other
    /// shards upload.
    pub share: Option<&'a crate::plan::ShardShare>,
}

/// Why a task did not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failed {
    Error(TaskError),
    /// A task it needed failed (the root failure is named).
    NotAttempted {
        dep: TaskId,
    },
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Error(e) => write!(f, "{e}"),
            Failed::NotAttempted { dep } => write!(f, "not attempted: `{dep}` failed"),
        }
    }
}

/// What execution did.
#[derive(Debug, Default)]
pub struct ExecOutcome {
    /// Output digest of every task that finished.
    pub done: BTreeMap<TaskId, Digest>,
    /// Tasks that did not finish, with why.
    pub failed: BTreeMap<TaskId, Failed>,
    pub totals: Counts,
    /// When each task that ran (finished or failed) ran, by its index in the plan.
    pub spans: BTreeMap<usize, RunSpan>,
    /// The slowest blob uploads.
    pub slowest_blobs: Vec<BlobSpan>,
    /// Per registry: the transfer window at the end and the smallest it was.
    pub windows: BTreeMap<String, (usize, usize)>,
}

/// Task slots: copies spend most of their time waiting on the network, where transfer permits
/// bound the real concurrency, so many may be in flight.
fn slots(limits: &Limits) -> usize {
    (limits.jobs * 8).max(32)
}

/// Runs the dirty tasks of `plan`, appending each finished task's record to `journal` (which
/// tasks that read the journal, the resources, lock while they read).
pub async fn execute(
    plan: &Plan,
    env: &RunEnv<'_>,
    journal: &Mutex<Journal>,
    events: &EventSink,
) -> Result<ExecOutcome, JournalError> {
    let index: BTreeMap<&TaskId, usize> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.id, i))
        .collect();
    let dirty: BTreeSet<usize> = plan
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.freshness.is_fresh())
        .filter(|(_, t)| env.share.is_none_or(|s| s.run.contains(&t.id)))
        .map(|(i, _)| i)
        .collect();
    let edges = plan.tasks.iter().enumerate().flat_map(|(i, t)| {
        let hard = t.deps.iter().map(|d| (d, Edge::Hard));
        let after = t.after.iter().map(|d| (d, Edge::After));
        hard.chain(after)
            .filter_map(|(d, e)| index.get(d).map(|&j| (i, j, e)))
            .collect::<Vec<_>>()
    });
    let mut queue = DependencyQueue::new(&dirty, edges);
    let likely_present = plan.present.clone();
    let slow_blobs = Arc::new(SlowBlobs::default());
    let homes = plan.homes.clone();
    let foreign = Arc::new(env.share.map(|s| s.foreign.clone()).unwrap_or_default());
    let context = |source: &crate::registry::RegistryClient| CopyContext {
        slow_blobs: slow_blobs.clone(),
        source: source.clone(),
        dest: env.sides.dest.clone(),
        limits: env.limits.clone(),
        manifests: env.manifests.clone(),
        likely_present: likely_present.clone(),
        homes: homes.clone(),
        foreign: foreign.clone(),
    };
    let (source_ctx, dest_ctx) = (context(&env.sides.source), context(&env.sides.dest));
    let permits = Arc::new(super::Permits::adaptive(
        env.limits.clone(),
        vec![
            env.sides.source.traffic_handle(),
            env.sides.dest.traffic_handle(),
        ],
    ));
    let permits_view = permits.clone();
    let from_source = CopyEngine::sharing(&source_ctx, events, permits.clone());
    let from_dest = CopyEngine::sharing(&dest_ctx, events, permits);
    let placed = PlacedBlobs::new();
    let cx = RunCx {
        sides: env.sides,
        from_source: &from_source,
        from_dest: &from_dest,
        placed: &placed,
        journal,
        events,
    };
    let cx = &cx;
    let mut out = ExecOutcome::default();
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < slots(&env.limits)
            && let Some(i) = queue.pop()
        {
            let task = &plan.tasks[i];
            let deps: BTreeMap<TaskId, Digest> = task
                .deps
                .iter()
                .filter_map(|d| out.done.get(d).map(|o| (d.clone(), o.clone())))
                .collect();
            let kind: &TaskKind = &task.kind;
            running.push(async move {
                let inputs = Inputs {
                    job: i,
                    deps: &deps,
                };
                let start = std::time::Instant::now();
                (i, start, kind.run(cx, &inputs).await)
            });
        }
        let Some((i, start, result)) = running.next().await else {
            break;
        };
        let task = &plan.tasks[i];
        let epoch = crate::registry::run_epoch();
        out.spans.insert(
            i,
            RunSpan {
                start_ms: ms_since(epoch, start),
                end_ms: ms_since(epoch, std::time::Instant::now()),
                bytes: result.as_ref().map_or(0, |o| o.counts.bytes),
            },
        );
        match result {
            Ok(output) => {
                if let Some(record) = task.kind.record(&task.key, &output) {
                    journal
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .append(&[record])?;
                }
                out.totals.add(&output.counts);
                out.done.insert(task.id.clone(), output.digest);
                queue.finish(i, true);
            }
            Err(e) => {
                if task.kind.is_verification() {
                    events.send(Event::VerificationFailed {
                        job: i,
                        task: task.id.to_string(),
                        subject: task.kind.subject(),
                        error: e.message.clone(),
                    });
                }
                out.failed.insert(task.id.clone(), Failed::Error(e));
                for (skipped, root) in queue.finish(i, false) {
                    out.failed.insert(
                        plan.tasks[skipped].id.clone(),
                        Failed::NotAttempted {
                            dep: plan.tasks[root].id.clone(),
                        },
                    );
                }
            }
        }
    }
    out.slowest_blobs = slow_blobs.slowest();
    out.windows = permits_view.windows();
    Ok(out)
}
