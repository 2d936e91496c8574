//! containers-registries.conf(5) for reads: which places airlift reads an image from (mirrors,
//! `location` rewrites) and which it must not read at all (`blocked`). The file is the one
//! `--registries-conf` (or `$CONTAINERS_REGISTRIES_CONF`) names; nothing else is ever read, so a
//! machine's `/etc/containers/registries.conf` cannot change a build behind the user's back.
//! Pure: [`RegistriesConf::load`] reads that one file, and nothing here touches the network.
//!
//! Why it is applied here by hand: skopeo and podman get these rules from containers/image,
//! which does the redirecting inside its own registry client. airlift has its own client (see
//! the module header of `registry/`), so the same rules are implemented here, following
//! containers/image's `pkg/sysregistriesv2` and its docker image source:
//! - Version 2 `[[registry]]` tables, and the version 1 `[registries.search]`,
//!   `[registries.insecure]` and `[registries.block]` lists, converted to version 2 entries as
//!   containers/image converts them (blocked first, then insecure; `prefix` = `location`).
//!   Both versions in one file is an error.
//! - The entry whose `prefix` is the longest match of the repository name applies; a prefix
//!   matches when the name starts with it and continues with nothing, `/`, `:` or `@`, and
//!   `*.example.com` matches any subdomain of example.com. Of two entries with the same prefix
//!   the first in the file counts.
//! - The sources of a read are the entry's mirrors that serve that kind of read, in file order,
//!   then the primary: the entry's `location` with the matched prefix replaced, or the name
//!   itself. Each source carries its own `insecure`.
//! - `blocked = true` forbids reading the primary, not the mirrors: containers/image checks
//!   `blocked` when it connects to each source, against the entry that source's own name
//!   matches, so a blocked source with mirrors is read from its mirrors only (OpenShift's
//!   `NeverContactSource` is written exactly so). airlift also refuses the primary of a
//!   blocked entry whose `location` points elsewhere, which is what `blocked` says.
//!
//! Deliberate differences: an unknown key is an error (containers/image ignores it, so a typo
//! silently does nothing), a `*` anywhere but a leading `*.` is an error, and a `location` must
//! be a repository name (`host[:port][/path]`) when the file is loaded rather than when an image
//! is read. Short-name settings (`unqualified-search-registries`, `short-name-mode`,
//! `[aliases]`) and credential settings (`credential-helpers`,
//! `additional-layer-store-auth-helper`) are checked for their type and otherwise ignored:
//! airlift reads fully qualified names only and takes credentials from its auth file.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

use crate::oci::{ImageRef, Repository};

/// A registries.conf larger than this is refused (real ones are a few KiB).
const MAX_SIZE: u64 = 1024 * 1024;

/// A loaded and validated registries.conf.
#[derive(Debug)]
pub struct RegistriesConf {
    path: PathBuf,
    /// One entry per prefix (the first of the file wins), sorted by prefix.
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    prefix: String,
    /// Empty only for a `*.` prefix: the name is read as it is.
    location: String,
    insecure: bool,
    blocked: bool,
    /// `mirror-by-digest-only = true` is stored as `DigestOnly` on every mirror.
    mirrors: Vec<Mirror>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Mirror {
    location: String,
    insecure: bool,
    pull: PullFromMirror,
}

/// A mirror's `pull-from-mirror`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PullFromMirror {
    All,
    DigestOnly,
    TagOnly,
}

/// What kind of read asks for sources; it decides which mirrors apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullBy {
    /// A manifest by tag, or a tag list.
    Tag,
    /// A manifest by digest (with or without a tag, as containers/image counts it), or the
    /// referrers of a digest.
    Digest,
    /// A blob. Every mirror may serve it: its bytes are named by their digest and checked.
    /// containers/image reads the blobs of an image from whichever source served its manifest,
    /// which may be a `tag-only` mirror; airlift asks per request, so every mirror is allowed.
    Blob,
}

impl PullBy {
    /// A manifest read of `image`: by digest when it names one.
    pub fn of(image: &ImageRef) -> PullBy {
        if image.digest().is_some() {
            PullBy::Digest
        } else {
            PullBy::Tag
        }
    }
}

