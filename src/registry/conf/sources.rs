//! The loaded registries.conf and what it says for one read: the entry of the longest matching
//! prefix, and the ordered, unblocked sources of a repository (see the module header).

use std::path::{Path, PathBuf};

use crate::oci::{ImageRef, Repository};

/// A loaded and validated registries.conf.
#[derive(Debug)]
pub struct RegistriesConf {
    pub(super) path: PathBuf,
    /// One entry per prefix (the first of the file wins), sorted by prefix.
    pub(super) entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) prefix: String,
    /// Empty only for a `*.` prefix: the name is read as it is.
    pub(super) location: String,
    pub(super) insecure: bool,
    pub(super) blocked: bool,
    /// `mirror-by-digest-only = true` is stored as `DigestOnly` on every mirror.
    pub(super) mirrors: Vec<Mirror>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mirror {
    pub(super) location: String,
    pub(super) insecure: bool,
    pub(super) pull: PullFromMirror,
}

/// A mirror's `pull-from-mirror`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PullFromMirror {
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
pub(super) fn match_len(name: &str, prefix: &str) -> Option<usize> {
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
