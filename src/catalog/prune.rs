//! Applying a selection to a package: rewriting kept channels, dropping unreferenced bundles
//! and stale deprecation entries, settling the default channel, and listing kept bundles.
//!
//! Pure; `filter.rs` decides what is kept, this module only carries it out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::error::FilterError;
use super::fbc::{Catalog, Package, SCHEMA_BUNDLE, SCHEMA_CHANNEL, str_field};
use super::filter::{KeptBundle, PackageFilter};

/// Entries kept per channel, as flags over the channel's entries.
pub(crate) type Kept = BTreeMap<String, Vec<bool>>;

/// The package with only the kept channels, their kept entries, the bundles they name, and
/// the deprecation entries that still refer to something.
pub(crate) fn prune(package: &Package, kept: &Kept) -> Package {
    let mut out = package.clone();
    out.channels.retain(|name, _| kept.contains_key(name));
    for (name, channel) in out.channels.iter_mut() {
        if let Some(flags) = kept.get(name) {
            let names: BTreeSet<String> = channel
                .entries
                .iter()
                .zip(flags)
                .filter(|(_, k)| **k)
                .map(|(e, _)| e.name.clone())
                .collect();
            channel.retain_entries(|n| names.contains(n));
        }
    }
    let used: BTreeSet<String> = out
        .channels
        .values()
        .flat_map(|c| c.entries.iter().map(|e| e.name.clone()))
        .collect();
    out.bundles.retain(|name, _| used.contains(name));
    let channels: BTreeSet<&str> = out.channels.keys().map(String::as_str).collect();
    let bundles: BTreeSet<&str> = out.bundles.keys().map(String::as_str).collect();
    let mut deprecations = Vec::new();
    for d in &package.deprecations {
        if let Some(d) = prune_deprecation(d, &channels, &bundles) {
            deprecations.push(d);
        }
    }
    out.deprecations = deprecations;
    out
}

/// Drops deprecation entries that name a removed channel or bundle; `None` when none is left.
fn prune_deprecation(
    d: &Value,
    channels: &BTreeSet<&str>,
    bundles: &BTreeSet<&str>,
) -> Option<Value> {
    let mut d = d.clone();
    if let Some(Value::Array(entries)) = d.get_mut("entries") {
        entries.retain(|e| {
            let reference = e.get("reference");
            let name = reference
                .and_then(|r| str_field(r, "name"))
                .unwrap_or_default();
            match reference.and_then(|r| str_field(r, "schema")) {
                Some(SCHEMA_CHANNEL) => channels.contains(name),
                Some(SCHEMA_BUNDLE) => bundles.contains(name),
                _ => true,
            }
        });
        if entries.is_empty() {
            return None;
        }
    }
    Some(d)
}

/// The default channel must survive; a `default_channel` override replaces it when it does not.
pub(crate) fn settle_default_channel(
    catalog: &str,
    pf: &PackageFilter,
    package: &mut Package,
) -> Result<(), FilterError> {
    let kept: Vec<&str> = package.channels.keys().map(String::as_str).collect();
    let dropped = |default: &str, help: String| FilterError::DefaultChannelDropped {
        catalog: catalog.to_string(),
        package: package.name.clone(),
        default_channel: default.to_string(),
        help,
    };
    let current = package.default_channel.clone().unwrap_or_default();
    if let Some(wanted) = &pf.default_channel {
        if !kept.contains(&wanted.as_str()) {
            return Err(dropped(
                &current,
                format!(
                    "the default-channel override `{wanted}` is not a kept channel; pick one of: {}",
                    kept.join(", ")
                ),
            ));
        }
        package.set_default_channel(wanted);
        return Ok(());
    }
    if package
        .default_channel
        .as_deref()
        .is_some_and(|d| kept.contains(&d))
    {
        return Ok(());
    }
    Err(dropped(
        &current,
        format!(
            "OLM needs the default channel in the catalog: also select channel `{current}` (its head is enough), or make one of the kept channels the package's default channel with `default-channel \"NAME\"` in the package: {}",
            kept.join(", ")
        ),
    ))
}

pub(crate) fn kept_bundles(catalog: &Catalog) -> Vec<KeptBundle> {
    let mut kept: Vec<KeptBundle> = catalog
        .packages
        .values()
        .flat_map(|p| p.bundles.values())
        .map(|b| {
            let mut related_images = b.related_images.clone();
            related_images.sort();
            related_images.dedup();
            KeptBundle {
                package: b.package.clone(),
                name: b.name.clone(),
                version: b.version.clone().unwrap_or_default(),
                image: b.image.clone(),
                related_images,
            }
        })
        .collect();
    kept.sort();
    kept
}
