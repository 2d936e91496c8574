//! Release sets in the pipeline commands (`plan`, `build`, `lock`): discover the releases the
//! goals carry and add their payloads and components to the goals, build the signature
//! verification specs for the planner, and find saved signatures for the ConfigMap.
//!
//! Glue only: discovery lives in `discover::release`, the goal items and verification tasks in
//! `plan::release`, verification in `task::verify`. Writes nothing but discovery's caches.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::GlobalOpts;
use super::session::{Session, sides};
use crate::discover::{self, DiscoveredRelease};
use crate::exit::{Exit, Failure};
use crate::oci::Digest;
use crate::plan::{self, TargetGoal, VerifySpec};
use crate::recipe::ContentSet;
use crate::release::{DEFAULT_TIMEOUT, GraphCache, GraphClient, GraphSource, UPDATE_URL_ENV};
use crate::state::LockFile;

/// `<workspace>/cache/graphs`: stored update-graph responses.
pub(crate) fn graph_cache(session: &Session) -> GraphCache {
    GraphCache::new(session.workspace.root().join("cache").join("graphs"))
}

/// `<workspace>/signatures`: verified release signatures (`sha256=<hex>/signature-N`).
pub(crate) fn signatures_dir(session: &Session) -> PathBuf {
    session.workspace.root().join("signatures")
}

/// Release sets the goals carry, sorted.
fn carried_sets(goals: &[TargetGoal]) -> Vec<String> {
    let sets: BTreeSet<String> = goals
        .iter()
        .flat_map(|g| g.releases.iter().map(|r| r.set.clone()))
        .collect();
    sets.into_iter().collect()
}

/// Discovers the releases of every release set the goals carry and adds their images to the
/// goals. Selection warnings go to stderr.
pub(crate) fn prepare(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &GlobalOpts,
    goals: &mut [TargetGoal],
    lock: Option<&LockFile>,
) -> Result<Vec<DiscoveredRelease>, Failure> {
    let sets = carried_sets(goals);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let with_graph: Vec<String> = sets
        .iter()
        .filter(
            |s| matches!(session.recipe.content_set(s), Some(ContentSet::Release(r)) if r.graph),
        )
        .map(|s| format!("`graph #true` of release `{s}` (graph-data image and UpdateService)"))
        .collect();
    if !with_graph.is_empty() {
        return Err(Failure::not_available(&with_graph.join(", ")));
    }
    let client = GraphClient::new(DEFAULT_TIMEOUT);
    let source = if global.offline {
        GraphSource::Offline
    } else {
        GraphSource::Online {
            client: &client,
            env_override: std::env::var(UPDATE_URL_ENV).ok(),
        }
    };
    let fail = |e: discover::ReleaseDiscoveryError, exit: Exit| {
        Failure::new(exit, miette::miette!(help = e.help(), "{e}"))
    };
    let selections =
        discover::select_releases(&session.recipe, &sets, &source, &graph_cache(session)).map_err(
            |e| {
                let exit = match e {
                    discover::ReleaseDiscoveryError::Select { .. } => Exit::InvalidInput,
                    _ => Exit::Remote,
                };
                fail(e, exit)
            },
        )?;
    if !global.quiet {
        for (set, s) in &selections {
            for w in &s.warnings {
                eprintln!("warning: release `{set}`: {w}");
            }
        }
    }
    let source_client = sides(global)?.source;
    let cache = session.workspace.root().join("cache").join("releases");
    let releases = rt
        .block_on(discover::read_releases(
            &session.recipe,
            &selections,
            &source_client,
            &cache,
            lock,
            global.offline,
        ))
        .map_err(|e| fail(e, Exit::Remote))?;
    if !global.quiet {
        for r in &releases {
            eprintln!(
                "release `{}`: {} {} ({} components) {}",
                r.set,
                r.version,
                r.arch,
                r.components.len(),
                r.payload
            );
        }
    }
    plan::add_release_items(goals, &releases);
    Ok(releases)
}

/// One verification per discovered release whose set a `trust` block with a `gpg-keyring`
/// applies to (the first such block by name). Empty with `--no-verify`, which warns.
pub(crate) fn verifications(
    session: &Session,
    releases: &[DiscoveredRelease],
    no_verify: bool,
) -> Result<Vec<VerifySpec>, Failure> {
    let mut out = Vec::new();
    let mut skipped = BTreeSet::new();
    for r in releases {
        let mut trusts: Vec<_> = session
            .recipe
            .trusts_for(&r.set)
            .filter(|t| t.gpg_keyring.is_some())
            .collect();
        trusts.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        let Some(trust) = trusts.first() else {
            continue;
        };
        let Some(keyring) = &trust.gpg_keyring else {
            continue;
        };
        if no_verify {
            skipped.insert(format!(
                "trust `{}` applies to `{}`",
                trust.name.value, r.set
            ));
            continue;
        }
        let bytes = std::fs::read(&keyring.value).map_err(|e| {
            Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = "fix the `gpg-keyring` path of the trust block (relative to the recipe file)",
                    "trust `{}`: cannot read the keyring {}: {e}",
                    trust.name.value,
                    keyring.value.display()
                ),
            )
        })?;
        let Some(digest) = r.payload.digest() else {
            continue;
        };
        out.push(VerifySpec {
            set: r.set.clone(),
            release: r.tag(),
            payload: r.payload.clone(),
            digest: digest.clone(),
            keyring: keyring.value.clone(),
            keyring_digest: Digest::of(&bytes),
            store: trust.signature_store.as_ref().map(|s| s.value.clone()),
            also_accept: vec![r.payload.repository().clone()],
            signatures_dir: signatures_dir(session),
        });
    }
    // Printed even with -q: mirroring unverified releases is never quiet.
    if !skipped.is_empty() {
        eprintln!(
            "WARNING: --no-verify: release signatures are NOT verified ({}); mirrored releases are unverified",
            skipped.into_iter().collect::<Vec<_>>().join("; ")
        );
    }
    out.sort_by(|a, b| (&a.set, &a.release).cmp(&(&b.set, &b.release)));
    out.dedup_by(|a, b| a.digest == b.digest);
    Ok(out)
}
