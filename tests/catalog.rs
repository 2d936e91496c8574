//! Catalog parsing, channel graphs and the filter's scenario table, on the fixture catalog.

mod catalog_fixture;

use std::collections::BTreeMap;
use std::path::PathBuf;

use airlift::catalog::{
    Catalog, CatalogFilter, ChannelFilter, ChannelGraph, EdgeRule, FilterErrors, Filtered,
    PackageFilter, parse_catalog, parse_version,
};
use serde_json::json;

pub fn snapshot<R>(f: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/catalog"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(f)
}

fn render(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, diagnostic)
        .unwrap();
    out
}

fn small() -> Catalog {
    parse_catalog(&catalog_fixture::small_catalog()).unwrap()
}

fn v(s: &str) -> Option<semver::Version> {
    Some(parse_version(s).unwrap())
}

fn pkg(name: &str) -> PackageFilter {
    PackageFilter {
        name: name.to_string(),
        ..PackageFilter::default()
    }
}

fn chan(name: &str, min: Option<&str>, max: Option<&str>) -> ChannelFilter {
    ChannelFilter {
        name: name.to_string(),
        min: min.and_then(v),
        max: max.and_then(v),
    }
}

fn run(filter: CatalogFilter) -> Result<Filtered, FilterErrors> {
    airlift::catalog::filter_catalog("redhat", &small(), &filter)
}

fn kept(filter: CatalogFilter) -> Vec<String> {
    run(filter)
        .unwrap()
        .kept
        .into_iter()
        .map(|b| b.name)
        .collect()
}

fn only(packages: Vec<PackageFilter>) -> CatalogFilter {
    CatalogFilter {
        full: false,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        platforms: Vec::new(),
        packages,
    }
}

