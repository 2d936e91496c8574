//! `airlift verify TARGET`: every manifest and blob the lock promises is present at the target
//! with the right digest. Reads the target registry only.

use futures_util::stream::{self, StreamExt};

use super::GlobalOpts;
use crate::exit::{CmdResult, Exit, Failure};
use crate::oci::{Digest, ImageRef};
use crate::pipeline::{self, Session};
use crate::registry::{ManifestDoc, RegistryClient};

pub(crate) fn run(global: &GlobalOpts, target: &str) -> CmdResult {
    let options = global.options();
    let session = Session::open(&options)?;
    let goal = &session.registry_goal(target, "verify")?;
    let Some(lock) = session.read_lock()? else {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "run `airlift lock` or `airlift build` first",
                "{} does not exist: the lock is what verify checks against",
                session.lock_path.display()
            ),
        ));
    };
    let journal = session.journal()?;
    let sides = session.sides(&options)?;
    // Releases from stored responses; bundle and related images of catalogs from the lock.
    let goal = &pipeline::offline_goal(&session, goal, Some(&lock))?;
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    for item in &goal.items {
        let Some(digest) = item
            .origin
            .digest()
            .or_else(|| lock.digest_of(&item.set, &item.origin))
            .cloned()
        else {
            problems.push(format!("{}: not in airlift.lock", item.origin));
            continue;
        };
        let dest = match item.dest(&goal.dest) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{}: {e}", item.origin));
                continue;
            }
        };
        // A filtered (sparse) index has its own digest; the journal knows it.
        let expected = journal
            .get(&dest.to_string())
            .filter(|r| r.source_digest == digest)
            .map_or(digest, |r| r.output_digest.clone());
        checks.push((dest, expected));
    }
    // The rebuilt catalogs themselves: the digest their prune task recorded.
    for c in &goal.catalogs {
        let Some(digest) = lock.digest_of(&c.set, &c.source) else {
            problems.push(format!(
                "catalog `{}` ({}): not in airlift.lock",
                c.set, c.source
            ));
            continue;
        };
        let dest = match c.dest(&goal.dest) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("catalog `{}`: {e}", c.set));
                continue;
            }
        };
        match journal
            .get(&dest.to_string())
            .filter(|r| &r.source_digest == digest)
        {
            Some(r) => checks.push((dest, r.output_digest.clone())),
            None => problems.push(format!(
                "{dest}: the rebuilt catalog of `{}` is not recorded; run `airlift build`",
                c.set
            )),
        }
    }
    let images = checks.len();
    let rt = pipeline::runtime()?;
    let limits = options.limits(&session.recipe);
    let jobs = limits.jobs;
    // One image's checks at a time per permit, under the registry's ceiling.
    let permits = &crate::exec::Permits::new(limits);
    let results: Vec<(usize, usize, Vec<String>)> = rt.block_on(
        stream::iter(checks)
            .map(|(dest, expected)| {
                let client = sides.dest.clone();
                async move {
                    let _permit = permits.acquire(&[dest.registry()]).await;
                    check_image(&client, &dest, &expected).await
                }
            })
            .buffer_unordered(jobs)
            .collect(),
    );
    let (mut manifests, mut blobs) = (0, 0);
    for (m, b, p) in results {
        manifests += m;
        blobs += b;
        problems.extend(p);
    }
    problems.sort();
    if !global.quiet {
        eprintln!(
            "verify: target `{target}`: {} image(s), {manifests} manifest(s) and {blobs} blob(s) checked, {} problem(s)",
            images,
            problems.len()
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::Verification,
        miette::miette!(
            help = "run `airlift build` to restore what is missing (it re-checks destinations), then verify again",
            "target `{target}` does not hold everything the lock promises:\n  {}",
            problems.join("\n  ")
        ),
    ))
}

/// HEADs the tag, then walks the manifest tree by digest and HEADs every blob.
async fn check_image(
    client: &RegistryClient,
    dest: &ImageRef,
    expected: &Digest,
) -> (usize, usize, Vec<String>) {
    let mut problems = Vec::new();
    let (mut manifests, mut blobs) = (0, 0);
    match client.head_manifest(dest).await {
        Ok(Some(d)) if &d == expected => {}
        Ok(Some(d)) => problems.push(format!("{dest}: points at {d}, expected {expected}")),
        Ok(None) => problems.push(format!("{dest}: missing")),
        Err(e) => problems.push(format!("{dest}: {e}")),
    }
    let repo = dest.repository();
    let mut queue = vec![expected.clone()];
    while let Some(digest) = queue.pop() {
        let m = match client.get_manifest(&repo.with_digest(digest.clone())).await {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{repo}@{digest}: {e}"));
                continue;
            }
        };
        manifests += 1;
        let doc: ManifestDoc = match serde_json::from_slice(&m.bytes) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{repo}@{digest}: not a manifest: {e}"));
                continue;
            }
        };
        queue.extend(doc.manifests.iter().map(|c| c.digest.clone()));
        for b in doc.config.iter().chain(doc.layers.iter()) {
            blobs += 1;
            match client.blob_exists(repo, &b.digest).await {
                Ok(true) => {}
                Ok(false) => problems.push(format!("{repo}: blob {} missing", b.digest)),
                Err(e) => problems.push(format!("{repo}: blob {}: {e}", b.digest)),
            }
        }
    }
    (manifests, blobs, problems)
}
