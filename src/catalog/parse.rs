//! Reading a file-based catalog: JSON streams and multi-document YAML into the [`Catalog`]
//! model, files parsed in parallel with rayon.
//!
//! Input is a map of relative paths to bytes (from a directory, or from image layers via
//! `tarball.rs`); the only filesystem access is [`read_configs_dir`]. Files that are not
//! `.json`, `.yaml` or `.yml` are ignored, as `opm` ignores them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use super::error::{ObjectAt, ParseError};
use super::fbc::{
    Bundle, Catalog, Channel, ChannelEntry, PROPERTY_PACKAGE, Package, RelatedImage, SCHEMA_BUNDLE,
    SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS, SCHEMA_PACKAGE, sort_objects, str_field,
};

/// One object read from a file, classified by schema.
enum Item {
    Package(Package),
    Channel(Channel),
    Bundle(Bundle),
    Deprecations(String, Value),
    Other(Option<String>, Value),
}

/// Reads every catalog file under `dir` (recursively) into a map keyed by relative path.
pub fn read_configs_dir(dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>, ParseError> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let read_err = |source| ParseError::Read {
            file: current.display().to_string(),
            source,
        };
        for entry in std::fs::read_dir(&current).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let path = entry.path();
            let kind = entry.file_type().map_err(read_err)?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && format_of(&path).is_some() {
                let bytes = std::fs::read(&path).map_err(|source| ParseError::Read {
                    file: path.display().to_string(),
                    source,
                })?;
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                files.insert(relative, bytes);
            }
        }
    }
    Ok(files)
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Yaml,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some(Format::Json),
        Some("yaml" | "yml") => Some(Format::Yaml),
        _ => None,
    }
}

/// Parses a configs directory given as files (relative path → bytes) into a [`Catalog`].
pub fn parse_catalog(files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<Catalog, ParseError> {
    let parsed: Vec<Vec<(ObjectAt, Item)>> = files
        .par_iter()
        .filter_map(|(path, bytes)| format_of(path).map(|f| (path, bytes, f)))
        .map(|(path, bytes, format)| parse_file(path, bytes, format))
        .collect::<Result<_, _>>()?;
    assemble(parsed.into_iter().flatten())
}

fn parse_file(
    path: &Path,
    bytes: &[u8],
    format: Format,
) -> Result<Vec<(ObjectAt, Item)>, ParseError> {
    let values = match format {
        Format::Json => json_stream(path, bytes)?,
        Format::Yaml => yaml_documents(path, bytes)?,
    };
    values
        .into_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_null())
        .map(|(i, value)| {
            let at = ObjectAt {
                file: path.to_path_buf(),
                index: i + 1,
                schema: str_field(&value, "schema").map(str::to_string),
                name: str_field(&value, "name").map(str::to_string),
            };
            let item = classify(&at, value)?;
            Ok((at, item))
        })
        .collect()
}

fn json_stream(path: &Path, bytes: &[u8]) -> Result<Vec<Value>, ParseError> {
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
        let value = value.map_err(|e| ParseError::Syntax {
            file: path.display().to_string(),
            format: "JSON",
            after: values.len(),
            reason: e.to_string(),
        })?;
        values.push(value);
    }
    Ok(values)
}

fn yaml_documents(path: &Path, bytes: &[u8]) -> Result<Vec<Value>, ParseError> {
    let syntax = |reason: String| ParseError::Syntax {
        file: path.display().to_string(),
        format: "YAML",
        after: 0,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| syntax(e.to_string()))?;
    serde_saphyr::from_multiple::<Value>(text).map_err(|e| syntax(e.to_string()))
}

fn object_error(at: &ObjectAt, reason: impl Into<String>) -> ParseError {
    ParseError::Object {
        at: Box::new(at.clone()),
        reason: reason.into(),
    }
}

fn required<'a>(at: &ObjectAt, value: &'a Value, key: &str) -> Result<&'a str, ParseError> {
    match value.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(object_error(
            at,
            format!("`{key}` must be a non-empty string"),
        )),
        None => Err(object_error(at, format!("missing `{key}`"))),
    }
}

fn optional_str(at: &ObjectAt, value: &Value, key: &str) -> Result<Option<String>, ParseError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(object_error(at, format!("`{key}` must be a string"))),
    }
}

fn classify(at: &ObjectAt, value: Value) -> Result<Item, ParseError> {
    if !value.is_object() {
        return Err(object_error(at, "expected an object with a `schema` field"));
    }
    let schema = required(at, &value, "schema")?;
    Ok(match schema {
        SCHEMA_PACKAGE => Item::Package(package_of(at, value)?),
        SCHEMA_CHANNEL => Item::Channel(channel_of(at, value)?),
        SCHEMA_BUNDLE => Item::Bundle(bundle_of(at, value)?),
        SCHEMA_DEPRECATIONS => Item::Deprecations(required(at, &value, "package")?.into(), value),
        _ => Item::Other(str_field(&value, "package").map(str::to_string), value),
    })
}

fn package_of(at: &ObjectAt, raw: Value) -> Result<Package, ParseError> {
    Ok(Package {
        name: required(at, &raw, "name")?.to_string(),
        default_channel: optional_str(at, &raw, "defaultChannel")?,
        channels: BTreeMap::new(),
        bundles: BTreeMap::new(),
        deprecations: Vec::new(),
        others: Vec::new(),
        raw,
    })
}

