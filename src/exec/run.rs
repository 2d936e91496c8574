//! The scheduler: runs a plan's dirty tasks in dependency order through the copy engine and
//! records each finished task in the journal the moment its destination holds it.
//!
//! Tasks are grouped in waves (a task runs after every dirty task it depends on) and, within a
//! wave, in batches by the side they read from (original sources, or destinations of needed
//! targets). Each batch is one `copy_all` call, which is concurrent within the transfer limits.
//! A task whose dependency failed is not attempted and says why. Release signature and cosign
//! verifications run first in their wave (cosign ones concurrently, within `--jobs`), so the
//! copies they gate see their outcome.
//! Prune-catalog tasks of a wave run next, concurrently (`task::prune_catalog`); they depend
//! on the copies of what their catalog lists, so they land in a later wave than those copies.
//! A target that inherits a catalog copies the rebuilt image from the rebuilding target's
//! destination, pinned to the digest the prune task pushed.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};

use super::{Event, EventSink, Limits};
use crate::discover::{ManifestCache, Sides};
use crate::oci::{Digest, ImageRef, Repository};
use crate::plan::{
    CopySpec, CosignSpec, Plan, PruneSpec, Task, TaskId, TaskKind, VerifySpec, cosign_record_dest,
    verify_record_dest,
};
use crate::state::{Journal, JournalError, Record};
use crate::task::{
    CopyContext, CopyJob, Counts, PlacedBlobs, copy_all, prune_catalog, verify_cosign_image,
    verify_release_payload,
};

/// What execution did.
#[derive(Debug, Default)]
pub struct ExecOutcome {
    /// Destination digest of every task that finished.
    pub done: BTreeMap<TaskId, Digest>,
    /// Tasks that failed, with the reason.
    pub failed: BTreeMap<TaskId, String>,
    pub totals: Counts,
}

