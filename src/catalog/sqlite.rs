//! Package-manifest (SQLite) catalogs: the `index.db` of `opm registry` images (label
//! `operators.operatorframework.io.index.database.v1`), converted in memory to a file-based
//! catalog, so the same package, channel and version filters apply and the catalog is rebuilt
//! as an FBC image (what `opm migrate` does).
//!
//! Written here because no crate reads opm's schema; `rusqlite` (with SQLite bundled) reads the
//! file. The conversion reads, per opm's migrated schema: `package` (name, default channel),
//! `channel`, `channel_entry` (which bundles a channel holds), `operatorbundle` (bundle image,
//! version, replaces, skips, skipRange), `properties`, `dependencies` (as `olm.package.required`
//! and `olm.gvk.required`) and `related_image`. A database older than opm's migration that
//! added `replaces`/`skips` to `operatorbundle` is refused with the command that migrates it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

/// The label naming the database file of a package-manifest index image.
pub const DATABASE_LABEL: &str = "operators.operatorframework.io.index.database.v1";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SqliteError {
    #[error("cannot read the catalog database: {0}")]
    #[diagnostic(help("the index image's database is damaged or not an opm index.db"))]
    Sql(#[from] rusqlite::Error),
    #[error("the catalog database predates opm's schema with bundle `replaces`/`skips`")]
    #[diagnostic(help(
        "migrate it with `opm registry migrate` (or rebuild the index with a current opm), then mirror the new image"
    ))]
    OldSchema,
}

fn has_table(db: &Connection, table: &str) -> Result<bool, rusqlite::Error> {
    db.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn columns(db: &Connection, table: &str) -> Result<BTreeSet<String>, rusqlite::Error> {
    let mut stmt = db.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// Rows of a two- or three-column text query, NULLs as empty strings.
fn rows(db: &Connection, sql: &str, width: usize) -> Result<Vec<Vec<String>>, rusqlite::Error> {
    let mut stmt = db.prepare(sql)?;
    let out = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default))
                .collect::<Result<Vec<_>, _>>()
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// The file-based catalog of the database at `path`, as a JSON stream of FBC objects
/// (packages, channels, bundles), in a stable order.
pub fn to_fbc(path: &Path) -> Result<Vec<u8>, SqliteError> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let cols = columns(&db, "operatorbundle")?;
    if !cols.contains("replaces") || !cols.contains("skips") {
        return Err(SqliteError::OldSchema);
    }
    let mut objects: Vec<Value> = Vec::new();
    for p in rows(
        &db,
        "SELECT name, default_channel FROM package ORDER BY name",
        2,
    )? {
        objects.push(json!({"schema": "olm.package", "name": p[0], "defaultChannel": p[1]}));
    }
    // Which bundles each channel holds, and each bundle's package.
    let mut members: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut package_of: BTreeMap<String, String> = BTreeMap::new();
    for r in rows(
        &db,
        "SELECT DISTINCT ce.package_name, ce.channel_name, ce.operatorbundle_name
           FROM channel_entry ce JOIN operatorbundle ob ON ob.name = ce.operatorbundle_name
          ORDER BY 1, 2, 3",
        3,
    )? {
        package_of
            .entry(r[2].clone())
            .or_insert_with(|| r[0].clone());
        members
            .entry((r[0].clone(), r[1].clone()))
            .or_default()
            .insert(r[2].clone());
    }
    struct Row {
        image: String,
        version: String,
        skip_range: String,
        replaces: String,
        skips: Vec<String>,
    }
    let bundles: BTreeMap<String, Row> = rows(
        &db,
        "SELECT name, bundlepath, version, skiprange, replaces, skips FROM operatorbundle",
        6,
    )?
    .into_iter()
    .map(|r| {
        let skips = r[5]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let row = Row {
            image: r[1].clone(),
            version: r[2].clone(),
            skip_range: r[3].clone(),
            replaces: r[4].clone(),
            skips,
        };
        (r[0].clone(), row)
    })
    .collect();
    for ((package, channel), names) in &members {
        let entries: Vec<Value> = names
            .iter()
            .filter_map(|n| bundles.get(n).map(|b| (n, b)))
            .map(|(n, b)| {
                let mut e = serde_json::Map::new();
                e.insert("name".into(), json!(n));
                if !b.replaces.is_empty() && names.contains(&b.replaces) {
                    e.insert("replaces".into(), json!(b.replaces));
                }
                if !b.skips.is_empty() {
                    e.insert("skips".into(), json!(b.skips));
                }
                if !b.skip_range.is_empty() {
                    e.insert("skipRange".into(), json!(b.skip_range));
                }
                Value::Object(e)
            })
            .collect();
        objects.push(json!({"schema": "olm.channel", "package": package, "name": channel, "entries": entries}));
    }
    let mut properties: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    if has_table(&db, "properties")? {
        for r in rows(
            &db,
            "SELECT operatorbundle_name, type, value FROM properties ORDER BY 1, 2, 3",
            3,
        )? {
            let value = serde_json::from_str(&r[2]).unwrap_or(Value::String(r[2].clone()));
            properties
                .entry(r[0].clone())
                .or_default()
                .push(json!({"type": r[1], "value": value}));
        }
    }
    if has_table(&db, "dependencies")? {
        for r in rows(
            &db,
            "SELECT operatorbundle_name, type, value FROM dependencies ORDER BY 1, 2, 3",
            3,
        )? {
            let v: Value = serde_json::from_str(&r[2]).unwrap_or(Value::Null);
            let required = match r[1].as_str() {
                "olm.package" => json!({"type": "olm.package.required", "value": {
                    "packageName": v.get("packageName").cloned().unwrap_or_default(),
                    "versionRange": v.get("version").cloned().unwrap_or_default(),
                }}),
                "olm.gvk" => json!({"type": "olm.gvk.required", "value": v}),
                other => json!({"type": other, "value": v}),
            };
            properties.entry(r[0].clone()).or_default().push(required);
        }
    }
    let mut related: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rows(
        &db,
        "SELECT operatorbundle_name, image FROM related_image",
        2,
    )? {
        if !r[1].is_empty() {
            related
                .entry(r[0].clone())
                .or_default()
                .insert(r[1].clone());
        }
    }
    for (name, b) in &bundles {
        let Some(package) = package_of.get(name) else {
            // In no channel: not installable, not part of the catalog.
            continue;
        };
        let mut props = properties.remove(name).unwrap_or_default();
        if !props.iter().any(|p| p["type"] == "olm.package") {
            props.insert(
                0,
                json!({"type": "olm.package", "value": {"packageName": package, "version": b.version}}),
            );
        }
        let mut images = related.remove(name).unwrap_or_default();
        if !b.image.is_empty() {
            images.insert(b.image.clone());
        }
        let related_images: Vec<Value> = images
            .iter()
            .map(|i| json!({"name": "", "image": i}))
            .collect();
        objects.push(json!({
            "schema": "olm.bundle",
            "name": name,
            "package": package,
            "image": b.image,
            "properties": props,
            "relatedImages": related_images,
        }));
    }
    let mut out = Vec::new();
    for o in &objects {
        // Serialising a Value cannot fail.
        out.extend(serde_json::to_vec(o).unwrap_or_default());
        out.push(b'\n');
    }
    Ok(out)
}

