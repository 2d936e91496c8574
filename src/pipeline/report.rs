//! What a build did, once, for every audience: the one-line summary people read on stderr, the
//! final `build-summary` JSON event CI parses, and the Markdown job summary
//! (`build --summary-md FILE`) CI systems show on a run's page — counts, bytes, what changed
//! in the lock, and every failure with its help.
//!
//! Pure: built from the plan, the outcome and the locks; the caller prints or writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::exec::ExecOutcome;
use crate::plan::explain::human_bytes;
use crate::plan::{Plan, TaskId};
use crate::state::{LockDiff, LockFile};

/// The facts of one build.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildReport {
    /// Tasks that put an image (or chart) somewhere and finished.
    pub copied: usize,
    /// Content tasks that were already done.
    pub fresh: usize,
    pub failed: Vec<FailedTask>,
    pub missing: Vec<MissingImage>,
    /// Bytes uploaded and blob counts.
    pub bytes: u64,
    pub blobs_uploaded: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
    /// What changed in the lock, one line per change (`+`, `-`, `~`), empty when nothing did.
    pub lock_changes: Vec<String>,
    /// Per target: tasks run and fresh.
    pub targets: BTreeMap<String, TargetCounts>,
    /// HTTP requests per side and registry host, with retries and throttling answers.
    pub requests: Vec<RequestCount>,
    /// `build --shard K/N`: which shard this was, and how many dirty tasks it left to the other
    /// shards and to `--shards-done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_to_others: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RequestCount {
    /// `source` or `destination`.
    pub side: String,
    pub host: String,
    pub requests: u64,
    pub retries: u64,
    /// Answers 429 or 503.
    pub throttled: u64,
    /// The smallest the transfer window to this registry became (it halves on 429/503 and
    /// grows back); `None` when no transfer went there.
    pub smallest_window: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedTask {
    pub task: String,
    pub error: String,
    pub help: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MissingImage {
    pub image: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct TargetCounts {
    pub run: usize,
    pub fresh: usize,
    pub failed: usize,
}

impl BuildReport {
    pub fn new(
        plan: &Plan,
        outcome: &ExecOutcome,
        old_lock: Option<&LockFile>,
        lock: &LockFile,
    ) -> Self {
        let by_id: BTreeMap<&TaskId, &crate::plan::Task> =
            plan.tasks.iter().map(|t| (&t.id, t)).collect();
        let mut r = BuildReport {
            fresh: plan
                .tasks
                .iter()
                .filter(|t| !t.kind.is_output() && t.freshness.is_fresh())
                .count(),
            copied: outcome
                .done
                .keys()
                .filter(|id| by_id.get(id).is_some_and(|t| t.kind.writes_image()))
                .count(),
            bytes: outcome.totals.bytes,
            blobs_uploaded: outcome.totals.blobs_uploaded,
            blobs_mounted: outcome.totals.blobs_mounted,
            blobs_present: outcome.totals.blobs_present,
            ..BuildReport::default()
        };
        r.failed = outcome
            .failed
            .iter()
            .map(|(id, f)| FailedTask {
                task: id.to_string(),
                error: f.to_string(),
                help: match f {
                    crate::exec::Failed::Error(e) => e.help.clone(),
                    crate::exec::Failed::NotAttempted { .. } => None,
                },
            })
            .collect();
        r.missing = plan
            .missing
            .iter()
            .map(|(i, why)| MissingImage {
                image: i.to_string(),
                reason: why.clone(),
            })
            .collect();
        let diff = match old_lock {
            Some(old) => LockFile::diff(old, lock),
            None => LockFile::diff(&LockFile::default(), lock),
        };
        if !diff.is_empty() {
            r.lock_changes = diff_lines(&diff);
        }
        for t in plan.tasks.iter().filter(|t| !t.target.is_empty()) {
            let c = r.targets.entry(t.target.clone()).or_default();
            if t.freshness.is_fresh() {
                c.fresh += 1;
            } else if outcome.failed.contains_key(&t.id) {
                c.failed += 1;
            } else {
                c.run += 1;
            }
        }
        r
    }

    /// A shard's build: the dirty tasks of other shares did not run here and are not counted
    /// as run.
    pub fn add_shard(
        &mut self,
        plan: &Plan,
        shard: crate::plan::Shard,
        share: &crate::plan::ShardShare,
    ) {
        let mut left = 0;
        for t in plan.dirty().filter(|t| !share.run.contains(&t.id)) {
            left += 1;
            if let Some(c) = self.targets.get_mut(&t.target) {
                c.run = c.run.saturating_sub(1);
            }
        }
        self.shard = Some(shard.to_string());
        self.left_to_others = Some(left);
    }

    /// Adds what each side's client asked of each registry (discovery and execution).
    pub fn add_traffic(
        &mut self,
        clients: &[(&str, &crate::registry::RegistryClient)],
        outcome: &ExecOutcome,
    ) {
        for (side, client) in clients {
            for (host, t) in client.traffic() {
                self.requests.push(RequestCount {
                    side: side.to_string(),
                    smallest_window: outcome.windows.get(&host).map(|w| w.1),
                    host,
                    requests: t.requests,
                    retries: t.retries,
                    throttled: t.throttled,
                });
            }
        }
    }

    /// The line people read at the end of `airlift build`.
    pub fn line(&self) -> String {
        let who = match &self.shard {
            Some(s) => format!("build (shard {s})"),
            None => "build".to_string(),
        };
        let mut line = format!(
            "{who}: {} copied, {} fresh, {} failed, {} missing; {} uploaded ({} blobs), {} blobs mounted, {} already present",
            self.copied,
            self.fresh,
            self.failed.len(),
            self.missing.len(),
            human_bytes(self.bytes),
            self.blobs_uploaded,
            self.blobs_mounted,
            self.blobs_present,
        );
        if let Some(n) = self.left_to_others {
            line.push_str(&format!(
                "; {n} task(s) left to the other shards and --shards-done"
            ));
        }
        let requests: u64 = self.requests.iter().map(|r| r.requests).sum();
        if requests > 0 {
            let retries: u64 = self.requests.iter().map(|r| r.retries).sum();
            line.push_str(&format!("; {requests} requests, {retries} retried"));
        }
        for r in self.requests.iter().filter(|r| r.throttled > 0) {
            line.push_str(&format!(
                "; throttled: {} answered 429/503 {} time(s)",
                r.host, r.throttled
            ));
            if let Some(w) = r.smallest_window {
                line.push_str(&format!(", transfers to it narrowed to {w} at once"));
            }
        }
        line
    }

    /// The final JSON event of `--message-format json`.
    pub fn event(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("event".to_string(), "build-summary".into());
        }
        v.to_string()
    }

    /// A short Markdown summary for a CI job page.
    pub fn markdown(&self, targets: &[String]) -> String {
        let mut s = String::new();
        let status = if self.failed.is_empty() && self.missing.is_empty() {
            "succeeded"
        } else {
            "failed"
        };
        let named = if targets.is_empty() {
            "every target".to_string()
        } else {
            targets
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "## airlift build {status} ({named})\n");
        let _ = writeln!(
            s,
            "| copied | fresh | failed | missing | uploaded | blobs uploaded / mounted / present |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---|");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} / {} |\n",
            self.copied,
            self.fresh,
            self.failed.len(),
            self.missing.len(),
            human_bytes(self.bytes),
            self.blobs_uploaded,
            self.blobs_mounted,
            self.blobs_present
        );
        if self.targets.len() > 1 {
            let _ = writeln!(s, "| target | ran | fresh | failed |\n|---|---:|---:|---:|");
            for (t, c) in &self.targets {
                let _ = writeln!(s, "| `{t}` | {} | {} | {} |", c.run, c.fresh, c.failed);
            }
            s.push('\n');
        }
        for r in self.requests.iter().filter(|r| r.throttled > 0) {
            let _ = writeln!(
                s,
                "Throttled: `{}` answered 429/503 {} time(s).\n",
                r.host, r.throttled
            );
        }
        if self.lock_changes.is_empty() {
            let _ = writeln!(s, "The lock did not change.\n");
        } else {
            let _ = writeln!(s, "### Changed in the lock\n\n```diff");
            for l in &self.lock_changes {
                let _ = writeln!(s, "{l}");
            }
            let _ = writeln!(s, "```\n");
        }
        if !self.failed.is_empty() {
            let _ = writeln!(s, "### Failures\n");
            for f in &self.failed {
                let _ = writeln!(s, "- `{}`: {}", f.task, one_line(&f.error));
                if let Some(h) = &f.help {
                    let _ = writeln!(s, "  - help: {}", one_line(h));
                }
            }
            s.push('\n');
        }
        if !self.missing.is_empty() {
            let _ = writeln!(s, "### Missing images\n");
            for m in &self.missing {
                let _ = writeln!(s, "- `{}`: {}", m.image, one_line(&m.reason));
            }
            s.push('\n');
        }
        s
    }
}