/// Runs the dirty tasks of `plan`. Journal write failures abort (state must stay truthful).
pub async fn execute(
    plan: &Plan,
    sides: &Sides,
    limits: Limits,
    manifests: Option<&ManifestCache>,
    journal: &mut Journal,
    events: &EventSink,
) -> Result<ExecOutcome, JournalError> {
    let mut out = ExecOutcome::default();
    let placed = PlacedBlobs::new();
    let likely_present = std::sync::Arc::new(plan.present.clone());
    let dirty: Vec<&Task> = plan.dirty().collect();
    let mut level: BTreeMap<&TaskId, usize> = BTreeMap::new();
    for t in &dirty {
        let l = t
            .deps
            .iter()
            .filter_map(|d| level.get(d).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        level.insert(&t.id, l);
    }
    let waves = level.values().copied().max().map_or(0, |m| m + 1);
    // A copy reads from an upstream target's destination when it depends on the copy (or the
    // catalog rebuild) that filled the repository it reads from; other dependencies (a
    // verification, a release's components before its payload) do not change where it reads
    // from.
    let written: BTreeMap<&TaskId, &ImageRef> = plan
        .tasks
        .iter()
        .filter_map(|t| t.kind.origin_and_dest().map(|(_, dest)| (&t.id, dest)))
        .collect();
    let copied_to: BTreeMap<&TaskId, &Repository> = written
        .iter()
        .map(|(id, dest)| (*id, dest.repository()))
        .collect();
    let reads_upstream = |t: &Task| {
        t.kind.as_copy().is_some_and(|c| {
            t.deps
                .iter()
                .any(|d| copied_to.get(d) == Some(&c.from.repository()))
        })
    };
    for wave in 0..waves {
        for t in dirty.iter().filter(|t| level[&t.id] == wave) {
            if let TaskKind::VerifySignature(spec) = &t.kind {
                run_verify(t, spec, journal, &mut out).await?;
            }
        }
        let cosign: Vec<(&Task, &CosignSpec)> = dirty
            .iter()
            .filter(|t| level[&t.id] == wave)
            .filter_map(|t| match &t.kind {
                TaskKind::VerifyCosign(c) => Some((*t, c)),
                _ => None,
            })
            .collect();
        run_cosign(&cosign, sides, limits, journal, &mut out).await?;
        let mut prunes: Vec<(&Task, &PruneSpec)> = Vec::new();
        for t in dirty.iter().filter(|t| level[&t.id] == wave) {
            if let TaskKind::PruneCatalog(p) = &t.kind {
                if let Some(dep) = t.deps.iter().find(|d| out.failed.contains_key(*d)) {
                    out.failed
                        .insert(t.id.clone(), format!("not attempted: `{dep}` failed"));
                    continue;
                }
                prunes.push((*t, p));
            }
        }
        run_prunes(&prunes, sides, limits, &placed, journal, events, &mut out).await?;
        for from_upstream in [false, true] {
            let mut batch: Vec<(&Task, &CopySpec)> = Vec::new();
            for t in dirty.iter().filter(|t| level[&t.id] == wave) {
                let Some(c) = t.kind.as_copy() else { continue };
                if reads_upstream(t) != from_upstream {
                    continue;
                }
                if let Some(dep) = t.deps.iter().find(|d| out.failed.contains_key(*d)) {
                    out.failed
                        .insert(t.id.clone(), format!("not attempted: `{dep}` failed"));
                    continue;
                }
                batch.push((*t, c));
            }
            if batch.is_empty() {
                continue;
            }
            let ctx = CopyContext {
                source: if from_upstream {
                    sides.dest.clone()
                } else {
                    sides.source.clone()
                },
                dest: sides.dest.clone(),
                limits,
                manifests: manifests.cloned(),
                likely_present: likely_present.clone(),
            };
            let jobs = batch
                .iter()
                .map(|(t, c)| CopyJob {
                    source: pinned_source(t, c, &written, &out),
                    dest: c.dest.clone(),
                    platforms: c.platforms.clone(),
                    signatures: c.signatures,
                })
                .collect();
            run_batch(&batch, jobs, &ctx, journal, events, &mut out).await?;
        }
    }
    Ok(out)
}

/// Rebuilds and pushes the catalogs of a wave concurrently (at most `limits.jobs` at once),
/// recording each in the journal as it finishes. Reports them as jobs (`job` counts within
/// this call). Different catalogs write different destinations, so the order they finish in
/// changes nothing but the order of journal records.
async fn run_prunes(
    prunes: &[(&Task, &PruneSpec)],
    sides: &Sides,
    limits: Limits,
    placed: &PlacedBlobs,
    journal: &mut Journal,
    events: &EventSink,
    out: &mut ExecOutcome,
) -> Result<(), JournalError> {
    let mut running = stream::iter(prunes.iter().enumerate())
        .map(|(job, (_, p))| async move {
            events.send(Event::JobStarted {
                job,
                source: p.from.to_string(),
                dest: p.dest.to_string(),
            });
            (
                job,
                prune_catalog(p, &sides.source, &sides.dest, placed).await,
            )
        })
        .buffer_unordered(limits.jobs.max(1));
    while let Some((job, result)) = running.next().await {
        let (t, p) = prunes[job];
        match result {
            Ok(done) => {
                journal.append(&[Record {
                    key: t.key.to_string(),
                    kind: t.kind.name().to_string(),
                    dest: p.dest.to_string(),
                    source_digest: p.digest.clone(),
                    output_digest: done.digest.clone(),
                }])?;
                out.totals.bytes += done.bytes;
                events.send(Event::JobFinished {
                    job,
                    dest: p.dest.to_string(),
                    digest: done.digest.clone(),
                    bytes: done.bytes,
                });
                out.done.insert(t.id.clone(), done.digest);
            }
            Err(e) => {
                events.send(Event::JobFailed {
                    job,
                    source: p.from.to_string(),
                    error: e.to_string(),
                });
                out.failed.insert(t.id.clone(), e.to_string());
            }
        }
    }
    Ok(())
}

/// Where a copy reads from. A source named by tag that a dependency wrote in this run (a
/// rebuilt catalog copied on to a target that needs the rebuilding target) is pinned to the
/// digest that dependency pushed, so the copy carries exactly that image.
fn pinned_source(
    t: &Task,
    c: &CopySpec,
    written: &BTreeMap<&TaskId, &ImageRef>,
    out: &ExecOutcome,
) -> ImageRef {
    if c.from.digest().is_some() {
        return c.from.clone();
    }
    t.deps
        .iter()
        .filter(|d| written.get(d) == Some(&&c.from))
        .find_map(|d| out.done.get(d))
        .map_or_else(|| c.from.clone(), |digest| c.from.pinned(digest.clone()))
}

async fn run_batch(
    batch: &[(&Task, &CopySpec)],
    jobs: Vec<CopyJob>,
    ctx: &CopyContext,
    journal: &mut Journal,
    events: &EventSink,
    out: &mut ExecOutcome,
) -> Result<(), JournalError> {
    let (sink, mut rx) = EventSink::channel();
    let copy = async move {
        let summary = copy_all(jobs, ctx, &sink).await;
        drop(sink);
        summary
    };
    // Record each finished job as its event arrives, so a crash keeps every finished task.
    let record = async {
        let mut first_error = None;
        while let Some(ev) = rx.recv().await {
            if let Event::JobFinished { job, digest, .. } = &ev
                && let Some((t, c)) = batch.get(*job)
                && first_error.is_none()
            {
                let rec = Record {
                    key: t.key.to_string(),
                    kind: t.kind.name().to_string(),
                    dest: c.dest.to_string(),
                    source_digest: c.digest.clone(),
                    output_digest: digest.clone(),
                };
                if let Err(e) = journal.append(&[rec]) {
                    first_error = Some(e);
                }
            }
            events.send(ev);
        }
        first_error
    };
    let (summary, journal_error) = tokio::join!(copy, record);
    if let Some(e) = journal_error {
        return Err(e);
    }
    out.totals.add(&summary.totals);
    for ((t, _), job) in batch.iter().zip(summary.jobs) {
        match job.result {
            Ok(c) => {
                out.done.insert(t.id.clone(), c.digest);
            }
            Err(e) => {
                out.failed.insert(t.id.clone(), e.to_string());
            }
        }
    }
    Ok(())
}

/// Runs one `verify-signature` task (blocking, off the async workers) and records it.
async fn run_verify(
    t: &Task,
    spec: &VerifySpec,
    journal: &mut Journal,
    out: &mut ExecOutcome,
) -> Result<(), JournalError> {
    let job = spec.clone();
    let result = tokio::task::spawn_blocking(move || verify_release_payload(&job))
        .await
        .map_err(|e| format!("the verification of {} stopped: {e}", spec.payload))
        .and_then(|r| r.map_err(|e| e.to_string()));
    record_verification(
        t,
        &verify_record_dest(spec),
        &spec.digest,
        result.map(|_key_id| ()),
        journal,
        out,
    )
}

/// Records the outcome of a verification task: done (in the journal, keyed by the task, the
/// verified digest as source and output) or failed with the reason.
fn record_verification(
    t: &Task,
    dest: &str,
    digest: &Digest,
    result: Result<(), String>,
    journal: &mut Journal,
    out: &mut ExecOutcome,
) -> Result<(), JournalError> {
    match result {
        Ok(()) => {
            journal.append(&[Record {
                key: t.key.to_string(),
                kind: t.kind.name().to_string(),
                dest: dest.to_string(),
                source_digest: digest.clone(),
                output_digest: digest.clone(),
            }])?;
            out.done.insert(t.id.clone(), digest.clone());
        }
        Err(why) => {
            out.failed.insert(t.id.clone(), why);
        }
    }
    Ok(())
}

/// Runs the `verify-cosign` tasks of one wave concurrently (at most `limits.jobs` at once)
/// against the source registry and records each that verified.
async fn run_cosign(
    tasks: &[(&Task, &CosignSpec)],
    sides: &Sides,
    limits: Limits,
    journal: &mut Journal,
    out: &mut ExecOutcome,
) -> Result<(), JournalError> {
    if tasks.is_empty() {
        return Ok(());
    }
    let mut results: Vec<(usize, Result<(), String>)> = stream::iter(tasks.iter().enumerate())
        .map(|(i, (_, spec))| async move {
            let r = verify_cosign_image(spec, &sides.source)
                .await
                .map_err(|e| e.to_string());
            (i, r)
        })
        .buffer_unordered(limits.jobs.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    for (i, r) in results {
        let (t, spec) = tasks[i];
        record_verification(t, &cosign_record_dest(spec), &spec.digest, r, journal, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{DirtyReason, Freshness, TaskKey};

    fn copy_task(from: &str, deps: Vec<TaskId>) -> (Task, CopySpec) {
        let digest = Digest::of(b"source catalog");
        let spec = CopySpec {
            from: from.parse().expect("ref"),
            origin: "quay.io/ns/index:v1".parse().expect("ref"),
            digest: digest.clone(),
            dest: "enclave.example/e/ns/index:v1".parse().expect("ref"),
            platforms: None,
            signatures: false,
        };
        let task = Task {
            id: TaskId::new("copy", "enclave", "catalog quay.io/ns/index:v1"),
            target: "enclave".into(),
            key: TaskKey::compute("copy", &[&digest], &serde_json::json!({})),
            kind: TaskKind::Copy(spec.clone()),
            deps,
            freshness: Freshness::Dirty(DirtyReason::NeverRun),
            bytes: 0,
        };
        (task, spec)
    }

    #[test]
    fn a_tag_source_written_by_a_dependency_is_pinned_to_its_result() {
        let prune = TaskId::new("prune-catalog", "enterprise", "quay.io/ns/index:v1");
        let other = TaskId::new("copy", "enterprise", "quay.io/ns/op@sha256:…");
        let upstream: ImageRef = "mirror.example/m/ns/index:v1".parse().expect("ref");
        let elsewhere: ImageRef = "mirror.example/m/ns/op:v1".parse().expect("ref");
        let written = BTreeMap::from([(&prune, &upstream), (&other, &elsewhere)]);
        let rebuilt = Digest::of(b"rebuilt");
        let mut out = ExecOutcome::default();
        out.done.insert(other.clone(), Digest::of(b"op"));
        let (t, c) = copy_task(
            "mirror.example/m/ns/index:v1",
            vec![other.clone(), prune.clone()],
        );
        assert_eq!(
            pinned_source(&t, &c, &written, &out),
            c.from,
            "not pushed yet"
        );
        out.done.insert(prune.clone(), rebuilt.clone());
        let pinned = pinned_source(&t, &c, &written, &out);
        assert_eq!(pinned.digest(), Some(&rebuilt));
        assert_eq!(pinned.tag(), Some("v1"));
        // A source already pinned keeps its digest.
        let (t, c) = copy_task(
            &format!("mirror.example/m/ns/index:v1@{}", Digest::of(b"x")),
            vec![prune.clone()],
        );
        assert_eq!(pinned_source(&t, &c, &written, &out), c.from);
    }
}
