//! `cs-<repo>-<suffix>` CatalogSource (`operators.coreos.com/v1alpha1`, OLM v0) and
//! `cc-<repo>-<suffix>` ClusterCatalog (`olm.operatorframework.io/v1`, OLM v1) for every
//! rebuilt catalog a target holds.
//!
//! Naming follows oc-mirror v2: `<repo>` is the last path component of the mirrored catalog
//! repository; `<suffix>` is its tag (at most 12 characters) lowercased with every character
//! outside `[a-z0-9-]` replaced by `-`, or the first 12 hex digits of the digest for a catalog
//! mirrored without a tag; `.` becomes `-`. `image` / `image.ref` is the mirrored catalog by tag,
//! as oc-mirror v2 writes it, so `registryPoll` picks up later rebuilds.
//!
//! A `catalog-source-template` is merged: `metadata.name`, `metadata.namespace`,
//! `spec.sourceType` and `spec.image` are ours, everything else in the template is kept.
//! Pure: template text in, YAML out. No I/O.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::model::ResourceOptions;
use super::yaml::{metadata, to_yaml};
use crate::oci::ImageRef;

const CS_API_VERSION: &str = "operators.coreos.com/v1alpha1";
const CC_API_VERSION: &str = "olm.operatorframework.io/v1";
/// Namespace of every generated CatalogSource.
pub const CATALOG_SOURCE_NAMESPACE: &str = "openshift-marketplace";
/// oc-mirror v2's truncation of tags and digests in names.
const SUFFIX_LEN: usize = 12;

/// A rebuilt catalog a target holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirroredCatalog {
    /// The mirrored catalog (`<mirror>/<path>:<tag>`, or by digest).
    pub image: ImageRef,
    /// `(file name as written in the recipe, its text)` of the `catalog-source-template`.
    pub template: Option<(String, String)>,
}

/// Rendering the catalog resources failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum CatalogSourceError {
    #[error("catalog-source-template `{file}`: {reason}")]
    #[diagnostic(
        code(airlift::resources::catalog_source_template),
        help(
            "the template must be a YAML CatalogSource (apiVersion operators.coreos.com/v1alpha1, kind CatalogSource, sourceType grpc or unset, no configMap); fix the file or drop `catalog-source-template`"
        )
    )]
    Template { file: String, reason: String },
    #[error("`{name}` (for {image}) is not a valid object name")]
    #[diagnostic(
        code(airlift::resources::catalog_name),
        help("use `rename \"path\" tag=\"…\"` on the catalog to give it a shorter, simpler name")
    )]
    Name { name: String, image: String },
    #[error("could not write YAML for `{file}`: {message}")]
    #[diagnostic(
        code(airlift::resources::yaml),
        help("this is a bug in airlift; please report it")
    )]
    Yaml { file: String, message: String },
}

/// `(cs-<repo>-<suffix>, cc-<repo>-<suffix>)` of a mirrored catalog.
pub fn catalog_resource_names(image: &ImageRef) -> (String, String) {
    let repo = image.path().rsplit('/').next().unwrap_or_default();
    let suffix: String = match (image.tag(), image.digest()) {
        (Some(t), _) => t.chars().take(SUFFIX_LEN).map(rfc1035).collect(),
        (None, Some(d)) => d.hex().chars().take(SUFFIX_LEN).collect(),
        (None, None) => String::new(),
    };
    let suffix = if suffix.is_empty() {
        "0".to_string()
    } else {
        suffix
    };
    let name = |prefix: &str| format!("{prefix}-{repo}-{suffix}").replace('.', "-");
    (name("cs"), name("cc"))
}

fn rfc1035(c: char) -> char {
    let c = c.to_ascii_lowercase();
    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
        c
    } else {
        '-'
    }
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, alphanumeric at both ends, ≤ 63.
fn valid_label(name: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= 63
        && name.chars().all(ok_char)
        && alnum(name.chars().next())
        && alnum(name.chars().last())
}

/// `(file name, YAML)` of the CatalogSource and ClusterCatalog of every catalog, sorted by file
/// name. Two catalogs with the same names are an error naming both images.
pub fn render_catalog_sources(
    catalogs: &[MirroredCatalog],
    opts: &ResourceOptions,
) -> Result<BTreeMap<String, String>, CatalogSourceError> {
    let mut out = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for c in catalogs {
        let (cs, cc) = catalog_resource_names(&c.image);
        let image = c.image.to_string();
        if !valid_label(&cs) {
            return Err(CatalogSourceError::Name { name: cs, image });
        }
        if let Some(other) = owners.insert(cs.clone(), image.clone())
            && other != image
        {
            return Err(CatalogSourceError::Name {
                name: format!("{cs} (also the name of {other})"),
                image,
            });
        }
        let cs_file = format!("{cs}.yaml");
        let doc = catalog_source(&cs, &c.image, c.template.as_ref(), opts)?;
        out.insert(cs_file.clone(), yaml(&cs_file, &doc)?);
        let cc_file = format!("{cc}.yaml");
        let doc = cluster_catalog(&cc, &c.image, opts);
        out.insert(cc_file.clone(), yaml(&cc_file, &doc)?);
    }
    Ok(out)
}

