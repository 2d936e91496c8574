//! Unit tests for decoding details: URL forms, properties later stages need, did-you-mean,
//! error collection, KDL syntax errors. Parses strings only.

use std::path::PathBuf;

use super::*;

const EXTRAS: &str = "images \"extras\" { image \"registry.redhat.io/ubi9/ubi:latest\" }\n";

fn ok(text: &str) -> Recipe {
    parse_str("test.kdl", text).unwrap_or_else(|e| panic!("{}", e.render_plain(100)))
}

fn errors(text: &str) -> Vec<(String, Option<String>)> {
    match parse_str("test.kdl", text) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e
            .iter()
            .map(|e| (e.message().to_string(), e.help_text().map(str::to_string)))
            .collect(),
    }
}

fn target(url: &str) -> String {
    format!("{EXTRAS}target \"t\" \"{url}\" {{ needs \"extras\" }}\n")
}

#[test]
fn target_url_forms() {
    let r = ok(&target("docker://registry.example.com:5000/a/b"));
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Registry {
            registry: "registry.example.com:5000".into(),
            namespace: "a/b".into()
        }
    );
    let r = ok(&target("docker://localhost:5000"));
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Registry {
            registry: "localhost:5000".into(),
            namespace: String::new()
        }
    );
    let r = ok(&target("file://out/archive"));
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Directory(PathBuf::from("out/archive"))
    );
    let r = ok(&target("file:///media/x"));
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Directory(PathBuf::from("/media/x"))
    );
    let r = ok(&target("oci://out/layout"));
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Layout(PathBuf::from("out/layout"))
    );
    for bad in [
        "registry.example.com/a",
        "oci://",
        "docker://",
        "docker://ho_st/a",
        "docker://host/UPPER",
        "file://",
    ] {
        let e = errors(&target(bad));
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        assert!(
            e[0].1.as_deref().unwrap_or("").contains("docker://host"),
            "{bad}"
        );
    }
}

#[test]
fn target_properties_and_defaults() {
    let r = ok(&target("docker://h/ns"));
    assert_eq!(r.targets[0].mirror_scope, MirrorScope::Repository);
    assert_eq!(
        r.targets[0].mirror_source_policy,
        MirrorSourcePolicy::AllowContactingSource
    );
    let text = format!(
        "{EXTRAS}target \"t\" \"docker://h/ns\" mirror-scope=\"registry\" mirror-source-policy=\"NeverContactSource\" {{ needs \"extras\"; max-nested-paths 2 }}"
    );
    let r = ok(&text);
    assert_eq!(r.targets[0].mirror_scope, MirrorScope::Registry);
    assert_eq!(
        r.targets[0].mirror_source_policy,
        MirrorSourcePolicy::NeverContactSource
    );
    assert_eq!(
        r.targets[0].max_nested_paths.as_ref().map(|n| n.value),
        Some(2)
    );
    let e = errors(&format!(
        "{EXTRAS}target \"t\" \"docker://h/ns\" mirror-scope=\"namespaces\" {{ needs \"extras\" }}"
    ));
    assert_eq!(e[0].1.as_deref(), Some("did you mean `namespace`?"));
    let e = errors(&format!(
        "{EXTRAS}target \"t\" \"docker://h/ns\" {{ needs \"extras\"; max-nested-paths 0 }}"
    ));
    assert!(e[0].0.contains("at least 1"), "{e:?}");
    let e = errors(&format!(
        "{EXTRAS}target \"t\" \"docker://h/ns\" {{ needs \"extras\"; archive-size \"1GiB\" }}"
    ));
    assert!(e[0].0.contains("only to file://"), "{e:?}");
}

#[test]
fn release_image_property_excludes_channels() {
    let r = ok("release \"one\" image=\"quay.io/openshift-release-dev/ocp-release:4.15.3-x86_64\"");
    let rel = r.releases().next().map(|r| r.image.is_some());
    assert_eq!(rel, Some(true));
    let e = errors(
        "release \"one\" image=\"quay.io/openshift-release-dev/ocp-release:4.15.3-x86_64\" { channel \"stable-4.15\" }",
    );
    assert_eq!(e.len(), 1);
    assert!(e[0].0.contains("cannot have channels"));
    let e = errors("release \"none\"");
    assert!(e[0].0.contains("no channel and no image"));
}

