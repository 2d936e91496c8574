//! The legacy ImageContentSourcePolicy (`operator.openshift.io/v1alpha1`), written only on
//! request (`--icsp`) for clusters older than 4.13: `imageContentSourcePolicy.yaml` holds one
//! `icsp-<category>-0` document per category with digest entries (continued in `-1`, … past
//! the document size limit).
//!
//! ICSP has no fallback policy field and no tag mirrors; both are IDMS/ITMS-only. Pure, no I/O.

use serde::Serialize;

use super::group::Grouped;
use super::model::{ResourceError, ResourceOptions};
use super::yaml::{
    Document, MirrorEntry, chunks, join_documents, metadata, mirror_entries, to_yaml,
};

pub const FILE: &str = "imageContentSourcePolicy.yaml";

#[derive(Debug, Serialize)]
struct IcspSpec {
    #[serde(rename = "repositoryDigestMirrors")]
    repository_digest_mirrors: Vec<MirrorEntry>,
}

/// The ICSP file text, or `None` when there are no digest entries.
pub fn render(grouped: &Grouped, opts: &ResourceOptions) -> Result<Option<String>, ResourceError> {
    let mut docs = Vec::new();
    for (category, entries) in &grouped.digest {
        for (i, part) in chunks(entries).iter().enumerate() {
            let doc = Document {
                api_version: "operator.openshift.io/v1alpha1",
                kind: "ImageContentSourcePolicy",
                metadata: metadata(&format!("icsp-{category}-{i}"), opts),
                spec: IcspSpec {
                    repository_digest_mirrors: mirror_entries(part, None),
                },
            };
            docs.push(to_yaml(FILE, &doc)?);
        }
    }
    if docs.is_empty() {
        return Ok(None);
    }
    Ok(Some(join_documents(&docs)))
}
