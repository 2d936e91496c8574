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
            MessageFormat::Json => tokio::spawn(json(rx)),
            MessageFormat::Human => tokio::spawn(human(rx, jobs)),
        };
        (sink, Reporter { handle })
    }

    /// Waits until every event was rendered (call after dropping every sink).
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

async fn json(mut rx: UnboundedReceiver<Event>) {
    while let Some(e) = rx.recv().await {
        if let Ok(line) = serde_json::to_string(&e) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
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
            Event::JobFailed { source, error, .. } => {
                images.inc(1);
                let line = format!("failed {source}: {error}");
                if terminal {
                    multi.suspend(|| eprintln!("{line}"));
                } else {
                    eprintln!("{line}");
                }
            }
            Event::JobStarted { .. } | Event::ManifestPushed { .. } => {}
        }
        bytes.set_message(format!("{mounted} mounted, {skipped} already present"));
    }
    images.finish();
    bytes.finish();
    if !terminal {
        eprintln!(
            "{} bytes uploaded, {mounted} blobs mounted, {skipped} already present",
            bytes.position()
        );
    }
}
