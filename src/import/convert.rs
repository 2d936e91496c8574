//! ImageSetConfiguration / DeleteImageSetConfiguration → recipe text, with oc-mirror v2's
//! semantics where airlift's defaults differ, and a warning (with its YAML line) for everything
//! that cannot be carried over. Pure: text in, text out. This file reads the document and
//! writes the recipe; `sets.rs` converts each part of the content. The produced recipe is parsed before it
//! is returned, so an import always passes `airlift check`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use miette::{NamedSource, SourceSpan};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::isc::{self, Doc};
use super::locate::line_of;
use super::sets::{delete, mirror};

const APIS: [&str; 2] = [
    "mirror.openshift.io/v1alpha2",
    "mirror.openshift.io/v2alpha1",
];
const ISC: &str = "ImageSetConfiguration";
const DISC: &str = "DeleteImageSetConfiguration";

/// Where the imported recipe's target points (`--to`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `docker://host[:port]/namespace`.
    Registry(String),
    /// `file://dir`: archives.
    Archive(String),
}

/// The produced recipe and what could not be carried over.
#[derive(Debug)]
pub struct Imported {
    pub recipe: String,
    pub warnings: Vec<Warning>,
    /// `ImageSetConfiguration` or `DeleteImageSetConfiguration`.
    pub kind: String,
}

/// Something the recipe does not carry over, at a line of the input (when found).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub line: Option<usize>,
    pub message: String,
}

/// One reason the input cannot be imported.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ImportError {
    #[error("{file} is not valid YAML: {message}")]
    #[diagnostic(help("fix the YAML at the marked place"))]
    Yaml {
        file: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
    #[error("{file}: {path}: {problem}")]
    #[diagnostic(help("{help}"))]
    Field {
        file: String,
        path: String,
        problem: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("{problem}")]
        span: SourceSpan,
    },
    #[error("the imported recipe does not validate (a bug in airlift import): {message}")]
    #[diagnostic(help("please report it with the input file"))]
    Invalid { message: String },
}

/// Every error of one input, reported together.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{file} cannot be imported: {} problem(s)", errors.len())]
#[diagnostic(help("fix each place marked below and import again"))]
pub struct ImportErrors {
    pub file: String,
    #[related]
    pub errors: Vec<ImportError>,
}

/// Converts `text` (the file `file`) into a recipe whose target is `to`.
pub fn import(text: &str, file: &str, to: &Direction) -> Result<Imported, ImportErrors> {
    let mut cx = Cx {
        text,
        file,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let fail = |cx: Cx<'_>| ImportErrors {
        file: file.to_string(),
        errors: cx.errors,
    };
    let doc: Doc = match serde_saphyr::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            cx.errors.push(cx.yaml_error(&e));
            return Err(fail(cx));
        }
    };
    let raw: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
    let kind = cx.check_header(&doc);
    let Some(kind) = kind else {
        return Err(fail(cx));
    };
    let v1 = doc
        .api_version
        .as_ref()
        .is_some_and(|a| a.value.ends_with("v1alpha2"));
    for path in isc::unknown_keys(&raw) {
        let line = line_of(text, &path);
        cx.warnings.push(Warning {
            line,
            message: format!("`{path}` is not an oc-mirror field; ignored"),
        });
    }
    if let Some(s) = &doc.storage_config {
        cx.warn(
            s,
            "`storageConfig` is not needed: airlift keeps its state in the workspace (.airlift/) and in the archive series' index; ignored",
        );
    }
    if let (Direction::Registry(_), Some(size)) = (to, &doc.archive_size) {
        cx.warn(
            size,
            "`archiveSize` applies to archives (a file:// target); the registry target has none",
        );
    }
    let mut r = Recipe::default();
    let content = if kind == ISC {
        doc.mirror.as_ref()
    } else {
        doc.delete.as_ref()
    };
    let Some(content) = content else {
        let key = if kind == ISC { "mirror" } else { "delete" };
        cx.errors.push(cx.field_at_start(
            key,
            "missing",
            &format!("a {kind} lists its content under `{key}:`"),
        ));
        return Err(fail(cx));
    };
    if kind == ISC {
        mirror(&mut cx, &mut r, &content.value, v1);
    } else {
        delete(&mut cx, &mut r, &content.value);
    }
    if !cx.errors.is_empty() {
        return Err(fail(cx));
    }
    let recipe = r.render(&cx, &doc, &kind, to);
    if let Err(e) = crate::recipe::parse_str("imported.kdl", &recipe) {
        cx.errors.push(ImportError::Invalid {
            message: e.render_plain(100),
        });
        return Err(fail(cx));
    }
    cx.warnings.sort_by_key(|w| (w.line.is_none(), w.line));
    Ok(Imported {
        recipe,
        warnings: cx.warnings,
        kind,
    })
}