fn channels_of(f: &Filtered, package: &str) -> BTreeMap<String, Vec<String>> {
    f.catalog.packages[package]
        .channels
        .iter()
        .map(|(n, c)| {
            (
                n.clone(),
                c.entries.iter().map(|e| e.name.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn parses_json_streams_yaml_documents_and_unknown_schemas() {
    let c = small();
    assert_eq!(
        c.packages.keys().collect::<Vec<_>>(),
        [
            "alpha-operator",
            "beta-operator",
            "delta-operator",
            "gamma-operator"
        ]
    );
    assert_eq!(c.bundle_count(), 16);
    let alpha = &c.packages["alpha-operator"];
    assert_eq!(alpha.default_channel.as_deref(), Some("stable"));
    assert_eq!(alpha.channels.len(), 3);
    let entry = alpha.channels["stable"]
        .entry("alpha-operator.v1.2.0")
        .unwrap();
    assert_eq!(entry.replaces.as_deref(), Some("alpha-operator.v1.1.0"));
    assert_eq!(entry.skips, ["alpha-operator.v1.1.1"]);
    let b = &alpha.bundles["alpha-operator.v2.0.0"];
    assert_eq!(b.version.as_deref(), Some("2.0.0"));
    assert_eq!(b.related_images.len(), 3);
    assert!(
        b.image
            .starts_with("registry.example.com/alpha-operator/bundle@sha256:")
    );
    assert_eq!(alpha.others.len(), 1);
    assert_eq!(
        alpha.others[0],
        json!({"schema": "example.com/custom", "package": "alpha-operator", "name": "notes", "data": {"z": 1, "a": [true, null]}})
    );
    assert_eq!(c.packages["beta-operator"].bundles.len(), 6);
    assert_eq!(c.packages["gamma-operator"].deprecations.len(), 1);
    assert_eq!(
        c.unowned,
        [json!({"schema": "airlift.test/note", "text": "no package"})]
    );
}

#[test]
fn write_then_parse_is_identity_and_keeps_unknown_fields() {
    let c = small();
    let files: BTreeMap<PathBuf, Vec<u8>> = c
        .to_files()
        .into_iter()
        .map(|(k, v)| (PathBuf::from(k), v))
        .collect();
    let again = parse_catalog(&files).unwrap();
    assert_eq!(again, c);
    assert_eq!(again.to_files(), c.to_files());
    let b = &again.packages["alpha-operator"].bundles["alpha-operator.v2.1.0"];
    assert_eq!(b.raw["x-unknown-field"], json!("carried"));
    let stable = &again.packages["alpha-operator"].channels["stable"];
    assert_eq!(stable.raw["entries"][3]["x-extra"], json!({"kept": true}));
}

#[test]
fn parse_errors_name_file_and_object() {
    let cases: Vec<(&str, &str, &[u8])> = vec![
        ("syntax", "broken/catalog.json", b"{\"schema\": \"olm.package\", \"name\": \"a\"}\n{\"schema\": "),
        ("missing_field", "p/catalog.json", b"{\"schema\": \"olm.package\", \"name\": \"p\"}\n{\"schema\": \"olm.bundle\", \"package\": \"p\"}"),
        ("bad_entries", "p/catalog.yaml", b"schema: olm.package\nname: p\n---\nschema: olm.channel\npackage: p\nname: stable\nentries:\n  - replaces: x\n"),
        ("duplicate", "p/catalog.json", b"{\"schema\": \"olm.package\", \"name\": \"p\"}\n{\"schema\": \"olm.package\", \"name\": \"p\"}"),
        ("orphan", "q/catalog.json", b"{\"schema\": \"olm.channel\", \"package\": \"q\", \"name\": \"stable\"}"),
        ("no_schema", "p/catalog.json", b"{\"name\": \"p\"}"),
    ];
    snapshot(|| {
        for (name, path, bytes) in cases {
            let files = BTreeMap::from([(PathBuf::from(path), bytes.to_vec())]);
            let err = parse_catalog(&files).unwrap_err();
            insta::assert_snapshot!(format!("parse_error_{name}"), render(&err));
        }
    });
}

#[test]
fn channel_heads_follow_replaces_skips_and_skip_range() {
    let c = small();
    let alpha = &c.packages["alpha-operator"];
    let g = ChannelGraph::build(alpha, &alpha.channels["stable"]).unwrap();
    assert_eq!(g.names[g.head().unwrap()], "alpha-operator.v2.0.0");
    let delta = &c.packages["delta-operator"];
    let g = ChannelGraph::build(delta, &delta.channels["stable"]).unwrap();
    assert_eq!(g.names[g.head().unwrap()], "delta-operator.v3.1.0");
    assert_eq!(g.heads(EdgeRule::All, &|_| true).len(), 1);
    assert_eq!(g.heads(EdgeRule::Opm, &|_| true).len(), 2);
}

#[test]
fn missing_bundle_object_is_a_clear_error() {
    let mut c = small();
    let alpha = c.packages.get_mut("alpha-operator").unwrap();
    alpha.bundles.remove("alpha-operator.v1.1.0");
    let err = ChannelGraph::build(alpha, &alpha.channels["stable"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "package `alpha-operator` channel `stable`: entry `alpha-operator.v1.1.0` has no olm.bundle object"
    );
}

#[test]
fn scenario_01_catalog_only_keeps_default_channel_heads() {
    let f = run(CatalogFilter::default()).unwrap();
    let names: Vec<&str> = f.kept.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "alpha-operator.v2.0.0",
            "beta-operator.v1.3.0",
            "delta-operator.v3.1.0",
            "gamma-operator.v1.0.0"
        ]
    );
    assert_eq!(
        channels_of(&f, "alpha-operator"),
        BTreeMap::from([(
            "stable".to_string(),
            vec!["alpha-operator.v2.0.0".to_string()]
        )])
    );
    assert_eq!(f.catalog.unowned.len(), 1);
    assert_eq!(f.catalog.packages["alpha-operator"].others.len(), 1);
    let dep = &f.catalog.packages["gamma-operator"].deprecations;
    assert_eq!(
        dep[0]["entries"],
        json!([{"reference": {"schema": "olm.package"}, "message": "gamma is deprecated"}])
    );
}

#[test]
fn scenario_02_full_keeps_everything() {
    let f = run(CatalogFilter {
        full: true,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        platforms: Vec::new(),
        packages: vec![],
    })
    .unwrap();
    assert_eq!(f.kept.len(), 16);
    assert_eq!(f.catalog, small());
}

#[test]
fn scenario_03_package_keeps_default_channel_head() {
    let f = run(only(vec![pkg("alpha-operator")])).unwrap();
    assert_eq!(
        f.catalog.packages.keys().collect::<Vec<_>>(),
        ["alpha-operator"]
    );
    assert_eq!(
        f.kept.iter().map(|b| &b.name).collect::<Vec<_>>(),
        ["alpha-operator.v2.0.0"]
    );
}

#[test]
fn scenario_04_full_package_keeps_all_its_channels() {
    let f = run(CatalogFilter {
        full: true,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        platforms: Vec::new(),
        packages: vec![pkg("beta-operator")],
    })
    .unwrap();
    assert_eq!(f.kept.len(), 6);
    assert_eq!(
        f.catalog.packages["beta-operator"],
        small().packages["beta-operator"]
    );
}

#[test]
fn scenario_05_package_min_runs_to_the_head_of_the_default_channel() {
    let p = PackageFilter {
        min: v("1.1.0"),
        ..pkg("alpha-operator")
    };
    assert_eq!(
        kept(only(vec![p])),
        [
            "alpha-operator.v1.1.0",
            "alpha-operator.v1.1.1",
            "alpha-operator.v1.2.0",
            "alpha-operator.v2.0.0"
        ]
    );
}

#[test]
fn scenario_06_package_max_keeps_up_to_max() {
    let p = PackageFilter {
        max: v("1.2.0"),
        ..pkg("alpha-operator")
    };
    assert_eq!(
        kept(only(vec![p])),
        [
            "alpha-operator.v1.0.0",
            "alpha-operator.v1.1.0",
            "alpha-operator.v1.1.1",
            "alpha-operator.v1.2.0"
        ]
    );
}

#[test]
fn scenario_07_package_min_and_max() {
    let p = PackageFilter {
        min: v("1.0.1"),
        max: v("1.3.0"),
        ..pkg("beta-operator")
    };
    let f = run(only(vec![p])).unwrap();
    let names: Vec<&str> = f.kept.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "beta-operator.v1.0.1",
            "beta-operator.v1.1.0",
            "beta-operator.v1.2.0",
            "beta-operator.v1.3.0"
        ]
    );
    assert_eq!(
        channels_of(&f, "beta-operator").keys().collect::<Vec<_>>(),
        ["stable"]
    );
}

#[test]
fn scenario_08_channel_keeps_its_head() {
    let p = PackageFilter {
        channels: vec![chan("stable", None, None)],
        ..pkg("alpha-operator")
    };
    assert_eq!(kept(only(vec![p])), ["alpha-operator.v2.0.0"]);
}

#[test]
fn scenario_08_non_default_channel_with_default_channel_override() {
    let p = PackageFilter {
        channels: vec![chan("fast", None, None)],
        default_channel: Some("fast".into()),
        ..pkg("alpha-operator")
    };
    let f = run(only(vec![p])).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| &b.name).collect::<Vec<_>>(),
        ["alpha-operator.v2.1.0"]
    );
    let alpha = &f.catalog.packages["alpha-operator"];
    assert_eq!(alpha.default_channel.as_deref(), Some("fast"));
    assert_eq!(alpha.raw["defaultChannel"], json!("fast"));
}

