//! Filtering a catalog by the oc-mirror v2 scenario table (see
//! `book/src/reference/catalog-filtering.md`), producing a pruned catalog and the kept bundles.
//!
//! Input is [`CatalogFilter`], independent of the recipe module (the caller maps recipe nodes
//! onto it). Pure: no I/O, no registry.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use semver::Version;

pub use super::deps::Pulled;
use super::error::{FilterError, did_you_mean};
use super::fbc::{Catalog, Package, RelatedImage};
use super::graph::ChannelGraph;
use super::prune::{Kept, kept_bundles, prune, settle_default_channel};
use super::validate::{Context, Selection, check_channel, in_range};

/// What to keep of one catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilter {
    /// Keep everything (of the listed packages, when `packages` is not empty).
    pub full: bool,
    /// Packages to keep; empty keeps every package.
    pub packages: Vec<PackageFilter>,
    /// Which heads a package without channels, versions or bundles keeps.
    pub heads: Heads,
    /// Do not keep the bundles that kept bundles depend on (`dependencies #false`).
    pub skip_dependencies: bool,
    /// `block` patterns (regex sources): a bundle whose image matches one is removed from the
    /// rebuilt catalog.
    pub blocked: Vec<String>,
    /// `platforms "os/arch" …`: the platforms of a multi-platform catalog image to keep
    /// (`oc adm catalog mirror --index-filter-by-os`); empty keeps all.
    pub platforms: Vec<String>,
}

/// Which channel heads a package keeps when its filter names no channel, version or bundle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Heads {
    /// The head of the default channel (the documentation's scenario table).
    #[default]
    DefaultChannel,
    /// The head of every channel (what oc-mirror v2 keeps): a cluster subscribed to another
    /// channel keeps working.
    EveryChannel,
}

impl Heads {
    pub fn as_str(self) -> &'static str {
        match self {
            Heads::DefaultChannel => "default-channel",
            Heads::EveryChannel => "every-channel",
        }
    }
}

/// What to keep of one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFilter {
    pub name: String,
    /// Lowest version to keep in the default channel.
    pub min: Option<Version>,
    /// Highest version to keep in the default channel.
    pub max: Option<Version>,
    /// Becomes the package's `defaultChannel` when the filter drops the original one; must be a
    /// kept channel (oc-mirror's `defaultChannel` package field).
    pub default_channel: Option<String>,
    pub channels: Vec<ChannelFilter>,
    /// Bundle names to keep, exactly.
    pub bundles: Vec<String>,
    /// A catalog without this package skips it with a warning instead of failing.
    pub optional: bool,
}

/// What to keep of one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFilter {
    pub name: String,
    pub min: Option<Version>,
    pub max: Option<Version>,
}

/// A bundle the filter kept, with the images it needs, tagged with the package it serves so a
/// failed copy can be reported as "operator X incomplete".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeptBundle {
    pub package: String,
    pub name: String,
    /// The `olm.package` property version, empty when the bundle has none.
    pub version: String,
    /// The bundle image; empty when the catalog gives none.
    pub image: String,
    pub related_images: Vec<RelatedImage>,
}

/// The result of filtering: the pruned catalog and its bundles sorted by package and name.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    pub catalog: Catalog,
    pub kept: Vec<KeptBundle>,
    /// What the filter skipped and the user should know (optional packages the catalog lacks,
    /// dependencies the catalog cannot satisfy).
    pub warnings: Vec<String>,
    /// Bundles kept because kept bundles depend on them.
    pub pulled: Vec<Pulled>,
    /// Bundles the filter kept whose image a `block` pattern matches: removed from the
    /// catalog, (package, bundle, image).
    pub blocked: Vec<(String, String, String)>,
}

/// Every problem found while filtering one catalog, all packages at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("catalog `{catalog}` cannot be filtered as asked ({} problem(s))", errors.len())]
#[diagnostic(
    code(airlift::catalog::filter),
    help("fix the catalog's filter in the recipe; each problem below says how")
)]
pub struct FilterErrors {
    pub catalog: String,
    #[related]
    pub errors: Vec<FilterError>,
}

