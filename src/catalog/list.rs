//! `airlift list operators` output, like `oc mirror list operators --catalog X [--package P]`:
//! a table of packages with their default channel, or of one package's channels and heads.
//!
//! Pure text rendering of a parsed [`Catalog`]; the CLI fetches the catalog.

use super::error::{FilterError, did_you_mean};
use super::fbc::{Catalog, Package, str_field};
use super::graph::ChannelGraph;

/// The bundle property holding CSV metadata such as `displayName`.
const PROPERTY_CSV_METADATA: &str = "olm.csv.metadata";

/// Renders rows as left-aligned columns separated by two spaces; no trailing spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The head of `channel`: its bundle name and version, or `?` when the graph has no single head.
fn head_of(package: &Package, channel: &str) -> (String, String) {
    let unknown = || ("?".to_string(), "?".to_string());
    let Some(ch) = package.channels.get(channel) else {
        return unknown();
    };
    let Ok(graph) = ChannelGraph::build(package, ch) else {
        return unknown();
    };
    match graph.head() {
        Ok(i) => {
            let name = graph.names[i].to_string();
            let version = graph.versions[i]
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            (name, version)
        }
        Err(_) => unknown(),
    }
}

/// The display name from the default channel head's `olm.csv.metadata` property.
fn display_name(package: &Package) -> String {
    let Some(default) = &package.default_channel else {
        return String::new();
    };
    let (head, _) = head_of(package, default);
    package
        .bundles
        .get(&head)
        .and_then(|b| b.raw.get("properties"))
        .and_then(|p| p.as_array())
        .and_then(|props| {
            props
                .iter()
                .find(|p| str_field(p, "type") == Some(PROPERTY_CSV_METADATA))
        })
        .and_then(|p| p.get("value"))
        .and_then(|v| str_field(v, "displayName"))
        .unwrap_or_default()
        .to_string()
}

fn package_row(package: &Package) -> Vec<String> {
    vec![
        package.name.clone(),
        display_name(package),
        package.default_channel.clone().unwrap_or_default(),
    ]
}

const PACKAGE_HEADER: [&str; 3] = ["NAME", "DISPLAY NAME", "DEFAULT CHANNEL"];

/// Every package with its display name and default channel, sorted by name.
pub fn render_packages(catalog: &Catalog) -> String {
    let rows: Vec<Vec<String>> = catalog.packages.values().map(package_row).collect();
    table(&PACKAGE_HEADER, &rows)
}

/// One package: its default channel, then each channel with its head bundle and version.
pub fn render_package(
    catalog_name: &str,
    catalog: &Catalog,
    package: &str,
) -> Result<String, FilterError> {
    let p = find_package(catalog_name, catalog, package)?;
    let mut out = table(&PACKAGE_HEADER, &[package_row(p)]);
    out.push('\n');
    let rows: Vec<Vec<String>> = p
        .channels
        .keys()
        .map(|channel| {
            let (head, version) = head_of(p, channel);
            vec![p.name.clone(), channel.clone(), head, version]
        })
        .collect();
    out.push_str(&table(&["PACKAGE", "CHANNEL", "HEAD", "VERSION"], &rows));
    Ok(out)
}

/// The package `name` of the catalog, or an error with a did-you-mean.
fn find_package<'c>(
    catalog_name: &str,
    catalog: &'c Catalog,
    name: &str,
) -> Result<&'c Package, FilterError> {
    catalog
        .packages
        .get(name)
        .ok_or_else(|| FilterError::UnknownPackage {
            catalog: catalog_name.to_string(),
            name: name.to_string(),
            help: did_you_mean("package", name, catalog.packages.keys().map(String::as_str)),
        })
}

/// `list bundles`: every bundle of `package` per channel (or of `channel` only), oldest first
/// by version, with the channel head and the default channel marked.
pub fn render_bundles(
    catalog_name: &str,
    catalog: &Catalog,
    package: &str,
    channel: Option<&str>,
) -> Result<String, FilterError> {
    let p = find_package(catalog_name, catalog, package)?;
    if let Some(c) = channel
        && !p.channels.contains_key(c)
    {
        return Err(FilterError::UnknownChannel {
            catalog: catalog_name.to_string(),
            package: package.to_string(),
            name: c.to_string(),
            help: did_you_mean("channel", c, p.channels.keys().map(String::as_str)),
        });
    }
    let default = p.default_channel.as_deref().unwrap_or_default();
    let mut rows = Vec::new();
    for (name, ch) in p
        .channels
        .iter()
        .filter(|(n, _)| channel.is_none_or(|c| c == *n))
    {
        let (head, _) = head_of(p, name);
        let mut entries: Vec<(Option<semver::Version>, &str)> = ch
            .entries
            .iter()
            .map(|e| {
                let v = p
                    .bundles
                    .get(&e.name)
                    .and_then(|b| b.version.as_deref())
                    .and_then(|v| super::parse_version(v).ok());
                (v, e.name.as_str())
            })
            .collect();
        entries.sort();
        for (version, bundle) in entries {
            let mut marks = Vec::new();
            if bundle == head {
                marks.push("head");
            }
            if name == default {
                marks.push("default channel");
            }
            rows.push(vec![
                name.clone(),
                bundle.to_string(),
                version.map(|v| v.to_string()).unwrap_or_default(),
                marks.join(", "),
            ]);
        }
    }
    Ok(table(&["CHANNEL", "BUNDLE", "VERSION", ""], &rows)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}