/// Builds the typed view of an `olm.channel` object (also used after filtering rewrote it).
pub(crate) fn channel_of(at: &ObjectAt, raw: Value) -> Result<Channel, ParseError> {
    let name = required(at, &raw, "name")?.to_string();
    let package = required(at, &raw, "package")?.to_string();
    let entries = match raw.get("entries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, e)| entry_of(at, i, e))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(object_error(at, "`entries` must be a list")),
    };
    Ok(Channel {
        name,
        package,
        entries,
        raw,
    })
}

fn entry_of(at: &ObjectAt, i: usize, e: &Value) -> Result<ChannelEntry, ParseError> {
    let bad = |what: &str| object_error(at, format!("entries[{i}]: {what}"));
    let name = match e.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(bad("missing `name`")),
    };
    let skips = match e.get("skips") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("`skips` must be a list of strings"))?,
        Some(_) => return Err(bad("`skips` must be a list of strings")),
    };
    let text = |key: &str| match e.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(&format!("`{key}` must be a string"))),
    };
    Ok(ChannelEntry {
        replaces: text("replaces")?,
        skip_range: text("skipRange")?,
        skips,
        name,
    })
}

fn bundle_of(at: &ObjectAt, raw: Value) -> Result<Bundle, ParseError> {
    let name = required(at, &raw, "name")?.to_string();
    let package = required(at, &raw, "package")?.to_string();
    let image = optional_str(at, &raw, "image")?.unwrap_or_default();
    let version = match raw.get("properties") {
        Some(Value::Array(props)) => props
            .iter()
            .find(|p| str_field(p, "type") == Some(PROPERTY_PACKAGE))
            .and_then(|p| p.get("value"))
            .and_then(|v| str_field(v, "version"))
            .map(str::to_string),
        None | Some(Value::Null) => None,
        Some(_) => return Err(object_error(at, "`properties` must be a list")),
    };
    let related_images = match raw.get("relatedImages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, r)| match str_field(r, "image") {
                Some(image) => Ok(RelatedImage {
                    name: str_field(r, "name").unwrap_or_default().to_string(),
                    image: image.to_string(),
                }),
                None => Err(object_error(
                    at,
                    format!("relatedImages[{i}]: missing `image`"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(object_error(at, "`relatedImages` must be a list")),
    };
    Ok(Bundle {
        name,
        package,
        image,
        version,
        related_images,
        raw,
    })
}

fn duplicate(at: ObjectAt, schema: &'static str, name: String, first: &ObjectAt) -> ParseError {
    ParseError::Duplicate {
        at: Box::new(at),
        schema,
        name,
        first: first.to_string(),
    }
}

/// Groups classified objects into packages, checking duplicates and orphans.
fn assemble(items: impl Iterator<Item = (ObjectAt, Item)>) -> Result<Catalog, ParseError> {
    let mut packages: BTreeMap<String, (ObjectAt, Package)> = BTreeMap::new();
    let mut channels: BTreeMap<(String, String), (ObjectAt, Channel)> = BTreeMap::new();
    let mut bundles: BTreeMap<(String, String), (ObjectAt, Bundle)> = BTreeMap::new();
    let mut deprecations = Vec::new();
    let mut others = Vec::new();
    for (at, item) in items {
        match item {
            Item::Package(p) => {
                if let Some((first, _)) = packages.get(&p.name) {
                    return Err(duplicate(at.clone(), SCHEMA_PACKAGE, p.name, first));
                }
                packages.insert(p.name.clone(), (at, p));
            }
            Item::Channel(c) => {
                let key = (c.package.clone(), c.name.clone());
                if let Some((first, _)) = channels.get(&key) {
                    return Err(duplicate(at.clone(), SCHEMA_CHANNEL, c.name, first));
                }
                channels.insert(key, (at, c));
            }
            Item::Bundle(b) => {
                let key = (b.package.clone(), b.name.clone());
                if let Some((first, _)) = bundles.get(&key) {
                    return Err(duplicate(at.clone(), SCHEMA_BUNDLE, b.name, first));
                }
                bundles.insert(key, (at, b));
            }
            Item::Deprecations(pkg, v) => deprecations.push((at, pkg, v)),
            Item::Other(pkg, v) => others.push((pkg, v)),
        }
    }
    let orphan = |at: ObjectAt, package: String| ParseError::Orphan {
        at: Box::new(at),
        package,
    };
    for ((pkg, name), (at, channel)) in channels {
        match packages.get_mut(&pkg) {
            Some((_, p)) => p.channels.insert(name, channel),
            None => return Err(orphan(at, pkg)),
        };
    }
    for ((pkg, name), (at, bundle)) in bundles {
        match packages.get_mut(&pkg) {
            Some((_, p)) => p.bundles.insert(name, bundle),
            None => return Err(orphan(at, pkg)),
        };
    }
    for (at, pkg, value) in deprecations {
        match packages.get_mut(&pkg) {
            Some((_, p)) => p.deprecations.push(value),
            None => return Err(orphan(at, pkg)),
        }
    }
    let mut unowned = Vec::new();
    for (pkg, value) in others {
        match pkg.and_then(|name| packages.get_mut(&name)) {
            Some((_, p)) => p.others.push(value),
            None => unowned.push(value),
        }
    }
    sort_objects(&mut unowned);
    let packages = packages
        .into_iter()
        .map(|(name, (_, mut p))| {
            sort_objects(&mut p.deprecations);
            sort_objects(&mut p.others);
            (name, p)
        })
        .collect();
    Ok(Catalog { packages, unowned })
}
