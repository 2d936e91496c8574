//! The one reporter: it owns the terminal. Workers send `Event`s; the reporter renders
//! indicatif progress bars on a terminal, plain lines when stderr is not a terminal, or JSON
//! lines on stdout for `--message-format json`. Nothing else in a run prints progress.

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::events::{Event, EventSink};

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
    /// Starts the reporter for a batch of `jobs` jobs; returns the sink workers send to.
    pub fn start(format: MessageFormat, jobs: usize) -> (EventSink, Reporter) {
        let (sink, rx) = EventSink::channel();
        let handle = match format {
            MessageFormat::Json => tokio::spawn(json(rx, Box::new(std::io::stdout()))),
            MessageFormat::Human => tokio::spawn(human(rx, jobs)),
        };
        (sink, Reporter { handle })
    }

    /// A JSON-lines reporter writing to `out` instead of stdout.
    pub fn start_json(out: Box<dyn Write + Send>) -> (EventSink, Reporter) {
        let (sink, rx) = EventSink::channel();
        let handle = tokio::spawn(json(rx, out));
        (sink, Reporter { handle })
    }

    /// Waits until every event was rendered (call after dropping every sink).
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

async fn json(mut rx: UnboundedReceiver<Event>, mut out: Box<dyn Write + Send>) {
    while let Some(e) = rx.recv().await {
        if let Ok(line) = serde_json::to_string(&e) {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
}

async fn human(mut rx: UnboundedReceiver<Event>, jobs: usize) {
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
    let bytes = multi.add(ProgressBar::new_spinner());
    bytes.set_style(
        ProgressStyle::with_template("{prefix:>8} {bytes} uploaded ({bytes_per_sec}), {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bytes.set_prefix("blobs");
    let (mut mounted, mut skipped) = (0u64, 0u64);
    while let Some(e) = rx.recv().await {
        match e {
            Event::BlobTransferred { bytes: n, .. } => bytes.inc(n),
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
            | Event::VerificationFailed { .. } => {}
        }
        bytes.set_message(format!("{mounted} mounted, {skipped} already present"));
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
        let (sink, reporter) = Reporter::start_json(Box::new(out.clone()));
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

    #[tokio::test]
    async fn human_reporter_without_terminal_finishes() {
        let (sink, reporter) = Reporter::start(MessageFormat::Human, 1);
        sink.send(Event::BlobSkipped {
            job: 0,
            digest: Digest::of(b""),
        });
        drop(sink);
        reporter.finish().await;
    }
}
