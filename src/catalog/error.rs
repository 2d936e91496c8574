//! Errors of the catalog module: reading an FBC, walking a channel graph, filtering.
//!
//! Every message names the file/object or catalog/package/channel involved and every
//! diagnostic's help says what to do next. Rebuild errors live in `rebuild.rs`.

use std::path::PathBuf;

use miette::Diagnostic;

use super::semver_range::RangeError;

/// Which object of a file an error is about: its position in the stream, and its schema and
/// name when it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAt {
    pub file: PathBuf,
    /// 1-based position of the object in the file's stream of objects/documents.
    pub index: usize,
    pub schema: Option<String>,
    pub name: Option<String>,
}

impl std::fmt::Display for ObjectAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: object #{}", self.file.display(), self.index)?;
        match (&self.schema, &self.name) {
            (Some(s), Some(n)) => write!(f, " ({s} `{n}`)"),
            (Some(s), None) => write!(f, " ({s})"),
            (None, Some(n)) => write!(f, " (`{n}`)"),
            (None, None) => Ok(()),
        }
    }
}

/// Reading a file-based catalog failed.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ParseError {
    #[error("{file}: cannot read the catalog file")]
    #[diagnostic(
        code(airlift::catalog::read),
        help("check that the configs directory is readable")
    )]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: invalid {format} after object #{after}: {reason}")]
    #[diagnostic(
        code(airlift::catalog::syntax),
        help(
            "the catalog image's configs are corrupt or not a file-based catalog; check the catalog image and its `operators.operatorframework.io.index.configs.v1` label"
        )
    )]
    Syntax {
        file: String,
        format: &'static str,
        after: usize,
        reason: String,
    },
    #[error("{at}: {reason}")]
    #[diagnostic(
        code(airlift::catalog::object),
        help("fix or remove this object in the catalog; `opm validate` reports the same problem")
    )]
    Object { at: Box<ObjectAt>, reason: String },
    #[error("{at}: duplicate {schema} `{name}` (first defined in {first})")]
    #[diagnostic(
        code(airlift::catalog::duplicate),
        help("a catalog may define each package, channel and bundle once; remove the duplicate")
    )]
    Duplicate {
        at: Box<ObjectAt>,
        schema: &'static str,
        name: String,
        first: String,
    },
    #[error("{at}: belongs to package `{package}`, which has no olm.package object")]
    #[diagnostic(
        code(airlift::catalog::orphan),
        help(
            "add an olm.package object named `{package}` or remove the objects that reference it"
        )
    )]
    Orphan { at: Box<ObjectAt>, package: String },
}

/// A channel's upgrade graph could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum GraphError {
    #[error("package `{package}` channel `{channel}`: entry `{entry}` has no olm.bundle object")]
    #[diagnostic(
        code(airlift::catalog::missing_bundle),
        help(
            "the catalog is incomplete: add the olm.bundle `{entry}` or drop the entry from the channel"
        )
    )]
    MissingBundle {
        package: String,
        channel: String,
        entry: String,
    },
    #[error("package `{package}` bundle `{bundle}`: {reason}")]
    #[diagnostic(
        code(airlift::catalog::bundle_version),
        help("give the bundle an olm.package property with a semantic version")
    )]
    Version {
        package: String,
        bundle: String,
        reason: String,
    },
    #[error("package `{package}` channel `{channel}` entry `{entry}`: invalid skipRange: {source}")]
    #[diagnostic(
        code(airlift::catalog::skip_range),
        help("write the skipRange as OLM expects, e.g. `>=4.1.0 <4.2.0`")
    )]
    SkipRange {
        package: String,
        channel: String,
        entry: String,
        source: Box<RangeError>,
    },
}

