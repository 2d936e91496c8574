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

/// The fields of the Kubernetes batch/v1 Job schema (and the core/v1 types under it) the
/// book's Jobs may use, per object type; a misspelt or invented field fails.
fn job_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Job" => &["apiVersion", "kind", "metadata", "spec"],
        "ObjectMeta" => &["name", "namespace", "labels", "annotations"],
        "JobSpec" => &[
            "activeDeadlineSeconds",
            "backoffLimit",
            "backoffLimitPerIndex",
            "completionMode",
            "completions",
            "managedBy",
            "manualSelector",
            "maxFailedIndexes",
            "parallelism",
            "podFailurePolicy",
            "podReplacementPolicy",
            "selector",
            "successPolicy",
            "suspend",
            "template",
            "ttlSecondsAfterFinished",
        ],
        "PodTemplateSpec" => &["metadata", "spec"],
        "PodSpec" => &[
            "affinity",
            "containers",
            "imagePullSecrets",
            "initContainers",
            "nodeSelector",
            "restartPolicy",
            "securityContext",
            "serviceAccountName",
            "tolerations",
            "volumes",
        ],
        "Container" => &[
            "args",
            "command",
            "env",
            "envFrom",
            "image",
            "imagePullPolicy",
            "name",
            "resources",
            "securityContext",
            "volumeMounts",
            "workingDir",
        ],
        "EnvVar" => &["name", "value", "valueFrom"],
        "VolumeMount" => &["mountPath", "name", "readOnly", "subPath"],
        "Volume" => &[
            "configMap",
            "emptyDir",
            "name",
            "persistentVolumeClaim",
            "secret",
        ],
        "PersistentVolumeClaimVolumeSource" => &["claimName", "readOnly"],
        "SecretVolumeSource" => &["defaultMode", "items", "optional", "secretName"],
        _ => &[],
    }
}

/// Problems of `value` as an object of type `kind` (field names, and the types of the fields
/// that matter), descending into the typed fields.
fn check_job_object(kind: &str, value: &serde_json::Value, at: &str, problems: &mut Vec<String>) {
    use serde_json::Value;
    let Value::Object(map) = value else {
        problems.push(format!("{at}: a {kind} must be a mapping"));
        return;
    };
    for (k, v) in map {
        let here = format!("{at}.{k}");
        if !job_fields(kind).contains(&k.as_str()) {
            problems.push(format!("{here}: not a field of {kind}"));
            continue;
        }
        let each = |item_kind: &str, problems: &mut Vec<String>| match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_job_object(item_kind, item, &format!("{here}[{i}]"), problems);
                }
            }
            _ => problems.push(format!("{here}: must be a list")),
        };
        match (kind, k.as_str()) {
            ("Job", "metadata") | ("PodTemplateSpec", "metadata") => {
                check_job_object("ObjectMeta", v, &here, problems)
            }
            ("Job", "spec") => check_job_object("JobSpec", v, &here, problems),
            ("JobSpec", "template") => check_job_object("PodTemplateSpec", v, &here, problems),
            ("PodTemplateSpec", "spec") => check_job_object("PodSpec", v, &here, problems),
            ("PodSpec", "containers") => each("Container", problems),
            ("PodSpec", "volumes") => each("Volume", problems),
            ("Container", "env") => each("EnvVar", problems),
            ("Container", "volumeMounts") => each("VolumeMount", problems),
            ("Volume", "persistentVolumeClaim") => {
                check_job_object("PersistentVolumeClaimVolumeSource", v, &here, problems)
            }
            ("Volume", "secret") => check_job_object("SecretVolumeSource", v, &here, problems),
            _ => {
                if let Some(wrong) = wrong_value(kind, k, v) {
                    problems.push(format!("{here}: {wrong}"));
                }
            }
        }
    }
}

