//! Where release signatures come from: an HTTP(S) signature store laid out as
//! `<base>/sha256=<hex>/signature-N` (mirror.openshift.com, or any web server holding the same
//! tree), or a directory with the same layout (a workspace or an unpacked archive).
//!
//! This is the only part of `trust` that does I/O: blocking GETs through the run's web client
//! (`crate::web`: the source side's TLS settings, proxies and retries) and file reads; [`save`] writes the same layout for archives.

use std::path::{Path, PathBuf};

use crate::oci::{Digest, ImageRef, Repository};

use super::error::TrustError;
use super::keyring::Keyring;
use super::release::{FetchedSignature, VerifiedRelease, verify_release};

/// The public store of OpenShift release signatures. airlift contacts it only when neither the
/// trust block's `signature-store` nor `OCP_SIGNATURE_URL` is set.
pub const DEFAULT_SIGNATURE_STORE: &str =
    "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release";

/// Environment variable overriding the default store (same name `oc` and oc-mirror use).
pub const SIGNATURE_URL_ENV: &str = "OCP_SIGNATURE_URL";

/// Signatures are numbered from 1; fetching stops at the first missing number or here.
pub const MAX_SIGNATURES: u32 = 16;

/// Largest accepted signature file.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// A place release signatures are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStore {
    /// Base URL; `signature-N` files live under `<base>/sha256=<hex>/`.
    Http(String),
    /// Directory with the same layout.
    Dir(PathBuf),
}

impl SignatureStore {
    /// The store for a trust block: its `signature-store` if set, else `env` (the value of
    /// `OCP_SIGNATURE_URL`, when set and not empty), else [`DEFAULT_SIGNATURE_STORE`]. A
    /// `file://` URL or a value without `://` is a directory.
    pub fn resolve(configured: Option<&str>, env: Option<&str>) -> SignatureStore {
        let chosen = configured
            .or(env.filter(|e| !e.trim().is_empty()))
            .unwrap_or(DEFAULT_SIGNATURE_STORE)
            .trim();
        if let Some(path) = chosen.strip_prefix("file://") {
            SignatureStore::Dir(PathBuf::from(path))
        } else if chosen.contains("://") {
            SignatureStore::Http(chosen.trim_end_matches('/').to_string())
        } else {
            SignatureStore::Dir(PathBuf::from(chosen))
        }
    }

    /// [`Self::resolve`] with `OCP_SIGNATURE_URL` read from the process environment.
    pub fn from_env(configured: Option<&str>) -> SignatureStore {
        let env = std::env::var(SIGNATURE_URL_ENV).ok();
        Self::resolve(configured, env.as_deref())
    }

    /// The store as text, for messages.
    pub fn describe(&self) -> String {
        match self {
            SignatureStore::Http(url) => url.clone(),
            SignatureStore::Dir(dir) => dir.display().to_string(),
        }
    }

    /// Where signature number `index` of `digest` lives.
    pub fn location(&self, digest: &Digest, index: u32) -> String {
        match self {
            SignatureStore::Http(url) => format!("{url}/sha256={}/signature-{index}", digest.hex()),
            SignatureStore::Dir(dir) => signature_path(dir, digest, index).display().to_string(),
        }
    }

    /// Fetches `signature-1`, `signature-2`, … until one is missing (HTTP 404 or 403, or no
    /// file) or [`MAX_SIGNATURES`] were read. An empty result is returned as is: the caller
    /// decides (see [`super::verify_release`], which reports it as
    /// [`TrustError::NoSignature`]). Any other HTTP status, a timeout or a read error is a
    /// [`TrustError::Fetch`] naming the URL or path.
    pub fn fetch(
        &self,
        digest: &Digest,
        web: &crate::web::WebClient,
    ) -> Result<Vec<FetchedSignature>, TrustError> {
        match self {
            SignatureStore::Http(_) => self.fetch_http(digest, web),
            SignatureStore::Dir(dir) => fetch_dir(dir, digest),
        }
    }

    fn fetch_http(
        &self,
        digest: &Digest,
        web: &crate::web::WebClient,
    ) -> Result<Vec<FetchedSignature>, TrustError> {
        let mut out = Vec::new();
        for index in 1..=MAX_SIGNATURES {
            let location = self.location(digest, index);
            let fetch_error = |message: String| TrustError::Fetch {
                location: location.clone(),
                message,
            };
            let response = web
                .get(&location, None, MAX_SIGNATURE_BYTES)
                .map_err(|e| fetch_error(e.to_string()))?;
            if response.status == 404 || response.status == 403 {
                break;
            }
            if response.status != 200 {
                return Err(fetch_error(format!(
                    "the server answered HTTP {}",
                    response.status
                )));
            }
            out.push(FetchedSignature {
                index,
                location,
                bytes: response.body,
            });
        }
        Ok(out)
    }
}

