//! Every image a target must hold: the images its goal names, the payload and components of
//! each discovered release of its release sets, and the kept bundle and related images of its
//! discovered catalogs; an archive target also holds the catalog images it reads from their
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
/// pattern are left out of catalog items.
pub fn expanded(
    goal: &TargetGoal,
    discovery: &Discovery,
    blocks: &[Regex],
) -> (TargetGoal, Vec<InvalidBundleImage>) {
    let mut out = goal.clone();
    for need in &goal.releases {
        for r in discovery.releases.iter().filter(|r| r.set == need.set) {
            out.items.extend(items_of(r, need.via.as_deref()));
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
                if blocks.iter().any(|re| re.is_match(&origin.to_string())) {
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
