//! Tests of the planner's catalog part: recipe → filter, kept bundles → goal items, prune
//! tasks with stable keys and journal-based freshness, copies of inherited catalogs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::catalog::{RebuildOptions, filter_catalog, parse_catalog};
use crate::discover::{CatalogImage, FetchedCatalog, PlatformImage, RawManifest};
use crate::oci::Digest;
use crate::plan::{Freshness, expand};
use crate::recipe::parse_str;
use crate::resources::Category;
use crate::state::{KindName, Record};

const RECIPE: &str = r#"
catalog "ops" "registry.example.com/redhat/index:v4.15" {
    package "alpha"
}
images "more" {
    image "registry.example.com/ops/alpha-operator@sha256:1111111111111111111111111111111111111111111111111111111111111111"
    block "^registry\\.example\\.com/ops/alpha-blocked"
}
target "mirror" "docker://mirror.example:5000/m" {
    needs "ops" "more"
}
"#;

fn image(repo: &str, n: char) -> String {
    format!(
        "registry.example.com/ops/{repo}@sha256:{}",
        n.to_string().repeat(64)
    )
}

fn catalog_image(recipe: &Recipe) -> Arc<CatalogImage> {
    let objects = [
        json!({"schema": "olm.package", "name": "alpha", "defaultChannel": "stable"}),
        json!({"schema": "olm.channel", "package": "alpha", "name": "stable",
               "entries": [{"name": "alpha.v1"}, {"name": "alpha.v2", "replaces": "alpha.v1"}]}),
        json!({"schema": "olm.bundle", "name": "alpha.v1", "package": "alpha", "image": image("alpha-bundle", '3'),
               "properties": [{"type": "olm.package", "value": {"packageName": "alpha", "version": "1.0.0"}}],
               "relatedImages": [{"name": "op", "image": image("alpha-operator", '4')}]}),
        json!({"schema": "olm.bundle", "name": "alpha.v2", "package": "alpha", "image": image("alpha-bundle", '2'),
        "properties": [{"type": "olm.package", "value": {"packageName": "alpha", "version": "2.0.0"}}],
        "relatedImages": [
            {"name": "op", "image": image("alpha-operator", '1')},
            {"name": "bundle", "image": image("alpha-bundle", '2')},
            {"name": "blocked", "image": image("alpha-blocked", '5')},
            {"name": "bad", "image": "not a reference"}
        ]}),
    ];
    let text: String = objects.iter().map(|o| o.to_string() + "\n").collect();
    let files = BTreeMap::from([(PathBuf::from("alpha/catalog.json"), text.into_bytes())]);
    let catalog = parse_catalog(&files).expect("catalog");
    let Some(crate::recipe::ContentSet::Catalog(set)) = recipe.content_set("ops") else {
        panic!("catalog set");
    };
    let filter = filter_of(set);
    let filtered = filter_catalog("ops", &catalog, &filter).expect("filter");
    let raw = RawManifest {
        digest: Digest::of(b"index"),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        bytes: b"{}".to_vec(),
    };
    Arc::new(CatalogImage {
        set: "ops".into(),
        fetched: FetchedCatalog {
            image: "registry.example.com/redhat/index:v4.15"
                .parse()
                .expect("ref"),
            digest: raw.digest.clone(),
            top: raw.clone(),
            dropped: Vec::new(),
            platforms: vec![PlatformImage {
                manifest: raw,
                config: b"{}".to_vec(),
                layers: vec![],
            }],
            rebuild: RebuildOptions::default(),
            catalog,
            layout: None,
            archive: None,
            prebuilt: false,
        },
        filter,
        filtered,
    })
}

struct Mem(BTreeMap<String, Record>);

impl RecordedState for Mem {
    fn record(&self, dest: &str) -> Option<&Record> {
        self.0.get(dest)
    }
    fn records(&self) -> Vec<&Record> {
        self.0.values().collect()
    }
}

#[test]
fn filter_json_is_canonical() {
    let a = CatalogFilter {
        full: false,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        platforms: Vec::new(),
        packages: vec![
            PackageFilter {
                name: "b".into(),
                ..PackageFilter::default()
            },
            PackageFilter {
                name: "a".into(),
                bundles: vec!["y".into(), "x".into()],
                ..PackageFilter::default()
            },
        ],
    };
    let mut b = a.clone();
    b.packages.reverse();
    b.packages[0].bundles.reverse();
    assert_eq!(filter_json(&a), filter_json(&b));
}