#[test]
fn graph_base_image_defaults_to_ubi_and_accepts_scratch_or_a_reference() {
    let base = |text: &str| {
        ok(text)
            .releases()
            .next()
            .map(|r| r.graph_base().expect("base parses"))
    };
    let ubi = DEFAULT_GRAPH_BASE_IMAGE.parse().expect("default parses");
    assert_eq!(
        base("release \"r\" { channel \"stable-4.15\"; graph #true }"),
        Some(GraphBase::Image(ubi))
    );
    assert_eq!(
        base("release \"r\" graph-base-image=\"scratch\" { channel \"stable-4.15\"; graph #true }"),
        Some(GraphBase::Scratch)
    );
    let own = "127.0.0.1:5000/base/ubi:9".parse().expect("ref");
    assert_eq!(
        base(
            "release \"r\" graph-base-image=\"127.0.0.1:5000/base/ubi:9\" { channel \"stable-4.15\"; graph #true }"
        ),
        Some(GraphBase::Image(own))
    );
    let text = "release \"r\" graph-base-image=\"UBI 9\" { channel \"stable-4.15\"; graph #true }";
    let e = parse_str("test.kdl", text).expect_err("invalid base");
    let e = e.iter().next().expect("one error");
    assert!(e.message().contains("`UBI 9`"), "{}", e.message());
    assert!(
        e.help_text()
            .is_some_and(|h| h.contains("registry/path:tag")),
        "{:?}",
        e.help_text()
    );
    let at = text.find("graph-base-image").expect("property in text");
    assert_eq!(e.sort_key().1, at, "the label points at the property");
}

#[test]
fn release_urls_arch_and_booleans() {
    let r = ok(
        "release \"r\" update-url=\"https://u.example/graph\" graph-data-url=\"https://g.example/d.tgz\" { channel \"stable-4.15\" }",
    );
    let rel = r
        .releases()
        .next()
        .map(|r| (r.arch[0].value.clone(), r.update_url.is_some()));
    assert_eq!(rel, Some(("amd64".to_string(), true)));
    let e = errors("release \"r\" update-url=\"ftp://x\" { channel \"stable-4.15\" }");
    assert!(e[0].0.contains("http(s)"));
    let e = errors("release \"r\" { channel \"stable-4.15\"; arch \"amd46\" }");
    assert_eq!(e[0].1.as_deref(), Some("did you mean `amd64`?"));
    let e = errors("release \"r\" { channel \"stable-4.15\"; graph \"yes\" }");
    assert!(e[0].0.contains("#true or #false"));
    let e = errors("release \"r\" { channel \"stable-4.15\"; chanel \"x\" }");
    assert_eq!(e[0].1.as_deref(), Some("did you mean `channel`?"));
}

#[test]
fn all_errors_are_collected_in_source_order() {
    let e = errors(
        "releas \"a\"\nimages \"b\" { image \"UPPER/x:1\" }\ntarget \"t\" \"nope\" { needs \"b\" }\n",
    );
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[0].0.contains("unknown node `releas`"));
    assert!(e[1].0.contains("UPPER"));
    assert!(e[2].0.contains("not a target URL"));
}

#[test]
fn kdl_syntax_errors_name_the_file() {
    let Err(e) = parse_str("broken.kdl", "release \"a\" {\n") else {
        panic!("expected a syntax error");
    };
    assert!(!e.is_empty());
    assert!(e.render_plain(100).contains("broken.kdl"));
}