fn yaml(file: &str, doc: &Value) -> Result<String, CatalogSourceError> {
    to_yaml(file, doc).map_err(|e| CatalogSourceError::Yaml {
        file: file.to_string(),
        message: e.to_string(),
    })
}

fn annotations(name: &str, opts: &ResourceOptions) -> Map<String, Value> {
    metadata(name, opts)
        .annotations
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn catalog_source(
    name: &str,
    image: &ImageRef,
    template: Option<&(String, String)>,
    opts: &ResourceOptions,
) -> Result<Value, CatalogSourceError> {
    let mut doc = match template {
        Some((file, text)) => parse_template(file, text)?,
        None => json!({}),
    };
    let Value::Object(top) = &mut doc else {
        return Ok(doc);
    };
    top.insert("apiVersion".into(), json!(CS_API_VERSION));
    top.insert("kind".into(), json!("CatalogSource"));
    let mut meta = take_object(top, "metadata");
    meta.insert("name".into(), json!(name));
    meta.insert("namespace".into(), json!(CATALOG_SOURCE_NAMESPACE));
    let mut notes = take_object(&mut meta, "annotations");
    notes.extend(annotations(name, opts));
    meta.insert("annotations".into(), Value::Object(notes));
    top.insert("metadata".into(), Value::Object(meta));
    let mut spec = take_object(top, "spec");
    spec.insert("sourceType".into(), json!("grpc"));
    spec.insert("image".into(), json!(image.to_string()));
    top.insert("spec".into(), Value::Object(spec));
    Ok(doc)
}

/// Removes and returns the object at `key` (empty when absent or not an object).
fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn parse_template(file: &str, text: &str) -> Result<Value, CatalogSourceError> {
    let bad = |reason: String| CatalogSourceError::Template {
        file: file.to_string(),
        reason,
    };
    let doc: Value =
        serde_saphyr::from_str(text).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let Value::Object(top) = &doc else {
        return Err(bad("not a YAML mapping".into()));
    };
    let field = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    match field(top.get("apiVersion")) {
        Some(v) if v != CS_API_VERSION => {
            return Err(bad(format!(
                "apiVersion is `{v}`, expected `{CS_API_VERSION}`"
            )));
        }
        _ => {}
    }
    match field(top.get("kind")) {
        Some(k) if k != "CatalogSource" => {
            return Err(bad(format!("kind is `{k}`, expected `CatalogSource`")));
        }
        _ => {}
    }
    let spec = top.get("spec");
    if spec.is_some_and(|s| !s.is_object() && !s.is_null()) {
        return Err(bad("`spec` is not a mapping".into()));
    }
    match field(spec.and_then(|s| s.get("sourceType"))) {
        Some(t) if t != "grpc" => {
            return Err(bad(format!("spec.sourceType is `{t}`, expected `grpc`")));
        }
        _ => {}
    }
    if spec.and_then(|s| s.get("configMap")).is_some() {
        return Err(bad("spec.configMap is set; a grpc catalog has none".into()));
    }
    if top
        .get("metadata")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(bad("`metadata` is not a mapping".into()));
    }
    Ok(doc)
}

fn cluster_catalog(name: &str, image: &ImageRef, opts: &ResourceOptions) -> Value {
    json!({
        "apiVersion": CC_API_VERSION,
        "kind": "ClusterCatalog",
        "metadata": {"annotations": annotations(name, opts), "name": name},
        "spec": {"source": {"image": {"ref": image.to_string()}, "type": "Image"}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> ImageRef {
        s.parse().expect("reference")
    }

    #[test]
    fn names_follow_oc_mirror_v2() {
        let (cs, cc) = catalog_resource_names(&r(
            "mirror.example:5000/mirror/redhat/redhat-operator-index:v4.15",
        ));
        assert_eq!(cs, "cs-redhat-operator-index-v4-15");
        assert_eq!(cc, "cc-redhat-operator-index-v4-15");
        let (cs, _) = catalog_resource_names(&r(
            "m.example/x/index@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ));
        assert_eq!(cs, "cs-index-0123456789ab");
        let (cs, _) = catalog_resource_names(&r("m.example/x/index:V1_Long.Tag.Beyond12"));
        assert_eq!(cs, "cs-index-v1-long-tag-");
        assert!(!valid_label(&cs));
    }

    #[test]
    fn template_errors_name_the_file() {
        let e = parse_template("t.yaml", "kind: Pod\n").unwrap_err();
        assert!(e.to_string().contains("t.yaml"), "{e}");
        assert!(parse_template("t.yaml", "spec:\n  sourceType: configmap\n").is_err());
        assert!(parse_template("t.yaml", "spec:\n  configMap: x\n").is_err());
        assert!(parse_template("t.yaml", "- a\n").is_err());
    }
}
