//! Reading and validating a registries.conf: the TOML shapes of version 2 and version 1,
//! containers/image's checks (and airlift's stricter ones), and the v1 to v2 conversion.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfError, ConfErrorKind};
use super::sources::{Entry, Mirror, PullFromMirror, RegistriesConf};

/// A registries.conf larger than this is refused (real ones are a few KiB).
const MAX_SIZE: u64 = 1024 * 1024;

impl RegistriesConf {
    /// Reads and validates `path`. A missing or unreadable file, a directory, a file over
    /// 1 MiB, invalid TOML and an invalid entry are errors naming the file.
    pub fn load(path: &Path) -> Result<RegistriesConf, ConfError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| ConfErrorKind::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if !meta.is_file() {
            return Err(ConfErrorKind::NotAFile { path: shown }.into());
        }
        if meta.len() > MAX_SIZE {
            return Err(ConfErrorKind::TooLarge {
                path: shown,
                size: meta.len(),
            }
            .into());
        }
        let bytes = std::fs::read(path).map_err(|e| ConfErrorKind::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfErrorKind::NotText {
            path: shown.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        RegistriesConf::parse(path, &text)
    }

    /// Parses and validates `text` as the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<RegistriesConf, ConfError> {
        let invalid = |issue: Issue| ConfError::invalid(path, text, issue);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            invalid(Issue {
                message: e.message().trim_end().to_string(),
                help: toml_help(e.message()),
                span: e.span(),
            })
        })?;
        let entries = raw.into_entries().map_err(invalid)?;
        Ok(RegistriesConf {
            path: path.to_path_buf(),
            entries,
        })
    }
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename = "registries.conf"
)]
struct RawFile {
    registry: Option<Vec<Spanned<RawRegistry>>>,
    unqualified_search_registries: Option<Vec<Spanned<String>>>,
    credential_helpers: Option<Vec<String>>,
    short_name_mode: Option<Spanned<String>>,
    additional_layer_store_auth_helper: Option<String>,
    aliases: Option<BTreeMap<String, String>>,
    /// Version 1.
    registries: Option<Spanned<RawV1>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename = "[[registry]] table"
)]
struct RawRegistry {
    prefix: Option<Spanned<String>>,
    location: Option<Spanned<String>>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    /// Only valid on a mirror; accepted here to say so.
    pull_from_mirror: Option<Spanned<String>>,
    #[serde(default)]
    mirror: Vec<Spanned<RawMirror>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename = "[[registry.mirror]] table"
)]
struct RawMirror {
    location: Option<Spanned<String>>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "[registries] table")]
struct RawV1 {
    search: Option<RawV1List>,
    insecure: Option<RawV1List>,
    block: Option<RawV1List>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "[registries.*] table")]
struct RawV1List {
    registries: Option<Vec<Spanned<String>>>,
}

/// A validation failure before it is tied to the file.
pub(super) struct Issue {
    pub(super) message: String,
    pub(super) help: String,
    pub(super) span: Option<Range<usize>>,
}

impl Issue {
    fn at(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Issue {
        Issue {
            message: message.into(),
            help: help.into(),
            span: Some(span),
        }
    }
}

const SHAPE_HELP: &str = "a [[registry]] takes prefix, location, insecure, blocked, mirror-by-digest-only and [[registry.mirror]] tables (location, insecure, pull-from-mirror); see containers-registries.conf(5)";

fn toml_help(message: &str) -> String {
    if message.contains("unknown field") {
        format!("remove or correct the key: {SHAPE_HELP}")
    } else {
        "fix the TOML at the marked place; containers-registries.conf(5) shows the format".into()
    }
}

/// containers/image's `parseLocation`: trailing slashes go, a URL scheme is an error.
fn location_text(s: &Spanned<String>) -> Result<String, Issue> {
    let trimmed = s.get_ref().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(Issue::at(
            s.span(),
            format!("`{}`: a URL scheme is not allowed here", s.get_ref()),
            "write host[:port][/path] without http:// or https://; `insecure = true` allows plain HTTP",
        ));
    }
    Ok(trimmed.to_string())
}

/// `host[:port]` followed by optional repository path components.
fn is_location(s: &str) -> bool {
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    crate::oci::is_registry_host(host) && (path.is_empty() || crate::oci::is_repository_path(path))
}

impl RawV1 {
    fn is_set(&self) -> bool {
        [&self.search, &self.insecure, &self.block]
            .iter()
            .any(|l| l.as_ref().is_some_and(|l| l.registries.is_some()))
    }
}

