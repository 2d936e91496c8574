//! Rendering a plan for people (text), for machines (JSON) and for graphs (Graphviz dot), and the
//! dry-run files `mapping.txt` (`src=dst`, as `oc image mirror -f` reads; rebuilt catalogs
//! included) and `missing.txt`.
//! Pure: returns strings; the caller writes them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use super::Plan;
use super::task::{Freshness, TaskKind};
use crate::task::Check;

/// `1.5 MiB`-style sizes (binary units, one decimal).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[derive(Default)]
struct Totals {
    run: usize,
    fresh: usize,
    bytes: u64,
}

fn totals(plan: &Plan) -> BTreeMap<&str, Totals> {
    let mut t: BTreeMap<&str, Totals> = BTreeMap::new();
    for task in &plan.tasks {
        let e = t.entry(task.target.as_str()).or_default();
        if task.freshness.is_fresh() {
            e.fresh += 1;
        } else {
            e.run += 1;
            e.bytes += task.bytes;
        }
    }
    t
}

/// Why a fresh task is fresh, in words.
fn why_fresh(kind: &TaskKind) -> &'static str {
    match kind.check() {
        Check::Registry(_) => "recorded done; destination holds it",
        Check::Record => "verified with these keys",
        Check::Local(_) => "recorded done; nothing it describes changed",
        Check::Content { .. } => "already up to date",
    }
}

/// The text form. `verbose` lists fresh tasks too (each says why it is fresh). Tasks that
/// belong to no target (the lock) come last.
pub fn text(plan: &Plan, verbose: bool) -> String {
    let mut s = String::new();
    let totals = totals(plan);
    let mut order: Vec<&&str> = totals.keys().filter(|t| !t.is_empty()).collect();
    order.extend(totals.keys().filter(|t| t.is_empty()));
    for target in order {
        let tot = &totals[*target];
        if target.is_empty() {
            let _ = writeln!(s, "build: {} to run, {} fresh", tot.run, tot.fresh);
        } else {
            let _ = writeln!(
                s,
                "target {target}: {} to run, {} fresh, {} to move",
                tot.run,
                tot.fresh,
                human_bytes(tot.bytes)
            );
        }
        for task in plan.tasks.iter().filter(|t| t.target == **target) {
            let kind = task.kind.name();
            let subject = task.kind.subject();
            // A staging layout gets manifests only: its bytes move in the pack.
            let staging = matches!(&task.kind, TaskKind::WriteLayout(l) if l.manifests_only);
            let moves = task.bytes > 0 || (task.kind.writes_image() && !staging);
            let _ = match &task.freshness {
                Freshness::Dirty(reason) if moves => writeln!(
                    s,
                    "  run    {kind} {subject} ({}; {reason})",
                    human_bytes(task.bytes)
                ),
                Freshness::Dirty(reason) => writeln!(s, "  run    {kind} {subject} ({reason})"),
                Freshness::Fresh if verbose => {
                    writeln!(s, "  fresh  {kind} {subject} ({})", why_fresh(&task.kind))
                }
                Freshness::Fresh => Ok(()),
            };
        }
    }
    if verbose {
        for c in &plan.charts {
            let _ = writeln!(
                s,
                "chart {} {} of `{}` ({}): {} image(s)",
                c.name,
                c.version,
                c.set,
                c.repository,
                c.images.len()
            );
            for (image, found) in &c.images {
                let places: Vec<&str> = found.iter().map(String::as_str).collect();
                let _ = writeln!(s, "  image {image} ({})", places.join(", "));
            }
        }
    }
    for (image, why) in &plan.missing {
        let _ = writeln!(s, "missing {image}: {why}");
    }
    let run: usize = totals.values().map(|t| t.run).sum();
    let fresh: usize = totals.values().map(|t| t.fresh).sum();
    let bytes: u64 = totals.values().map(|t| t.bytes).sum();
    let _ = writeln!(
        s,
        "plan: {run} to run, {fresh} fresh, {} to move, {} missing",
        human_bytes(bytes),
        plan.missing.len()
    );
    s
}

