//! Every ```kdl block in the book is a complete recipe fragment: each must parse and validate
//! with zero errors. Non-recipe blocks are marked ```text (or another language).

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
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```kdl") => current = Some((i + 1, String::new())),
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
fn fence_extraction() {
    let md = "text\n```kdl\na 1\n```\n```text\nb\n```\n```kdl\nc\n```\n";
    assert_eq!(
        kdl_blocks(md),
        vec![(2, "a 1\n".to_string()), (8, "c\n".to_string())]
    );
}
