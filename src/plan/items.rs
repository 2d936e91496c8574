//! Every image a target must hold: the images its goal names, the payload and components of
//! each discovered release of its release sets, and the kept bundle and related images of its
//! discovered catalogs, the images of its Helm charts (and OCI charts themselves); an archive target also holds the catalog images it reads from their
//! source as published, and the graph-data image's base. One pure function, used by discovery (to know what to resolve) and by
//! the planner (to make tasks), so both see the same list; goals themselves are never changed.

use std::collections::BTreeSet;

use regex::Regex;

use super::catalog::InvalidBundleImage;
use super::goal::{GoalItem, TargetGoal};
use super::release::items_of;
use crate::discover::Discovery;
use crate::oci::ImageRef;
use crate::resources::Category;

/// `goal` with every item it holds once discovery has read its releases and catalogs, and the
/// bundle images that are not valid references (left out, reported). Images matching a `block`
/// pattern are left out of release and catalog items (`images` sets are filtered by `expand`).
pub fn expanded(
    goal: &TargetGoal,
    discovery: &Discovery,
    blocks: &[Regex],
) -> (TargetGoal, Vec<InvalidBundleImage>) {
    let mut out = goal.clone();
    for need in &goal.releases {
        for r in discovery.releases.iter().filter(|r| r.set == need.set) {
            out.items.extend(
                items_of(r, need.via.as_deref())
                    .into_iter()
                    .filter(|i| !is_blocked(blocks, &i.origin)),
            );
        }
    }
    let mut invalid = Vec::new();
    let mut seen: BTreeSet<ImageRef> = out.items.iter().map(|i| i.origin.clone()).collect();
    let mut added = Vec::new();
    for c in &goal.catalogs {
        let Some(found) = discovery.catalogs.get(&c.set) else {
            continue;
        };
        for b in &found.filtered.kept {
            let images = std::iter::once(b.image.as_str())
                .chain(b.related_images.iter().map(|r| r.image.as_str()))
                .filter(|i| !i.is_empty());
            for image in images {
                let origin = match image.parse::<ImageRef>() {
                    Ok(r) => r,
                    Err(e) => {
                        invalid.push(InvalidBundleImage {
                            set: c.set.clone(),
                            bundle: b.name.clone(),
                            image: image.to_string(),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                };
                if is_blocked(blocks, &origin) {
                    continue;
                }
                if seen.insert(origin.clone()) {
                    let mut item = GoalItem::image(&c.set, origin, c.via.clone());
                    item.category = Category::Operator;
                    added.push(item);
                }
            }
        }
    }
    // The images each chart deploys, and an OCI chart itself (copied like an image).
    for need in &goal.charts {
        for c in discovery.charts.iter().filter(|c| c.set == need.set) {
            let chart = match &c.source {
                crate::discover::ChartSource::Oci(r) => Some(r),
                crate::discover::ChartSource::Packed { .. } => None,
            };
            for origin in chart.into_iter().chain(c.images.keys()) {
                if !is_blocked(blocks, origin) && seen.insert(origin.clone()) {
                    added.push(GoalItem::image(&need.set, origin.clone(), need.via.clone()));
                }
            }
        }
    }
    // An archive target carries what the disconnected side rebuilds and builds from: each
    // catalog image as published (the rebuild keeps all its layers and adds two), and the
    // graph-data image's base.
    if goal.archive.is_some() {
        // A catalog taken from another target is carried as that target rebuilt it (a task of
        // its own, see `catalog_tasks`).
        for c in goal.catalogs.iter().filter(|c| c.via.is_none()) {
            if seen.insert(c.source.clone()) {
                let mut item = GoalItem::image(&c.set, c.source.clone(), None);
                item.category = Category::Operator;
                added.push(item);
            }
        }
        // Not further down an enclave chain: this side read the graph data from an archive.
        if let Some(Ok(g)) = &discovery.graph
            && g.base_archive.is_none()
            && let Some(base) = &g.base_source
            && goal.releases.iter().any(|r| r.set == g.set)
            && seen.insert(base.clone())
        {
            added.push(GoalItem::image(&g.set, base.clone(), None));
        }
    }
    out.items.extend(added);
    invalid.sort_by(|a, b| (&a.set, &a.bundle, &a.image).cmp(&(&b.set, &b.bundle, &b.image)));
    invalid.dedup();
    (out, invalid)
}

/// True when a `block` pattern matches the image's full reference.
pub fn is_blocked(blocks: &[Regex], image: &ImageRef) -> bool {
    let text = image.to_string();
    blocks.iter().any(|re| re.is_match(&text))
}

/// What `block` patterns leave out of the goals: (content set, image) of `images` set entries,
/// release payloads and components, chart images, and catalog related images, sorted, once
/// each. (Blocked
/// bundles are reported by the catalog filter, which removes them from the catalog.)
pub fn blocked_images(
    recipe: &crate::recipe::Recipe,
    goals: &[TargetGoal],
    discovery: &Discovery,
    blocks: &[Regex],
) -> Vec<(String, ImageRef)> {
    let mut out = BTreeSet::new();
    if blocks.is_empty() {
        return Vec::new();
    }
    let carried: BTreeSet<String> = goals
        .iter()
        .flat_map(|g| recipe.carried_sets(&g.name))
        .collect();
    let sets: BTreeSet<&str> = carried.iter().map(String::as_str).collect();
    for s in recipe
        .image_sets()
        .filter(|s| sets.contains(s.name.value.as_str()))
    {
        let images = s
            .images
            .iter()
            .map(|i| &i.value)
            .chain(s.mapped.iter().map(|m| &m.source));
        for i in images.filter(|i| is_blocked(blocks, i)) {
            out.insert((s.name.value.clone(), i.clone()));
        }
    }
    for r in discovery
        .releases
        .iter()
        .filter(|r| sets.contains(r.set.as_str()))
    {
        for i in items_of(r, None)
            .into_iter()
            .filter(|i| is_blocked(blocks, &i.origin))
        {
            out.insert((r.set.clone(), i.origin));
        }
    }
    for c in discovery
        .charts
        .iter()
        .filter(|c| sets.contains(c.set.as_str()))
    {
        for i in c.images.keys().filter(|i| is_blocked(blocks, i)) {
            out.insert((c.set.clone(), i.clone()));
        }
    }
    for (set, c) in discovery
        .catalogs
        .iter()
        .filter(|(s, _)| sets.contains(s.as_str()))
    {
        for b in &c.filtered.kept {
            for r in &b.related_images {
                if let Ok(i) = r.image.parse::<ImageRef>()
                    && i.to_string() != b.image
                    && is_blocked(blocks, &i)
                {
                    out.insert((set.clone(), i));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// [`expanded`] for every goal; invalid bundle images of all of them, sorted, once each.
pub fn expand_all(
    goals: &[TargetGoal],
    discovery: &Discovery,
    blocks: &[Regex],
) -> (Vec<TargetGoal>, Vec<InvalidBundleImage>) {
    let mut invalid = Vec::new();
    let goals = goals
        .iter()
        .map(|g| {
            let (g, i) = expanded(g, discovery, blocks);
            invalid.extend(i);
            g
        })
        .collect();
    invalid.sort_by(|a, b| (&a.set, &a.bundle, &a.image).cmp(&(&b.set, &b.bundle, &b.image)));
    invalid.dedup();
    (goals, invalid)
}
