//! Recipe diagnostics: one [`RecipeError`] per mistake, all of them collected into
//! [`RecipeErrors`], each carrying the source text of the file it points into so multi-file
//! recipes render correctly.
//!
//! This module only builds and renders diagnostics; it never reads files or decodes KDL.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

/// Index of a file in [`crate::recipe::Recipe::files`].
pub type FileId = usize;

/// One recipe file as read: where it came from and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as opened (relative paths stay relative, so messages are machine-independent).
    pub path: PathBuf,
    /// The text of the file.
    pub text: Arc<str>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The name shown in diagnostics.
    pub fn display_name(&self) -> String {
        self.path.display().to_string()
    }

    /// A miette source for this file.
    pub fn named_source(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.display_name(), Arc::clone(&self.text)).with_language("kdl")
    }

    /// 1-based line and column of a byte offset, for messages that refer to another file.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// `path:line:col` of a span, for help lines that point into this file.
    pub fn location(&self, span: SourceSpan) -> String {
        let (line, col) = self.line_col(span.offset());
        format!("{}:{line}:{col}", self.display_name())
    }
}

/// Whether an error is about the recipe's content or about reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The recipe is invalid (exit code 3).
    Invalid,
    /// A recipe file named on the command line could not be read (exit code 10).
    Io,
}

/// One mistake in a recipe, with labels on the exact spans and a help line.
#[derive(Debug, Clone)]
pub struct RecipeError {
    message: String,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    file: Option<FileId>,
    offset: usize,
    class: ErrorClass,
}

impl RecipeError {
    /// An error pointing at `span` in `file` with `label` under it.
    pub fn at(
        file: FileId,
        src: &SourceFile,
        span: SourceSpan,
        label: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        RecipeError {
            message: message.into(),
            labels: vec![LabeledSpan::new_primary_with_span(Some(label.into()), span)],
            help: None,
            source: Some(src.named_source()),
            file: Some(file),
            offset: span.offset(),
            class: ErrorClass::Invalid,
        }
    }

    /// An error that points at no source (an unreadable file named on the command line).
    pub fn io(message: impl Into<String>, help: impl Into<String>) -> Self {
        RecipeError {
            message: message.into(),
            labels: Vec::new(),
            help: Some(help.into()),
            source: None,
            file: None,
            offset: 0,
            class: ErrorClass::Io,
        }
    }

    /// Adds a secondary label in the same file.
    pub fn also(mut self, span: SourceSpan, label: impl Into<String>) -> Self {
        self.labels
            .push(LabeledSpan::new_with_span(Some(label.into()), span));
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    pub fn class(&self) -> ErrorClass {
        self.class
    }

    pub(crate) fn sort_key(&self) -> (Option<FileId>, usize) {
        (self.file, self.offset)
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecipeError {}

impl Diagnostic for RecipeError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// Every error found in a recipe (all files), reported together.
#[derive(Debug, Clone)]
pub struct RecipeErrors {
    errors: Vec<RecipeError>,
    /// Found by reading the catalogs the recipe names, which `airlift check` does not do.
    from_catalogs: bool,
}

impl RecipeErrors {
    pub(crate) fn new(mut errors: Vec<RecipeError>) -> Self {
        errors.sort_by_key(RecipeError::sort_key);
        RecipeErrors {
            errors,
            from_catalogs: false,
        }
    }

    /// A single error.
    pub fn single(error: RecipeError) -> Self {
        RecipeErrors {
            errors: vec![error],
            from_catalogs: false,
        }
    }

    /// Errors found reading the catalogs: the next step is `plan`, not `check`.
    pub fn from_catalogs(mut self) -> Self {
        self.from_catalogs = true;
        self
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RecipeError> {
        self.errors.iter()
    }

    /// True when the failure is that a named recipe file could not be read at all.
    pub fn is_io(&self) -> bool {
        self.errors.iter().any(|e| e.class == ErrorClass::Io)
    }

    /// Renders every diagnostic without colour at a fixed width (for snapshots and logs).
    pub fn render_plain(&self, width: usize) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(width);
        let mut out = String::new();
        for e in self.errors.iter().take(MAX_SHOWN) {
            // Writing into a String cannot fail.
            let _ = handler.render_report(&mut out, e);
        }
        if self.errors.len() > MAX_SHOWN {
            let _ = std::fmt::Write::write_fmt(
                &mut out,
                format_args!("… and {} more errors\n", self.errors.len() - MAX_SHOWN),
            );
        }
        out
    }
}

/// At most this many errors are shown; the count says how many there are.
pub const MAX_SHOWN: usize = 50;

impl fmt::Display for RecipeErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.len() {
            1 => f.write_str("the recipe has 1 error"),
            n if n > MAX_SHOWN => write!(
                f,
                "the recipe has {n} errors (the first {MAX_SHOWN} are shown)"
            ),
            n => write!(f, "the recipe has {n} errors"),
        }
    }
}

impl std::error::Error for RecipeErrors {}

impl Diagnostic for RecipeErrors {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(if self.from_catalogs {
            "these come from reading the catalogs, which `airlift check` does not do: fix the recipe, then run `airlift plan` again"
        } else {
            "fix every error listed here, then run `airlift check` again"
        }))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.errors
                .iter()
                .take(MAX_SHOWN)
                .map(|e| e as &dyn Diagnostic),
        ))
    }
}

/// Did-you-mean: the candidate closest to `word`, if it is close enough to be a likely typo
/// (a small edit distance, transpositions counting once, or a high Jaro-Winkler similarity).
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let max_edits = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            let edits = strsim::damerau_levenshtein(word, c);
            let jw = strsim::jaro_winkler(word, c);
            (edits <= max_edits || jw >= 0.85, edits, *c)
        })
        .filter(|(close, _, _)| *close)
        .min_by_key(|(_, edits, _)| *edits)
        .map(|(_, _, c)| c)
}

/// A help line for an unknown word: did-you-mean, or the list of what is allowed (`plural` names
/// the kind, e.g. "properties").
pub fn suggest(word: &str, candidates: &[&str], plural: &str) -> String {
    match closest(word, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None if candidates.is_empty() => format!("no {plural} are allowed here; remove `{word}`"),
        None => format!(
            "expected one of these {plural}: {}",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_ignores_unrelated_words() {
        assert_eq!(closest("mni", &["min", "max"]), Some("min"));
        assert_eq!(closest("chanel", &["channel", "bundle"]), Some("channel"));
        assert_eq!(closest("zzz", &["channel", "bundle"]), None);
    }

    #[test]
    fn line_col_is_one_based() {
        let f = SourceFile::new("a.kdl", "ab\ncd");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(4), (2, 2));
    }
}
