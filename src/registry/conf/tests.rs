use std::path::Path;

use super::sources::{Entry, match_len};
use super::*;
use crate::oci::{ImageRef, Repository};

fn conf(text: &str) -> RegistriesConf {
    RegistriesConf::parse(Path::new("/etc/r.conf"), text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn error(text: &str) -> String {
    match RegistriesConf::parse(Path::new("/etc/r.conf"), text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => {
            let help = miette::Diagnostic::help(&e).map(|h| h.to_string());
            format!("{e} | {}", help.unwrap_or_default())
        }
    }
}

fn repo(s: &str) -> Repository {
    Repository::parse(s).expect("repository")
}

/// `repository (insecure)` per source, in order.
fn sources(c: &RegistriesConf, name: &str, by: PullBy) -> Vec<String> {
    c.pull_sources(&repo(name), by)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|s| {
            let mut out = s.repository.to_string();
            if s.insecure {
                out.push_str(" (insecure)");
            }
            if s.mirror {
                out.push_str(" (mirror)");
            }
            out
        })
        .collect()
}

#[test]
fn prefix_matching_follows_containers_image() {
    for (name, prefix, expected) in [
        ("example.com/foo/bar", "example.com", Some(11)),
        ("example.com/foo/bar", "example.com/foo", Some(15)),
        ("example.com/foo/bar", "example.com/foo/bar", Some(19)),
        ("example.com/foobar", "example.com/foo", None),
        ("example.com/foo", "example.com/foo/bar", None),
        ("example.community/x", "example.com", None),
        // The port boundary: containers/image lets `example.com` match `example.com:5000`.
        ("example.com:5000/x", "example.com", Some(11)),
        ("a.example.com/x", "*.example.com", Some(13)),
        ("a.b.example.com/x", "*.example.com", Some(15)),
        ("a.example.com:5000/x", "*.example.com", Some(13)),
        ("example.com/x", "*.example.com", None),
        ("a.example.community/x", "*.example.com", None),
        ("evil.com/a.example.com/x", "*.example.com", None),
    ] {
        assert_eq!(match_len(name, prefix), expected, "{name} vs {prefix}");
    }
}

#[test]
fn the_longest_prefix_wins_and_a_location_rewrites_it() {
    let c = conf(
        r#"
[[registry]]
prefix = "example.com"
location = "mirror.local/all"

[[registry]]
prefix = "example.com/team"
location = "mirror.local:5000/team-copy"

[[registry]]
prefix = "example.com/team/app"
location = "other.local/app"
"#,
    );
    assert_eq!(
        sources(&c, "example.com/x/y", PullBy::Tag),
        ["mirror.local/all/x/y"]
    );
    assert_eq!(
        sources(&c, "example.com/team/y", PullBy::Tag),
        ["mirror.local:5000/team-copy/y"]
    );
    assert_eq!(
        sources(&c, "example.com/team/app", PullBy::Digest),
        ["other.local/app"]
    );
    assert_eq!(
        sources(&c, "example.com/team/application", PullBy::Digest),
        ["mirror.local:5000/team-copy/application"]
    );
    assert_eq!(sources(&c, "quay.io/x", PullBy::Tag), ["quay.io/x"]);
}

#[test]
fn docker_hub_names_match_by_their_normalised_form() {
    let c = conf(
        r#"
[[registry]]
prefix = "docker.io"
location = "hub-cache.local/hub"
"#,
    );
    assert_eq!(
        sources(&c, "busybox", PullBy::Tag),
        ["hub-cache.local/hub/library/busybox"]
    );
}

#[test]
fn mirrors_come_first_and_pull_from_mirror_filters_them() {
    let c = conf(
        r#"
[[registry]]
location = "quay.io/ns"
insecure = false

[[registry.mirror]]
location = "m-all.local/ns"

[[registry.mirror]]
location = "m-digest.local/ns"
pull-from-mirror = "digest-only"
insecure = true

[[registry.mirror]]
location = "m-tag.local/ns"
pull-from-mirror = "tag-only"
"#,
    );
    assert_eq!(
        sources(&c, "quay.io/ns/app", PullBy::Tag),
        [
            "m-all.local/ns/app (mirror)",
            "m-tag.local/ns/app (mirror)",
            "quay.io/ns/app"
        ]
    );
    assert_eq!(
        sources(&c, "quay.io/ns/app", PullBy::Digest),
        [
            "m-all.local/ns/app (mirror)",
            "m-digest.local/ns/app (insecure) (mirror)",
            "quay.io/ns/app"
        ]
    );
    assert_eq!(
        sources(&c, "quay.io/ns/app", PullBy::Blob),
        [
            "m-all.local/ns/app (mirror)",
            "m-digest.local/ns/app (insecure) (mirror)",
            "m-tag.local/ns/app (mirror)",
            "quay.io/ns/app"
        ]
    );
    let image: ImageRef = "quay.io/ns/app:1".parse().expect("ref");
    assert_eq!(PullBy::of(&image), PullBy::Tag);
    let pinned = image.pinned(crate::oci::Digest::of(b"x"));
    assert_eq!(PullBy::of(&pinned), PullBy::Digest);
}

#[test]
fn mirror_by_digest_only_limits_every_mirror_to_digest_reads() {
    let c = conf(
        r#"
[[registry]]
prefix = "quay.io"
location = "quay.io"
mirror-by-digest-only = true
insecure = true

[[registry.mirror]]
location = "m.local"
"#,
    );
    assert_eq!(
        sources(&c, "quay.io/a", PullBy::Tag),
        ["quay.io/a (insecure)"]
    );
    assert_eq!(
        sources(&c, "quay.io/a", PullBy::Digest),
        ["m.local/a (mirror)", "quay.io/a (insecure)"]
    );
}

#[test]
fn wildcard_prefixes_match_subdomains_and_may_omit_the_location() {
    let c = conf(
        r#"
[[registry]]
prefix = "*.example.com"
insecure = true

[[registry.mirror]]
location = "cache.local/example"

[[registry]]
prefix = "registry.example.com/special"
location = "registry.example.com/special"
"#,
    );
    assert_eq!(
        sources(&c, "a.example.com/x", PullBy::Tag),
        [
            "cache.local/example/x (mirror)",
            "a.example.com/x (insecure)"
        ]
    );
    // The longer prefix wins over the wildcard.
    assert_eq!(
        sources(&c, "registry.example.com/special/x", PullBy::Tag),
        ["registry.example.com/special/x"]
    );
    assert_eq!(sources(&c, "example.com/x", PullBy::Tag), ["example.com/x"]);
}

#[test]
fn a_blocked_registry_is_refused_but_its_mirrors_are_read() {
    let c = conf(
        r#"
[[registry]]
location = "blocked.example.com"
blocked = true

[[registry]]
location = "quay.io/ns"
blocked = true

[[registry.mirror]]
location = "mirror.local/ns"
pull-from-mirror = "digest-only"

[[registry.mirror]]
location = "blocked.example.com/copy"
"#,
    );
    let e = c
        .pull_sources(&repo("blocked.example.com/app"), PullBy::Digest)
        .expect_err("blocked");
    assert!(
        matches!(&e, SourceError::Blocked { prefix, file, .. }
            if prefix == "blocked.example.com" && file == "/etc/r.conf"),
        "{e:?}"
    );
    assert!(e.to_string().contains("/etc/r.conf"), "{e}");
    // Digest reads go to the one mirror that is not blocked itself; tag reads have none.
    assert_eq!(
        sources(&c, "quay.io/ns/app", PullBy::Digest),
        ["mirror.local/ns/app (mirror)"]
    );
    assert!(matches!(
        c.pull_sources(&repo("quay.io/ns/app"), PullBy::Tag),
        Err(SourceError::Blocked { .. })
    ));
    assert_eq!(sources(&c, "quay.io/other", PullBy::Tag), ["quay.io/other"]);
}

#[test]
fn a_blocked_entry_with_a_location_elsewhere_is_still_blocked() {
    let c = conf(
        r#"
[[registry]]
prefix = "example.com"
location = "elsewhere.local"
blocked = true
"#,
    );
    assert!(matches!(
        c.pull_sources(&repo("example.com/app"), PullBy::Tag),
        Err(SourceError::Blocked { .. })
    ));
}

#[test]
fn a_rewrite_that_is_no_repository_is_an_error_naming_the_entry() {
    let c = conf(
        r#"
[[registry]]
prefix = "example.com"
location = "mirror.local/ns"
"#,
    );
    let e = c
        .pull_sources(&repo("example.com:5000/app"), PullBy::Tag)
        .expect_err("not a repository");
    assert!(matches!(e, SourceError::Rewrite { .. }), "{e:?}");
    assert!(e.to_string().contains("example.com"), "{e}");
}

#[test]
fn the_first_entry_of_a_prefix_counts() {
    let c = conf(
        r#"
[[registry]]
prefix = "example.com"
location = "first.local"

[[registry]]
prefix = "example.com/"
location = "second.local"
"#,
    );
    assert_eq!(sources(&c, "example.com/a", PullBy::Tag), ["first.local/a"]);
}

#[test]
fn version_1_tables_become_entries() {
    let c = conf(
        r#"
[registries.search]
registries = ["registry.access.redhat.com", "quay.io"]

[registries.insecure]
registries = ["lab.local:5000", "blocked.local"]

[registries.block]
registries = ["blocked.local"]
"#,
    );
    assert_eq!(
        c.entries,
        [
            Entry {
                prefix: "blocked.local".into(),
                location: "blocked.local".into(),
                insecure: true,
                blocked: true,
                mirrors: vec![],
            },
            Entry {
                prefix: "lab.local:5000".into(),
                location: "lab.local:5000".into(),
                insecure: true,
                blocked: false,
                mirrors: vec![],
            },
        ]
    );
    assert!(c.has_insecure());
    assert_eq!(
        sources(&c, "lab.local:5000/x", PullBy::Tag),
        ["lab.local:5000/x (insecure)"]
    );
}

#[test]
fn short_name_and_credential_settings_are_accepted_and_ignored() {
    let c = conf(
        r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#,
    );
    assert!(c.entries.is_empty());
    assert!(!c.has_insecure());
    assert_eq!(sources(&c, "quay.io/a", PullBy::Tag), ["quay.io/a"]);
}

#[test]
fn an_empty_file_is_valid() {
    assert!(conf("").entries.is_empty());
    assert!(conf("# nothing\n").entries.is_empty());
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_its_place() {
    let e = error("[[registry]]\nlocation = \"quay.io\"\nprefx = \"quay.io\"\n");
    assert!(e.contains("/etc/r.conf:3:1"), "{e}");
    assert!(e.contains("prefx"), "{e}");
    assert!(e.contains("containers-registries.conf(5)"), "{e}");
    let e = error(
        "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m.local\"\npull-from-mirrors = \"all\"\n",
    );
    assert!(e.contains("pull-from-mirrors"), "{e}");
    let e = error("unqualified-search-registry = [\"quay.io\"]\n");
    assert!(e.contains("unqualified-search-registry"), "{e}");
    let e = error("[registries.search]\nregistry = [\"quay.io\"]\n");
    assert!(e.contains("registry"), "{e}");
}

#[test]
fn garbage_is_an_error_with_line_and_column() {
    let e = error("[[registry]]\nlocation = \"quay.io\"\ninsecure = maybe\n");
    assert!(e.contains("/etc/r.conf:3:"), "{e}");
    let e = error("\u{7f}ELF\u{2}\u{1}\u{1}");
    assert!(
        e.starts_with("invalid registries.conf /etc/r.conf:1:"),
        "{e}"
    );
    let e = error("[[registry]]\nlocation = 5\n");
    assert!(e.contains("/etc/r.conf:2:12"), "{e}");
}

#[test]
fn invalid_entries_are_errors_that_say_what_to_do() {
    for (text, expected) in [
        (
            "[[registry]]\ninsecure = true\n",
            "neither prefix nor location",
        ),
        ("[[registry]]\nprefix = \"quay.io\"\n", "has no location"),
        (
            "[[registry]]\nlocation = \"https://quay.io\"\n",
            "URL scheme is not allowed",
        ),
        (
            "[[registry]]\nprefix = \"*.example.com/ns\"\n",
            "wildcard prefix",
        ),
        (
            "[[registry]]\nprefix = \"*.example.com:5000\"\n",
            "wildcard prefix",
        ),
        (
            "[[registry]]\nprefix = \"example.*.com\"\nlocation = \"x.local\"\n",
            "not a leading `*.`",
        ),
        (
            "[[registry]]\nlocation = \"quay.io/UPPER\"\n",
            "not a repository name",
        ),
        (
            "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\ninsecure = true\n",
            "has no location",
        ),
        (
            "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"\"\n",
            "has no location",
        ),
        (
            "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m.local\"\npull-from-mirror = \"sometimes\"\n",
            "unsupported pull-from-mirror value `sometimes`",
        ),
        (
            "[[registry]]\nlocation = \"quay.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.local\"\npull-from-mirror = \"all\"\n",
            "mirror-by-digest-only",
        ),
        (
            "[[registry]]\nlocation = \"quay.io\"\npull-from-mirror = \"all\"\n",
            "belongs in a [[registry.mirror]]",
        ),
        (
            "[[registry]]\nprefix = \"a.io\"\nlocation = \"quay.io\"\ninsecure = true\n[[registry]]\nprefix = \"b.io\"\nlocation = \"quay.io\"\n",
            "different `insecure` settings",
        ),
        (
            "[[registry]]\nprefix = \"a.io\"\nlocation = \"quay.io\"\n[[registry]]\nprefix = \"b.io\"\nlocation = \"quay.io\"\nblocked = true\n",
            "different `blocked` settings",
        ),
        (
            "short-name-mode = \"sometimes\"\n",
            "invalid short-name-mode",
        ),
        (
            "unqualified-search-registries = [\"not a host\"]\n",
            "invalid search registry",
        ),
        (
            "[registries.insecure]\nregistries = [\"lab.local\"]\n[[registry]]\nlocation = \"quay.io\"\n",
            "mixes the version 1",
        ),
        (
            "unqualified-search-registries = []\n[registries.block]\nregistries = [\"x.io\"]\n",
            "mixes the version 1",
        ),
    ] {
        let e = error(text);
        assert!(e.contains(expected), "{text}: {e}");
        assert!(e.contains("/etc/r.conf"), "{text}: {e}");
    }
}

#[test]
fn load_refuses_missing_odd_and_huge_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.conf");
    let e = RegistriesConf::load(&missing).expect_err("missing");
    assert!(e.is_io());
    assert!(e.to_string().contains("missing.conf"), "{e}");
    let e = RegistriesConf::load(dir.path()).expect_err("a directory");
    assert!(!e.is_io());
    assert!(e.to_string().contains("not a regular file"), "{e}");
    let huge = dir.path().join("huge.conf");
    std::fs::write(&huge, "#".repeat(1024 * 1024 + 1)).expect("write");
    let e = RegistriesConf::load(&huge).expect_err("too large");
    assert!(e.to_string().contains("1 MiB"), "{e}");
    let binary = dir.path().join("binary.conf");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
    let e = RegistriesConf::load(&binary).expect_err("not text");
    assert!(e.to_string().contains("not UTF-8"), "{e}");
    let good = dir.path().join("good.conf");
    std::fs::write(&good, "[[registry]]\nlocation = \"quay.io\"\n").expect("write");
    let c = RegistriesConf::load(&good).expect("valid");
    assert_eq!(c.path(), good);
}

#[test]
fn trailing_slashes_are_trimmed() {
    let c = conf("[[registry]]\nprefix = \"example.com/ns/\"\nlocation = \"mirror.local/ns/\"\n");
    assert_eq!(
        sources(&c, "example.com/ns/app", PullBy::Tag),
        ["mirror.local/ns/app"]
    );
}