/// opm's migrated index.db schema (the tables and columns the conversion reads), for tests and
/// fixtures that build a package-manifest catalog.
pub const FIXTURE_SCHEMA: &str = "
CREATE TABLE operatorbundle (name TEXT PRIMARY KEY, csv TEXT, bundle TEXT, bundlepath TEXT,
    skiprange TEXT, version TEXT, replaces TEXT, skips TEXT, substitutesfor TEXT);
CREATE TABLE package (name TEXT PRIMARY KEY, default_channel TEXT, add_mode TEXT);
CREATE TABLE channel (name TEXT, package_name TEXT, head_operatorbundle_name TEXT,
    PRIMARY KEY(name, package_name));
CREATE TABLE channel_entry (entry_id INTEGER PRIMARY KEY, channel_name TEXT, package_name TEXT,
    operatorbundle_name TEXT, replaces INTEGER, depth INTEGER);
CREATE TABLE related_image (image TEXT, operatorbundle_name TEXT);
CREATE TABLE properties (type TEXT, value TEXT, operatorbundle_name TEXT,
    operatorbundle_version TEXT, operatorbundle_path TEXT);
CREATE TABLE dependencies (type TEXT, value TEXT, operatorbundle_name TEXT,
    operatorbundle_version TEXT, operatorbundle_path TEXT);
CREATE TABLE api (group_name TEXT, version TEXT, kind TEXT, plural TEXT);
CREATE TABLE api_provider (group_name TEXT, version TEXT, kind TEXT, operatorbundle_name TEXT,
    operatorbundle_version TEXT, operatorbundle_path TEXT);
CREATE TABLE api_requirer (group_name TEXT, version TEXT, kind TEXT, operatorbundle_name TEXT,
    operatorbundle_version TEXT, operatorbundle_path TEXT);
CREATE TABLE deprecated (operatorbundle_name TEXT PRIMARY KEY);
";

#[cfg(test)]
mod tests {
    use super::*;

