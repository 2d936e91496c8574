//! The one reporter: it owns the terminal. Workers send `Event`s; the reporter renders
//! indicatif progress bars on a terminal, plain lines when stderr is not a terminal, or JSON
//! lines on stdout for `--message-format json`. Nothing else in a run prints progress.
//!
//! Bytes move the progress as they stream (the destination client's [`UploadMeter`], read
//! every second), so a copy of a few large layers does not sit at `0/40` until its end; large
//! uploads in flight get a line each.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::events::{Event, EventSink};
use crate::registry::UploadMeter;

/// How often progress is refreshed from the meter.
const TICK: Duration = Duration::from_secs(1);
/// How often a log (not a terminal) gets a progress line.
const LOG_EVERY_TICKS: u32 = 10;

/// What the run is expected to move, and where streamed bytes are counted.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    /// Image tasks (and deletions) the bar counts.
    pub images: usize,
    /// Bytes the plan expects to upload (an estimate: blobs not believed present).
    pub bytes: u64,
    pub meter: Option<Arc<UploadMeter>>,
}

/// How to render events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFormat {
    Human,
    Json,
}

/// A running reporter.
pub struct Reporter {
    handle: JoinHandle<()>,
}

impl Reporter {
    /// Starts the reporter for a run expected to move `expected`; returns the sink workers
    /// send to.
    pub fn start(format: MessageFormat, expected: Expected) -> (EventSink, Reporter) {
        let (sink, rx) = EventSink::channel();
        let handle = match format {
            MessageFormat::Json => tokio::spawn(json(rx, Box::new(std::io::stdout()), expected)),
            MessageFormat::Human => tokio::spawn(human(rx, expected)),
        };
        (sink, Reporter { handle })
    }

    /// A JSON-lines reporter writing to `out` instead of stdout.
    pub fn start_json(out: Box<dyn Write + Send>, expected: Expected) -> (EventSink, Reporter) {
        let (sink, rx) = EventSink::channel();
        let handle = tokio::spawn(json(rx, out, expected));
        (sink, Reporter { handle })
    }

