//! Release sets in the pipeline commands (`plan`, `build`, `lock`): discover the releases the
//! goals carry and add their payloads and components to the goals, build the signature
//! verification specs for the planner, and build and push the graph-data image (`graph #true`).
//!
//! Glue only: discovery lives in `discover::release`, the goal items and verification tasks in
//! `plan::release`, verification in `task::verify`. Writes discovery's caches and, in
//! [`build_graph_images`] only, the graph-data image and its journal record.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::GlobalOpts;
use super::session::{self, Session};
use crate::discover::{self, DiscoveredRelease, Resolution};
use crate::exit::{Exit, Failure};
use crate::oci::Digest;
use crate::plan::{self, TargetGoal, TaskKey, VerifySpec};
use crate::recipe::{ContentSet, GraphBase, ReleaseSet};
use crate::registry::RegistryClient;
use crate::release::{
    BuiltImage, DEFAULT_GRAPH_DATA_URL, DEFAULT_TIMEOUT, FetchError, GraphCache, GraphClient,
    GraphDataLayer, GraphSource, UPDATE_URL_ENV, build_graph_data_layer, fetch_graph_data,
    image_from_scratch, image_on_base, load_graph_data,
};
use crate::state::{Journal, LockFile, Record};
use crate::task::{BaseSource, GraphBaseImage, push_graph_image, read_graph_base};

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
    resolution: Resolution,
) -> Result<Vec<DiscoveredRelease>, Failure> {
    let sets = carried_sets(goals);
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let client = GraphClient::new(DEFAULT_TIMEOUT);
    let env_override = std::env::var(UPDATE_URL_ENV).ok();
    let source = match resolution {
        Resolution::Offline => GraphSource::Offline,
        Resolution::Pinned => GraphSource::Stored {
            client: &client,
            env_override,
        },
        Resolution::Fresh => GraphSource::Online {
            client: &client,
            env_override,
        },
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
    let source_client = session.sides(global)?.source;
    let cache = session.workspace.root().join("cache").join("releases");
    let releases = rt
        .block_on(discover::read_releases(
            &session.recipe,
            &selections,
            &source_client,
            &cache,
            lock,
            resolution,
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

/// `goal` with the items of its release sets from stored graph responses and the payload
/// cache (no network), when the caller did not discover them (`airlift resources`,
/// `airlift verify`). A payload named by tag (`image=`) is pinned through the lock.
pub(crate) fn with_stored_releases(
    session: &Session,
    goal: &TargetGoal,
) -> Result<TargetGoal, Failure> {
    let mut goal = goal.clone();
    let discovered = goal
        .items
        .iter()
        .any(|i| i.category == crate::resources::Category::Release);
    let sets = carried_sets(std::slice::from_ref(&goal));
    if discovered || sets.is_empty() {
        return Ok(goal);
    }
    let fail = |e: discover::ReleaseDiscoveryError| {
        Failure::new(Exit::InvalidInput, miette::miette!(help = e.help(), "{e}"))
    };
    let selections = discover::select_releases(
        &session.recipe,
        &sets,
        &GraphSource::Offline,
        &graph_cache(session),
    )
    .map_err(fail)?;
    let kubevirt = |s: &str| matches!(session.recipe.content_set(s), Some(ContentSet::Release(r)) if r.kubevirt_container);
    let lock = session.read_lock()?;
    let releases = discover::stored_releases(
        &selections,
        &session.workspace.root().join("cache").join("releases"),
        lock.as_ref(),
        kubevirt,
    )
    .map_err(fail)?;
    plan::add_release_items(std::slice::from_mut(&mut goal), &releases);
    Ok(goal)
}

/// One verification per discovered release whose set one or more `trust` blocks with a
/// `gpg-keyring` apply to. The keyrings of all of them are used (a signature by a key of any
/// one verifies the release); the signature store is the first `signature-store` among them
/// by trust name. Empty with `--no-verify`, which warns.
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
            .filter_map(|t| t.gpg_keyring.as_ref().map(|k| (t, k)))
            .collect();
        trusts.sort_by(|a, b| a.0.name.value.cmp(&b.0.name.value));
        if trusts.is_empty() {
            continue;
        }
        if no_verify {
            for (t, _) in &trusts {
                skipped.insert(format!("trust `{}` applies to `{}`", t.name.value, r.set));
            }
            continue;
        }
        let mut keyrings = Vec::new();
        let mut digests = Vec::new();
        for (trust, keyring) in &trusts {
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
            keyrings.push(keyring.value.clone());
            digests.push(Digest::of(&bytes));
        }
        // One keyring keeps the digest of its bytes, so recorded verifications stay fresh.
        let keyring_digest = match digests.as_slice() {
            [one] => one.clone(),
            many => Digest::of(
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .as_bytes(),
            ),
        };
        let Some(digest) = r.payload.digest() else {
            continue;
        };
        out.push(VerifySpec {
            set: r.set.clone(),
            release: r.tag(),
            payload: r.payload.clone(),
            digest: digest.clone(),
            keyrings,
            keyring_digest,
            store: trusts
                .iter()
                .find_map(|(t, _)| t.signature_store.as_ref().map(|s| s.value.clone())),
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

/// The first release set (by name) with `graph #true` that `goal` carries.
pub(crate) fn graph_set<'a>(session: &'a Session, goal: &TargetGoal) -> Option<&'a ReleaseSet> {
    let mut sets: Vec<&str> = goal.releases.iter().map(|r| r.set.as_str()).collect();
    sets.sort();
    sets.into_iter()
        .find_map(|s| match session.recipe.content_set(s) {
            Some(ContentSet::Release(r)) if r.graph => Some(r),
            _ => None,
        })
}

/// The graph-data tarball of `set`, stored under `<workspace>/cache/graph-data`: pinned like
/// the update graphs — `build` reuses the stored one (fetching it the first time), `lock` and
/// `update` fetch it again, `--offline` only reads it.
fn graph_data(
    session: &Session,
    set: &ReleaseSet,
    resolution: Resolution,
) -> Result<Vec<u8>, FetchError> {
    let dir = session.workspace.root().join("cache").join("graph-data");
    let fetch = || {
        let url = set
            .graph_data_url
            .as_ref()
            .map_or(DEFAULT_GRAPH_DATA_URL, |u| u.value.as_str());
        fetch_graph_data(&GraphClient::new(DEFAULT_TIMEOUT), url, &dir)
    };
    match resolution {
        Resolution::Offline => load_graph_data(&dir),
        Resolution::Pinned => match load_graph_data(&dir) {
            Err(FetchError::GraphDataNotStored { .. }) => fetch(),
            other => other,
        },
        Resolution::Fresh => fetch(),
    }
}

/// `lock`/`update`: fetches the graph-data tarball again when a graph set the goals carry is
/// among those refreshed, so the next `build` builds its graph-data image from current data.
pub(crate) fn refresh_graph_data(session: &Session, goals: &[TargetGoal]) -> Result<(), Failure> {
    let Some(set) = goals.iter().find_map(|g| graph_set(session, g)) else {
        return Ok(());
    };
    graph_data(session, set, Resolution::Fresh)
        .map(|_| ())
        .map_err(|e| {
            let help = miette::Diagnostic::help(&e)
                .map(|h| h.to_string())
                .unwrap_or_else(|| "check the release set's graph-data-url".to_string());
            Failure::new(
                Exit::Remote,
                miette::miette!(help = help, "graph-data tarball: {e}"),
            )
        })
}

/// `graph #true`: builds the graph-data image from the graph-data tarball ([`graph_data`]) on the
/// `graph-base-image` of the first target's graph set (read from the source side; its tag is resolved at every build, it is not
/// in the lock) and pushes it, base layers included, to `<target>/openshift/graph-image:latest`
/// of every target carrying such a set, recording the push in the journal (key: graph-data
/// layer, base digest, destination). A target whose journal records the same image there is
/// skipped.
pub(crate) fn build_graph_images(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &GlobalOpts,
    goals: &[TargetGoal],
    journal: &mut Journal,
) -> Result<(), Failure> {
    let wanted: Vec<(&TargetGoal, &ReleaseSet)> = goals
        .iter()
        .filter_map(|g| graph_set(session, g).map(|s| (g, s)))
        .collect();
    let Some((_, first)) = wanted.first() else {
        return Ok(());
    };
    let fetch_fail = |e: FetchError| {
        let help = miette::Diagnostic::help(&e)
            .map(|h| h.to_string())
            .unwrap_or_else(|| "check the release set's graph-data-url".to_string());
        Failure::new(
            Exit::Remote,
            miette::miette!(help = help, "graph-data image: {e}"),
        )
    };
    let tarball = graph_data(session, first, session::resolution(global)).map_err(fetch_fail)?;
    let mtime = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let layer = build_graph_data_layer(&tarball, mtime).map_err(|e| {
        Failure::new(
            Exit::Remote,
            miette::miette!(
                help = "the graph-data tarball must be Cincinnati's graph-data (channels/, blocked-edges/)",
                "graph-data image: {e}"
            ),
        )
    })?;
    let sides = session.sides(global)?;
    let (base, image) = graph_image_on_base(rt, &sides.source, first, &layer)?;
    let dest_client = sides.dest;
    let base_name = base
        .as_ref()
        .map_or_else(|| "scratch".to_string(), |b| b.image.to_string());
    for (goal, _) in wanted {
        let dest =
            plan::graph_image(&goal.dest).map_err(|e| Failure::new(Exit::InvalidInput, e))?;
        let dest_s = dest.to_string();
        let mut inputs = vec![&layer.digest];
        inputs.extend(base.as_ref().and_then(|b| b.image.digest()));
        let key = TaskKey::compute(
            "build-graph-image",
            &inputs,
            &serde_json::json!({ "base": base_name, "dest": dest_s }),
        );
        let recorded = journal
            .get(&dest_s)
            .is_some_and(|r| r.key == key.as_str() && r.output_digest == image.manifest_digest);
        if recorded
            && rt.block_on(dest_client.head_manifest(&dest)).ok().flatten()
                == Some(image.manifest_digest.clone())
        {
            continue;
        }
        let digest = rt
            .block_on(push_graph_image(
                &dest_client,
                &dest,
                &image,
                &layer,
                base.as_ref().map(|b| BaseSource {
                    client: &sides.source,
                    base: b,
                }),
            ))
            .map_err(|e| {
                Failure::new(
                    Exit::Remote,
                    miette::miette!(
                        help = "check the destination registry's reachability and credentials, then rerun",
                        "graph-data image push to {dest}: {e}"
                    ),
                )
            })?;
        journal
            .append(&[Record {
                key: key.to_string(),
                kind: "build-graph-image".to_string(),
                dest: dest_s,
                source_digest: layer.digest.clone(),
                output_digest: digest,
            }])
            .map_err(Failure::io)?;
        if !global.quiet {
            match &base {
                Some(b) => eprintln!(
                    "graph-data image: {dest}@{} on {}",
                    image.manifest_digest, b.image
                ),
                None => eprintln!(
                    "graph-data image: {dest}@{} (graph-base-image=\"scratch\": no base image, so its copy command cannot run; see the book's Releases page)",
                    image.manifest_digest
                ),
            }
        }
    }
    Ok(())
}

/// The architecture of the graph-data image: the release set's first, `multi` → amd64.
fn graph_arch(set: &ReleaseSet) -> &str {
    match set.arch.first().map(|a| a.value.as_str()) {
        None | Some("multi") => "amd64",
        Some(a) => a,
    }
}

/// Reads the set's graph base image from the source side (none for `scratch`) and builds the
/// graph-data image on it.
fn graph_image_on_base(
    rt: &tokio::runtime::Runtime,
    source: &RegistryClient,
    set: &ReleaseSet,
    layer: &GraphDataLayer,
) -> Result<(Option<GraphBaseImage>, BuiltImage), Failure> {
    let name = &set.name.value;
    let base = set.graph_base().map_err(|e| {
        Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "set `graph-base-image=\"<image>\"` on the release set",
                "release `{name}`: the default graph base image is not a valid reference: {e}"
            ),
        )
    })?;
    let arch = graph_arch(set);
    let GraphBase::Image(reference) = base else {
        return Ok((None, image_from_scratch(layer, arch)));
    };
    let read = rt
        .block_on(read_graph_base(source, &reference, arch))
        .map_err(|e| {
            Failure::new(
                Exit::Remote,
                miette::miette!(
                    help = format!(
                        "make `{reference}` readable from the source side (mirror it there, check credentials and TLS flags), or set `graph-base-image=\"<reachable image>\"` on release `{name}`; `graph-base-image=\"scratch\"` builds the image without a base (its copy command then cannot run)"
                    ),
                    "graph-data image: cannot read its base image `{reference}` (linux/{arch}): {e}"
                ),
            )
        })?;
    let image = image_on_base(&read.config, &read.layers, layer).map_err(|e| {
        Failure::new(
            Exit::Remote,
            miette::miette!(
                help = format!(
                    "set `graph-base-image=\"<image>\"` on release `{name}` to a regular Linux image with a shell (e.g. a UBI image)"
                ),
                "graph-data image on `{}`: {e}",
                read.image
            ),
        )
    })?;
    Ok((Some(read), image))
}
