//! What `airlift build --timings` records: when each task ran, what it moved, which blobs took
//! the time, and how each registry was used (requests, retries, throttling, concurrency over
//! time). The executor and the registry clients collect it; `crate::html` draws it; the same
//! data is written as JSON beside the page.
//!
//! Times are milliseconds since the run started; everything else is sorted so that two runs of
//! the same plan differ only in the times themselves.

use serde::Serialize;

/// One build's timings.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Timings {
    /// `airlift` and its version.
    pub tool: String,
    /// The targets built, in build order.
    pub targets: Vec<String>,
    /// When the run started (UTC, RFC 3339, seconds).
    pub started: String,
    /// Wall time of the execution, in milliseconds.
    pub duration_ms: u64,
    pub summary: TimingsSummary,
    /// Every task of the plan, in plan order; fresh tasks have no times.
    pub tasks: Vec<TaskSpan>,
    /// Per registry host and side, sorted by side then host.
    pub registries: Vec<RegistryUse>,
    /// The slowest blob transfers (at most 20), slowest first.
    pub slowest_blobs: Vec<BlobSpan>,
}

/// The totals at the top of the page (equal to the build summary's).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TimingsSummary {
    pub tasks: usize,
    pub run: usize,
    pub fresh: usize,
    pub failed: usize,
    /// Bytes uploaded.
    pub bytes: u64,
    pub blobs_uploaded: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
    /// HTTP requests to every registry, retries among them, and answers 429/503.
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
}

/// What became of a task.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SpanOutcome {
    /// Already done before the run (no times).
    Fresh,
    Done,
    Failed,
    /// A task it needed failed.
    NotAttempted,
}

/// One task of the plan.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TaskSpan {
    pub id: String,
    /// The task kind (`copy`, `prune-catalog`, …).
    pub kind: String,
    pub target: String,
    /// The content set the task belongs to, when it has one.
    pub set: Option<String>,
    /// What it is about (`source -> dest` for a copy).
    pub subject: String,
    pub outcome: SpanOutcome,
    /// Milliseconds since the run started; `None` for fresh and not-attempted tasks.
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Bytes the task uploaded.
    pub bytes: u64,
    /// The timeline lane (0-based) a drawing puts it in: the lowest lane free at its start.
    pub lane: Option<usize>,
}

/// How one side used one registry host.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RegistryUse {
    /// `source` or `destination`.
    pub side: String,
    pub host: String,
    pub requests: u64,
    /// Attempts after the first of a request (transient failures).
    pub retries: u64,
    /// Answers 429 or 503.
    pub throttled: u64,
    /// Requests in flight at once, at most.
    pub max_in_flight: u64,
    /// Requests in flight over time: `(ms, n)` steps, n from that time on, at most 400 points.
    pub in_flight: Vec<(u64, u64)>,
}

/// One blob upload.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BlobSpan {
    pub digest: String,
    pub repository: String,
    pub bytes: u64,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The slowest blob uploads of a run, at most [`SlowBlobs::KEEP`] (memory stays flat however
/// many blobs move).
#[derive(Debug, Default)]
pub struct SlowBlobs(std::sync::Mutex<Vec<BlobSpan>>);

impl SlowBlobs {
    pub const KEEP: usize = 20;

    /// Notes an upload of `bytes` to `repository` that ran from `start` to now.
    pub fn note(&self, digest: &str, repository: &str, bytes: u64, start: std::time::Instant) {
        let epoch = crate::registry::run_epoch();
        let span = BlobSpan {
            digest: digest.to_string(),
            repository: repository.to_string(),
            bytes,
            start_ms: ms_since(epoch, start),
            end_ms: ms_since(epoch, std::time::Instant::now()),
        };
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.push(span);
        sort_slowest(&mut v);
        v.truncate(Self::KEEP);
    }

    pub fn slowest(&self) -> Vec<BlobSpan> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn sort_slowest(v: &mut [BlobSpan]) {
    v.sort_by(|a, b| {
        (b.end_ms - b.start_ms)
            .cmp(&(a.end_ms - a.start_ms))
            .then_with(|| a.digest.cmp(&b.digest))
            .then_with(|| a.repository.cmp(&b.repository))
    });
}

/// Milliseconds from `epoch` to `t` (0 when `t` is earlier).
pub fn ms_since(epoch: std::time::Instant, t: std::time::Instant) -> u64 {
    t.saturating_duration_since(epoch).as_millis() as u64
}

/// When one task ran (milliseconds since the run's epoch) and what it uploaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSpan {
    pub start_ms: u64,
    pub end_ms: u64,
    pub bytes: u64,
}

/// Puts each timed task in the lowest lane free at its start (tasks by start, then id), as
/// cargo's timeline does; untimed tasks get none.
pub fn assign_lanes(tasks: &mut [TaskSpan]) {
    let mut order: Vec<usize> = (0..tasks.len())
        .filter(|&i| tasks[i].start_ms.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        (tasks[a].start_ms, &tasks[a].id).cmp(&(tasks[b].start_ms, &tasks[b].id))
    });
    // The end of the last task in each lane.
    let mut lanes: Vec<u64> = Vec::new();
    for i in order {
        let (start, end) = (tasks[i].start_ms.unwrap_or(0), tasks[i].end_ms.unwrap_or(0));
        let lane = match lanes.iter().position(|&busy_until| busy_until <= start) {
            Some(l) => l,
            None => {
                lanes.push(0);
                lanes.len() - 1
            }
        };
        lanes[lane] = end.max(start);
        tasks[i].lane = Some(lane);
    }
}

