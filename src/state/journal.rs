//! The task journal: an append-only JSON-lines file of completed tasks.
//!
//! Crash safety: a record is appended (one `write` of one line) and `fdatasync`ed after the
//! destination holds the content, so a record never claims work that was not done. A crash mid
//! append leaves at most one torn last line; [`Journal::open`] drops it and truncates the file
//! back to the last complete record. Later records for the same destination supersede earlier
//! ones; the file is compacted (rewritten to a temp file and renamed) when superseded records
//! outnumber live ones.
//!
//! A `delete` record (dest `repo@sha256:…`) is a tombstone: inserting it drops every earlier
//! record of another kind whose destination is in that repository and whose output is that
//! digest, so a later build (even with `--trust-state`) copies a deleted image again.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::oci::Digest;
pub use crate::task::kinds::KindName;

/// One completed task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The task key (hex sha256 of the canonical task description).
    pub key: String,
    /// Task kind, e.g. `copy`.
    pub kind: KindName,
    /// Where the output lives, e.g. the destination image reference.
    pub dest: String,
    /// The source content digest the task consumed.
    pub source_digest: Digest,
    /// The output digest (for a copy: the destination manifest digest).
    pub output_digest: Digest,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JournalError {
    #[error("cannot read or write the journal {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A line before the last one is not a record: the file was damaged, not cut short by a
    /// crash (that only ever leaves a torn last line, which is repaired).
    #[error("the journal {path} is damaged at line {line}: {reason}")]
    #[diagnostic(help(
        "delete the journal file named above: nothing is lost, the next build checks every destination (one manifest HEAD each) and records again"
    ))]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// A shard's view of the workspace journal (read only; see [`Journal::open_over`]).
    base: BTreeMap<String, Record>,
    by_dest: BTreeMap<String, Record>,
    lines: usize,
}

impl Journal {
    /// Loads the journal, repairing a torn tail left by a crash.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let err = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut j = Journal {
            path: path.to_path_buf(),
            base: BTreeMap::new(),
            by_dest: BTreeMap::new(),
            lines: 0,
        };
        let Some(good_len) = read(path, |r| {
            j.insert(r);
            j.lines += 1;
        })?
        else {
            return Ok(j);
        };
        let actual = fs::metadata(path).map_err(err)?.len();
        if actual != good_len {
            let f = OpenOptions::new().write(true).open(path).map_err(err)?;
            f.set_len(good_len).map_err(err)?;
            f.sync_data().map_err(err)?;
        }
        if j.lines > 64 && j.lines > 2 * j.by_dest.len() {
            j.compact()?;
        }
        Ok(j)
    }

    /// A shard's journal (`build --shard`): its own file at `path`, over the workspace's
    /// journal at `base`, which is read and never written (other shards read it at the same
    /// time; a torn tail there is skipped, not repaired). Records appended go to `path`; a
    /// record of `path` supersedes the base's for its destination.
    pub fn open_over(path: &Path, base: &Path) -> Result<Self, JournalError> {
        let under = Journal::open_read_only(base)?;
        let mut j = Journal::open(path)?;
        j.base = under.by_dest;
        Ok(j)
    }

    /// The records of the journal at `path`, read without repairing or compacting it.
    pub fn open_read_only(path: &Path) -> Result<Self, JournalError> {
        let mut j = Journal {
            path: path.to_path_buf(),
            base: BTreeMap::new(),
            by_dest: BTreeMap::new(),
            lines: 0,
        };
        read(path, |r| {
            j.insert(r);
            j.lines += 1;
        })?;
        Ok(j)
    }

    /// The records this journal's own file holds (not the base's), in destination order.
    pub fn own_records(&self) -> impl Iterator<Item = &Record> {
        self.by_dest.values()
    }

    /// The latest record for a destination.
    pub fn get(&self, dest: &str) -> Option<&Record> {
        self.by_dest.get(dest).or_else(|| self.base.get(dest))
    }

    /// Every live record, the own file's superseding the base's (destination order).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        let base = self
            .base
            .iter()
            .filter(|(d, _)| !self.by_dest.contains_key(*d))
            .map(|(_, r)| r);
        let mut all: Vec<&Record> = base.chain(self.by_dest.values()).collect();
        all.sort_by(|a, b| a.dest.cmp(&b.dest));
        all.into_iter()
    }

    /// Appends records durably. Called by the executor after the destination holds the content.
    pub fn append(&mut self, records: &[Record]) -> Result<(), JournalError> {
        if records.is_empty() {
            return Ok(());
        }
        let err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(|e| err(io::Error::other(e)))?;
            buf.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        f.write_all(&buf).map_err(err)?;
        f.sync_data().map_err(err)?;
        for r in records {
            self.insert(r.clone());
            self.lines += 1;
        }
        Ok(())
    }

    /// Keeps `r` as the latest record of its destination; a `delete` record also drops the
    /// records it makes untrue (see the module header).
    fn insert(&mut self, r: Record) {
        if r.kind == KindName::Delete
            && let Some((repo, _)) = r.dest.rsplit_once('@')
        {
            let gone = &r.output_digest;
            let keep = |dest: &String, old: &mut Record| {
                old.kind == KindName::Delete
                    || &old.output_digest != gone
                    || repository_of(dest) != Some(repo)
            };
            self.by_dest.retain(keep);
            self.base.retain(keep);
        }
        self.by_dest.insert(r.dest.clone(), r);
    }

    fn compact(&mut self) -> Result<(), JournalError> {
        let err = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut buf = Vec::new();
        for r in self.by_dest.values() {
            serde_json::to_writer(&mut buf, r).map_err(|e| err(io::Error::other(e)))?;
            buf.push(b'\n');
        }
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        let mut f = File::create(&tmp).map_err(err)?;
        f.write_all(&buf).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &self.path).map_err(err)?;
        self.lines = self.by_dest.len();
        Ok(())
    }
}

