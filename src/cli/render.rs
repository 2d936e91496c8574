//! Cluster resources of a target from what it holds: every image of the target's goal whose
//! destination the journal records as filled from the locked digest, and the signature
//! ConfigMap of the release payloads it holds whose signatures were verified, and the
//! UpdateService when a release set has `graph #true` and the graph-data image is recorded.
//! Reads saved signatures; writes only the output directory.

use std::path::PathBuf;

use super::GlobalOpts;
use super::session::Session;
use crate::exit::{Exit, Failure};
use crate::plan::TargetGoal;
use crate::recipe::{MirrorScope as RecipeScope, MirrorSourcePolicy};
use crate::resources::{self, MirrorScope, MirroredImage, ResourceOptions, SourcePolicy};
use crate::state::{Journal, LockFile};
use crate::task::saved_signatures;

/// A release payload item (`openshift/release-images`).
fn is_payload(item: &crate::plan::GoalItem) -> bool {
    item.category == resources::Category::Release
        && item
            .dest_name
            .as_ref()
            .is_some_and(|n| n.path == crate::release::RELEASE_PAYLOAD_REPO)
}

pub(crate) struct RenderedTarget {
    pub dir: PathBuf,
    pub files: usize,
    pub held: usize,
    /// Images of the goal the target does not hold (yet).
    pub not_held: Vec<String>,
    pub notes: Vec<String>,
}

pub(crate) fn render_target(
    session: &Session,
    global: &GlobalOpts,
    goal: &TargetGoal,
    lock: Option<&LockFile>,
    journal: &Journal,
    icsp: bool,
) -> Result<RenderedTarget, Failure> {
    let goal = &super::release::with_stored_releases(session, goal)?;
    let mut images = Vec::new();
    let mut not_held = Vec::new();
    let mut payloads = Vec::new();
    for item in &goal.items {
        let digest = item
            .origin
            .digest()
            .or_else(|| lock.and_then(|l| l.digest_of(&item.set, &item.origin)));
        let dest = item.dest(&goal.dest).ok();
        let held = match (digest, &dest) {
            (Some(d), Some(dest)) => journal
                .get(&dest.to_string())
                .is_some_and(|r| &r.source_digest == d),
            _ => false,
        };
        let Some(dest) = dest.filter(|_| held) else {
            not_held.push(item.origin.to_string());
            continue;
        };
        let mirror = match item.origin.digest() {
            Some(d) => match item.origin.tag() {
                Some(_) => dest.pinned(d.clone()),
                None => dest.repository().with_digest(d.clone()),
            },
            None => dest,
        };
        if is_payload(item)
            && let Some(d) = item.origin.digest()
        {
            payloads.push(d.clone());
        }
        images.push(MirroredImage {
            source: item.origin.clone(),
            mirror,
            category: item.category,
        });
    }
    images.sort();
    images.dedup();
    let target = session.recipe.target(&goal.name);
    let opts = ResourceOptions {
        target: goal.name.clone(),
        scope: match target.map(|t| t.mirror_scope) {
            Some(RecipeScope::Namespace) => MirrorScope::Namespace,
            Some(RecipeScope::Registry) => MirrorScope::Registry,
            _ => MirrorScope::Repository,
        },
        source_policy: match target.map(|t| t.mirror_source_policy) {
            Some(MirrorSourcePolicy::NeverContactSource) => Some(SourcePolicy::NeverContactSource),
            _ => None,
        },
        folded_paths: goal.dest.max_nested_paths.is_some_and(|m| m > 0),
        icsp,
        insecure_mirrors: !global.dest_tls_verify,
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse().ok()),
    };
    let mut rendered =
        resources::render(&images, &opts).map_err(|e| Failure::new(Exit::InvalidInput, e))?;
    // Verified release signatures (saved by `verify-signature` tasks) of the payloads held.
    let sig_dir = session.workspace.root().join("signatures");
    let sigs: Vec<_> = payloads
        .into_iter()
        .map(|d| {
            let s = saved_signatures(&sig_dir, &d);
            (d, s)
        })
        .collect();
    rendered.files.extend(
        resources::render_signature_configmaps(&sigs, &opts)
            .map_err(|e| Failure::new(Exit::InvalidInput, e))?,
    );
    // `graph #true`: the UpdateService, once the graph-data image is at the target.
    if super::release::graph_set(session, goal).is_some()
        && let (Ok(graph), Ok(payloads)) = (
            crate::plan::graph_image(&goal.dest),
            crate::plan::named_destination(&goal.dest, crate::release::RELEASE_PAYLOAD_REPO, "x"),
        )
        && let Some(rec) = journal.get(&graph.to_string())
    {
        let (name, text) = resources::render_update_service(
            payloads.repository(),
            graph.repository(),
            &rec.output_digest,
            &opts,
        )
        .map_err(|e| Failure::new(Exit::InvalidInput, e))?;
        rendered.files.insert(name, text.into_bytes());
    }
    let dir = session
        .workspace
        .out_dir(&goal.name)
        .join("cluster-resources");
    resources::write_dir(&rendered, &dir).map_err(|e| {
        Failure::new(
            Exit::Io,
            miette::miette!("cannot write cluster resources to {}: {e}", dir.display()),
        )
    })?;
    Ok(RenderedTarget {
        dir,
        files: rendered.files.len(),
        held: images.len(),
        not_held,
        notes: rendered.notes,
    })
}

/// Prints where the resources went and anything the user should know.
pub(crate) fn report(goal: &str, r: &RenderedTarget, quiet: bool) {
    if quiet {
        return;
    }
    eprintln!(
        "resources: {} file(s) for {} image(s) of target `{goal}` in {}",
        r.files,
        r.held,
        r.dir.display()
    );
    for n in &r.notes {
        eprintln!("  note: {n}");
    }
    if !r.not_held.is_empty() {
        eprintln!(
            "  note: {} image(s) of the target are not mirrored yet and are left out: {}",
            r.not_held.len(),
            r.not_held.join(", ")
        );
    }
}
