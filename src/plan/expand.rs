//! Recipe → goals: which images each target must hold and where they come from.
//!
//! Pure. Targets are returned in dependency order (a needed target before the targets that
//! need it). Release sets are listed per target (their images are known only after discovery,
//! see [`super::release_items`]). Content kinds this version cannot mirror yet are reported,
//! never skipped.

use std::collections::BTreeSet;

use super::Destination;
use super::goal::{
    ArchiveGoal, CatalogGoal, ChartNeed, DestName, GoalItem, ReleaseNeed, TargetGoal,
};
use crate::oci::ImageRef;
use crate::recipe::{CatalogSource, ContentSet, Recipe, TargetLocation};

/// Something the recipe asks for that this version cannot do yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub target: String,
    pub what: String,
}

/// The goals of `selected` targets (all when empty) and everything they need.
pub fn expand(recipe: &Recipe, selected: &[String]) -> Result<Vec<TargetGoal>, Vec<Unsupported>> {
    let order = target_order(recipe, selected);
    let blocks: Vec<_> = recipe.block_patterns().collect();
    let blocked = |i: &ImageRef| blocks.iter().any(|re| re.is_match(&i.to_string()));
    let mut goals = Vec::new();
    let mut unsupported = Vec::new();
    for name in &order {
        let Some(t) = recipe.target(name) else {
            continue;
        };
        let dest = match &t.location.value {
            TargetLocation::Registry {
                registry,
                namespace,
            } => Destination {
                registry: registry.clone(),
                namespace: namespace.clone(),
                max_nested_paths: t.max_nested_paths.as_ref().map(|m| m.value as usize),
            },
            TargetLocation::Layout(_) | TargetLocation::Directory(_) => Destination {
                registry: super::LAYOUT_REGISTRY.to_string(),
                namespace: String::new(),
                max_nested_paths: None,
            },
        };
        let mut items = Vec::new();
        let mut releases = Vec::new();
        let mut catalogs = Vec::new();
        let mut charts = Vec::new();
        let mut direct = BTreeSet::new();
        for set in t.needed_sets() {
            direct.insert(set.to_string());
            if is_release(recipe, set) {
                releases.push(ReleaseNeed {
                    set: set.to_string(),
                    via: None,
                });
                continue;
            }
            if is_helm(recipe, set) {
                charts.push(ChartNeed {
                    set: set.to_string(),
                    via: None,
                });
                continue;
            }
            if add_catalog(recipe, name, set, None, &mut catalogs, &mut unsupported) {
                continue;
            }
            add_set(recipe, &dest, set, None, &blocked, &mut items);
        }
        let mut inherited = BTreeSet::new();
        for up in t.needed_targets() {
            for set in recipe.carried_sets(up) {
                let kept = t.only.is_empty() || t.only.iter().any(|o| o.value == set);
                if kept && !direct.contains(&set) && inherited.insert(set.clone()) {
                    if is_release(recipe, &set) {
                        releases.push(ReleaseNeed {
                            set: set.clone(),
                            via: Some(up.to_string()),
                        });
                        continue;
                    }
                    if is_helm(recipe, &set) {
                        charts.push(ChartNeed {
                            set: set.clone(),
                            via: Some(up.to_string()),
                        });
                        continue;
                    }
                    if add_catalog(
                        recipe,
                        name,
                        &set,
                        Some(up),
                        &mut catalogs,
                        &mut unsupported,
                    ) {
                        continue;
                    }
                    add_set(recipe, &dest, &set, Some(up), &blocked, &mut items);
                }
            }
        }
        let layout = match &t.location.value {
            TargetLocation::Layout(dir) => Some(dir.clone()),
            _ => None,
        };
        let archive = match &t.location.value {
            TargetLocation::Directory(dir) => Some(ArchiveGoal {
                dir: dir.clone(),
                chunk_size: t.archive_size.as_ref().map(|s| s.value.0),
            }),
            _ => None,
        };
        for c in &catalogs {
            if layout.is_some() {
                unsupported.push(Unsupported {
                    target: name.clone(),
                    what: format!("operator catalogs (`{}`) in an oci:// target", c.set),
                });
            } else if archive.is_some() && c.layout.is_some() {
                unsupported.push(Unsupported {
                    target: name.clone(),
                    what: format!(
                        "the OCI layout catalog `{}` in a file:// target (name a registry catalog image, or carry the layout directory itself)",
                        c.set
                    ),
                });
            }
        }
        if layout.is_some() {
            for r in &releases {
                if matches!(recipe.content_set(&r.set), Some(ContentSet::Release(s)) if s.graph) {
                    unsupported.push(Unsupported {
                        target: name.clone(),
                        what: format!(
                            "the graph-data image (`graph #true` on `{}`) in an oci:// target",
                            r.set
                        ),
                    });
                }
            }
        }
        // Charts are pushed to registries and carried by archives; layouts do not hold them.
        if layout.is_some() {
            for c in &charts {
                unsupported.push(Unsupported {
                    target: name.clone(),
                    what: format!(
                        "Helm charts (`{}`) in an oci:// target (mirror them to a registry or file:// target)",
                        c.set
                    ),
                });
            }
        }
        let mut archive_inputs = std::collections::BTreeMap::new();
        for up in t.needed_targets() {
            match recipe.target(up).map(|u| &u.location.value) {
                Some(TargetLocation::Layout(_)) => unsupported.push(Unsupported {
                    target: name.clone(),
                    what: format!("content from the oci:// target `{up}`"),
                }),
                Some(TargetLocation::Directory(dir)) => {
                    if layout.is_some() || archive.is_some() {
                        unsupported.push(Unsupported {
                            target: name.clone(),
                            what: format!(
                                "content from the archive target `{up}` in a directory target"
                            ),
                        });
                    }
                    archive_inputs.insert(up.to_string(), dir.clone());
                }
                _ => {}
            }
        }
        goals.push(TargetGoal {
            name: name.clone(),
            dest,
            items,
            releases,
            charts,
            catalogs,
            layout,
            archive,
            archive_inputs,
        });
    }
    if unsupported.is_empty() {
        Ok(goals)
    } else {
        unsupported.sort_by(|a, b| (&a.target, &a.what).cmp(&(&b.target, &b.what)));
        unsupported.dedup();
        Err(unsupported)
    }
}

