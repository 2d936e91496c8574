//! The workspace side of a sharded build (`build --shard K/N`, then `build --shards-done N`).
//!
//! Shard K of N keeps its journal, its lock and, once it has finished without a failure, its
//! `done` mark in `<workspace>/shards/K-of-N/`; it reads the workspace journal and never writes
//! it. `--shards-done N` refuses to start before every shard's mark is there, appends every
//! shard's records to the workspace journal, and then builds as usual: what the shards copied
//! is fresh after its manifest HEAD (the verification), and what only one process may do —
//! archives, catalog rebuilds, the graph-data image, cluster resources, the lock — runs then.
//! The shard directories are removed when that build succeeds, so the next sharded build
//! starts clean; until then a rerun merges them again (records are idempotent).

use std::path::PathBuf;

use super::Session;
use crate::exit::{Exit, Failure};
use crate::plan::Shard;
use crate::state::Journal;

/// The mark of a shard that finished.
fn done_mark(session: &Session, s: Shard) -> PathBuf {
    session.workspace.shard_dir(s.index, s.count).join("done")
}

fn shards(count: u32) -> impl Iterator<Item = Shard> {
    (1..=count).map(move |index| Shard { index, count })
}

/// Before shard `s` runs: a mark left by an earlier run of it is no longer true.
pub(super) fn start(session: &Session, s: Shard) -> Result<(), Failure> {
    match std::fs::remove_file(done_mark(session, s)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Failure::io(e)),
        _ => Ok(()),
    }
}

/// Marks shard `s` finished (every task of its share done), with the one-line summary of its
/// run.
pub(super) fn mark_done(session: &Session, s: Shard, summary: &str) -> Result<(), Failure> {
    let path = done_mark(session, s);
    crate::state::write_atomic(&path, format!("{summary}\n").as_bytes())
        .map_err(|e| Failure::io(format!("cannot write {}: {e}", path.display())))
}

/// `--shards-done N`: checks that every shard finished and appends their records to the
/// workspace journal. Returns how many records were merged.
pub(super) fn merge(session: &Session, count: u32) -> Result<usize, Failure> {
    let missing: Vec<String> = shards(count)
        .filter(|s| !done_mark(session, *s).is_file())
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = format!(
                    "run `airlift build --shard K/{count}` for each shard named (a shard that failed leaves no mark; its rerun finishes it), on this workspace or with its `shards/K-of-{count}` directory copied into {}",
                    session.workspace.root().join("shards").display()
                ),
                "{} of {count} shard(s) have not finished: {}",
                missing.len(),
                missing.join(", ")
            ),
        ));
    }
    let mut journal = session.journal()?;
    let mut merged = 0;
    for s in shards(count) {
        let theirs = Journal::open_read_only(&session.workspace.shard_journal(s.index, s.count))
            .map_err(|e| Failure::new(Exit::InvalidInput, miette::Report::new(e)))?;
        let records: Vec<_> = theirs.own_records().cloned().collect();
        merged += records.len();
        journal.append(&records).map_err(Failure::io)?;
    }
    Ok(merged)
}

/// After a successful `--shards-done N`: the shard directories are merged and done with.
pub(super) fn finish(session: &Session, count: u32) -> Result<(), Failure> {
    for s in shards(count) {
        let dir = session.workspace.shard_dir(s.index, s.count);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Failure::io(format!("cannot remove {}: {e}", dir.display())));
            }
            _ => {}
        }
    }
    Ok(())
}