impl RawFile {
    fn v2_is_set(&self) -> bool {
        self.registry.is_some()
            || self.unqualified_search_registries.is_some()
            || self.credential_helpers.is_some()
            || self
                .short_name_mode
                .as_ref()
                .is_some_and(|m| !m.get_ref().is_empty())
            || self
                .additional_layer_store_auth_helper
                .as_ref()
                .is_some_and(|h| !h.is_empty())
            || self.aliases.is_some()
    }

    fn into_entries(self) -> Result<Vec<Entry>, Issue> {
        if let Some(mode) = &self.short_name_mode
            && !["", "disabled", "enforcing", "permissive"].contains(&mode.get_ref().as_str())
        {
            return Err(Issue::at(
                mode.span(),
                format!("invalid short-name-mode `{}`", mode.get_ref()),
                "use disabled, enforcing or permissive (airlift itself reads fully qualified names only)",
            ));
        }
        check_search(self.unqualified_search_registries.iter().flatten())?;
        let v1 = self.registries.as_ref().filter(|v| v.get_ref().is_set());
        if let Some(v1) = v1 {
            let search = v1.get_ref().search.as_ref();
            check_search(
                search
                    .and_then(|l| l.registries.as_ref())
                    .into_iter()
                    .flatten(),
            )?;
        }
        let raw: Vec<(Range<usize>, RawRegistry)> = match v1 {
            Some(v1) if self.v2_is_set() => {
                return Err(Issue::at(
                    v1.span(),
                    "this file mixes the version 1 [registries.*] tables with version 2 settings",
                    "rewrite the [registries.search|insecure|block] lists as [[registry]] tables (insecure = true, blocked = true) and unqualified-search-registries, as containers-registries.conf(5) describes",
                ));
            }
            Some(_) => self
                .registries
                .map(|v| v1_to_v2(v.into_inner()))
                .unwrap_or_default(),
            None => self
                .registry
                .unwrap_or_default()
                .into_iter()
                .map(|r| (r.span(), r.into_inner()))
                .collect(),
        };
        let mut entries = Vec::new();
        for (span, r) in raw {
            entries.push(entry(span, r)?);
        }
        check_conflicts(&entries)?;
        // The first entry of a prefix wins; the rest are ignored, as in containers/image.
        let mut unique: BTreeMap<String, Entry> = BTreeMap::new();
        for e in entries {
            unique.entry(e.prefix.clone()).or_insert(e);
        }
        Ok(unique.into_values().collect())
    }
}

/// Search registries (for short names, which airlift does not use) must still be hosts.
fn check_search<'a>(list: impl Iterator<Item = &'a Spanned<String>>) -> Result<(), Issue> {
    for s in list {
        let host = location_text(s)?;
        if !crate::oci::is_registry_host(&host) {
            return Err(Issue::at(
                s.span(),
                format!("invalid search registry `{}`", s.get_ref()),
                "each entry is a registry host[:port], such as registry.example.com",
            ));
        }
    }
    Ok(())
}

/// containers/image's `ConvertToV2`: one entry per listed registry, blocked ones first.
fn v1_to_v2(v1: RawV1) -> Vec<(Range<usize>, RawRegistry)> {
    let mut out: Vec<(Range<usize>, RawRegistry)> = Vec::new();
    let lists = [(v1.block, true), (v1.insecure, false)];
    for (list, blocking) in lists {
        for loc in list.and_then(|l| l.registries).unwrap_or_default() {
            let key = loc.get_ref().trim_end_matches('/').to_string();
            let found = out.iter().position(|(_, r)| {
                r.location
                    .as_ref()
                    .is_some_and(|l| l.get_ref().trim_end_matches('/') == key)
            });
            let i = found.unwrap_or_else(|| {
                out.push((
                    loc.span(),
                    RawRegistry {
                        prefix: None,
                        location: Some(loc.clone()),
                        insecure: false,
                        blocked: false,
                        mirror_by_digest_only: false,
                        pull_from_mirror: None,
                        mirror: Vec::new(),
                    },
                ));
                out.len() - 1
            });
            if blocking {
                out[i].1.blocked = true;
            } else {
                out[i].1.insecure = true;
            }
        }
    }
    out
}

