//! Shared pieces of every rendered Kubernetes document: the envelope, metadata with airlift's
//! annotations, the mirror entry, the SOURCE_DATE_EPOCH timestamp and YAML emission.
//!
//! Determinism: documents are structs whose fields are declared in alphabetical order (which is
//! also the order `kubectl get -o yaml` prints), maps are `BTreeMap`, lists are built from
//! sorted sets; so the same input always yields the same bytes. Emission uses `serde-saphyr`
//! with block scalars turned off, so long repository names are never folded. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{ResourceError, ResourceOptions, SourcePolicy};

/// Annotation every airlift document carries (and what `write_dir` recognises).
pub const CREATED_BY: &str = "createdBy";
/// Annotation naming the target the document was rendered for.
pub const TARGET_ANNOTATION: &str = "airlift/target";
/// Annotation holding SOURCE_DATE_EPOCH as RFC 3339 UTC, only when it is set.
pub const CREATED_ANNOTATION: &str = "airlift/created";

/// `apiVersion`, `kind`, `metadata`, `spec` of a cluster-scoped object.
#[derive(Debug, Serialize)]
pub struct Document<S: Serialize> {
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: S,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub annotations: BTreeMap<String, String>,
    pub name: String,
}

/// One `source` → `mirrors` entry of IDMS / ITMS / ICSP / install-config.
#[derive(Debug, Serialize)]
pub struct MirrorEntry {
    #[serde(rename = "mirrorSourcePolicy", skip_serializing_if = "Option::is_none")]
    pub mirror_source_policy: Option<&'static str>,
    pub mirrors: Vec<String>,
    pub source: String,
}

/// Entries in source order, mirrors sorted; `policy` is the optional fallback policy.
pub fn mirror_entries(
    entries: &BTreeMap<String, BTreeSet<String>>,
    policy: Option<SourcePolicy>,
) -> Vec<MirrorEntry> {
    entries
        .iter()
        .map(|(source, mirrors)| MirrorEntry {
            mirror_source_policy: policy.map(SourcePolicy::as_str),
            mirrors: mirrors.iter().cloned().collect(),
            source: source.clone(),
        })
        .collect()
}

/// Largest YAML size a mirror-set document is allowed to reach before its entries continue in
/// the next document (`-0`, `-1`, …). Kubernetes objects must stay under etcd's 1.5 MiB request
/// limit, and every node re-reads these objects; oc-mirror v1 used the same 250 kB bound.
pub const DOCUMENT_LIMIT: usize = 250_000;

/// Splits sorted entries into consecutive chunks whose rendered size stays under
/// [`DOCUMENT_LIMIT`] (each chunk has at least one entry). Deterministic: depends only on the
/// entries.
pub fn chunks(
    entries: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<BTreeMap<String, BTreeSet<String>>> {
    // Envelope (apiVersion, kind, metadata, spec key) plus per-entry overhead, generously.
    const ENVELOPE: usize = 512;
    let mut out = Vec::new();
    let mut current = BTreeMap::new();
    let mut size = ENVELOPE;
    for (source, mirrors) in entries {
        let entry = 64 + source.len() + mirrors.iter().map(|m| m.len() + 8).sum::<usize>();
        if !current.is_empty() && size + entry > DOCUMENT_LIMIT {
            out.push(std::mem::take(&mut current));
            size = ENVELOPE;
        }
        size += entry;
        current.insert(source.clone(), mirrors.clone());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Metadata with `createdBy: airlift`, the target, and the time when SOURCE_DATE_EPOCH is set.
pub fn metadata(name: &str, opts: &ResourceOptions) -> Metadata {
    let mut annotations = BTreeMap::new();
    annotations.insert(CREATED_BY.to_string(), "airlift".to_string());
    if !opts.target.is_empty() {
        annotations.insert(TARGET_ANNOTATION.to_string(), opts.target.clone());
    }
    if let Some(epoch) = opts.source_date_epoch {
        annotations.insert(CREATED_ANNOTATION.to_string(), rfc3339_utc(epoch));
    }
    Metadata {
        annotations,
        name: name.to_string(),
    }
}

/// Serialises one value as a YAML document (no leading `---`, trailing newline).
pub fn to_yaml<T: Serialize>(file: &str, value: &T) -> Result<String, ResourceError> {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    serde_saphyr::to_string_with_options(value, options).map_err(|e| ResourceError::Yaml {
        file: file.to_string(),
        message: e.to_string(),
    })
}

/// Joins YAML documents into one stream separated by `---`.
pub fn join_documents(docs: &[String]) -> String {
    let mut out = String::new();
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(d);
        if !d.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_points() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn large_entry_lists_are_split_under_the_limit() {
        let entries: BTreeMap<String, BTreeSet<String>> = (0..5000)
            .map(|i| {
                let source = format!("quay.io/namespace-{i:05}/repository-{i:05}");
                let mirror = format!("mirror.example:5000/team/namespace-{i:05}/repository-{i:05}");
                (source, BTreeSet::from([mirror]))
            })
            .collect();
        let parts = chunks(&entries);
        assert!(parts.len() > 1);
        assert_eq!(
            parts.iter().map(BTreeMap::len).sum::<usize>(),
            entries.len()
        );
        for part in &parts {
            let entries = mirror_entries(part, None);
            let text = to_yaml("t", &entries).unwrap();
            assert!(text.len() < DOCUMENT_LIMIT, "{}", text.len());
        }
        assert_eq!(chunks(&BTreeMap::new()).len(), 0);
    }

    #[test]
    fn documents_are_joined_with_separators() {
        let s = join_documents(&["a: 1\n".into(), "b: 2".into()]);
        assert_eq!(s, "a: 1\n---\nb: 2\n");
    }
}
