//! The `verify-cosign` kind: the cosign signature (`sha256-<hex>.sig` in the source
//! repository) of one source image, verified against the keys of the trust blocks of one
//! content set (`task::cosign`) before the image is tagged anywhere. Recorded under
//! `verify-cosign:<repository>@<digest> <trusts>`; the record alone confirms it (the key covers
//! the key files' bytes).

use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;

use super::{Check, Inputs, Kind, Loaded, Output, RunCx, TaskError};
use crate::exit::Exit;
use crate::oci::{Digest, ImageRef};
use crate::plan::TaskKey;
use crate::state::KindName;
use crate::task::verify_cosign_image;
use crate::trust::CosignKey;

/// One cosign public key a `trust` block gives a content set, read and parsed once per build.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CosignKeyRef {
    /// The trust block's name.
    pub trust: String,
    /// The `cosign-key` file (as the recipe resolves it).
    pub path: PathBuf,
    /// The digest of the key file's bytes (part of the task key).
    pub digest: Digest,
    /// The key parsed from exactly those bytes.
    #[serde(skip)]
    pub key: Loaded<CosignKey>,
}

/// Verify the cosign signature of one source image against the keys of the trust blocks of
/// one content set before the image is tagged at any destination (DESIGN §7). Every copy of
/// the image from the source depends on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CosignSpec {
    /// The content set whose trust blocks give the keys.
    pub set: String,
    /// The image as the recipe names it (for messages).
    pub origin: ImageRef,
    /// `<source repository>@<digest>`: the repository holds the signature tag.
    pub image: ImageRef,
    /// The signed digest: what the destination is tagged with (an index for multi-arch).
    pub digest: Digest,
    /// The keys, sorted; a signature by any one of them is accepted.
    pub keys: Vec<CosignKeyRef>,
}

impl Kind for CosignSpec {
    const NAME: KindName = KindName::VerifyCosign;

    fn key(&self) -> TaskKey {
        let mut inputs: Vec<&Digest> = vec![&self.digest];
        inputs.extend(self.keys.iter().map(|k| &k.digest));
        TaskKey::compute(
            Self::NAME.as_str(),
            &inputs,
            &json!({ "repository": self.image.repository().to_string() }),
        )
    }

    fn slot(&self) -> String {
        let trusts: Vec<&str> = self.keys.iter().map(|k| k.trust.as_str()).collect();
        format!(
            "verify-cosign:{}@{} {}",
            self.image.repository(),
            self.digest,
            trusts.join(",")
        )
    }

    fn source_digest(&self) -> Digest {
        self.digest.clone()
    }

    fn check(&self) -> Check {
        Check::Record
    }

    async fn run(&self, cx: &RunCx<'_>, _inputs: &Inputs<'_>) -> Result<Output, TaskError> {
        verify_cosign_image(self, &cx.sides.source)
            .await
            .map_err(|e| {
                TaskError::new(
                    Exit::Verification,
                    e.to_string(),
                    "sign the image at this digest with the private half of the key, fix the trust block's `cosign-key`, or rerun with --no-verify (not recommended)",
                )
            })?;
        Ok(Output {
            digest: self.digest.clone(),
            counts: Default::default(),
        })
    }
}