/// What is wrong with the value of a scalar field that matters, if anything.
fn wrong_value(kind: &str, field: &str, v: &serde_json::Value) -> Option<&'static str> {
    let list_of_strings = |v: &serde_json::Value| {
        v.as_array()
            .is_some_and(|a| a.iter().all(|s| s.is_string()))
    };
    match (kind, field) {
        ("JobSpec", "completions" | "parallelism" | "backoffLimit" | "backoffLimitPerIndex") => {
            (!v.is_u64()).then_some("must be an integer")
        }
        ("JobSpec", "completionMode") => (!matches!(v.as_str(), Some("Indexed" | "NonIndexed")))
            .then_some("must be Indexed or NonIndexed"),
        // A Job's pods may not use Always.
        ("PodSpec", "restartPolicy") => (!matches!(v.as_str(), Some("Never" | "OnFailure")))
            .then_some("a Job's pods restart Never or OnFailure"),
        ("Container", "command" | "args") => {
            (!list_of_strings(v)).then_some("must be a list of strings")
        }
        _ => None,
    }
}

/// Scale (#19): the Kubernetes Indexed Job of the "Scaling out" guide is a valid batch/v1 Job
/// (the fields it uses, their types, mounts naming volumes), its pods run `--shard` with
/// `JOB_COMPLETION_INDEX + 1` over as many shards as it has completions, the second Job runs
/// `--shards-done` with the same count, and every airlift command line of the page (the CI
/// matrix too) parses with airlift's own argument parser.
#[test]
fn the_scaling_out_guide_shows_a_valid_indexed_job_and_commands_that_parse() {
    use clap::Parser as _;
    use serde_json::Value;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("book/src/guide/scaling-out.md")).expect("the guide");
    let yaml = blocks(&text, "yaml");
    assert_eq!(yaml.len(), 2, "the Job and the CI matrix");
    let jobs: Vec<Value> = serde_saphyr::from_multiple(&yaml[0].1).expect("YAML");
    assert_eq!(jobs.len(), 2, "the shards Job and the --shards-done Job");
    let mut problems = Vec::new();
    let mut commands = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["kind"], "Job");
        check_job_object("Job", job, &format!("document {i}"), &mut problems);
        let pod = &job["spec"]["template"]["spec"];
        let volumes: Vec<&str> = pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for c in pod["containers"].as_array().expect("containers") {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let name = m["name"].as_str().unwrap_or_default();
                if !volumes.contains(&name) {
                    problems.push(format!("document {i}: mount of unknown volume {name}"));
                }
            }
            let words: Vec<String> = c["command"]
                .as_array()
                .into_iter()
                .chain(c["args"].as_array())
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            commands.push(words.join(" "));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let shards = &jobs[0]["spec"];
    assert_eq!(shards["completionMode"], "Indexed");
    let n = shards["completions"].as_u64().expect("completions");
    assert_eq!(shards["parallelism"].as_u64(), Some(n));
    assert!(
        commands[0].contains(&format!("--shard \"$((JOB_COMPLETION_INDEX + 1))/{n}\"")),
        "{}",
        commands[0]
    );
    assert!(
        commands[1].ends_with(&format!("--shards-done {n}")),
        "{}",
        commands[1]
    );
    // Every `airlift build …` line of the page parses, with the shell and CI expressions
    // replaced by a shard number.
    let mut lines: Vec<String> = commands;
    for (_, block) in blocks(&text, "yaml").iter().chain(&blocks(&text, "text")) {
        lines.extend(block.lines().map(str::to_string));
    }
    let mut parsed = 0;
    for line in &lines {
        let Some(at) = line.find("airlift build") else {
            continue;
        };
        let line = line[at..]
            .split('#')
            .next()
            .unwrap_or_default()
            .replace("\"$((JOB_COMPLETION_INDEX + 1))/", "1/")
            .replace("${{ matrix.k }}", "1")
            .replace("K/N", "1/3")
            .replace(" N ", " 3 ")
            .replace("--shards-done N", "--shards-done 3");
        let words: Vec<&str> = line
            .split_whitespace()
            .map(|w| w.trim_matches('"'))
            .collect();
        if let Err(e) = airlift::cli::Cli::try_parse_from(&words) {
            panic!("`{line}` does not parse: {e}");
        }
        parsed += 1;
    }
    assert!(parsed >= 8, "{parsed} command lines");
}
