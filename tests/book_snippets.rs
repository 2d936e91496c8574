//! Every ```kdl block in the book is a complete recipe fragment: each must parse and validate
//! with zero errors; every ```toml block is a registries.conf airlift accepts. Other blocks are
//! marked ```text (or another language).

use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// `(line of the opening fence, block text)` of every ```kdl block.
fn kdl_blocks(text: &str) -> Vec<(usize, String)> {
    blocks(text, "kdl")
}

/// `(line of the opening fence, block text)` of every block fenced as ```lang.
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let open = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with(&open) => current = Some((i + 1, String::new())),
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_kdl_block_in_the_book_and_readme_is_a_valid_recipe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The README's recipe is the first one a newcomer copies: it is checked too.
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("book/src"), &mut files);
    let mut count = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (line, block) in kdl_blocks(&text) {
            count += 1;
            let name = format!("{rel}:{line}");
            if let Err(e) = airlift::recipe::parse_str(&name, &block) {
                failures.push(format!("{name}:\n{}", e.render_plain(100)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count > 0, "the book has no ```kdl blocks");
}

#[test]
fn every_toml_block_in_the_book_is_a_valid_registries_conf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    markdown_files(&root.join("book/src"), &mut files);
    let mut count = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (line, block) in blocks(&text, "toml") {
            count += 1;
            let name = format!("{}:{line}", file.display());
            if let Err(e) = airlift::registry::RegistriesConf::parse(Path::new(&name), &block) {
                failures.push(format!("{e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(count >= 2, "the book has no ```toml blocks");
}

#[test]
fn fence_extraction() {
    let md = "text\n```kdl\na 1\n```\n```text\nb\n```\n```kdl\nc\n```\n";
    assert_eq!(
        kdl_blocks(md),
        vec![(2, "a 1\n".to_string()), (8, "c\n".to_string())]
    );
}

/// The targets of the Markdown links `[text](target)` of `text`, outside code blocks and code
/// spans, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans are not links.
        let mut prose = String::new();
        for (n, part) in line.split('`').enumerate() {
            if n % 2 == 0 {
                prose.push_str(part);
            }
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((i + 1, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

/// Every relative link of the book and the README leads to a file that exists, and every book
/// page a link leads to is in `SUMMARY.md` (mdBook renders only those): no broken internal link.
#[test]
fn every_internal_link_of_the_book_and_readme_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let book = root.join("book/src");
    let summary = std::fs::read_to_string(book.join("SUMMARY.md")).expect("SUMMARY.md");
    let listed: Vec<PathBuf> = links(&summary)
        .into_iter()
        .map(|(_, l)| book.join(l))
        .collect();
    let mut files = vec![root.join("README.md")];
    markdown_files(&book, &mut files);
    let mut broken = Vec::new();
    let mut count = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let dir = file.parent().expect("parent");
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.starts_with('#') {
                continue;
            }
            count += 1;
            let path = target.split('#').next().unwrap_or(&target);
            let resolved = dir.join(path);
            let at = format!(
                "{}:{line}",
                file.strip_prefix(root).unwrap_or(file).display()
            );
            if !resolved.exists() {
                broken.push(format!("{at}: `{target}` does not exist"));
            } else if resolved.starts_with(&book)
                && resolved.extension().is_some_and(|e| e == "md")
                && !resolved.ends_with("SUMMARY.md")
                && !listed
                    .iter()
                    .any(|l| l.canonicalize().ok() == resolved.canonicalize().ok())
            {
                broken.push(format!("{at}: `{target}` is not in SUMMARY.md"));
            }
        }
    }
    assert!(count > 50, "only {count} links found: is the parser right?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
