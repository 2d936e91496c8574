//! Dependencies of kept bundles: a bundle that declares `olm.package.required` (a package and a
//! version range) or `olm.gvk.required` (an API group, version and kind) cannot be installed
//! without a bundle that provides it. For each requirement no kept bundle satisfies, the newest
//! satisfying bundle of the providing package's default channel is kept too, and its own
//! requirements in turn, until nothing is missing (oc-mirror v1 did this; v2 drops them).
//!
//! A requirement the catalog cannot satisfy is a warning (OLM will refuse the install; the
//! mirror is still what the filter asked for). Adding a bundle to a channel that the filter
//! already pruned must leave the channel one head; otherwise it is an error that names both
//! bundles. Pure.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use semver::Version;
use serde_json::Value;

use super::error::FilterError;
use super::fbc::{Bundle, Catalog, Package};
use super::graph::{ChannelGraph, EdgeRule};
use super::prune::{Kept, prune};
use super::semver_range::{VersionRange, parse_version};

/// A bundle kept because another kept bundle needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pulled {
    pub package: String,
    pub bundle: String,
    /// `for dependency of B (requires …)`.
    pub reason: String,
}

/// One requirement of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    Package {
        name: String,
        range: String,
    },
    Gvk {
        group: String,
        version: String,
        kind: String,
    },
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Package { name, range } if range.is_empty() => write!(f, "package {name}"),
            Need::Package { name, range } => write!(f, "package {name} {range}"),
            Need::Gvk {
                group,
                version,
                kind,
            } => write!(f, "API {group}/{version} {kind}"),
        }
    }
}

fn properties<'a>(b: &'a Bundle, kind: &str) -> impl Iterator<Item = &'a Value> {
    let kind = kind.to_string();
    b.raw
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |p| p.get("type").and_then(Value::as_str) == Some(kind.as_str()))
        .filter_map(|p| p.get("value"))
}

fn field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn needs(b: &Bundle) -> Vec<Need> {
    let mut out: Vec<Need> = properties(b, "olm.package.required")
        .map(|v| Need::Package {
            name: field(v, "packageName"),
            range: field(v, "versionRange"),
        })
        .collect();
    out.extend(properties(b, "olm.gvk.required").map(|v| Need::Gvk {
        group: field(v, "group"),
        version: field(v, "version"),
        kind: field(v, "kind"),
    }));
    out
}

fn provides_gvk(b: &Bundle, need: &Need) -> bool {
    let Need::Gvk {
        group,
        version,
        kind,
    } = need
    else {
        return false;
    };
    properties(b, "olm.gvk").any(|v| {
        &field(v, "group") == group && &field(v, "version") == version && &field(v, "kind") == kind
    })
}

fn version_of(b: &Bundle) -> Option<Version> {
    b.version.as_deref().and_then(|v| parse_version(v).ok())
}

fn satisfies(b: &Bundle, need: &Need) -> bool {
    match need {
        Need::Package { name, range } => {
            if &b.package != name {
                return false;
            }
            if range.trim().is_empty() {
                return true;
            }
            match (VersionRange::parse(range), version_of(b)) {
                (Ok(r), Some(v)) => r.contains(&v),
                _ => false,
            }
        }
        Need::Gvk { .. } => provides_gvk(b, need),
    }
}

/// The newest bundle of `package`'s default channel that satisfies `need`.
fn candidate<'c>(package: &'c Package, need: &Need) -> Option<&'c Bundle> {
    let channel = package.channels.get(package.default_channel.as_deref()?)?;
    channel
        .entries
        .iter()
        .filter_map(|e| package.bundles.get(&e.name))
        .filter(|b| satisfies(b, need))
        .max_by(|a, b| version_of(a).cmp(&version_of(b)).then(a.name.cmp(&b.name)))
}