#[test]
fn scenario_09_full_package_channel_keeps_the_whole_channel() {
    let p = PackageFilter {
        channels: vec![chan("stable", None, None)],
        ..pkg("alpha-operator")
    };
    let f = run(CatalogFilter {
        full: true,
        heads: Default::default(),
        skip_dependencies: false,
        blocked: Vec::new(),
        platforms: Vec::new(),
        packages: vec![p],
    })
    .unwrap();
    assert_eq!(f.kept.len(), 5);
    assert_eq!(
        channels_of(&f, "alpha-operator").keys().collect::<Vec<_>>(),
        ["stable"]
    );
}

#[test]
fn scenario_10_several_channels_keep_each_head() {
    let p = PackageFilter {
        channels: vec![chan("stable", None, None), chan("fast", None, None)],
        ..pkg("alpha-operator")
    };
    let f = run(only(vec![p])).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| &b.name).collect::<Vec<_>>(),
        ["alpha-operator.v2.0.0", "alpha-operator.v2.1.0"]
    );
    assert_eq!(
        channels_of(&f, "alpha-operator")["fast"],
        ["alpha-operator.v2.1.0"]
    );
}

#[test]
fn scenario_11_channel_min() {
    let p = PackageFilter {
        channels: vec![chan("stable", Some("1.2.0"), None)],
        ..pkg("alpha-operator")
    };
    assert_eq!(
        kept(only(vec![p])),
        ["alpha-operator.v1.2.0", "alpha-operator.v2.0.0"]
    );
}