fn add_set(
    recipe: &Recipe,
    dest: &super::Destination,
    set: &str,
    via: Option<&str>,
    blocked: &dyn Fn(&ImageRef) -> bool,
    items: &mut Vec<GoalItem>,
) {
    // Releases, charts and catalogs are listed per target by `expand`; their images come from
    // discovery.
    let Some(ContentSet::Images(s)) = recipe.content_set(set) else {
        return;
    };
    for img in &s.images {
        if !blocked(&img.value) {
            items.push(GoalItem::image(
                set,
                img.value.clone(),
                via.map(str::to_string),
            ));
        }
    }
    for m in &s.mapped {
        if !blocked(&m.source) {
            let mut item = GoalItem::image(set, m.source.clone(), via.map(str::to_string));
            item.dest_name = mapped_name(dest, m);
            items.push(item);
        }
    }
}

/// Where a mapping file line puts its source below the target: the destination's repository
/// path (without the target's namespace when the mapping names the target's own registry and
/// namespace) and its tag, else the source's tag; `None` (the usual naming) when neither has one.
fn mapped_name(dest: &super::Destination, m: &crate::recipe::Mapped) -> Option<DestName> {
    let tag = m.dest.tag().or(m.source.tag())?.to_string();
    let mut path = m.dest.path();
    if m.dest.registry() == dest.registry && !dest.namespace.is_empty() {
        path = path
            .strip_prefix(dest.namespace.as_str())
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path);
    }
    Some(DestName {
        path: path.to_string(),
        tag,
    })
}

fn is_helm(recipe: &Recipe, set: &str) -> bool {
    matches!(recipe.content_set(set), Some(ContentSet::Helm(_)))
}

fn is_release(recipe: &Recipe, set: &str) -> bool {
    matches!(recipe.content_set(set), Some(ContentSet::Release(_)))
}

/// A `catalog` set: records it in `catalogs` and returns true; false for other kinds. A catalog
/// inherited from another target (`via`) is copied from that target's rebuilt catalog. A
/// catalog read from an OCI layout is named after its directory (`layout_reference`).
fn add_catalog(
    recipe: &Recipe,
    target: &str,
    set: &str,
    via: Option<&str>,
    catalogs: &mut Vec<CatalogGoal>,
    unsupported: &mut Vec<Unsupported>,
) -> bool {
    let Some(ContentSet::Catalog(c)) = recipe.content_set(set) else {
        return false;
    };
    let (source, layout) = match &c.source.value {
        CatalogSource::Image(i) => (i.clone(), None),
        CatalogSource::OciLayout(p) => match super::layout_reference(p) {
            Ok(r) => (r, Some(p.clone())),
            Err(e) => {
                unsupported.push(Unsupported {
                    target: target.to_string(),
                    what: format!(
                        "a name for the OCI layout catalog `{set}` (oci://{}): {e}",
                        p.display()
                    ),
                });
                return true;
            }
        },
    };
    catalogs.push(CatalogGoal {
        set: set.to_string(),
        source,
        rename: c.rename.as_ref().map(|r| r.path.value.clone()),
        tag: c
            .rename
            .as_ref()
            .and_then(|r| r.tag.as_ref().map(|t| t.value.clone())),
        filter: {
            let mut f = super::catalog::filter_of(c);
            f.blocked = recipe
                .block_patterns()
                .map(|r| r.as_str().to_string())
                .collect();
            f
        },
        via: via.map(str::to_string),
        layout,
        archive: via
            .and_then(|up| recipe.target(up))
            .and_then(|t| match &t.location.value {
                TargetLocation::Directory(dir) => Some(dir.clone()),
                _ => None,
            }),
    });
    true
}

/// Selected targets plus everything they need, dependencies first, ties by name.
fn target_order(recipe: &Recipe, selected: &[String]) -> Vec<String> {
    let roots: Vec<String> = if selected.is_empty() {
        recipe
            .targets
            .iter()
            .map(|t| t.name.value.clone())
            .collect()
    } else {
        selected.to_vec()
    };
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    let mut sorted = roots;
    sorted.sort();
    for r in &sorted {
        visit(recipe, r, &sorted, &mut seen, &mut order);
    }
    order
}

/// Visits `name` after the targets it needs. An archive (`file://`) target that is needed but
/// not selected is an input (its directory is read, on a disconnected side with no sources),
/// not a goal: it is built only when selected (or when every target is).
fn visit(
    recipe: &Recipe,
    name: &str,
    selected: &[String],
    seen: &mut BTreeSet<String>,
    order: &mut Vec<String>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    if let Some(t) = recipe.target(name) {
        let mut ups: Vec<&str> = t.needed_targets().collect();
        ups.sort();
        for up in ups {
            let archive = matches!(
                recipe.target(up).map(|u| &u.location.value),
                Some(TargetLocation::Directory(_))
            );
            if archive && !selected.iter().any(|s| s == up) {
                continue;
            }
            visit(recipe, up, selected, seen, order);
        }
    }
    order.push(name.to_string());
}
