//! Operator catalogs read from a local OCI image layout (`catalog "x" "oci://DIR"`): the
//! `oci-layout` marker, `index.json`, and `blobs/sha256/<hex>` files, as `skopeo copy … oci:DIR`
//! or `oc-mirror` write them. The result is the same [`FetchedCatalog`] a registry catalog gives,
//! so filtering, the prune task and the lock treat both alike.
//!
//! Reads files only; writes nothing. Every blob is checked against its digest before use.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::catalog::{
    CatalogReadError, FetchedCatalog, PlatformImage, RawManifest, doc_of, read_configs,
};
use crate::oci::{Digest, ImageRef, MediaType};

/// Where the blob `digest` lives in the layout `dir`.
pub fn layout_blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// Reads the catalog of the layout `dir`, known as `image` (see the plan's layout naming).
/// `digest` pins the image (the lock); without it `index.json` must name exactly one image.
pub fn fetch_layout(
    dir: &Path,
    image: &ImageRef,
    digest: Option<Digest>,
) -> Result<FetchedCatalog, CatalogReadError> {
    let shape = |reason: String| CatalogReadError::Shape {
        image: format!("oci://{}", dir.display()),
        reason,
    };
    let marker = read_file(&dir.join("oci-layout")).map_err(|e| {
        shape(format!(
            "not an OCI image layout ({e}); write one with `skopeo copy docker://IMAGE oci:{}`",
            dir.display()
        ))
    })?;
    let version = serde_json::from_slice::<Value>(&marker)
        .ok()
        .and_then(|v| v["imageLayoutVersion"].as_str().map(str::to_string));
    if version.as_deref() != Some("1.0.0") {
        return Err(shape(format!(
            "oci-layout says imageLayoutVersion {}; only 1.0.0 is read",
            version.as_deref().unwrap_or("(missing)")
        )));
    }
    let (digest, media_type) = match digest {
        Some(d) => {
            if !layout_blob_path(dir, &d).exists() {
                return Err(shape(format!(
                    "the image {d} pinned in airlift.lock is not in this layout; run `airlift update` with the catalog set's name to pin the layout's current image"
                )));
            }
            let bytes = read_blob(dir, &d).map_err(shape)?;
            let media_type = media_type_of(&bytes).ok_or_else(|| {
                shape(format!(
                    "blob {d} (pinned in airlift.lock) is not a manifest or index"
                ))
            })?;
            (d, media_type)
        }
        None => chosen(dir).map_err(shape)?,
    };
    let bytes = read_blob(dir, &digest).map_err(shape)?;
    let top = RawManifest {
        media_type: own_media_type(media_type, &bytes),
        bytes,
        digest,
    };
    let doc = doc_of(&top).map_err(shape)?;
    let mut platforms = Vec::new();
    if MediaType::parse(&top.media_type).is_some_and(MediaType::is_index) {
        for child in &doc.manifests {
            let bytes = read_blob(dir, &child.digest).map_err(shape)?;
            let manifest = RawManifest {
                media_type: own_media_type(child.media_type.clone(), &bytes),
                bytes,
                digest: child.digest.clone(),
            };
            platforms.push(platform(dir, manifest).map_err(shape)?);
        }
    } else {
        platforms.push(platform(dir, top.clone()).map_err(shape)?);
    }
    let mut layers = Vec::new();
    if let Some(first) = platforms.first() {
        for l in &first.layers {
            layers.push(BufReader::new(
                open_verified(dir, &l.digest).map_err(shape)?,
            ));
        }
    }
    read_configs(image, top, platforms, layers, Some(dir.to_path_buf()))
}

