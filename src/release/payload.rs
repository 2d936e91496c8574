//! Release payload contents: the component images a payload names, read from its layers.
//!
//! A payload's last layers carry `release-manifests/`: `image-references` (an ImageStream
//! whose `spec.tags[]` name every component image by digest), `release-metadata` (version,
//! previous versions, metadata) and `0000_50_installer_coreos-bootimages.yaml` (a ConfigMap
//! whose `data.stream` JSON names the RHCOS boot images, among them the KubeVirt container
//! disk that `kubevirt-container #true` mirrors, like oc-mirror's `kubeVirtContainer`).
//!
//! Pure on bytes: feed layer blobs in manifest order to [`PayloadReader`]; later layers
//! override earlier files, and whiteouts (`.wh.<name>`, `.wh..wh..opq`) remove them. Nothing is
//! extracted to disk; entries with absolute or `..` paths are refused.

use std::collections::BTreeMap;
use std::io::Read;

use semver::Version;
use serde::Deserialize;

use super::layers::{LayerError, safe_path, tar_stream};
use crate::oci::ImageRef;

pub const IMAGE_REFERENCES_FILE: &str = "release-manifests/image-references";
pub const RELEASE_METADATA_FILE: &str = "release-manifests/release-metadata";
pub const BOOTIMAGES_FILE: &str = "release-manifests/0000_50_installer_coreos-bootimages.yaml";
/// Component name given to the KubeVirt container disk (`-<arch>` appended for `multi`).
pub const KUBEVIRT_COMPONENT: &str = "kubevirt-container";

const WANTED: [&str; 3] = [
    IMAGE_REFERENCES_FILE,
    RELEASE_METADATA_FILE,
    BOOTIMAGES_FILE,
];
/// Largest manifest file read into memory.
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// What a payload contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseComponents {
    pub version: Version,
    /// Versions this release can be updated from (`release-metadata` `previous`), sorted.
    pub previous: Vec<Version>,
    /// String values of `release-metadata` `metadata` (e.g. `url`).
    pub metadata: BTreeMap<String, String>,
    /// Component name → image pinned by digest. With `kubevirt`, also
    /// [`KUBEVIRT_COMPONENT`] (single arch) or `kubevirt-container-<arch>` (multi).
    pub components: BTreeMap<String, ImageRef>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum PayloadError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layer(#[from] LayerError),
    #[error("the release payload has no `{IMAGE_REFERENCES_FILE}`")]
    #[diagnostic(
        code(airlift::release::no_image_references),
        help(
            "this image is not an OpenShift release payload; check the `image=` reference or the update graph's payload"
        )
    )]
    NoImageReferences,
    #[error("`{file}` in the release payload is invalid: {message}")]
    #[diagnostic(
        code(airlift::release::bad_manifest),
        help(
            "the payload is damaged or of an unsupported format; fetch it again and report it if it persists"
        )
    )]
    Invalid { file: &'static str, message: String },
    #[error(
        "component `{name}` of the release payload is `{reference}`, which is not pinned by digest"
    )]
    #[diagnostic(
        code(airlift::release::component_not_pinned),
        help(
            "release payloads name components by digest; this payload cannot be mirrored reproducibly"
        )
    )]
    NotPinned { name: String, reference: String },
    #[error("the release payload names no KubeVirt container image for {arch}")]
    #[diagnostic(
        code(airlift::release::no_kubevirt),
        help(
            "set `kubevirt-container #false`, or pick a release that ships one (OpenShift 4.14 and later)"
        )
    )]
    NoKubevirt { arch: String },
}

/// Collects the release manifests from a payload's layers, in manifest order.
#[derive(Debug, Default)]
pub struct PayloadReader {
    files: BTreeMap<&'static str, Vec<u8>>,
    layers: usize,
}

impl PayloadReader {
    pub fn new() -> PayloadReader {
        PayloadReader::default()
    }

