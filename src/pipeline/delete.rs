//! `airlift delete NAME [--execute]`: the two phases of a deletion.
//!
//! Phase one ([`resolve`], [`write_list`]) changes nothing at the registry. It plans every
//! target at the delete set's registry as `airlift plan` would: each needed reference comes
//! from the lock and the workspace's state, falling back to the registry. It resolves the
//! delete set as if it were content sets of its target: releases by channel and range through
//! the update graph, the bundles and related images a catalog filter selects, and images. Then
//! it looks every named reference (and every needed reference in the same repositories) up at
//! the target, and writes the reviewed list `out/<target>/delete/delete-images.yaml` (plus
//! `delete-images.txt` and the lock it was made against). A manifest something else needs is
//! kept (`plan::delete::decide`).
//!
//! Phase two ([`execute_list`]) recomputes the list and refuses when the lock or the list
//! changed since the review. It then runs the reviewed list's `delete` tasks, and re-renders the
//! target's cluster resources after them, through the one executor and reporter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use super::discover::{DiscoverMode, discover};
use super::run::{Prepared, Request, prepare_in};
use super::{Options, Session};
use crate::exec::{ExecOutcome, Failed, MessageFormat};
use crate::exit::{Exit, Failure};
use crate::oci::{Digest, ImageRef};
use crate::plan::delete::{self as planned, DeletionList, Held, ListHeader, Named, Needed};
use crate::plan::{self, Plan, TargetGoal, TaskKind};
use crate::recipe::{
    CatalogSet, CatalogSource, ContentSet, Delete, ImageSet, Need, Recipe, ReleaseChannel,
    ReleaseSet, Spanned, Target, TargetLocation,
};
use crate::registry::{RegistryClient, RegistryError};
use crate::state::LockFile;

/// The reviewed list's file name in `out/<target>/delete/`.
pub const LIST_FILE: &str = "delete-images.yaml";
/// One `registry/repo@sha256:…` per line.
pub const TEXT_FILE: &str = "delete-images.txt";
/// The lock the list was made against (to name what changed).
const LOCK_COPY: &str = "airlift.lock";

/// A resolved deletion: the list as it stands now, and the plan of the targets it was checked
/// against (whose session, runtime and render tasks phase two reuses).
pub struct Deletion {
    pub list: DeletionList,
    pub prepared: Prepared,
    /// `out/<target>/delete`.
    pub dir: PathBuf,
    pub notes: Vec<String>,
}