#[test]
fn scenario_12_channel_max() {
    let p = PackageFilter {
        channels: vec![chan("stable", None, Some("1.2.0"))],
        ..pkg("beta-operator")
    };
    assert_eq!(
        kept(only(vec![p])),
        [
            "beta-operator.v1.0.0",
            "beta-operator.v1.0.1",
            "beta-operator.v1.1.0",
            "beta-operator.v1.2.0"
        ]
    );
}

#[test]
fn scenario_13_channel_min_and_max() {
    let p = PackageFilter {
        channels: vec![chan("stable", Some("1.1.0"), Some("1.2.0"))],
        ..pkg("alpha-operator")
    };
    let f = run(only(vec![p])).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| &b.name).collect::<Vec<_>>(),
        [
            "alpha-operator.v1.1.0",
            "alpha-operator.v1.1.1",
            "alpha-operator.v1.2.0"
        ]
    );
    let entries = &f.catalog.packages["alpha-operator"].channels["stable"].raw["entries"];
    assert_eq!(entries.as_array().unwrap().len(), 3);
}

#[test]
fn scenario_14_bundles_keep_exactly_those_with_their_channels() {
    let a = PackageFilter {
        bundles: vec!["alpha-operator.v1.1.1".into()],
        ..pkg("alpha-operator")
    };
    let b = PackageFilter {
        bundles: vec!["beta-operator.v1.3.0".into()],
        ..pkg("beta-operator")
    };
    let f = run(only(vec![a, b])).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| &b.name).collect::<Vec<_>>(),
        ["alpha-operator.v1.1.1", "beta-operator.v1.3.0"]
    );
    assert_eq!(
        channels_of(&f, "alpha-operator"),
        BTreeMap::from([
            (
                "candidate-1.1".to_string(),
                vec!["alpha-operator.v1.1.1".to_string()]
            ),
            (
                "stable".to_string(),
                vec!["alpha-operator.v1.1.1".to_string()]
            ),
        ])
    );
    assert_eq!(
        channels_of(&f, "beta-operator").keys().collect::<Vec<_>>(),
        ["preview", "stable"]
    );
}

#[test]
fn kept_bundles_carry_package_image_and_related_images() {
    let f = run(only(vec![pkg("alpha-operator")])).unwrap();
    let b = &f.kept[0];
    assert_eq!(b.package, "alpha-operator");
    assert_eq!(b.version, "2.0.0");
    assert!(
        b.image
            .starts_with("registry.example.com/alpha-operator/bundle@sha256:")
    );
    let names: Vec<&str> = b.related_images.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["", "kube-rbac-proxy", "operator"]);
}