pub(super) struct Cx<'a> {
    text: &'a str,
    file: &'a str,
    pub(super) errors: Vec<ImportError>,
    pub(super) warnings: Vec<Warning>,
}

impl Cx<'_> {
    fn src(&self) -> NamedSource<String> {
        NamedSource::new(self.file, self.text.to_string()).with_language("yaml")
    }

    pub(super) fn warn<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.warnings.push(Warning {
            line: Some(at.referenced.line() as usize),
            message: message.into(),
        });
    }

    pub(super) fn field<T>(
        &self,
        at: &Spanned<T>,
        path: &str,
        problem: &str,
        help: &str,
    ) -> ImportError {
        ImportError::Field {
            file: self.file.to_string(),
            path: path.to_string(),
            problem: problem.to_string(),
            help: help.to_string(),
            src: self.src(),
            span: crate::resources::yaml_span::value_span(self.text, at),
        }
    }

    fn field_at_start(&self, path: &str, problem: &str, help: &str) -> ImportError {
        ImportError::Field {
            file: self.file.to_string(),
            path: path.to_string(),
            problem: problem.to_string(),
            help: help.to_string(),
            src: self.src(),
            span: SourceSpan::from((0, self.text.len().min(1))),
        }
    }

    fn yaml_error(&self, e: &serde_saphyr::Error) -> ImportError {
        let (span, message) = crate::resources::yaml_span::error_place(self.text, e);
        ImportError::Yaml {
            file: self.file.to_string(),
            message,
            src: self.src(),
            span,
        }
    }

    /// The kind, when `apiVersion` and `kind` are ones this import reads.
    fn check_header(&mut self, doc: &Doc) -> Option<String> {
        let kind = match &doc.kind {
            Some(k) if k.value == ISC || k.value == DISC => k.value.clone(),
            Some(k) => {
                let e = self.field(
                    k,
                    "kind",
                    &format!("`{}` is not an oc-mirror image set", k.value),
                    "`airlift import` reads ImageSetConfiguration and DeleteImageSetConfiguration files",
                );
                self.errors.push(e);
                return None;
            }
            None => {
                let e = self.field_at_start(
                    "kind",
                    "missing",
                    "set `kind: ImageSetConfiguration` (or DeleteImageSetConfiguration)",
                );
                self.errors.push(e);
                return None;
            }
        };
        match &doc.api_version {
            Some(a) if APIS.contains(&a.value.as_str()) => Some(kind),
            Some(a) => {
                let e = self.field(
                    a,
                    "apiVersion",
                    &format!("`{}` is not a version this import reads", a.value),
                    "use mirror.openshift.io/v1alpha2 or mirror.openshift.io/v2alpha1",
                );
                self.errors.push(e);
                None
            }
            None => {
                let e = self.field_at_start(
                    "apiVersion",
                    "missing",
                    "set `apiVersion: mirror.openshift.io/v2alpha1`",
                );
                self.errors.push(e);
                None
            }
        }
    }

    /// A version value (`minVersion: 4.15.0`, also written unquoted or as a number).
    pub(super) fn version(&mut self, v: &isc::S<Value>, path: &str) -> Option<String> {
        let v = v.as_ref()?;
        let text = match &v.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => other.to_string(),
        };
        let text = text.trim().trim_start_matches('v').to_string();
        match semver::Version::parse(&text) {
            Ok(parsed) => Some(parsed.to_string()),
            Err(e) => {
                let err = self.field(
                    v,
                    path,
                    &format!("`{text}` is not a semantic version ({e})"),
                    "write the version as MAJOR.MINOR.PATCH, e.g. '4.15.3' or '1.5.0'",
                );
                self.errors.push(err);
                None
            }
        }
    }
}

