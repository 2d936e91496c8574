//! A Helm chart read into memory: `Chart.yaml`, `values.yaml`, its templates, its other files
//! (for `.Files`) and its subcharts (directories or archives under `charts/`), from a chart
//! archive (`.tgz`, as repositories serve them) or a chart directory.
//!
//! Reading is defensive: archive entries with absolute paths, `..`, links or devices are refused,
//! and sizes are bounded, so a hostile chart cannot write anywhere or exhaust memory. A chart
//! directory is packed into an archive the way `helm package` lays one out (`<name>/…`), with
//! sorted entries and fixed times so the same directory always gives the same bytes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

use serde_json::Value;

/// Limits on what a chart may hold.
const MAX_FILE: u64 = 16 << 20;
const MAX_TOTAL: u64 = 128 << 20;
const MAX_DEPTH: usize = 8;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChartError {
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
}

fn invalid(what: &str, reason: impl Into<String>) -> ChartError {
    ChartError::Invalid {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// One chart and its subcharts.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// `Chart.yaml` as data.
    pub meta: Value,
    pub name: String,
    pub version: String,
    pub app_version: Option<String>,
    /// `values.yaml` (an empty map when absent).
    pub values: Value,
    /// `templates/…` files by their path in the chart.
    pub templates: BTreeMap<String, String>,
    /// Every other text file by its path in the chart (`.Files`).
    pub files: BTreeMap<String, String>,
    /// Subcharts found under `charts/`, by directory or archive name.
    pub subcharts: Vec<Chart>,
}

impl Chart {
    /// Reads a chart archive (`.tgz`).
    pub fn from_archive(what: &str, bytes: &[u8]) -> Result<Chart, ChartError> {
        Chart::from_archive_at(what, bytes, 0)
    }

    fn from_archive_at(what: &str, bytes: &[u8], depth: usize) -> Result<Chart, ChartError> {
        let files = archive_files(what, bytes)?;
        // Every entry sits below one top directory, the chart's name.
        let mut top: Option<String> = None;
        let mut inner = BTreeMap::new();
        for (path, data) in files {
            let Some((first, rest)) = path.split_once('/') else {
                return Err(invalid(
                    what,
                    format!("`{path}` is not inside the chart's directory"),
                ));
            };
            match &top {
                Some(t) if t != first => {
                    return Err(invalid(
                        what,
                        format!("entries in two top directories (`{t}` and `{first}`)"),
                    ));
                }
                _ => top = Some(first.to_string()),
            }
            if !rest.is_empty() {
                inner.insert(rest.to_string(), data);
            }
        }
        Chart::from_files(what, inner, depth)
    }

    /// Reads a chart directory.
    pub fn from_dir(dir: &Path) -> Result<Chart, ChartError> {
        let what = dir.display().to_string();
        Chart::from_files(&what, dir_files(dir)?, 0)
    }

    /// A chart from its files (paths relative to the chart's directory).
    fn from_files(
        what: &str,
        mut files: BTreeMap<String, Vec<u8>>,
        depth: usize,
    ) -> Result<Chart, ChartError> {
        if depth > MAX_DEPTH {
            return Err(invalid(
                what,
                format!("subcharts nested deeper than {MAX_DEPTH}"),
            ));
        }
        let text = |path: &str, data: Vec<u8>| {
            String::from_utf8(data).map_err(|_| invalid(what, format!("{path} is not UTF-8 text")))
        };
        let meta_text = files
            .remove("Chart.yaml")
            .ok_or_else(|| invalid(what, "no Chart.yaml: not a Helm chart"))?;
        let meta: Value = serde_saphyr::from_str(&text("Chart.yaml", meta_text)?)
            .map_err(|e| invalid(what, format!("Chart.yaml: {e}")))?;
        let field = |k: &str| match meta.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(v @ Value::Number(_)) => Some(v.to_string()),
            _ => None,
        };
        let name = field("name").ok_or_else(|| invalid(what, "Chart.yaml has no name"))?;
        let version = field("version").ok_or_else(|| invalid(what, "Chart.yaml has no version"))?;
        let app_version = field("appVersion");
        let values = match files.remove("values.yaml") {
            None => Value::Object(Default::default()),
            Some(data) => match serde_saphyr::from_str::<Value>(&text("values.yaml", data)?) {
                Ok(Value::Null) => Value::Object(Default::default()),
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => return Err(invalid(what, "values.yaml is not a map")),
                Err(e) => return Err(invalid(what, format!("values.yaml: {e}"))),
            },
        };
        let mut templates = BTreeMap::new();
        let mut other = BTreeMap::new();
        let mut sub_dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        let mut sub_archives = Vec::new();
        for (path, data) in files {
            if let Some(rest) = path.strip_prefix("charts/") {
                match rest.split_once('/') {
                    Some((dir, inner)) => {
                        sub_dirs
                            .entry(dir.to_string())
                            .or_default()
                            .insert(inner.to_string(), data);
                    }
                    None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => {
                        sub_archives.push((path.clone(), data))
                    }
                    None => {}
                }
            } else if path.starts_with("templates/") {
                templates.insert(path.clone(), text(&path, data)?);
            } else if let Ok(t) = String::from_utf8(data) {
                other.insert(path, t);
            }
        }
        let mut subcharts = Vec::new();
        for (dir, sub) in sub_dirs {
            let sub_what = format!("{what}: charts/{dir}");
            subcharts.push(Chart::from_files(&sub_what, sub, depth + 1)?);
        }
        for (path, data) in sub_archives {
            let sub_what = format!("{what}: {path}");
            subcharts.push(Chart::from_archive_at(&sub_what, &data, depth + 1)?);
        }
        subcharts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Chart {
            meta,
            name,
            version,
            app_version,
            values,
            templates,
            files: other,
            subcharts,
        })
    }

    /// The `dependencies` of `Chart.yaml` (apiVersion v2).
    pub fn dependencies(&self) -> Vec<Dependency> {
        let Some(Value::Array(deps)) = self.meta.get("dependencies") else {
            return Vec::new();
        };
        deps.iter()
            .filter_map(|d| {
                let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
                Some(Dependency {
                    name: s("name")?,
                    alias: s("alias"),
                    condition: s("condition"),
                })
            })
            .collect()
    }
}

