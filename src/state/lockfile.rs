//! `airlift.lock`: every resolved tag pinned to a digest, per content set.
//!
//! JSON with sorted entries and a trailing newline, so it is byte-identical for identical
//! resolutions and diffs line by line in review. Written atomically (temp file + rename).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::oci::{Digest, ImageRef};

pub const LOCK_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    /// Images of `images` sets and release payloads of `release` sets (source = the payload
    /// as the update graph or `image=` names it), sorted by set then source.
    #[serde(default)]
    pub images: Vec<LockedImage>,
    /// Helm charts: the version chosen and its digest, sorted by set, repository and chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<LockedChart>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedChart {
    pub set: String,
    /// The repository URL, `oci://PREFIX`, or `local:NAME` for the recipe's local chart NAME.
    pub repository: String,
    pub chart: String,
    pub version: String,
    /// The chart archive's digest (classic repositories, local charts) or the OCI artifact's
    /// manifest digest.
    pub digest: Digest,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    pub set: String,
    /// The reference as the recipe names it (normalised).
    pub source: ImageRef,
    pub digest: Digest,
    /// What the digest is in words a reviewer knows (not part of the pin): a release
    /// payload's `<version>-<arch>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// A catalog's kept bundles as `package/bundle`, sorted (not part of the pin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<String>,
}

impl LockedImage {
    /// An entry without words (plain images).
    pub fn new(set: impl Into<String>, source: ImageRef, digest: Digest) -> Self {
        LockedImage {
            set: set.into(),
            source,
            digest,
            release: None,
            bundles: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid airlift lock file: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path} has lock version {found}; this airlift writes version {LOCK_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What changed between two locks, keyed by (set, source).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockDiff {
    pub added: Vec<LockedImage>,
    pub removed: Vec<LockedImage>,
    /// The same (set, source) pinned to another digest: (old entry, new entry).
    pub repointed: Vec<(LockedImage, LockedImage)>,
    /// Charts whose entry appeared or changed (new entry) and disappeared or changed (old).
    pub charts_added: Vec<LockedChart>,
    pub charts_removed: Vec<LockedChart>,
}

impl LockFile {
    pub fn new(mut images: Vec<LockedImage>) -> Self {
        images.sort();
        images.dedup();
        LockFile {
            version: LOCK_VERSION,
            images,
            charts: Vec::new(),
        }
    }

    /// This lock with `charts` (sorted, deduplicated).
    pub fn with_charts(mut self, mut charts: Vec<LockedChart>) -> Self {
        charts.sort();
        charts.dedup();
        self.charts = charts;
        self
    }

    /// The chart entry of `chart` from `repository` in `set`.
    pub fn chart(&self, set: &str, repository: &str, chart: &str) -> Option<&LockedChart> {
        self.charts
            .iter()
            .find(|c| c.set == set && c.repository == repository && c.chart == chart)
    }

    /// Reads a lock; `Ok(None)` when the file does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>, LockError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        let lock: LockFile = serde_json::from_str(&text).map_err(|e| LockError::Parse {
            path: path.into(),
            reason: e.to_string(),
        })?;
        if lock.version != LOCK_VERSION {
            return Err(LockError::Version {
                path: path.into(),
                found: lock.version,
            });
        }
        // One digest per (set, source): a second entry would be silently picked or dropped.
        let mut seen = BTreeMap::new();
        for i in &lock.images {
            if let Some(other) = seen.insert((&i.set, &i.source), &i.digest) {
                return Err(LockError::Parse {
                    path: path.into(),
                    reason: format!(
                        "set `{}` pins {} twice ({other} and {})",
                        i.set, i.source, i.digest
                    ),
                });
            }
        }
        let mut charts = BTreeMap::new();
        for c in &lock.charts {
            if charts
                .insert((&c.set, &c.repository, &c.chart), c)
                .is_some()
            {
                return Err(LockError::Parse {
                    path: path.into(),
                    reason: format!(
                        "set `{}` pins chart `{}` of {} twice",
                        c.set, c.chart, c.repository
                    ),
                });
            }
        }
        Ok(Some(LockFile::new(lock.images).with_charts(lock.charts)))
    }

    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let err = |source| LockError::Write {
            path: path.into(),
            source,
        };
        let text = self.to_text();
        // An unchanged lock is left alone (no write, same mtime): a no-op build writes nothing.
        if fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(());
        }
        super::write_atomic(path, text.as_bytes()).map_err(err)
    }

    /// The pinned digest of `source` in `set`.
    pub fn digest_of(&self, set: &str, source: &ImageRef) -> Option<&Digest> {
        self.images
            .iter()
            .find(|i| i.set == set && &i.source == source)
            .map(|i| &i.digest)
    }

    pub fn diff(old: &LockFile, new: &LockFile) -> LockDiff {
        let key = |i: &LockedImage| (i.set.clone(), i.source.clone());
        let o: BTreeMap<_, _> = old.images.iter().map(|i| (key(i), i)).collect();
        let n: BTreeMap<_, _> = new.images.iter().map(|i| (key(i), i)).collect();
        let mut d = LockDiff::default();
        for (k, ni) in &n {
            match o.get(k) {
                None => d.added.push((*ni).clone()),
                Some(oi) if oi.digest != ni.digest => {
                    d.repointed.push(((*oi).clone(), (*ni).clone()))
                }
                Some(_) => {}
            }
        }
        for (k, oi) in &o {
            if !n.contains_key(k) {
                d.removed.push((*oi).clone());
            }
        }
        d.charts_added = new
            .charts
            .iter()
            .filter(|c| !old.charts.contains(c))
            .cloned()
            .collect();
        d.charts_removed = old
            .charts
            .iter()
            .filter(|c| !new.charts.contains(c))
            .cloned()
            .collect();
        d
    }
}

