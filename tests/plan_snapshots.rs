//! `airlift plan` output for every example recipe, from a recorded (synthetic, deterministic)
//! discovery: the planner is pure, so recipe + discovery + state fully determine the plan.
//! Release sets are discovered the way `airlift plan` does it offline: versions selected from
//! recorded update-graph responses (`tests/fixtures/release/graphs`) and components from
//! recorded payload reads (`tests/fixtures/release/payloads`, the payload cache's format).
//! Trust blocks get recorded key bytes (no key file is read) and `graph #true` a recorded
//! graph-data input, so the plan shows every task `build` runs: verifications, copies,
//! payload ordering, the graph-data image, each target's resources and the lock write.
//! Recipes that carry content this version cannot plan yet snapshot that refusal instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use std::path::PathBuf;

use airlift::discover::{
    self, DiscoveredRelease, Discovery, GraphInput, ReleaseTrust, ResolvedImage,
};
use airlift::oci::{Digest, MediaType};
use airlift::plan::{self, Outputs, Plan, PlanOptions, explain};
use airlift::recipe::{ContentSet, Recipe};
use airlift::release::{GraphCache, GraphSource};
use airlift::state::{KindName, Record, Workspace};
use airlift::task::{CosignKeyRef, KeyFile, Loaded};
use airlift::trust::CosignKey;

type Mem = BTreeMap<String, Record>;

/// A P-256 public key (its private half was thrown away): what a `cosign-key` file holds.
const COSIGN_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVDIhdVbwhymIgGKJrk1bFoC6Fhoc
zZK+P5TbyE+0za7MvP07innu6PNKFfJmeQ0GlK2zfTCuZhW6tt3IY8vzCA==
-----END PUBLIC KEY-----
";

/// Every origin of the expanded goals resolves to a digest derived from its name, with one
/// base layer shared by all images and one layer of its own. Trust blocks get recorded keys,
/// and a `graph #true` set a recorded graph-data input on `scratch`.
fn recorded_discovery(recipe: &Recipe, goals: &[plan::TargetGoal], d: &mut Discovery) {
    let base = Digest::of(b"shared base layer");
    let (expanded, _) = plan::expand_items(goals, d, &[]);
    for item in expanded.iter().flat_map(|g| g.items.iter()) {
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
    let sets: std::collections::BTreeSet<&str> = goals
        .iter()
        .flat_map(|g| {
            g.items
                .iter()
                .map(|i| i.set.as_str())
                .chain(g.releases.iter().map(|r| r.set.as_str()))
        })
        .collect();
    for set in sets {
        let mut trusts: Vec<_> = recipe.trusts_for(set).collect();
        trusts.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        let keyrings: Vec<KeyFile> = trusts
            .iter()
            .filter_map(|t| t.gpg_keyring.as_ref())
            .map(|k| KeyFile::new(k.value.clone(), b"recorded keyring".to_vec()))
            .collect();
        if !keyrings.is_empty() {
            d.release_trust.insert(
                set.to_string(),
                ReleaseTrust {
                    keyrings,
                    store: None,
                    signatures_dir: PathBuf::from("/ws/.airlift/signatures"),
                },
            );
        }
        let keys: Vec<CosignKeyRef> = trusts
            .iter()
            .filter_map(|t| t.cosign_key.as_ref().map(|k| (t, k)))
            .map(|(t, k)| CosignKeyRef {
                trust: t.name.value.clone(),
                path: k.value.clone(),
                digest: Digest::of(COSIGN_KEY.as_bytes()),
                key: Loaded::new(CosignKey::from_pem(&k.value, COSIGN_KEY).expect("key")),
            })
            .collect();
        if !keys.is_empty() && !matches!(recipe.content_set(set), Some(ContentSet::Release(_))) {
            d.cosign.insert(set.to_string(), keys);
        }
    }
    if let Some(set) = goals.iter().find_map(|g| plan::graph_set(recipe, g)) {
        d.graph = Some(Ok(GraphInput {
            set: set.to_string(),
            tarball: PathBuf::from("/ws/.airlift/cache/graph-data/graph-data.tar.gz"),
            tarball_digest: Digest::of(b"recorded graph data"),
            base: None,
            base_source: None,
            base_archive: None,
            arch: "amd64".to_string(),
        }));
    }
}

/// Records the first copy of every target as done and visible at its destination.
fn record_first_tasks(plan: &Plan, d: &mut Discovery) -> Mem {
    let mut state = Mem::default();
    let mut seen = std::collections::BTreeSet::new();
    for t in &plan.tasks {
        let Some(c) = t.kind.as_copy() else { continue };
        if !seen.insert(t.target.clone()) {
            continue;
        }
        state.insert(
            c.dest.to_string(),
            Record {
                key: t.key.to_string(),
                kind: KindName::Copy,
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
    goals: &[plan::TargetGoal],
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
    Ok(releases)
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
    let mut s = String::new();
    let releases = recorded_releases(&recipe, &goals);
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
    let mut d = Discovery {
        releases: releases.unwrap_or_default(),
        ..Discovery::default()
    };
    recorded_discovery(&recipe, &goals, &mut d);
    let (expanded, _) = plan::expand_items(&goals, &d, &[]);
    let lock = airlift::pipeline::merged_lock(None, &expanded, &d);
    let opts = PlanOptions {
        trust_state: false,
        signatures: true,
        outputs: Some(Outputs {
            workspace: Workspace::for_recipe(Path::new("/ws/airlift.kdl"), None),
            lock: lock.into(),
            lock_path: Some(PathBuf::from("/ws/airlift.lock")),
            insecure_mirrors: false,
            source_date_epoch: None,
            split_blobs: false,
            since: None,
        }),
    };
    let first = plan::build(&recipe, &goals, &d, &Mem::default(), &opts);
    let mut ids: Vec<_> = first.tasks.iter().map(|t| &t.id).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "task ids are unique: the scheduler finds tasks by id"
    );
    let state = record_first_tasks(&first, &mut d);
    let second = plan::build(&recipe, &goals, &d, &state, &opts);
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
    s.push_str("== after the first copy of each target was recorded\n");
    s.push_str(&explain::text(&second, true));
    s
}

#[test]
fn plan_of_every_example_recipe() {
    insta::glob!("../recipes", "*.kdl", |path| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/plan"));
        settings.set_prepend_module_to_snapshot(false);
        // Archive directories and fixtures are absolute paths below the checkout.
        settings.add_filter(&regex::escape(env!("CARGO_MANIFEST_DIR")), "[REPO]");
        settings.bind(|| insta::assert_snapshot!(render(path)));
    });
}
