//! Operator catalogs in the plan: the recipe's filter as a [`CatalogFilter`], the kept bundles'
//! images as goal items, and one task per (target, catalog): a prune task that rebuilds the
//! catalog, or a copy of the rebuilt catalog from the target it is inherited from.
//!
//! Pure: reads the recipe, goals, discovery and recorded state; no I/O.

use std::collections::{BTreeMap, BTreeSet};

use miette::Diagnostic;
use serde_json::{Value, json};

use super::TaskKey;
use super::build::{PlanOptions, RecordedState, freshness};
use super::goal::TargetGoal;
use super::task::{Task, TaskId, TaskKind};
use crate::catalog::{
    CatalogFilter, ChannelFilter, FilterError, FilterErrors, Heads, PackageFilter,
};
use crate::discover::{CatalogImage, Discovery};
use crate::oci::ImageRef;
use crate::recipe::{CatalogSet, Recipe, RecipeErrors};
use crate::state::KindName;
use crate::task::kinds::{LayoutSpec, UnpackSpec};
use crate::task::{CatalogInput, CopySpec, PruneSpec};

/// The recipe's `full` and `package` nodes as the catalog module's filter.
pub fn filter_of(set: &CatalogSet) -> CatalogFilter {
    CatalogFilter {
        full: set.is_full(),
        heads: set.heads.as_ref().map(|h| h.value).unwrap_or_default(),
        skip_dependencies: set.dependencies.as_ref().is_some_and(|d| !d.value),
        blocked: Vec::new(),
        platforms: set.platforms.iter().map(|p| p.value.clone()).collect(),
        packages: set
            .packages
            .iter()
            .map(|p| PackageFilter {
                name: p.name.value.clone(),
                min: p.min.as_ref().map(|v| v.value.clone()),
                max: p.max.as_ref().map(|v| v.value.clone()),
                default_channel: p.default_channel.as_ref().map(|d| d.value.clone()),
                optional: p.optional,
                channels: p
                    .channels
                    .iter()
                    .map(|c| ChannelFilter {
                        name: c.name.value.clone(),
                        min: c.min.as_ref().map(|v| v.value.clone()),
                        max: c.max.as_ref().map(|v| v.value.clone()),
                    })
                    .collect(),
                bundles: p.bundles.iter().map(|b| b.value.clone()).collect(),
            })
            .collect(),
    }
}

/// The filter as canonical JSON (packages sorted by name), for task keys.
pub fn filter_json(filter: &CatalogFilter) -> Value {
    let v = |o: &Option<semver::Version>| o.as_ref().map(|v| v.to_string());
    let mut packages: Vec<Value> = filter
        .packages
        .iter()
        .map(|p| {
            let mut channels: Vec<Value> = p
                .channels
                .iter()
                .map(|c| json!({"name": c.name, "min": v(&c.min), "max": v(&c.max)}))
                .collect();
            channels.sort_by_key(|c| c["name"].to_string());
            let mut bundles = p.bundles.clone();
            bundles.sort();
            let mut p = json!({
                "name": p.name,
                "min": v(&p.min),
                "max": v(&p.max),
                "default-channel": p.default_channel,
                "channels": channels,
                "bundles": bundles,
                "optional": p.optional,
            });
            // Only when set, so keys of filters written before the switch existed stay.
            if p["optional"] == false
                && let Some(o) = p.as_object_mut()
            {
                o.remove("optional");
            }
            p
        })
        .collect();
    packages.sort_by_key(|p| p["name"].to_string());
    let mut out = json!({"full": filter.full, "packages": packages});
    if filter.heads != Heads::default()
        && let Some(o) = out.as_object_mut()
    {
        o.insert("heads".into(), filter.heads.as_str().into());
    }
    if filter.skip_dependencies
        && let Some(o) = out.as_object_mut()
    {
        o.insert("dependencies".into(), false.into());
    }
    if !filter.platforms.is_empty()
        && let Some(o) = out.as_object_mut()
    {
        let mut platforms = filter.platforms.clone();
        platforms.sort();
        o.insert("platforms".into(), platforms.into());
    }
    if !filter.blocked.is_empty()
        && let Some(o) = out.as_object_mut()
    {
        let mut blocked = filter.blocked.clone();
        blocked.sort();
        o.insert("blocked".into(), blocked.into());
    }
    out
}

/// An image a kept bundle names that is not a valid reference (skipped, reported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBundleImage {
    pub set: String,
    pub bundle: String,
    pub image: String,
    pub reason: String,
}