#[test]
fn kept_bundles_become_operator_items_once() {
    let recipe = parse_str("airlift.kdl", RECIPE).expect("recipe");
    let mut goals = expand(&recipe, &[]).expect("goals");
    assert_eq!(goals[0].catalogs.len(), 1);
    assert_eq!(goals[0].items.len(), 1, "only the images set so far");
    let mut d = Discovery::default();
    d.catalogs.insert("ops".into(), catalog_image(&recipe));
    let blocks: Vec<_> = recipe.block_patterns().cloned().collect();
    let (expanded, invalid) = crate::plan::expand_items(&goals, &d, &blocks);
    goals = expanded;
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].image, "not a reference");
    let added: Vec<String> = goals[0].items[1..]
        .iter()
        .map(|i| {
            assert_eq!(i.category, Category::Operator);
            assert_eq!(i.set, "ops");
            i.origin.to_string()
        })
        .collect();
    // alpha.v2 only (head of the default channel); the operator image is already in `more`;
    // the blocked image is left out.
    assert_eq!(added, vec![image("alpha-bundle", '2')]);
}

#[test]
fn prune_task_key_and_freshness() {
    let recipe = parse_str("airlift.kdl", RECIPE).expect("recipe");
    let goals = expand(&recipe, &[]).expect("goals");
    let mut d = Discovery::default();
    let found = catalog_image(&recipe);
    d.catalogs.insert("ops".into(), found.clone());
    let opts = PlanOptions::default();
    let (tasks, missing) = catalog_tasks(&goals, &[], &d, &Mem(BTreeMap::new()), &opts);
    assert!(missing.is_empty());
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    let TaskKind::PruneCatalog(p) = &t.kind else {
        panic!("prune task expected")
    };
    assert_eq!(
        p.dest.to_string(),
        "mirror.example:5000/m/redhat/index:v4.15"
    );
    assert_eq!(p.bundles, 1);
    assert!(!t.freshness.is_fresh());

    let rebuilt = Digest::of(b"rebuilt");
    let rec = Record {
        key: t.key.to_string(),
        kind: KindName::PruneCatalog,
        dest: p.dest.to_string(),
        source_digest: found.fetched.digest.clone(),
        output_digest: rebuilt.clone(),
    };
    let state = Mem(BTreeMap::from([(rec.dest.clone(), rec)]));
    d.dest.insert(p.dest.to_string(), Some(rebuilt));
    let (again, _) = catalog_tasks(&goals, &[], &d, &state, &opts);
    assert_eq!(again[0].key, t.key, "same inputs, same key");
    assert_eq!(again[0].freshness, Freshness::Fresh);

    d.dest.insert(p.dest.to_string(), None);
    let (gone, _) = catalog_tasks(&goals, &[], &d, &state, &opts);
    assert!(
        !gone[0].freshness.is_fresh(),
        "destination lost the catalog"
    );
}

#[test]
fn oci_layout_catalogs_are_named_after_their_directory() {
    let recipe = parse_str(
        "airlift.kdl",
        "catalog \"local\" \"oci:///srv/My-Catalog\" { full #true }\ntarget \"m\" \"docker://r.example/m\" { needs \"local\" }\n",
    )
    .expect("recipe");
    let goals = expand(&recipe, &[]).expect("goals");
    let c = &goals[0].catalogs[0];
    assert_eq!(c.layout, Some(PathBuf::from("/srv/My-Catalog")));
    assert_eq!(c.source.to_string(), "oci.invalid/my-catalog:latest");
    assert_eq!(
        c.dest(&goals[0].dest).map(|d| d.to_string()).ok(),
        Some("r.example/m/my-catalog:latest".to_string())
    );
}

const CHAIN: &str = r#"
catalog "ops" "registry.example.com/redhat/index:v4.15" {
    package "alpha"
}
target "enterprise" "docker://mirror.example:5000/m" {
    needs "ops"
}
target "enclave" "docker://enclave.example:5000/e" {
    needs "enterprise"
}
"#;