/// Filtering a catalog failed: the filter does not fit the catalog, or its result would not be
/// a valid catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Diagnostic)]
pub enum FilterError {
    #[error("catalog `{catalog}` has no package `{name}`")]
    #[diagnostic(code(airlift::catalog::unknown_package))]
    UnknownPackage {
        catalog: String,
        name: String,
        #[help]
        help: String,
    },
    #[error("catalog `{catalog}` package `{package}` has no channel `{name}`")]
    #[diagnostic(code(airlift::catalog::unknown_channel))]
    UnknownChannel {
        catalog: String,
        package: String,
        name: String,
        #[help]
        help: String,
    },
    #[error("catalog `{catalog}` package `{package}` has no bundle `{name}`")]
    #[diagnostic(code(airlift::catalog::unknown_bundle))]
    UnknownBundle {
        catalog: String,
        package: String,
        name: String,
        #[help]
        help: String,
    },
    #[error(
        "catalog `{catalog}`{}: {combination} cannot be combined",
        package_suffix(package)
    )]
    #[diagnostic(code(airlift::catalog::invalid_combination))]
    InvalidCombination {
        catalog: String,
        package: Option<String>,
        combination: String,
        #[help]
        help: String,
    },
    #[error(
        "catalog `{catalog}` package `{package}`{}: no bundle has a version in {range}",
        channel_suffix(channel)
    )]
    #[diagnostic(code(airlift::catalog::empty_range))]
    EmptyRange {
        catalog: String,
        package: String,
        channel: Option<String>,
        range: String,
        #[help]
        help: String,
    },
    #[error("catalog `{catalog}` package `{package}` channel `{channel}`: {} channel heads after filtering: {}", heads.len(), heads.join(", "))]
    #[diagnostic(code(airlift::catalog::multiple_heads))]
    MultipleHeads {
        catalog: String,
        package: String,
        channel: String,
        heads: Vec<String>,
        #[help]
        help: String,
    },
    #[error("catalog `{catalog}` package `{package}` channel `{channel}`: the kept entries form a cycle ({})", members.join(" → "))]
    #[diagnostic(
        code(airlift::catalog::cycle),
        help(
            "the catalog's upgrade graph is cyclic; select bundles outside the cycle or report it to the catalog's maintainers"
        )
    )]
    Cycle {
        catalog: String,
        package: String,
        channel: String,
        members: Vec<String>,
    },
    #[error(
        "catalog `{catalog}` package `{package}`: default channel `{default_channel}` is filtered out"
    )]
    #[diagnostic(code(airlift::catalog::default_channel))]
    DefaultChannelDropped {
        catalog: String,
        package: String,
        default_channel: String,
        #[help]
        help: String,
    },
    #[error(
        "catalog `{catalog}` package `{package}` has no default channel; its channels are: {channels}"
    )]
    #[diagnostic(
        code(airlift::catalog::no_default_channel),
        help(
            "name the channel(s) to mirror with `channel \"…\"` and pick the default with `default-channel \"…\"`, or mirror the package with `full`"
        )
    )]
    NoDefaultChannel {
        catalog: String,
        package: String,
        channels: String,
    },
    #[error("catalog `{catalog}` package `{package}` channel `{channel}` has no bundles")]
    #[diagnostic(
        code(airlift::catalog::empty_channel),
        help("the catalog lists the channel without entries; pick another: {others}")
    )]
    EmptyChannel {
        catalog: String,
        package: String,
        channel: String,
        others: String,
    },
    #[error("catalog `{catalog}`: {source}")]
    #[diagnostic(code(airlift::catalog::graph))]
    Graph {
        catalog: String,
        #[source]
        #[diagnostic_source]
        source: GraphError,
    },
}

fn package_suffix(package: &Option<String>) -> String {
    package
        .as_ref()
        .map(|p| format!(" package `{p}`"))
        .unwrap_or_default()
}

fn channel_suffix(channel: &Option<String>) -> String {
    channel
        .as_ref()
        .map(|c| format!(" channel `{c}`"))
        .unwrap_or_default()
}

/// `help` text with a did-you-mean suggestion from `candidates`, or the list of what exists.
pub(crate) fn did_you_mean<'a>(
    kind: &str,
    wanted: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> String {
    let all: Vec<&str> = candidates.collect();
    let best = all
        .iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)));
    match best {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None if all.len() <= 8 => format!("available {kind}s: {}", all.join(", ")),
        None => format!(
            "run `airlift list operators` to see the {kind}s this catalog has ({} in all)",
            all.len()
        ),
    }
}