/// Reads the catalog `image` (pinned at `digest`) from the verified archives of a `file://`
/// target (the disconnected side of disk-to-mirror). The archive reader checked every blob
/// against its digest when it opened the series.
pub fn fetch_archived(
    set: &crate::archive::ArchiveSet,
    image: &ImageRef,
    digest: Digest,
) -> Result<FetchedCatalog, CatalogReadError> {
    let shape = |reason: String| CatalogReadError::Shape {
        image: format!("{image} (archive {})", set.dir().display()),
        reason,
    };
    let blob = |d: &Digest| -> Result<Vec<u8>, String> {
        let mut r = set
            .blob_reader(d)
            .ok_or_else(|| format!("blob {d} is in no archive of the directory"))?
            .map_err(|e| format!("cannot read blob {d}: {e}"))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)
            .map_err(|e| format!("cannot read blob {d}: {e}"))?;
        Ok(out)
    };
    let bytes = blob(&digest).map_err(shape)?;
    let media_type = media_type_of(&bytes)
        .ok_or_else(|| shape(format!("blob {digest} is not a manifest or index")))?;
    let top = RawManifest {
        media_type,
        bytes,
        digest,
    };
    let doc = doc_of(&top).map_err(shape)?;
    let platform = |manifest: RawManifest| -> Result<PlatformImage, String> {
        let doc = doc_of(&manifest)?;
        let config = doc.config.ok_or_else(|| {
            format!(
                "manifest {} has no config: not a catalog image",
                manifest.digest
            )
        })?;
        Ok(PlatformImage {
            config: blob(&config.digest)?,
            manifest,
            layers: doc.layers,
        })
    };
    let mut platforms = Vec::new();
    if MediaType::parse(&top.media_type).is_some_and(MediaType::is_index) {
        for child in &doc.manifests {
            let bytes = blob(&child.digest).map_err(shape)?;
            let manifest = RawManifest {
                media_type: own_media_type(child.media_type.clone(), &bytes),
                bytes,
                digest: child.digest.clone(),
            };
            platforms.push(platform(manifest).map_err(shape)?);
        }
    } else {
        platforms.push(platform(top.clone()).map_err(shape)?);
    }
    let mut layers = Vec::new();
    if let Some(first) = platforms.first() {
        for l in &first.layers {
            let r = set
                .blob_reader(&l.digest)
                .ok_or_else(|| shape(format!("layer {} is in no archive", l.digest)))?
                .map_err(|e| shape(format!("cannot read layer {}: {e}", l.digest)))?;
            layers.push(BufReader::new(r));
        }
    }
    let mut fetched = read_configs(image, top, platforms, layers, None)?;
    fetched.archive = Some(set.dir().to_path_buf());
    Ok(fetched)
}

/// The one image `index.json` names (several entries of the same digest count once).
fn chosen(dir: &Path) -> Result<(Digest, String), String> {
    let bytes = read_file(&dir.join("index.json"))?;
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("index.json is not JSON: {e}"))?;
    let mut found: Vec<(Digest, String, String)> = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let digest = m["digest"]
            .as_str()
            .and_then(|d| d.parse::<Digest>().ok())
            .ok_or_else(|| format!("index.json has an entry without a sha256 digest: {m}"))?;
        let media_type = m["mediaType"].as_str().unwrap_or_default().to_string();
        let name = m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or("(no name)")
            .to_string();
        if !found.iter().any(|(d, _, _)| d == &digest) {
            found.push((digest, media_type, name));
        }
    }
    match found.len() {
        0 => Err("index.json names no image".into()),
        1 => {
            let (digest, media_type, _) = found.remove(0);
            Ok((digest, media_type))
        }
        _ => {
            let names: Vec<String> = found.iter().map(|(d, _, n)| format!("{n} ({d})")).collect();
            Err(format!(
                "index.json names {} images ({}); keep one catalog image per layout directory",
                found.len(),
                names.join(", ")
            ))
        }
    }
}

fn platform(dir: &Path, manifest: RawManifest) -> Result<PlatformImage, String> {
    let doc = doc_of(&manifest)?;
    let Some(config) = doc.config else {
        return Err(format!(
            "manifest {} has no config: not a catalog image",
            manifest.digest
        ));
    };
    Ok(PlatformImage {
        config: read_blob(dir, &config.digest)?,
        manifest,
        layers: doc.layers,
    })
}