    /// Reads one layer blob (gzip or plain tar) and applies it over the earlier ones.
    pub fn add_layer(&mut self, reader: impl Read) -> Result<(), PayloadError> {
        self.layers += 1;
        let what = format!("payload layer {}", self.layers);
        let tar_err = |e: std::io::Error| LayerError::Tar {
            what: what.clone(),
            message: e.to_string(),
        };
        let mut archive = tar::Archive::new(tar_stream(&what, reader)?);
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let path = safe_path(&what, &entry.path_bytes())?;
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if let Some(hidden) = base.strip_prefix(".wh.") {
                if hidden == ".wh..opq" {
                    self.files.retain(|k, _| !under(k, dir));
                } else {
                    let gone = if dir.is_empty() {
                        hidden.to_string()
                    } else {
                        format!("{dir}/{hidden}")
                    };
                    self.files.retain(|k, _| *k != gone && !under(k, &gone));
                }
                continue;
            }
            let Some(wanted) = WANTED.iter().find(|w| **w == path) else {
                continue;
            };
            if !entry.header().entry_type().is_file() {
                self.files.remove(wanted);
                continue;
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_FILE)
                .read_to_end(&mut bytes)
                .map_err(tar_err)?;
            self.files.insert(wanted, bytes);
        }
        Ok(())
    }

    /// The components of the payload. `arch` is the payload's architecture (`amd64`, `arm64`,
    /// `ppc64le`, `s390x` or `multi`); `kubevirt` also collects the KubeVirt container image.
    pub fn finish(self, arch: &str, kubevirt: bool) -> Result<ReleaseComponents, PayloadError> {
        let refs = self
            .files
            .get(IMAGE_REFERENCES_FILE)
            .ok_or(PayloadError::NoImageReferences)?;
        let stream: ImageStream =
            serde_json::from_slice(refs).map_err(|e| PayloadError::Invalid {
                file: IMAGE_REFERENCES_FILE,
                message: e.to_string(),
            })?;
        let mut components = BTreeMap::new();
        for tag in stream.spec.tags {
            let Some(from) = tag.from else { continue };
            if !valid_component_name(&tag.name) {
                return Err(PayloadError::Invalid {
                    file: IMAGE_REFERENCES_FILE,
                    message: format!("component name `{}` cannot be used in a tag", tag.name),
                });
            }
            let image = pinned(&tag.name, &from.name)?;
            components.insert(tag.name, image);
        }
        let (version, previous, metadata) = match self.files.get(RELEASE_METADATA_FILE) {
            Some(bytes) => release_metadata(bytes)?,
            None => {
                let name = stream.metadata.and_then(|m| m.name).unwrap_or_default();
                let version = Version::parse(&name).map_err(|e| PayloadError::Invalid {
                    file: IMAGE_REFERENCES_FILE,
                    message: format!(
                        "no `{RELEASE_METADATA_FILE}` and metadata.name `{name}` is not a version: {e}"
                    ),
                })?;
                (version, Vec::new(), BTreeMap::new())
            }
        };
        if kubevirt {
            let stream =
                self.files
                    .get(BOOTIMAGES_FILE)
                    .ok_or_else(|| PayloadError::NoKubevirt {
                        arch: arch.to_string(),
                    })?;
            for (name, image) in kubevirt_images(stream, arch)? {
                components.insert(name, image);
            }
        }
        Ok(ReleaseComponents {
            version,
            previous,
            metadata,
            components,
        })
    }
}

/// Reads a payload from its layer blobs in manifest order; see [`PayloadReader`].
pub fn read_payload<B: AsRef<[u8]>>(
    layers: &[B],
    arch: &str,
    kubevirt: bool,
) -> Result<ReleaseComponents, PayloadError> {
    read_payload_from(layers.iter().map(AsRef::as_ref), arch, kubevirt)
}

