//! Benchmark: planning a build of 10,000 images from a recorded discovery, no network — the
//! recipe parsed, the goals expanded, the lock merged, the complete plan built (copies, cluster
//! resources, the lock), half of the images recorded done in the state; then the journal at
//! 10,000 records (appended one by one, reopened, compacted).
//!
//! Run: `/usr/bin/time -v cargo run --release --example plan_bench [IMAGES]` for peak RSS.
//! Prints the wall time of each phase.

use std::collections::BTreeMap;
use std::time::Instant;

use airlift::discover::{Discovery, ResolvedImage};
use airlift::oci::{Digest, ImageRef, MediaType};
use airlift::plan::{self, Outputs, PlanOptions};
use airlift::state::{Journal, KindName, Record, Workspace};

/// Counts the bytes allocated and live, to say what planning holds per image.
struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_kib() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed) / 1024
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let refs: Vec<String> = (0..images)
        .map(|i| format!("quay.io/team-{}/app-{i}:v{}", i % 50, i % 7))
        .collect();
    let mut text = String::from("images \"fleet\" {\n");
    for r in &refs {
        text.push_str(&format!("    image \"{r}\"\n"));
    }
    text.push_str(
        "}\ntarget \"mirror\" \"docker://mirror.example.com:5000/m\" {\n    needs \"fleet\"\n}\n",
    );
    let recipe_path = dir.path().join("airlift.kdl");
    std::fs::write(&recipe_path, &text)?;

    let base = live_kib();
    let t = Instant::now();
    let recipe = airlift::recipe::load(&recipe_path).map_err(|e| format!("{e:?}"))?;
    let parsed = t.elapsed();
    let recipe_kib = live_kib() - base;

    // The recorded discovery: every image resolved, with a shared base of 3 layers (one of 20
    // bases) and 2 layers of its own.
    let mut discovery = Discovery::default();
    for (i, r) in refs.iter().enumerate() {
        let mut blobs = BTreeMap::new();
        for b in 0..3 {
            blobs.insert(
                Digest::of(format!("base-{}-{b}", i % 20).as_bytes()),
                20 << 20,
            );
        }
        for b in 0..2 {
            blobs.insert(Digest::of(format!("own-{i}-{b}").as_bytes()), 3 << 20);
        }
        blobs.insert(Digest::of(format!("config-{i}").as_bytes()), 2_000);
        let image: ImageRef = r.parse()?;
        discovery.images.insert(
            image,
            ResolvedImage {
                digest: Digest::of(format!("manifest-{i}").as_bytes()),
                media_type: MediaType::OciManifest,
                blobs,
                manifests: 1,
            },
        );
    }

    let discovery_kib = live_kib() - base - recipe_kib;
    let t = Instant::now();
    let goals = plan::expand(&recipe, &[]).map_err(|e| format!("{e:?}"))?;
    let blocks: Vec<_> = recipe.block_patterns().cloned().collect();
    let (expanded, _) = plan::expand_items(&goals, &discovery, &blocks);
    let lock = airlift::pipeline::merged_lock(None, &expanded, &discovery);
    let expanded_in = t.elapsed();

    // Half of the images recorded done, as after an interrupted first build.
    let first = plan::build(
        &recipe,
        &goals,
        &discovery,
        &BTreeMap::new(),
        &options(&dir, &lock),
    );
    let mut state: BTreeMap<String, Record> = BTreeMap::new();
    for task in first.tasks.iter().step_by(2) {
        let Some(copy) = task.kind.as_copy() else {
            continue;
        };
        let dest = copy.dest.to_string();
        discovery
            .dest
            .insert(dest.clone(), Some(copy.digest.clone()));
        state.insert(
            dest.clone(),
            Record {
                key: task.key.to_string(),
                kind: KindName::Copy,
                dest,
                source_digest: copy.digest.clone(),
                output_digest: copy.digest.clone(),
            },
        );
    }

    let before_plan = live_kib();
    let t = Instant::now();
    let plan = plan::build(&recipe, &goals, &discovery, &state, &options(&dir, &lock));
    let planned = t.elapsed();
    let plan_kib = live_kib() - before_plan;
    let dirty = plan.dirty().count();

    // The journal at this size: a record per copy, appended one by one as tasks finish, then
    // twice more (two rebuilds whose tags moved), and reopened: superseded records outnumber
    // live ones, so it is compacted.
    let path = dir.path().join("journal.jsonl");
    let records: Vec<Record> = first
        .tasks
        .iter()
        .filter_map(|task| {
            let copy = task.kind.as_copy()?;
            Some(Record {
                key: task.key.to_string(),
                kind: KindName::Copy,
                dest: copy.dest.to_string(),
                source_digest: copy.digest.clone(),
                output_digest: copy.digest.clone(),
            })
        })
        .collect();
    let t = Instant::now();
    let mut journal = Journal::open(&path)?;
    for r in &records {
        journal.append(std::slice::from_ref(r))?;
    }
    let appended = t.elapsed();
    for _ in 0..2 {
        journal.append(&records)?;
    }
    drop(journal);
    let before = std::fs::metadata(&path)?.len();
    let t = Instant::now();
    let reopened = Journal::open(&path)?;
    let compacted = t.elapsed();
    let after = std::fs::metadata(&path)?.len();

    println!(
        "{images} images: {} tasks ({dirty} dirty, {} fresh)",
        plan.tasks.len(),
        plan.tasks.len() - dirty
    );
    println!(
        "held per image: recipe {} B, discovery {} B, plan {} B",
        recipe_kib * 1024 / images,
        discovery_kib * 1024 / images,
        plan_kib * 1024 / images
    );
    println!("parse recipe      {:>8.1} ms", ms(parsed));
    println!("expand + lock     {:>8.1} ms", ms(expanded_in));
    println!("plan::build       {:>8.1} ms", ms(planned));
    println!(
        "journal: {} appends (fdatasync each) {:.1} ms; reopen with {} superseded records {:.1} ms, {} KiB -> {} KiB",
        records.len(),
        ms(appended),
        2 * records.len(),
        ms(compacted),
        before / 1024,
        after / 1024
    );
    assert_eq!(reopened.records().count(), records.len());
    Ok(())
}

fn options(dir: &tempfile::TempDir, lock: &airlift::state::LockFile) -> PlanOptions {
    PlanOptions {
        trust_state: false,
        signatures: true,
        outputs: Some(Outputs {
            workspace: Workspace::for_recipe(&dir.path().join("airlift.kdl"), None),
            lock: lock.clone().into(),
            lock_path: Some(dir.path().join("airlift.lock")),
            insecure_mirrors: false,
            source_date_epoch: None,
            split_blobs: false,
            since: None,
        }),
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
