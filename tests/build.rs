//! `airlift build`/`plan`/`lock`/`verify` end to end against real registries: incremental
//! rebuilds, moved tags, crash recovery, `--locked`/`--offline`, the workspace lock, and
//! verification. Results are checked with skopeo and the fixture's own HTTP client.

mod support;

use support::sides::{airlift_in, copy_dir, resources_of};

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::Value;
use support::{
    FaultProxy, Fixture, Format, Layer, ProxyOptions, Pushed, Registry, RegistryOptions,
    SkopeoAuth, skopeo_inspect_raw,
};

const BIN: &str = env!("CARGO_BIN_EXE_airlift");

/// A source registry, a mirror registry and a recipe directory.
struct Lab {
    up: Registry,
    mirror: Registry,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            up: Registry::start(RegistryOptions::default()),
            mirror: Registry::start(RegistryOptions::default()),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn recipe(&self, images: &[&Pushed], mirror_host: &str) -> PathBuf {
        let mut s = String::from("images \"apps\" {\n");
        for i in images {
            s.push_str(&format!("    image \"{}\"\n", i.reference));
        }
        s.push_str(&format!(
            "}}\n\ntarget \"mirror\" \"docker://{mirror_host}/mirror\" {{\n    needs \"apps\"\n}}\n"
        ));
        let path = self.dir.path().join("airlift.kdl");
        std::fs::write(&path, s).expect("write recipe");
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run airlift")
    }