/// Fetches the signatures of `payload` from `store` and verifies them: [`SignatureStore::fetch`]
/// then [`verify_release`]. No signature at all is [`TrustError::NoSignature`] naming the first
/// location looked at.
pub fn fetch_and_verify(
    store: &SignatureStore,
    web: &crate::web::WebClient,
    payload: &ImageRef,
    also_accept: &[Repository],
    keyring: &Keyring,
) -> Result<VerifiedRelease, TrustError> {
    let digest = payload.digest().ok_or_else(|| TrustError::NotPinned {
        release: payload.to_string(),
    })?;
    let signatures = store.fetch(digest, web)?;
    if signatures.is_empty() {
        return Err(TrustError::NoSignature {
            release: payload.to_string(),
            searched: format!("nothing at `{}`", store.location(digest, 1)),
        });
    }
    verify_release(payload, also_accept, &signatures, keyring)
}

/// `<dir>/sha256=<hex>/signature-<index>`.
pub fn signature_path(dir: &Path, digest: &Digest, index: u32) -> PathBuf {
    dir.join(format!("sha256={}", digest.hex()))
        .join(format!("signature-{index}"))
}

fn fetch_dir(dir: &Path, digest: &Digest) -> Result<Vec<FetchedSignature>, TrustError> {
    let mut out = Vec::new();
    for index in 1..=MAX_SIGNATURES {
        let path = signature_path(dir, digest, index);
        match std::fs::read(&path) {
            Ok(bytes) => out.push(FetchedSignature {
                index,
                location: path.display().to_string(),
                bytes,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => {
                return Err(TrustError::Fetch {
                    location: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Writes signatures as `<dir>/sha256=<hex>/signature-N` (renumbered 1.. in the given order),
/// so a directory store or an archive can serve them later. Existing files are replaced.
pub fn save(dir: &Path, digest: &Digest, signatures: &[Vec<u8>]) -> Result<(), TrustError> {
    let write_error = |path: &Path, e: std::io::Error| TrustError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let folder = dir.join(format!("sha256={}", digest.hex()));
    std::fs::create_dir_all(&folder).map_err(|e| write_error(&folder, e))?;
    for (i, bytes) in signatures.iter().enumerate() {
        let index = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let path = signature_path(dir, digest, index);
        std::fs::write(&path, bytes).map_err(|e| write_error(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_resolution_order() {
        assert_eq!(
            SignatureStore::resolve(Some("https://a.example/sigs/"), Some("https://b.example")),
            SignatureStore::Http("https://a.example/sigs".into())
        );
        assert_eq!(
            SignatureStore::resolve(None, Some("https://b.example")),
            SignatureStore::Http("https://b.example".into())
        );
        assert_eq!(
            SignatureStore::resolve(None, Some("  ")),
            SignatureStore::Http(DEFAULT_SIGNATURE_STORE.into())
        );
        assert_eq!(
            SignatureStore::resolve(None, None),
            SignatureStore::Http(DEFAULT_SIGNATURE_STORE.into())
        );
        assert_eq!(
            SignatureStore::resolve(Some("file:///media/sigs"), None),
            SignatureStore::Dir("/media/sigs".into())
        );
        assert_eq!(
            SignatureStore::resolve(Some("sigs"), None),
            SignatureStore::Dir("sigs".into())
        );
    }

    #[test]
    fn directory_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let digest = Digest::of(b"payload");
        let store = SignatureStore::Dir(dir.path().to_path_buf());
        let web = crate::web::WebClient::plain(std::time::Duration::from_secs(1));
        assert!(store.fetch(&digest, &web).unwrap().is_empty());
        save(dir.path(), &digest, &[b"one".to_vec(), b"two".to_vec()]).unwrap();
        let got = store.fetch(&digest, &web).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].index, got[0].bytes.as_slice()), (1, &b"one"[..]));
        assert_eq!((got[1].index, got[1].bytes.as_slice()), (2, &b"two"[..]));
        assert!(
            got[1]
                .location
                .ends_with(&format!("sha256={}/signature-2", digest.hex()))
        );
    }
}
