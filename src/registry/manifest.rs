//! Manifest operations: GET (raw bytes kept exactly, digest verified), HEAD, PUT by tag or
//! digest, the tags list and the OCI 1.1 referrers API. Also the minimal typed view of a
//! manifest the copy engine needs (children, config, layers, subject). Reads go through the
//! registries.conf sources (`pull.rs`); PUT and DELETE go where they are told.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::auth::{Access, Scopes};
use super::client::{RegistryClient, header, status_error};
use super::conf::{PullBy, PullSource};
use super::error::RegistryError;
use crate::oci::{Digest, ImageRef, MediaType, Repository};

/// Manifests larger than this are refused (the OCI spec suggests 4 MiB).
const MAX_MANIFEST: usize = 4 * 1024 * 1024;

const ACCEPT_EXTRA: &str = "application/vnd.oci.artifact.manifest.v1+json";

/// A manifest exactly as the registry stored it.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub bytes: Bytes,
    /// The `Content-Type` (or the document's `mediaType` when the header is missing).
    pub media_type: String,
    pub digest: Digest,
}

/// An OCI descriptor (the fields the copy engine uses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The parts of a manifest or index that reference other content.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
}

impl Manifest {
    /// The typed view; an error names the manifest.
    pub fn doc(&self, registry: &str) -> Result<ManifestDoc, RegistryError> {
        serde_json::from_slice(&self.bytes).map_err(|e| RegistryError::Protocol {
            registry: registry.to_string(),
            what: format!("manifest {}", self.digest),
            message: format!("not a manifest JSON document: {e}"),
        })
    }

    /// A manifest read back from a content-addressed store: `bytes` must hash to `digest` and
    /// the document must name its media type (the `Content-Type` a PUT needs); else `None` and
    /// the caller asks the registry.
    pub fn from_stored(bytes: Vec<u8>, digest: &Digest) -> Option<Manifest> {
        if Digest::of(&bytes) != *digest {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let media_type = v.get("mediaType")?.as_str()?.to_string();
        Some(Manifest {
            bytes: Bytes::from(bytes),
            media_type,
            digest: digest.clone(),
        })
    }

    /// True for an OCI index or Docker manifest list.
    pub fn is_index(&self) -> bool {
        MediaType::parse(&self.media_type).is_some_and(MediaType::is_index)
    }
}

fn accept() -> String {
    format!("{}, {ACCEPT_EXTRA}", MediaType::accept_all())
}

impl RegistryClient {
    /// GETs a manifest; verifies its digest against the reference's digest when it has one.
    pub async fn get_manifest(&self, image: &ImageRef) -> Result<Manifest, RegistryError> {
        self.read_through(
            image.repository(),
            PullBy::of(image),
            |_| true,
            |s| {
                let at = image.in_repository(s.repository);
                async move { self.get_manifest_from(&at, s.insecure).await }
            },
        )
        .await
    }

    async fn get_manifest_from(
        &self,
        image: &ImageRef,
        insecure: bool,
    ) -> Result<Manifest, RegistryError> {
        let registry = image.registry();
        let what = format!("manifest {image}");
        let url_path = format!("/v2/{}/manifests/{}", image.path(), image.reference());
        let resp = self
            .send_to(
                registry,
                insecure,
                &Scopes::repo(image.path(), Access::Pull),
                &what,
                true,
                |http, base| {
                    http.get(format!("{base}{url_path}"))
                        .header("accept", accept())
                },
            )
            .await?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(RegistryError::NotFound {
                registry: registry.to_string(),
                what,
            });
        }
        if status != 200 {
            return Err(status_error(registry, &what, resp).await);
        }
        let content_type = header(&resp, "content-type");
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Connect {
            registry: registry.to_string(),
            what: what.clone(),
            message: super::transport::describe(&e),
        })?;
        if bytes.len() > MAX_MANIFEST {
            return Err(RegistryError::Protocol {
                registry: registry.to_string(),
                what,
                message: format!(
                    "manifest is {} bytes, more than the 4 MiB limit",
                    bytes.len()
                ),
            });
        }
        let digest = Digest::of(&bytes);
        if let Some(expected) = image.digest()
            && *expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                registry: registry.to_string(),
                what,
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type = match content_type
            .as_deref()
            .map(|c| c.split(';').next().unwrap_or(c).trim())
        {
            Some(c) if !c.is_empty() && c != "application/json" && c != "text/plain" => {
                c.to_string()
            }
            _ => serde_json::from_slice::<ManifestDoc>(&bytes)
                .ok()
                .and_then(|d| d.media_type)
                .ok_or_else(|| RegistryError::Protocol {
                    registry: registry.to_string(),
                    what: what.clone(),
                    message:
                        "neither Content-Type nor mediaType says what kind of manifest this is"
                            .into(),
                })?,
        };
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// HEADs a manifest: its digest when present, `None` when absent.
    pub async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Digest>, RegistryError> {
        self.read_through(
            image.repository(),
            PullBy::of(image),
            Option::is_some,
            |s| {
                let at = image.in_repository(s.repository);
                async move { self.head_manifest_from(&at, s.insecure).await }
            },
        )
        .await
    }