fn diff_lines(d: &LockDiff) -> Vec<String> {
    d.render().lines().map(str::to_string).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;
    use crate::state::LockedImage;

    #[test]
    fn the_markdown_says_what_changed_and_what_failed() {
        let old = LockFile::new(vec![LockedImage::new(
            "apps",
            "quay.io/x/app:1".parse().unwrap(),
            Digest::of(b"a"),
        )]);
        let new = LockFile::new(vec![LockedImage::new(
            "apps",
            "quay.io/x/app:1".parse().unwrap(),
            Digest::of(b"b"),
        )]);
        let mut r = BuildReport::new(&Plan::default(), &ExecOutcome::default(), Some(&old), &new);
        r.failed.push(FailedTask {
            task: "copy mirror quay.io/x/app:1".into(),
            error: "upload failed:\n  reset".into(),
            help: Some("rerun `airlift build`".into()),
        });
        let md = r.markdown(&["mirror".to_string()]);
        assert!(
            md.starts_with("## airlift build failed (`mirror`)\n"),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "~ apps quay.io/x/app:1 {} -> {}",
                Digest::of(b"a"),
                Digest::of(b"b")
            )),
            "{md}"
        );
        assert!(md.contains("- `copy mirror quay.io/x/app:1`: upload failed: reset\n  - help: rerun `airlift build`"), "{md}");
        assert!(!md.contains("Throttled"), "{md}");
        r.requests.push(RequestCount {
            side: "destination".into(),
            host: "mirror.example".into(),
            requests: 40,
            retries: 3,
            throttled: 3,
            smallest_window: Some(3),
        });
        let md = r.markdown(&[]);
        assert!(
            md.contains("Throttled: `mirror.example` answered 429/503 3 time(s)."),
            "{md}"
        );
        assert!(
            r.line()
                .contains("throttled: mirror.example answered 429/503 3 time(s), transfers to it narrowed to 3 at once"),
            "{}",
            r.line()
        );
        let same = BuildReport::new(&Plan::default(), &ExecOutcome::default(), Some(&new), &new);
        assert!(same.markdown(&[]).contains("The lock did not change."));
        let event: serde_json::Value = serde_json::from_str(&same.event()).unwrap();
        assert_eq!(event["event"], "build-summary");
        assert_eq!(event["copied"], 0);
    }
}
