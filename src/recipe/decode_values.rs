//! Value decoding shared by the node decoders: strings, booleans, whole numbers, versions and
//! ranges, image references, URLs and paths (resolved against the recipe file's directory).
//!
//! Pure: pushes errors onto the [`Ctx`]; never reads files.

use std::path::{Component, Path, PathBuf};

use kdl::{KdlEntry, KdlNode, KdlValue};
use semver::Version;

use super::decode::Ctx;
use super::model::Spanned;
use crate::oci::ImageRef;

pub(crate) fn value_type(v: &KdlValue) -> &'static str {
    match v {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

/// The string value of an entry, or an error saying what type it has.
pub(crate) fn entry_str(ctx: &mut Ctx<'_>, e: &KdlEntry, what: &str) -> Option<Spanned<String>> {
    match e.value() {
        KdlValue::String(s) => Some(Spanned::new(s.clone(), e.span())),
        other => {
            let err = ctx
                .error(
                    e.span(),
                    format!("{} here", value_type(other)),
                    format!("{what} must be a string"),
                )
                .help(format!("quote it: \"{}\"", unquoted(other)));
            ctx.push(err);
            None
        }
    }
}

fn unquoted(v: &KdlValue) -> String {
    match v {
        KdlValue::String(s) => s.clone(),
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        KdlValue::Bool(b) => b.to_string(),
        KdlValue::Null => "null".into(),
    }
}

pub(crate) fn prop<'n>(node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
    node.entries()
        .iter()
        .rev()
        .find(|e| e.name().is_some_and(|k| k.value() == key))
}

pub(crate) fn prop_str(ctx: &mut Ctx<'_>, node: &KdlNode, key: &str) -> Option<Spanned<String>> {
    let e = prop(node, key)?;
    entry_str(ctx, e, &format!("`{key}`"))
}

pub(crate) fn prop_bool(ctx: &mut Ctx<'_>, node: &KdlNode, key: &str) -> Option<Spanned<bool>> {
    let e = prop(node, key)?;
    match e.value() {
        KdlValue::Bool(b) => Some(Spanned::new(*b, e.span())),
        other => {
            let err = ctx
                .error(
                    e.span(),
                    format!("{} here", value_type(other)),
                    format!("`{key}` takes #true or #false"),
                )
                .help(format!("write {key}=#true or {key}=#false"));
            ctx.push(err);
            None
        }
    }
}

/// A semantic version property (`min="4.15.0"`).
pub(crate) fn prop_version(
    ctx: &mut Ctx<'_>,
    node: &KdlNode,
    key: &str,
) -> Option<Spanned<Version>> {
    let s = prop_str(ctx, node, key)?;
    version(ctx, &s)
}

pub(crate) fn version(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<Version>> {
    match Version::parse(&s.value) {
        Ok(v) => Some(Spanned::new(v, s.span)),
        Err(e) => {
            let err = ctx
                .error(s.span, "not a semantic version", format!("`{}` is not a semantic version: {e}", s.value))
                .help("write MAJOR.MINOR.PATCH such as \"4.15.3\" (optionally with -prerelease); a leading `v` or a short form like \"4.15\" is not accepted");
            ctx.push(err);
            None
        }
    }
}

/// Reports `min` greater than `max`, pointing at both.
pub(crate) fn check_range(
    ctx: &mut Ctx<'_>,
    min: &Option<Spanned<Version>>,
    max: &Option<Spanned<Version>>,
) {
    if let (Some(lo), Some(hi)) = (min, max)
        && lo.value > hi.value
    {
        let err = ctx
            .error(
                lo.span,
                "min",
                format!("min {} is greater than max {}", lo.value, hi.value),
            )
            .also(hi.span, "max")
            .help("swap them, or raise max to at least min");
        ctx.push(err);
    }
}

pub(crate) fn image_ref(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<ImageRef>> {
    match s.value.parse::<ImageRef>() {
        Ok(r) => Some(Spanned::new(r, s.span)),
        Err(e) => {
            let err = ctx
                .error(s.span, "invalid image reference", e.to_string())
                .help("write `registry/path:tag` or `registry/path@sha256:<64 hex>`, e.g. \"registry.redhat.io/ubi9/ubi:latest\"");
            ctx.push(err);
            None
        }
    }
}

/// A path written in the recipe, resolved against the file's directory and cleaned lexically.
pub(crate) fn path_value(ctx: &Ctx<'_>, s: &Spanned<String>) -> Spanned<PathBuf> {
    Spanned::new(resolve(ctx.base, Path::new(&s.value)), s.span)
}

/// Joins `p` to `base` unless absolute, removing `.` and resolving `..` where possible.
pub(crate) fn resolve(base: &Path, p: &Path) -> PathBuf {
    clean(&base.join(p))
}

pub(crate) fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// A `http://` or `https://` URL property.
pub(crate) fn url(ctx: &mut Ctx<'_>, s: &Spanned<String>, what: &str) -> bool {
    let ok = ["https://", "http://"]
        .iter()
        .any(|p| s.value.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
    if !ok {
        let err = ctx
            .error(
                s.span,
                "not an http(s) URL",
                format!("{what} `{}` is not an http(s) URL", s.value),
            )
            .help("write a full URL such as \"https://example.com/path\"");
        ctx.push(err);
    }
    ok
}

/// A whole number in `min..=max` written as `e` (for `what`, e.g. `` `concurrency` ``); anything
/// else (a string, a float, out of range) is an error with `usage` as the example.
pub(crate) fn whole_number(
    ctx: &mut Ctx<'_>,
    e: &KdlEntry,
    (min, max): (u32, u32),
    what: &str,
    usage: &str,
) -> Option<Spanned<u32>> {
    match e.value() {
        KdlValue::Integer(n) if (i128::from(min)..=i128::from(max)).contains(n) => {
            Some(Spanned::new(*n as u32, e.span()))
        }
        _ => {
            let range = if max == u32::MAX {
                format!("of at least {min}")
            } else {
                format!("from {min} to {max}")
            };
            let err = ctx
                .error(
                    e.span(),
                    format!("not a whole number {range}"),
                    format!("{what} must be an integer {range}"),
                )
                .help(format!("write it without quotes, e.g. `{usage}`"));
            ctx.push(err);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_resolves_dots() {
        assert_eq!(
            resolve(Path::new("recipes"), Path::new("./catalogs/x")),
            PathBuf::from("recipes/catalogs/x")
        );
        assert_eq!(
            resolve(Path::new("recipes/bad"), Path::new("../included/a.kdl")),
            PathBuf::from("recipes/included/a.kdl")
        );
        assert_eq!(
            resolve(Path::new("recipes"), Path::new("/media/x")),
            PathBuf::from("/media/x")
        );
        assert_eq!(
            resolve(Path::new(""), Path::new("out")),
            PathBuf::from("out")
        );
        assert_eq!(clean(Path::new("../a")), PathBuf::from("../a"));
    }
}
