//! Attachments that travel with an image: cosign `sha256-<hex>.sig|.att|.sbom` tags and OCI 1.1
//! referrers (through the referrers API, or the `sha256-<hex>` tag-schema index on registries
//! without it). Used only by the copy task.
//!
//! Attachment tags are found with a `HEAD` per candidate tag rather than by listing tags: some
//! registries refuse or paginate huge tag lists, and a refused listing must not fail the copy.

use crate::oci::{Digest, ImageRef, Repository};
use crate::registry::RegistryError;

use super::copy::JobRun;

const COSIGN_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

impl JobRun<'_> {
    /// Copies the attachments of `subject` from `src` to `dst`; returns what was copied (tags
    /// and referrer digests). `dest_tag` is the tag the subject itself gets: the referrers
    /// fallback tag is not written when it would overwrite the subject.
    pub async fn copy_attachments(
        &self,
        src: &Repository,
        dst: &Repository,
        subject: &Digest,
        dest_tag: Option<&str>,
    ) -> Result<Vec<String>, RegistryError> {
        let mut copied = Vec::new();
        for suffix in COSIGN_SUFFIXES {
            let tag = format!("{}.{suffix}", subject.tag_form());
            if self.source_has(&src.with_tag(&tag)).await? {
                let m = self.get_manifest(&src.with_tag(&tag)).await?;
                self.copy_tree(src, dst, &m).await?;
                self.put_manifest(dst, &tag, &m).await?;
                copied.push(tag);
            }
        }
        let referrers = {
            let _permit = self.engine.permits.acquire(&[src.registry()]).await;
            self.engine.ctx.source.referrers(src, subject).await?
        };
        match referrers {
            Some(list) => {
                for d in list {
                    let m = self
                        .get_manifest(&src.with_digest(d.digest.clone()))
                        .await?;
                    self.copy_tree(src, dst, &m).await?;
                    copied.push(d.digest.to_string());
                }
            }
            None => {
                let fallback = subject.tag_form();
                if self.source_has(&src.with_tag(&fallback)).await? {
                    let index = self.get_manifest(&src.with_tag(&fallback)).await?;
                    self.copy_tree(src, dst, &index).await?;
                    for d in index.doc(src.registry())?.manifests {
                        copied.push(d.digest.to_string());
                    }
                    if dest_tag != Some(fallback.as_str()) {
                        self.put_manifest(dst, &fallback, &index).await?;
                        copied.push(fallback);
                    }
                }
            }
        }
        Ok(copied)
    }
}

impl JobRun<'_> {
    /// True when the source holds `image` (a `HEAD` under a permit).
    async fn source_has(&self, image: &ImageRef) -> Result<bool, RegistryError> {
        let _permit = self.engine.permits.acquire(&[image.registry()]).await;
        Ok(self.engine.ctx.source.head_manifest(image).await?.is_some())
    }
}