#[test]
fn filter_errors_are_explained() {
    let cases: Vec<(&str, CatalogFilter)> = vec![
        (
            "multiple_heads_raise_max",
            only(vec![PackageFilter {
                max: v("1.1.0"),
                ..pkg("beta-operator")
            }]),
        ),
        (
            "multiple_heads_opm_rule",
            only(vec![PackageFilter {
                min: v("3.0.0"),
                ..pkg("delta-operator")
            }]),
        ),
        (
            "default_channel_dropped",
            only(vec![PackageFilter {
                channels: vec![chan("fast", None, None)],
                ..pkg("alpha-operator")
            }]),
        ),
        (
            "bad_default_channel_override",
            only(vec![PackageFilter {
                channels: vec![chan("fast", None, None)],
                default_channel: Some("stable".into()),
                ..pkg("alpha-operator")
            }]),
        ),
        (
            "full_with_range",
            CatalogFilter {
                full: true,
                heads: Default::default(),
                skip_dependencies: false,
                blocked: Vec::new(),
                platforms: Vec::new(),
                packages: vec![PackageFilter {
                    channels: vec![chan("stable", Some("1.0.0"), Some("2.0.0"))],
                    ..pkg("alpha-operator")
                }],
            },
        ),
        (
            "package_range_with_channels",
            only(vec![PackageFilter {
                min: v("1.0.0"),
                channels: vec![chan("stable", None, None)],
                ..pkg("alpha-operator")
            }]),
        ),
        (
            "channels_with_bundles",
            only(vec![PackageFilter {
                bundles: vec!["alpha-operator.v1.0.0".into()],
                channels: vec![chan("stable", None, None)],
                ..pkg("alpha-operator")
            }]),
        ),
        (
            "unknown_names",
            only(vec![
                pkg("alpha-operater"),
                PackageFilter {
                    channels: vec![chan("stabel", None, None)],
                    ..pkg("beta-operator")
                },
                PackageFilter {
                    bundles: vec!["gamma-operator.v1.0".into()],
                    ..pkg("gamma-operator")
                },
            ]),
        ),
        (
            "empty_range",
            only(vec![PackageFilter {
                min: v("9.0.0"),
                ..pkg("alpha-operator")
            }]),
        ),
        (
            "bundles_not_connected",
            only(vec![PackageFilter {
                bundles: vec!["beta-operator.v1.0.1".into(), "beta-operator.v1.1.0".into()],
                ..pkg("beta-operator")
            }]),
        ),
    ];
    snapshot(|| {
        for (name, filter) in cases {
            let err = run(filter).unwrap_err();
            insta::assert_snapshot!(format!("filter_error_{name}"), render(&err));
        }
    });
}

#[test]
fn list_operators_output() {
    let c = small();
    snapshot(|| {
        insta::assert_snapshot!("list_packages", airlift::catalog::render_packages(&c));
        insta::assert_snapshot!(
            "list_package_alpha",
            airlift::catalog::render_package("redhat", &c, "alpha-operator").unwrap()
        );
    });
    let err = airlift::catalog::render_package("redhat", &c, "beta").unwrap_err();
    assert!(render(&err).contains("did you mean `beta-operator`?"));
}