/// ` (release 4.15.3-x86_64)` or ` (3 bundles: a/a.v1, …)` for an added or removed entry.
fn words(i: &LockedImage) -> String {
    if let Some(r) = &i.release {
        return format!(" (release {r})");
    }
    if i.bundles.is_empty() {
        return String::new();
    }
    const SHOWN: usize = 5;
    let mut list = i.bundles[..i.bundles.len().min(SHOWN)].join(", ");
    if i.bundles.len() > SHOWN {
        list.push_str(&format!(", and {} more", i.bundles.len() - SHOWN));
    }
    format!(" ({} bundle(s): {list})", i.bundles.len())
}

impl LockDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.repointed.is_empty()
            && self.charts_added.is_empty()
            && self.charts_removed.is_empty()
    }

    /// One line per change: `+ set source@digest`, `- …`, `~ set source old -> new`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (sign, list) in [('+', &self.added), ('-', &self.removed)] {
            for i in list {
                let _ = writeln!(s, "{sign} {} {} {}{}", i.set, i.source, i.digest, words(i));
            }
        }
        for (old, new) in &self.repointed {
            let _ = writeln!(
                s,
                "~ {} {} {} -> {}",
                new.set, new.source, old.digest, new.digest
            );
            if old.release != new.release {
                let name = |r: &Option<String>| r.clone().unwrap_or_else(|| "?".to_string());
                let _ = writeln!(
                    s,
                    "    release {} -> {}",
                    name(&old.release),
                    name(&new.release)
                );
            }
            let gone: Vec<&str> = old
                .bundles
                .iter()
                .filter(|b| !new.bundles.contains(b))
                .map(String::as_str)
                .collect();
            let came: Vec<&str> = new
                .bundles
                .iter()
                .filter(|b| !old.bundles.contains(b))
                .map(String::as_str)
                .collect();
            if !came.is_empty() {
                let _ = writeln!(s, "    + bundles {}", came.join(", "));
            }
            if !gone.is_empty() {
                let _ = writeln!(s, "    - bundles {}", gone.join(", "));
            }
        }
        for (sign, list) in [('-', &self.charts_removed), ('+', &self.charts_added)] {
            for c in list {
                let _ = writeln!(
                    s,
                    "{sign} {} chart {} {} ({}) {}",
                    c.set, c.chart, c.version, c.repository, c.digest
                );
            }
        }
        if s.is_empty() {
            s.push_str("no changes\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn li(set: &str, src: &str, n: u8) -> LockedImage {
        LockedImage::new(set, src.parse().unwrap(), Digest::of(&[n]))
    }

    #[test]
    fn text_is_sorted_and_stable() {
        let a = LockFile::new(vec![
            li("b", "quay.io/x/y:1", 1),
            li("a", "quay.io/x/z:1", 2),
        ]);
        let b = LockFile::new(vec![
            li("a", "quay.io/x/z:1", 2),
            li("b", "quay.io/x/y:1", 1),
        ]);
        assert_eq!(a.to_text(), b.to_text());
        assert!(a.to_text().find("\"a\"").unwrap() < a.to_text().find("\"b\"").unwrap());
    }

    #[test]
    fn write_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("airlift.lock");
        assert!(LockFile::read(&p).unwrap().is_none());
        let a = LockFile::new(vec![li("s", "quay.io/x/y:1", 1)]);
        a.write(&p).unwrap();
        assert_eq!(LockFile::read(&p).unwrap(), Some(a));
    }

    #[test]
    fn unknown_fields_and_duplicate_entries_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("airlift.lock");
        let entry = |digest: &Digest| {
            format!(r#"{{"set": "s", "source": "quay.io/x/y:1", "digest": "{digest}"}}"#)
        };
        std::fs::write(
            &p,
            format!(
                r#"{{"version": 1, "images": [{}, {}]}}"#,
                entry(&Digest::of(&[1])),
                entry(&Digest::of(&[2]))
            ),
        )
        .unwrap();
        let e = LockFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("pins quay.io/x/y:1 twice"), "{e}");
        std::fs::write(
            &p,
            format!(
                r#"{{"version": 1, "images": [{}], "extra": 1}}"#,
                entry(&Digest::of(&[1]))
            ),
        )
        .unwrap();
        let e = LockFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
        let bad = entry(&Digest::of(&[1])).replace(r#""set""#, r#""sett""#);
        std::fs::write(&p, format!(r#"{{"version": 1, "images": [{bad}]}}"#)).unwrap();
        let e = LockFile::read(&p).unwrap_err().to_string();
        assert!(e.contains("unknown field `sett`"), "{e}");
    }

    /// Hardening (#18): a nightly diff showed only digests; it now says which release
    /// version and which catalog bundles moved.
    #[test]
    fn diff_names_release_versions_and_bundles() {
        let release = |n: u8, v: &str| LockedImage {
            release: Some(v.to_string()),
            ..li("ocp", "quay.io/openshift-release-dev/ocp-release:4.15", n)
        };
        let catalog = |n: u8, b: &[&str]| LockedImage {
            bundles: b.iter().map(|s| s.to_string()).collect(),
            ..li("ops", "registry.example/redhat/operator-index:v4.15", n)
        };
        let old = LockFile::new(vec![
            release(1, "4.15.2-x86_64"),
            catalog(2, &["alpha/alpha.v1.0.0", "alpha/alpha.v1.1.0"]),
        ]);
        let new = LockFile::new(vec![
            release(3, "4.15.3-x86_64"),
            catalog(4, &["alpha/alpha.v1.1.0", "alpha/alpha.v1.2.0"]),
            LockedImage {
                release: Some("4.16.0-x86_64".into()),
                ..li("ocp", "quay.io/openshift-release-dev/ocp-release:4.16", 5)
            },
        ]);
        let text = LockFile::diff(&old, &new).render();
        assert!(text.contains("(release 4.16.0-x86_64)"), "{text}");
        assert!(
            text.contains("    release 4.15.2-x86_64 -> 4.15.3-x86_64\n"),
            "{text}"
        );
        assert!(
            text.contains("    + bundles alpha/alpha.v1.2.0\n"),
            "{text}"
        );
        assert!(
            text.contains("    - bundles alpha/alpha.v1.0.0\n"),
            "{text}"
        );
        // The words survive the file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airlift.lock");
        new.write(&path).unwrap();
        assert_eq!(LockFile::read(&path).unwrap(), Some(new));
    }

    #[test]
    fn diff_reports_added_removed_repointed() {
        let old = LockFile::new(vec![
            li("s", "quay.io/a/a:1", 1),
            li("s", "quay.io/a/b:1", 2),
        ]);
        let new = LockFile::new(vec![
            li("s", "quay.io/a/a:1", 9),
            li("s", "quay.io/a/c:1", 3),
        ]);
        let d = LockFile::diff(&old, &new);
        assert_eq!(d.added, vec![li("s", "quay.io/a/c:1", 3)]);
        assert_eq!(d.removed, vec![li("s", "quay.io/a/b:1", 2)]);
        assert_eq!(d.repointed.len(), 1);
        let text = d.render();
        assert!(text.contains("+ s quay.io/a/c:1"), "{text}");
        assert!(text.contains("- s quay.io/a/b:1"), "{text}");
        assert!(text.contains("~ s quay.io/a/a:1"), "{text}");
    }
}