/// The JSON form: every task with its key, dependencies, freshness and bytes, plus totals.
pub fn json(plan: &Plan) -> String {
    let totals: BTreeMap<&str, serde_json::Value> = totals(plan)
        .into_iter()
        .map(|(k, t)| (k, json!({"run": t.run, "fresh": t.fresh, "bytes": t.bytes})))
        .collect();
    let missing: Vec<_> = plan
        .missing
        .iter()
        .map(|(i, why)| json!({"image": i.to_string(), "reason": why}))
        .collect();
    let doc = json!({
        "tasks": plan.tasks,
        "targets": totals,
        "missing": missing,
        "catalogs": kept_catalogs(plan),
        "charts": charts(plan),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// Each chart with its version, where it comes from, how it reaches registries, and the
/// images it deploys with where each was found.
fn charts(plan: &Plan) -> Vec<serde_json::Value> {
    plan.charts
        .iter()
        .map(|c| {
            let source = match &c.source {
                crate::discover::ChartSource::Oci(r) => json!({"oci": r.to_string()}),
                crate::discover::ChartSource::Packed { path, tag } => {
                    json!({"packed": format!("{path}:{tag}")})
                }
            };
            let images: BTreeMap<String, &std::collections::BTreeSet<String>> = c
                .images
                .iter()
                .map(|(i, found)| (i.to_string(), found))
                .collect();
            json!({
                "set": c.set,
                "chart": c.name,
                "version": c.version,
                "repository": c.repository,
                "archive-digest": c.archive_digest.to_string(),
                "source": source,
                "images": images,
            })
        })
        .collect()
}

/// What each catalog rebuild keeps, for reviewers: per package its default channel and the
/// bundles of each kept channel (in channel order), the bundles kept for dependencies and the
/// bundles blocked.
fn kept_catalogs(plan: &Plan) -> Vec<serde_json::Value> {
    plan.tasks
        .iter()
        .filter_map(|t| match &t.kind {
            TaskKind::PruneCatalog(p) => Some((t, p)),
            _ => None,
        })
        .map(|(t, p)| {
            let f = &p.input.0.filtered;
            let packages: BTreeMap<&str, serde_json::Value> = f
                .catalog
                .packages
                .values()
                .map(|pkg| {
                    let channels: BTreeMap<&str, Vec<&str>> = pkg
                        .channels
                        .values()
                        .map(|c| {
                            let names = c.entries.iter().map(|e| e.name.as_str()).collect();
                            (c.name.as_str(), names)
                        })
                        .collect();
                    let v = json!({"default-channel": pkg.default_channel, "channels": channels});
                    (pkg.name.as_str(), v)
                })
                .collect();
            let pulled: Vec<_> = f
                .pulled
                .iter()
                .map(|d| json!({"package": d.package, "bundle": d.bundle, "reason": d.reason}))
                .collect();
            let blocked: Vec<_> = f
                .blocked
                .iter()
                .map(|(package, bundle, image)| {
                    json!({"package": package, "bundle": bundle, "image": image})
                })
                .collect();
            json!({
                "target": t.target,
                "set": p.set,
                "dest": p.dest.to_string(),
                "packages": packages,
                "dependencies": pulled,
                "blocked": blocked,
            })
        })
        .collect()
}

/// Graphviz: one node per task (dirty ones filled), one edge per dependency (dashed: runs
/// after, whatever the outcome).
pub fn dot(plan: &Plan) -> String {
    let mut s = String::from(
        "digraph airlift {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for t in &plan.tasks {
        let style = if t.freshness.is_fresh() {
            ""
        } else {
            ", style=filled, fillcolor=\"#ffd27f\""
        };
        let _ = writeln!(s, "  \"{}\" [label=\"{}\"{style}];", t.id, t.id);
    }
    for t in &plan.tasks {
        for d in &t.deps {
            let _ = writeln!(s, "  \"{d}\" -> \"{}\";", t.id);
        }
        // Runs after, whatever the outcome.
        for d in &t.after {
            let _ = writeln!(s, "  \"{d}\" -> \"{}\" [style=dashed];", t.id);
        }
    }
    s.push_str("}\n");
    s
}

/// `mapping.txt` for one target, sorted: `source@digest=destination` per copy, where the digest
/// is the one the copy reads. A rebuilt catalog gets a line too: the source catalog pinned to
/// the digest discovery read, `=` the destination tag. That destination receives a filtered
/// rebuild of the source, whose digest differs; the line says where the catalog comes from and
/// goes, not that the bytes are equal. A copy of a catalog rebuilt for another target in this
/// run reads the upstream destination tag (the digest is known only once the rebuild is pushed),
/// so its line names that tag without a digest.
pub fn mapping(plan: &Plan, target: &str) -> String {
    let mut lines: Vec<String> = plan
        .tasks
        .iter()
        .filter(|t| t.target == target)
        .filter_map(|t| match &t.kind {
            TaskKind::Copy(c) => Some(match c.from.digest() {
                Some(d) => format!("{}@{d}={}", c.from.repository(), c.dest),
                None => format!("{}={}", c.from, c.dest),
            }),
            TaskKind::PruneCatalog(p) => {
                Some(format!("{}@{}={}", p.from.repository(), p.digest, p.dest))
            }
            _ => None,
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines.into_iter().map(|l| l + "\n").collect()
}

/// `missing.txt`: `image<TAB>reason` per image discovery could not resolve.
pub fn missing(plan: &Plan) -> String {
    plan.missing
        .iter()
        .map(|(i, why)| format!("{i}\t{why}\n"))
        .collect()
}

/// The plan as a picture (`plan --format html`): tasks of one kind, target and content set are
/// one node with a count (forty copies of a set are one box, not forty), other tasks a node
/// each; an edge joins two nodes when a task of one waits for a task of the other (dashed:
/// runs after it whatever its outcome).
pub fn graph(plan: &Plan, title: &str) -> crate::html::GraphView {
    use crate::html::{GraphEdge, GraphNode, GraphView};
    /// Members listed in a node's tooltip.
    const LISTED: usize = 12;
    let key_of = |t: &super::Task| {
        let set = plan.set_of(t).unwrap_or("").to_string();
        (t.target.clone(), t.kind.name(), set)
    };
    let mut index: BTreeMap<(String, &str, String), usize> = BTreeMap::new();
    let mut members: Vec<Vec<&super::Task>> = Vec::new();
    let mut node_of: BTreeMap<&super::TaskId, usize> = BTreeMap::new();
    for t in &plan.tasks {
        let key = key_of(t);
        let n = *index.entry(key).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[n].push(t);
        node_of.insert(&t.id, n);
    }
    let nodes = members
        .iter()
        .map(|m| {
            let first = m[0];
            let fresh = m.iter().filter(|t| t.freshness.is_fresh()).count();
            let set = plan.set_of(first);
            let label = if m.len() == 1 {
                first.kind.name().to_string()
            } else {
                format!("{} ×{}", first.kind.name(), m.len())
            };
            let mut detail: Vec<String> = m.iter().take(LISTED).map(|t| t.id.to_string()).collect();
            if m.len() > LISTED {
                detail.push(format!("… and {} more", m.len() - LISTED));
            }
            GraphNode {
                label,
                detail: detail.join("\n"),
                group: {
                    // The lock is the build's, not a target's.
                    let target = if first.target.is_empty() {
                        "build"
                    } else {
                        first.target.as_str()
                    };
                    match set {
                        Some(s) => format!("{target} · {s}"),
                        None => target.to_string(),
                    }
                },
                fresh,
                dirty: m.len() - fresh,
            }
        })
        .collect();
    let mut edges: BTreeMap<(usize, usize), bool> = BTreeMap::new();
    for t in &plan.tasks {
        let to = node_of[&t.id];
        let hard = t.deps.iter().map(|d| (d, false));
        let after = t.after.iter().map(|d| (d, true));
        for (d, dashed) in hard.chain(after) {
            if let Some(&from) = node_of.get(d)
                && from != to
            {
                // A hard dependency between two nodes wins over a dashed one.
                let e = edges.entry((from, to)).or_insert(dashed);
                *e = *e && dashed;
            }
        }
    }
    GraphView {
        title: title.to_string(),
        nodes,
        edges: edges
            .into_iter()
            .map(|((from, to), dashed)| GraphEdge { from, to, dashed })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(350 * 1024 * 1024), "350.0 MiB");
    }
}