/// The `mediaType` a manifest or index names itself with.
fn media_type_of(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if let Some(m) = v["mediaType"].as_str() {
        return Some(m.to_string());
    }
    // OCI allows omitting it; tell an index from a manifest by its fields.
    if v["manifests"].is_array() {
        Some(MediaType::OciIndex.as_str().to_string())
    } else if v["config"].is_object() {
        Some(MediaType::OciManifest.as_str().to_string())
    } else {
        None
    }
}

/// The descriptor's media type, or (when the descriptor leaves it out) the document's own.
fn own_media_type(described: String, bytes: &[u8]) -> String {
    if described.is_empty() {
        media_type_of(bytes).unwrap_or(described)
    } else {
        described
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A whole (small) blob, checked against its digest.
fn read_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>, String> {
    let bytes = read_file(&layout_blob_path(dir, digest))?;
    if &Digest::of(&bytes) != digest {
        return Err(format!("blob {digest} does not match its digest"));
    }
    Ok(bytes)
}

/// A blob file, checked against its digest by one streaming pass, reopened for reading.
pub fn open_verified(dir: &Path, digest: &Digest) -> Result<File, String> {
    let path = layout_blob_path(dir, digest);
    let io = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = File::open(&path).map_err(io)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    if &Digest::from_sha256(hash.finalize().into()) != digest {
        return Err(format!("blob {digest} does not match its digest"));
    }
    File::open(&path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(index: &serde_json::Value) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("marker");
        std::fs::write(dir.path().join("index.json"), index.to_string()).expect("index");
        dir
    }

    fn image(dir: &Path) -> ImageRef {
        crate::plan::layout_reference(dir).expect("name")
    }

    #[test]
    fn index_must_name_one_image() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let entry = |d: &Digest, name: &str| {
            serde_json::json!({"mediaType": MediaType::OciIndex.as_str(), "digest": d.to_string(),
                "size": 1, "annotations": {"org.opencontainers.image.ref.name": name}})
        };
        let two = layout(&serde_json::json!({"schemaVersion": 2,
            "manifests": [entry(&a, "v1"), entry(&b, "v2")]}));
        let err = fetch_layout(two.path(), &image(two.path()), None)
            .expect_err("two images")
            .to_string();
        assert!(err.contains("names 2 images"), "{err}");
        assert!(err.contains("v1 (") && err.contains("v2 ("), "{err}");

        // One image under two names counts once; its blob is missing here.
        let same = layout(&serde_json::json!({"schemaVersion": 2,
            "manifests": [entry(&a, "v1"), entry(&a, "latest")]}));
        let err = fetch_layout(same.path(), &image(same.path()), None)
            .expect_err("missing blob")
            .to_string();
        assert!(err.contains(&a.hex()), "{err}");

        let empty = layout(&serde_json::json!({"schemaVersion": 2, "manifests": []}));
        let err = fetch_layout(empty.path(), &image(empty.path()), None)
            .expect_err("empty")
            .to_string();
        assert!(err.contains("names no image"), "{err}");
    }

    #[test]
    fn blobs_are_checked_against_their_digest() {
        let dir = layout(&serde_json::json!({"schemaVersion": 2, "manifests": []}));
        let d = Digest::of(b"expected");
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).expect("blobs");
        std::fs::write(layout_blob_path(dir.path(), &d), b"tampered").expect("blob");
        let err = open_verified(dir.path(), &d).expect_err("mismatch");
        assert!(err.contains("does not match"), "{err}");
        let err = fetch_layout(dir.path(), &image(dir.path()), Some(d))
            .expect_err("pinned blob mismatch")
            .to_string();
        assert!(err.contains("does not match"), "{err}");
        let gone = Digest::of(b"not in the layout");
        let err = fetch_layout(dir.path(), &image(dir.path()), Some(gone))
            .expect_err("pinned image absent")
            .to_string();
        assert!(err.contains("airlift update"), "{err}");
    }
}