/// Phase one without writing: the deletion list of delete set `name` as it stands now.
pub fn resolve(options: &Options, name: &str) -> Result<Deletion, Failure> {
    let session = Session::open(options)?;
    let Some(del) = session.recipe.delete(name).cloned() else {
        let names: Vec<&str> = session
            .recipe
            .deletes
            .iter()
            .map(|d| d.name.value.as_str())
            .collect();
        let help = if names.is_empty() {
            "add `delete \"NAME\" from=\"TARGET\" { … }` to the recipe (see the book's \"Retiring old content\")".to_string()
        } else {
            format!("the recipe's deletes are: {}", names.join(", "))
        };
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(help = help, "no delete named `{name}` in the recipe"),
        ));
    };
    let from = session
        .recipe
        .target(&del.from.value)
        .cloned()
        .ok_or_else(|| internal(format!("target `{}` vanished", del.from.value)))?;
    let TargetLocation::Registry { registry, .. } = &from.location.value else {
        return Err(internal(format!(
            "target `{}` is not a registry",
            from.name.value
        )));
    };
    let registry = registry.clone();
    let at_registry: Vec<String> = session
        .recipe
        .targets
        .iter()
        .filter(|t| matches!(&t.location.value, TargetLocation::Registry { registry: r, .. } if *r == registry))
        .map(|t| t.name.value.clone())
        .collect();
    let mut request = Request::new(options, &at_registry);
    request.verify = false;
    let mut prepared = prepare_in(session, options, &request)?;
    let mut notes = std::mem::take(&mut prepared.notes);
    notes.extend(std::mem::take(&mut prepared.warnings));

    // What the delete set names, resolved as content sets of its target.
    let (synthetic, reasons) =
        synthetic_recipe(&prepared.session.recipe, &del, &from, &prepared.goals);
    let mut goals = plan::expand(&synthetic, std::slice::from_ref(&from.name.value))
        .map_err(|u| internal(format!("delete `{name}` cannot be expanded: {u:?}")))?;
    goals.retain(|g| g.name == from.name.value);
    let images: Vec<(TargetGoal, plan::GoalItem)> = goals
        .iter_mut()
        .flat_map(|g| {
            let items = std::mem::take(&mut g.items);
            let goal = g.clone();
            items.into_iter().map(move |i| (goal.clone(), i))
        })
        .collect();
    let real = std::mem::replace(&mut prepared.session.recipe, synthetic);
    let found = {
        let journal = prepared
            .journal
            .lock()
            .map_err(|_| internal("journal lock poisoned"))?;
        discover(
            &prepared.runtime,
            &prepared.session,
            options,
            &goals,
            prepared.old_lock.as_ref(),
            &journal,
            DiscoverMode {
                resolution: request.resolution,
                trust_state: true,
                verify: false,
            },
        )
    };
    prepared.session.recipe = real;
    let found = found?;
    notes.extend(found.said.notes);
    notes.extend(found.said.warnings);
    let (expanded, _) = plan::expand_items(&goals, &found.discovery, &[]);
    // (name at the target, why, what to look up): an image named by digest is looked up by
    // that digest, whatever tag it was mirrored under.
    let mut named: Vec<(ImageRef, String, ImageRef)> = Vec::new();
    for g in &expanded {
        for i in &g.items {
            if let Ok(dest) = i.dest(&g.dest) {
                named.push((dest.clone(), reason_of(i, &reasons), dest));
            }
        }
    }
    for (g, i) in &images {
        if let Ok(dest) = i.dest(&g.dest) {
            let lookup = match i.origin.digest() {
                Some(d) => dest.repository().with_digest(d.clone()),
                None => dest.clone(),
            };
            named.push((dest, format!("image {}", i.origin), lookup));
        }
    }

    // What every other content set of every target at this registry needs, in the
    // repositories the delete set touches.
    let repos: BTreeSet<String> = named
        .iter()
        .map(|(d, _, _)| d.repository().to_string())
        .collect();
    let needs = needed_refs(&prepared, &registry)
        .into_iter()
        .filter(|(d, _, _)| repos.contains(&d.repository().to_string()))
        .collect::<Vec<_>>();

    // Look everything up at the target, once per reference.
    let mut refs: BTreeSet<ImageRef> = named.iter().map(|(_, _, l)| l.clone()).collect();
    refs.extend(needs.iter().map(|(d, _, _)| d.clone()));
    let client = prepared.session.sides(options)?.dest;
    let held = prepared
        .runtime
        .block_on(look_up_all(&client, refs.into_iter().collect()))
        .map_err(|e| Failure::new(Exit::Remote, miette::Report::new(e)))?;

    let mut needed = Needed::new();
    for (dest, who, expected) in &needs {
        if let Some(Some(h)) = held.get(dest) {
            planned::need(&mut needed, dest, h, who);
        }
        for d in expected {
            let h = Held {
                digest: d.clone(),
                children: Vec::new(),
            };
            planned::need(&mut needed, dest, &h, who);
        }
    }
    let named: Vec<Named> = named
        .into_iter()
        .map(|(dest, reason, lookup)| Named {
            held: held.get(&lookup).cloned().flatten(),
            dest,
            reason,
        })
        .collect();
    let lock = std::fs::read(&prepared.session.lock_path)
        .ok()
        .map(|b| Digest::of(&b));
    let list = planned::decide(
        ListHeader {
            delete: name.to_string(),
            target: from.name.value.clone(),
            registry,
            lock,
        },
        &named,
        &needed,
    );
    let dir = prepared
        .session
        .workspace
        .out_dir(&from.name.value)
        .join("delete");
    Ok(Deletion {
        list,
        prepared,
        dir,
        notes,
    })
}

