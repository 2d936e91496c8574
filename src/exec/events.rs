//! Typed events that workers send and the reporter renders. Serialised with serde as JSON lines
//! for `--message-format json`; the human reporter draws progress bars from the same events.

use serde::Serialize;
use tokio::sync::mpsc;

use crate::oci::Digest;

/// Something that happened during execution. `job` is the index of the task in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A copy job began.
    JobStarted {
        job: usize,
        source: String,
        dest: String,
    },
    /// A blob's bytes were uploaded to the destination.
    BlobTransferred {
        job: usize,
        digest: Digest,
        bytes: u64,
    },
    /// A blob was mounted from another repository of the destination registry.
    BlobMounted {
        job: usize,
        digest: Digest,
        from: String,
    },
    /// A blob was already at the destination.
    BlobSkipped { job: usize, digest: Digest },
    /// A manifest was pushed (by digest or tag).
    ManifestPushed { job: usize, reference: String },
    /// A job finished; `digest` is the destination manifest digest.
    JobFinished {
        job: usize,
        dest: String,
        digest: Digest,
        bytes: u64,
    },
    /// A manifest was deleted (`airlift delete --execute`); `existed` is false when it was
    /// already gone (a rerun after a crash).
    ManifestDeleted {
        job: usize,
        image: String,
        existed: bool,
    },
    /// A signature or archive verification failed (`verify-signature`, `verify-cosign`,
    /// `verify-archive`); what it gates is not attempted.
    VerificationFailed {
        job: usize,
        /// The task's id and what it verified.
        task: String,
        subject: String,
        error: String,
    },
    /// A job failed; independent jobs go on.
    JobFailed {
        job: usize,
        source: String,
        error: String,
    },
    /// Once a second while something moves (`--message-format json`): images finished and
    /// bytes streamed into uploads so far; `bytes_expected` is the plan's estimate.
    Progress {
        images: usize,
        images_total: usize,
        bytes: u64,
        bytes_expected: u64,
    },
    /// A target's cluster resources were written.
    ResourcesWritten {
        target: String,
        dir: String,
        files: usize,
        /// Images and catalogs they describe.
        held: usize,
        /// Images of the target it does not hold (yet), left out.
        not_held: Vec<String>,
        notes: Vec<String>,
    },
}

/// Where workers send events. Cloning is cheap; a discarded sink drops everything.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl EventSink {
    /// A sink and the receiving end for one reporter.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink { tx: Some(tx) }, rx)
    }

    /// A sink that drops every event (tests, library callers without output).
    pub fn discard() -> Self {
        EventSink { tx: None }
    }

    /// Sends an event; a closed reporter is not an error for the worker.
    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_tagged_json() {
        let e = Event::BlobTransferred {
            job: 3,
            digest: Digest::of(b""),
            bytes: 10,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"blob-transferred","job":3,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","bytes":10}"#
        );
    }

    #[tokio::test]
    async fn channel_delivers_and_discard_drops() {
        let (sink, mut rx) = EventSink::channel();
        sink.send(Event::BlobSkipped {
            job: 0,
            digest: Digest::of(b"x"),
        });
        drop(sink);
        assert!(matches!(rx.recv().await, Some(Event::BlobSkipped { .. })));
        assert!(rx.recv().await.is_none());
        EventSink::discard().send(Event::BlobSkipped {
            job: 0,
            digest: Digest::of(b"x"),
        });
    }
}
