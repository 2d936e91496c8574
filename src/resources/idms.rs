//! ImageDigestMirrorSet and ImageTagMirrorSet documents (`config.openshift.io/v1`), one of each
//! kind per category that has entries: `idms-<category>-0.yaml`, `itms-<category>-0.yaml`; a
//! category whose entries exceed [`DOCUMENT_LIMIT`](super::yaml::DOCUMENT_LIMIT) continues in
//! `-1`, `-2`, … files.
//!
//! Pure: turns [`Grouped`] entries into file name → YAML text. No I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use super::group::Grouped;
use super::model::{ResourceError, ResourceOptions};
use super::yaml::{Document, MirrorEntry, chunks, metadata, mirror_entries, to_yaml};

pub const API_VERSION: &str = "config.openshift.io/v1";

#[derive(Debug, Serialize)]
struct IdmsSpec {
    #[serde(rename = "imageDigestMirrors")]
    image_digest_mirrors: Vec<MirrorEntry>,
}

#[derive(Debug, Serialize)]
struct ItmsSpec {
    #[serde(rename = "imageTagMirrors")]
    image_tag_mirrors: Vec<MirrorEntry>,
}

/// `idms-*` and `itms-*` files, by file name.
pub fn render(
    grouped: &Grouped,
    opts: &ResourceOptions,
) -> Result<BTreeMap<String, String>, ResourceError> {
    let mut files = BTreeMap::new();
    for (category, entries) in &grouped.digest {
        for (i, part) in chunks(entries).iter().enumerate() {
            let name = format!("idms-{category}-{i}");
            let file = format!("{name}.yaml");
            let doc = Document {
                api_version: API_VERSION,
                kind: "ImageDigestMirrorSet",
                metadata: metadata(&name, opts),
                spec: IdmsSpec {
                    image_digest_mirrors: mirror_entries(part, opts.source_policy),
                },
            };
            let text = to_yaml(&file, &doc)?;
            files.insert(file, text);
        }
    }
    for (category, entries) in &grouped.tag {
        for (i, part) in chunks(entries).iter().enumerate() {
            let name = format!("itms-{category}-{i}");
            let file = format!("{name}.yaml");
            let doc = Document {
                api_version: API_VERSION,
                kind: "ImageTagMirrorSet",
                metadata: metadata(&name, opts),
                spec: ItmsSpec {
                    image_tag_mirrors: mirror_entries(part, opts.source_policy),
                },
            };
            let text = to_yaml(&file, &doc)?;
            files.insert(file, text);
        }
    }
    Ok(files)
}