#[test]
fn full_keeps_packages_the_filter_could_not_validate() {
    let mut files = catalog_fixture::small_catalog();
    files.insert(
        PathBuf::from("odd/catalog.json"),
        br#"{"schema": "olm.package", "name": "odd-operator"}
{"schema": "olm.bundle", "name": "odd.v1", "package": "odd-operator", "image": "registry.example.com/odd@sha256:0000000000000000000000000000000000000000000000000000000000000000"}"#
            .to_vec(),
    );
    let c = parse_catalog(&files).unwrap();
    let full = airlift::catalog::filter_catalog(
        "redhat",
        &c,
        &CatalogFilter {
            full: true,
            heads: Default::default(),
            skip_dependencies: false,
            blocked: Vec::new(),
            platforms: Vec::new(),
            packages: vec![],
        },
    )
    .unwrap();
    assert_eq!(full.catalog, c);
    assert_eq!(full.kept.len(), 17);
    let err =
        airlift::catalog::filter_catalog("redhat", &c, &CatalogFilter::default()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(
        err.errors[0].to_string(),
        "catalog `redhat` package `odd-operator` has no default channel; its channels are: none"
    );
}

/// `heads "every-channel"` (oc-mirror v2's behaviour): a package with no channel, version or
/// bundle keeps the head of every channel, not only the default channel's; the package keeps
/// its default channel. With a range the package still filters its default channel only.
#[test]
fn every_channel_heads_keep_the_head_of_each_channel() {
    let every = |packages| CatalogFilter {
        packages,
        heads: airlift::catalog::Heads::EveryChannel,
        ..CatalogFilter::default()
    };
    let f = run(every(vec![pkg("alpha-operator"), pkg("gamma-operator")])).unwrap();
    let names: Vec<&str> = f.kept.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            // candidate-1.1, stable, fast
            "alpha-operator.v1.1.1",
            "alpha-operator.v2.0.0",
            "alpha-operator.v2.1.0",
            // legacy, stable
            "gamma-operator.v0.9.0",
            "gamma-operator.v1.0.0"
        ]
    );
    assert_eq!(
        f.catalog.packages["gamma-operator"]
            .default_channel
            .as_deref(),
        Some("stable")
    );
    assert_eq!(channels_of(&f, "gamma-operator").len(), 2);
    // The whole catalog: every package, every channel's head.
    let all = run(every(vec![])).unwrap();
    assert!(all.kept.len() > run(CatalogFilter::default()).unwrap().kept.len());
    // A range stays a range of the default channel.
    let ranged = PackageFilter {
        min: v("1.1.0"),
        ..pkg("alpha-operator")
    };
    assert_eq!(kept(every(vec![ranged.clone()])), kept(only(vec![ranged])));
}

/// `optional=#true`: a package the catalog lacks is skipped with a warning (one recipe serves
/// several catalog versions); without it, it stays an error listing the packages there are.
#[test]
fn an_optional_package_the_catalog_lacks_is_a_warning() {
    let missing = PackageFilter {
        optional: true,
        ..pkg("epsilon-operator")
    };
    let f = run(only(vec![pkg("alpha-operator"), missing])).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["alpha-operator.v2.0.0"]
    );
    assert_eq!(f.warnings.len(), 1);
    assert!(
        f.warnings[0].contains("epsilon-operator"),
        "{:?}",
        f.warnings
    );
    let e = run(only(vec![pkg("epsilon-operator")])).unwrap_err();
    assert!(render(&e).contains("epsilon-operator"), "{}", render(&e));
}

/// A catalog whose bundles depend on each other: `app` needs package `db` in [2.0.0, 3.0.0) and
/// the API `cache.example.com/v1 Cache`, which `cache` provides; `cache` needs package `util`;
/// `lonely` needs package `ghost`, which the catalog lacks.
fn deps_catalog() -> Catalog {
    let b = |package: &str, version: &str, props: Vec<serde_json::Value>| {
        let mut properties = vec![
            json!({"type": "olm.package", "value": {"packageName": package, "version": version}}),
        ];
        properties.extend(props);
        json!({"schema": "olm.bundle", "name": format!("{package}.v{version}"), "package": package,
               "image": format!("registry.example.com/{package}/bundle:{version}"),
               "properties": properties, "relatedImages": []})
    };
    let pkg =
        |name: &str| json!({"schema": "olm.package", "name": name, "defaultChannel": "stable"});
    let chan = |package: &str, versions: &[&str]| {
        let entries: Vec<serde_json::Value> = versions
            .iter()
            .enumerate()
            .map(|(i, v)| match i {
                0 => json!({"name": format!("{package}.v{v}")}),
                _ => json!({"name": format!("{package}.v{v}"), "replaces": format!("{package}.v{}", versions[i - 1])}),
            })
            .collect();
        json!({"schema": "olm.channel", "package": package, "name": "stable", "entries": entries})
    };
    let need_pkg = |name: &str, range: &str| json!({"type": "olm.package.required", "value": {"packageName": name, "versionRange": range}});
    let objects = vec![
        pkg("app"),
        chan("app", &["1.0.0"]),
        b(
            "app",
            "1.0.0",
            vec![
                need_pkg("db", ">=2.0.0 <3.0.0"),
                json!({"type": "olm.gvk.required", "value": {"group": "cache.example.com", "version": "v1", "kind": "Cache"}}),
            ],
        ),
        pkg("db"),
        chan("db", &["1.0.0", "2.0.0", "2.1.0", "3.0.0"]),
        b("db", "1.0.0", vec![]),
        b("db", "2.0.0", vec![]),
        b("db", "2.1.0", vec![]),
        b("db", "3.0.0", vec![]),
        pkg("cache"),
        chan("cache", &["1.0.0"]),
        b(
            "cache",
            "1.0.0",
            vec![
                json!({"type": "olm.gvk", "value": {"group": "cache.example.com", "version": "v1", "kind": "Cache"}}),
                need_pkg("util", ""),
            ],
        ),
        pkg("util"),
        chan("util", &["0.1.0"]),
        b("util", "0.1.0", vec![]),
        pkg("lonely"),
        chan("lonely", &["1.0.0"]),
        b("lonely", "1.0.0", vec![need_pkg("ghost", ">=1.0.0")]),
    ];
    let mut text = Vec::new();
    for o in &objects {
        text.extend(serde_json::to_vec(o).unwrap());
        text.push(b'\n');
    }
    parse_catalog(&BTreeMap::from([(
        PathBuf::from("configs/catalog.json"),
        text,
    )]))
    .unwrap()
}

