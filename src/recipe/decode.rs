//! Hand decoding of KDL nodes: the shared helpers (arguments, properties, children, values) and
//! the top-level dispatch to the set, trust, target and delete decoders.
//!
//! Every problem becomes a [`RecipeError`] pushed onto the context; decoding always continues so
//! all mistakes are reported at once. No file I/O here (`include` is handled by `load`).

use std::collections::BTreeSet;
use std::path::Path;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::decode_values::{entry_str, value_type};
use super::diagnostics::{FileId, RecipeError, SourceFile, suggest};
use super::model::{ContentSet, Delete, Origin, RegistrySettings, Spanned, Target, Trust};
use super::{decode_sets, decode_targets};

/// Top-level node names, for did-you-mean.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "release", "catalog", "images", "helm", "trust", "target", "delete", "registry", "include",
];

/// What the files of a recipe declare, before cross-references are resolved.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub sets: Vec<ContentSet>,
    pub trusts: Vec<Trust>,
    pub targets: Vec<Target>,
    pub deletes: Vec<Delete>,
    pub registries: Vec<RegistrySettings>,
    /// Names of declarations that failed to decode; their errors are already reported.
    pub broken: BTreeSet<String>,
}

/// The file being decoded and where its errors go.
pub(crate) struct Ctx<'a> {
    pub file: FileId,
    pub src: &'a SourceFile,
    /// Directory that relative paths in this file are resolved against.
    pub base: &'a Path,
    pub errors: &'a mut Vec<RecipeError>,
}

impl Ctx<'_> {
    pub fn error(
        &self,
        span: SourceSpan,
        label: impl Into<String>,
        message: impl Into<String>,
    ) -> RecipeError {
        RecipeError::at(self.file, self.src, span, label, message)
    }

    pub fn push(&mut self, e: RecipeError) {
        self.errors.push(e);
    }

    pub fn origin(&self, node: &KdlNode) -> Origin {
        Origin {
            file: self.file,
            span: node.span(),
        }
    }
}

/// Decodes one top-level node (anything but `include`).
pub(crate) fn top_level(ctx: &mut Ctx<'_>, node: &KdlNode, out: &mut Decoded) {
    let decoded = match node.name().value() {
        "release" => decode_sets::release(ctx, node).map(|s| out.sets.push(ContentSet::Release(s))),
        "catalog" => decode_sets::catalog(ctx, node).map(|s| out.sets.push(ContentSet::Catalog(s))),
        "images" => decode_sets::images(ctx, node).map(|s| out.sets.push(ContentSet::Images(s))),
        "helm" => decode_sets::helm(ctx, node).map(|s| out.sets.push(ContentSet::Helm(s))),
        "trust" => decode_targets::trust(ctx, node).map(|t| out.trusts.push(t)),
        "target" => decode_targets::target(ctx, node).map(|t| out.targets.push(t)),
        "delete" => decode_targets::delete(ctx, node).map(|d| out.deletes.push(d)),
        // A host is not a declaration name: a broken one must not hide a set's errors.
        "registry" => {
            if let Some(r) = decode_targets::registry(ctx, node) {
                out.registries.push(r);
            }
            Some(())
        }
        other => {
            unknown_node(ctx, node, other, TOP_LEVEL, "the top level");
            Some(())
        }
    };
    if decoded.is_none()
        && let Some(KdlValue::String(name)) = args(node).first().map(|e| e.value())
    {
        out.broken.insert(name.clone());
    }
}

pub(crate) fn unknown_node(
    ctx: &mut Ctx<'_>,
    node: &KdlNode,
    name: &str,
    allowed: &[&str],
    place: &str,
) {
    let e = ctx
        .error(
            node.name().span(),
            "unknown node",
            format!("unknown node `{name}` in {place}"),
        )
        .help(suggest(name, allowed, "nodes"));
    ctx.push(e);
}

/// Positional arguments of a node.
pub(crate) fn args(node: &KdlNode) -> Vec<&KdlEntry> {
    node.entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect()
}

/// Reports properties not in `allowed` (with did-you-mean) and properties given twice.
pub(crate) fn check_props(ctx: &mut Ctx<'_>, node: &KdlNode, allowed: &[&str]) {
    let node_name = node.name().value();
    let mut seen: Vec<(&str, SourceSpan)> = Vec::new();
    for e in node.entries() {
        let Some(key) = e.name() else { continue };
        let k = key.value();
        if !allowed.contains(&k) {
            let err = ctx
                .error(
                    key.span(),
                    "unknown property",
                    format!("`{node_name}` has no property `{k}`"),
                )
                .help(suggest(k, allowed, "properties"));
            ctx.push(err);
        } else if let Some((_, first)) = seen.iter().find(|(s, _)| *s == k) {
            let err = ctx
                .error(
                    e.span(),
                    "given again here",
                    format!("property `{k}` is given twice"),
                )
                .also(*first, "first given here")
                .help("keep one of them");
            ctx.push(err);
        } else {
            seen.push((k, e.span()));
        }
    }
}

/// Reports positional arguments beyond the first `max`.
pub(crate) fn check_arg_count(ctx: &mut Ctx<'_>, node: &KdlNode, max: usize, usage: &str) {
    for extra in args(node).into_iter().skip(max) {
        let e = ctx
            .error(
                extra.span(),
                "unexpected argument",
                format!("`{}` takes {max} argument(s)", node.name().value()),
            )
            .help(format!("write it as `{usage}`"));
        ctx.push(e);
    }
}

