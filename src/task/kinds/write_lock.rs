//! The `write-lock` kind: `airlift.lock` written with this build's resolution. It keeps no
//! journal record: the file is its own record, fresh when its bytes are already these.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Loaded, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::oci::Digest;
use crate::plan::TaskKey;
use crate::state::{KindName, LockFile};

/// Write the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockSpec {
    pub path: PathBuf,
    #[serde(skip)]
    pub lock: Loaded<LockFile>,
    /// The digest of the lock's text.
    pub digest: Digest,
}

impl LockSpec {
    pub fn new(path: PathBuf, lock: std::sync::Arc<LockFile>) -> Self {
        LockSpec {
            digest: Digest::of(lock.to_text().as_bytes()),
            path,
            lock: Loaded(lock),
        }
    }

    /// The journal-free slot under which discovery reports the lock file's current digest.
    pub fn slot_of(path: &std::path::Path) -> String {
        format!("write-lock:{}", path.display())
    }
}

impl Kind for LockSpec {
    const NAME: KindName = KindName::WriteLock;

    fn key(&self) -> TaskKey {
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.digest],
            &json!({"path": self.path}),
        )
    }

    fn slot(&self) -> String {
        Self::slot_of(&self.path)
    }

    fn source_digest(&self) -> Digest {
        self.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Content {
            slot: self.slot(),
            digest: self.digest.clone(),
        }
    }

    /// The file is its own record.
    fn record(&self, _key: &TaskKey, _output: &Output) -> Option<crate::state::Record> {
        None
    }

    async fn run(&self, _cx: &RunCx<'_>, _inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        self.lock.write(&self.path).map_err(|e| {
            TaskError::new(
                Exit::Io,
                e.to_string(),
                "check that the recipe's directory is writable, then rerun: finished work is recorded and not repeated",
            )
        })?;
        Ok(Output {
            digest: self.digest.clone(),
            counts: Default::default(),
        })
    }
}
