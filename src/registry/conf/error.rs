//! Why a registries.conf cannot be used: the file cannot be read, or what it says is invalid
//! (with the file, line and column, the marked source and what to change).

use std::path::Path;

use miette::{NamedSource, SourceSpan};

use super::parse::Issue;

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

    pub(super) fn invalid(path: &Path, text: &str, issue: Issue) -> ConfError {
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