    async fn head_manifest_from(
        &self,
        image: &ImageRef,
        insecure: bool,
    ) -> Result<Option<Digest>, RegistryError> {
        let registry = image.registry();
        let what = format!("manifest {image}");
        let url_path = format!("/v2/{}/manifests/{}", image.path(), image.reference());
        let resp = self
            .send_to(
                registry,
                insecure,
                &Scopes::repo(image.path(), Access::Pull),
                &what,
                true,
                |http, base| {
                    http.head(format!("{base}{url_path}"))
                        .header("accept", accept())
                },
            )
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            200 => match header(&resp, "docker-content-digest").and_then(|d| d.parse().ok()) {
                Some(d) => Ok(Some(d)),
                None => Ok(Some(self.get_manifest_from(image, insecure).await?.digest)),
            },
            _ => Err(status_error(registry, &what, resp).await),
        }
    }

    /// DELETEs a manifest by digest (or, where the registry allows it, a tag). `Ok(true)`: it
    /// was deleted; `Ok(false)`: it was already absent (a rerun after a crash). A registry that
    /// refuses deletion (405, or `UNSUPPORTED`) gives [`RegistryError::DeleteRefused`].
    pub async fn delete_manifest(&self, image: &ImageRef) -> Result<bool, RegistryError> {
        let registry = image.registry();
        let what = format!("manifest delete {image}");
        let url_path = format!("/v2/{}/manifests/{}", image.path(), image.reference());
        let resp = self
            .send(
                registry,
                &Scopes::repo(image.path(), Access::Delete),
                &what,
                true,
                |http, base| http.delete(format!("{base}{url_path}")),
            )
            .await?;
        match resp.status().as_u16() {
            200 | 202 | 204 => Ok(true),
            404 => Ok(false),
            _ => match status_error(registry, &what, resp).await {
                RegistryError::Status {
                    status, message, ..
                } if status == 405 || message.contains("UNSUPPORTED") => {
                    Err(RegistryError::DeleteRefused {
                        registry: registry.to_string(),
                        status,
                        message,
                    })
                }
                e => Err(e),
            },
        }
    }

    /// PUTs manifest bytes under `reference` (a tag or `sha256:…`); returns their digest.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &Bytes,
    ) -> Result<Digest, RegistryError> {
        let registry = repo.registry();
        let what = format!("manifest push {repo}:{reference}");
        let url_path = format!("/v2/{}/manifests/{reference}", repo.path());
        let resp = self
            .send(
                registry,
                &Scopes::repo(repo.path(), Access::Push),
                &what,
                true,
                |http, base| {
                    http.put(format!("{base}{url_path}"))
                        .header("content-type", media_type)
                        .body(bytes.clone())
                },
            )
            .await?;
        if resp.status().as_u16() != 201 && !resp.status().is_success() {
            return Err(status_error(registry, &what, resp).await);
        }
        Ok(Digest::of(bytes))
    }

    /// The tags of a repository when one page of up to `n` holds them all; `None` when the
    /// registry paginates further (a `Link` header) — the caller then asks tag by tag.
    pub async fn tags_if_few(
        &self,
        repo: &Repository,
        n: usize,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        // A registry that ignores `n` and sends more than asked has sent them all.
        self.read_through(
            repo,
            PullBy::Tag,
            |t: &Option<Vec<String>>| t.as_ref().is_some_and(|t| !t.is_empty()),
            |s| async move {
                let path = format!("/v2/{}/tags/list?n={n}", s.repository.path());
                let (tags, next) = self.tag_page(&s, &path).await?;
                Ok(next.is_none().then_some(tags))
            },
        )
        .await
    }

    /// The repositories of `registry` (`GET /v2/_catalog?n=`) when one page of up to `n` holds
    /// them all; `None` when the registry paginates further, refuses the listing (many do, or
    /// only for administrators), or fails: the caller then knows nothing, and asks per image.
    pub async fn repositories_if_few(
        &self,
        registry: &str,
        n: usize,
    ) -> Option<std::collections::BTreeSet<String>> {
        let what = format!("repository list of {registry}");
        let resp = self
            .send(registry, &Scopes::catalog(), &what, true, |http, base| {
                http.get(format!("{base}/v2/_catalog?n={n}"))
            })
            .await
            .ok()?;
        if resp.status().as_u16() != 200 || header(&resp, "link").is_some() {
            return None;
        }
        let body = resp.bytes().await.ok()?;
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let repos = v["repositories"].as_array()?;
        Some(
            repos
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
        )
    }

    /// All tags of a repository (following `Link` pagination); empty when it does not exist.
    /// A tag list is read like a tag (containers/image does not redirect tag lists; airlift
    /// lists tags to find chart versions and signatures of images it reads through the same
    /// sources, so it does).
    pub async fn tags(&self, repo: &Repository) -> Result<Vec<String>, RegistryError> {
        self.read_through(
            repo,
            PullBy::Tag,
            |t: &Vec<String>| !t.is_empty(),
            |s| async move {
                let mut next = Some(format!("/v2/{}/tags/list", s.repository.path()));
                let mut tags = Vec::new();
                while let Some(path) = next.take() {
                    let (page, link) = self.tag_page(&s, &path).await?;
                    tags.extend(page);
                    next = link;
                }
                tags.sort();
                tags.dedup();
                Ok(tags)
            },
        )
        .await
    }

    /// One page of a tag list at `path` of a source: its tags and the next page's path
    /// (`Link`), if any. A repository that does not exist has no tags.
    async fn tag_page(
        &self,
        source: &PullSource,
        path: &str,
    ) -> Result<(Vec<String>, Option<String>), RegistryError> {
        let repo = &source.repository;
        let registry = repo.registry();
        let what = format!("tag list of {repo}");
        let resp = self
            .send_to(
                registry,
                source.insecure,
                &Scopes::repo(repo.path(), Access::Pull),
                &what,
                true,
                |http, base| http.get(format!("{base}{path}")),
            )
            .await?;
        match resp.status().as_u16() {
            404 => return Ok((Vec::new(), None)),
            200 => {}
            _ => return Err(status_error(registry, &what, resp).await),
        }
        let next = header(&resp, "link").and_then(|l| {
            l.split_once('<')
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(u, _)| u.to_string())
        });
        let body = resp.bytes().await.unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| RegistryError::Protocol {
                registry: registry.to_string(),
                what: what.clone(),
                message: "tag list is not JSON".into(),
            })?;
        let tags = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok((tags, next))
    }

    /// Referrers of `digest` via the OCI 1.1 referrers API; `None` when the registry does not
    /// offer the API (404), so the caller falls back to the `sha256-<hex>` tag schema.
    pub async fn referrers(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        self.read_through(repo, PullBy::Digest, Option::is_some, |s| async move {
            self.referrers_from(&s, digest).await
        })
        .await
    }

    async fn referrers_from(
        &self,
        source: &PullSource,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let repo = &source.repository;
        let registry = repo.registry();
        let what = format!("referrers of {repo}@{digest}");
        let url_path = format!("/v2/{}/referrers/{digest}", repo.path());
        let resp = self
            .send_to(
                registry,
                source.insecure,
                &Scopes::repo(repo.path(), Access::Pull),
                &what,
                true,
                |http, base| {
                    http.get(format!("{base}{url_path}"))
                        .header("accept", MediaType::OciIndex.as_str())
                },
            )
            .await?;
        match resp.status().as_u16() {
            200 => {}
            404 | 405 | 400 => return Ok(None),
            _ => return Err(status_error(registry, &what, resp).await),
        }
        let body = resp.bytes().await.unwrap_or_default();
        let doc: ManifestDoc =
            serde_json::from_slice(&body).map_err(|_| RegistryError::Protocol {
                registry: registry.to_string(),
                what,
                message: "referrers response is not an OCI index".into(),
            })?;
        Ok(Some(doc.manifests))
    }
}