#[test]
fn inherited_catalog_is_copied_from_the_upstream_rebuild() {
    let recipe = parse_str("airlift.kdl", CHAIN).expect("recipe");
    let mut goals = expand(&recipe, &[]).expect("goals");
    assert_eq!(goals[1].catalogs[0].via.as_deref(), Some("enterprise"));
    let mut d = Discovery::default();
    let found = catalog_image(&recipe);
    d.catalogs.insert("ops".into(), found.clone());
    goals = crate::plan::expand_items(&goals, &d, &[]).0;
    assert!(
        goals[1]
            .items
            .iter()
            .all(|i| i.via.as_deref() == Some("enterprise")),
        "the enclave takes bundle and related images from the enterprise mirror"
    );
    let opts = PlanOptions::default();
    let (tasks, missing) = catalog_tasks(&goals, &[], &d, &Mem(BTreeMap::new()), &opts);
    assert!(missing.is_empty(), "{missing:?}");
    assert_eq!(tasks.len(), 2);
    let (prune, copy) = (&tasks[0], &tasks[1]);
    assert!(matches!(prune.kind, TaskKind::PruneCatalog(_)));
    let TaskKind::Copy(c) = &copy.kind else {
        panic!("copy of the rebuilt catalog expected")
    };
    assert_eq!(
        c.from.to_string(),
        "mirror.example:5000/m/redhat/index:v4.15",
        "unpinned: the scheduler pins it to what the prune task pushes"
    );
    assert_eq!(
        c.dest.to_string(),
        "enclave.example:5000/e/redhat/index:v4.15"
    );
    assert_eq!(c.digest, found.fetched.digest);
    assert_eq!(copy.deps, vec![prune.id.clone()]);

    // Once the upstream rebuild is recorded and present, the copy reads it by digest.
    let rebuilt = Digest::of(b"rebuilt");
    let rec = Record {
        key: prune.key.to_string(),
        kind: KindName::PruneCatalog,
        dest: "mirror.example:5000/m/redhat/index:v4.15".into(),
        source_digest: found.fetched.digest.clone(),
        output_digest: rebuilt.clone(),
    };
    d.dest.insert(rec.dest.clone(), Some(rebuilt.clone()));
    let state = Mem(BTreeMap::from([(rec.dest.clone(), rec)]));
    let (again, _) = catalog_tasks(&goals, &[], &d, &state, &opts);
    assert!(again[0].freshness.is_fresh());
    let TaskKind::Copy(c) = &again[1].kind else {
        panic!("copy expected")
    };
    assert_eq!(c.from.digest(), Some(&rebuilt));
    assert_eq!(again[1].key, copy.key, "same upstream rebuild, same key");

    // Another filter upstream changes the copy's key too.
    let mut other = (*found).clone();
    other.filter.full = true;
    d.catalogs.insert("ops".into(), Arc::new(other));
    let (changed, _) = catalog_tasks(&goals, &[], &d, &state, &opts);
    assert_ne!(changed[1].key, copy.key);
}

/// The complete plan of a catalog recipe, as `airlift plan -v` prints it: the copies of what
/// the filtered catalog lists, the catalog rebuild after them, the target's cluster resources
/// after everything, and the lock. Blocked and invalid images are left out.
#[test]
fn complete_plan_of_a_catalog_recipe() {
    let recipe = parse_str("airlift.kdl", RECIPE).expect("recipe");
    let goals = expand(&recipe, &[]).expect("goals");
    let mut d = Discovery::default();
    d.catalogs.insert("ops".into(), catalog_image(&recipe));
    let (expanded, _) = crate::plan::expand_items(&goals, &d, &[]);
    for item in expanded.iter().flat_map(|g| &g.items) {
        let digest = item.origin.digest().cloned().expect("pinned");
        d.images.insert(
            item.origin.clone(),
            crate::discover::ResolvedImage {
                blobs: BTreeMap::from([(digest.clone(), 1 << 20)]),
                digest,
                media_type: crate::oci::MediaType::OciManifest,
                manifests: 1,
            },
        );
    }
    let opts = PlanOptions {
        outputs: Some(crate::plan::Outputs {
            workspace: crate::state::Workspace::for_recipe(std::path::Path::new("/ws/r.kdl"), None),
            lock: Default::default(),
            lock_path: Some(PathBuf::from("/ws/airlift.lock")),
            insecure_mirrors: false,
            source_date_epoch: None,
            split_blobs: false,
            since: None,
        }),
        ..PlanOptions::default()
    };
    let plan = crate::plan::build(&recipe, &goals, &d, &Mem(BTreeMap::new()), &opts);
    let prune = plan
        .tasks
        .iter()
        .find(|t| t.kind.name() == "prune-catalog")
        .expect("prune");
    assert_eq!(
        prune.deps.len(),
        2,
        "the kept bundle and its operator image"
    );
    let render = plan
        .tasks
        .iter()
        .find(|t| t.kind.name() == "render-resources");
    assert!(render.is_some_and(|r| r.after.contains(&prune.id)));
    insta::with_settings!({snapshot_path => "../../snapshots/plan", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("catalog_recipe", crate::plan::explain::text(&plan, true));
    });
}