/// The recipe being built: content sets in order, and what the target needs.
#[derive(Default)]
pub(super) struct Recipe {
    pub(super) blocks: Vec<String>,
    pub(super) needs: Vec<String>,
    pub(super) names: BTreeSet<String>,
    /// The `delete` set of a DeleteImageSetConfiguration: its name and body.
    pub(super) delete: Option<(String, String)>,
}

impl Recipe {
    /// A set name derived from `base`, unique in this recipe.
    pub(super) fn name(&mut self, base: &str) -> String {
        let mut clean: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        while clean.contains("..") {
            clean = clean.replace("..", ".");
        }
        let clean = clean
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string();
        let clean = if clean.is_empty() {
            "set".to_string()
        } else {
            clean
        };
        let mut name = clean.clone();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{clean}-{n}");
            n += 1;
        }
        name
    }

    fn render(&self, cx: &Cx<'_>, doc: &Doc, kind: &str, to: &Direction) -> String {
        let mut out = String::new();
        let version = doc.api_version.as_ref().map_or("", |a| a.value.as_str());
        let _ = writeln!(
            out,
            "// Imported from {} ({version} {kind}) by `airlift import`.",
            cx.file
        );
        let _ = writeln!(
            out,
            "// Review it, then `airlift check` and `airlift plan`. The book's \"Coming from oc-mirror\"\n// page lists every difference."
        );
        for b in &self.blocks {
            out.push('\n');
            out.push_str(b);
        }
        let (name, url) = match to {
            Direction::Registry(u) => ("mirror", u.clone()),
            Direction::Archive(u) => ("archive", u.clone()),
        };
        out.push('\n');
        let _ = writeln!(out, "target \"{name}\" {} {{", q(&url));
        let needs: Vec<String> = self.needs.iter().map(|n| q(n)).collect();
        let _ = writeln!(out, "    needs {}", needs.join(" "));
        if let (Direction::Archive(_), Some(size)) = (to, archive_size(doc)) {
            let _ = writeln!(out, "    archive-size \"{size}GiB\"");
        }
        out.push_str("}\n");
        if let Some((d, body)) = &self.delete {
            out.push('\n');
            let _ = write!(out, "delete {} from={} {{\n{body}}}\n", q(d), q(name));
        }
        out
    }
}

fn archive_size(doc: &Doc) -> Option<u64> {
    let v = &doc.archive_size.as_ref()?.value;
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|n| *n > 0)
}

/// A KDL string literal.
pub(super) fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// ` min="…" max="…"` for the bounds that are set.
pub(super) fn bounds(min: Option<&String>, max: Option<&String>) -> String {
    let mut out = String::new();
    if let Some(v) = min {
        let _ = write!(out, " min={}", q(v));
    }
    if let Some(v) = max {
        let _ = write!(out, " max={}", q(v));
    }
    out
}

/// The name field of an entry, or an error at the entry when it has none.
pub(super) fn required<'a, T>(
    cx: &mut Cx<'_>,
    name: &'a isc::S<String>,
    at: &Spanned<T>,
    path: &str,
    what: &str,
    example: &str,
) -> Option<&'a str> {
    let found = s(name);
    if found.is_none() {
        let e = cx.field(
            at,
            path,
            &format!("{what} needs a name"),
            &format!("add `name: {example}`"),
        );
        cx.errors.push(e);
    }
    found
}

/// A KDL raw string literal (`#"…"#`) for a regex, so its backslashes read as written.
pub(super) fn raw(s: &str) -> String {
    if s.contains("\"#") || s.contains('\n') {
        return q(s);
    }
    format!("#\"{s}\"#")
}

pub(super) fn s(v: &isc::S<String>) -> Option<&str> {
    v.as_ref()
        .map(|s| s.value.as_str())
        .filter(|s| !s.is_empty())
}

pub(super) fn flag(v: &isc::S<bool>) -> bool {
    v.as_ref().is_some_and(|b| b.value)
}

#[cfg(test)]
mod tests {
    /// Any text becomes one KDL string that reads back as the same text.
    #[test]
    fn quoted_strings_read_back_as_written() {
        for text in [
            "plain",
            "a \"b\" \\c",
            "line\nbreak\r\ttab",
            "bell\u{7}nul\u{0}",
        ] {
            let doc: kdl::KdlDocument = format!("n {}", super::q(text)).parse().unwrap();
            let got = doc.nodes()[0].entries()[0].value().as_string().unwrap();
            assert_eq!(got, text);
        }
    }
}
