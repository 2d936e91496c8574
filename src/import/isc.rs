//! The shape of oc-mirror's ImageSetConfiguration and DeleteImageSetConfiguration
//! (`mirror.openshift.io/v1alpha2` and `v2alpha1`), as serde structs whose fields keep their YAML
//! locations, so every warning and error can name its line.
//!
//! Every field either version defines is here. The fields airlift cannot carry over are read as
//! raw values too, so the import can say what it dropped. Keys neither version defines are found
//! by [`unknown_keys`].

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

pub type S<T> = Option<Spanned<T>>;

/// The top of either kind.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Doc {
    pub api_version: S<String>,
    pub kind: S<String>,
    pub archive_size: S<Value>,
    pub storage_config: S<Value>,
    pub mirror: S<Content>,
    pub delete: S<Content>,
}

/// `mirror:` or `delete:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub platform: S<Platform>,
    #[serde(default)]
    pub operators: Vec<Spanned<Operator>>,
    #[serde(default)]
    pub additional_images: Vec<Spanned<Image>>,
    #[serde(default)]
    pub blocked_images: Vec<Spanned<Image>>,
    pub helm: S<Helm>,
    pub samples: S<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub graph: S<bool>,
    #[serde(default)]
    pub channels: Vec<Spanned<Channel>>,
    #[serde(default)]
    pub architectures: Vec<Spanned<String>>,
    pub release: S<String>,
    pub kube_virt_container: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub min_version: S<Value>,
    pub max_version: S<Value>,
    pub shortest_path: S<bool>,
    pub full: S<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    pub catalog: S<String>,
    pub target_catalog: S<String>,
    pub target_tag: S<Value>,
    /// v1alpha2, deprecated for `targetCatalog`: the catalog's image name.
    pub target_name: S<String>,
    pub full: S<bool>,
    pub skip_dependencies: S<bool>,
    pub target_catalog_source_template: S<String>,
    /// v1alpha2.
    pub original_ref: S<Value>,
    #[serde(default)]
    pub packages: Vec<Spanned<Package>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub name: S<String>,
    #[serde(default)]
    pub channels: Vec<Spanned<PackageChannel>>,
    #[serde(default)]
    pub bundles: Vec<Spanned<Named>>,
    pub default_channel: S<String>,
    pub min_version: S<Value>,
    pub max_version: S<Value>,
    /// v1alpha2.
    pub min_bundle: S<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageChannel {
    pub name: S<String>,
    pub min_version: S<Value>,
    pub max_version: S<Value>,
    /// v1alpha2.
    pub min_bundle: S<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    pub name: S<String>,
}

#[derive(Debug, Deserialize)]
pub struct Image {
    pub name: S<String>,
}

#[derive(Debug, Deserialize)]
pub struct Helm {
    #[serde(default)]
    pub repositories: Vec<Spanned<HelmRepository>>,
    #[serde(default)]
    pub local: Vec<Spanned<HelmChart>>,
}

#[derive(Debug, Deserialize)]
pub struct HelmRepository {
    pub name: S<String>,
    pub url: S<String>,
    #[serde(default)]
    pub charts: Vec<Spanned<HelmChart>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChart {
    pub name: S<String>,
    pub version: S<Value>,
    pub path: S<String>,
    pub image_paths: S<Value>,
    pub values: S<Value>,
}

/// The keys each kind of map may hold; anything else is reported as unknown.
fn known(kind: &str) -> &'static [&'static str] {
    match kind {
        "root" => &[
            "apiVersion",
            "kind",
            "archiveSize",
            "storageConfig",
            "mirror",
            "delete",
            "metadata",
        ],
        "content" => &[
            "platform",
            "operators",
            "additionalImages",
            "blockedImages",
            "helm",
            "samples",
        ],
        "platform" => &[
            "graph",
            "channels",
            "architectures",
            "release",
            "kubeVirtContainer",
        ],
        "channel" => &[
            "name",
            "type",
            "minVersion",
            "maxVersion",
            "shortestPath",
            "full",
        ],
        "operator" => &[
            "catalog",
            "targetCatalog",
            "targetTag",
            "targetName",
            "full",
            "skipDependencies",
            "targetCatalogSourceTemplate",
            "originalRef",
            "packages",
        ],
        "package" => &[
            "name",
            "channels",
            "bundles",
            "defaultChannel",
            "minVersion",
            "maxVersion",
            "minBundle",
        ],
        "package-channel" => &["name", "minVersion", "maxVersion", "minBundle"],
        "named" => &["name"],
        "helm" => &["repositories", "local"],
        "repository" => &["name", "url", "charts"],
        "chart" => &["name", "version", "path", "imagePaths", "values"],
        _ => &[],
    }
}

/// What the children of a key of a map of `kind` are: (kind of the value, is it a list).
fn child(kind: &str, key: &str) -> Option<(&'static str, bool)> {
    Some(match (kind, key) {
        ("root", "mirror" | "delete") => ("content", false),
        ("content", "platform") => ("platform", false),
        ("content", "operators") => ("operator", true),
        ("content", "additionalImages" | "blockedImages") => ("named", true),
        ("content", "helm") => ("helm", false),
        ("platform", "channels") => ("channel", true),
        ("operator", "packages") => ("package", true),
        ("package", "channels") => ("package-channel", true),
        ("package", "bundles") => ("named", true),
        ("helm", "repositories") => ("repository", true),
        ("helm", "local") | ("repository", "charts") => ("chart", true),
        _ => return None,
    })
}

/// Every key of `doc` that neither version defines, as a dotted path (`mirror.operators[0].x`),
/// in document order where the YAML keeps it.
pub fn unknown_keys(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, "root", "", &mut out);
    out
}

fn walk(v: &Value, kind: &str, path: &str, out: &mut Vec<String>) {
    let Value::Object(map) = v else { return };
    for (k, val) in map {
        let here = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        if !known(kind).contains(&k.as_str()) {
            out.push(here);
            continue;
        }
        match (child(kind, k), val) {
            (Some((c, true)), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, c, &format!("{here}[{i}]"), out);
                }
            }
            (Some((c, false)), _) => walk(val, c, &here, out),
            _ => {}
        }
    }
}