/// Writes the reviewed list (YAML and text) and the lock it was made against; returns the
/// files written.
pub fn write_list(d: &Deletion) -> Result<Vec<PathBuf>, Failure> {
    std::fs::create_dir_all(&d.dir).map_err(Failure::io)?;
    let yaml =
        crate::resources::to_yaml(LIST_FILE, &d.list).map_err(|e| internal(e.to_string()))?;
    let mut text = String::new();
    for e in &d.list.manifests {
        text.push_str(&e.image.to_string());
        text.push('\n');
    }
    let yaml_path = d.dir.join(LIST_FILE);
    let text_path = d.dir.join(TEXT_FILE);
    write_atomic(&text_path, text.as_bytes())?;
    let lock_copy = d.dir.join(LOCK_COPY);
    match std::fs::read(&d.prepared.session.lock_path) {
        Ok(bytes) => write_atomic(&lock_copy, &bytes)?,
        Err(_) => {
            let _ = std::fs::remove_file(&lock_copy);
        }
    }
    // The list last: it is what `--execute` reads.
    write_atomic(&yaml_path, yaml.as_bytes())?;
    Ok(vec![yaml_path, text_path])
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    crate::state::write_atomic(path, bytes)
        .map_err(|e| Failure::io(format!("cannot write {}: {e}", path.display())))
}

/// What phase two did.
pub struct Executed {
    pub list: DeletionList,
    pub outcome: ExecOutcome,
    /// Deletions recorded done before this run.
    pub already: usize,
}

/// Phase two: deletes exactly what the reviewed list names, if nothing changed since.
pub fn execute_list(
    options: &Options,
    name: &str,
    format: MessageFormat,
) -> Result<Executed, Failure> {
    let mut d = resolve(options, name)?;
    let path = d.dir.join(LIST_FILE);
    let again = format!(
        "run `airlift delete {name}`, review {}, then `airlift delete {name} --execute`",
        path.display()
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => {
            return Err(Failure::new(
                Exit::Usage,
                miette::miette!(
                    help = again,
                    "no reviewed deletion list for `{name}`: {} does not exist",
                    path.display()
                ),
            ));
        }
    };
    let reviewed: DeletionList = serde_saphyr::from_str(&text).map_err(|e| {
        Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = again.clone(),
                "{} is not a deletion list: {e}",
                path.display()
            ),
        )
    })?;
    if reviewed.delete != name {
        return Err(Failure::new(
            Exit::Usage,
            miette::miette!(
                help = again,
                "{} is the list of delete `{}`, not `{name}`",
                path.display(),
                reviewed.delete
            ),
        ));
    }
    if reviewed.lock != d.list.lock {
        let old = LockFile::read(&d.dir.join(LOCK_COPY))
            .ok()
            .flatten()
            .unwrap_or_default();
        let new = d.prepared.old_lock.clone().unwrap_or_default();
        let diff = LockFile::diff(&old, &new).render();
        return Err(Failure::new(
            Exit::LockMismatch,
            miette::miette!(
                help = again,
                "airlift.lock changed since the deletion list was reviewed; nothing was deleted:\n  {}",
                diff.trim_end().replace('\n', "\n  ")
            ),
        ));
    }
    let changed = planned::changes(&reviewed, &d.list);
    if !changed.is_empty() {
        return Err(Failure::new(
            Exit::LockMismatch,
            miette::miette!(
                help = again,
                "the deletion changed since the list was reviewed; nothing was deleted:\n  {}",
                changed.join("\n  ")
            ),
        ));
    }
    let tasks = {
        let journal = d
            .prepared
            .journal
            .lock()
            .map_err(|_| internal("journal lock poisoned"))?;
        planned::tasks(&reviewed, &*journal).map_err(|image| {
            Failure::new(
                Exit::InvalidInput,
                miette::miette!(
                    help = again.clone(),
                    "{}: `{image}` is not a manifest digest (registry/repo@sha256:…)",
                    path.display()
                ),
            )
        })?
    };
    let already = tasks.iter().filter(|t| t.freshness.is_fresh()).count();
    let ids: Vec<_> = tasks.iter().map(|t| t.id.clone()).collect();
    let mut plan = Plan {
        tasks,
        ..Plan::default()
    };
    // The target's cluster resources, rendered again once the deletions are done.
    if let Some(render) = d
        .prepared
        .plan
        .tasks
        .iter()
        .find(|t| t.target == reviewed.target && matches!(t.kind, TaskKind::RenderResources(_)))
    {
        let mut render = render.clone();
        render.deps = ids;
        render.after = Vec::new();
        plan.tasks.push(render);
    }
    d.prepared.plan = plan;
    let outcome = super::execute(options, &mut d.prepared, format)?;
    Ok(Executed {
        list: reviewed,
        outcome,
        already,
    })
}

