//! Fixture builder: pushes synthetic images to a registry with its own minimal HTTP push code
//! (reqwest directly, never airlift's `src/registry`) and returns what it pushed so tests can
//! assert on references, digests and raw manifest bytes.
//!
//! Layers are random bytes labelled as layers (registries do not inspect them). Shared base
//! layers are `Layer::Shared` values reused across images.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const COSIGN_PAYLOAD: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Manifest family of a pushed image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Oci,
    Docker,
}

/// A layer to put into an image.
#[derive(Clone, Debug)]
pub enum Layer {
    /// Fresh random bytes of this size.
    Random(usize),
    /// These bytes (share one `Arc` between images to get a shared base layer).
    Shared(Arc<Vec<u8>>),
}

impl Layer {
    /// A random layer meant to be shared between images.
    pub fn shared_random(size: usize) -> Layer {
        Layer::Shared(Arc::new(random_bytes(size)))
    }
}

/// A blob that was pushed.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// A manifest that was pushed, with its children (for an index).
#[derive(Clone, Debug)]
pub struct Pushed {
    /// `host/repo:tag` or `host/repo@sha256:…` when pushed by digest only.
    pub reference: String,
    pub repo: String,
    pub tag: Option<String>,
    pub digest: String,
    pub media_type: String,
    pub manifest: Vec<u8>,
    /// Config and layers (single manifests).
    pub blobs: Vec<Blob>,
    pub children: Vec<Pushed>,
}

impl Pushed {
    /// `host/repo@digest`.
    pub fn by_digest(&self, host: &str) -> String {
        format!("{host}/{}@{}", self.repo, self.digest)
    }
}

