//! The `verify-archive` kind: the archives of a `file://` target's directory, checked before
//! anything is taken from them — every chunk's size and sha256, every tar entry (absolute
//! paths, `..`, links and devices refused), every blob's digest, and that every archive the
//! series index lists is there (`archive::ArchiveSet`). The `unpack` tasks of the directory
//! depend on it, so a damaged or incomplete series stops the build before the first push.
//!
//! Recorded under `verify-archive:<dir>` with the digest of the series' archive ids; the record
//! alone confirms it, so a rerun with no new archive does not hash the directory again. A task
//! that reads the archives after a fresh verification (an `unpack` whose destination lost its
//! image) still opens them through `ArchiveSet::shared`, which verifies them: nothing is pushed
//! from unverified bytes.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::{Check, Inputs, Kind, Output, RunCx, TaskError};
use crate::archive::ArchiveSet;
use crate::oci::Digest;
use crate::plan::TaskKey;
use crate::task::Counts;

/// Verify every archive of one directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyArchiveSpec {
    /// The archive target and its directory.
    pub archive: String,
    pub dir: PathBuf,
    /// The digest of the ids of the archives the series index lists ([`Self::series_digest`],
    /// read by discovery); `None` when the directory has no readable index (the run says why).
    pub series: Option<Digest>,
}

impl VerifyArchiveSpec {
    /// The slot under which discovery reports the digest of the directory's archive ids.
    pub fn slot_of(dir: &Path) -> String {
        format!("verify-archive:{}", dir.display())
    }

    /// The digest of the series: of its archive ids in sequence.
    pub fn series_digest(ids: &[Digest]) -> Digest {
        let text: Vec<String> = ids.iter().map(ToString::to_string).collect();
        Digest::of(text.join("\n").as_bytes())
    }
}

impl Kind for VerifyArchiveSpec {
    const NAME: super::KindName = super::KindName::VerifyArchive;

    fn key(&self) -> TaskKey {
        let inputs: Vec<&Digest> = self.series.iter().collect();
        TaskKey::compute(Self::NAME.as_str(), &inputs, &json!({ "dir": self.dir }))
    }

    fn slot(&self) -> String {
        Self::slot_of(&self.dir)
    }

    fn source_digest(&self) -> Digest {
        self.series
            .clone()
            .unwrap_or_else(|| Self::series_digest(&[]))
    }

    fn check(&self) -> Check {
        Check::Record
    }

    async fn run(&self, _cx: &RunCx<'_>, _inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        ArchiveSet::shared(&self.dir)
            .await
            .map_err(|e| super::unpack::series_error(&e))?;
        Ok(Output {
            digest: self.source_digest(),
            counts: Counts::default(),
        })
    }
}
