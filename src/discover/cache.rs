//! The manifest cache: manifests stored by digest under `<workspace>/cache/manifests/sha256/`.
//!
//! Content-addressed, so an entry is never stale; entries are verified on read and written
//! atomically (temp file + rename), so a crash never leaves a torn manifest behind.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::oci::Digest;

#[derive(Clone, Debug)]
pub struct ManifestCache {
    dir: PathBuf,
}

impl ManifestCache {
    pub fn new(dir: &Path) -> Self {
        ManifestCache {
            dir: dir.to_path_buf(),
        }
    }

    /// Where the bytes of `digest` are stored.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("sha256").join(digest.hex())
    }

    /// The cached bytes of `digest`, if present and intact.
    pub fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        let bytes = fs::read(self.path(digest)).ok()?;
        (Digest::of(&bytes) == *digest).then_some(bytes)
    }

    /// Stores `bytes` under their own digest.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, bytes)?;
        fs::rename(&tmp, &path)?;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_round_trip_and_corruption_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = ManifestCache::new(dir.path());
        let d = c.put(b"{\"schemaVersion\":2}").unwrap();
        assert_eq!(c.get(&d).as_deref(), Some(&b"{\"schemaVersion\":2}"[..]));
        fs::write(dir.path().join("sha256").join(d.hex()), b"tampered").unwrap();
        assert_eq!(c.get(&d), None);
    }
}