#[test]
fn trust_and_delete_rules() {
    let r = ok(&format!(
        "{EXTRAS}trust \"k\" signature-store=\"https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release\" {{ cosign-key \"k.pub\"; applies-to \"extras\" }}"
    ));
    assert!(r.trusts[0].signature_store.is_some());
    assert_eq!(r.trusts_for("extras").count(), 1);
    let e = errors(&format!("{EXTRAS}trust \"k\" {{ applies-to \"extras\" }}"));
    assert!(e[0].0.contains("has no key"));
    let e = errors(&format!(
        "{EXTRAS}target \"d\" \"file://out\" {{ needs \"extras\" }}\ndelete \"x\" from=\"d\" {{ image \"a.example/b@sha256:bce7e9f69fb7d4533447232478fd825811c760288f87a35699f9c8f030f2c1a6\" }}"
    ));
    assert!(e[0].0.contains("is a directory, not a registry"), "{e:?}");
    let e = errors(&format!(
        "{EXTRAS}delete \"x\" from=\"extras\" {{ image \"a.example/b:1\" }}"
    ));
    assert!(e[0].0.contains("is a content set"), "{e:?}");
    let t = "target \"m\" \"docker://h:5000/m\" { needs \"extras\" }\n";
    let r = ok(&format!(
        "{EXTRAS}{t}delete \"x\" from=\"m\" {{ catalog \"q.example/i:v1\" {{ package \"a\" max=\"1.2.0\"; package \"b\" {{ channel \"stable\" max=\"2.0.0\" }} }} }}"
    ));
    let c = &r.deletes[0].catalogs[0];
    assert_eq!(c.source.value.to_string(), "q.example/i:v1");
    assert_eq!(c.packages.len(), 2);
    assert_eq!(c.packages[1].channels[0].name.value, "stable");
    // A catalog entry must name packages, with the package rules of a catalog set.
    let e = errors(&format!(
        "{EXTRAS}{t}delete \"x\" from=\"m\" {{ catalog \"q.example/i:v1\" }}"
    ));
    assert!(e[0].0.contains("names no package"), "{e:?}");
    assert!(
        e[0].1.as_deref().is_some_and(|h| h.contains("package")),
        "{e:?}"
    );
    let e = errors(&format!(
        "{EXTRAS}{t}delete \"x\" from=\"m\" {{ catalog \"q.example/i:v1\" {{ package \"a\" min=\"1.0.0\" {{ channel \"s\" }} }} }}"
    ));
    assert!(e[0].0.contains("cannot be combined with channels"), "{e:?}");
}

#[test]
fn braces_in_strings_and_comments_do_not_count_as_nesting() {
    let braces = "{".repeat(100);
    let class = "[{]".repeat(100);
    ok(&format!(
        "// {braces}\n/* {braces} /* nested */ */\nimages \"extras\" {{ block \"{class}\"; block #\"{class}\"y\"# }}\ntarget \"t\" \"docker://h/n\" {{ needs \"extras\" }}"
    ));
    let e = errors(&format!("{}{}", "a {".repeat(65), "}".repeat(65)));
    assert!(e[0].0.contains("nest deeper than 64"), "{e:?}");
    // Hardening (#18, found by the fuzzer): a stray quote made the nesting scanner read 3,000
    // real blocks as a string, and the parser overflowed its stack. Every `{` counts toward a
    // bound the parser's stack holds.
    let fooled = format!(
        "a {{a16\" {{\n package \"p\" {{}}\n}}\n{}{}",
        "a {".repeat(3000),
        "}".repeat(3000)
    );
    let _ = errors(&fooled);
    let e = errors(&"a {}\n".repeat(4001));
    assert!(e[0].0.contains("more than 4000 blocks"), "{e:?}");
}

#[test]
fn empty_catalog_names_are_check_errors() {
    for body in [
        "package \"\"",
        "package \"a\" { channel \"\" }",
        "package \"a\" { bundle \" \" }",
    ] {
        let e = errors(&format!(
            "catalog \"c\" \"q.example/i:v1\" {{ {body} }}\ntarget \"t\" \"docker://h/n\" {{ needs \"c\" }}"
        ));
        assert_eq!(e.len(), 1, "{body}: {e:?}");
        assert!(e[0].0.contains("name cannot be empty"), "{body}: {e:?}");
    }
    let e = errors(
        "catalog \"c\" \"q.example/i:v1\" { heads \"all\" }\ntarget \"t\" \"docker://h/n\" { needs \"c\" }",
    );
    assert!(e[0].0.contains("not a heads mode"), "{e:?}");
}