/// The `idx`-th positional argument as a string; missing → error at the node name.
pub(crate) fn str_arg(
    ctx: &mut Ctx<'_>,
    node: &KdlNode,
    idx: usize,
    what: &str,
    usage: &str,
) -> Option<Spanned<String>> {
    match args(node).get(idx) {
        Some(e) => entry_str(ctx, e, what),
        None => {
            let err = ctx
                .error(
                    node.name().span(),
                    format!("{what} missing"),
                    format!("`{}` needs {what}", node.name().value()),
                )
                .help(format!("write it as `{usage}`"));
            ctx.push(err);
            None
        }
    }
}

/// All positional arguments as strings; at least one is required.
pub(crate) fn str_args(
    ctx: &mut Ctx<'_>,
    node: &KdlNode,
    what: &str,
    usage: &str,
) -> Vec<Spanned<String>> {
    let a = args(node);
    if a.is_empty() {
        let err = ctx
            .error(
                node.name().span(),
                format!("{what} missing"),
                format!("`{}` needs at least one {what}", node.name().value()),
            )
            .help(format!("write it as `{usage}`"));
        ctx.push(err);
    }
    a.into_iter()
        .filter_map(|e| entry_str(ctx, e, what))
        .collect()
}

/// A node whose single argument is `#true` or `#false` (`graph #true`).
pub(crate) fn bool_node(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Spanned<bool>> {
    check_props(ctx, node, &[]);
    no_children(ctx, node);
    let name = node.name().value();
    let usage = format!("{name} #true");
    check_arg_count(ctx, node, 1, &usage);
    match args(node).first() {
        Some(e) => match e.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, e.span())),
            other => {
                let err = ctx
                    .error(
                        e.span(),
                        format!("{} here", value_type(other)),
                        format!("`{name}` takes #true or #false"),
                    )
                    .help(format!("write `{name} #true` or `{name} #false`"));
                ctx.push(err);
                None
            }
        },
        None => {
            let err = ctx
                .error(
                    node.name().span(),
                    "value missing",
                    format!("`{name}` needs a value"),
                )
                .help(format!("write `{name} #true` or `{name} #false`"));
            ctx.push(err);
            None
        }
    }
}

/// Children of a node; unknown names are reported and left out.
pub(crate) fn children<'n>(
    ctx: &mut Ctx<'_>,
    node: &'n KdlNode,
    allowed: &[&str],
) -> Vec<&'n KdlNode> {
    let Some(doc) = node.children() else {
        return Vec::new();
    };
    let place = format!("`{}`", node.name().value());
    let mut out = Vec::new();
    for child in doc.nodes() {
        let name = child.name().value();
        if allowed.contains(&name) {
            out.push(child);
        } else {
            unknown_node(ctx, child, name, allowed, &place);
        }
    }
    out
}

/// Reports a children block on a node that takes none.
pub(crate) fn no_children(ctx: &mut Ctx<'_>, node: &KdlNode) {
    if let Some(doc) = node.children()
        && !doc.nodes().is_empty()
    {
        let name = node.name().value();
        let err = ctx
            .error(
                doc.span(),
                "unexpected block",
                format!("`{name}` takes no children"),
            )
            .help(format!("remove the `{{ … }}` block after `{name}`"));
        ctx.push(err);
    }
}

/// Reports a node that may appear only once in its block; returns false for a repeat.
pub(crate) fn once(
    ctx: &mut Ctx<'_>,
    seen: &mut Vec<(String, SourceSpan)>,
    node: &KdlNode,
) -> bool {
    let name = node.name().value();
    if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
        let err = ctx
            .error(
                node.name().span(),
                "given again here",
                format!("`{name}` is given twice"),
            )
            .also(*first, "first given here")
            .help("keep one of them");
        ctx.push(err);
        false
    } else {
        seen.push((name.to_string(), node.name().span()));
        true
    }
}

/// Reports names given twice within one node (channels of a release, packages of a catalog).
pub(crate) fn check_unique<'s>(
    ctx: &mut Ctx<'_>,
    names: impl Iterator<Item = &'s Spanned<String>>,
    what: &str,
) {
    let mut seen: Vec<&Spanned<String>> = Vec::new();
    for n in names {
        if let Some(first) = seen.iter().find(|s| s.value == n.value) {
            let err = ctx
                .error(
                    n.span,
                    "given again here",
                    format!("{what} `{}` is listed twice", n.value),
                )
                .also(first.span, "first listed here")
                .help("merge the two entries into one");
            ctx.push(err);
        } else {
            seen.push(n);
        }
    }
}

/// Type annotations (`(type)node`, `(type)"value"`) have no meaning in recipes: reports each.
pub(crate) fn reject_annotations(ctx: &mut Ctx<'_>, doc: &KdlDocument) {
    for node in doc.nodes() {
        let tys = node
            .ty()
            .into_iter()
            .chain(node.entries().iter().filter_map(|e| e.ty()));
        let spans: Vec<(SourceSpan, String)> =
            tys.map(|t| (t.span(), t.value().to_string())).collect();
        for (span, ty) in spans {
            let e = ctx
                .error(
                    span,
                    "type annotation",
                    format!("type annotation `({ty})` is not used in recipes"),
                )
                .help(format!("remove `({ty})`"));
            ctx.push(e);
        }
        if let Some(children) = node.children() {
            reject_annotations(ctx, children);
        }
    }
}