/// Filters `catalog` (called `catalog_name` in messages) by `filter`.
pub fn filter_catalog(
    catalog_name: &str,
    catalog: &Catalog,
    filter: &CatalogFilter,
) -> Result<Filtered, FilterErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut packages = BTreeMap::new();
    let wanted: Vec<(PackageFilter, &Package)> = if filter.packages.is_empty() {
        catalog
            .packages
            .values()
            .map(|p| {
                let default = PackageFilter {
                    name: p.name.clone(),
                    ..PackageFilter::default()
                };
                (default, p)
            })
            .collect()
    } else {
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for pf in &filter.packages {
            if !seen.insert(pf.name.as_str()) {
                errors.push(combination(
                    catalog_name,
                    Some(&pf.name),
                    "listing a package twice",
                    "merge the two `package` nodes into one",
                ));
            } else if let Some(p) = catalog.packages.get(&pf.name) {
                found.push((pf.clone(), p));
            } else if pf.optional {
                warnings.push(format!(
                    "catalog `{catalog_name}` has no package `{}` (optional): skipped",
                    pf.name
                ));
            } else {
                errors.push(FilterError::UnknownPackage {
                    catalog: catalog_name.to_string(),
                    name: pf.name.clone(),
                    help: did_you_mean(
                        "package",
                        &pf.name,
                        catalog.packages.keys().map(String::as_str),
                    ),
                });
            }
        }
        found
    };
    let results: Vec<Result<Package, Vec<FilterError>>> = wanted
        .par_iter()
        .map(|(pf, package)| filter_package(catalog_name, filter, pf, package))
        .collect();
    for result in results {
        match result {
            Ok(p) => {
                packages.insert(p.name.clone(), p);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(FilterErrors {
            catalog: catalog_name.to_string(),
            errors,
        });
    }
    let mut pulled = Vec::new();
    if !filter.skip_dependencies {
        let (p, w) = super::deps::resolve(catalog_name, catalog, &mut packages).map_err(|e| {
            FilterErrors {
                catalog: catalog_name.to_string(),
                errors: vec![e],
            }
        })?;
        pulled = p;
        warnings.extend(w);
    }
    let blocked =
        block_bundles(catalog_name, &filter.blocked, &mut packages).map_err(|e| FilterErrors {
            catalog: catalog_name.to_string(),
            errors: vec![e],
        })?;
    let catalog = Catalog {
        packages,
        unowned: catalog.unowned.clone(),
    };
    let kept = kept_bundles(&catalog);
    Ok(Filtered {
        catalog,
        kept,
        warnings,
        pulled,
        blocked,
    })
}

/// Removes the bundles whose image a `block` pattern matches; each channel they leave must
/// still be one upgrade path, and the default channel must keep a bundle.
fn block_bundles(
    catalog: &str,
    patterns: &[String],
    packages: &mut BTreeMap<String, Package>,
) -> Result<Vec<(String, String, String)>, FilterError> {
    let res: Vec<regex::Regex> = patterns
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect();
    let mut out = Vec::new();
    if res.is_empty() {
        return Ok(out);
    }
    for package in packages.values_mut() {
        let blocked: BTreeSet<String> = package
            .bundles
            .values()
            .filter(|b| !b.image.is_empty() && res.iter().any(|r| r.is_match(&b.image)))
            .map(|b| b.name.clone())
            .collect();
        if blocked.is_empty() {
            continue;
        }
        for name in &blocked {
            let image = package.bundles[name].image.clone();
            out.push((package.name.clone(), name.clone(), image));
        }
        let kept: Kept = package
            .channels
            .iter()
            .map(|(n, c)| {
                let flags = c
                    .entries
                    .iter()
                    .map(|e| !blocked.contains(&e.name))
                    .collect();
                (n.clone(), flags)
            })
            .filter(|(_, flags): &(String, Vec<bool>)| flags.iter().any(|k| *k))
            .collect();
        let pruned = prune(package, &kept);
        let names: Vec<&str> = blocked.iter().map(String::as_str).collect();
        if let Some(d) = &package.default_channel
            && !pruned.channels.contains_key(d)
        {
            return Err(FilterError::DefaultChannelDropped {
                catalog: catalog.to_string(),
                package: package.name.clone(),
                default_channel: d.clone(),
                help: format!(
                    "`block` removed every kept bundle of the default channel ({}); narrow the block pattern or keep other bundles of `{d}`",
                    names.join(", ")
                ),
            });
        }
        for (cname, channel) in &pruned.channels {
            let graph =
                ChannelGraph::build(&pruned, channel).map_err(|e| graph_error(catalog, e))?;
            let heads = graph.heads(super::graph::EdgeRule::Opm, &|_| true);
            if heads.len() != 1 {
                return Err(FilterError::MultipleHeads {
                    catalog: catalog.to_string(),
                    package: package.name.clone(),
                    channel: cname.clone(),
                    heads: heads.iter().map(|&i| graph.names[i].to_string()).collect(),
                    help: format!(
                        "`block` removed {} from the middle of the channel's upgrade path; narrow the block pattern, or keep only the bundles above it",
                        names.join(", ")
                    ),
                });
            }
        }
        *package = pruned;
    }
    out.sort();
    Ok(out)
}

fn combination(catalog: &str, package: Option<&str>, what: &str, help: &str) -> FilterError {
    FilterError::InvalidCombination {
        catalog: catalog.to_string(),
        package: package.map(str::to_string),
        combination: what.to_string(),
        help: help.to_string(),
    }
}

/// Rejects the combinations the scenario table forbids (scenarios 15, 16, 17 and the like).
fn check_combination(catalog: &str, full: bool, pf: &PackageFilter) -> Result<(), FilterError> {
    let pkg = Some(pf.name.as_str());
    let package_range = pf.min.is_some() || pf.max.is_some();
    let channel_range = pf
        .channels
        .iter()
        .any(|c| c.min.is_some() || c.max.is_some());
    let fail = |what: &str, help: &str| Err(combination(catalog, pkg, what, help));
    if full && (package_range || channel_range) {
        return fail(
            "`full` and a version range",
            "drop `full` to mirror a range, or drop min/max to mirror everything",
        );
    }
    if full && !pf.bundles.is_empty() {
        return fail(
            "`full` and named bundles",
            "drop `full` to mirror only the named bundles",
        );
    }
    if package_range && !pf.channels.is_empty() {
        return fail(
            "a package version range and channels",
            "move min/max onto the `channel` nodes",
        );
    }
    if !pf.bundles.is_empty() && !pf.channels.is_empty() {
        return fail(
            "channels and named bundles",
            "use either `channel` nodes or `bundle` nodes for one package",
        );
    }
    if !pf.bundles.is_empty() && package_range {
        return fail(
            "named bundles and a version range",
            "drop min/max: named bundles are kept exactly",
        );
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = pf.channels.iter().find(|c| !seen.insert(c.name.as_str())) {
        return fail(
            &format!("listing channel `{}` twice", dup.name),
            "merge the two `channel` nodes into one",
        );
    }
    Ok(())
}

fn filter_package(
    catalog: &str,
    filter: &CatalogFilter,
    pf: &PackageFilter,
    package: &Package,
) -> Result<Package, Vec<FilterError>> {
    let full = filter.full;
    check_combination(catalog, full, pf).map_err(|e| vec![e])?;
    if full && pf.channels.is_empty() {
        let mut whole = package.clone();
        // `full` keeps the catalog's own default channel; only an override is checked.
        if pf.default_channel.is_some() {
            settle_default_channel(catalog, pf, &mut whole).map_err(|e| vec![e])?;
        }
        return Ok(whole);
    }
    let mut errors = Vec::new();
    let kept = select(catalog, filter, pf, package, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut pruned = prune(package, &kept);
    if let Err(e) = settle_default_channel(catalog, pf, &mut pruned) {
        return Err(vec![e]);
    }
    Ok(pruned)
}

/// The package's channels with their entry counts, for messages: `stable (3), fast (0)`.
fn channel_list(package: &Package) -> String {
    let list: Vec<String> = package
        .channels
        .values()
        .map(|c| format!("{} ({} bundles)", c.name, c.entries.len()))
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

fn graph_error(catalog: &str, source: super::error::GraphError) -> FilterError {
    FilterError::Graph {
        catalog: catalog.to_string(),
        source,
    }
}

/// Works out which entries of which channels to keep, validating pruned channels.
fn select(
    catalog: &str,
    filter: &CatalogFilter,
    pf: &PackageFilter,
    package: &Package,
    errors: &mut Vec<FilterError>,
) -> Kept {
    let full = filter.full;
    let mut kept = Kept::new();
    if !pf.bundles.is_empty() {
        return select_bundles(catalog, pf, package, errors);
    }
    let heads_only = pf.min.is_none() && pf.max.is_none();
    let wanted: Vec<ChannelFilter> =
        if pf.channels.is_empty() && heads_only && filter.heads == Heads::EveryChannel {
            // An empty channel has no head to keep.
            package
                .channels
                .iter()
                .filter(|(_, c)| !c.entries.is_empty())
                .map(|(name, _)| ChannelFilter {
                    name: name.clone(),
                    min: None,
                    max: None,
                })
                .collect()
        } else if pf.channels.is_empty() {
            let Some(default) = package.default_channel.clone() else {
                errors.push(FilterError::NoDefaultChannel {
                    catalog: catalog.to_string(),
                    package: package.name.clone(),
                    channels: channel_list(package),
                });
                return kept;
            };
            vec![ChannelFilter {
                name: default,
                min: pf.min.clone(),
                max: pf.max.clone(),
            }]
        } else {
            pf.channels.clone()
        };
    for cf in &wanted {
        let Some(channel) = package.channels.get(&cf.name) else {
            errors.push(FilterError::UnknownChannel {
                catalog: catalog.to_string(),
                package: package.name.clone(),
                name: cf.name.clone(),
                help: did_you_mean(
                    "channel",
                    &cf.name,
                    package.channels.keys().map(String::as_str),
                ),
            });
            continue;
        };
        let graph = match ChannelGraph::build(package, channel) {
            Ok(g) => g,
            Err(e) => {
                errors.push(graph_error(catalog, e));
                continue;
            }
        };
        match select_channel(catalog, full, cf, package, &graph) {
            Ok(flags) => {
                kept.insert(cf.name.clone(), flags);
            }
            Err(e) => errors.push(e),
        }
    }
    kept
}

fn select_channel(
    catalog: &str,
    full: bool,
    cf: &ChannelFilter,
    package: &Package,
    graph: &ChannelGraph<'_>,
) -> Result<Vec<bool>, FilterError> {
    let cx = Context {
        catalog,
        package: &package.name,
        channel: &cf.name,
    };
    if graph.is_empty() {
        return Err(FilterError::EmptyChannel {
            catalog: catalog.to_string(),
            package: package.name.clone(),
            channel: cf.name.clone(),
            others: channel_list(package),
        });
    }
    if full {
        return Ok(vec![true; graph.len()]);
    }
    if cf.min.is_none() && cf.max.is_none() {
        let head = graph.head().map_err(|heads| FilterError::MultipleHeads {
            catalog: catalog.to_string(),
            package: package.name.clone(),
            channel: cf.name.clone(),
            heads: heads.iter().map(|&i| graph.names[i].to_string()).collect(),
            help: "the catalog's own channel has no single head; mirror it with `full` or name the bundles to mirror".to_string(),
        })?;
        return Ok((0..graph.len()).map(|i| i == head).collect());
    }
    let mut flags = Vec::with_capacity(graph.len());
    for (i, version) in graph.versions.iter().enumerate() {
        let Some(version) = version else {
            return Err(graph_error(
                catalog,
                super::error::GraphError::Version {
                    package: package.name.clone(),
                    bundle: graph.names[i].to_string(),
                    reason:
                        "has no `olm.package` property version, so a version range cannot place it"
                            .to_string(),
                },
            ));
        };
        flags.push(in_range(version, cf.min.as_ref(), cf.max.as_ref()));
    }
    if !flags.iter().any(|k| *k) {
        let show = |v: &Option<Version>| {
            v.as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| "…".into())
        };
        let mut versions: Vec<&Version> = graph.versions.iter().flatten().collect();
        versions.sort_by(|a, b| super::semver_range::cmp_precedence(a, b));
        let span = match (versions.first(), versions.last()) {
            (Some(lo), Some(hi)) => {
                format!("this channel has versions {lo} to {hi}; widen min/max to overlap them")
            }
            _ => "this channel has no entries".to_string(),
        };
        return Err(FilterError::EmptyRange {
            catalog: catalog.to_string(),
            package: package.name.clone(),
            channel: Some(cf.name.clone()),
            range: format!("[{}, {}]", show(&cf.min), show(&cf.max)),
            help: span,
        });
    }
    let selection = Selection::Range {
        min: cf.min.as_ref(),
        max: cf.max.as_ref(),
    };
    check_channel(&cx, graph, &flags, selection)?;
    Ok(flags)
}

fn select_bundles(
    catalog: &str,
    pf: &PackageFilter,
    package: &Package,
    errors: &mut Vec<FilterError>,
) -> Kept {
    let mut wanted = BTreeSet::new();
    for name in &pf.bundles {
        let in_channel = package.channels.values().any(|c| c.entry(name).is_some());
        if package.bundles.contains_key(name) && in_channel {
            wanted.insert(name.as_str());
        } else {
            errors.push(FilterError::UnknownBundle {
                catalog: catalog.to_string(),
                package: package.name.clone(),
                name: name.clone(),
                help: did_you_mean("bundle", name, package.bundles.keys().map(String::as_str)),
            });
        }
    }
    let mut kept = Kept::new();
    for (name, channel) in &package.channels {
        let flags: Vec<bool> = channel
            .entries
            .iter()
            .map(|e| wanted.contains(e.name.as_str()))
            .collect();
        if !flags.iter().any(|k| *k) {
            continue;
        }
        let checked = ChannelGraph::build(package, channel)
            .map_err(|e| graph_error(catalog, e))
            .and_then(|graph| {
                let cx = Context {
                    catalog,
                    package: &package.name,
                    channel: name,
                };
                check_channel(&cx, &graph, &flags, Selection::Bundles)
            });
        match checked {
            Ok(()) => {
                kept.insert(name.clone(), flags);
            }
            Err(e) => errors.push(e),
        }
    }
    kept
}