#[test]
fn self_need_is_a_cycle_and_needs_must_name_something() {
    let e = errors(&format!(
        "{EXTRAS}target \"t\" \"docker://h/n\" {{ needs \"t\" }}"
    ));
    assert_eq!(e.len(), 1);
    assert!(e[0].0.contains("t → t"));
    let e = errors(&format!("{EXTRAS}target \"t\" \"docker://h/n\""));
    assert!(e[0].0.contains("needs nothing"));
}

#[test]
fn catalog_sources_and_scenarios() {
    let r = ok("catalog \"c\" \"oci://./cat\" { full #true; package \"p\" }");
    let src = r.catalogs().next().map(|c| c.source.value.clone());
    assert_eq!(src, Some(CatalogSource::OciLayout(PathBuf::from("cat"))));
    let e = errors("catalog \"c\" \"oci://x\" { full #true; package \"p\" { bundle \"p.v1\" } }");
    assert!(e[0].0.contains("cannot be combined with bundles"));
    let e = errors("catalog \"c\" \"quay.io/a/b:1\" { package \"p\"; package \"p\" }");
    assert!(e[0].0.contains("listed twice"));
    let e = errors("catalog \"c\" \"quay.io/a/b:1\" { rename \"Bad/Path\" tag=\"-x\" }");
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn sizes_in_recipes() {
    let r = ok(&format!(
        "{EXTRAS}target \"d\" \"file://out\" {{ needs \"extras\"; archive-size \"500MB\" }}"
    ));
    assert_eq!(
        r.targets[0].archive_size.as_ref().map(|s| s.value),
        Some(ByteSize(500_000_000))
    );
    let e = errors(&format!(
        "{EXTRAS}target \"d\" \"file://out\" {{ needs \"extras\"; archive-size 4096 }}"
    ));
    assert!(e[0].0.contains("must be a string"), "{e:?}");
}

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn includes_resolve_relative_to_the_including_file_and_errors_name_their_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        "main.kdl",
        "include \"sub/a.kdl\"\ninclude \"sub/b.kdl\"\ntarget \"t\" \"file://out\" { needs \"extras\" \"more\" }\n",
    );
    // a.kdl includes b.kdl too: b is read once, so its names are not duplicated.
    write(
        dir.path(),
        "sub/a.kdl",
        &format!("include \"b.kdl\"\n{EXTRAS}"),
    );
    write(
        dir.path(),
        "sub/b.kdl",
        "images \"more\" { image \"quay.io/a/b:1\" }\ntrust \"k\" { cosign-key \"k.pub\"; applies-to \"more\" }\n",
    );
    let r =
        load(&dir.path().join("main.kdl")).unwrap_or_else(|e| panic!("{}", e.render_plain(100)));
    assert_eq!(r.files.len(), 3);
    assert_eq!(r.carried_sets("t").len(), 2);
    assert_eq!(
        r.trusts[0].cosign_key.as_ref().map(|k| k.value.clone()),
        Some(dir.path().join("sub/k.pub"))
    );
    assert_eq!(
        r.targets[0].location.value,
        TargetLocation::Directory(dir.path().join("out"))
    );

    // A duplicate across files and a mistake inside the included file, reported together.
    write(
        dir.path(),
        "sub/b.kdl",
        "images \"extras\" { image \"quay.io/a/b:1\" }\nimages \"more\" { imag \"quay.io/a/b:1\" }\n",
    );
    let Err(e) = load(&dir.path().join("main.kdl")) else {
        panic!("expected errors");
    };
    assert_eq!(e.len(), 2, "{}", e.render_plain(100));
    let text = e.render_plain(100);
    assert!(text.contains("b.kdl:2:"), "{text}");
    assert!(text.contains("a.kdl:"), "{text}");
    assert!(text.contains("first used for a content set at"), "{text}");
}