pub fn random_bytes(size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    let mut rng = fastrand::Rng::new();
    for chunk in v.chunks_mut(8) {
        let r = rng.u64(..).to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    v
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Pushes fixtures to one registry.
#[derive(Clone)]
pub struct Fixture {
    client: reqwest::Client,
    base: String,
    host: String,
    creds: Option<(String, String)>,
}

impl Fixture {
    /// A pusher for `base_url` (`http://127.0.0.1:PORT`), e.g. a registry started elsewhere.
    pub fn connect(
        base_url: &str,
        ca_pem: Option<&[u8]>,
        creds: Option<(String, String)>,
    ) -> Fixture {
        let mut b = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            b = b.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("ca pem"));
        }
        let base = base_url.trim_end_matches('/').to_string();
        let host = base.split("://").nth(1).unwrap_or(&base).to_string();
        Fixture {
            client: b.build().expect("reqwest client"),
            base,
            host,
            creds,
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.creds {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        }
    }

    /// Uploads `bytes` as a blob into `repo` (POST then monolithic PUT).
    pub async fn push_blob(&self, repo: &str, bytes: &[u8], media_type: &str) -> Blob {
        let digest = sha256(bytes);
        let head = self
            .auth(
                self.client
                    .head(format!("{}/v2/{repo}/blobs/{digest}", self.base)),
            )
            .send()
            .await
            .expect("HEAD blob");
        if !head.status().is_success() {
            let post = self
                .auth(
                    self.client
                        .post(format!("{}/v2/{repo}/blobs/uploads/", self.base)),
                )
                .send()
                .await
                .expect("POST upload");
            assert_eq!(post.status().as_u16(), 202, "POST upload to {repo}");
            let loc = post
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .expect("upload Location")
                .to_string();
            let mut url = self.absolute(&loc);
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("digest={digest}"));
            let put = self
                .auth(self.client.put(url))
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .await
                .expect("PUT blob");
            assert_eq!(put.status().as_u16(), 201, "PUT blob {digest} to {repo}");
        }
        Blob {
            digest,
            size: bytes.len() as u64,
            media_type: media_type.to_string(),
        }
    }

    /// PUTs manifest bytes by `reference` (a tag or a digest); returns the digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let resp = self
            .auth(
                self.client
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base)),
            )
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("PUT manifest");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(
            status.as_u16(),
            201,
            "PUT manifest {repo}:{reference}: {body}"
        );
        sha256(bytes)
    }

    fn pushed(&self, repo: &str, tag: Option<&str>, media_type: &str, manifest: Vec<u8>) -> Pushed {
        let digest = sha256(&manifest);
        let reference = match tag {
            Some(t) => format!("{}/{repo}:{t}", self.host),
            None => format!("{}/{repo}@{digest}", self.host),
        };
        Pushed {
            reference,
            repo: repo.to_string(),
            tag: tag.map(str::to_string),
            digest,
            media_type: media_type.to_string(),
            manifest,
            blobs: Vec::new(),
            children: Vec::new(),
        }
    }

    async fn put(&self, p: &Pushed) {
        let r = p.tag.clone().unwrap_or_else(|| p.digest.clone());
        self.push_manifest(&p.repo, &r, &p.media_type, &p.manifest)
            .await;
    }

    /// A single-platform image. `tag: None` pushes it by digest only.
    pub async fn image(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        arch: &str,
        layers: &[Layer],
    ) -> Pushed {
        let (mt, cfg_mt, layer_mt) = match format {
            Format::Oci => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
            Format::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
        };
        let mut blobs = Vec::new();
        for l in layers {
            let bytes = match l {
                Layer::Random(n) => random_bytes(*n),
                Layer::Shared(b) => b.as_ref().clone(),
            };
            blobs.push(self.push_blob(repo, &bytes, layer_mt).await);
        }
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"airlift.test/repo": repo, "airlift.test/nonce": fastrand::u64(..).to_string()}},
            "rootfs": {"type": "layers", "diff_ids": blobs.iter().map(|b| b.digest.clone()).collect::<Vec<_>>()},
        });
        let config = self
            .push_blob(repo, &serde_json::to_vec(&config).expect("json"), cfg_mt)
            .await;
        let desc =
            |b: &Blob| json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": desc(&config),
            "layers": blobs.iter().map(desc).collect::<Vec<Value>>(),
        });
        let mut p = self.pushed(
            repo,
            tag,
            mt,
            serde_json::to_vec_pretty(&manifest).expect("json"),
        );
        self.put(&p).await;
        blobs.insert(0, config);
        p.blobs = blobs;
        p
    }

    /// A multi-arch index (OCI index or Docker manifest list) with one child per arch, each
    /// child with `shared` layers followed by a random layer of `own_layer` bytes.
    pub async fn index(
        &self,
        repo: &str,
        tag: Option<&str>,
        format: Format,
        arches: &[&str],
        shared: &[Layer],
        own_layer: usize,
    ) -> Pushed {
        let mut children = Vec::new();
        for arch in arches {
            let mut layers = shared.to_vec();
            layers.push(Layer::Random(own_layer));
            children.push(self.image(repo, None, format, arch, &layers).await);
        }
        let mt = match format {
            Format::Oci => OCI_INDEX,
            Format::Docker => DOCKER_LIST,
        };
        let manifests: Vec<Value> = children
            .iter()
            .zip(arches)
            .map(|(c, arch)| {
                json!({"mediaType": c.media_type, "digest": c.digest, "size": c.manifest.len(),
                       "platform": {"architecture": arch, "os": "linux"}})
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": mt, "manifests": manifests});
        let mut p = self.pushed(
            repo,
            tag,
            mt,
            serde_json::to_vec_pretty(&index).expect("json"),
        );
        self.put(&p).await;
        p.children = children;
        p
    }

    /// A cosign signature attachment for `subject`: tag `sha256-<hex>.sig`, an OCI manifest
    /// whose layer is a simple-signing payload annotated with a (fake) signature.
    pub async fn cosign_signature(&self, subject: &Pushed) -> Pushed {
        let repo = &subject.repo;
        let payload = json!({
            "critical": {
                "identity": {"docker-reference": format!("{}/{repo}", self.host)},
                "image": {"docker-manifest-digest": subject.digest},
                "type": "cosign container image signature"
            },
            "optional": null
        });
        let payload = self
            .push_blob(
                repo,
                &serde_json::to_vec(&payload).expect("json"),
                COSIGN_PAYLOAD,
            )
            .await;
        let config = self.push_blob(repo, b"{}", OCI_CONFIG).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config.media_type, "digest": config.digest, "size": config.size},
            "layers": [{"mediaType": payload.media_type, "digest": payload.digest, "size": payload.size,
                        "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQDfakesignatureforairlifttests"}}],
        });
        let tag = format!("{}.sig", subject.digest.replace(':', "-"));
        let mut p = self.pushed(
            repo,
            Some(&tag),
            OCI_MANIFEST,
            serde_json::to_vec_pretty(&manifest).expect("json"),
        );
        self.put(&p).await;
        p.blobs = vec![config, payload];
        p
    }

    /// An OCI 1.1 referrer of `subject` (a manifest with `subject` and `artifactType`), pushed
    /// by digest, plus the referrers tag-schema fallback index `sha256-<hex>` that clients
    /// maintain on registries without the referrers API.
    pub async fn referrer(&self, subject: &Pushed, artifact_type: &str) -> Pushed {
        let repo = &subject.repo;
        let blob = self
            .push_blob(
                repo,
                &random_bytes(512),
                "application/vnd.airlift.test.sbom",
            )
            .await;
        let empty = self
            .push_blob(repo, b"{}", "application/vnd.oci.empty.v1+json")
            .await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": empty.media_type, "digest": empty.digest, "size": empty.size},
            "layers": [{"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size}],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.manifest.len()},
        });
        let mut p = self.pushed(
            repo,
            None,
            OCI_MANIFEST,
            serde_json::to_vec_pretty(&manifest).expect("json"),
        );
        self.put(&p).await;
        p.blobs = vec![empty, blob];
        let fallback = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": p.digest, "size": p.manifest.len(),
                           "artifactType": artifact_type}],
        });
        let tag = subject.digest.replace(':', "-");
        self.push_manifest(
            repo,
            &tag,
            OCI_INDEX,
            &serde_json::to_vec_pretty(&fallback).expect("json"),
        )
        .await;
        p
    }

    /// HEAD a blob; true when present.
    pub async fn blob_exists(&self, repo: &str, digest: &str) -> bool {
        self.auth(
            self.client
                .head(format!("{}/v2/{repo}/blobs/{digest}", self.base)),
        )
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
    }

    /// GET a manifest's raw bytes; `None` on 404.
    /// GETs a blob's bytes; `None` when the repository does not hold it.
    pub async fn blob(&self, repo: &str, digest: &str) -> Option<Vec<u8>> {
        let r = self
            .auth(
                self.client
                    .get(format!("{}/v2/{repo}/blobs/{digest}", self.base)),
            )
            .send()
            .await
            .expect("GET blob");
        if !r.status().is_success() {
            return None;
        }
        Some(r.bytes().await.expect("blob body").to_vec())
    }

    pub async fn manifest(&self, repo: &str, reference: &str) -> Option<Vec<u8>> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let r = self
            .auth(
                self.client
                    .get(format!("{}/v2/{repo}/manifests/{reference}", self.base)),
            )
            .header("accept", accept)
            .send()
            .await
            .expect("GET manifest");
        if r.status().as_u16() == 404 {
            return None;
        }
        Some(r.bytes().await.expect("manifest body").to_vec())
    }

    /// Tags in `repo` (empty when the repository does not exist).
    pub async fn tags(&self, repo: &str) -> Vec<String> {
        let r = self
            .auth(
                self.client
                    .get(format!("{}/v2/{repo}/tags/list", self.base)),
            )
            .send()
            .await
            .expect("GET tags");
        if !r.status().is_success() {
            return Vec::new();
        }
        let v: Value =
            serde_json::from_slice(&r.bytes().await.expect("tags body")).expect("tags json");
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// What the registry holds, as skopeo or a user would list it: every repository of the
    /// catalog API, every tag and the sha256 of the manifest it names.
    pub async fn listing(&self) -> Vec<(String, String, String)> {
        let r = self
            .auth(
                self.client
                    .get(format!("{}/v2/_catalog?n=10000", self.base)),
            )
            .send()
            .await
            .expect("GET catalog");
        let v: Value =
            serde_json::from_slice(&r.bytes().await.expect("catalog body")).expect("catalog json");
        let mut out = Vec::new();
        for repo in v["repositories"].as_array().cloned().unwrap_or_default() {
            let repo = repo.as_str().unwrap_or_default().to_string();
            for tag in self.tags(&repo).await {
                let digest = self
                    .manifest(&repo, &tag)
                    .await
                    .map(|m| sha256(&m))
                    .unwrap_or_else(|| "absent".into());
                out.push((repo.clone(), tag, digest));
            }
        }
        out.sort();
        out
    }
}

