//! `airlift plan` output for every example recipe, from a recorded (synthetic, deterministic)
//! discovery: the planner is pure, so recipe + discovery + state fully determine the plan.
//! Release sets are discovered the way `airlift plan` does it offline: versions selected from
//! recorded update-graph responses (`tests/fixtures/release/graphs`) and components from
//! recorded payload reads (`tests/fixtures/release/payloads`, the payload cache's format).
//! Recipes that carry content this version cannot plan yet snapshot that refusal instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use airlift::discover::{self, DiscoveredRelease, Discovery, ResolvedImage};
use airlift::oci::{Digest, MediaType};
use airlift::plan::{self, Plan, PlanOptions, explain};
use airlift::recipe::{ContentSet, Recipe};
use airlift::release::{GraphCache, GraphSource};
use airlift::state::Record;

type Mem = BTreeMap<String, Record>;

/// Every origin resolves to a digest derived from its name, with one base layer shared by all
/// images and one layer of its own.
fn recorded_discovery(goals: &[plan::TargetGoal]) -> Discovery {
    let mut d = Discovery::default();
    let base = Digest::of(b"shared base layer");
    for item in goals.iter().flat_map(|g| g.items.iter()) {
        let name = item.origin.to_string();
        let digest = item
            .origin
            .digest()
            .cloned()
            .unwrap_or_else(|| Digest::of(name.as_bytes()));
        let mut blobs = BTreeMap::new();
        blobs.insert(base.clone(), 30 << 20);
        blobs.insert(
            Digest::of(format!("{name} layer").as_bytes()),
            (name.len() as u64) << 20,
        );
        d.images.insert(
            item.origin.clone(),
            ResolvedImage {
                digest,
                media_type: MediaType::OciManifest,
                blobs,
                manifests: 1,
            },
        );
    }
    d
}

/// Records the first task of every target as done and visible at its destination.
fn record_first_tasks(plan: &Plan, d: &mut Discovery) -> Mem {
    let mut state = Mem::default();
    let mut seen = std::collections::BTreeSet::new();
    for t in &plan.tasks {
        if !seen.insert(t.target.clone()) {
            continue;
        }
        let Some(c) = t.kind.as_copy() else { continue };
        state.insert(
            c.dest.to_string(),
            Record {
                key: t.key.to_string(),
                kind: "copy".into(),
                dest: c.dest.to_string(),
                source_digest: c.digest.clone(),
                output_digest: c.digest.clone(),
            },
        );
        d.dest.insert(c.dest.to_string(), Some(c.digest.clone()));
        let blobs = d.images[&c.origin].blobs.keys().cloned().collect();
        d.known_blobs.insert(c.digest.clone(), blobs);
    }
    state
}

/// The releases of the goals' release sets from the recorded graphs and payload reads, added
/// to the goals; `Err` (why) when the recordings do not cover a set.
fn recorded_releases(
    recipe: &Recipe,
    goals: &mut [plan::TargetGoal],
) -> Result<Vec<DiscoveredRelease>, String> {
    let sets: std::collections::BTreeSet<String> = goals
        .iter()
        .flat_map(|g| g.releases.iter().map(|r| r.set.clone()))
        .collect();
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let sets: Vec<String> = sets.into_iter().collect();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release");
    let cache = GraphCache::new(fixtures.join("graphs"));
    let selections = discover::select_releases(recipe, &sets, &GraphSource::Offline, &cache)
        .map_err(|e| e.to_string())?;
    let kubevirt = |s: &str| matches!(recipe.content_set(s), Some(ContentSet::Release(r)) if r.kubevirt_container);
    let releases =
        discover::stored_releases(&selections, &fixtures.join("payloads"), None, kubevirt)
            .map_err(|e| e.to_string())?;
    plan::add_release_items(goals, &releases);
    Ok(releases)
}

fn render(path: &Path) -> String {
    let recipe = match airlift::recipe::load(path) {
        Ok(r) => r,
        Err(e) => return format!("recipe error: {}", e.render_plain(100)),
    };
    let mut goals = match plan::expand(&recipe, &[]) {
        Ok(g) => g,
        Err(unsupported) => {
            let mut s = String::from("not plannable yet:\n");
            for u in unsupported {
                let _ = writeln!(s, "  target `{}` needs {}", u.target, u.what);
            }
            return s;
        }
    };
    let opts = PlanOptions {
        trust_state: false,
        signatures: true,
    };
    let mut s = String::new();
    let releases = recorded_releases(&recipe, &mut goals);
    match &releases {
        Ok(rs) => {
            for r in rs {
                let _ = writeln!(
                    s,
                    "(release `{}` {} {}: {} components recorded from {})",
                    r.set,
                    r.version,
                    r.arch,
                    r.components.len(),
                    r.payload
                );
            }
        }
        Err(why) => {
            for g in &goals {
                for r in &g.releases {
                    let _ = writeln!(
                        s,
                        "(target `{}` also carries release set `{}`: the recorded update graphs and payloads do not cover it ({why}); see tests/build_release.rs)",
                        g.name, r.set
                    );
                }
            }
        }
    }
    let mut d = recorded_discovery(&goals);
    d.releases = releases.unwrap_or_default();
    let mut first = plan::build(&goals, &d, &Mem::default(), &opts);
    plan::payload_after_components(&mut first, &goals);
    let state = record_first_tasks(&first, &mut d);
    let mut second = plan::build(&goals, &d, &state, &opts);
    plan::payload_after_components(&mut second, &goals);
    for g in &goals {
        for c in &g.catalogs {
            let _ = writeln!(
                s,
                "(target `{}` also carries catalog set `{}`: its bundles come from reading the catalog image, which this recorded discovery leaves out; see tests/build_catalog.rs)",
                g.name, c.set
            );
        }
    }
    s.push_str("== first build (empty state)\n");
    s.push_str(&explain::text(&first, true));
    for g in &goals {
        let _ = write!(
            s,
            "== mapping.txt for {}\n{}",
            g.name,
            explain::mapping(&first, &g.name)
        );
    }
    s.push_str("== after the first task of each target was recorded\n");
    s.push_str(&explain::text(&second, true));
    s
}

#[test]
fn plan_of_every_example_recipe() {
    insta::glob!("../recipes", "*.kdl", |path| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/plan"));
        settings.set_prepend_module_to_snapshot(false);
        settings.bind(|| insta::assert_snapshot!(render(path)));
    });
}