fn filter_deps(packages: Vec<PackageFilter>, skip: bool) -> Result<Filtered, FilterErrors> {
    let filter = CatalogFilter {
        packages,
        skip_dependencies: skip,
        ..CatalogFilter::default()
    };
    airlift::catalog::filter_catalog("deps", &deps_catalog(), &filter)
}

/// Dependencies are kept: the newest bundle of the default channel in the required range, the
/// package that provides a required API, and what that one requires in turn; each with the
/// reason. `dependencies #false` keeps only what the filter names. A requirement the catalog
/// cannot meet is a warning.
#[test]
fn bundles_that_kept_bundles_depend_on_are_kept() {
    let f = filter_deps(vec![pkg("app")], false).unwrap();
    let names: Vec<&str> = f.kept.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["app.v1.0.0", "cache.v1.0.0", "db.v2.1.0", "util.v0.1.0"]
    );
    let reasons: Vec<String> = f
        .pulled
        .iter()
        .map(|p| format!("{} {}", p.bundle, p.reason))
        .collect();
    assert!(
        reasons.contains(
            &"db.v2.1.0 for dependency of app.v1.0.0 (requires package db >=2.0.0 <3.0.0)"
                .to_string()
        ),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(
            &"util.v0.1.0 for dependency of cache.v1.0.0 (requires package util)".to_string()
        ),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("cache.v1.0.0") && r.contains("API cache.example.com/v1 Cache")),
        "{reasons:?}"
    );
    // Off: only the package itself.
    let f = filter_deps(vec![pkg("app")], true).unwrap();
    assert_eq!(f.kept.len(), 1);
    // Already met by what the filter keeps: nothing is added.
    let db = PackageFilter {
        min: v("2.0.0"),
        max: v("2.1.0"),
        ..pkg("db")
    };
    let f = filter_deps(vec![pkg("app"), pkg("cache"), db], false).unwrap();
    assert!(
        !f.pulled.iter().any(|p| p.package == "db"),
        "{:?}",
        f.pulled
    );
    // Added next to a kept range, on one upgrade path: 3.0.0 replaces 2.1.0.
    let db3 = PackageFilter {
        min: v("3.0.0"),
        ..pkg("db")
    };
    let f = filter_deps(vec![pkg("app"), db3], false).unwrap();
    assert_eq!(channels_of(&f, "db")["stable"], ["db.v2.1.0", "db.v3.0.0"]);
    // Added next to a kept bundle it is not connected to: an error naming both.
    let db1 = PackageFilter {
        bundles: vec!["db.v1.0.0".into()],
        ..pkg("db")
    };
    let e = filter_deps(vec![pkg("app"), db1], false).unwrap_err();
    let text = render(&e);
    assert!(
        text.contains("db.v2.1.0") && text.contains("db.v1.0.0"),
        "{text}"
    );
    assert!(text.contains("dependencies #false"), "{text}");
    // A package the catalog lacks: a warning.
    let f = filter_deps(vec![pkg("lonely")], false).unwrap();
    assert_eq!(f.kept.len(), 1);
    assert!(
        f.warnings.iter().any(|w| w.contains("ghost")),
        "{:?}",
        f.warnings
    );
}