/// Reads the records of the journal at `path` into `each`. Returns the length of its complete
/// records (`None` when there is no file); a line that is not a record is an error unless it
/// is the last one (a torn append).
fn read(path: &Path, mut each: impl FnMut(Record)) -> Result<Option<u64>, JournalError> {
    let err = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut good_len: u64 = 0;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut bad: Option<(usize, String)> = None;
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(err)?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Some((at, reason)) = bad.take() {
            return Err(JournalError::Damaged {
                path: path.to_path_buf(),
                line: at,
                reason,
            });
        }
        let parsed = if line.ends_with(b"\n") {
            serde_json::from_slice::<Record>(line.trim_ascii_end()).map_err(|e| e.to_string())
        } else {
            Err("no end of line".to_string())
        };
        match parsed {
            Ok(r) => {
                each(r);
                good_len += n as u64;
            }
            Err(reason) => bad = Some((number, reason)),
        }
    }
    Ok(Some(good_len))
}

/// The repository of a recorded destination reference (`host/path:tag` or `host/path@digest`).
fn repository_of(dest: &str) -> Option<&str> {
    if let Some((repo, _)) = dest.rsplit_once('@') {
        return Some(repo);
    }
    let slash = dest.rfind('/')?;
    let colon = dest[slash..].rfind(':')?;
    Some(&dest[..slash + colon])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(dest: &str, n: u8) -> Record {
        Record {
            key: format!("{n:064x}"),
            kind: KindName::Copy,
            dest: dest.into(),
            source_digest: Digest::of(&[n]),
            output_digest: Digest::of(&[n]),
        }
    }

    #[test]
    fn append_then_reopen_keeps_latest_record_per_destination() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(&[rec("r/a:1", 1), rec("r/b:1", 2)]).unwrap();
        j.append(&[rec("r/a:1", 3)]).unwrap();
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.get("r/a:1"), Some(&rec("r/a:1", 3)));
        assert_eq!(j.get("r/b:1"), Some(&rec("r/b:1", 2)));
        assert_eq!(j.records().count(), 2);
    }

    #[test]
    fn torn_tail_is_dropped_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(&[rec("r/a:1", 1)]).unwrap();
        let good = fs::metadata(&p).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"key":"00","kind":"co"#).unwrap();
        drop(f);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.records().count(), 1);
        assert_eq!(fs::metadata(&p).unwrap().len(), good);
    }

    #[test]
    fn a_delete_record_drops_the_copies_it_makes_untrue() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        // Two tags of one manifest in r/a, the same manifest in r/b, another in r/a.
        j.append(&[
            rec("h:5000/r/a:1", 1),
            rec("h:5000/r/a:2", 1),
            rec("h:5000/r/b:1", 1),
            rec("h:5000/r/a:3", 2),
        ])
        .unwrap();
        let tomb = Record {
            kind: KindName::Delete,
            dest: format!("h:5000/r/a@{}", Digest::of(&[1])),
            ..rec("x", 1)
        };
        j.append(std::slice::from_ref(&tomb)).unwrap();
        for j in [j, Journal::open(&p).unwrap()] {
            let dests: Vec<&str> = j.records().map(|r| r.dest.as_str()).collect();
            assert_eq!(
                dests,
                ["h:5000/r/a:3", tomb.dest.as_str(), "h:5000/r/b:1"],
                "{dests:?}"
            );
        }
    }

    #[test]
    fn a_damaged_line_before_the_last_is_an_error_naming_it_and_nothing_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(&[rec("r/a:1", 1)]).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{garbled}\n").unwrap();
        drop(f);
        let mut j = Journal::open(&p).unwrap();
        // A garbled last line is a torn append: repaired, the records before it kept.
        assert_eq!(j.records().count(), 1);
        j.append(&[rec("r/b:1", 2)]).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"\xff\xfe not utf-8 \n").unwrap();
        drop(f);
        j.append(&[rec("r/c:1", 3)]).unwrap();
        let len = fs::metadata(&p).unwrap().len();
        match Journal::open(&p) {
            Err(JournalError::Damaged { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a damaged journal, got {other:?}"),
        }
        assert_eq!(
            fs::metadata(&p).unwrap().len(),
            len,
            "a damaged journal was truncated"
        );
    }

    #[test]
    fn compaction_keeps_only_live_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&p).unwrap();
        for n in 0..100u8 {
            j.append(&[rec("r/a:1", n)]).unwrap();
        }
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.get("r/a:1"), Some(&rec("r/a:1", 99)));
        let lines = fs::read_to_string(&p).unwrap().lines().count();
        assert_eq!(lines, 1);
    }

    #[test]
    fn a_shard_journal_reads_the_workspace_journal_and_writes_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("journal.jsonl");
        let own = dir.path().join("shards/1-of-2/journal.jsonl");
        let mut j = Journal::open(&main).unwrap();
        j.append(&[rec("r/a:1", 1), rec("r/b:1", 2)]).unwrap();
        // A torn tail in the workspace journal (its writer was killed) is skipped, not cut.
        let mut f = OpenOptions::new().append(true).open(&main).unwrap();
        f.write_all(b"{\"key\":").unwrap();
        let main_len = fs::metadata(&main).unwrap().len();

        let mut shard = Journal::open_over(&own, &main).unwrap();
        assert_eq!(shard.get("r/a:1"), Some(&rec("r/a:1", 1)));
        shard.append(&[rec("r/b:1", 3), rec("r/c:1", 4)]).unwrap();
        assert_eq!(
            shard.get("r/b:1"),
            Some(&rec("r/b:1", 3)),
            "its own record wins"
        );
        let dests: Vec<&str> = shard.records().map(|r| r.dest.as_str()).collect();
        assert_eq!(dests, ["r/a:1", "r/b:1", "r/c:1"]);
        assert_eq!(
            fs::metadata(&main).unwrap().len(),
            main_len,
            "base untouched"
        );

        let again = Journal::open_over(&own, &main).unwrap();
        let theirs: Vec<&Record> = again.own_records().collect();
        assert_eq!(theirs, [&rec("r/b:1", 3), &rec("r/c:1", 4)]);
    }
}
