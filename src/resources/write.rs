//! `write_dir`: the one place the resources module touches the file system.
//!
//! Each file is written to a temporary file in the destination directory and renamed over the
//! old one, so a reader never sees a half-written document. A temporary file a crash left
//! (`.airlift-*.tmp`) makes the directory's digest differ, so the next build renders again and
//! removes it. Files left from an earlier render
//! that this render no longer produces are removed, but only when they are recognisably
//! airlift's (see [`is_airlift_generated`]); anything else in the directory is left alone.
//! Cluster resources go at the top, so `oc apply -f <dir>` applies exactly them; files that are
//! not resources (for hosts and installers) go in [`EXTRAS`], which `oc apply` without `-R`
//! does not read.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use super::model::Rendered;
use crate::oci::Digest;

/// The subdirectory for rendered files that are not cluster resources.
pub const EXTRAS: &str = "extras";

/// Writes `rendered` into `dir` (created when missing; names may start with `extras/`) and
/// removes stale airlift files from `dir` and `dir/extras`.
pub fn write_dir(rendered: &Rendered, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir.join(EXTRAS))?;
    let mut changed = false;
    for (name, bytes) in &rendered.files {
        let path = dir.join(name);
        // Same bytes already there: not rewritten (a no-op build leaves files and mtimes alone).
        if fs::read(&path).is_ok_and(|old| old == *bytes) {
            continue;
        }
        let parent = path.parent().unwrap_or(dir);
        let mut tmp = tempfile::Builder::new()
            .prefix(".airlift-")
            .suffix(".tmp")
            .tempfile_in(parent)?;
        tmp.write_all(bytes)?;
        make_readable(tmp.as_file())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        changed = true;
    }
    for (sub, prefix) in [
        (dir.to_path_buf(), String::new()),
        (dir.join(EXTRAS), format!("{EXTRAS}/")),
    ] {
        for entry in fs::read_dir(&sub)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if rendered.files.contains_key(&format!("{prefix}{name}"))
                || !entry.file_type()?.is_file()
            {
                continue;
            }
            if is_leftover(name) || is_airlift_generated(name, &entry.path())? {
                fs::remove_file(entry.path())?;
                changed = true;
            }
        }
    }
    if changed {
        sync_dir(dir)?;
        sync_dir(&dir.join(EXTRAS))?;
    }
    Ok(())
}

/// The digest of airlift's files in `dir` and `dir/extras` (those [`write_dir`] writes and
/// removes): sha256 over their sorted relative names and bytes; `None` when `dir` does not
/// exist. What the `render-resources` task records, and what the planner compares with.
pub fn dir_digest(dir: &Path) -> io::Result<Option<Digest>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files = std::collections::BTreeMap::new();
    for (sub, prefix) in [
        (dir.to_path_buf(), String::new()),
        (dir.join(EXTRAS), format!("{EXTRAS}/")),
    ] {
        let entries = match fs::read_dir(&sub) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !entry.file_type()?.is_file() {
                continue;
            }
            if is_leftover(name) {
                // A write a crash interrupted: the directory is not what was recorded.
                files.insert(format!("{prefix}{name}"), Vec::new());
            } else if is_airlift_generated(name, &entry.path())? {
                files.insert(format!("{prefix}{name}"), fs::read(entry.path())?);
            }
        }
    }
    let mut all = Vec::new();
    for (name, bytes) in &files {
        all.extend_from_slice(name.as_bytes());
        all.push(0);
        all.extend_from_slice(Digest::of(bytes).to_string().as_bytes());
        all.push(b'\n');
    }
    Ok(Some(Digest::of(&all)))
}

/// Makes the renames and removals durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Temporary files are created 0600; rendered resources are meant to be read and shipped, so
/// they get the usual 0644.
#[cfg(unix)]
pub fn make_readable(file: &fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub fn make_readable(_file: &fs::File) -> io::Result<()> {
    Ok(())
}

/// A `.yaml`/`.yml`/`.conf` file whose text carries airlift's mark: the `createdBy: airlift`
/// annotation of a document, or a first line starting `# Generated by airlift`.
/// A temporary file [`write_dir`] writes before renaming it, left by a crash.
fn is_leftover(name: &str) -> bool {
    name.starts_with(".airlift-") && name.ends_with(".tmp")
}

fn is_airlift_generated(name: &str, path: &Path) -> io::Result<bool> {
    let ext_ok = [".yaml", ".yml", ".conf"].iter().any(|e| name.ends_with(e));
    if !ext_ok {
        return Ok(false);
    }
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(text.starts_with("# Generated by airlift")
        || text.lines().any(|l| l.trim() == "createdBy: airlift"))
}