/// One `dependencies` entry of `Chart.yaml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub alias: Option<String>,
    /// A comma-separated list of values paths; the first that exists decides.
    pub condition: Option<String>,
}

/// The regular files of a chart archive by path, refusing unsafe entries.
fn archive_files(what: &str, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ChartError> {
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz);
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| invalid(what, format!("not a chart archive (gzip tar): {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| invalid(what, format!("not a chart archive (gzip tar): {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(what, format!("an entry with a bad name: {e}")))?
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(invalid(
                what,
                format!(
                    "entry `{}` is a link or device; charts hold regular files only",
                    path.display()
                ),
            ));
        }
        let name = safe_path(&path).ok_or_else(|| {
            invalid(
                what,
                format!("entry `{}` has an absolute path or `..`", path.display()),
            )
        })?;
        let size = entry.header().size().unwrap_or(u64::MAX);
        total = total.saturating_add(size);
        if size > MAX_FILE || total > MAX_TOTAL {
            return Err(invalid(
                what,
                format!(
                    "`{name}` makes the chart larger than allowed ({} MiB per file, {} MiB in all)",
                    MAX_FILE >> 20,
                    MAX_TOTAL >> 20
                ),
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| invalid(what, format!("`{name}`: {e}")))?;
        files.insert(name, data);
    }
    Ok(files)
}

/// `a/b/c` for a relative path of normal components; `None` otherwise.
fn safe_path(p: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The regular files below `dir` by relative path (hidden files and `.helmignore`d VCS
/// directories skipped), in sorted order.
fn dir_files(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, ChartError> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut BTreeMap<String, Vec<u8>>,
        total: &mut u64,
    ) -> Result<(), ChartError> {
        let read_err = |e: std::io::Error| ChartError::Read {
            path: dir.display().to_string(),
            reason: e.to_string(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let path = e.path();
            let kind = e.file_type().map_err(read_err)?;
            if kind.is_dir() {
                walk(root, &path, out, total)?;
            } else if kind.is_file() {
                let data = std::fs::read(&path).map_err(|e| ChartError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                *total += data.len() as u64;
                if *total > MAX_TOTAL {
                    return Err(invalid(
                        &root.display().to_string(),
                        format!("larger than {} MiB", MAX_TOTAL >> 20),
                    ));
                }
                let rel = path.strip_prefix(root).unwrap_or(&path);
                if let Some(rel) = safe_path(rel) {
                    out.insert(rel, data);
                }
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out, &mut 0)?;
    Ok(out)
}

/// Packs the chart directory `dir` into a chart archive as `helm package` lays it out
/// (`<name>/…`): sorted entries, mode 0644, the given mtime, a gzip header without a time or
/// name. The same directory always gives the same bytes.
pub fn package_dir(dir: &Path, mtime: u64) -> Result<(Chart, Vec<u8>), ChartError> {
    let what = dir.display().to_string();
    let files = dir_files(dir)?;
    let chart = Chart::from_files(&what, files.clone(), 0)?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, data) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{}/{path}", chart.name), data.as_slice())
            .map_err(|e| invalid(&what, format!("packing `{path}`: {e}")))?;
    }
    let bytes = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| invalid(&what, format!("packing: {e}")))?;
    Ok((chart, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tgz(entries: &[(&str, &[u8], tar::EntryType)]) -> Vec<u8> {
        let gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, data, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(*kind);
            if kind.is_symlink() {
                h.set_link_name("/etc/passwd").unwrap();
            }
            // Written raw so that hostile names reach the reader as they are.
            let name = path.as_bytes();
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    const CHART: &[u8] = b"apiVersion: v2\nname: app\nversion: 1.2.3\nappVersion: \"4.5\"\n";

    #[test]
    fn an_archive_with_a_subchart_archive_is_read() {
        let sub = tgz(&[
            (
                "db/Chart.yaml",
                b"apiVersion: v2\nname: db\nversion: 0.1.0\n",
                tar::EntryType::Regular,
            ),
            (
                "db/templates/s.yaml",
                b"kind: StatefulSet\n",
                tar::EntryType::Regular,
            ),
        ]);
        let top = tgz(&[
            ("app/Chart.yaml", CHART, tar::EntryType::Regular),
            (
                "app/values.yaml",
                b"image:\n  tag: x\n",
                tar::EntryType::Regular,
            ),
            (
                "app/templates/d.yaml",
                b"kind: Deployment\n",
                tar::EntryType::Regular,
            ),
            ("app/files/conf.txt", b"hello", tar::EntryType::Regular),
            ("app/charts/db-0.1.0.tgz", &sub, tar::EntryType::Regular),
        ]);
        let c = Chart::from_archive("app.tgz", &top).unwrap();
        assert_eq!((c.name.as_str(), c.version.as_str()), ("app", "1.2.3"));
        assert_eq!(c.app_version.as_deref(), Some("4.5"));
        assert_eq!(c.templates.keys().collect::<Vec<_>>(), ["templates/d.yaml"]);
        assert_eq!(
            c.files.get("files/conf.txt").map(String::as_str),
            Some("hello")
        );
        assert_eq!(c.subcharts.len(), 1);
        assert_eq!(c.subcharts[0].templates.len(), 1);
    }

    #[test]
    fn unsafe_entries_are_refused() {
        for (name, kind) in [
            ("app/../../evil", tar::EntryType::Regular),
            ("/app/Chart.yaml", tar::EntryType::Regular),
            ("app/templates/link", tar::EntryType::Symlink),
        ] {
            let bad = tgz(&[
                ("app/Chart.yaml", CHART, tar::EntryType::Regular),
                (name, b"", kind),
            ]);
            let err = Chart::from_archive("bad.tgz", &bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("absolute path or `..`") || err.contains("link or device"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn packing_a_directory_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("Chart.yaml"), CHART).unwrap();
        std::fs::write(dir.path().join("templates/d.yaml"), "kind: Deployment\n").unwrap();
        let (c1, a) = package_dir(dir.path(), 0).unwrap();
        let (_, b) = package_dir(dir.path(), 0).unwrap();
        assert_eq!(a, b);
        assert_eq!(Chart::from_archive("x", &a).unwrap(), c1);
    }
}