    fn mirror_ref(&self, source: &Pushed) -> String {
        format!(
            "{}/mirror/{}",
            self.mirror.host(),
            source.reference.split_once('/').expect("host/").1
        )
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// JSON events of a `--message-format json` run.
fn events(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The summary's traffic entry of `host` (requests, retries, 429/503s, the smallest window) in
/// a `--message-format json` build.
fn traffic_of(o: &Output, host: &str) -> Value {
    let summary = events(o)
        .into_iter()
        .find(|e| e["event"] == "build-summary")
        .expect("summary");
    summary["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["host"] == host)
        .cloned()
        .unwrap_or_else(|| panic!("no traffic to {host} in {summary}"))
}

/// Digest → bytes of every blob upload a run reported.
fn transferred(events: &[Value]) -> BTreeMap<String, u64> {
    events
        .iter()
        .filter(|e| e["event"] == "blob-transferred")
        .map(|e| {
            (
                e["digest"].as_str().expect("digest").to_string(),
                e["bytes"].as_u64().expect("bytes"),
            )
        })
        .collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

fn all_blobs(p: &Pushed) -> BTreeSet<String> {
    let mut s: BTreeSet<String> = p.blobs.iter().map(|b| b.digest.clone()).collect();
    for c in &p.children {
        s.extend(all_blobs(c));
    }
    s
}

fn assert_mirrored(lab: &Lab, p: &Pushed) {
    let auth = SkopeoAuth::default();
    let src = skopeo_inspect_raw(&p.reference, &auth).expect("source");
    let dst = skopeo_inspect_raw(&lab.mirror_ref(p), &auth).expect("mirror");
    assert_eq!(src, dst, "{} differs at the mirror", p.reference);
    for c in &p.children {
        let repo = lab.mirror_ref(p);
        let repo = repo.rsplit_once(':').expect("tag").0;
        let raw = skopeo_inspect_raw(&format!("{repo}@{}", c.digest), &auth).expect("child");
        assert_eq!(raw, c.manifest);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_is_fresh_and_a_moved_tag_copies_only_its_new_blobs() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let base = Layer::shared_random(400_000);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(50_000)],
        )
        .await;
    let b = fx
        .image(
            "apps/b",
            Some("1"),
            Format::Docker,
            "amd64",
            &[base.clone(), Layer::Random(60_000)],
        )
        .await;
    let c = fx
        .index(
            "apps/c",
            Some("1"),
            Format::Oci,
            &["amd64", "arm64"],
            std::slice::from_ref(&base),
            70_000,
        )
        .await;
    lab.recipe(&[&a, &b, &c], &lab.mirror.host());

    let first = lab.run(&["build", "--message-format", "json"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let ev = events(&first);
    assert_eq!(count(&ev, "job-finished"), 3);
    // Hardening (#18): index children, pushed by digest, were named `repo:sha256:…`.
    let by_digest: Vec<&str> = ev
        .iter()
        .filter(|e| e["event"] == "manifest-pushed")
        .filter_map(|e| e["reference"].as_str())
        .filter(|r| r.contains("sha256:"))
        .collect();
    assert!(
        !by_digest.is_empty(),
        "the index's children are pushed by digest"
    );
    for r in &by_digest {
        assert!(r.contains("/apps/c@sha256:"), "{r}");
    }
    let up1 = transferred(&ev);
    let everything: BTreeSet<String> = [&a, &b, &c].iter().flat_map(|p| all_blobs(p)).collect();
    assert_eq!(
        up1.keys().cloned().collect::<BTreeSet<_>>(),
        everything,
        "each unique blob uploaded exactly once"
    );
    for p in [&a, &b, &c] {
        assert_mirrored(&lab, p);
    }

    // No-op rebuild: nothing moves, and the mirror sees one manifest HEAD per image and nothing else.
    let head_only: support::proxy::Matcher =
        Arc::new(|m: &str, p: &str| !(m == "HEAD" && p.contains("/manifests/")) && p != "/v2/");
    let proxy = FaultProxy::start(
        &lab.mirror.host(),
        ProxyOptions {
            matcher: head_only,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    lab.recipe(&[&a, &b, &c], &proxy.host());
    let seed = lab.run(&["build", "--message-format", "json"]);
    assert!(seed.status.success(), "{}", stderr(&seed));
    let before = (proxy.total(), proxy.matched());
    let written = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let lock = lab.dir.path().join("airlift.lock");
    let idms = lab
        .dir
        .path()
        .join(".airlift/out/mirror/cluster-resources/itms-generic-0.yaml");
    let stamps = (written(&lock), written(&idms));
    assert!(stamps.0.is_some() && stamps.1.is_some());
    let noop = lab.run(&["build", "--message-format", "json"]);
    assert!(noop.status.success(), "{}", stderr(&noop));
    assert_eq!(
        (written(&lock), written(&idms)),
        stamps,
        "a no-op build rewrites neither the lock nor the cluster resources"
    );
    assert!(transferred(&events(&noop)).is_empty());
    assert!(
        stderr(&noop).contains("0 copied, 3 fresh"),
        "{}",
        stderr(&noop)
    );
    let requests = proxy.total() - before.0;
    let other = proxy.matched() - before.1;
    assert_eq!(
        other, 0,
        "a no-op rebuild only HEADs manifests at the destination"
    );
    assert!(
        requests <= 3 + 2,
        "3 manifest HEADs plus at most the /v2/ checks, got {requests}"
    );
    // --trust-state skips even those HEADs: the mirror sees no manifest request at all.
    let before = proxy.total();
    let trusted = lab.run(&["build", "--trust-state"]);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert!(
        stderr(&trusted).contains("0 copied, 3 fresh"),
        "{}",
        stderr(&trusted)
    );
    assert!(
        proxy.total() - before <= 1,
        "--trust-state: at most the /v2/ check, got {}",
        proxy.total() - before
    );
    drop(proxy);
    lab.recipe(&[&a, &b, &c], &lab.mirror.host());

    // Move a's tag to an image that shares the base: plan says exactly what will move.
    let a2 = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(80_000)],
        )
        .await;
    let new_blobs: BTreeMap<String, u64> = a2
        .blobs
        .iter()
        .filter(|b| !everything.contains(&b.digest))
        .map(|b| (b.digest.clone(), b.size))
        .collect();
    assert_eq!(new_blobs.len(), 2, "a new layer and a new config");
    // The lock pins a's old digest: plan and build see nothing to copy until `update` moves
    // it. Only the cluster resources are to be written again: the last build wrote them for
    // the proxy's host, and the recipe names the mirror again.
    let pinned = lab.run(&["plan", "--format", "json"]);
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    let pinned: Value = serde_json::from_str(&stdout(&pinned)).expect("plan json");
    for t in pinned["tasks"].as_array().expect("tasks") {
        let fresh = t["freshness"]["state"] == "fresh";
        if t["kind"]["kind"] == "render-resources" {
            assert_eq!(t["freshness"]["reason"], "parameters-changed", "{t:#}");
        } else {
            assert!(fresh, "{t:#}");
        }
    }
    let update = lab.run(&["update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    assert!(
        stdout(&update).contains(&format!(
            "~ apps {} {} -> {}",
            a.reference, a.digest, a2.digest
        )),
        "{}",
        stdout(&update)
    );
    let plan = lab.run(&["plan", "--format", "json"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let plan: Value = serde_json::from_str(&stdout(&plan)).expect("plan json");
    let dirty: Vec<&Value> = plan["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["freshness"]["state"] == "dirty")
        .filter(|t| t["kind"]["kind"] != "render-resources")
        .collect();
    // One copy, and the cluster resources that describe it.
    assert_eq!(dirty.len(), 1, "{plan:#}");
    assert_eq!(dirty[0]["freshness"]["reason"], "source-changed");
    assert_eq!(dirty[0]["freshness"]["from"], a.digest.as_str());
    assert_eq!(dirty[0]["freshness"]["to"], a2.digest.as_str());
    assert_eq!(
        dirty[0]["bytes"].as_u64(),
        Some(new_blobs.values().sum::<u64>())
    );
    let text = lab.run(&["plan", "-v"]);
    assert!(
        stdout(&text).contains("source digest changed"),
        "{}",
        stdout(&text)
    );

    let rebuild = lab.run(&["build", "--message-format", "json"]);
    assert!(rebuild.status.success(), "{}", stderr(&rebuild));
    assert_eq!(
        transferred(&events(&rebuild)),
        new_blobs,
        "only the new blobs move"
    );
    assert_mirrored(&lab, &a2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_build_resumes_without_recopying_finished_work() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let mut images = Vec::new();
    for n in 0..16 {
        let repo = format!("bulk/img-{n:02}");
        images.push(
            fx.image(
                &repo,
                Some("1"),
                Format::Oci,
                "amd64",
                &[Layer::Random(6 << 20)],
            )
            .await,
        );
    }
    let refs: Vec<&Pushed> = images.iter().collect();
    lab.recipe(&refs, &lab.mirror.host());

    let mut child = Command::new(BIN)
        .args([
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--jobs",
            "1",
        ])
        .args(["build", "--message-format", "json"])
        .current_dir(lab.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn airlift");
    let mut first = Vec::new();
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let upload = v["event"] == "blob-transferred";
        first.push(v);
        // Kill while uploads are still going on (each image has one 6 MiB layer).
        if upload && count(&first, "blob-transferred") == 6 {
            child.kill().expect("SIGKILL");
            break;
        }
    }
    let status = child.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the build finished before it could be killed; enlarge the workload"
    );
    let finished_first = count(&first, "job-finished");
    let up1 = transferred(&first);

    let rerun = lab.run(&["build", "--message-format", "json"]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let ev = events(&rerun);
    let up2 = transferred(&ev);
    let again: Vec<&String> = up1.keys().filter(|d| up2.contains_key(*d)).collect();
    assert!(
        again.is_empty(),
        "blobs uploaded before the kill were uploaded again: {again:?}"
    );
    let everything: BTreeSet<String> = images.iter().flat_map(all_blobs).collect();
    let covered: BTreeSet<String> = up1.keys().chain(up2.keys()).cloned().collect();
    let remainder: u64 = images
        .iter()
        .flat_map(|p| p.blobs.iter())
        .filter(|b| !up1.contains_key(&b.digest))
        .map(|b| b.size)
        .sum();
    assert!(
        up2.values().sum::<u64>() <= remainder,
        "rerun moved more than the unfinished remainder"
    );
    assert!(covered.is_subset(&everything));
    eprintln!(
        "killed after {finished_first} finished image(s), {} B uploaded; rerun started {} job(s) and uploaded {} B (remainder {remainder} B)",
        up1.values().sum::<u64>(),
        count(&ev, "job-started"),
        up2.values().sum::<u64>()
    );
    assert!(
        count(&ev, "job-started") <= images.len() - finished_first,
        "images recorded done before the kill were started again"
    );
    for p in &images {
        assert_mirrored(&lab, p);
    }
    let again = lab.run(&["build"]);
    assert!(
        stderr(&again).contains("0 copied, 16 fresh"),
        "{}",
        stderr(&again)
    );
}

/// How long a killed build runs (ms), drawn per round from a fixed seed.
const KILL_DELAY_MS: std::ops::Range<u64> = 40..700;

/// Blobs a harness registry holds now (committed to its storage, in any repository): every
/// `docker/registry/v2/blobs/sha256/<2>/<hex>/data`. An upload cut off by a kill is not there.
fn held_blobs(reg: &Registry) -> BTreeSet<String> {
    let root = reg
        .scratch()
        .join("storage/docker/registry/v2/blobs/sha256");
    let mut held = BTreeSet::new();
    for prefix in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(prefix.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if blob.path().join("data").is_file() {
                held.insert(format!("sha256:{}", blob.file_name().to_string_lossy()));
            }
        }
    }
    held
}

/// `(repository, digest)` of the blob uploads among `requests` (proxy log entries in front of
/// distribution): the PUT that completes an upload session with `digest=`. A single-request
/// `POST …?digest=` is not one: distribution answers it with a session, which that PUT closes.
fn blob_uploads(requests: &[(String, String)]) -> Vec<(String, String)> {
    requests
        .iter()
        .filter(|(m, t)| m == "PUT" && t.contains("/blobs/uploads/"))
        .filter_map(|(_, t)| {
            let (path, query) = t.split_once('?')?;
            let repo = path.strip_prefix("/v2/")?.split_once("/blobs/uploads/")?.0;
            let digest = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("digest="))?
                .replace("%3A", ":")
                .replace("%3a", ":");
            Some((repo.to_string(), digest))
        })
        .collect()
}

/// Pushes `n` single-platform images `fleet/svc-NN:1`, four at a time; `image(i)` gives the
/// format and layers of image `i`.
async fn push_fleet(
    fx: &Fixture,
    n: usize,
    image: impl Fn(usize) -> (Format, Vec<Layer>),
) -> Vec<Pushed> {
    use futures_util::StreamExt as _;
    let pushes = (0..n).map(|i| {
        let (format, layers) = image(i);
        let fx = fx.clone();
        async move {
            fx.image(
                &format!("fleet/svc-{i:02}"),
                Some("1"),
                format,
                "amd64",
                &layers,
            )
            .await
        }
    });
    futures_util::stream::iter(pushes)
        .buffered(4)
        .collect()
        .await
}

/// The repositories of a harness registry that link `digest` (for failure messages).
fn linked_in(reg: &Registry, digest: &str) -> Vec<String> {
    let root = reg
        .scratch()
        .join("storage/docker/registry/v2/repositories");
    let hex = digest.trim_start_matches("sha256:");
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        if dir.join("_layers/sha256").join(hex).join("link").is_file() {
            let repo = dir.strip_prefix(&root).expect("under root");
            found.push(repo.display().to_string());
        }
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name();
            if e.path().is_dir() && !name.to_string_lossy().starts_with('_') {
                dirs.push(e.path());
            }
        }
    }
    found.sort();
    found
}

/// Hardening (#18): a kill during a cold copy must not make the rerun re-send blobs the
/// destination already holds. It did: a shared layer the killed build had put in one
/// repository was uploaded again by whichever rerun job asked for it first, as only completed
/// images are recorded; the engine now puts each blob first in the home the planner chose for
/// it, the same in every run, and a rerun finds it there. 20 images in 20 repositories share layers (one by all, two by
/// half each, four by a quarter each; each image has its own layer too, 4 MiB in two of three);
/// ten builds are SIGKILLed after delays drawn from a fixed seed, each started against what
/// the last one left. Upload requests are read from a logging proxy in front of the mirror and
/// checked against the blobs committed to the mirror's storage before each run. Then a build
/// without a kill finishes, every image reads back byte-identical with skopeo, and one more
/// build uploads nothing.
#[tokio::test(flavor = "multi_thread")]
async fn ten_killed_cold_copies_then_a_rerun_resend_no_blob_the_mirror_held() {
    const MIB: usize = 1 << 20;
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let everyone = Layer::shared_random(4 * MIB);
    let halves = [Layer::shared_random(3 * MIB), Layer::shared_random(2 * MIB)];
    let quarters: Vec<Layer> = (0..4).map(|_| Layer::shared_random(MIB / 2)).collect();
    let images = push_fleet(&fx, 20, |i| {
        let own = if i % 3 == 0 { 64 << 10 } else { 4 * MIB };
        let format = if i % 4 == 1 {
            Format::Docker
        } else {
            Format::Oci
        };
        let layers = vec![
            everyone.clone(),
            halves[i % 2].clone(),
            quarters[i % 4].clone(),
            Layer::Random(own),
        ];
        (format, layers)
    })
    .await;
    let sizes: BTreeMap<String, u64> = images
        .iter()
        .flat_map(|p| p.blobs.iter().map(|b| (b.digest.clone(), b.size)))
        .collect();
    let proxy = FaultProxy::start(&lab.mirror.host(), ProxyOptions::passthrough()).await;
    let refs: Vec<&Pushed> = images.iter().collect();
    lab.recipe(&refs, &proxy.host());

    let settle = std::time::Duration::from_millis(100);
    let mut rng = fastrand::Rng::with_seed(18);
    let (mut killed, mut copying, mut ever_sent) = (0, 0, BTreeSet::new());
    let mut report = Vec::new();
    for round in 0..11 {
        let last = round == 10;
        let held = held_blobs(&lab.mirror);
        let from = proxy.requests().len();
        let log = lab.dir.path().join(format!("build-{round}.stderr"));
        let mut child = Command::new(BIN)
            .args(["--src-tls-verify=false", "--dest-tls-verify=false", "build"])
            .current_dir(lab.dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("stderr file"))
            .spawn()
            .expect("spawn airlift");
        let delay = std::time::Duration::from_millis(rng.u64(KILL_DELAY_MS));
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if !last && started.elapsed() >= delay {
                child.kill().expect("SIGKILL");
                child.wait().expect("wait");
                break None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        };
        let ran = started.elapsed();
        // Requests a killed build wrote just before it died reach the proxy a moment later.
        tokio::time::sleep(settle).await;
        let errors = std::fs::read_to_string(&log).unwrap_or_default();
        let requests = proxy.requests()[from..].to_vec();
        let uploading = requests
            .iter()
            .any(|(m, t)| m != "HEAD" && t.contains("/blobs/uploads/"));
        match status {
            None => {
                killed += 1;
                copying += usize::from(uploading);
            }
            Some(s) => assert!(s.success(), "round {round} failed:\n{errors}"),
        }
        let uploads = blob_uploads(&requests);
        let resent: Vec<String> = uploads
            .iter()
            .filter(|(_, d)| held.contains(d))
            .map(|(repo, d)| {
                let users = images
                    .iter()
                    .filter(|p| p.blobs.iter().any(|b| &b.digest == d));
                format!(
                    "{d} ({} B, in {} image(s)) into {repo}, held in {:?}",
                    sizes[d],
                    users.count(),
                    linked_in(&lab.mirror, d)
                )
            })
            .collect();
        assert!(
            resent.is_empty(),
            "{}\nround {round} ({}) re-sent {} blob(s) the mirror held:\n{}\n{errors}",
            report.join("\n"),
            if status.is_none() {
                format!("killed after {delay:?}")
            } else {
                "not killed".into()
            },
            resent.len(),
            resent.join("\n")
        );
        let sent: Vec<String> = uploads.into_iter().map(|(_, d)| d).collect();
        let again = sent.iter().filter(|d| ever_sent.contains(*d)).count();
        let bytes: u64 = sent.iter().filter_map(|d| sizes.get(d)).sum();
        let end = match (status, uploading) {
            (Some(_), _) => "finished",
            (None, true) => "killed while copying",
            (None, false) => "killed before copying",
        };
        report.push(format!(
            "round {round}: {end} after {ran:?}{}; the mirror held {} blobs; {} upload(s), {bytes} B ({again} of them cut off by an earlier kill)",
            if last { String::new() } else { format!(" (kill at {delay:?})") },
            held.len(),
            sent.len(),
        ));
        ever_sent.extend(sent);
    }
    eprintln!(
        "{}\n{killed} of 10 kills landed before their build finished ({copying} while copying)",
        report.join("\n")
    );

    let mirror = Fixture::new(&lab.mirror);
    for p in &images {
        assert_mirrored(&lab, p);
        let repo = lab.mirror_ref(p);
        let repo = repo
            .split_once('/')
            .expect("host")
            .1
            .rsplit_once(':')
            .expect("tag")
            .0;
        for b in &p.blobs {
            assert!(
                mirror.blob_exists(repo, &b.digest).await,
                "{repo} lacks {}",
                b.digest
            );
        }
    }
    let from = proxy.requests().len();
    let again = tokio::task::spawn_blocking({
        let dir = lab.dir.path().to_path_buf();
        move || {
            Command::new(BIN)
                .args(["--src-tls-verify=false", "--dest-tls-verify=false", "build"])
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .output()
                .expect("run airlift")
        }
    })
    .await
    .expect("join");
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 copied, 20 fresh"),
        "{}",
        stderr(&again)
    );
    let writes: Vec<_> = proxy.requests()[from..]
        .iter()
        .filter(|(m, _)| m != "GET" && m != "HEAD")
        .cloned()
        .collect();
    assert!(writes.is_empty(), "the no-op rerun wrote: {writes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_fails_on_moved_tags_build_and_offline_keep_the_lock_and_update_accepts() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    let b = fx
        .image(
            "apps/b",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    lab.recipe(&[&a, &b], &lab.mirror.host());
    let lock = lab.run(&["lock"]);
    assert!(lock.status.success(), "{}", stderr(&lock));
    let lock_path = lab.dir.path().join("airlift.lock");
    let locked_text = std::fs::read_to_string(&lock_path).expect("lock");
    assert!(locked_text.contains(&a.digest) && locked_text.contains(&b.digest));
    let build = lab.run(&["build", "--locked"]);
    assert!(build.status.success(), "{}", stderr(&build));
    assert_eq!(
        std::fs::read_to_string(&lock_path).expect("lock"),
        locked_text,
        "same resolution, same bytes"
    );

    let a2 = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    let refused = lab.run(&["build", "--locked", "--message-format", "json"]);
    assert_eq!(refused.status.code(), Some(7), "{}", stderr(&refused));
    let msg = stderr(&refused);
    assert!(
        msg.contains(&format!("~ apps {}", a.reference)) && msg.contains(&a2.digest),
        "{msg}"
    );
    assert!(
        transferred(&events(&refused)).is_empty(),
        "--locked copies nothing when it fails"
    );

    let pinned = lab.run(&["build"]);
    assert!(pinned.status.success(), "{}", stderr(&pinned));
    assert!(
        stderr(&pinned).contains("0 copied, 2 fresh"),
        "build keeps the locked digests until `update`: {}",
        stderr(&pinned)
    );
    assert_eq!(
        std::fs::read_to_string(&lock_path).expect("lock"),
        locked_text,
        "a pinned build leaves the lock as it was"
    );

    let offline = lab.run(&["build", "--offline"]);
    assert!(offline.status.success(), "{}", stderr(&offline));
    assert!(
        stderr(&offline).contains("0 copied, 2 fresh"),
        "offline builds the locked digests: {}",
        stderr(&offline)
    );

    let old = lab.dir.path().join("old.lock");
    std::fs::copy(&lock_path, &old).expect("copy lock");
    let update = lab.run(&["update", "apps"]);
    assert!(update.status.success(), "{}", stderr(&update));
    assert!(
        stdout(&update).contains(&format!(
            "~ apps {} {} -> {}",
            a.reference, a.digest, a2.digest
        )),
        "{}",
        stdout(&update)
    );
    let diff = lab.run(&[
        "diff",
        old.to_str().expect("utf-8"),
        lock_path.to_str().expect("utf-8"),
    ]);
    assert_eq!(stdout(&diff), stdout(&update));
    let build = lab.run(&["build", "--locked"]);
    assert!(build.status.success(), "{}", stderr(&build));
    assert_mirrored(&lab, &a2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_on_the_workspace_is_refused_with_the_holder() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(1000)],
        )
        .await;
    lab.recipe(&[&a], &lab.mirror.host());
    let ws = lab.dir.path().join(".airlift");
    std::fs::create_dir_all(&ws).expect("workspace");
    let holder = std::fs::File::create(ws.join("lock")).expect("lock file");
    holder.lock().expect("flock");
    let out = lab.run(&["plan"]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in use by another airlift process"),
        "{}",
        stderr(&out)
    );
    drop(holder);
    assert!(lab.run(&["plan"]).status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_a_deleted_manifest_and_build_restores_it() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(2000)],
        )
        .await;
    let c = fx
        .index(
            "apps/c",
            None,
            Format::Docker,
            &["amd64", "arm64"],
            &[Layer::Random(3000)],
            1000,
        )
        .await;
    lab.recipe(&[&a, &c], &lab.mirror.host());
    assert!(lab.run(&["build"]).status.success());
    let ok = lab.run(&["verify", "mirror"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(
        stderr(&ok).contains("2 image(s), 4 manifest(s)"),
        "{}",
        stderr(&ok)
    );

    // Delete a's manifest at the mirror behind airlift's back.
    let url = format!(
        "{}/v2/mirror/apps/a/manifests/{}",
        lab.mirror.base_url(),
        a.digest
    );
    let del = reqwest::Client::new()
        .delete(url)
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status().as_u16(), 202);
    let bad = lab.run(&["verify", "mirror"]);
    assert_eq!(bad.status.code(), Some(9), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("mirror/apps/a:1"), "{}", stderr(&bad));

    let plan = lab.run(&["plan"]);
    assert!(
        stdout(&plan).contains("destination missing"),
        "{}",
        stdout(&plan)
    );
    assert!(lab.run(&["build"]).status.success());
    assert!(lab.run(&["verify", "mirror"]).status.success());
    assert_mirrored(&lab, &a);
}

#[tokio::test(flavor = "multi_thread")]
async fn build_writes_cluster_resources_that_validate_against_the_crds() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let tagged = fx
        .image(
            "team/app",
            Some("2.0"),
            Format::Oci,
            "amd64",
            &[Layer::Random(2000)],
        )
        .await;
    let by_digest = fx
        .image(
            "team/tool",
            None,
            Format::Docker,
            "amd64",
            &[Layer::Random(2000)],
        )
        .await;
    let sig = fx.cosign_signature(&tagged).await;
    let mut recipe_images = vec![&tagged];
    let digest_only = Pushed {
        reference: by_digest.by_digest(&lab.up.host()),
        ..by_digest.clone()
    };
    recipe_images.push(&digest_only);
    lab.recipe(&recipe_images, &lab.mirror.host());
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The cosign attachment travelled with its subject.
    let sig_tag = format!(
        "{}/mirror/team/app:sha256-{}.sig",
        lab.mirror.host(),
        tagged.digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        skopeo_inspect_raw(&sig_tag, &SkopeoAuth::default()).expect("sig"),
        sig.manifest
    );
    // The digest-only image lands under its sha256-<hex> tag.
    let dig_tag = format!(
        "{}/mirror/team/tool:sha256-{}",
        lab.mirror.host(),
        by_digest.digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        skopeo_inspect_raw(&dig_tag, &SkopeoAuth::default()).expect("digest-only"),
        by_digest.manifest
    );

    let dir = lab.dir.path().join(".airlift/out/mirror/cluster-resources");
    let idms = std::fs::read_to_string(dir.join("idms-generic-0.yaml")).expect("idms");
    let itms = std::fs::read_to_string(dir.join("itms-generic-0.yaml")).expect("itms");
    assert!(
        idms.contains(&format!("source: {}/team/tool", lab.up.host())),
        "{idms}"
    );
    assert!(
        itms.contains(&format!("source: {}/team/app", lab.up.host())),
        "{itms}"
    );
    support::crds::assert_valid(&[
        dir.join("idms-generic-0.yaml"),
        dir.join("itms-generic-0.yaml"),
    ]);
    // `oc apply -f <dir>` reads the top-level YAML files: each is a resource. What is not (the
    // host registries.conf, the install-config snippet) is under `extras/`.
    for e in std::fs::read_dir(&dir).expect("read dir") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("read");
        assert!(
            text.lines().any(|l| l.starts_with("apiVersion: "))
                && text.lines().any(|l| l.starts_with("kind: ")),
            "{name} is not a resource:\n{text}"
        );
    }
    for extra in [
        "extras/registries.conf",
        "extras/install-config-snippet.yaml",
    ] {
        assert!(dir.join(extra).is_file(), "{extra}");
    }
    // Byte-identical on a rerun.
    let before = std::fs::read(dir.join("idms-generic-0.yaml")).expect("read");
    assert!(lab.run(&["resources", "mirror"]).status.success());
    assert_eq!(
        std::fs::read(dir.join("idms-generic-0.yaml")).expect("read"),
        before
    );
}

/// `skopeo inspect --raw` of `reference` (any transport), as skopeo reads it.
fn skopeo_raw(reference: &str) -> Result<Vec<u8>, String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", reference])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An `oci://DIR` target is a plain OCI image layout that skopeo reads as-is: every image under
/// the name it would have below a registry target (`sha256-<hex>` when named by digest), with
/// its digest preserved (an index with its children); a rebuild is fresh; no cluster resources.
#[tokio::test(flavor = "multi_thread")]
async fn an_oci_target_writes_a_layout_that_skopeo_reads() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let base = Layer::shared_random(30_000);
    let app = fx
        .image(
            "team/app",
            Some("2.0"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(2000)],
        )
        .await;
    let multi = fx
        .index(
            "team/multi",
            Some("1"),
            Format::Oci,
            &["amd64", "arm64"],
            std::slice::from_ref(&base),
            3000,
        )
        .await;
    // OCI media types: skopeo 1.9 finds only OCI manifests and indexes by name in a layout
    // (a Docker-format image is written with its digest kept, but skopeo does not list it).
    let tool = fx
        .image(
            "team/tool",
            None,
            Format::Oci,
            "amd64",
            &[Layer::Random(2000)],
        )
        .await;
    let tool_ref = tool.by_digest(&lab.up.host());
    let recipe = format!(
        "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n    image \"{tool_ref}\"\n}}\n\ntarget \"layout\" \"oci://out/layout\" {{\n    needs \"apps\"\n}}\n",
        app.reference, multi.reference
    );
    std::fs::write(lab.dir.path().join("airlift.kdl"), recipe).expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.dir.path().join("out/layout");
    let hex = tool_ref
        .rsplit_once("@sha256:")
        .expect("pinned")
        .1
        .to_string();
    for (p, name) in [
        (&app, "team/app:2.0".to_string()),
        (&multi, "team/multi:1".to_string()),
        (&tool, format!("team/tool:sha256-{hex}")),
    ] {
        let raw = skopeo_raw(&format!("oci:{}:{name}", dir.display()))
            .unwrap_or_else(|e| panic!("skopeo reads {name}: {e}"));
        assert_eq!(raw, p.manifest, "{name} keeps its digest");
    }
    // The index's children and every blob are there: skopeo copies the whole image out.
    let copied = tempfile::tempdir().expect("tempdir");
    let out_copy = Command::new("skopeo")
        .args(["copy", "--all"])
        .arg(format!("oci:{}:team/multi:1", dir.display()))
        .arg(format!("dir:{}", copied.path().display()))
        .output()
        .expect("skopeo copy");
    assert!(
        out_copy.status.success(),
        "{}",
        String::from_utf8_lossy(&out_copy.stderr)
    );
    assert!(
        !lab.dir
            .path()
            .join(".airlift/out/layout/cluster-resources")
            .exists(),
        "an OCI layout gets no cluster resources"
    );
    // Commands that read a registry target say what reads a directory instead.
    let verify = lab.run(&["verify", "layout"]);
    assert_eq!(verify.status.code(), Some(3), "{}", stderr(&verify));
    assert!(
        stderr(&verify).contains("is a directory"),
        "{}",
        stderr(&verify)
    );
    let plan = lab.run(&["plan"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains("plan: 0 to run, 4 fresh"),
        "three images and the lock are fresh: {}",
        stdout(&plan)
    );
    // A name removed from the layout is written again, and only it.
    let index = dir.join("index.json");
    let text = std::fs::read_to_string(&index).expect("index.json");
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    doc["manifests"]
        .as_array_mut()
        .expect("manifests")
        .retain(|m| m["annotations"]["org.opencontainers.image.ref.name"] != "team/app:2.0");
    std::fs::write(&index, serde_json::to_vec(&doc).expect("json")).expect("write");
    let again = lab.run(&["build", "--message-format", "json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(count(&events(&again), "job-finished"), 1);
    assert_eq!(
        skopeo_raw(&format!("oci:{}:team/app:2.0", dir.display())).expect("rewritten"),
        app.manifest
    );
}

/// `apps/a:1` (OCI, a shared base layer and one of its own) and `apps/b:1` (an amd64+arm64
/// index in `format`, each child on the same base), and the base layer.
async fn two_apps(fx: &Fixture, format: Format) -> (Layer, Pushed, Pushed) {
    let base = Layer::shared_random(30_000);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(8_000)],
        )
        .await;
    let b = fx
        .index(
            "apps/b",
            Some("1"),
            format,
            &["amd64", "arm64"],
            std::slice::from_ref(&base),
            9_000,
        )
        .await;
    (base, a, b)
}

/// Extracts every chunk of `dir` (in name order) into `into` with GNU tar.
fn extract_chunks(dir: &std::path::Path, into: &std::path::Path) {
    let mut chunks: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("archive dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tar"))
        .collect();
    chunks.sort();
    for c in chunks {
        let out = Command::new("tar")
            .arg("xf")
            .arg(&c)
            .arg("-C")
            .arg(into)
            .output()
            .expect("tar");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Mirror-to-disk: a `file://` target is packed into chunks of at most `archive-size` with
/// `airlift-index.json`; the chunks hold an OCI image layout (digests kept) that skopeo reads
/// once extracted; `describe` lists the series; a no-op build writes no archive; after a tag
/// moves, archive 2 extends archive 1 and carries only the new blobs (and the manifests).
#[tokio::test(flavor = "multi_thread")]
async fn a_file_target_packs_archives_that_carry_only_what_is_new() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let (base, a, b) = two_apps(&fx, Format::Oci).await;
    let recipe = format!(
        "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n}}\n\ntarget \"disk\" \"file://out/disk\" {{\n    needs \"apps\"\n    archive-size \"32KiB\"\n}}\n",
        a.reference, b.reference
    );
    std::fs::write(lab.dir.path().join("airlift.kdl"), &recipe).expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.dir.path().join("out/disk");
    let index: Value = serde_json::from_slice(
        &std::fs::read(dir.join("airlift-index.json")).expect("airlift-index.json"),
    )
    .expect("json");
    let archives = index["archives"].as_array().expect("archives");
    assert_eq!(archives.len(), 1);
    let chunks = archives[0]["chunks"].as_array().expect("chunks");
    assert!(chunks.len() >= 2, "{index:#}");
    for c in chunks {
        let size = std::fs::metadata(dir.join(c["name"].as_str().expect("name")))
            .expect("chunk")
            .len();
        assert!(size <= 32 * 1024, "{c}");
        assert_eq!(c["size"].as_u64(), Some(size));
    }
    let layout = tempfile::tempdir().expect("tempdir");
    extract_chunks(&dir, layout.path());
    for (p, name) in [(&a, "apps/a:1"), (&b, "apps/b:1")] {
        let raw = skopeo_raw(&format!("oci:{}:{name}", layout.path().display()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(raw, p.manifest, "{name} keeps its digest");
    }
    let copied = tempfile::tempdir().expect("tempdir");
    let all = Command::new("skopeo")
        .args(["copy", "--all"])
        .arg(format!("oci:{}:apps/b:1", layout.path().display()))
        .arg(format!("dir:{}", copied.path().display()))
        .output()
        .expect("skopeo");
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    assert!(
        layout.path().join("airlift/airlift.lock").is_file()
            && layout.path().join("airlift/recipe/airlift.kdl").is_file()
    );
    let described = lab.run(&["describe", "out/disk"]);
    assert!(described.status.success(), "{}", stderr(&described));
    assert!(
        stdout(&described).contains("archive 1 ("),
        "{}",
        stdout(&described)
    );
    assert!(stdout(&described).contains("set `apps`: 2 image(s)"));

    // Nothing new: no new archive.
    let noop = lab.run(&["build"]);
    assert!(noop.status.success(), "{}", stderr(&noop));
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("airlift-index.json")).expect("index"))
            .expect("json");
    assert_eq!(index["archives"].as_array().map(Vec::len), Some(1));

    // a's tag moves to an image sharing the base: archive 2 carries its two new blobs only.
    let a2 = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(9_000)],
        )
        .await;
    let old: BTreeSet<String> = all_blobs(&a).into_iter().chain(all_blobs(&b)).collect();
    let new_bytes: u64 = a2
        .blobs
        .iter()
        .filter(|x| !old.contains(&x.digest))
        .map(|x| x.size)
        .sum();
    let update = lab.run(&["update"]);
    assert!(update.status.success(), "{}", stderr(&update));
    let second = lab.run(&["build"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("airlift-index.json")).expect("index"))
            .expect("json");
    let archives = index["archives"].as_array().expect("archives");
    assert_eq!(archives.len(), 2);
    assert_eq!(archives[1]["extends"], archives[0]["id"]);
    // Blob bytes: the new layer and config, plus every manifest (small, always carried).
    let manifests: u64 = [&a2, &b]
        .iter()
        .map(|p| {
            p.manifest.len() as u64
                + p.children
                    .iter()
                    .map(|c| c.manifest.len() as u64)
                    .sum::<u64>()
        })
        .sum();
    assert_eq!(
        archives[1]["blob_bytes"].as_u64(),
        Some(new_bytes + manifests),
        "{index:#}"
    );
    let layout2 = tempfile::tempdir().expect("tempdir");
    extract_chunks(&dir, layout2.path());
    let raw = skopeo_raw(&format!("oci:{}:apps/a:1", layout2.path().display())).expect("a2");
    assert_eq!(raw, a2.manifest);
}

/// Disk-to-mirror with two separated sides: the connected side packs the `file://` target;
/// the directory is copied elsewhere and the source registry stopped; a fresh workspace that
/// shares nothing else builds the registry target from the archives. Manifests keep their
/// digests and the cluster resources equal a direct mirror-to-mirror build's. A flipped byte in
/// a chunk, and an archive whose predecessor is missing, fail before anything is pushed.
#[tokio::test(flavor = "multi_thread")]
async fn disk_to_mirror_from_a_copied_archive_directory_on_a_separated_side() {
    let mut lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let (_, a, b) = two_apps(&fx, Format::Docker).await;
    let mirror = lab.mirror.host();
    let recipe = |disk: &str| {
        format!(
            "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n}}\n\ntarget \"disk\" \"file://{disk}\" {{\n    needs \"apps\"\n    archive-size \"32KiB\"\n}}\n\ntarget \"enterprise\" \"docker://{mirror}/ent\" {{\n    needs \"disk\"\n}}\n\ntarget \"direct\" \"docker://{mirror}/direct\" {{\n    needs \"apps\"\n}}\n",
            a.reference, b.reference
        )
    };
    // Connected side: the archive, and a direct build to compare resources with.
    std::fs::write(lab.dir.path().join("airlift.kdl"), recipe("out/disk")).expect("recipe");
    let out = lab.run(&["build", "disk", "direct"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let archive = lab.dir.path().join("out/disk");
    // The other side: only the copied directory and the recipe naming it there.
    let side = tempfile::tempdir().expect("tempdir");
    let carried = side.path().join("media/disk");
    copy_dir(&archive, &carried, |_| true);
    lab.up.stop();
    // A flipped byte in a chunk: refused naming the chunk, nothing pushed.
    let damaged = side.path().join("damaged");
    copy_dir(&archive, &damaged, |_| true);
    let chunk = damaged.join("airlift-000001.tar");
    let mut bytes = std::fs::read(&chunk).expect("chunk");
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&chunk, bytes).expect("write");
    let bad_side = side.path().join("bad");
    std::fs::create_dir_all(&bad_side).expect("mkdir");
    std::fs::write(
        bad_side.join("airlift.kdl"),
        recipe(&damaged.display().to_string()),
    )
    .expect("recipe");
    let out = airlift_in(BIN, &bad_side, &["build", "enterprise"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("airlift-000001.tar"),
        "{}",
        stderr(&out)
    );
    assert!(
        skopeo_inspect_raw(&format!("{mirror}/ent/apps/a:1"), &SkopeoAuth::default()).is_err(),
        "nothing is pushed from a damaged archive"
    );
    // The intact copy: everything lands with its digest.
    let good_side = side.path().join("good");
    std::fs::create_dir_all(&good_side).expect("mkdir");
    std::fs::write(
        good_side.join("airlift.kdl"),
        recipe(&carried.display().to_string()),
    )
    .expect("recipe");
    // The verification of the carried directory is a task of its own, before the unpacks.
    let plan = airlift_in(BIN, &good_side, &["plan", "enterprise", "--format", "json"]);
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    let tasks = plan["tasks"].as_array().expect("tasks");
    let verify = tasks
        .iter()
        .find(|t| t["kind"]["kind"] == "verify-archive")
        .unwrap_or_else(|| panic!("no verify-archive task: {plan:#}"));
    for t in tasks.iter().filter(|t| t["kind"]["kind"] == "unpack") {
        assert!(
            t["deps"]
                .as_array()
                .is_some_and(|d| d.contains(&verify["id"])),
            "{t:#}"
        );
    }
    let out = airlift_in(BIN, &good_side, &["build", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = airlift_in(BIN, &good_side, &["plan", "-v", "enterprise"]);
    assert!(
        stdout(&plan).contains("fresh  verify-archive"),
        "verified once: {}",
        stdout(&plan)
    );
    for (p, name) in [(&a, "apps/a:1"), (&b, "apps/b:1")] {
        let raw = skopeo_inspect_raw(&format!("{mirror}/ent/{name}"), &SkopeoAuth::default())
            .expect("pushed");
        assert_eq!(raw, p.manifest, "{name} keeps its digest");
        for c in &p.children {
            let repo = name.split(':').next().expect("repo");
            let child = skopeo_inspect_raw(
                &format!("{mirror}/ent/{repo}@{}", c.digest),
                &SkopeoAuth::default(),
            )
            .expect("child");
            assert_eq!(child, c.manifest);
        }
    }
    assert_eq!(
        resources_of(&good_side, "enterprise", "ent"),
        resources_of(lab.dir.path(), "direct", "direct"),
        "disk-to-mirror renders what a direct build renders"
    );
    // A rerun is fresh: nothing is pushed again.
    let again = airlift_in(BIN, &good_side, &["build", "enterprise"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("0 copied"), "{}", stderr(&again));
    // An archive whose predecessor never arrived: refused naming it, before any push.
    let lonely = side.path().join("lonely");
    let first: Vec<String> = {
        let index: Value = serde_json::from_slice(
            &std::fs::read(archive.join("airlift-index.json")).expect("index"),
        )
        .expect("json");
        index["archives"][0]["chunks"]
            .as_array()
            .expect("chunks")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_string())
            .collect()
    };
    copy_dir(&archive, &lonely, |n| !n.starts_with("airlift-000001"));
    let lonely_side = side.path().join("lonely-side");
    std::fs::create_dir_all(&lonely_side).expect("mkdir");
    std::fs::write(
        lonely_side.join("airlift.kdl"),
        recipe(&lonely.display().to_string()).replace("/ent\"", "/ent-lonely\""),
    )
    .expect("recipe");
    let out = airlift_in(BIN, &lonely_side, &["build", "enterprise"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("airlift-000001.tar") && stderr(&out).contains("archive 1"),
        "names the missing archive ({first:?}): {}",
        stderr(&out)
    );
    assert!(
        skopeo_inspect_raw(
            &format!("{mirror}/ent-lonely/apps/a:1"),
            &SkopeoAuth::default()
        )
        .is_err()
    );
}

/// Runs airlift in `dir` with JSON events and SIGKILLs it at the first event `at` matches;
/// returns true when it was killed (false: it finished first).
fn kill_at(dir: &std::path::Path, args: &[&str], at: impl Fn(&Value) -> bool) -> bool {
    let mut child = Command::new(BIN)
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args(args)
        .args(["--message-format", "json"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn airlift");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if serde_json::from_str::<Value>(&line).is_ok_and(|v| at(&v)) {
            child.kill().expect("SIGKILL");
            break;
        }
    }
    use std::os::unix::process::ExitStatusExt;
    child.wait().expect("wait").signal() == Some(9)
}

/// A SIGKILL while packing, then a rerun: one complete archive, no temporary chunk left, every
/// image intact (blobs split across 4 MiB chunks). A SIGKILL while unpacking, then a rerun:
/// every image at the registry with its digest.
#[tokio::test(flavor = "multi_thread")]
async fn killed_packing_and_unpacking_complete_on_rerun() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let mut pushed = Vec::new();
    for name in ["apps/x", "apps/y", "apps/z"] {
        pushed.push(
            fx.image(
                name,
                Some("1"),
                Format::Oci,
                "amd64",
                &[Layer::Random(6 << 20)],
            )
            .await,
        );
    }
    let mirror = lab.mirror.host();
    let images: String = pushed
        .iter()
        .map(|p| format!("    image \"{}\"\n", p.reference))
        .collect();
    let recipe = format!(
        "images \"apps\" {{\n{images}}}\n\ntarget \"disk\" \"file://out/disk\" {{\n    needs \"apps\"\n    archive-size \"4MiB\"\n}}\n\ntarget \"enterprise\" \"docker://{mirror}/ent\" {{\n    needs \"disk\"\n}}\n"
    );
    std::fs::write(lab.dir.path().join("airlift.kdl"), &recipe).expect("recipe");
    let killed = kill_at(lab.dir.path(), &["build", "disk", "--split-blobs"], |v| {
        v["event"] == "job-started"
            && v["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("images of"))
    });
    eprintln!("packing killed: {killed}");
    let rerun = lab.run(&["build", "disk", "--split-blobs"]);
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    let dir = lab.dir.path().join("out/disk");
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("airlift-index.json")).expect("index"))
            .expect("json");
    assert_eq!(index["archives"].as_array().map(Vec::len), Some(1));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The other side unpacks; killed after its first image, a rerun finishes the rest.
    let side = lab.dir.path().join("side");
    std::fs::create_dir_all(&side).expect("mkdir");
    std::fs::write(
        side.join("airlift.kdl"),
        recipe.replace("file://out/disk", &format!("file://{}", dir.display())),
    )
    .expect("recipe");
    let killed = kill_at(&side, &["--jobs", "1", "build", "enterprise"], |v| {
        v["event"] == "job-finished"
    });
    eprintln!("unpacking killed: {killed}");
    let rerun = Command::new(BIN)
        .args([
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "build",
            "enterprise",
        ])
        .current_dir(&side)
        .output()
        .expect("run");
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    for p in &pushed {
        let name = p.reference.split_once('/').expect("host").1;
        let raw = skopeo_inspect_raw(&format!("{mirror}/ent/{name}"), &SkopeoAuth::default())
            .expect("pushed");
        assert_eq!(raw, p.manifest, "{name}");
    }
}

/// The chunk names of archive `n` (1-based) of an archive directory.
fn chunks_of(dir: &std::path::Path, n: usize) -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("airlift-index.json")).expect("index"))
            .expect("json");
    index["archives"][n - 1]["chunks"]
        .as_array()
        .expect("chunks")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect()
}

/// Incremental archives applied on a separated side: archive 2 alone fails naming archive 1
/// and pushes nothing; 1 and 2 together restore the moved tag; `--since` writes one archive
/// that alone restores a fresh registry (the archives it carries again may be missing), and
/// the next build without it writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn archives_apply_in_sequence_and_since_writes_one_that_restores_alone() {
    let lab = Lab::new();
    let fresh = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&lab.up);
    let (base, a, b) = two_apps(&fx, Format::Oci).await;
    let recipe = |disk: &str, mirror: &str| {
        format!(
            "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n}}\n\ntarget \"disk\" \"file://{disk}\" {{\n    needs \"apps\"\n    archive-size \"32KiB\"\n}}\n\ntarget \"enterprise\" \"docker://{mirror}/ent\" {{\n    needs \"disk\"\n}}\n",
            a.reference, b.reference
        )
    };
    std::fs::write(
        lab.dir.path().join("airlift.kdl"),
        recipe("out/disk", &lab.mirror.host()),
    )
    .expect("recipe");
    let out = lab.run(&["build", "disk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a2 = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(9_000)],
        )
        .await;
    assert!(lab.run(&["update"]).status.success());
    let out = lab.run(&["build", "disk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let archive = lab.dir.path().join("out/disk");
    let (first, second) = (chunks_of(&archive, 1), chunks_of(&archive, 2));

    let side = tempfile::tempdir().expect("tempdir");
    let carried = side.path().join("media/disk");
    std::fs::write(
        side.path().join("airlift.kdl"),
        recipe(&carried.display().to_string(), &lab.mirror.host()),
    )
    .expect("recipe");
    // Archive 2 without archive 1: refused naming archive 1's chunk, nothing pushed.
    copy_dir(&archive, &carried, |n| !first.iter().any(|c| c == n));
    let out = airlift_in(BIN, side.path(), &["build", "enterprise"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("archive 1") && err.contains(&first[0]),
        "{err}"
    );
    let ent = |host: &str, name: &str| {
        skopeo_inspect_raw(&format!("{host}/ent/{name}"), &SkopeoAuth::default())
    };
    assert!(ent(&lab.mirror.host(), "apps/a:1").is_err());
    assert!(ent(&lab.mirror.host(), "apps/b:1").is_err());
    // Archive 1 arrives: both apply.
    copy_dir(&archive, &carried, |n| first.iter().any(|c| c == n));
    let out = airlift_in(BIN, side.path(), &["build", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ent(&lab.mirror.host(), "apps/a:1").ok(),
        Some(a2.manifest.clone())
    );
    assert_eq!(
        ent(&lab.mirror.host(), "apps/b:1").ok(),
        Some(b.manifest.clone())
    );

    // A lost transfer: one archive with everything shipped since a date before both.
    let out = lab.run(&["build", "disk", "--since", "2000-01-01"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let index: Value =
        serde_json::from_slice(&std::fs::read(archive.join("airlift-index.json")).expect("index"))
            .expect("json");
    assert_eq!(index["archives"][2]["resends_from"], 1, "{index:#}");
    let unique: BTreeSet<(String, u64)> = [&a2, &b]
        .iter()
        .flat_map(|p| {
            p.blobs
                .iter()
                .chain(p.children.iter().flat_map(|c| &c.blobs))
        })
        .map(|x| (x.digest.clone(), x.size))
        .collect();
    let manifests: u64 = [&a2, &b]
        .iter()
        .map(|p| {
            p.manifest.len() as u64
                + p.children
                    .iter()
                    .map(|c| c.manifest.len() as u64)
                    .sum::<u64>()
        })
        .sum();
    assert_eq!(
        index["archives"][2]["blob_bytes"].as_u64(),
        Some(unique.iter().map(|(_, s)| s).sum::<u64>() + manifests),
        "everything the target holds: {index:#}"
    );
    let alone = side.path().join("alone/disk");
    copy_dir(&archive, &alone, |n| {
        !first.iter().chain(&second).any(|c| c == n)
    });
    let fresh_side = side.path().join("fresh");
    std::fs::create_dir_all(&fresh_side).expect("mkdir");
    std::fs::write(
        fresh_side.join("airlift.kdl"),
        recipe(&alone.display().to_string(), &fresh.host()),
    )
    .expect("recipe");
    let out = airlift_in(BIN, &fresh_side, &["build", "enterprise"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ent(&fresh.host(), "apps/a:1").ok(),
        Some(a2.manifest.clone())
    );
    assert_eq!(
        ent(&fresh.host(), "apps/b:1").ok(),
        Some(b.manifest.clone())
    );
    // The next build without --since writes nothing: the series index keeps its bytes.
    let before = std::fs::read(archive.join("airlift-index.json")).expect("index");
    let out = lab.run(&["build", "disk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = std::fs::read(archive.join("airlift-index.json")).expect("index");
    assert_eq!(before, after, "no fourth archive");
    assert_eq!(index["archives"].as_array().map(Vec::len), Some(3));
}

/// Four apps at the source (app-0 and app-1 two-platform indexes), built into `mirror_host`;
/// the recipe then keeps app-2 and app-3 and retires app-0, app-1 (named by digest, mirrored by
/// tag) and app-2.
async fn retiring_lab(lab: &Lab, mirror_host: &str) -> Vec<Pushed> {
    let fx = Fixture::new(&lab.up);
    let mut apps = Vec::new();
    for n in 0..4 {
        let repo = format!("apps/app-{n}");
        let p = if n < 2 {
            fx.index(&repo, Some("1"), Format::Oci, &["amd64", "arm64"], &[], 512)
                .await
        } else {
            fx.image(
                &repo,
                Some("1"),
                Format::Oci,
                "amd64",
                &[Layer::Random(512)],
            )
            .await
        };
        apps.push(p);
    }
    let refs: Vec<&Pushed> = apps.iter().collect();
    lab.recipe(&refs, mirror_host);
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = format!(
        "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n}}\n\n\
         target \"mirror\" \"docker://{mirror_host}/mirror\" {{\n    needs \"apps\"\n}}\n\n\
         delete \"retire\" from=\"mirror\" {{\n    image \"{}\"\n    image \"{}\"\n    image \"{}\"\n}}\n",
        apps[2].reference,
        apps[3].reference,
        apps[0].reference,
        apps[1].by_digest(&lab.up.host()),
        apps[2].reference,
    );
    std::fs::write(lab.dir.path().join("airlift.kdl"), s).expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    apps
}

/// A SIGKILL during `delete --execute` (one deletion done, the next ones held at a gate, then
/// forwarded after the kill as if their answers were lost), then a rerun: every listed
/// manifest is gone, the kept app and everything else is intact, nothing extra deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_delete_execute_completes_on_rerun_and_deletes_nothing_else() {
    let lab = Lab::new();
    let deletes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = deletes.clone();
    let proxy = FaultProxy::start(
        &lab.mirror.host(),
        ProxyOptions {
            // Every DELETE after the first waits at the gate.
            matcher: Arc::new(move |method, _| {
                method == "DELETE" && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1
            }),
            gate: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let apps = retiring_lab(&lab, &proxy.host()).await;
    let mirror = Fixture::new(&lab.mirror);
    let before = mirror.listing().await;
    let out = lab.run(&["delete", "retire"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(
        lab.dir
            .path()
            .join(".airlift/out/mirror/delete/delete-images.txt"),
    )
    .expect("list");
    // Two indexes and their four children; app-2 is kept.
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        stdout(&out).contains("still used by images set `apps` of target `mirror`"),
        "{}",
        stdout(&out)
    );

    let mut child = Command::new(BIN)
        .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
        .args(["delete", "retire", "--execute"])
        .current_dir(lab.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn airlift");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.held() == 0 {
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "--execute finished without reaching the gate"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no DELETE reached the gate"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    // The held requests reach the registry after all: deleted, but airlift never heard.
    proxy.open_gate();
    while proxy.held() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out = lab.run(&["delete", "retire", "--execute"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 deleted by an earlier run"),
        "{}",
        stderr(&out)
    );
    for p in &apps[..2] {
        let repo = format!("mirror/{}", p.repo);
        for m in std::iter::once(p).chain(&p.children) {
            assert!(
                mirror.manifest(&repo, &m.digest).await.is_none(),
                "{repo}@{} survived",
                m.digest
            );
        }
    }
    let gone: BTreeSet<String> = apps[..2]
        .iter()
        .map(|p| format!("mirror/{}", p.repo))
        .collect();
    let expected: Vec<_> = before
        .iter()
        .filter(|(repo, _, _)| !gone.contains(repo))
        .cloned()
        .collect();
    assert_eq!(
        mirror.listing().await,
        expected,
        "more (or less) than the list was deleted"
    );
    for p in &apps[2..] {
        assert_mirrored_at(&lab.mirror.host(), p);
    }
}

/// app-2 and app-3 are at `host` with the source's manifest bytes.
fn assert_mirrored_at(host: &str, p: &Pushed) {
    let at = format!(
        "{host}/mirror/{}",
        p.reference.split_once('/').expect("host/").1
    );
    assert_eq!(
        skopeo_inspect_raw(&at, &SkopeoAuth::default()).ok(),
        Some(p.manifest.clone()),
        "{at}"
    );
}

/// A registry that refuses deletion: one error with the fix (not one per manifest), exit 5,
/// nothing deleted, the lock and the cluster resources as they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_refusing_deletion_fails_once_and_changes_nothing() {
    let lab = Lab {
        up: Registry::start(RegistryOptions::default()),
        mirror: Registry::start(RegistryOptions {
            no_delete: true,
            ..RegistryOptions::default()
        }),
        dir: tempfile::tempdir().expect("tempdir"),
    };
    retiring_lab(&lab, &lab.mirror.host()).await;
    let mirror = Fixture::new(&lab.mirror);
    let before = mirror.listing().await;
    let lock = std::fs::read(lab.dir.path().join("airlift.lock")).expect("lock");
    let resources = resources_of(lab.dir.path(), "mirror", "mirror");
    let out = lab.run(&["delete", "retire"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab.run(&["delete", "retire", "--execute"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    // One failed deletion reported, one error with the fix.
    assert_eq!(
        err.lines().filter(|l| l.starts_with("failed ")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("does not allow deleting manifests"), "{err}");
    assert_eq!(
        err.matches("REGISTRY_STORAGE_DELETE_ENABLED=true").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("1 deletion(s) failed and 5 did not start"),
        "{err}"
    );
    assert_eq!(mirror.listing().await, before);
    assert_eq!(
        std::fs::read(lab.dir.path().join("airlift.lock")).expect("lock"),
        lock
    );
    assert_eq!(resources_of(lab.dir.path(), "mirror", "mirror"), resources);
}

/// Hardening (leftover temporary files): a `.airlift-*.tmp` a crash left in
/// `cluster-resources/` used to stay forever; the next build renders the directory again and
/// removes it (and a no-op build after that stays a no-op).
#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_file_left_in_cluster_resources_is_removed_by_the_next_build() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let app = fx
        .image(
            "apps/tmp",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(256)],
        )
        .await;
    lab.recipe(&[&app], &lab.mirror.host());
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = lab.dir.path().join(".airlift/out/mirror/cluster-resources");
    let leftover = dir.join(".airlift-Xy12ab.tmp");
    std::fs::write(&leftover, "half a document").expect("write");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !leftover.exists(),
        "the leftover temporary file is still there"
    );
    let before = resources_of(lab.dir.path(), "mirror", "mirror");
    let out = lab.run(&["build", "--message-format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        count(&events(&out), "resources-written"),
        0,
        "a no-op build rendered again"
    );
    assert_eq!(resources_of(lab.dir.path(), "mirror", "mirror"), before);
}

/// Hardening (messages with a next step): a plain-HTTP registry reached with TLS verification on
/// used to fail with "corrupt message of type InvalidContentType", and a registry with a private
/// CA with "UnknownIssuer"; each now says which flag to pass.
#[tokio::test(flavor = "multi_thread")]
async fn tls_failures_name_the_flag_that_fixes_them() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let app = fx
        .image(
            "apps/tls",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(128)],
        )
        .await;
    lab.recipe(&[&app], &lab.mirror.host());
    let out = Command::new(BIN)
        .args(["build"])
        .current_dir(lab.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run airlift");
    assert!(!out.status.success());
    let err: String = format!("{}{}", stdout(&out), stderr(&out))
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        err.contains("answered plain HTTP to a TLS request"),
        "{err}"
    );
    // Not retried: a TLS mismatch does not heal by waiting.
    assert!(!err.contains(" attempts over "), "{err}");

    let private = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    let fx = Fixture::new(&private);
    let app = fx
        .image(
            "apps/ca",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(128)],
        )
        .await;
    lab.recipe(&[&app], &lab.mirror.host());
    let out = Command::new(BIN)
        .args(["--dest-tls-verify=false", "build"])
        .current_dir(lab.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run airlift");
    assert!(!out.status.success());
    let err: String = format!("{}{}", stdout(&out), stderr(&out))
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        err.contains("signed by a CA this machine does not trust"),
        "{err}"
    );
}

/// Hardening (retries as documented): the retry budget used to end after 5 attempts (about
/// 3 s), so a destination restarting for a few seconds failed the images in flight. Six 503s
/// in a row on a manifest push are now waited out (8 attempts, 16–32 s).
#[tokio::test(flavor = "multi_thread")]
async fn a_destination_failing_for_several_seconds_is_waited_out() {
    let lab = Lab::new();
    let proxy = FaultProxy::start(
        &lab.mirror.host(),
        ProxyOptions {
            matcher: Arc::new(|method, path| method == "PUT" && path.contains("/manifests/")),
            fail_first: 6,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let fx = Fixture::new(&lab.up);
    let app = fx
        .image(
            "apps/retry",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(256)],
        )
        .await;
    lab.recipe(&[&app], &proxy.host());
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(proxy.injected(), 6);
    assert_mirrored_at(&lab.mirror.host(), &app);
}

/// Hardening (one error block per registry): with the source registry gone, every image used
/// to repeat the same connection error; the failure now says it once, with how many images it
/// holds back.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_registry_is_reported_once_for_all_its_images() {
    let mut lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let mut apps = Vec::new();
    for n in 0..4 {
        apps.push(
            fx.image(
                &format!("apps/gone-{n}"),
                Some("1"),
                Format::Oci,
                "amd64",
                &[Layer::Random(64)],
            )
            .await,
        );
    }
    let refs: Vec<&Pushed> = apps.iter().collect();
    lab.recipe(&refs, &lab.mirror.host());
    lab.up.stop();
    let out = lab.run(&["build"]);
    assert!(!out.status.success());
    let err: String = stderr(&out)
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(err.contains("missing 4 images ("), "{err}");
    assert_eq!(
        err.matches("cannot connect to registry").count(),
        1,
        "{err}"
    );
}

/// Regression (#18, descriptor sizes): a manifest whose layer descriptor states a size its blob
/// does not have was pushed with exit 0 whenever the blob was already at the destination (found
/// present or mounted), because only uploads counted bytes. The copy now fails naming the blob
/// and both sizes, and the lying manifest is not tagged at the mirror.
#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_that_lies_about_a_present_blobs_size_is_refused() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let layer = Layer::shared_random(30_000);
    let honest = fx
        .image(
            "apps/honest",
            Some("1"),
            Format::Oci,
            "amd64",
            std::slice::from_ref(&layer),
        )
        .await;
    lab.recipe(&[&honest], &lab.mirror.host());
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same layer under a descriptor one byte too long, in the same repository: the mirror
    // holds the blob there already.
    let Layer::Shared(bytes) = &layer else {
        unreachable!()
    };
    let l = fx
        .push_blob("apps/honest", bytes, support::fixture::OCI_LAYER)
        .await;
    let c = fx
        .push_blob(
            "apps/honest",
            b"{\"architecture\":\"amd64\",\"os\":\"linux\"}",
            support::fixture::OCI_CONFIG,
        )
        .await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": support::fixture::OCI_MANIFEST,
        "config": {"mediaType": c.media_type, "digest": c.digest, "size": c.size},
        "layers": [{"mediaType": l.media_type, "digest": l.digest, "size": l.size + 1}],
    });
    fx.push_manifest(
        "apps/honest",
        "2",
        support::fixture::OCI_MANIFEST,
        &serde_json::to_vec(&manifest).expect("json"),
    )
    .await;
    // And in a repository the mirror does not have yet.
    for (repo, bytes, mt) in [
        ("apps/liar", bytes.as_slice(), support::fixture::OCI_LAYER),
        (
            "apps/liar",
            &b"{\"architecture\":\"amd64\",\"os\":\"linux\"}"[..],
            support::fixture::OCI_CONFIG,
        ),
    ] {
        fx.push_blob(repo, bytes, mt).await;
    }
    fx.push_manifest(
        "apps/liar",
        "1",
        support::fixture::OCI_MANIFEST,
        &serde_json::to_vec(&manifest).expect("json"),
    )
    .await;
    let liar = format!("{}/apps/honest:2", lab.up.host());
    let other_liar = format!("{}/apps/liar:1", lab.up.host());
    std::fs::write(
        lab.dir.path().join("airlift.kdl"),
        format!(
            "images \"apps\" {{\n    image \"{}\"\n    image \"{liar}\"\n    image \"{other_liar}\"\n}}\n\ntarget \"mirror\" \"docker://{}/mirror\" {{\n    needs \"apps\"\n}}\n",
            honest.reference,
            lab.mirror.host()
        ),
    )
    .expect("recipe");
    let out = lab.run(&["build"]);
    assert!(!out.status.success(), "the lying manifest was mirrored");
    let err = stderr(&out);
    let said = format!(
        "its descriptor says {} bytes, but the blob has {}",
        l.size + 1,
        l.size
    );
    assert!(
        err.contains(&format!(
            "blob {} in {}/mirror/apps/honest: {said}",
            l.digest,
            lab.mirror.host()
        )),
        "{err}"
    );
    // (mounted there from the repository an earlier run recorded, then checked)
    assert!(
        err.contains(&format!(
            "blob {} in {}/mirror/apps/liar: {said}",
            l.digest,
            lab.mirror.host()
        )),
        "{err}"
    );
    assert!(
        skopeo_inspect_raw(
            &format!("{}/mirror/apps/honest:2", lab.mirror.host()),
            &SkopeoAuth::default()
        )
        .is_err(),
        "nothing is tagged"
    );
}

/// Regression (#18, cross-run blob reuse): the layers a registry already holds in another
/// repository, recorded by an earlier run, were uploaded again into each new namespace
/// (1.46 GiB re-sent per namespace in the report). They are now mounted from the repository
/// the journal names; counted at the registry: no blob upload at all for the second namespace.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_namespace_mounts_what_an_earlier_run_put_in_the_registry() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let base = Layer::shared_random(200_000);
    let a = fx
        .image(
            "apps/a",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(50_000)],
        )
        .await;
    let b = fx
        .image(
            "apps/b",
            Some("1"),
            Format::Oci,
            "amd64",
            &[base, Layer::Random(50_000)],
        )
        .await;
    let uploads: support::proxy::Matcher =
        Arc::new(|m: &str, p: &str| (m == "PUT" || m == "PATCH") && p.contains("/blobs/uploads/"));
    let proxy = FaultProxy::start(
        &lab.mirror.host(),
        ProxyOptions {
            matcher: uploads,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let recipe = |targets: &[&str]| {
        let mut s = format!(
            "images \"apps\" {{\n    image \"{}\"\n    image \"{}\"\n}}\n",
            a.reference, b.reference
        );
        for t in targets {
            s.push_str(&format!(
                "\ntarget \"{t}\" \"docker://{}/{t}\" {{\n    needs \"apps\"\n}}\n",
                proxy.host()
            ));
        }
        std::fs::write(lab.dir.path().join("airlift.kdl"), s).expect("recipe");
    };
    recipe(&["first"]);
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = proxy.matched();
    assert!(
        first >= 5,
        "the first namespace uploads its 5 blobs ({first} upload requests)"
    );
    recipe(&["first", "second"]);
    let out = lab.run(&["build", "--message-format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        proxy.matched() - first,
        0,
        "blobs the registry held were sent again: {}",
        stderr(&out)
    );
    let ev = events(&out);
    // Three blobs per image (config, shared base, own layer), each mounted into its repository.
    assert_eq!(
        count(&ev, "blob-mounted"),
        6,
        "every blob of the second namespace is mounted"
    );
    for p in [&a, &b] {
        let at = format!(
            "{}/second/{}",
            lab.mirror.host(),
            p.reference.split_once('/').unwrap().1
        );
        assert_eq!(
            skopeo_inspect_raw(&at, &SkopeoAuth::default()).expect("second namespace"),
            p.manifest
        );
    }
}

// ---- --registries-conf: source redirects ---------------------------------------------------

/// `airlift` in `dir` with only the destination's TLS relaxed: a plain-HTTP source must be made
/// reachable by the registries.conf's `insecure = true`. The caller's environment cannot slip a
/// registries.conf in.
fn airlift_with_conf(dir: &std::path::Path, conf: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--dest-tls-verify=false")
        .arg("--registries-conf")
        .arg(conf)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CONTAINERS_REGISTRIES_CONF")
        .output()
        .expect("run airlift")
}

/// A recipe of `images` mirrored to `mirror_host/mirror`.
fn write_recipe(dir: &std::path::Path, images: &[&str], mirror_host: &str) {
    let mut s = String::from("images \"apps\" {\n");
    for i in images {
        s.push_str(&format!("    image \"{i}\"\n"));
    }
    s.push_str(&format!(
        "}}\n\ntarget \"mirror\" \"docker://{mirror_host}/mirror\" {{\n    needs \"apps\"\n}}\n"
    ));
    std::fs::write(dir.join("airlift.kdl"), s).expect("write recipe");
}

/// A name that resolves nowhere (`example.invalid`) is read from the `location` its
/// registries.conf entry gives — a plain-HTTP loopback registry, reached through the entry's
/// `insecure = true` — and keeps its own name in the lock and the cluster resources.
#[tokio::test(flavor = "multi_thread")]
async fn registries_conf_location_serves_a_name_that_resolves_nowhere() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let app = fx
        .index(
            "team/app",
            Some("1"),
            Format::Oci,
            &["amd64", "arm64"],
            &[Layer::Random(30_000)],
            20_000,
        )
        .await;
    let conf = lab.dir.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"example.invalid\"\nlocation = \"{}\"\ninsecure = true\n",
            lab.up.host()
        ),
    )
    .expect("write registries.conf");
    write_recipe(
        lab.dir.path(),
        &["example.invalid/team/app:1"],
        &lab.mirror.host(),
    );
    let out = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The mirror holds the source's bytes under the logical name's path.
    assert_mirrored(&lab, &app);
    let lock = std::fs::read_to_string(lab.dir.path().join("airlift.lock")).expect("lock");
    assert!(lock.contains("example.invalid/team/app:1"), "{lock}");
    assert!(!lock.contains(&lab.up.host()), "{lock}");
    let itms = std::fs::read_to_string(
        lab.dir
            .path()
            .join(".airlift/out/mirror/cluster-resources/itms-generic-0.yaml"),
    )
    .expect("itms");
    assert!(itms.contains("example.invalid/team/app"), "{itms}");
}

/// A `digest-only` mirror answers reads by digest and is not asked for tags: with the image on
/// the mirror only, the tag read fails at the (empty) primary without a manifest request to the
/// mirror, and the digest read is served by the mirror.
#[tokio::test(flavor = "multi_thread")]
async fn registries_conf_digest_only_mirror_serves_digests_not_tags() {
    let lab = Lab::new();
    let cache = Registry::start(RegistryOptions::default());
    let app = Fixture::new(&cache)
        .image(
            "team/app",
            Some("1"),
            Format::Docker,
            "amd64",
            &[Layer::Random(40_000)],
        )
        .await;
    let manifests: support::proxy::Matcher = Arc::new(|_, p: &str| p.contains("/manifests/"));
    let proxy = FaultProxy::start(
        &cache.host(),
        ProxyOptions {
            matcher: manifests,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let up = lab.up.host();
    let conf = lab.dir.path().join("registries.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"{up}/team\"\nlocation = \"{up}/team\"\ninsecure = true\n\n\
             [[registry.mirror]]\nlocation = \"{}/team\"\ninsecure = true\npull-from-mirror = \"digest-only\"\n",
            proxy.host()
        ),
    )
    .expect("write registries.conf");

    write_recipe(
        lab.dir.path(),
        &[&format!("{up}/team/app:1")],
        &lab.mirror.host(),
    );
    let by_tag = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(!by_tag.status.success(), "the primary has no such tag");
    assert!(
        stderr(&by_tag).contains(&format!("{up}/team/app:1")),
        "{}",
        stderr(&by_tag)
    );
    assert_eq!(
        proxy.matched(),
        0,
        "a tag read asked the digest-only mirror"
    );

    let by_digest = format!("{up}/team/app@{}", app.digest);
    write_recipe(lab.dir.path(), &[&by_digest], &lab.mirror.host());
    let out = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        proxy.matched() > 0,
        "the digest read did not use the mirror"
    );
    let at = format!("{}/mirror/team/app@{}", lab.mirror.host(), app.digest);
    assert_eq!(
        skopeo_inspect_raw(&at, &SkopeoAuth::default()).expect("mirrored"),
        app.manifest
    );

    // A digest no source has: the error is the primary's, and names what the mirror said.
    let nowhere = format!("{up}/team/app@sha256:{}", "0".repeat(64));
    write_recipe(lab.dir.path(), &[&nowhere], &lab.mirror.host());
    let out = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}/team/app: not found", proxy.host())),
        "{err}"
    );
    assert!(err.contains(&conf.display().to_string()), "{err}");
}

/// A lab whose source holds `team/app:1`, and a counting proxy in front of that source.
async fn team_app_behind_a_proxy() -> (Lab, FaultProxy) {
    let lab = Lab::new();
    Fixture::new(&lab.up)
        .image(
            "team/app",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    let proxy = FaultProxy::start(&lab.up.host(), ProxyOptions::passthrough()).await;
    (lab, proxy)
}

/// A blocked prefix is never read: the build fails with an error naming the registries.conf,
/// and the blocked registry sees no request for it.
#[tokio::test(flavor = "multi_thread")]
async fn registries_conf_blocked_prefix_fails_naming_the_file() {
    let (lab, proxy) = team_app_behind_a_proxy().await;
    let conf = lab.dir.path().join("blocking.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nlocation = \"{}/team\"\nblocked = true\n",
            proxy.host()
        ),
    )
    .expect("write registries.conf");
    let name = format!("{}/team/app:1", proxy.host());
    write_recipe(lab.dir.path(), &[&name], &lab.mirror.host());
    let out = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("blocked"), "{err}");
    assert!(err.contains(&conf.display().to_string()), "{err}");
    assert_eq!(proxy.total(), 0, "the blocked registry was contacted");
    let at = format!("{}/mirror/team/app:1", lab.mirror.host());
    assert!(skopeo_inspect_raw(&at, &SkopeoAuth::default()).is_err());
}

/// A blocked source with a mirror is read from the mirror alone (OpenShift's
/// `NeverContactSource`): the build succeeds without one request to the source, and skopeo,
/// given the same file, reads the same manifest.
#[tokio::test(flavor = "multi_thread")]
async fn registries_conf_blocked_source_is_read_from_its_mirror_only() {
    let lab = Lab::new();
    let cache = Registry::start(RegistryOptions::default());
    let app = Fixture::new(&cache)
        .image(
            "team/app",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(20_000)],
        )
        .await;
    let source = FaultProxy::start(&lab.up.host(), ProxyOptions::passthrough()).await;
    let conf = lab.dir.path().join("never-contact-source.conf");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"{src}/team\"\nlocation = \"{src}/team\"\nblocked = true\n\n\
             [[registry.mirror]]\nlocation = \"{}/team\"\ninsecure = true\n",
            cache.host(),
            src = source.host()
        ),
    )
    .expect("write registries.conf");
    let name = format!("{}/team/app:1", source.host());
    write_recipe(lab.dir.path(), &[&name], &lab.mirror.host());
    let out = airlift_with_conf(lab.dir.path(), &conf, &["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(source.total(), 0, "the blocked source was contacted");
    let at = format!("{}/mirror/team/app:1", lab.mirror.host());
    assert_eq!(
        skopeo_inspect_raw(&at, &SkopeoAuth::default()).expect("mirrored"),
        app.manifest
    );
    let skopeo = Command::new("skopeo")
        .args(["inspect", "--raw", "--registries-conf"])
        .arg(&conf)
        .arg(format!("docker://{name}"))
        .output()
        .expect("run skopeo");
    assert!(
        skopeo.status.success(),
        "{}",
        String::from_utf8_lossy(&skopeo.stderr)
    );
    assert_eq!(skopeo.stdout, app.manifest);
    assert_eq!(source.total(), 0, "skopeo contacted the blocked source");
}

/// A missing registries.conf (flag or `$CONTAINERS_REGISTRIES_CONF`) and a garbage one stop
/// every command before the recipe, the workspace or the network is touched.
#[tokio::test(flavor = "multi_thread")]
async fn registries_conf_missing_or_garbage_is_refused_before_any_network() {
    let (lab, proxy) = team_app_behind_a_proxy().await;
    let name = format!("{}/team/app:1", proxy.host());
    write_recipe(lab.dir.path(), &[&name], &lab.mirror.host());
    let dir = lab.dir.path();

    let missing = dir.join("no-such.conf");
    let out = airlift_with_conf(dir, &missing, &["build"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read registries.conf")
            && stderr(&out).contains("no-such.conf"),
        "{}",
        stderr(&out)
    );

    let garbage = dir.join("garbage.conf");
    std::fs::write(
        &garbage,
        "[[registry]]\nlocation = \"quay.io\"\nmirror = \"oops\n",
    )
    .expect("write");
    for out in [
        airlift_with_conf(dir, &garbage, &["build"]),
        Command::new(BIN)
            .args(["--dest-tls-verify=false", "lock"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("CONTAINERS_REGISTRIES_CONF", &garbage)
            .output()
            .expect("run airlift"),
    ] {
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{}:3:", garbage.display())),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(proxy.total(), 0, "a registry was contacted");
    assert!(!dir.join(".airlift").exists(), "the workspace was created");
    assert!(!dir.join("airlift.lock").exists());
}

/// Escapes text as the pages do.
fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// What a self-contained page must not contain: anything fetched from elsewhere.
fn assert_self_contained(page: &str) {
    for bad in ["http://", "https://", "@import", " src=", "<link"] {
        assert!(!page.contains(bad), "the page references `{bad}`");
    }
    for (i, _) in page.match_indices("url(") {
        assert!(page[i + 4..].starts_with('#'), "an external url( at {i}");
    }
}

/// Loads `page` in headless Chromium (Debian's package, as `.ci/run` installs it): the page's
/// script ran to its end (`data-rendered="ok"`), nothing was logged as an error, and a
/// screenshot was drawn. Returns false when Chromium is not installed (CI requires it).
fn renders_in_chromium(page: &std::path::Path, shot: &std::path::Path) -> bool {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run does)"
        );
        eprintln!("skipped: Chromium is not installed here (apt-get install chromium)");
        return false;
    };
    let profile = tempfile::tempdir().expect("profile");
    let run = |extra: &[String]| {
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1400,1800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium")
    };
    let dom = run(&["--dump-dom".to_string()]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-rendered=\"ok\""),
        "the page's script did not finish: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let log = String::from_utf8_lossy(&dom.stderr);
    for line in log.lines().filter(|l| l.contains("CONSOLE")) {
        assert!(
            !line.contains("Uncaught") && !line.contains(":ERROR:CONSOLE"),
            "script error in {}: {line}",
            page.display()
        );
    }
    let shot_run = run(&[format!("--screenshot={}", shot.display())]);
    assert!(
        shot_run.status.success(),
        "{}",
        String::from_utf8_lossy(&shot_run.stderr)
    );
    let png = std::fs::read(shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a drawn screenshot"
    );
    true
}

/// `build --timings` (#20): the page and its JSON list every task of the plan with start ≤ end,
/// their bytes add up to the build summary, `--jobs 2` shows as at most two requests at once
/// at the mirror, the pages fetch nothing from elsewhere, and both the timings page and
/// `plan --format html` render in a real browser without script errors.
#[tokio::test]
async fn timings_and_plan_pages_show_every_task_and_render_in_a_browser() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let base = Layer::shared_random(300_000);
    let mut images = Vec::new();
    for i in 0..4 {
        images.push(
            fx.image(
                &format!("apps/svc-{i}"),
                Some("1"),
                Format::Oci,
                "amd64",
                &[base.clone(), Layer::Random(50_000 + i * 1000)],
            )
            .await,
        );
    }
    let refs: Vec<&Pushed> = images.iter().collect();
    lab.recipe(&refs, &lab.mirror.host());

    let plan_json = lab.run(&["plan", "--format", "json"]);
    assert!(plan_json.status.success(), "{}", stderr(&plan_json));
    let plan: Value = serde_json::from_slice(&plan_json.stdout).expect("plan json");
    let ids: BTreeSet<String> = plan["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect();
    assert!(ids.len() >= 6, "4 copies, resources and the lock: {ids:?}");

    let plan_html = lab.run(&["plan", "--format", "html"]);
    assert!(plan_html.status.success(), "{}", stderr(&plan_html));
    let plan_page = stdout(&plan_html);
    assert_self_contained(&plan_page);
    assert!(
        plan_page.contains("copy ×4"),
        "copies of one set are one node"
    );

    let out = lab.run(&[
        "build",
        "--timings",
        "--jobs",
        "2",
        "--message-format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = events(&out)
        .into_iter()
        .find(|e| e["event"] == "build-summary")
        .expect("build-summary event");
    let dir = lab.dir.path().join(".airlift/out/mirror/timings");
    let data: Value = serde_json::from_slice(
        &std::fs::read(dir.join("airlift-timings.json")).expect("timings json"),
    )
    .expect("timings json parses");
    let page = std::fs::read_to_string(dir.join("airlift-timings.html")).expect("page");
    let stamped: Vec<String> = std::fs::read_dir(&dir)
        .expect("timings dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("airlift-timings-20") && n.ends_with(".html"))
        .collect();
    assert_eq!(
        stamped.len(),
        1,
        "one timestamped page beside the stable one"
    );

    let tasks = data["tasks"].as_array().expect("tasks");
    let seen: BTreeSet<String> = tasks
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(seen, ids, "every task of the plan, and no other");
    let mut bytes = 0;
    for t in tasks {
        assert_eq!(t["outcome"], "done", "{t}");
        let (start, end) = (
            t["start_ms"].as_u64().expect("start"),
            t["end_ms"].as_u64().expect("end"),
        );
        assert!(start <= end, "{t}");
        assert!(
            end <= data["duration_ms"].as_u64().expect("duration"),
            "{t}"
        );
        bytes += t["bytes"].as_u64().expect("bytes");
        let id = t["id"].as_str().expect("id");
        assert!(page.contains(&html_escaped(id)), "{id} is on the page");
    }
    assert_eq!(bytes, summary["bytes"].as_u64().expect("summary bytes"));
    assert_eq!(data["summary"]["bytes"], summary["bytes"]);
    assert_eq!(data["summary"]["blobs_uploaded"], summary["blobs_uploaded"]);
    assert_eq!(data["summary"]["blobs_mounted"], summary["blobs_mounted"]);
    let requests: u64 = summary["requests"]
        .as_array()
        .expect("requests per registry")
        .iter()
        .map(|r| r["requests"].as_u64().expect("count"))
        .sum();
    assert_eq!(data["summary"]["requests"].as_u64(), Some(requests));
    let hosts: BTreeSet<&str> = data["registries"]
        .as_array()
        .expect("registries")
        .iter()
        .map(|r| r["host"].as_str().expect("host"))
        .collect();
    assert!(hosts.contains(lab.mirror.host().as_str()) && hosts.contains(lab.up.host().as_str()));
    // `--jobs 2` bounds the transfers to a registry: the mirror never saw more than two
    // requests at once.
    let mirror_use = data["registries"]
        .as_array()
        .expect("registries")
        .iter()
        .find(|r| r["side"] == "destination" && r["host"] == lab.mirror.host().as_str())
        .expect("the mirror's traffic");
    assert!(
        mirror_use["max_in_flight"].as_u64().expect("max") <= 2,
        "{mirror_use}"
    );
    assert_self_contained(&page);

    let plan_file = lab.dir.path().join("plan.html");
    std::fs::write(&plan_file, &plan_page).expect("write plan page");
    let shots = tempfile::tempdir().expect("shots");
    if renders_in_chromium(
        &dir.join("airlift-timings.html"),
        &shots.path().join("t.png"),
    ) {
        assert!(renders_in_chromium(&plan_file, &shots.path().join("p.png")));
    }
}

/// `resources --icsp` (every flag shows its effect): the legacy ImageContentSourcePolicy is
/// written for digest-named images only when asked.
#[tokio::test]
async fn resources_icsp_writes_the_legacy_policy_only_when_asked() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let p = fx
        .image(
            "apps/pinned",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(1000)],
        )
        .await;
    let by_digest = p.by_digest(&lab.up.host());
    std::fs::write(
        lab.dir.path().join("airlift.kdl"),
        format!(
            "images \"apps\" {{\n    image \"{by_digest}\"\n}}\n\ntarget \"mirror\" \"docker://{}/mirror\" {{\n    needs \"apps\"\n}}\n",
            lab.mirror.host()
        ),
    )
    .expect("recipe");
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = lab
        .dir
        .path()
        .join(".airlift/out/mirror/cluster-resources/imageContentSourcePolicy.yaml");
    assert!(!file.exists(), "not written unless asked");
    let out = lab.run(&["resources", "mirror", "--icsp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).expect("--icsp writes it");
    assert!(text.contains("kind: ImageContentSourcePolicy"), "{text}");
    assert!(
        text.contains(&format!("{}/mirror/apps/pinned", lab.mirror.host())),
        "{text}"
    );
}

/// Scale (#19): a registry that answers 429 above a concurrency of 4. The destination's window
/// halves at the first 429s (with a fixed window of 6 it stayed 6) and grows back one request
/// at a time; the build completes with a bounded number of 429s (10 to 17 seen; each is
/// retried), and the summary says the registry throttled and how far the window narrowed.
#[tokio::test(flavor = "multi_thread")]
async fn a_throttling_registry_gets_a_smaller_window_and_few_429s() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let images = push_fleet(&fx, 24, |i| {
        let big = Layer::Random(1_000_000 + i * 100);
        (Format::Oci, vec![big, Layer::Random(5_000)])
    })
    .await;
    let proxy = FaultProxy::start(
        &lab.mirror.host(),
        ProxyOptions {
            throttle_above: Some(4),
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let refs: Vec<&Pushed> = images.iter().collect();
    lab.recipe(&refs, &proxy.host());
    let out = lab.run(&["build", "--message-format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let traffic = traffic_of(&out, &proxy.host());
    let throttled = traffic["throttled"].as_u64().expect("throttled");
    eprintln!("429s: {} of {} requests", proxy.throttled(), proxy.total());
    assert_eq!(
        throttled,
        proxy.throttled() as u64,
        "the summary counts every 429"
    );
    assert!(proxy.throttled() > 0, "the registry did throttle");
    assert!(
        proxy.throttled() <= 40,
        "bounded: {} answers 429",
        proxy.throttled()
    );
    let window = traffic["smallest_window"]
        .as_u64()
        .expect("a window toward the destination");
    assert!(window < 6, "the window narrowed from 6 to {window}");
    assert!(
        stderr(&out).contains(&format!("throttled: {} answered 429/503", proxy.host())),
        "{}",
        stderr(&out)
    );
}

/// Per-registry ceilings (#19): a `registry` node in the recipe keeps transfers to a registry
/// that answers 429 above 4 at 4 at once, so it never throttles; `--registry-concurrency
/// HOST=N` wins over the recipe for that host. The other registry keeps the default of 6.
#[tokio::test(flavor = "multi_thread")]
async fn a_registry_ceiling_from_the_recipe_or_the_command_line_keeps_a_registry_from_throttling() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let images = push_fleet(&fx, 16, |i| {
        let big = Layer::Random(300_000 + i * 100);
        (Format::Oci, vec![big, Layer::Random(2_000 + i)])
    })
    .await;
    let refs: Vec<&Pushed> = images.iter().collect();
    // Round 1: the recipe's ceiling (4). Round 2: the recipe still says 4, the command line
    // says 2 for that host, and the registry throttles above 2; a fresh workspace and
    // destination namespace make it copy everything again.
    for (round, ceiling) in [(1, 4), (2, 2)] {
        let proxy = FaultProxy::start(
            &lab.mirror.host(),
            ProxyOptions {
                throttle_above: Some(ceiling),
                ..ProxyOptions::passthrough()
            },
        )
        .await;
        let recipe = lab.recipe(&refs, &proxy.host());
        let namespace = format!("round{round}");
        let text = std::fs::read_to_string(&recipe)
            .expect("recipe")
            .replace("/mirror\"", &format!("/{namespace}\""))
            + &format!("registry \"{}\" concurrency=4\n", proxy.host());
        std::fs::write(&recipe, text).expect("write recipe");
        let cli = format!("{}={ceiling}", proxy.host());
        let mut args = vec!["build", "--message-format", "json"];
        if round == 2 {
            args.extend(["--registry-concurrency", cli.as_str()]);
            std::fs::remove_dir_all(lab.dir.path().join(".airlift")).expect("fresh workspace");
        }
        let out = lab.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            proxy.throttled(),
            0,
            "no 429 under a ceiling of {ceiling} ({} requests)",
            proxy.total()
        );
        assert!(proxy.total() > 50, "the copies went through the proxy");
        let window = |host: &str| traffic_of(&out, host)["smallest_window"].as_u64();
        assert_eq!(window(&proxy.host()), Some(ceiling as u64), "the ceiling");
        assert_eq!(
            window(&lab.up.host()),
            Some(6),
            "the source keeps the default"
        );
        let auth = SkopeoAuth::default();
        for i in &images {
            let path = i.reference.split_once('/').expect("host/").1;
            let copied = format!("{}/{namespace}/{path}", lab.mirror.host());
            let raw = skopeo_inspect_raw(&copied, &auth).expect("copied");
            assert_eq!(raw, i.manifest, "{copied}");
        }
    }
}

/// Request diet (#19): resolving a tag costs one manifest GET, which also gives the manifest
/// the copy needs (it used to be a HEAD for the digest, then a GET by digest).
#[tokio::test(flavor = "multi_thread")]
async fn resolving_a_tag_costs_one_manifest_get() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let proxy = FaultProxy::start(&lab.up.host(), ProxyOptions::passthrough()).await;
    let mut images = Vec::new();
    for i in 0..3 {
        let p = fx
            .image(
                &format!("diet/app-{i}"),
                Some("1"),
                Format::Oci,
                "amd64",
                &[Layer::Random(2_000 + i)],
            )
            .await;
        images.push(Pushed {
            reference: p.reference.replace(&lab.up.host(), &proxy.host()),
            ..p
        });
    }
    let refs: Vec<&Pushed> = images.iter().collect();
    lab.recipe(&refs, &lab.mirror.host());
    let out = lab.run(&["build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifests: Vec<(String, String)> = proxy
        .requests()
        .into_iter()
        .filter(|(_, path)| path.contains("/manifests/"))
        .collect();
    assert_eq!(manifests.len(), 3, "one request per image: {manifests:?}");
    for (method, path) in &manifests {
        assert_eq!(method, "GET", "{path}");
        assert!(path.ends_with("/manifests/1"), "by tag: {path}");
    }
    for p in &images {
        assert_mirrored(&lab, p);
    }
}

/// Scale (#19): three shard processes started at once against one destination, then
/// `--shards-done 3`. Every image is at the mirror (skopeo), each blob was uploaded once in
/// all (a logging proxy in front of the mirror), every shard copied a share, the shards wrote
/// no lock and no resources, and the final lock and cluster resources are byte-identical to a
/// single-process build of the same recipe.
#[tokio::test(flavor = "multi_thread")]
async fn three_shards_at_once_then_shards_done_match_a_single_build() {
    let lab = Lab::new();
    let fx = Fixture::new(&lab.up);
    let everyone = Layer::shared_random(1 << 20);
    let halves = [
        Layer::shared_random(512 << 10),
        Layer::shared_random(300 << 10),
    ];
    let images = push_fleet(&fx, 12, |i| {
        let layers = vec![
            everyone.clone(),
            halves[i % 2].clone(),
            Layer::Random(64 << 10),
        ];
        (Format::Oci, layers)
    })
    .await;
    let proxy = FaultProxy::start(&lab.mirror.host(), ProxyOptions::passthrough()).await;
    let refs: Vec<&Pushed> = images.iter().collect();
    let recipe = lab.recipe(&refs, &proxy.host());

    let dir = lab.dir.path().to_path_buf();
    let outputs =
        tokio::task::spawn_blocking(move || support::shards::shards_at_once(BIN, &dir, 3, &[]))
            .await
            .expect("join");
    let mut copied = 0;
    for (k, out) in (1..).zip(&outputs) {
        let n = support::shards::shard_copied(out, k, 3);
        assert_eq!(n, 4, "12 equal images over 3 shards: shard {k} copied {n}");
        copied += n;
        assert!(
            lab.dir
                .path()
                .join(format!(".airlift/shards/{k}-of-3/done"))
                .is_file()
        );
    }
    assert_eq!(copied, 12);
    assert!(
        !lab.dir.path().join("airlift.lock").exists(),
        "shards write no lock"
    );
    assert!(
        !lab.dir.path().join(".airlift/out/mirror").exists(),
        "shards render no resources"
    );
    let sharded_requests = proxy.requests();
    let mut uploads: BTreeMap<String, usize> = BTreeMap::new();
    for (_, d) in blob_uploads(&sharded_requests) {
        *uploads.entry(d).or_default() += 1;
    }
    let all_blobs: BTreeSet<String> = images
        .iter()
        .flat_map(|p| p.blobs.iter().map(|b| b.digest.clone()))
        .collect();
    let twice: Vec<_> = uploads.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "uploaded more than once: {twice:?}");
    assert_eq!(
        uploads.keys().cloned().collect::<BTreeSet<_>>(),
        all_blobs,
        "every blob uploaded by one shard"
    );

    // A shard that has not finished stops the final step.
    let early = lab.run(&["build", "--shards-done", "4"]);
    assert_eq!(early.status.code(), Some(2), "{}", stderr(&early));
    assert!(stderr(&early).contains("4 of 4 shard(s) have not finished"));

    let from = proxy.requests().len();
    let done = lab.run(&["build", "--shards-done", "3"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let after = proxy.requests()[from..].to_vec();
    assert!(
        blob_uploads(&after).is_empty(),
        "--shards-done uploads nothing"
    );
    for p in &images {
        assert_mirrored(&lab, p);
    }
    assert!(!lab.dir.path().join(".airlift/shards/1-of-3").exists());
    let lock = std::fs::read(lab.dir.path().join("airlift.lock")).expect("lock");
    let resources = resources_of(lab.dir.path(), "mirror", "mirror");

    // The same recipe built by one process in a fresh workspace.
    let single = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&recipe, single.path().join("airlift.kdl")).expect("recipe");
    let one = airlift_in(BIN, single.path(), &["build"]);
    assert!(one.status.success(), "{}", stderr(&one));
    assert_eq!(
        std::fs::read(single.path().join("airlift.lock")).expect("lock"),
        lock,
        "the lock"
    );
    assert_eq!(resources_of(single.path(), "mirror", "mirror"), resources);
    assert!(!resources.is_empty());

    // The next build is fresh: the merged journal holds what the shards did.
    let again = lab.run(&["build"]);
    assert!(
        stderr(&again).contains("0 copied, 12 fresh"),
        "{}",
        stderr(&again)
    );
}
