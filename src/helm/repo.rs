//! Classic chart repositories: `index.yaml` read and a chart version chosen from it (an exact
//! version, the highest version a constraint allows, or the latest release without one), and
//! the download URL of the chosen archive (relative URLs are below the repository's URL).
//!
//! Pure: the caller fetches the bytes.

use serde_json::Value;

use crate::oci::Digest;
use crate::recipe::ChartVersion;

/// One chart version an index lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: semver::Version,
    /// The version as the index spells it (the tag of its OCI artifact).
    pub version_text: String,
    /// The archive's digest when the index gives one.
    pub digest: Option<Digest>,
    pub url: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    #[error("{url}/index.yaml is not a chart repository index: {reason}")]
    Invalid { url: String, reason: String },
    #[error("{url} has no chart `{chart}`{hint}")]
    NoChart {
        url: String,
        chart: String,
        hint: String,
    },
    #[error("chart `{chart}` of {url} has no version {wanted} (it has {have})")]
    NoVersion {
        url: String,
        chart: String,
        wanted: String,
        have: String,
    },
}

/// Picks `chart` at `wanted` (the latest release when `None`) from the index text of the
/// repository at `url`.
pub fn select(
    url: &str,
    index: &str,
    chart: &str,
    wanted: Option<&ChartVersion>,
) -> Result<IndexEntry, IndexError> {
    let doc: Value = serde_saphyr::from_str(index).map_err(|e| IndexError::Invalid {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let Some(entries) = doc.get("entries").and_then(Value::as_object) else {
        return Err(IndexError::Invalid {
            url: url.to_string(),
            reason: "it has no `entries` map".to_string(),
        });
    };
    let Some(Value::Array(versions)) = entries.get(chart) else {
        let names: Vec<&str> = entries.keys().map(String::as_str).collect();
        let hint = crate::recipe::closest(chart, &names)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(IndexError::NoChart {
            url: url.to_string(),
            chart: chart.to_string(),
            hint,
        });
    };
    let mut all: Vec<IndexEntry> = versions
        .iter()
        .filter_map(|v| {
            let text = match v.get("version")? {
                Value::String(s) => s.trim().to_string(),
                n @ Value::Number(_) => n.to_string(),
                _ => return None,
            };
            let version = semver::Version::parse(text.strip_prefix('v').unwrap_or(&text)).ok()?;
            let url = v.get("urls")?.as_array()?.first()?.as_str()?.to_string();
            let digest = v.get("digest").and_then(Value::as_str).and_then(|d| {
                format!("sha256:{}", d.trim_start_matches("sha256:"))
                    .parse()
                    .ok()
            });
            Some(IndexEntry {
                name: chart.to_string(),
                version,
                version_text: text,
                digest,
                url,
            })
        })
        .collect();
    all.sort_by(|a, b| b.version.cmp(&a.version));
    let chosen = all.iter().find(|e| match wanted {
        Some(w) => w.matches(&e.version),
        None => e.version.pre.is_empty(),
    });
    match chosen {
        Some(e) => {
            let mut e = e.clone();
            e.url = absolute(url, &e.url);
            Ok(e)
        }
        None => {
            let mut have: Vec<String> =
                all.iter().take(5).map(|e| e.version_text.clone()).collect();
            if all.len() > 5 {
                have.push(format!("… {} in all", all.len()));
            }
            Err(IndexError::NoVersion {
                url: url.to_string(),
                chart: chart.to_string(),
                wanted: wanted.map_or("(a release)".to_string(), |w| w.to_string()),
                have: if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                },
            })
        }
    }
}

/// `u` as an absolute URL: as is when it has a scheme, else below the repository URL.
fn absolute(repo: &str, u: &str) -> String {
    if u.contains("://") {
        u.to_string()
    } else {
        format!(
            "{}/{}",
            repo.trim_end_matches('/'),
            u.trim_start_matches('/')
        )
    }
}

/// The highest version among `tags` (an OCI chart repository's tags; Helm writes `+` as `_`)
/// that `wanted` allows, the latest release without one; with its tag.
pub fn select_tag(
    tags: &[String],
    wanted: Option<&ChartVersion>,
) -> Option<(semver::Version, String)> {
    tags.iter()
        .filter_map(|t| {
            let text = t.replace('_', "+");
            let v = semver::Version::parse(text.strip_prefix('v').unwrap_or(&text)).ok()?;
            Some((v, t.clone()))
        })
        .filter(|(v, _)| match wanted {
            Some(w) => w.matches(v),
            None => v.pre.is_empty(),
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"
apiVersion: v1
entries:
  podinfo:
    - name: podinfo
      version: 6.6.0-rc.1
      urls: [podinfo-6.6.0-rc.1.tgz]
    - name: podinfo
      version: 6.5.0
      digest: 00000000000000000000000000000000000000000000000000000000000000ab
      urls: [podinfo-6.5.0.tgz]
    - name: podinfo
      version: 6.4.1
      urls: [https://cdn.example.com/podinfo-6.4.1.tgz]
"#;

    #[test]
    fn latest_release_exact_and_range() {
        let url = "http://127.0.0.1:1/charts";
        let latest = select(url, INDEX, "podinfo", None).unwrap();
        assert_eq!(latest.version_text, "6.5.0");
        assert_eq!(latest.url, "http://127.0.0.1:1/charts/podinfo-6.5.0.tgz");
        assert!(latest.digest.is_some());
        let exact = ChartVersion::parse("6.4.1").unwrap();
        let e = select(url, INDEX, "podinfo", Some(&exact)).unwrap();
        assert_eq!(e.url, "https://cdn.example.com/podinfo-6.4.1.tgz");
        let range = ChartVersion::parse(">=6.0.0 <6.5.0").unwrap();
        assert_eq!(
            select(url, INDEX, "podinfo", Some(&range))
                .unwrap()
                .version_text,
            "6.4.1"
        );
        let none = ChartVersion::parse("7.x").unwrap();
        let err = select(url, INDEX, "podinfo", Some(&none))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("has no version 7.x (it has 6.6.0-rc.1, 6.5.0, 6.4.1)"),
            "{err}"
        );
        let err = select(url, INDEX, "podinf", None).unwrap_err().to_string();
        assert!(err.contains("did you mean `podinfo`"), "{err}");
    }

    #[test]
    fn oci_tags_use_underscores_for_plus() {
        let tags: Vec<String> = ["1.0.0", "1.1.0_build.2", "2.0.0-rc.1", "latest"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(select_tag(&tags, None).unwrap().1, "1.1.0_build.2");
        let r = ChartVersion::parse("<1.1.0").unwrap();
        assert_eq!(select_tag(&tags, Some(&r)).unwrap().1, "1.0.0");
    }
}
