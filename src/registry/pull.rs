//! Reads through registries.conf: the one place where a read of the source side (a manifest,
//! a blob, a tag list, referrers) is sent to the pull sources its registries.conf gives, in
//! order (see `conf.rs`). A source that fails — not found, unreachable, refused — falls through
//! to the next, as containers/image tries mirrors; the last source's answer is the answer, and
//! its error names what the sources before it said. What a source returns is checked as from
//! any registry: a manifest read by digest must hash to that digest, a blob to its digest.
//!
//! Writes never come here, so a destination is never redirected. Without a registries.conf a
//! read has exactly one source, the repository itself, and sends the same requests as before.

use std::future::Future;

use super::client::RegistryClient;
use super::conf::{PullBy, PullSource};
use super::error::RegistryError;
use crate::oci::Repository;

impl RegistryClient {
    /// Where to read `repo` from for a read of kind `by`: the repository itself without a
    /// registries.conf, else the file's sources (an error when it blocks them all).
    pub(crate) fn pull_sources(
        &self,
        repo: &Repository,
        by: PullBy,
    ) -> Result<Vec<PullSource>, RegistryError> {
        match self.registries() {
            None => Ok(vec![PullSource::direct(repo)]),
            Some(conf) => Ok(conf.pull_sources(repo, by)?),
        }
    }

    /// Runs `attempt` on each source of `repo` in order until one answers with something
    /// `found` accepts; the last source's answer is returned whatever it is.
    pub(crate) async fn read_through<T, F, Fut>(
        &self,
        repo: &Repository,
        by: PullBy,
        found: impl Fn(&T) -> bool,
        attempt: F,
    ) -> Result<T, RegistryError>
    where
        F: Fn(PullSource) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let sources = self.pull_sources(repo, by)?;
        let count = sources.len();
        let mut tried: Vec<String> = Vec::new();
        for (i, source) in sources.into_iter().enumerate() {
            let last = i + 1 == count;
            let (at, mirror) = (source.repository.to_string(), source.mirror);
            match attempt(source).await {
                Ok(v) if last || found(&v) => return Ok(v),
                Ok(_) => tried.push(format!("{at}: not there")),
                // A mirror last means the primary is blocked: say so too.
                Err(e) if last && (mirror || !tried.is_empty()) => {
                    return Err(self.sources_failed(e, &tried, mirror));
                }
                Err(e) if last => return Err(e),
                Err(e) => tried.push(format!("{at}: {}", short(&e))),
            }
        }
        Err(RegistryError::Protocol {
            registry: repo.registry().to_string(),
            what: format!("a read of {repo}"),
            message: "registries.conf gave no source to read from".into(),
        })
    }

    fn sources_failed(&self, last: RegistryError, tried: &[String], mirror: bool) -> RegistryError {
        let file = self
            .registries()
            .map_or_else(String::new, |c| c.path().display().to_string());
        let mut notes = Vec::new();
        if !tried.is_empty() {
            notes.push(format!(
                "tried first (registries.conf {file}): {}",
                tried.join("; ")
            ));
        }
        if mirror {
            notes.push(format!(
                "the source itself is blocked in {file}: only its mirrors were read"
            ));
        }
        let help = miette::Diagnostic::help(&last).map_or_else(
            || "check the mirrors and locations in the registries.conf".to_string(),
            |h| h.to_string(),
        );
        RegistryError::Sources {
            last: Box::new(last),
            tried: notes.join("; "),
            help,
        }
    }
}

/// One source's failure, briefly (its registry is named beside it).
fn short(e: &RegistryError) -> String {
    match e {
        RegistryError::NotFound { .. } => "not found".to_string(),
        other => other.to_string(),
    }
}