/// Where a catalog landed at a target: its destination and the task that put it there.
struct Placed {
    dest: ImageRef,
    task: TaskId,
    key: TaskKey,
    fresh: bool,
}

/// One task per (target, discovered catalog): a prune task that rebuilds the catalog from its
/// source, or, for a catalog inherited from another target (`via`), a copy of that target's
/// rebuilt catalog (same digest, no second rebuild). Either depends on the copy tasks (in
/// `copies`) of the kept bundle and related images at its target: a catalog is pushed only
/// after the content it lists, and not at all when a copy failed. Catalogs discovery did not
/// read, whose destination cannot be named, that list an image discovery could not resolve, or
/// whose upstream target does not carry them are returned as missing. `goals` come in
/// dependency order.
pub(super) fn catalog_tasks(
    goals: &[TargetGoal],
    copies: &[Task],
    discovery: &Discovery,
    state: &dyn RecordedState,
    opts: &PlanOptions,
) -> (Vec<Task>, Vec<(ImageRef, String)>) {
    let mut tasks = Vec::new();
    let mut missing = Vec::new();
    let mut placed: BTreeMap<(&str, &str), Placed> = BTreeMap::new();
    for goal in goals {
        // An archive target carries a catalog it reads from the source as published (an item,
        // see `items`; the side that reads the archive rebuilds it), and a catalog it takes from
        // another target as that target rebuilt it (below).
        let staging = super::build::layout_dir(goal, opts).filter(|_| goal.archive.is_some());
        for c in &goal.catalogs {
            if staging.is_some() && c.via.is_none() {
                continue;
            }
            let Some(found) = discovery.catalogs.get(&c.set) else {
                missing.push((c.source.clone(), "catalog not read".to_string()));
                continue;
            };
            let dest = match c.dest(&goal.dest) {
                Ok(d) => d,
                Err(e) => {
                    missing.push((c.source.clone(), e.to_string()));
                    continue;
                }
            };
            let f = &found.fetched;

            let listed = listed_images(found);
            let unresolved = listed
                .iter()
                .filter(|i| discovery.unresolved.contains_key(*i))
                .count();
            if unresolved > 0 {
                missing.push((
                    c.source.clone(),
                    format!(
                        "catalog `{}` not rebuilt: {unresolved} image(s) it lists could not be resolved",
                        c.set
                    ),
                ));
                continue;
            }
            let mut deps: Vec<TaskId> = listed
                .iter()
                .map(|origin| TaskId::new(KindName::Copy, &goal.name, &origin.to_string()))
                .filter(|id| copies.iter().any(|t| &t.id == id))
                .collect();
            let upstream = match &c.via {
                // From an archive target: rebuilt here from the catalog image it carries (or,
                // when this build writes that archive, from the source it read).
                Some(_) if c.archive.is_some() => None,
                None => None,
                Some(up) => match placed.get(&(up.as_str(), c.set.as_str())) {
                    Some(p) => Some(p),
                    None => {
                        missing.push((
                            c.source.clone(),
                            format!("catalog `{}`: target `{up}` does not carry it", c.set),
                        ));
                        continue;
                    }
                },
            };
            let (key, kind, id) = match upstream {
                // Carried rebuilt by the archive it is read from: copied as is.
                None if f.prebuilt => {
                    let (Some(up), Some(dir)) = (&c.via, &c.archive) else {
                        continue;
                    };
                    let kind = TaskKind::Unpack(Box::new(UnpackSpec {
                        copy: CopySpec {
                            from: c.source.pinned(f.digest.clone()),
                            origin: c.source.clone(),
                            digest: f.digest.clone(),
                            dest: dest.clone(),
                            platforms: None,
                            signatures: false,
                            from_task: None,
                            rebuild: None,
                        },
                        archive: up.clone(),
                        dir: dir.clone(),
                    }));
                    let id = TaskId::new(
                        KindName::Unpack,
                        &goal.name,
                        &format!("catalog {} {}", c.set, c.source),
                    );
                    (kind.key(), kind, id)
                }
                None => {
                    let kind = TaskKind::PruneCatalog(PruneSpec {
                        set: c.set.clone(),
                        origin: c.source.clone(),
                        from: c.source.pinned(f.digest.clone()),
                        digest: f.digest.clone(),
                        dest: dest.clone(),
                        bundles: found.filtered.kept.len(),
                        input: CatalogInput(found.clone()),
                    });
                    // Two sets may filter one catalog image: the set names the task.
                    let id = TaskId::new(
                        KindName::PruneCatalog,
                        &goal.name,
                        &format!("{} {}", c.set, c.source),
                    );
                    (kind.key(), kind, id)
                }
                Some(up) => {
                    deps.push(up.task.clone());
                    // Pinned to the rebuilt digest when the upstream catalog is recorded and
                    // fresh; otherwise the scheduler pins it to what the upstream task pushed.
                    let from = match state.record(&up.dest.to_string()) {
                        Some(r) if up.fresh => up.dest.pinned(r.output_digest.clone()),
                        _ => up.dest.clone(),
                    };
                    // The rebuild this copy carries is named by the upstream task's key (same
                    // source digest, filter and options give the same bytes).
                    let copy = CopySpec {
                        from,
                        origin: c.source.clone(),
                        digest: f.digest.clone(),
                        dest: dest.clone(),
                        platforms: None,
                        signatures: false,
                        from_task: Some(up.task.clone()),
                        rebuild: Some(up.key.clone()),
                    };
                    // Into an archive target's staging layout, or to a registry.
                    let kind = match &staging {
                        Some(dir) => TaskKind::WriteLayout(Box::new(LayoutSpec {
                            copy,
                            dir: dir.clone(),
                            manifests_only: true,
                        })),
                        None => TaskKind::Copy(copy),
                    };
                    let id = TaskId::new(
                        kind.kind_name(),
                        &goal.name,
                        &format!("catalog {} {}", c.set, c.source),
                    );
                    (kind.key(), kind, id)
                }
            };
            deps.sort();
            deps.dedup();
            let fresh = freshness(&kind, &key, None, state, discovery, opts);
            let mut layers = BTreeSet::new();
            let bytes = if fresh.is_fresh() {
                0
            } else {
                f.platforms
                    .iter()
                    .flat_map(|p| p.layers.iter())
                    .filter(|l| layers.insert(l.digest.clone()))
                    .map(|l| l.size)
                    .sum()
            };
            placed.insert(
                (goal.name.as_str(), c.set.as_str()),
                Placed {
                    dest,
                    task: id.clone(),
                    key: key.clone(),
                    fresh: fresh.is_fresh(),
                },
            );
            tasks.push(Task {
                id,
                target: goal.name.clone(),
                key,
                kind,
                deps,
                after: Vec::new(),
                freshness: fresh,
                bytes,
            });
        }
    }
    (tasks, missing)
}