/// The failure of phase two, if any: the first error once (a registry refusing deletion
/// refuses them all), and how many deletions did not run.
pub fn failure(done: &Executed) -> Option<Failure> {
    let failed = &done.outcome.failed;
    let first = failed.values().find_map(|f| match f {
        Failed::Error(e) => Some(e),
        Failed::NotAttempted { .. } => None,
    })?;
    let errors = failed
        .values()
        .filter(|f| matches!(f, Failed::Error(_)))
        .count();
    let waiting = failed.len() - errors;
    let mut help = first.help.clone().unwrap_or_default();
    if !help.is_empty() {
        help.push('\n');
    }
    help.push_str(&format!(
        "rerun `airlift delete {} --execute`: finished deletions are not repeated",
        done.list.delete
    ));
    Some(Failure::new(
        first.exit,
        miette::miette!(
            help = help,
            "{}\n{errors} deletion(s) failed and {waiting} did not start; the cluster resources and the lock were left as they were",
            first.message
        ),
    ))
}

fn internal(msg: impl Into<String>) -> Failure {
    Failure::new(Exit::Internal, miette::miette!("{}", msg.into()))
}

/// The delete set as a recipe of content sets (`NAME~release`, `NAME~catalog-N`,
/// `NAME~images`: `~` cannot appear in a recipe's names) needed by a copy of its target, and
/// what each synthetic set's images are for. Release sets take the architectures, update
/// service and kubevirt switch of the release sets the target carries.
fn synthetic_recipe(
    recipe: &Recipe,
    del: &Delete,
    from: &Target,
    goals: &[TargetGoal],
) -> (Recipe, BTreeMap<String, String>) {
    let name = &del.name.value;
    let span = del.name.span;
    let spanned = |s: String| Spanned::new(s, span);
    let mut sets = Vec::new();
    let mut reasons = BTreeMap::new();
    if !del.releases.is_empty() {
        let carried: BTreeSet<&str> = goals
            .iter()
            .filter(|g| g.name == from.name.value)
            .flat_map(|g| g.releases.iter().map(|r| r.set.as_str()))
            .collect();
        let mut like: Vec<&ReleaseSet> = recipe
            .releases()
            .filter(|r| carried.contains(r.name.value.as_str()))
            .collect();
        if like.is_empty() {
            like = recipe.releases().collect();
        }
        let mut arch: Vec<Spanned<String>> = Vec::new();
        for r in &like {
            for a in &r.arch {
                if !arch.iter().any(|x| x.value == a.value) {
                    arch.push(a.clone());
                }
            }
        }
        let set = format!("{name}~release");
        sets.push(ContentSet::Release(ReleaseSet {
            origin: del.origin,
            name: spanned(set),
            channels: del
                .releases
                .iter()
                .map(|r| ReleaseChannel {
                    name: r.channel.clone(),
                    min: r.min.clone(),
                    max: r.max.clone(),
                    shortest_path: false,
                })
                .collect(),
            arch,
            graph: false,
            kubevirt_container: like.iter().any(|r| r.kubevirt_container),
            update_url: like.iter().find_map(|r| r.update_url.clone()),
            graph_data_url: None,
            graph_base_image: None,
            image: None,
        }));
    }
    for (i, c) in del.catalogs.iter().enumerate() {
        let set = format!("{name}~catalog-{}", i + 1);
        reasons.insert(
            set.clone(),
            format!("operator image of catalog {}", c.source.value),
        );
        sets.push(ContentSet::Catalog(CatalogSet {
            origin: del.origin,
            name: spanned(set),
            source: Spanned::new(CatalogSource::Image(c.source.value.clone()), c.source.span),
            rename: None,
            full: None,
            heads: None,
            dependencies: None,
            platforms: Vec::new(),
            packages: c.packages.clone(),
            catalog_source_template: None,
        }));
    }
    if !del.images.is_empty() {
        sets.push(ContentSet::Images(ImageSet {
            origin: del.origin,
            name: spanned(format!("{name}~images")),
            images: del.images.clone(),
            mapped: Vec::new(),
            blocks: Vec::new(),
        }));
    }
    let needs = sets
        .iter()
        .map(|s| Spanned::new(Need::Set(s.name().value.clone()), span))
        .collect();
    let target = Target {
        needs,
        only: Vec::new(),
        archive_size: None,
        ..from.clone()
    };
    let synthetic = Recipe {
        files: recipe.files.clone(),
        sets,
        trusts: Vec::new(),
        targets: vec![target],
        deletes: Vec::new(),
        registries: recipe.registries.clone(),
    };
    (synthetic, reasons)
}