impl PullFromMirror {
    fn serves(self, by: PullBy) -> bool {
        matches!(
            (self, by),
            (PullFromMirror::All, _)
                | (_, PullBy::Blob)
                | (PullFromMirror::DigestOnly, PullBy::Digest)
                | (PullFromMirror::TagOnly, PullBy::Tag)
        )
    }
}

/// One place to read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullSource {
    /// The repository to ask, after any rewrite.
    pub repository: Repository,
    /// The entry says `insecure = true`: plain HTTP and unverified TLS are allowed here, as
    /// with `--src-tls-verify=false`.
    pub insecure: bool,
    /// A `[[registry.mirror]]` rather than the primary.
    pub mirror: bool,
}

impl PullSource {
    /// The repository itself, as named (no registries.conf entry applies).
    pub fn direct(repository: &Repository) -> PullSource {
        PullSource {
            repository: repository.clone(),
            insecure: false,
            mirror: false,
        }
    }
}

/// Why a repository has no source to read from.
#[derive(Clone, Debug, thiserror::Error, miette::Diagnostic)]
pub enum SourceError {
    #[error(
        "{repository} is blocked: the [[registry]] with prefix \"{prefix}\" in {file} says `blocked = true`"
    )]
    #[diagnostic(
        code(airlift::registries_conf::blocked),
        help(
            "airlift reads nothing from a blocked registry: remove `blocked = true` from that entry, give it a [[registry.mirror]] that holds the image, or leave the image out of the recipe"
        )
    )]
    Blocked {
        repository: String,
        prefix: String,
        file: String,
    },
    #[error(
        "the [[registry]] with prefix \"{prefix}\" in {file} rewrites {repository} to `{rewritten}`, which is not a repository name: {message}"
    )]
    #[diagnostic(
        code(airlift::registries_conf::rewrite),
        help(
            "fix that entry's `location` (host[:port][/path]) so that what follows the prefix can be appended to it"
        )
    )]
    Rewrite {
        repository: String,
        prefix: String,
        rewritten: String,
        message: String,
        file: String,
    },
}

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

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when some entry or mirror says `insecure = true`.
    pub fn has_insecure(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.insecure || e.mirrors.iter().any(|m| m.insecure))
    }

    /// The entry whose prefix is the longest match of `name`, and the length of the match.
    fn find(&self, name: &str) -> Option<(&Entry, usize)> {
        let mut best: Option<(&Entry, usize)> = None;
        for e in &self.entries {
            if let Some(n) = match_len(name, &e.prefix)
                && best.is_none_or(|(b, _)| e.prefix.len() > b.prefix.len())
            {
                best = Some((e, n));
            }
        }
        best
    }

    /// The places to read `repo` from, in order: the mirrors that serve `by`, then the primary.
    /// Sources that are blocked are left out; when that leaves none, the error says which entry
    /// blocks the repository. Without a matching entry the one source is `repo` itself.
    pub fn pull_sources(
        &self,
        repo: &Repository,
        by: PullBy,
    ) -> Result<Vec<PullSource>, SourceError> {
        let name = repo.to_string();
        let Some((entry, matched)) = self.find(&name) else {
            return Ok(vec![PullSource::direct(repo)]);
        };
        let mut sources = Vec::new();
        for m in entry.mirrors.iter().filter(|m| m.pull.serves(by)) {
            let repository = self.rewrite(repo, &name, entry, &m.location, matched)?;
            if self.blocked_by(&repository).is_none() {
                sources.push(PullSource {
                    repository,
                    insecure: m.insecure,
                    mirror: true,
                });
            }
        }
        let primary = self.rewrite(repo, &name, entry, &entry.location, matched)?;
        let blocker = if entry.blocked {
            Some(entry)
        } else {
            self.blocked_by(&primary)
        };
        match blocker {
            None => sources.push(PullSource {
                repository: primary,
                insecure: entry.insecure,
                mirror: false,
            }),
            Some(b) if sources.is_empty() => {
                return Err(SourceError::Blocked {
                    repository: name,
                    prefix: b.prefix.clone(),
                    file: self.path.display().to_string(),
                });
            }
            Some(_) => {}
        }
        Ok(sources)
    }

    /// The blocked entry `repo`'s name matches, if any.
    fn blocked_by(&self, repo: &Repository) -> Option<&Entry> {
        self.find(&repo.to_string())
            .map(|(e, _)| e)
            .filter(|e| e.blocked)
    }

    /// `name` with its first `matched` bytes (the prefix) replaced by `location`.
    fn rewrite(
        &self,
        repo: &Repository,
        name: &str,
        entry: &Entry,
        location: &str,
        matched: usize,
    ) -> Result<Repository, SourceError> {
        if location.is_empty() {
            return Ok(repo.clone());
        }
        let rewritten = format!("{location}{}", &name[matched..]);
        if rewritten == name {
            return Ok(repo.clone());
        }
        Repository::parse(&rewritten).map_err(|e| SourceError::Rewrite {
            repository: name.to_string(),
            prefix: entry.prefix.clone(),
            rewritten: rewritten.clone(),
            message: e.to_string(),
            file: self.path.display().to_string(),
        })
    }
}