/// `block` on a bundle image removes the bundle from the rebuilt catalog and reports it; the
/// channel must stay one upgrade path (blocking the head leaves the one below it as head;
/// blocking a bundle in the middle is an error that says what it cut).
#[test]
fn a_blocked_bundle_leaves_the_catalog_and_the_channel_stays_valid() {
    let range = PackageFilter {
        min: v("1.1.0"),
        ..pkg("alpha-operator")
    };
    let image_of = |name: &str| {
        run(only(vec![range.clone()]))
            .unwrap()
            .kept
            .into_iter()
            .find(|b| b.name == name)
            .map(|b| b.image)
            .expect("kept")
    };
    let blocking = |name: &str| CatalogFilter {
        packages: vec![range.clone()],
        blocked: vec![format!("^{}$", regex::escape(&image_of(name)))],
        ..CatalogFilter::default()
    };
    let f = run(blocking("alpha-operator.v2.0.0")).unwrap();
    assert_eq!(
        f.kept.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        [
            "alpha-operator.v1.1.0",
            "alpha-operator.v1.1.1",
            "alpha-operator.v1.2.0"
        ]
    );
    assert_eq!(f.blocked.len(), 1);
    assert_eq!(f.blocked[0].1, "alpha-operator.v2.0.0");
    let e = run(blocking("alpha-operator.v1.2.0")).unwrap_err();
    let text = render(&e);
    assert!(
        text.contains("block") && text.contains("alpha-operator.v1.2.0"),
        "{text}"
    );
}

/// A package without a default channel and an empty channel get messages that name what the
/// package has.
#[test]
fn no_default_channel_and_empty_channels_name_what_is_there() {
    let objects = [
        json!({"schema": "olm.package", "name": "odd"}),
        json!({"schema": "olm.channel", "package": "odd", "name": "stable", "entries": [{"name": "odd.v1.0.0"}]}),
        json!({"schema": "olm.channel", "package": "odd", "name": "empty", "entries": []}),
        json!({"schema": "olm.bundle", "name": "odd.v1.0.0", "package": "odd", "image": "registry.example.com/odd/bundle:1",
               "properties": [{"type": "olm.package", "value": {"packageName": "odd", "version": "1.0.0"}}]}),
    ];
    let mut text = Vec::new();
    for o in &objects {
        text.extend(serde_json::to_vec(o).unwrap());
        text.push(b'\n');
    }
    let catalog = parse_catalog(&BTreeMap::from([(PathBuf::from("c.json"), text)])).unwrap();
    let run = |f: CatalogFilter| airlift::catalog::filter_catalog("odd-index", &catalog, &f);
    let e = run(only(vec![pkg("odd")])).unwrap_err();
    let text = e.errors[0].to_string();
    assert!(text.contains("has no default channel"), "{text}");
    assert!(
        text.contains("stable (1 bundles)") && text.contains("empty (0 bundles)"),
        "{text}"
    );
    let p = PackageFilter {
        channels: vec![chan("empty", None, None)],
        ..pkg("odd")
    };
    let e = run(only(vec![p])).unwrap_err();
    use miette::Diagnostic as _;
    let first = &e.errors[0];
    let text = format!(
        "{first} {}",
        first.help().map(|h| h.to_string()).unwrap_or_default()
    );
    assert!(text.contains("channel `empty` has no bundles"), "{text}");
    assert!(text.contains("stable (1 bundles)"), "{text}");
}
