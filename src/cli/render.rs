//! Cluster resources of a target from what it holds: every image of the target's goal whose
//! destination the journal records as filled from the locked digest; the CatalogSource /
//! ClusterCatalog of every rebuilt catalog the journal records; the signature ConfigMap of the
//! release payloads it holds whose signatures were verified; and the UpdateService when a
//! release set has `graph #true` and the graph-data image is recorded. Reads saved signatures
//! and `catalog-source-template` files; writes only the output directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::GlobalOpts;
use super::session::Session;
use crate::exit::{Exit, Failure};
use crate::oci::ImageRef;
use crate::plan::{GoalItem, TargetGoal};
use crate::recipe::{MirrorScope as RecipeScope, MirrorSourcePolicy};
use crate::resources::{
    self, Category, MirrorScope, MirroredCatalog, MirroredImage, ResourceOptions, SourcePolicy,
};
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
    let lock_items = catalog_items_from_lock(goal, lock);
    for item in goal.items.iter().chain(&lock_items) {
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
    let catalogs = held_catalogs(session, goal, lock, journal, &mut not_held)?;
    let catalog_files = resources::render_catalog_sources(&catalogs, &opts)
        .map_err(|e| Failure::new(Exit::InvalidInput, e))?;
    rendered.files.extend(
        catalog_files
            .into_iter()
            .map(|(name, text)| (name, text.into_bytes())),
    );
    let dir = session
        .workspace
        .out_dir(&goal.name)
        .join("cluster-resources");
    resources::write_dir(&rendered, &dir).map_err(|e| {
        Failure::io(format!(
            "cannot write cluster resources to {}: {e}",
            dir.display()
        ))
    })?;
    Ok(RenderedTarget {
        dir,
        files: rendered.files.len(),
        held: images.len() + catalogs.len(),
        not_held,
        notes: rendered.notes,
    })
}

/// Bundle and related images of the goal's catalogs that the lock records (the goal itself
/// only carries them after catalog discovery, which `airlift resources` does not run).
pub(crate) fn catalog_items_from_lock(goal: &TargetGoal, lock: Option<&LockFile>) -> Vec<GoalItem> {
    let Some(lock) = lock else {
        return Vec::new();
    };
    let known: BTreeSet<&ImageRef> = goal.items.iter().map(|i| &i.origin).collect();
    let mut out: Vec<GoalItem> = Vec::new();
    for c in &goal.catalogs {
        for l in lock.images.iter().filter(|l| l.set == c.set) {
            if l.source == c.source || known.contains(&l.source) {
                continue;
            }
            let mut item = GoalItem::image(&c.set, l.source.clone(), None);
            item.category = Category::Operator;
            out.push(item);
        }
    }
    out.sort_by(|a, b| a.origin.cmp(&b.origin));
    out.dedup_by(|a, b| a.origin == b.origin);
    out
}

/// Rebuilt catalogs the target holds: the journal records their prune task (or, for a catalog
/// inherited from another target, the copy of that target's rebuild) done from the locked
/// catalog digest. Reads each `catalog-source-template` (relative to the recipe file
/// that names it).
fn held_catalogs(
    session: &Session,
    goal: &TargetGoal,
    lock: Option<&LockFile>,
    journal: &Journal,
    not_held: &mut Vec<String>,
) -> Result<Vec<MirroredCatalog>, Failure> {
    let mut out = Vec::new();
    for c in &goal.catalogs {
        // Rebuilt here, or copied from the target it is inherited from.
        let held_kind = if c.via.is_some() {
            "copy"
        } else {
            "prune-catalog"
        };
        let digest = c
            .source
            .digest()
            .or_else(|| lock.and_then(|l| l.digest_of(&c.set, &c.source)));
        let dest = c.dest(&goal.dest).ok();
        let held = match (digest, &dest) {
            (Some(d), Some(dest)) => journal
                .get(&dest.to_string())
                .is_some_and(|r| r.kind == held_kind && &r.source_digest == d),
            _ => false,
        };
        let Some(image) = dest.filter(|_| held) else {
            not_held.push(format!("catalog {}", c.source));
            continue;
        };
        let set = session.recipe.catalogs().find(|s| s.name.value == c.set);
        let template = match set.and_then(|s| s.catalog_source_template.as_ref().map(|t| (s, t))) {
            Some((s, t)) => {
                let base = session
                    .recipe
                    .files
                    .get(s.origin.file)
                    .and_then(|f| f.path.parent().map(Path::to_path_buf))
                    .unwrap_or_default();
                let path = base.join(&t.value);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Failure::new(
                        Exit::InvalidInput,
                        miette::miette!(
                            help = "fix the `catalog-source-template` path in the recipe",
                            "cannot read catalog-source-template {}: {e}",
                            path.display()
                        ),
                    )
                })?;
                Some((t.value.display().to_string(), text))
            }
            None => None,
        };
        out.push(MirroredCatalog { image, template });
    }
    Ok(out)
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
