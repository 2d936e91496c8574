//! The file-based catalog (FBC) model: packages, channels, bundles, deprecations.
//!
//! Every object keeps the raw `serde_json::Value` it was read from and is written back from it,
//! so unknown schemas and unknown fields travel untouched. The typed fields are views of the
//! raw value, refreshed whenever the raw value changes. No I/O here.

use std::collections::BTreeMap;

use serde_json::Value;

pub const SCHEMA_PACKAGE: &str = "olm.package";
pub const SCHEMA_CHANNEL: &str = "olm.channel";
pub const SCHEMA_BUNDLE: &str = "olm.bundle";
pub const SCHEMA_DEPRECATIONS: &str = "olm.deprecations";
/// The bundle property that carries the package name and the bundle version.
pub const PROPERTY_PACKAGE: &str = "olm.package";

/// A whole catalog: packages by name, plus objects that belong to no package.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub packages: BTreeMap<String, Package>,
    /// Objects of unknown schemas without a `package` field, in canonical order.
    pub unowned: Vec<Value>,
}

/// One operator package and everything that belongs to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub name: String,
    pub default_channel: Option<String>,
    /// The `olm.package` object.
    pub raw: Value,
    pub channels: BTreeMap<String, Channel>,
    pub bundles: BTreeMap<String, Bundle>,
    /// `olm.deprecations` objects for this package (OLM allows one; more are carried).
    pub deprecations: Vec<Value>,
    /// Objects of unknown schemas whose `package` field names this package, canonical order.
    pub others: Vec<Value>,
}

/// An `olm.channel` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub package: String,
    pub entries: Vec<ChannelEntry>,
    pub raw: Value,
}

/// One entry of a channel: a bundle name and its upgrade edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEntry {
    pub name: String,
    pub replaces: Option<String>,
    pub skips: Vec<String>,
    pub skip_range: Option<String>,
}

/// An `olm.bundle` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub name: String,
    pub package: String,
    /// The bundle image; empty when the catalog gives none.
    pub image: String,
    /// The version from the `olm.package` property, as written.
    pub version: Option<String>,
    pub related_images: Vec<RelatedImage>,
    pub raw: Value,
}

/// An entry of a bundle's `relatedImages`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelatedImage {
    pub name: String,
    pub image: String,
}

/// The string field `key` of a JSON object, if present and a string.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The canonical sort key of an object: schema, then name, then its JSON text.
pub(crate) fn object_key(value: &Value) -> (String, String, String) {
    (
        str_field(value, "schema").unwrap_or_default().to_string(),
        str_field(value, "name").unwrap_or_default().to_string(),
        value.to_string(),
    )
}

/// Sorts objects into canonical order (see [`object_key`]).
pub(crate) fn sort_objects(objects: &mut [Value]) {
    objects.sort_by_cached_key(object_key);
}

impl Channel {
    /// The entry named `name`.
    pub fn entry(&self, name: &str) -> Option<&ChannelEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Keeps only the entries whose name `keep` accepts, in the raw value and the typed view.
    pub fn retain_entries(&mut self, keep: impl Fn(&str) -> bool) {
        if let Some(Value::Array(entries)) = self.raw.get_mut("entries") {
            entries.retain(|e| str_field(e, "name").is_some_and(&keep));
        }
        self.entries.retain(|e| keep(&e.name));
    }
}

impl Package {
    /// Every object of the package (package, channels, bundles, deprecations, others) in
    /// canonical order: by schema, then name.
    pub fn objects(&self) -> Vec<&Value> {
        let mut all: Vec<&Value> = std::iter::once(&self.raw)
            .chain(self.channels.values().map(|c| &c.raw))
            .chain(self.bundles.values().map(|b| &b.raw))
            .chain(self.deprecations.iter())
            .chain(self.others.iter())
            .collect();
        all.sort_by_cached_key(|v| object_key(v));
        all
    }

    /// Sets `defaultChannel` in the raw object and the typed view.
    pub fn set_default_channel(&mut self, channel: &str) {
        if let Value::Object(map) = &mut self.raw {
            map.insert("defaultChannel".into(), Value::String(channel.to_string()));
        }
        self.default_channel = Some(channel.to_string());
    }
}

impl Catalog {
    /// Number of bundles over all packages.
    pub fn bundle_count(&self) -> usize {
        self.packages.values().map(|p| p.bundles.len()).sum()
    }

    /// The catalog as files relative to the configs directory: `<package>/catalog.json` per
    /// package and `_unowned/catalog.json` for objects of no package. Each file is a stream
    /// of pretty-printed JSON objects in canonical order; same model, same bytes.
    pub fn to_files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        for (name, package) in &self.packages {
            files.insert(
                format!("{name}/catalog.json"),
                json_stream(package.objects()),
            );
        }
        if !self.unowned.is_empty() {
            files.insert(
                "_unowned/catalog.json".to_string(),
                json_stream(self.unowned.iter().collect()),
            );
        }
        files
    }
}

fn json_stream(objects: Vec<&Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for object in objects {
        // Serialising a `Value` into a Vec cannot fail: keys are strings, numbers are finite.
        if serde_json::to_writer_pretty(&mut out, object).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
