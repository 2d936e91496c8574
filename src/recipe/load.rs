//! Reading recipes: the root file, `include`d files (relative to the including file, each read
//! once, cycles reported), KDL v2 parsing, then decoding and validation of everything at once.
//!
//! The only module of `recipe` that touches the filesystem, and only to read.

use std::fs;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlNode};

use super::decode::{self, Ctx, Decoded};
use super::decode_values;
use super::diagnostics::{FileId, RecipeError, RecipeErrors, SourceFile};
use super::model::Recipe;
use super::validate::validate;

/// Recipe files larger than this are refused (a recipe of thousands of images is ~1 MiB).
pub const MAX_RECIPE: u64 = 16 * 1024 * 1024;
/// Deeper block nesting than this is refused before parsing (recipes nest 4 levels).
pub const MAX_DEPTH: usize = 64;
/// Blocks one file may open, counting every `{` (in strings and comments too): a bound on the
/// KDL parser's recursion that no trick on its lexer can get around. Its thread's stack holds
/// this many levels with room to spare (about 7 KiB a level in a debug build).
pub const MAX_BLOCKS: usize = 4_000;
/// The stack of the thread that runs the KDL parser.
const PARSE_STACK: usize = 128 << 20;

/// Reads a recipe file: a regular file (not a directory, device or FIFO, which could block or
/// never end) of at most [`MAX_RECIPE`] bytes.
fn read_text(path: &Path) -> std::io::Result<String> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_RECIPE {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {MAX_RECIPE}-byte limit",
            meta.len()
        )));
    }
    fs::read_to_string(path)
}

/// The offset of the first `{` that opens a block deeper than [`MAX_DEPTH`], skipping strings
/// (with escapes), raw strings (`#"…"#`) and comments (`//`, nested `/* */`).
fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let (mut i, mut depth) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    let close: Vec<u8> = std::iter::once(b'"')
                        .chain(std::iter::repeat_n(b'#', hashes))
                        .collect();
                    let from = i + hashes + 1;
                    i = b[from..]
                        .windows(close.len())
                        .position(|w| w == close.as_slice())
                        .map_or(b.len(), |p| from + p + close.len() - 1);
                } else {
                    i += hashes - 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 1;
                i += 2;
                while i < b.len() && nest > 0 {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        nest += 1;
                        i += 1;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        nest -= 1;
                        i += 1;
                    }
                    i += 1;
                }
                continue;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Reads and validates the recipe at `path` and every file it includes.
