//! A mutation fuzzer for the recipe front end (`cargo fuzz` style, run as a unit test so CI runs
//! it on every change in a few seconds): the seed corpus is every recipe under `recipes/` and
//! the crash regressions under `tests/fixtures/fuzz/`; each case applies a few random edits
//! (byte flips, cuts, duplications, splices between seeds, tokens from a KDL dictionary) and
//! must parse or fail with diagnostics that render, never panic and never hang. A failing case
//! is written to `target/fuzz-failures/` for replay.
//!
//! Deterministic: the seed is fixed (`AIRLIFT_FUZZ_SEED` picks another, `AIRLIFT_FUZZ_CASES`
//! runs more).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Pieces of KDL (and of our recipe language) that mutations insert.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "{}",
    "\"",
    "\"\"",
    "r#\"",
    "\"#",
    "#true",
    "#false",
    "#null",
    "#inf",
    "-#nan",
    "/-",
    "//",
    "/*",
    "*/",
    "\\",
    ";",
    "=",
    "(",
    ")",
    "(t)",
    "\n",
    "\t",
    " ",
    "0x",
    "1e999",
    "-0",
    "99999999999999999999999",
    "1.2.3",
    "\u{feff}",
    "\u{200b}",
    "é",
    "🦀",
    "\u{0}",
    "target",
    "images",
    "release",
    "catalog",
    "helm",
    "include",
    "needs",
    "only",
    "image",
    "package",
    "channel",
    "min",
    "max",
    "archive-size",
    "docker://",
    "file://",
    "oci://",
    "quay.io/a/b:1",
    "@sha256:",
    "../",
    "/",
    "..",
    "=\"\"",
    "version=",
    "from=",
    "delete",
    "block",
    "trust",
    "key",
    "keyring",
    "full=#true",
    "heads",
    "platforms",
    "rename",
    "repository",
    "chart",
    "local",
    "values",
    "image-path",
    "mapping",
    "update-url",
];

/// Seeds: every recipe of `recipes/` and every file of `tests/fixtures/fuzz/`.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.join("recipes"), root.join("tests/fixtures/fuzz")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "kdl") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

/// One random edit of `bytes`.
fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>, corpus: &[String]) {
    let at = |rng: &mut fastrand::Rng, len: usize| rng.usize(0..=len);
    match rng.u8(0..7) {
        0 if !bytes.is_empty() => {
            let i = rng.usize(0..bytes.len());
            bytes[i] ^= 1 << rng.u8(0..8);
        }
        1 if !bytes.is_empty() => {
            let a = rng.usize(0..bytes.len());
            let b = (a + rng.usize(0..64)).min(bytes.len());
            bytes.drain(a..b);
        }
        2 if !bytes.is_empty() => {
            let a = rng.usize(0..bytes.len());
            let b = (a + rng.usize(0..200)).min(bytes.len());
            let piece = bytes[a..b].to_vec();
            let i = at(rng, bytes.len());
            for _ in 0..rng.usize(1..4) {
                bytes.splice(i..i, piece.iter().copied());
            }
        }
        3 => {
            let other = corpus[rng.usize(0..corpus.len())].as_bytes();
            if !other.is_empty() {
                let a = rng.usize(0..other.len());
                let b = (a + rng.usize(0..400)).min(other.len());
                let i = at(rng, bytes.len());
                bytes.splice(i..i, other[a..b].iter().copied());
            }
        }
        4 => {
            let i = at(rng, bytes.len());
            let b = rng.u8(..);
            bytes.insert(i, b);
        }
        _ => {
            let token = DICTIONARY[rng.usize(0..DICTIONARY.len())];
            let i = at(rng, bytes.len());
            bytes.splice(i..i, token.bytes());
        }
    }
}

/// Parses `text` and renders any diagnostics as a terminal would (spans must be in range).
fn exercise(text: &str) {
    if let Err(errors) = super::parse_str("fuzz.kdl", text) {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::none());
        let mut out = String::new();
        let _ = handler.render_report(&mut out, &errors);
        assert!(!out.is_empty(), "an error renders as text");
    }
}

#[test]
fn mutated_recipes_never_crash_or_hang() {
    let seed: u64 = std::env::var("AIRLIFT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0a1f_11f7);
    let cases: usize = std::env::var("AIRLIFT_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    let corpus = corpus();
    assert!(corpus.len() >= 10, "the seed corpus is missing");
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let mut failure = None;
            for case in 0..cases {
                let mut bytes = corpus[rng.usize(0..corpus.len())].clone().into_bytes();
                for _ in 0..rng.usize(1..5) {
                    mutate(&mut rng, &mut bytes, &corpus);
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let _ = tx.send(case);
                if let Ok(trace) = std::env::var("AIRLIFT_FUZZ_TRACE") {
                    let _ = std::fs::write(trace, &text);
                }
                if std::panic::catch_unwind(|| exercise(&text)).is_err() {
                    failure = Some((case, text));
                    break;
                }
            }
            std::panic::set_hook(hook);
            failure
        })
        .expect("fuzz thread");
    // A case that takes this long is a hang (a normal case takes well under a millisecond).
    let budget = Duration::from_secs(30);
    let mut last = None;
    loop {
        match rx.recv_timeout(budget) {
            Ok(case) => last = Some(case),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("fuzz case {last:?} (seed {seed}) ran for over {budget:?}: a hang")
            }
        }
    }
    if let Some((case, text)) = worker.join().expect("fuzz thread") {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("seed-{seed}-case-{case}.kdl"));
        let _ = std::fs::write(&file, &text);
        panic!(
            "fuzz case {case} (seed {seed}) panicked; input saved to {}",
            file.display()
        );
    }
}

#[test]
fn regression_seeds_parse_or_fail_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&root)
        .expect("tests/fixtures/fuzz")
        .flatten()
    {
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).expect("seed")).into_owned();
        exercise(&text);
        n += 1;
    }
    assert!(n >= 3);
}
