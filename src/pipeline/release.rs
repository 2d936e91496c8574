//! Release sets in discovery: select the releases of every release set the goals carry from
//! the update graph (stored responses pinned like the lock), read their payloads' components,
//! read the trust keyrings that verify them (once per build), and prepare the graph-data
//! image's inputs (stored graph-data tarball, pinned base image).
//!
//! Writes discovery's caches (graph responses, payload components, graph data) and nothing
//! else. Release items join the goals only through `plan::expand_items`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::discover::Said;
use super::{Options, Session};
use crate::discover::{self, DiscoveredRelease, GraphInput, ReleaseTrust, Resolution};
use crate::exit::{Exit, Failure};
use crate::oci::{Digest, ImageRef};
use crate::plan::{self, TargetGoal};
use crate::recipe::{ContentSet, GraphBase, ReleaseSet};
use crate::release::{
    DEFAULT_GRAPH_DATA_URL, FetchError, GRAPH_DATA_FILE, GraphCache, GraphClient, GraphSource,
    UPDATE_URL_ENV, fetch_graph_data, load_graph_data,
};
use crate::state::LockFile;
use crate::task::KeyFile;

/// `<workspace>/cache/graphs`: stored update-graph responses.
pub fn graph_cache(session: &Session) -> GraphCache {
    GraphCache::new(super::options::graph_cache_dir(session.workspace.root()))
}

/// `<workspace>/signatures`: verified release signatures (`sha256=<hex>/signature-N`).
pub fn signatures_dir(session: &Session) -> PathBuf {
    session.workspace.root().join("signatures")
}

/// `<workspace>/cache/graph-data`: the stored graph-data tarball.
fn graph_data_dir(session: &Session) -> PathBuf {
    session.workspace.root().join("cache").join("graph-data")
}

/// Release sets the goals carry, sorted.
pub fn carried_sets(goals: &[TargetGoal]) -> Vec<String> {
    let sets: BTreeSet<String> = goals
        .iter()
        .flat_map(|g| g.releases.iter().map(|r| r.set.clone()))
        .collect();
    sets.into_iter().collect()
}

