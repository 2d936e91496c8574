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
