//! `airlift plan` output for every example recipe, from a recorded (synthetic, deterministic)
//! discovery: the planner is pure, so recipe + discovery + state fully determine the plan.
//! Recipes that carry content this version cannot plan yet snapshot that refusal instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use airlift::discover::{Discovery, ResolvedImage};
use airlift::oci::{Digest, MediaType};
use airlift::plan::{self, Plan, PlanOptions, explain};
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

fn render(path: &Path) -> String {
    let recipe = match airlift::recipe::load(path) {
        Ok(r) => r,
        Err(e) => return format!("recipe error: {}", e.render_plain(100)),
    };
    let goals = match plan::expand(&recipe, &[]) {
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
    let mut d = recorded_discovery(&goals);
    let first = plan::build(&goals, &d, &Mem::default(), &opts);
    let state = record_first_tasks(&first, &mut d);
    let second = plan::build(&goals, &d, &state, &opts);
    let mut s = String::new();
    for g in &goals {
        for c in &g.catalogs {
            let _ = writeln!(
                s,
                "(target `{}` also carries catalog set `{}`: its bundles come from reading the catalog image, which this recorded discovery leaves out; see tests/build_catalog.rs)",
                g.name, c.set
            );
        }
        for r in &g.releases {
            let _ = writeln!(
                s,
                "(target `{}` also carries release set `{}`: its items come from the update graph, which this recorded discovery leaves out; see tests/build_release.rs)",
                g.name, r.set
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
