//! `mapping "file"` in an `images` set: a mapping file of `oc image mirror -f` (and of airlift's
//! own `dry-run/mapping.txt`) read at load time. One `SOURCE=DESTINATION` per line (or the two
//! separated by spaces); blank lines and `#` comments are skipped. Each line becomes a
//! [`Mapped`] image: the source is mirrored, under the destination's repository path and tag.
//!
//! The file must be a regular file of at most [`MAX_MAPPING`] bytes; every bad line is its own
//! diagnostic at the `mapping` node, naming the line.

use std::path::Path;

use super::decode::Ctx;
use super::decode_values::path_value;
use super::model::{Mapped, Spanned};
use crate::oci::ImageRef;

/// Mapping files larger than this are refused (a mapping of 100,000 images is ~20 MiB).
pub const MAX_MAPPING: u64 = 64 * 1024 * 1024;

/// Reads and parses the mapping file `path` (relative to the recipe file).
pub(crate) fn read(ctx: &mut Ctx<'_>, path: &Spanned<String>) -> Vec<Mapped> {
    let file = path_value(ctx, path);
    let span = path.span;
    let fail = |ctx: &mut Ctx<'_>, message: String, help: &str| {
        let e = ctx
            .error(span, "this mapping file", message)
            .help(help.to_string());
        ctx.push(e);
    };
    let shown = file.value.display().to_string();
    match std::fs::metadata(&file.value) {
        Ok(m) if !m.is_file() => {
            fail(
                ctx,
                format!("mapping file {shown} is not a regular file"),
                "name a text file of SOURCE=DESTINATION lines",
            );
            return Vec::new();
        }
        Ok(m) if m.len() > MAX_MAPPING => {
            fail(
                ctx,
                format!(
                    "mapping file {shown} is {} bytes, more than the {MAX_MAPPING}-byte limit",
                    m.len()
                ),
                "split it into several files, one `mapping` each",
            );
            return Vec::new();
        }
        Ok(_) => {}
        Err(e) => {
            fail(
                ctx,
                format!("cannot read mapping file {shown}: {e}"),
                "mapping paths are relative to the recipe file's directory; check the name",
            );
            return Vec::new();
        }
    }
    let text = match std::fs::read_to_string(&file.value) {
        Ok(t) => t,
        Err(e) => {
            fail(
                ctx,
                format!("cannot read mapping file {shown}: {e}"),
                "the file must be UTF-8 text",
            );
            return Vec::new();
        }
    };
    parse(ctx, &text, &file.value, span)
}

fn parse(ctx: &mut Ctx<'_>, text: &str, file: &Path, span: miette::SourceSpan) -> Vec<Mapped> {
    let mut out = Vec::new();
    let mut bad_lines = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let pair = line
            .split_once('=')
            .or_else(|| line.split_once(char::is_whitespace));
        let mut bad = |ctx: &mut Ctx<'_>, why: String| {
            bad_lines += 1;
            let e = ctx
                .error(span, "this mapping file", format!("{}:{}: {why}", file.display(), n + 1))
                .help("each line is SOURCE=DESTINATION, e.g. quay.io/ns/app:1.0=mirror.example.com/ns/app:1.0");
            ctx.push(e);
        };
        let Some((src, dst)) = pair else {
            bad(ctx, format!("`{line}` is not SOURCE=DESTINATION"));
            continue;
        };
        let (src, dst) = (src.trim(), dst.trim());
        match (src.parse::<ImageRef>(), dst.parse::<ImageRef>()) {
            (Ok(source), Ok(dest)) => out.push(Mapped { span, source, dest }),
            (Err(e), _) => bad(ctx, format!("source `{src}`: {e}")),
            (_, Err(e)) => bad(ctx, format!("destination `{dst}`: {e}")),
        }
    }
    if out.is_empty() && bad_lines == 0 {
        let e = ctx
            .error(
                span,
                "this mapping file",
                format!("mapping file {} lists no image", file.display()),
            )
            .help("add SOURCE=DESTINATION lines, or remove the `mapping`");
        ctx.push(e);
    }
    out
}
