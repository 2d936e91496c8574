//! The `verify-signature` kind: the detached signatures of one release payload, verified
//! against the keyrings of the trust blocks that apply to its release set (`task::verify`),
//! before anything of the release is copied. Recorded under `verify-signature:<digest>`; the
//! record alone confirms it (the key covers the keyrings' bytes).

use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;

use super::{Check, Inputs, Kind, Loaded, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef, Repository};
use crate::plan::TaskKey;
use crate::state::KindName;
use crate::task::verify_release_payload;

/// A key file a trust block names, read once per build: the bytes verified with are the bytes
/// whose digest is in the task key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyFile {
    pub path: PathBuf,
    pub digest: Digest,
    #[serde(skip)]
    pub bytes: Loaded<Vec<u8>>,
}

impl KeyFile {
    pub fn new(path: PathBuf, bytes: Vec<u8>) -> Self {
        KeyFile {
            digest: Digest::of(&bytes),
            path,
            bytes: Loaded::new(bytes),
        }
    }
}

/// Verify the signatures of one release payload before anything of that release is copied
/// (DESIGN §7). Every copy of the release from the source depends on this task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifySpec {
    /// The release set.
    pub set: String,
    /// `<version>-<arch>`, for messages.
    pub release: String,
    /// The payload, pinned to `digest`.
    pub payload: ImageRef,
    pub digest: Digest,
    /// The keyrings of every trust block with a `gpg-keyring` that applies to the set (sorted
    /// by trust name; a signature by a key in any of them is accepted).
    pub keyrings: Vec<KeyFile>,
    /// The first `signature-store` among those trust blocks, if any (else `OCP_SIGNATURE_URL`,
    /// else Red Hat's).
    pub store: Option<String>,
    /// Repositories a signature's `docker-reference` may name besides the payload's own.
    pub also_accept: Vec<Repository>,
    /// Where verified signatures are saved (`<workspace>/signatures`).
    pub signatures_dir: PathBuf,
}

impl VerifySpec {
    /// The digest of the keyrings' bytes: one keyring's own digest, or the digest of the list
    /// of their digests.
    pub fn keyring_digest(&self) -> Digest {
        match self.keyrings.as_slice() {
            [one] => one.digest.clone(),
            many => Digest::of(
                many.iter()
                    .map(|k| k.digest.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
                    .as_bytes(),
            ),
        }
    }
}

impl Kind for VerifySpec {
    const NAME: KindName = KindName::VerifySignature;

    fn key(&self) -> TaskKey {
        TaskKey::compute(
            Self::NAME.as_str(),
            &[&self.digest, &self.keyring_digest()],
            &json!({
                "also_accept": self.also_accept.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "store": self.store,
            }),
        )
    }

    fn slot(&self) -> String {
        format!("verify-signature:{}", self.digest)
    }

    fn source_digest(&self) -> Digest {
        self.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Record
    }

    async fn run(&self, cx: &RunCx<'_>, _inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        let job = self.clone();
        let web = cx.sides.web.clone();
        tokio::task::spawn_blocking(move || verify_release_payload(&job, &web))
            .await
            .map_err(|e| {
                TaskError::new(
                    Exit::Internal,
                    format!("the verification of {} stopped: {e}", self.payload),
                    "rerun `airlift build`; if it happens again, report it",
                )
            })?
            .map_err(|e| {
                TaskError::new(
                    Exit::Verification,
                    e.to_string(),
                    "check the trust block's gpg-keyring and signature-store, or rerun with --no-verify (not recommended)",
                )
            })?;
        Ok(Output {
            digest: self.digest.clone(),
            counts: Default::default(),
        })
    }
}