/// One side's traffic as the page shows it.
pub fn registry_uses(
    side: &str,
    traffic: &std::collections::BTreeMap<String, crate::registry::HostTraffic>,
) -> Vec<RegistryUse> {
    traffic
        .iter()
        .map(|(host, t)| RegistryUse {
            side: side.to_string(),
            host: host.clone(),
            requests: t.requests,
            retries: t.retries,
            throttled: t.throttled,
            max_in_flight: t.max_in_flight,
            in_flight: crate::registry::downsample(&t.in_flight, 400),
        })
        .collect()
}

/// Everything one run's page shows: the plan's tasks with the times the executor measured,
/// each client's traffic (`(side, client)`), and the slowest uploads.
pub fn collect(
    plan: &crate::plan::Plan,
    outcome: &super::ExecOutcome,
    clients: &[(&str, &crate::registry::RegistryClient)],
    targets: &[String],
) -> Timings {
    let epoch = crate::registry::run_epoch();
    let now = std::time::Instant::now();
    let started = std::time::SystemTime::now()
        .checked_sub(now.saturating_duration_since(epoch))
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let mut tasks: Vec<TaskSpan> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let span = outcome.spans.get(&i);
            let outcome = if t.freshness.is_fresh() {
                SpanOutcome::Fresh
            } else if outcome.done.contains_key(&t.id) {
                SpanOutcome::Done
            } else if matches!(
                outcome.failed.get(&t.id),
                Some(super::Failed::NotAttempted { .. })
            ) {
                SpanOutcome::NotAttempted
            } else {
                SpanOutcome::Failed
            };
            TaskSpan {
                id: t.id.to_string(),
                kind: t.kind.name().to_string(),
                target: t.target.clone(),
                set: plan.set_of(t).map(str::to_string),
                subject: t.kind.subject(),
                outcome,
                start_ms: span.map(|s| s.start_ms),
                end_ms: span.map(|s| s.end_ms),
                bytes: span.map_or(0, |s| s.bytes),
                lane: None,
            }
        })
        .collect();
    assign_lanes(&mut tasks);
    let mut registries: Vec<RegistryUse> = clients
        .iter()
        .flat_map(|(side, c)| registry_uses(side, &c.traffic()))
        .collect();
    registries.sort_by(|a, b| (&a.side, &a.host).cmp(&(&b.side, &b.host)));
    let count = |o: SpanOutcome| tasks.iter().filter(|t| t.outcome == o).count();
    let summary = TimingsSummary {
        tasks: tasks.len(),
        run: count(SpanOutcome::Done),
        fresh: count(SpanOutcome::Fresh),
        failed: count(SpanOutcome::Failed) + count(SpanOutcome::NotAttempted),
        bytes: outcome.totals.bytes,
        blobs_uploaded: outcome.totals.blobs_uploaded,
        blobs_mounted: outcome.totals.blobs_mounted,
        blobs_present: outcome.totals.blobs_present,
        requests: registries.iter().map(|r| r.requests).sum(),
        retries: registries.iter().map(|r| r.retries).sum(),
        throttled: registries.iter().map(|r| r.throttled).sum(),
    };
    Timings {
        tool: format!("airlift {}", env!("CARGO_PKG_VERSION")),
        targets: targets.to_vec(),
        started: crate::resources::rfc3339_utc(started),
        duration_ms: ms_since(epoch, now),
        summary,
        tasks,
        registries,
        slowest_blobs: outcome.slowest_blobs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, start: Option<u64>, end: Option<u64>) -> TaskSpan {
        TaskSpan {
            id: id.into(),
            kind: "copy".into(),
            target: "t".into(),
            set: None,
            subject: String::new(),
            outcome: if start.is_some() {
                SpanOutcome::Done
            } else {
                SpanOutcome::Fresh
            },
            start_ms: start,
            end_ms: end,
            bytes: 0,
            lane: None,
        }
    }

    #[test]
    fn lanes_reuse_the_lowest_free_lane() {
        let mut t = vec![
            span("a", Some(0), Some(10)),
            span("b", Some(2), Some(5)),
            span("c", Some(6), Some(8)),
            span("d", Some(10), Some(12)),
            span("fresh", None, None),
        ];
        assign_lanes(&mut t);
        let lanes: Vec<Option<usize>> = t.iter().map(|s| s.lane).collect();
        assert_eq!(lanes, vec![Some(0), Some(1), Some(1), Some(0), None]);
    }

    #[test]
    fn slow_blobs_keep_the_slowest_twenty() {
        let s = SlowBlobs::default();
        let now = std::time::Instant::now();
        for i in 0..30 {
            s.note(&format!("sha256:{i:02}"), "r/x", i, now);
        }
        assert_eq!(s.slowest().len(), SlowBlobs::KEEP);
    }
}