/// [`read_payload`] from readers (layers spooled to files).
pub fn read_payload_from<R: Read>(
    layers: impl IntoIterator<Item = R>,
    arch: &str,
    kubevirt: bool,
) -> Result<ReleaseComponents, PayloadError> {
    let mut reader = PayloadReader::new();
    for layer in layers {
        reader.add_layer(layer)?;
    }
    reader.finish(arch, kubevirt)
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn valid_component_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 96
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn pinned(name: &str, reference: &str) -> Result<ImageRef, PayloadError> {
    let image: ImageRef = reference.parse().map_err(|e| PayloadError::Invalid {
        file: IMAGE_REFERENCES_FILE,
        message: format!("component `{name}`: {e}"),
    })?;
    if image.digest().is_none() {
        return Err(PayloadError::NotPinned {
            name: name.to_string(),
            reference: reference.to_string(),
        });
    }
    Ok(image)
}

#[derive(Deserialize)]
struct ImageStream {
    #[serde(default)]
    metadata: Option<StreamMetadata>,
    spec: StreamSpec,
}

#[derive(Deserialize)]
struct StreamMetadata {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct StreamSpec {
    #[serde(default)]
    tags: Vec<StreamTag>,
}

#[derive(Deserialize)]
struct StreamTag {
    name: String,
    #[serde(default)]
    from: Option<TagFrom>,
}

#[derive(Deserialize)]
struct TagFrom {
    name: String,
}

#[derive(Deserialize)]
struct RawMetadata {
    version: String,
    #[serde(default)]
    previous: Vec<String>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

type Metadata = (Version, Vec<Version>, BTreeMap<String, String>);

fn release_metadata(bytes: &[u8]) -> Result<Metadata, PayloadError> {
    let invalid = |message: String| PayloadError::Invalid {
        file: RELEASE_METADATA_FILE,
        message,
    };
    let raw: RawMetadata = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let version = Version::parse(&raw.version)
        .map_err(|e| invalid(format!("version `{}`: {e}", raw.version)))?;
    let mut previous = raw
        .previous
        .iter()
        .map(|p| Version::parse(p).map_err(|e| invalid(format!("previous `{p}`: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    previous.sort();
    previous.dedup();
    let metadata = raw
        .metadata
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
        .collect();
    Ok((version, previous, metadata))
}

/// RHCOS stream architecture name of an image architecture.
fn coreos_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

fn image_arch(coreos: &str) -> &str {
    match coreos {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[derive(Deserialize)]
struct ConfigMap {
    #[serde(default)]
    data: BTreeMap<String, String>,
}

/// `(component name, image)` of the KubeVirt container disk(s) named in the boot-images
/// ConfigMap: `architectures.<arch>.images.kubevirt.digest-ref` of its `data.stream` JSON.
fn kubevirt_images(yaml: &[u8], arch: &str) -> Result<Vec<(String, ImageRef)>, PayloadError> {
    let invalid = |message: String| PayloadError::Invalid {
        file: BOOTIMAGES_FILE,
        message,
    };
    let text = std::str::from_utf8(yaml).map_err(|e| invalid(e.to_string()))?;
    let cm: ConfigMap = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let stream = cm
        .data
        .get("stream")
        .ok_or_else(|| invalid("the ConfigMap has no `data.stream`".to_string()))?;
    let stream: serde_json::Value =
        serde_json::from_str(stream).map_err(|e| invalid(format!("data.stream: {e}")))?;
    let arches = stream
        .get("architectures")
        .and_then(|a| a.as_object())
        .ok_or_else(|| invalid("data.stream has no `architectures`".to_string()))?;
    let mut out = Vec::new();
    for (coreos, entry) in arches {
        let multi = arch == "multi";
        if !multi && coreos != coreos_arch(arch) {
            continue;
        }
        let Some(reference) = entry
            .pointer("/images/kubevirt/digest-ref")
            .and_then(|d| d.as_str())
        else {
            continue;
        };
        let name = if multi {
            format!("{KUBEVIRT_COMPONENT}-{}", image_arch(coreos))
        } else {
            KUBEVIRT_COMPONENT.to_string()
        };
        let image: ImageRef = reference
            .parse()
            .map_err(|e| invalid(format!("kubevirt digest-ref: {e}")))?;
        if image.digest().is_none() {
            return Err(PayloadError::NotPinned {
                name,
                reference: reference.to_string(),
            });
        }
        out.push((name, image));
    }
    if out.is_empty() {
        return Err(PayloadError::NoKubevirt {
            arch: arch.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
