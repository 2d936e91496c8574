//! `airlift build --timings`: the run's timings page and its data, written to
//! `<workspace>/out/<target>/timings/airlift-timings-<UTC time>.html` and `.json` for each
//! target the command named (all built targets when none), plus `airlift-timings.html` and
//! `airlift-timings.json` beside them: copies of the latest, at a name that does not change.

use std::path::PathBuf;

use super::{Options, Prepared};
use crate::exec::ExecOutcome;
use crate::exit::Failure;
use crate::state::write_atomic;

/// `2026-11-30T04:11:24Z` → `20261130T041124Z`.
fn stamp(started: &str) -> String {
    started
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect()
}

/// Collects the run's timings and writes the page and the JSON for each target the command
/// `named` (every built target when none); returns the stable page paths.
pub fn write(
    options: &Options,
    prepared: &Prepared,
    outcome: &ExecOutcome,
    named: &[String],
) -> Result<Vec<PathBuf>, Failure> {
    let mut targets: Vec<String> = named.to_vec();
    if targets.is_empty() {
        for t in &prepared.plan.tasks {
            if !t.target.is_empty() && !targets.contains(&t.target) {
                targets.push(t.target.clone());
            }
        }
    }
    let sides = prepared.session.sides(options)?;
    let clients = [("source", &sides.source), ("destination", &sides.dest)];
    let t = crate::exec::timings::collect(&prepared.plan, outcome, &clients, &targets);
    let html = crate::html::timings_page(&t);
    let mut json = serde_json::to_string_pretty(&t).map_err(Failure::io)?;
    json.push('\n');
    let stamp = stamp(&t.started);
    let mut written = Vec::new();
    for target in &targets {
        let dir = prepared.session.workspace.out_dir(target).join("timings");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::io(format!("cannot create {}: {e}", dir.display())))?;
        for (name, bytes) in [
            (format!("airlift-timings-{stamp}.html"), html.as_bytes()),
            (format!("airlift-timings-{stamp}.json"), json.as_bytes()),
            ("airlift-timings.html".to_string(), html.as_bytes()),
            ("airlift-timings.json".to_string(), json.as_bytes()),
        ] {
            let path = dir.join(name);
            write_atomic(&path, bytes)
                .map_err(|e| Failure::io(format!("cannot write {}: {e}", path.display())))?;
        }
        written.push(dir.join("airlift-timings.html"));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_carry_a_compact_utc_time() {
        assert_eq!(super::stamp("2026-11-30T04:11:24Z"), "20261130T041124Z");
    }
}
