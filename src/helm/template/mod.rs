//! Go `text/template` with Helm's and sprig's functions: the engine that renders chart templates.
//!
//! Written here rather than taken from the `gtmpl` crate: a `gtmpl` function is handed its
//! arguments and nothing else, so it cannot reach the template set it runs in, and Helm's
//! `include` and `tpl` (which render other templates by name) cannot be written on it. It also
//! has no `break`/`continue`, and its last release dates from 2021.
//!
//! The engine is pure. It reads no files, network, clock, environment or randomness: what Helm
//! would take from those (`now`, `randAlphaNum`, `uuidv4`, `lookup`, `env`, `genCA`, …) comes
//! back as a fixed value, so a chart and its values always render to the same bytes.
//!
//! Data is `serde_json::Value` (`Null` is Go's nil). While rendering it becomes [`value::Val`],
//! which gives maps Go's reference semantics so that `set`/`merge` through one variable are
//! seen through every other. `.Files` is a JSON object `{"$files": {path: content}}` that
//! answers `Get`/`GetBytes`/`Glob`/`AsConfig`/`AsSecrets`/`Lines`, and any array answers `Has`
//! (for `.Capabilities.APIVersions.Has`).
//!
//! Where Go stops on a type mismatch the engine is lenient (a field of nil is nil, a string
//! parameter takes any value, numbers compare across int and float), since a chart that renders
//! under Helm never depends on those errors. Sprig's arithmetic is kept as it is: `add`, `sub`,
//! `mul`, `div`, `mod` work on integers, the `…f` forms on decimals.
//!
//! As in Go, a later `define` of a name replaces an earlier one, so callers add files in Helm's
//! order (most `/` in the path first, equal counts in reverse lexical order) for a parent
//! chart's definitions to win over its subcharts'.
//!
//! Layout: `limits` holds the bounds on nesting and sizes, `lex` tokenises, `parse` builds trees
//! and collects `define`s, `exec` walks them, `funcs` holds the function table and Go's
//! builtins, `printf` Go's `fmt` verbs; `sprig`, `numbers`, `collections` and `encoding` the Helm
//! and sprig functions, `files` the `.Files` methods, `yaml` Helm's `toYaml` layout and `semver`
//! Masterminds-style version constraints.

mod collections;
mod encoding;
mod exec;
mod files;
mod funcs;
mod lex;
mod limits;
mod numbers;
mod parse;
mod printf;
mod semver;
mod sprig;
mod value;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

/// A set of parsed templates: files plus every `define`/`block` they contain (Helm shares
/// named templates across a chart and all its subcharts).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    trees: BTreeMap<String, Arc<parse::Tree>>,
}

/// A parse or execution error, located at the template (file or definition's file) and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}:{line}: {message}")]
pub struct TemplateError {
    pub template: String,
    pub line: usize,
    pub message: String,
}

impl Templates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses file `name` (e.g. "mychart/templates/deployment.yaml"); its definitions join the set
    /// (a later definition of the same name replaces an earlier one, as in Go). Parse errors name
    /// the file and line.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let parsed = parse::parse(name, text)?;
        self.insert(name.to_owned(), parsed.body);
        for (define, tree) in parsed.defines {
            self.insert(define, tree);
        }
        Ok(())
    }

    /// Renders file `name` with `dot` as `.` (and `$`). Errors name the template and line where
    /// they happened (for errors inside an `include`d definition, the definition's file/line).
    pub fn render(&self, name: &str, dot: &serde_json::Value) -> Result<String, TemplateError> {
        exec::render(self, name, dot)
    }

    /// As Go does, an empty body (only spaces and comments) never replaces an existing one, so a
    /// file holding only definitions does not erase a template of the same name.
    fn insert(&mut self, name: String, tree: parse::Tree) {
        if tree.is_empty() && self.trees.contains_key(&name) {
            return;
        }
        self.trees.insert(name, Arc::new(tree));
    }

    fn get(&self, name: &str) -> Option<&Arc<parse::Tree>> {
        self.trees.get(name)
    }
}