    /// Waits until every event was rendered (call after dropping every sink).
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

/// A tick each [`TICK`]; ticks missed while busy are skipped, not bunched.
fn ticker() -> tokio::time::Interval {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick
}

/// Counts finished images (for progress lines and events).
fn finishes_image(e: &Event) -> bool {
    matches!(
        e,
        Event::JobFinished { .. } | Event::JobFailed { .. } | Event::ManifestDeleted { .. }
    )
}

async fn json(
    mut rx: UnboundedReceiver<Event>,
    mut out: Box<dyn Write + Send>,
    expected: Expected,
) {
    let mut tick = ticker();
    let (mut images, mut last) = (0usize, None);
    loop {
        let e = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = tick.tick() => {
                let Some(meter) = &expected.meter else { continue };
                let now = (images, meter.sent());
                if last == Some(now) {
                    continue;
                }
                last = Some(now);
                Event::Progress {
                    images,
                    images_total: expected.images,
                    bytes: now.1,
                    bytes_expected: expected.bytes,
                }
            }
        };
        if finishes_image(&e) {
            images += 1;
        }
        if let Ok(line) = serde_json::to_string(&e) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
}

async fn human(mut rx: UnboundedReceiver<Event>, expected: Expected) {
    let jobs = expected.images;
    let terminal = std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let images = multi.add(ProgressBar::new(jobs as u64));
    images.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} images  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    images.set_prefix("copying");
    let bytes = multi.add(if expected.bytes > 0 {
        ProgressBar::new(expected.bytes)
    } else {
        ProgressBar::new_spinner()
    });
    bytes.set_style(
        ProgressStyle::with_template(if expected.bytes > 0 {
            "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}), {msg}"
        } else {
            "{prefix:>8} {bytes} uploaded ({bytes_per_sec}), {msg}"
        })
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> "),
    );
    bytes.set_prefix("bytes");
    let mut large: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let large_style =
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    let mut tick = ticker();
    let (mut ticks, mut logged) = (0u32, None);
    let (mut mounted, mut skipped) = (0u64, 0u64);
    loop {
        let e = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = tick.tick() => {
                let Some(meter) = &expected.meter else { continue };
                let sent = meter.sent();
                bytes.set_position(if expected.bytes > 0 { sent.min(expected.bytes) } else { sent });
                let flying = meter.in_flight();
                large.retain(|what, bar| {
                    let keep = flying.iter().any(|f| &f.0 == what);
                    if !keep {
                        bar.finish_and_clear();
                    }
                    keep
                });
                for (what, done, size) in flying {
                    let bar = large.entry(what.clone()).or_insert_with(|| {
                        let b = multi.add(ProgressBar::new(size));
                        b.set_style(large_style.clone());
                        b.set_prefix("layer");
                        b.set_message(what);
                        b
                    });
                    bar.set_position(done);
                }
                ticks += 1;
                let now = (images.position(), sent);
                if !terminal && ticks.is_multiple_of(LOG_EVERY_TICKS) && logged != Some(now) {
                    logged = Some(now);
                    let of = if expected.bytes > 0 {
                        format!(" of about {}", crate::plan::explain::human_bytes(expected.bytes))
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "progress: {}/{jobs} images, {}{of} uploaded",
                        now.0,
                        crate::plan::explain::human_bytes(sent)
                    );
                }
                continue;
            }
        };
        match e {
            Event::BlobTransferred { bytes: n, .. } => {
                if expected.meter.is_none() {
                    bytes.inc(n)
                }
            }
            Event::BlobMounted { .. } => mounted += 1,
            Event::BlobSkipped { .. } => skipped += 1,
            Event::JobFinished { dest, digest, .. } => {
                images.inc(1);
                if !terminal {
                    eprintln!("copied {dest}@{digest}");
                }
            }
            Event::ManifestDeleted { image, existed, .. } => {
                images.inc(1);
                if !terminal {
                    let how = if existed { "" } else { " (already gone)" };
                    eprintln!("deleted {image}{how}");
                }
            }
            Event::JobFailed { source, error, .. } => {
                images.inc(1);
                let line = format!("failed {source}: {error}");
                if terminal {
                    multi.suspend(|| eprintln!("{line}"));
                } else {
                    eprintln!("{line}");
                }
            }
            Event::ResourcesWritten {
                target,
                dir,
                files,
                held,
                not_held,
                notes,
            } => {
                let mut lines = vec![format!(
                    "resources: {files} file(s) for {held} image(s) of target `{target}` in {dir}"
                )];
                lines.extend(notes.iter().map(|n| format!("  note: {n}")));
                if !not_held.is_empty() {
                    lines.push(format!(
                        "  note: {} image(s) of the target are not mirrored yet and are left out: {}",
                        not_held.len(),
                        not_held.join(", ")
                    ));
                }
                let text = lines.join("\n");
                if terminal {
                    multi.suspend(|| eprintln!("{text}"));
                } else {
                    eprintln!("{text}");
                }
            }
            // The failure report at the end names failed verifications with their help.
            Event::JobStarted { .. }
            | Event::ManifestPushed { .. }
            | Event::VerificationFailed { .. }
            | Event::Progress { .. } => {}
        }
        bytes.set_message(format!("{mounted} blobs mounted, {skipped} present"));
    }
    for bar in large.values() {
        bar.finish_and_clear();
    }
    images.finish();
    bytes.finish();
    // The command prints the one summary line (it also knows what was fresh or missing).
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::oci::Digest;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn json_reporter_writes_one_line_per_event() {
        let out = Shared::default();
        let (sink, reporter) = Reporter::start_json(Box::new(out.clone()), Expected::default());
        sink.send(Event::JobStarted {
            job: 0,
            source: "a.example/x:1".into(),
            dest: "b.example/x:1".into(),
        });
        sink.send(Event::JobFinished {
            job: 0,
            dest: "b.example/x:1".into(),
            digest: Digest::of(b""),
            bytes: 0,
        });
        drop(sink);
        reporter.finish().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "job-started");
        assert_eq!(lines[1]["event"], "job-finished");
    }

    /// Hardening (#18): progress stayed at `0/40 images` during a 1.5 GiB copy; bytes
    /// streamed into uploads now show every second, here as `progress` JSON events.
    #[tokio::test(start_paused = true)]
    async fn progress_events_follow_the_meter_each_second() {
        let out = Shared::default();
        let meter = Arc::new(UploadMeter::default());
        let expected = Expected {
            images: 2,
            bytes: 1000,
            meter: Some(meter.clone()),
        };
        let (sink, reporter) = Reporter::start_json(Box::new(out.clone()), expected);
        tokio::time::sleep(Duration::from_millis(10)).await;
        meter.advance("r/x sha256:aa", 400, 400, 1000);
        tokio::time::sleep(TICK).await;
        meter.advance("r/x sha256:aa", 600, 1000, 1000);
        sink.send(Event::JobFinished {
            job: 0,
            dest: "b.example/x:1".into(),
            digest: Digest::of(b""),
            bytes: 1000,
        });
        tokio::time::sleep(TICK).await;
        // Nothing moved in this second: no event.
        tokio::time::sleep(TICK).await;
        drop(sink);
        reporter.finish().await;
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let progress: Vec<(u64, u64)> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "progress")
            .map(|v| (v["images"].as_u64().unwrap(), v["bytes"].as_u64().unwrap()))
            .collect();
        assert_eq!(progress, vec![(0, 0), (0, 400), (1, 1000)], "{text}");
    }

    #[tokio::test]
    async fn human_reporter_without_terminal_finishes() {
        let expected = Expected {
            images: 1,
            ..Expected::default()
        };
        let (sink, reporter) = Reporter::start(MessageFormat::Human, expected);
        sink.send(Event::BlobSkipped {
            job: 0,
            digest: Digest::of(b""),
        });
        drop(sink);
        reporter.finish().await;
    }
}