/// A realistic synthetic workload for demos and benchmarks.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Number of tags pushed.
    pub images: usize,
    /// Approximate size of all unique blobs, in MiB.
    pub total_mb: usize,
    /// Size of the two shared base layers together, in MiB.
    pub shared_base_mb: usize,
    /// Repository prefix (`<prefix>/app-NN`).
    pub prefix: String,
}

impl Fixture {
    /// Pushes `w`: two shared base layers (each image uses one), every fifth image a two-arch
    /// index (alternating OCI index and Docker manifest list), every fourth a Docker v2s2
    /// image, the rest OCI; two tags per repository. Returns the references in push order.
    pub async fn seed(&self, w: &Workload) -> Vec<String> {
        const MIB: usize = 1024 * 1024;
        let images = w.images.max(1);
        let shared_mb = w.shared_base_mb.min(w.total_mb);
        let bases = [
            Layer::shared_random(shared_mb * MIB * 2 / 3),
            Layer::shared_random(shared_mb * MIB / 3),
        ];
        let own = ((w.total_mb - shared_mb) * MIB / images).max(1);
        let pushes = (0..images).map(|i| {
            let base = bases[i % 2].clone();
            let repo = format!("{}/app-{:02}", w.prefix, i % (images / 2).max(1));
            let tag = format!("v{i}");
            async move {
                let p = if i % 5 == 4 {
                    let fmt = if i % 10 == 4 {
                        Format::Oci
                    } else {
                        Format::Docker
                    };
                    self.index(
                        &repo,
                        Some(&tag),
                        fmt,
                        &["amd64", "arm64"],
                        &[base],
                        own / 2,
                    )
                    .await
                } else {
                    let fmt = if i % 4 == 1 {
                        Format::Docker
                    } else {
                        Format::Oci
                    };
                    self.image(&repo, Some(&tag), fmt, "amd64", &[base, Layer::Random(own)])
                        .await
                };
                p.reference
            }
        });
        stream::iter(pushes).buffered(4).collect().await
    }
}