/// Discovers the releases of every release set the goals carry. Selection warnings go to
/// `warnings`, one line per release read to `notes`.
pub fn discover_releases(
    rt: &tokio::runtime::Runtime,
    session: &Session,
    global: &Options,
    sets: &[String],
    lock: Option<&LockFile>,
    resolution: Resolution,
    said: &mut Said,
) -> Result<Vec<DiscoveredRelease>, Failure> {
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let client = GraphClient::with(global.web()?);
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
        discover::select_releases(&session.recipe, sets, &source, &graph_cache(session)).map_err(
            |e| {
                let exit = match e {
                    discover::ReleaseDiscoveryError::Select { .. } => Exit::InvalidInput,
                    _ => Exit::Remote,
                };
                fail(e, exit)
            },
        )?;
    for (set, s) in &selections {
        for w in &s.warnings {
            said.warnings.push(format!("release `{set}`: {w}"));
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
    for r in &releases {
        said.notes.push(release_note(r, ""));
    }
    Ok(releases)
}

/// The line discovery prints for a release it read (`where_` says from where, if not the
/// update graph).
pub fn release_note(r: &DiscoveredRelease, where_: &str) -> String {
    format!(
        "release `{}`: {} {} ({} components) {}{where_}",
        r.set,
        r.version,
        r.arch,
        r.components.len(),
        r.payload
    )
}

/// `goal` with the items of its release sets from stored graph responses and the payload
/// cache (no network), when the caller did not discover them (`airlift resources`,
/// `airlift verify`). A payload named by tag (`image=`) is pinned through the lock.
pub fn with_stored_releases(session: &Session, goal: &TargetGoal) -> Result<TargetGoal, Failure> {
    let discovered = goal
        .items
        .iter()
        .any(|i| i.category == crate::resources::Category::Release);
    let mut sets = carried_sets(std::slice::from_ref(goal));
    if discovered || sets.is_empty() {
        return Ok(goal.clone());
    }
    // Release sets taken from archives: what the archives carry (no update graph here).
    let archived = super::carried::archived_release_sets(std::slice::from_ref(goal));
    sets.retain(|s| !archived.contains_key(s));
    let from_archives = if archived.is_empty() {
        Vec::new()
    } else {
        super::carried::read(&super::runtime()?, session, &archived, None)?.releases
    };
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
    let mut releases = releases;
    releases.extend(from_archives);
    releases.sort();
    let discovery = discover::Discovery {
        releases,
        ..discover::Discovery::default()
    };
    Ok(plan::expanded_goal(goal, &discovery, &[]).0)
}

/// The keyrings of the trust blocks with a `gpg-keyring` that apply to each discovered
/// release's set, read once (a signature by a key of any of them verifies the release). With
/// `--no-verify` nothing is read and a warning says what is skipped (printed even with `-q`).
pub fn release_trust(
    session: &Session,
    releases: &[DiscoveredRelease],
    verify: bool,
    warnings: &mut Vec<String>,
) -> Result<std::collections::BTreeMap<String, ReleaseTrust>, Failure> {
    let mut out = std::collections::BTreeMap::new();
    let mut skipped = BTreeSet::new();
    let sets: BTreeSet<&str> = releases.iter().map(|r| r.set.as_str()).collect();
    for set in sets {
        let mut trusts: Vec<_> = session
            .recipe
            .trusts_for(set)
            .filter_map(|t| t.gpg_keyring.as_ref().map(|k| (t, k)))
            .collect();
        trusts.sort_by(|a, b| a.0.name.value.cmp(&b.0.name.value));
        if trusts.is_empty() {
            continue;
        }
        if !verify {
            for (t, _) in &trusts {
                skipped.insert(format!("trust `{}` applies to `{set}`", t.name.value));
            }
            continue;
        }
        let mut keyrings = Vec::new();
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
            keyrings.push(KeyFile::new(keyring.value.clone(), bytes));
        }
        out.insert(
            set.to_string(),
            ReleaseTrust {
                keyrings,
                store: trusts
                    .iter()
                    .find_map(|(t, _)| t.signature_store.as_ref().map(|s| s.value.clone())),
                signatures_dir: signatures_dir(session),
            },
        );
    }
    if !skipped.is_empty() {
        warnings.push(format!(
            "WARNING: --no-verify: release signatures are NOT verified ({}); mirrored releases are unverified",
            skipped.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(out)
}

/// The release set whose graph-data image this build makes: the first target's first graph
/// set (by name).
pub fn graph_release_set<'a>(session: &'a Session, goals: &[TargetGoal]) -> Option<&'a ReleaseSet> {
    let name = goals
        .iter()
        .find_map(|g| plan::graph_set(&session.recipe, g))?;
    match session.recipe.content_set(name) {
        Some(ContentSet::Release(r)) => Some(r),
        _ => None,
    }
}

/// The graph-data tarball of `set`, pinned like the update graphs: `build` reuses the stored
/// one (fetching it the first time), `lock` and `update` fetch it again, `--offline` only reads
/// it. Returns its path and bytes' digest.
fn graph_data(
    session: &Session,
    set: &ReleaseSet,
    resolution: Resolution,
) -> Result<(PathBuf, Digest), FetchError> {
    let dir = graph_data_dir(session);
    let fetch = || {
        let url = set
            .graph_data_url
            .as_ref()
            .map_or(DEFAULT_GRAPH_DATA_URL, |u| u.value.as_str());
        fetch_graph_data(&GraphClient::with(session.web.clone()), url, &dir)
    };
    let bytes = match resolution {
        Resolution::Offline => load_graph_data(&dir),
        Resolution::Pinned => match load_graph_data(&dir) {
            Err(FetchError::GraphDataNotStored { .. }) => fetch(),
            other => other,
        },
        Resolution::Fresh => fetch(),
    }?;
    Ok((dir.join(GRAPH_DATA_FILE), Digest::of(&bytes)))
}

/// The architecture of the graph-data image: the release set's first, `multi` → amd64.
fn graph_arch(set: &ReleaseSet) -> &str {
    match set.arch.first().map(|a| a.value.as_str()) {
        None | Some("multi") => "amd64",
        Some(a) => a,
    }
}

/// The graph-data image's base as the recipe names it (`None` for `scratch`).
pub fn graph_base(set: &ReleaseSet) -> Result<Option<ImageRef>, Failure> {
    match set.graph_base() {
        Ok(GraphBase::Image(r)) => Ok(Some(r)),
        Ok(GraphBase::Scratch) => Ok(None),
        Err(e) => Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "set `graph-base-image=\"<image>\"` on the release set",
                "release `{}`: the default graph base image is not a valid reference: {e}",
                set.name.value
            ),
        )),
    }
}

/// The graph-data image's inputs, once the base (if any) is resolved to `base_digest`. A
/// graph-data tarball that cannot be had is `Err(why)` for the planner to report.
pub fn graph_input(
    session: &Session,
    set: &ReleaseSet,
    resolution: Resolution,
    base: Option<(&ImageRef, Result<&Digest, &str>)>,
) -> Result<GraphInput, String> {
    let (tarball, tarball_digest) = graph_data(session, set, resolution).map_err(|e| {
        let help = miette::Diagnostic::help(&e)
            .map(|h| h.to_string())
            .unwrap_or_else(|| "check the release set's graph-data-url".to_string());
        format!("{e} ({help})")
    })?;
    let base_source = base.map(|(r, _)| r.clone());
    let base = match base {
        None => None,
        Some((reference, Ok(d))) => Some(reference.pinned(d.clone())),
        Some((reference, Err(why))) => {
            return Err(format!(
                "cannot read its base image `{reference}`: {why}; make it readable from the source side (mirror it there, check credentials and TLS flags), or set `graph-base-image=\"<reachable image>\"` on release `{}`; `graph-base-image=\"scratch\"` builds the image without a base (its copy command then cannot run)",
                set.name.value
            ));
        }
    };
    Ok(GraphInput {
        set: set.name.value.clone(),
        tarball,
        tarball_digest,
        base,
        base_source,
        base_archive: None,
        arch: graph_arch(set).to_string(),
    })
}