#[test]
fn type_annotations_and_repeated_needs_are_errors() {
    let e = errors(&format!(
        "{EXTRAS}target \"t\" (url)\"docker://h/n\" {{ needs \"extras\" }}"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].0.contains("`(url)`"));
    let e = errors(&format!(
        "{EXTRAS}target \"t\" \"docker://h/n\" {{ needs \"extras\" \"extras\" }}"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].0.contains("listed twice"));
}

#[test]
fn names_that_would_be_paths_are_refused() {
    for (name, why) in [
        ("../../../x", "does not start with a letter or a digit"),
        ("/tmp/x", "does not start with a letter or a digit"),
        ("a/b", "contains a character other than"),
        ("a..b", "contains `..`"),
        (".hidden", "does not start with a letter or a digit"),
        ("", "is empty"),
    ] {
        let e = errors(&format!(
            "{EXTRAS}target \"{name}\" \"docker://h/n\" {{ needs \"extras\" }}\n"
        ));
        assert!(
            e.iter().any(|(m, h)| m.contains(why)
                && h.as_deref().is_some_and(|h| h.contains("letters, digits"))),
            "{name}: {e:?}"
        );
    }
    let e = errors("images \"a b\" { image \"quay.io/x/y:1\" }\n");
    assert!(e.iter().any(|(m, _)| m.contains("`a b`")), "{e:?}");
    // What the example recipes use is fine.
    ok(&format!(
        "{EXTRAS}target \"enclave-a_disk.2\" \"docker://h/n\" {{ needs \"extras\" }}\n"
    ));
}

#[test]
fn registry_nodes_set_a_ceiling_per_host() {
    let r = ok(&format!(
        "{}registry \"quay.io\" concurrency=4\nregistry \"index.docker.io\" concurrency=2\nregistry \"registry.example.com:5000\" concurrency=32\n",
        target("docker://registry.example.com:5000/m")
    ));
    assert_eq!(
        r.registry_concurrency(),
        std::collections::BTreeMap::from([
            ("docker.io".to_string(), 2),
            ("quay.io".to_string(), 4),
            ("registry.example.com:5000".to_string(), 32),
        ])
    );
}

#[test]
fn bad_registry_nodes_are_reported_together() {
    let text = "registry \"https://quay.io\" concurrency=4\n\
                registry \"quay.io/ns\" concurrency=4\n\
                registry \"quay.io\" concurrency=\"4\"\n\
                registry \"a.example\" concurrency=0\n\
                registry \"b.example\" concurrency=257\n\
                registry \"c.example\"\n\
                registry \"d.example\" concurency=3\n\
                registry \"e.example\" concurrency=2\n\
                registry \"e.example\" concurrency=3\n";
    let e = errors(text);
    let messages: Vec<&str> = e.iter().map(|(m, _)| m.as_str()).collect();
    assert!(
        messages.contains(&"`https://quay.io` is not a registry host"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"`quay.io/ns` is not a registry host"),
        "{messages:?}"
    );
    let ceilings = messages
        .iter()
        .filter(|m| **m == "`concurrency` must be an integer from 1 to 256")
        .count();
    assert_eq!(ceilings, 3, "a string, 0 and 257: {messages:?}");
    assert!(
        messages.contains(&"this `registry` node sets nothing"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"registry `e.example` is set twice"),
        "{messages:?}"
    );
    let (_, help) = e
        .iter()
        .find(|(m, _)| m.contains("concurency"))
        .expect("the misspelt property is reported");
    assert!(
        help.as_deref().is_some_and(|h| h.contains("concurrency")),
        "{help:?}"
    );
    // The misspelt node itself.
    let e = errors("registy \"quay.io\" concurrency=4\n");
    assert!(
        e[0].1.as_deref().is_some_and(|h| h.contains("registry")),
        "{e:?}"
    );
}