/// How much of `name` the prefix matches (containers/image's `refMatchingPrefix`): the name
/// must continue with nothing, `/`, `:` or `@` after it. `*.example.com` matches a name whose
/// host ends in `.example.com`; the match then ends after that host suffix.
fn match_len(name: &str, prefix: &str) -> Option<usize> {
    let end = match prefix.strip_prefix('*') {
        Some(domain) => {
            let at = name.find(domain)?;
            if name[..at].contains('/') {
                return None;
            }
            at + domain.len()
        }
        None if name.starts_with(prefix) => prefix.len(),
        None => return None,
    };
    match name.as_bytes().get(end) {
        None | Some(b'/' | b':' | b'@') => Some(end),
        Some(_) => None,
    }
}

// ---- parsing -------------------------------------------------------------------------------

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
struct Issue {
    message: String,
    help: String,
    span: Option<Range<usize>>,
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

// ---- errors ----------------------------------------------------------------------------------

/// Why a registries.conf cannot be used (boxed: it may carry the file's text).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(transparent)]
#[diagnostic(transparent)]
pub struct ConfError(Box<ConfErrorKind>);

impl ConfError {
    /// The file could not be read at all (missing, permissions), rather than being invalid.
    pub fn is_io(&self) -> bool {
        matches!(*self.0, ConfErrorKind::Read { .. })
    }

    fn invalid(path: &Path, text: &str, issue: Issue) -> ConfError {
        let shown = path.display().to_string();
        let at = match &issue.span {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{shown}:{line}:{column}")
            }
            None => shown.clone(),
        };
        ConfErrorKind::Invalid {
            at,
            message: issue.message,
            help: issue.help,
            src: NamedSource::new(shown, text.to_string()).with_language("toml"),
            span: issue.span.map(SourceSpan::from),
        }
        .into()
    }
}

impl From<ConfErrorKind> for ConfError {
    fn from(kind: ConfErrorKind) -> Self {
        ConfError(Box::new(kind))
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfErrorKind {
    #[error("cannot read registries.conf {path}: {message}")]
    #[diagnostic(
        code(airlift::registries_conf::read),
        help(
            "check the path given to --registries-conf (or $CONTAINERS_REGISTRIES_CONF); airlift never falls back to /etc/containers/registries.conf"
        )
    )]
    Read { path: String, message: String },
    #[error("registries.conf {path} is not a regular file")]
    #[diagnostic(
        code(airlift::registries_conf::not_a_file),
        help("pass one registries.conf file; airlift does not read registries.conf.d directories")
    )]
    NotAFile { path: String },
    #[error("registries.conf {path} is {size} bytes, more than the 1 MiB limit")]
    #[diagnostic(
        code(airlift::registries_conf::too_large),
        help("pass the registries.conf file itself; real ones are a few KiB")
    )]
    TooLarge { path: String, size: u64 },
    #[error("registries.conf {path} is not UTF-8 text (invalid byte at offset {offset})")]
    #[diagnostic(
        code(airlift::registries_conf::not_text),
        help("a registries.conf is a TOML text file; check that the right file was passed")
    )]
    NotText { path: String, offset: usize },
    #[error("invalid registries.conf {at}: {message}")]
    #[diagnostic(code(airlift::registries_conf::invalid), help("{help}"))]
    Invalid {
        at: String,
        message: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
}

#[cfg(test)]
#[path = "conf_tests.rs"]
mod tests;
