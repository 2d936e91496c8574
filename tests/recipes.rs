//! Every recipe under `recipes/` is loaded: valid ones are snapshotted as `summary()`, invalid
//! ones (`recipes/bad/`) as rendered diagnostics. Snapshots live in `snapshots/recipes/`.

use std::path::{Path, PathBuf};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/recipes"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// The path relative to the repository, so snapshots are machine-independent (tests run with
/// the package root as the working directory).
fn relative(path: &Path) -> PathBuf {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

#[test]
fn valid_recipes_summaries() {
    settings().bind(|| {
        insta::glob!("../recipes", "*.kdl", |path| {
            let rel = relative(path);
            match airlift::recipe::load(&rel) {
                Ok(recipe) => insta::assert_snapshot!("summary", recipe.summary()),
                Err(e) => panic!(
                    "{} should be valid:\n{}",
                    rel.display(),
                    e.render_plain(100)
                ),
            }
        });
    });
}

#[test]
fn bad_recipes_diagnostics() {
    settings().bind(|| {
        insta::glob!("../recipes/bad", "*.kdl", |path| {
            let rel = relative(path);
            match airlift::recipe::load(&rel) {
                Ok(_) => panic!("{} should be invalid", rel.display()),
                Err(e) => insta::assert_snapshot!("diagnostics", e.render_plain(100)),
            }
        });
    });
}

#[test]
fn each_bad_recipe_has_one_mistake_except_two_mistakes() {
    let dir = Path::new("recipes/bad");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
    {
        let Err(e) = airlift::recipe::load(path) else {
            panic!("{} should be invalid", path.display());
        };
        let expected = if path.ends_with("two-mistakes.kdl") {
            2
        } else {
            1
        };
        assert_eq!(
            e.len(),
            expected,
            "{}:\n{}",
            path.display(),
            e.render_plain(100)
        );
        checked += 1;
    }
    assert!(checked >= 17, "only {checked} bad recipes found");
}

#[test]
fn design_example_is_the_design_documents_example() {
    let r = airlift::recipe::load(Path::new("recipes/design-example.kdl"));
    let r = r.unwrap_or_else(|e| panic!("{}", e.render_plain(100)));
    assert_eq!(r.sets.len(), 5);
    assert_eq!(r.targets.len(), 3);
    assert_eq!(r.deletes.len(), 1);
    assert_eq!(r.trusts.len(), 2);
    let enclave = r
        .target("enclave-1")
        .map(|t| t.needed_targets().collect::<Vec<_>>());
    assert_eq!(enclave, Some(vec!["enterprise"]));
    assert_eq!(
        r.carried_sets("enclave-1").into_iter().collect::<Vec<_>>(),
        vec!["ocp".to_string()]
    );
}

/// The import corpus: every oc-mirror image set under `tests/fixtures/isc/` becomes a recipe
/// that loads (the importer parses what it writes; this loads it again from disk, includes
/// and all), snapshotted with its warnings and their lines. A delete is imported against a
/// registry target, the others into archives.
#[test]
fn imported_image_sets() {
    use airlift::import::{Direction, import};
    settings().bind(|| {
        insta::glob!("../tests/fixtures/isc", "*.yaml", |path| {
            let rel = relative(path);
            let text = std::fs::read_to_string(path).expect("fixture");
            let to = if text.contains("kind: DeleteImageSetConfiguration") {
                Direction::Registry("docker://registry.example.com:5000/mirror".into())
            } else {
                Direction::Archive("file://mirror".into())
            };
            let name = rel.display().to_string();
            let imported = import(&text, &name, &to)
                .unwrap_or_else(|e| panic!("{name} should import:\n{:?}", miette::Report::new(e)));
            let dir = tempfile::tempdir().expect("tempdir");
            let recipe = dir.path().join("airlift.kdl");
            std::fs::write(&recipe, &imported.recipe).expect("write");
            if let Err(e) = airlift::recipe::load(&recipe) {
                panic!(
                    "{name}: the imported recipe does not load:\n{}",
                    e.render_plain(100)
                );
            }
            let mut shown = imported.recipe.clone();
            shown.push_str("\n---- warnings ----\n");
            for w in &imported.warnings {
                let line = w.line.map_or_else(|| "-".to_string(), |l| l.to_string());
                shown.push_str(&format!("{line}: {}\n", w.message));
            }
            insta::assert_snapshot!("import", shown);
        });
    });
}

/// Inputs that cannot be imported: each diagnostic names the place (line and column, with the
/// YAML source) and what to do.
#[test]
fn image_sets_that_cannot_be_imported() {
    use airlift::import::{Direction, import};
    settings().bind(|| {
        insta::glob!("../tests/fixtures/isc/bad", "*.yaml", |path| {
            let rel = relative(path);
            let text = std::fs::read_to_string(path).expect("fixture");
            let to = Direction::Archive("file://mirror".into());
            let e = match import(&text, &rel.display().to_string(), &to) {
                Ok(_) => panic!("{} should not import", rel.display()),
                Err(e) => e,
            };
            let mut out = String::new();
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100)
                .render_report(&mut out, &e)
                .expect("render");
            insta::assert_snapshot!("import-error", out);
        });
    });
}

/// A mapping file's lines land at their destination's repository path and tag below the
/// target: the target's own registry and namespace are not repeated, another registry's path
/// is kept below the target, a digest-only source takes the mapping's tag.
#[test]
fn mapping_file_lines_keep_their_destination_names() {
    let r = airlift::recipe::load(Path::new("recipes/mapping.kdl"))
        .unwrap_or_else(|e| panic!("{}", e.render_plain(100)));
    let goals = airlift::plan::expand(&r, &[]).expect("goals");
    let mut dests: Vec<String> = goals[0]
        .items
        .iter()
        .map(|i| i.dest(&goals[0].dest).expect("dest").to_string())
        .collect();
    dests.sort();
    assert_eq!(
        dests,
        [
            "mirror.corp.example:8443/ocp/prometheus/alertmanager:v0.27.0",
            "mirror.corp.example:8443/ocp/prometheus/node-exporter:v1.8.2",
            "mirror.corp.example:8443/ocp/tools/cert-manager-controller:v1.14.4",
            "mirror.corp.example:8443/ocp/ubi9/ubi:9.4",
        ]
    );
    // A bad line is a diagnostic at the `mapping` node naming the file and line.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("m.txt"),
        "quay.io/a/b:1=mirror.example/a/b:1\nnot a mapping line at all\n",
    )
    .expect("write");
    let recipe = dir.path().join("airlift.kdl");
    std::fs::write(
        &recipe,
        "images \"x\" {\n    mapping \"m.txt\"\n}\ntarget \"t\" \"docker://h:5000/n\" {\n    needs \"x\"\n}\n",
    )
    .expect("write");
    let e = airlift::recipe::load(&recipe).expect_err("a bad line");
    let text = e.render_plain(200);
    assert!(text.contains("m.txt:2:"), "{text}");
    // A directory is not a mapping file.
    std::fs::create_dir(dir.path().join("d")).expect("mkdir");
    std::fs::write(
        &recipe,
        "images \"x\" {\n    mapping \"d\"\n}\ntarget \"t\" \"docker://h:5000/n\" {\n    needs \"x\"\n}\n",
    )
    .expect("write");
    let e = airlift::recipe::load(&recipe).expect_err("a directory");
    assert!(
        e.render_plain(200).contains("not a regular file"),
        "{}",
        e.render_plain(200)
    );
}