/// One `[[registry]]`, validated as containers/image's `postProcessRegistries` does.
fn entry(span: Range<usize>, r: RawRegistry) -> Result<Entry, Issue> {
    let location = match &r.location {
        Some(l) => location_text(l)?,
        None => String::new(),
    };
    let given_prefix = match &r.prefix {
        Some(p) => location_text(p)?,
        None => String::new(),
    };
    let prefix = if given_prefix.is_empty() {
        if location.is_empty() {
            return Err(Issue::at(
                span,
                "a [[registry]] has neither prefix nor location",
                "give it a location (host[:port][/path]) and, to redirect other names, a prefix",
            ));
        }
        location.clone()
    } else {
        given_prefix
    };
    let prefix_span = r
        .prefix
        .as_ref()
        .or(r.location.as_ref())
        .map_or(span.clone(), Spanned::span);
    let wildcard = prefix.starts_with("*.");
    if wildcard && prefix.contains(['/', '@', ':']) {
        return Err(Issue::at(
            prefix_span,
            format!("wildcard prefix `{prefix}` has a port, path, tag or digest"),
            "a wildcard prefix is a bare domain such as *.example.com",
        ));
    }
    if prefix.trim_start_matches("*.").contains('*') {
        return Err(Issue::at(
            prefix_span,
            format!("prefix `{prefix}` has a `*` that is not a leading `*.`"),
            "only *.example.com-style wildcards (any subdomain of example.com) are supported",
        ));
    }
    if location.is_empty() && !wildcard {
        return Err(Issue::at(
            prefix_span,
            format!("the [[registry]] with prefix `{prefix}` has no location"),
            "add location = \"host[:port][/path]\"; only a *.example.com prefix may leave it out",
        ));
    }
    if !location.is_empty() && !is_location(&location) {
        return Err(Issue::at(
            r.location.as_ref().map_or(span.clone(), Spanned::span),
            format!("location `{location}` is not a repository name"),
            "write host[:port] optionally followed by /path, with lowercase path components",
        ));
    }
    if let Some(p) = &r.pull_from_mirror {
        return Err(Issue::at(
            p.span(),
            format!("pull-from-mirror is set on the [[registry]] with prefix `{prefix}`"),
            "pull-from-mirror belongs in a [[registry.mirror]] table; for the whole registry use mirror-by-digest-only = true",
        ));
    }
    let mut mirrors = Vec::new();
    for m in &r.mirror {
        mirrors.push(mirror(&prefix, r.mirror_by_digest_only, m)?);
    }
    Ok(Entry {
        prefix,
        location,
        insecure: r.insecure,
        blocked: r.blocked,
        mirrors,
    })
}

fn mirror(prefix: &str, by_digest_only: bool, m: &Spanned<RawMirror>) -> Result<Mirror, Issue> {
    let raw = m.get_ref();
    let location = match &raw.location {
        Some(l) => location_text(l)?,
        None => String::new(),
    };
    let at = raw.location.as_ref().map_or(m.span(), Spanned::span);
    if location.is_empty() {
        return Err(Issue::at(
            at,
            format!("a [[registry.mirror]] of prefix `{prefix}` has no location"),
            "give every mirror location = \"host[:port][/path]\"",
        ));
    }
    if !is_location(&location) {
        return Err(Issue::at(
            at,
            format!("mirror location `{location}` is not a repository name"),
            "write host[:port] optionally followed by /path, with lowercase path components",
        ));
    }
    let pull = match &raw.pull_from_mirror {
        None => PullFromMirror::All,
        Some(p) if by_digest_only => {
            return Err(Issue::at(
                p.span(),
                format!(
                    "mirror `{location}` sets pull-from-mirror while its registry `{prefix}` sets mirror-by-digest-only"
                ),
                "use one of the two: remove mirror-by-digest-only from the [[registry]] or pull-from-mirror from its mirrors",
            ));
        }
        Some(p) => match p.get_ref().as_str() {
            "" | "all" => PullFromMirror::All,
            "digest-only" => PullFromMirror::DigestOnly,
            "tag-only" => PullFromMirror::TagOnly,
            other => {
                return Err(Issue::at(
                    p.span(),
                    format!("unsupported pull-from-mirror value `{other}` for mirror `{location}`"),
                    "use all, digest-only or tag-only",
                ));
            }
        },
    };
    Ok(Mirror {
        location,
        insecure: raw.insecure,
        pull: if by_digest_only {
            PullFromMirror::DigestOnly
        } else {
            pull
        },
    })
}

/// Entries with the same location (or, without one, the same prefix) must agree on
/// `insecure` and `blocked`.
fn check_conflicts(entries: &[Entry]) -> Result<(), Issue> {
    let key = |e: &Entry| {
        if e.location.is_empty() {
            e.prefix.clone()
        } else {
            e.location.clone()
        }
    };
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            if key(a) != key(b) {
                continue;
            }
            let setting = if a.insecure != b.insecure {
                "insecure"
            } else if a.blocked != b.blocked {
                "blocked"
            } else {
                continue;
            };
            return Err(Issue {
                message: format!(
                    "registry `{}` is defined more than once with different `{setting}` settings",
                    key(a)
                ),
                help: format!("give every [[registry]] with that location the same `{setting}`"),
                span: None,
            });
        }
    }
    Ok(())
}