pub fn load(path: &Path) -> Result<Recipe, RecipeErrors> {
    let text = read_text(path).map_err(|e| {
        RecipeErrors::single(RecipeError::io(
            format!("cannot read recipe {}: {e}", path.display()),
            "check the path, pass another recipe with -f FILE, or run `airlift init` to write a starter airlift.kdl",
        ))
    })?;
    if let Some(kind) = crate::import::is_image_set(&text) {
        return Err(RecipeErrors::single(foreign(path, text, kind)));
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let canonical = fs::canonicalize(path).ok();
    build(SourceFile::new(path, text), canonical, base)
}

/// An oc-mirror image set given where a recipe was expected: say so, at its `kind:` line, with
/// the import command.
fn foreign(path: &Path, text: String, kind: &str) -> RecipeError {
    let at = text.find(kind).unwrap_or(0);
    let shown = path.display().to_string();
    let src = SourceFile::new(path, text);
    RecipeError::at(
        0,
        &src,
        (at, kind.len()).into(),
        "an oc-mirror image set",
        format!("{shown} is an oc-mirror {kind}, not an airlift recipe (KDL)"),
    )
    .help(format!(
        "convert it once with `airlift import {shown} -o airlift.kdl` (add --to docker://HOST/NS or --to file://DIR for the target), then use the recipe"
    ))
}

/// Parses and validates recipe text; `include` paths resolve against the current directory.
pub fn parse_str(name: &str, text: &str) -> Result<Recipe, RecipeErrors> {
    build(SourceFile::new(name, text), None, PathBuf::new())
}

fn build(
    root: SourceFile,
    canonical: Option<PathBuf>,
    base: PathBuf,
) -> Result<Recipe, RecipeErrors> {
    let mut loader = Loader::default();
    loader.file(root, canonical, &base);
    let Loader {
        files,
        mut errors,
        decoded,
        parse_failed,
        ..
    } = loader;
    let mut recipe = Recipe {
        files,
        sets: decoded.sets,
        trusts: decoded.trusts,
        targets: decoded.targets,
        deletes: decoded.deletes,
        registries: decoded.registries,
    };
    if !parse_failed {
        validate(&mut recipe, &decoded.broken, &mut errors);
    }
    if errors.is_empty() {
        Ok(recipe)
    } else {
        Err(RecipeErrors::new(errors))
    }
}

#[derive(Default)]
struct Loader {
    files: Vec<SourceFile>,
    /// Canonical paths of files read so far (an include of one of them is skipped).
    seen: Vec<PathBuf>,
    /// Canonical paths of the files currently being read, outermost first.
    stack: Vec<(PathBuf, FileId)>,
    errors: Vec<RecipeError>,
    decoded: Decoded,
    /// A file did not parse: cross-references would report declarations it holds as missing.
    parse_failed: bool,
}

impl Loader {
    fn file(&mut self, src: SourceFile, canonical: Option<PathBuf>, base: &Path) {
        let id = self.files.len();
        self.files.push(src.clone());
        // The KDL parser recurses per level: refuse what would exhaust the stack.
        if let Some(at) = too_deep(&src.text) {
            self.parse_failed = true;
            self.errors.push(
                RecipeError::at(id, &src, (at, 1).into(), "too deep", format!("blocks nest deeper than {MAX_DEPTH} levels"))
                    .help("a recipe nests at most a few levels (`catalog` › `package` › `channel`); remove the extra `{`"),
            );
            return;
        }
        let blocks = src.text.bytes().filter(|&b| b == b'{').count();
        if blocks > MAX_BLOCKS {
            self.parse_failed = true;
            let at = src
                .text
                .match_indices('{')
                .nth(MAX_BLOCKS)
                .map_or(0, |(i, _)| i);
            self.errors.push(
                RecipeError::at(
                    id,
                    &src,
                    (at, 1).into(),
                    "too many blocks",
                    format!("the file opens more than {MAX_BLOCKS} blocks (`{{`)"),
                )
                .help("split the recipe into several files with `include \"FILE\"`"),
            );
            return;
        }
        let parsed = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("kdl-parse".into())
                .stack_size(PARSE_STACK)
                .spawn_scoped(scope, || KdlDocument::parse_v2(&src.text))
                .map(|h| h.join())
        });
        let parsed = match parsed {
            Ok(Ok(p)) => p,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => {
                self.parse_failed = true;
                self.errors.push(RecipeError::io(
                    format!("cannot start the recipe parser: {e}"),
                    "the machine is out of threads or memory; retry",
                ));
                return;
            }
        };
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) => {
                self.parse_failed = true;
                for d in e.diagnostics {
                    let message = d.message.unwrap_or_else(|| "invalid KDL".to_string());
                    let label = d.label.unwrap_or_else(|| "here".to_string());
                    let help = d.help.unwrap_or_else(|| {
                        "see https://kdl.dev for the KDL v2 syntax (strings are quoted, booleans are #true/#false)".to_string()
                    });
                    self.errors
                        .push(RecipeError::at(id, &src, d.span, label, message).help(help));
                }
                return;
            }
        };
        if let Some(c) = &canonical {
            self.seen.push(c.clone());
            self.stack.push((c.clone(), id));
        }
        let mut ctx = Ctx {
            file: id,
            src: &src,
            base,
            errors: &mut self.errors,
        };
        decode::reject_annotations(&mut ctx, &doc);
        for node in doc.nodes() {
            if node.name().value() == "include" {
                self.include(id, &src, node, base);
            } else {
                let mut ctx = Ctx {
                    file: id,
                    src: &src,
                    base,
                    errors: &mut self.errors,
                };
                decode::top_level(&mut ctx, node, &mut self.decoded);
            }
        }
        if canonical.is_some() {
            self.stack.pop();
        }
    }

    fn include(&mut self, id: FileId, src: &SourceFile, node: &KdlNode, base: &Path) {
        let usage = "include \"other.kdl\"";
        let mut ctx = Ctx {
            file: id,
            src,
            base,
            errors: &mut self.errors,
        };
        decode::check_props(&mut ctx, node, &[]);
        decode::check_arg_count(&mut ctx, node, 1, usage);
        decode::no_children(&mut ctx, node);
        let Some(rel) = decode::str_arg(&mut ctx, node, 0, "a path", usage) else {
            return;
        };
        let path = decode_values::resolve(base, Path::new(&rel.value));
        let shown_base = if base.as_os_str().is_empty() {
            ".".to_string()
        } else {
            base.display().to_string()
        };
        let read = fs::canonicalize(&path).and_then(|c| read_text(&c).map(|t| (c, t)));
        let (canonical, text) = match read {
            Ok(ok) => ok,
            Err(e) => {
                let err = ctx
                    .error(rel.span, "cannot read", format!("cannot read included file {}: {e}", path.display()))
                    .help(format!("include paths are relative to the including file's directory ({shown_base}); check the name"));
                ctx.push(err);
                return;
            }
        };
        if let Some(pos) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let mut chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(_, f)| self.files[*f].display_name())
                .collect();
            chain.push(path.display().to_string());
            let err = RecipeError::at(id, src, rel.span, "includes an outer file", format!("include cycle: {}", chain.join(" → ")))
                .help("remove this include; a file cannot include a file that (directly or indirectly) includes it");
            self.errors.push(err);
            return;
        }
        if self.seen.contains(&canonical) {
            return;
        }
        let next_base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.file(SourceFile::new(path, text), Some(canonical), &next_base);
    }
}
