//! Attachments that travel with an image: cosign `sha256-<hex>.sig|.att|.sbom` tags and OCI 1.1
//! referrers (through the referrers API, or the `sha256-<hex>` tag-schema index on registries
//! without it). Used only by the copy task.
//!
//! Attachment tags are looked up in the source repository's tag list, read once per repository
//! per run — when one page holds it. A repository whose list the registry paginates (huge
//! repositories), or refuses, is asked with a `HEAD` per candidate tag instead, so a refused
//! listing never fails the copy. A registry without the referrers API is asked once per run.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::oci::{Digest, ImageRef, Repository};
use crate::registry::RegistryError;

use super::copy::{JobRun, once_per_run};

const COSIGN_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

/// Tag lists beyond one page of this size are not read: candidates are HEADed instead.
const TAG_PAGE: usize = 1000;

/// The tag list of a repository, or `None` when it is not used (paginated or refused).
type TagList = Arc<OnceCell<Option<Arc<BTreeSet<String>>>>>;

/// What the source said about attachments, shared by every job of a batch.
#[derive(Default)]
pub struct AttachmentProbes {
    tags: Mutex<HashMap<Repository, TagList>>,
    /// Per source registry: whether it has the referrers API (the first job asks, the others
    /// wait for its answer instead of each asking too).
    referrers_api: Mutex<HashMap<String, Arc<OnceCell<bool>>>>,
}

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
        let referrers = self.referrers(src, subject).await?;
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
    /// True when the source holds the tag `image`: from the repository's tag list when it was
    /// read, else a `HEAD` under a permit.
    async fn source_has(&self, image: &ImageRef) -> Result<bool, RegistryError> {
        if let Some(tag) = image.tag()
            && let Some(tags) = self.tag_list(image.repository()).await
        {
            return Ok(tags.contains(tag));
        }
        let _permit = self.engine.permits.acquire(&[image.registry()]).await;
        Ok(self.engine.ctx.source.head_manifest(image).await?.is_some())
    }

    /// The source repository's tags, read once per run; `None` when paginated or refused.
    async fn tag_list(&self, repo: &Repository) -> Option<Arc<BTreeSet<String>>> {
        let cell = once_per_run(&self.engine.attachments.tags, repo);
        cell.get_or_init(|| async {
            let _permit = self.engine.permits.acquire(&[repo.registry()]).await;
            match self.engine.ctx.source.tags_if_few(repo, TAG_PAGE).await {
                Ok(Some(tags)) => Some(Arc::new(tags.into_iter().collect())),
                Ok(None) | Err(_) => None,
            }
        })
        .await
        .clone()
    }

    /// Referrers of `subject` through the API; `None` (use the tag schema) when the registry
    /// lacks the API, which is asked once per run.
    async fn referrers(
        &self,
        src: &Repository,
        subject: &Digest,
    ) -> Result<Option<Vec<crate::registry::Descriptor>>, RegistryError> {
        let cell = once_per_run(&self.engine.attachments.referrers_api, src.registry());
        let ask = || async {
            let _permit = self.engine.permits.acquire(&[src.registry()]).await;
            self.engine.ctx.source.referrers(src, subject).await
        };
        let mut first = None;
        let has_api = *cell
            .get_or_try_init(|| async {
                let found = ask().await?;
                let has = found.is_some();
                first = Some(found);
                Ok::<_, RegistryError>(has)
            })
            .await?;
        match first {
            Some(found) => Ok(found),
            None if has_api => ask().await,
            None => Ok(None),
        }
    }
}