/// The bundle and related images a filtered catalog lists (valid references only).
fn listed_images(found: &CatalogImage) -> BTreeSet<ImageRef> {
    found
        .filtered
        .kept
        .iter()
        .flat_map(|b| {
            std::iter::once(b.image.as_str())
                .chain(b.related_images.iter().map(|r| r.image.as_str()))
        })
        .filter_map(|i| i.parse::<ImageRef>().ok())
        .collect()
}

/// The catalog filter's errors as recipe diagnostics: each points at the `package` node it is
/// about (or the catalog's name) and keeps its message and help. `None` when the catalog set is
/// not in the recipe.
pub fn filter_diagnostics(recipe: &Recipe, errors: &FilterErrors) -> Option<RecipeErrors> {
    let set = recipe.catalogs().find(|c| c.name.value == errors.catalog)?;
    let out = errors
        .errors
        .iter()
        .filter_map(|e| {
            let package = match e {
                FilterError::UnknownPackage { name, .. } => Some(name),
                FilterError::UnknownChannel { package, .. }
                | FilterError::UnknownBundle { package, .. }
                | FilterError::EmptyRange { package, .. }
                | FilterError::MultipleHeads { package, .. }
                | FilterError::Cycle { package, .. }
                | FilterError::DefaultChannelDropped { package, .. }
                | FilterError::NoDefaultChannel { package, .. }
                | FilterError::EmptyChannel { package, .. } => Some(package),
                FilterError::InvalidCombination { package, .. } => package.as_ref(),
                FilterError::Graph { .. } => None,
            };
            let node = package.and_then(|p| set.packages.iter().find(|n| &n.name.value == p));
            let (span, label) = match node {
                Some(n) => (n.name.span, "this package"),
                None => (set.name.span, "this catalog"),
            };
            let err = recipe.error_at(set.origin.file, span, label, e.to_string())?;
            Some(match e.help() {
                Some(h) => err.help(h.to_string()),
                None => err,
            })
        })
        .collect();
    Some(RecipeErrors::new(out).from_catalogs())
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