    /// `db`: package `etcd` (default `alpha`): 0.9.0 ← 0.9.2 (skips 0.9.1) in alpha, 0.9.2 in
    /// `stable`; 0.9.2 requires package `prometheus` >=0.14.0; an old-schema database.
    fn db(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("index.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(FIXTURE_SCHEMA).unwrap();
        c.execute_batch(
            "INSERT INTO package VALUES ('etcd', 'alpha', NULL);
             INSERT INTO channel VALUES ('alpha', 'etcd', 'etcdoperator.v0.9.2'), ('stable', 'etcd', 'etcdoperator.v0.9.2');
             INSERT INTO operatorbundle VALUES
               ('etcdoperator.v0.9.0', '{}', '', 'quay.io/etcd/bundle:0.9.0', '', '0.9.0', '', '', ''),
               ('etcdoperator.v0.9.2', '{}', '', 'quay.io/etcd/bundle:0.9.2', '>=0.9.0 <0.9.2', '0.9.2', 'etcdoperator.v0.9.0', 'etcdoperator.v0.9.1', '');
             INSERT INTO channel_entry VALUES
               (1, 'alpha', 'etcd', 'etcdoperator.v0.9.2', 2, 0),
               (2, 'alpha', 'etcd', 'etcdoperator.v0.9.0', NULL, 1),
               (3, 'stable', 'etcd', 'etcdoperator.v0.9.2', NULL, 0);
             INSERT INTO related_image VALUES ('quay.io/etcd/operator@sha256:abc', 'etcdoperator.v0.9.2'), ('', 'etcdoperator.v0.9.0');
             INSERT INTO properties VALUES ('olm.gvk', '{\"group\":\"etcd.database.coreos.com\",\"kind\":\"EtcdCluster\",\"version\":\"v1beta2\"}', 'etcdoperator.v0.9.2', '0.9.2', '');
             INSERT INTO dependencies VALUES ('olm.package', '{\"packageName\":\"prometheus\",\"version\":\">=0.14.0\"}', 'etcdoperator.v0.9.2', '0.9.2', '');",
        )
        .unwrap();
        path
    }

    #[test]
    fn an_index_db_becomes_a_file_based_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let fbc = to_fbc(&db(dir.path())).unwrap();
        let catalog = super::super::parse_catalog(&BTreeMap::from([(
            std::path::PathBuf::from("c.json"),
            fbc.clone(),
        )]))
        .unwrap();
        let etcd = &catalog.packages["etcd"];
        assert_eq!(etcd.default_channel.as_deref(), Some("alpha"));
        let alpha = &etcd.channels["alpha"];
        let e = alpha.entry("etcdoperator.v0.9.2").unwrap();
        assert_eq!(e.replaces.as_deref(), Some("etcdoperator.v0.9.0"));
        assert_eq!(e.skips, ["etcdoperator.v0.9.1"]);
        assert_eq!(e.skip_range.as_deref(), Some(">=0.9.0 <0.9.2"));
        // In `stable` 0.9.0 is not a member: no replaces edge to it.
        assert_eq!(
            etcd.channels["stable"]
                .entry("etcdoperator.v0.9.2")
                .unwrap()
                .replaces,
            None
        );
        let b = &etcd.bundles["etcdoperator.v0.9.2"];
        assert_eq!(b.image, "quay.io/etcd/bundle:0.9.2");
        assert_eq!(b.version.as_deref(), Some("0.9.2"));
        let images: Vec<&str> = b.related_images.iter().map(|r| r.image.as_str()).collect();
        assert_eq!(
            images,
            [
                "quay.io/etcd/bundle:0.9.2",
                "quay.io/etcd/operator@sha256:abc"
            ]
        );
        let text = String::from_utf8(fbc.clone()).unwrap();
        assert!(text.contains(r#""type":"olm.package.required","value":{"packageName":"prometheus","versionRange":">=0.14.0"}"#), "{text}");
        assert!(text.contains(r#""type":"olm.gvk""#), "{text}");
        // The same bytes every time.
        assert_eq!(
            to_fbc(&db(tempfile::tempdir().unwrap().path())).unwrap(),
            fbc
        );
        // An old schema is refused with the way out.
        let old = dir.path().join("old.db");
        let c = Connection::open(&old).unwrap();
        c.execute_batch("CREATE TABLE operatorbundle (name TEXT, csv TEXT, bundle TEXT, bundlepath TEXT, version TEXT, skiprange TEXT);").unwrap();
        drop(c);
        let e = to_fbc(&old).unwrap_err();
        assert!(matches!(e, SqliteError::OldSchema));
    }
}