/// Keeps what the kept bundles of `packages` need from `original`; returns the bundles pulled
/// in and warnings for requirements the catalog cannot satisfy.
pub(crate) fn resolve(
    catalog_name: &str,
    original: &Catalog,
    packages: &mut BTreeMap<String, Package>,
) -> Result<(Vec<Pulled>, Vec<String>), FilterError> {
    let mut pulled = Vec::new();
    let mut warnings = Vec::new();
    let mut queue: VecDeque<(String, String)> = packages
        .values()
        .flat_map(|p| p.bundles.keys().map(|b| (p.name.clone(), b.clone())))
        .collect();
    let mut seen: BTreeSet<(String, String)> = queue.iter().cloned().collect();
    while let Some((pkg, name)) = queue.pop_front() {
        let Some(bundle) = packages
            .get(&pkg)
            .and_then(|p| p.bundles.get(&name))
            .cloned()
        else {
            continue;
        };
        for need in needs(&bundle) {
            let met = packages
                .values()
                .flat_map(|p| p.bundles.values())
                .any(|b| satisfies(b, &need));
            if met {
                continue;
            }
            let found = match &need {
                Need::Package { name, .. } => original
                    .packages
                    .get(name)
                    .and_then(|p| candidate(p, &need).map(|b| (p, b))),
                Need::Gvk { .. } => original
                    .packages
                    .values()
                    .find_map(|p| candidate(p, &need).map(|b| (p, b))),
            };
            let Some((provider, chosen)) = found else {
                warnings.push(format!(
                    "catalog `{catalog_name}`: bundle `{name}` requires {need}, which no bundle of the catalog's default channels provides; OLM will not install it until a catalog on the cluster provides it (mirror the catalog that has it, or drop the package)"
                ));
                continue;
            };
            add(catalog_name, provider, chosen, &name, packages)?;
            pulled.push(Pulled {
                package: provider.name.clone(),
                bundle: chosen.name.clone(),
                reason: format!("for dependency of {name} (requires {need})"),
            });
            let key = (provider.name.clone(), chosen.name.clone());
            if seen.insert(key.clone()) {
                queue.push_back(key);
            }
        }
    }
    pulled.sort();
    Ok((pulled, warnings))
}

/// Keeps `chosen` in `provider`'s default channel, next to what the filter kept of it.
fn add(
    catalog_name: &str,
    provider: &Package,
    chosen: &Bundle,
    dependant: &str,
    packages: &mut BTreeMap<String, Package>,
) -> Result<(), FilterError> {
    let current = packages.get(&provider.name);
    let mut kept = Kept::new();
    for (cname, channel) in &provider.channels {
        let kept_names: BTreeSet<&str> = current
            .and_then(|p| p.channels.get(cname))
            .map(|c| c.entries.iter().map(|e| e.name.as_str()).collect())
            .unwrap_or_default();
        let is_default = provider.default_channel.as_deref() == Some(cname.as_str());
        if kept_names.is_empty() && !is_default {
            continue;
        }
        let flags: Vec<bool> = channel
            .entries
            .iter()
            .map(|e| kept_names.contains(e.name.as_str()) || (is_default && e.name == chosen.name))
            .collect();
        if is_default {
            let graph =
                ChannelGraph::build(provider, channel).map_err(|source| FilterError::Graph {
                    catalog: catalog_name.to_string(),
                    source,
                })?;
            let heads = graph.heads(EdgeRule::Opm, &|i| flags[i]);
            if heads.len() != 1 {
                return Err(FilterError::MultipleHeads {
                    catalog: catalog_name.to_string(),
                    package: provider.name.clone(),
                    channel: cname.clone(),
                    heads: heads.iter().map(|&i| graph.names[i].to_string()).collect(),
                    help: format!(
                        "`{}` is kept for a dependency of `{dependant}`, and the channel's kept bundles are no longer one upgrade path: keep a range of `{}` that includes it, or turn dependencies off with `dependencies #false`",
                        chosen.name, provider.name
                    ),
                });
            }
        }
        kept.insert(cname.clone(), flags);
    }
    let mut pruned = prune(provider, &kept);
    if let Some(d) = current.and_then(|p| p.default_channel.clone()) {
        pruned.set_default_channel(&d);
    }
    packages.insert(provider.name.clone(), pruned);
    Ok(())
}