/// Why the delete set names an item: its release name, catalog, or image.
fn reason_of(item: &plan::GoalItem, reasons: &BTreeMap<String, String>) -> String {
    if let Some(r) = reasons.get(&item.set) {
        return format!("{r}: {}", item.origin);
    }
    match &item.dest_name {
        Some(n) if n.path.ends_with("release-images") => format!("release {} payload", n.tag),
        Some(n) => format!("release component {}", n.tag),
        None => format!("image {}", item.origin),
    }
}

/// Every reference the plan's targets at `registry` hold or will hold, who needs it, and the
/// digests it is expected to have (resolved, or recorded by the last build).
fn needed_refs(prepared: &Prepared, registry: &str) -> Vec<(ImageRef, String, Vec<Digest>)> {
    let recipe = &prepared.session.recipe;
    let blocks: Vec<_> = recipe.block_patterns().cloned().collect();
    let (expanded, _) = plan::expand_items(&prepared.goals, &prepared.discovery, &blocks);
    let journal = prepared.journal.lock().ok();
    let recorded = |dest: &ImageRef| -> Vec<Digest> {
        journal
            .as_ref()
            .and_then(|j| j.get(&dest.to_string()).map(|r| r.output_digest.clone()))
            .into_iter()
            .collect()
    };
    let mut out = Vec::new();
    for g in expanded.iter().filter(|g| g.dest.registry == registry) {
        for i in &g.items {
            let Ok(dest) = i.dest(&g.dest) else { continue };
            let kind = recipe.content_set(&i.set).map_or("content", |s| s.kind());
            let who = format!("{kind} set `{}` of target `{}`", i.set, g.name);
            let mut expected = recorded(&dest);
            expected.extend(
                prepared
                    .discovery
                    .images
                    .get(&i.origin)
                    .map(|r| r.digest.clone()),
            );
            out.push((dest, who, expected));
        }
        for c in &g.catalogs {
            let Ok(dest) = c.dest(&g.dest) else { continue };
            let who = format!("catalog set `{}` of target `{}`", c.set, g.name);
            let expected = recorded(&dest);
            out.push((dest, who, expected));
        }
    }
    for t in &prepared.plan.tasks {
        if let TaskKind::BuildGraphImage(gi) = &t.kind
            && gi.dest.registry() == registry
        {
            let who = format!("the graph-data image of target `{}`", t.target);
            out.push((gi.dest.clone(), who, recorded(&gi.dest)));
        }
    }
    out
}

/// Looks every reference up at the target (16 at a time): its manifest and, for an index, its
/// children; `None` when the target does not hold it.
async fn look_up_all(
    client: &RegistryClient,
    refs: Vec<ImageRef>,
) -> Result<BTreeMap<ImageRef, Option<Held>>, RegistryError> {
    let results: Vec<_> = futures_util::stream::iter(refs)
        .map(|r| async move {
            let held = look_up(client, &r).await;
            (r, held)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut out = BTreeMap::new();
    for (r, held) in results {
        out.insert(r, held?);
    }
    Ok(out)
}

async fn look_up(client: &RegistryClient, dest: &ImageRef) -> Result<Option<Held>, RegistryError> {
    let m = match client.get_manifest(dest).await {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let children = if m.is_index() {
        m.doc(dest.registry())?
            .manifests
            .into_iter()
            .map(|c| {
                let platform = c.platform.map_or_else(
                    || "unknown".to_string(),
                    |p| format!("{}/{}", p.os, p.architecture),
                );
                (c.digest, platform)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Held {
        digest: m.digest,
        children,
    }))
}
