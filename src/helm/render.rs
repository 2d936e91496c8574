//! Rendering a chart the way `helm template` does, to find its images: values coalesced from
//! the chart, recipe-given values files and parent charts (`global` included), subcharts
//! enabled by their `condition`, every template of the chart tree in one template set (named
//! templates are shared), each manifest template rendered with `.Values`, `.Chart`, `.Release`,
//! `.Capabilities`, `.Template` and `.Files`.
//!
//! Rendering is offline and reproducible: `lookup` finds nothing, random and time functions
//! are fixed, and `.Capabilities` describes a fixed OpenShift-like cluster (Kubernetes
//! v1.31 with the common API groups and OpenShift's `route.openshift.io/v1` and
//! `security.openshift.io/v1`). A template that fails does not stop the others: its failure
//! is a warning naming it, and the chart's values are searched for images as well.

use serde_json::{Map, Value, json};

use super::chart::Chart;
use super::images::{self, Found, ImagePath};
use super::template::Templates;

/// The Kubernetes version charts are rendered for.
pub const KUBE_VERSION: &str = "v1.31.0";

const API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apps/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "route.openshift.io/v1",
    "scheduling.k8s.io/v1",
    "security.openshift.io/v1",
    "storage.k8s.io/v1",
];

/// What rendering a chart found.
#[derive(Debug, Default)]
pub struct Rendering {
    pub found: Found,
    /// Templates that could not be rendered or parsed, and why.
    pub warnings: Vec<String>,
}

/// Renders `chart` with `user_values` (values files, in order, over the chart's own values) and
/// collects the images of its objects, its `artifacthub.io/images` annotation and `extra` paths.
pub fn chart_images(chart: &Chart, user_values: &[Value], extra: &[ImagePath]) -> Rendering {
    let mut values = chart.values.clone();
    for v in user_values {
        merge_over(&mut values, v);
    }
    let mut units = Vec::new();
    collect(chart, chart.name.clone(), values, &mut units);
    let mut templates = Templates::new();
    let mut out = Rendering::default();
    let mut failed = false;
    // As Helm: the deepest paths first (equal depths in reverse order), so that a parent's
    // definition of a name replaces its subcharts'.
    let mut files: Vec<(String, &str)> = units
        .iter()
        .flat_map(|u| {
            u.chart
                .templates
                .iter()
                .map(|(path, text)| (format!("{}/{path}", u.prefix), text.as_str()))
        })
        .collect();
    files.sort_by(|(a, _), (b, _)| {
        let depth = |s: &str| s.matches('/').count();
        depth(b).cmp(&depth(a)).then(b.cmp(a))
    });
    for (name, text) in &files {
        if let Err(e) = templates.add(name, text) {
            out.warnings
                .push(format!("template {name} cannot be parsed: {e}"));
            failed = true;
        }
    }
    for u in &units {
        let dot_base = dot(u);
        for path in u.chart.templates.keys() {
            let file = path.rsplit('/').next().unwrap_or(path);
            if file.starts_with('_') || file == "NOTES.txt" {
                continue;
            }
            let name = format!("{}/{path}", u.prefix);
            let mut dot = dot_base.clone();
            dot["Template"] = json!({"Name": name, "BasePath": format!("{}/templates", u.prefix)});
            let text = match templates.render(&name, &dot) {
                Ok(t) => t,
                Err(e) => {
                    out.warnings
                        .push(format!("template {name} cannot be rendered: {e}"));
                    failed = true;
                    continue;
                }
            };
            match objects(&text) {
                Ok(docs) => {
                    for d in &docs {
                        images::images_in_object(&name, d, extra, &mut out.found);
                    }
                }
                Err(e) => {
                    out.warnings
                        .push(format!("template {name} does not render YAML: {e}"));
                    failed = true;
                }
            }
        }
        if let Some(Value::String(a)) = u
            .chart
            .meta
            .get("annotations")
            .and_then(|a| a.get("artifacthub.io/images"))
            && let Err(e) = images::images_in_annotation(a, &mut out.found)
        {
            out.warnings.push(format!(
                "chart {}: the artifacthub.io/images annotation is not read: {e}",
                u.chart.name
            ));
        }
        if failed {
            images::images_in_values(&u.values, u.chart.app_version.as_deref(), &mut out.found);
        }
    }
    out
}

/// One chart of the tree with its coalesced values and template name prefix.
struct Unit<'c> {
    chart: &'c Chart,
    prefix: String,
    values: Value,
}

/// `chart` and its enabled subcharts, with their values.
fn collect<'c>(chart: &'c Chart, prefix: String, values: Value, out: &mut Vec<Unit<'c>>) {
    let deps = chart.dependencies();
    for sub in &chart.subcharts {
        let dep = deps.iter().find(|d| d.name == sub.name);
        if dep.is_some_and(|d| !enabled(&values, d.condition.as_deref())) {
            continue;
        }
        let key = dep
            .and_then(|d| d.alias.clone())
            .unwrap_or_else(|| sub.name.clone());
        let mut sub_values = sub.values.clone();
        if let Some(from_parent) = values.get(&key) {
            merge_over(&mut sub_values, from_parent);
        }
        if let Some(global) = values.get("global") {
            let mut g = sub_values.get("global").cloned().unwrap_or(json!({}));
            merge_over(&mut g, global);
            if let Value::Object(m) = &mut sub_values {
                m.insert("global".to_string(), g);
            }
        }
        collect(sub, format!("{prefix}/charts/{key}"), sub_values, out);
    }
    out.push(Unit {
        chart,
        prefix,
        values,
    });
}

/// A dependency's `condition`: the first of its comma-separated values paths that holds a
/// boolean decides; none → enabled.
fn enabled(values: &Value, condition: Option<&str>) -> bool {
    let Some(c) = condition else { return true };
    for path in c.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut v = values;
        let mut found = true;
        for step in path.split('.') {
            match v.get(step) {
                Some(x) => v = x,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found && let Value::Bool(b) = v {
            return *b;
        }
    }
    true
}

/// Deep-merges `over` into `base`: maps merge key by key, other values replace, and a `null`
/// removes the key (as Helm's values do).
pub fn merge_over(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(existing) = b.get_mut(k) {
                    merge_over(existing, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The data a template of `u` sees, without `.Template`.
fn dot(u: &Unit<'_>) -> Value {
    let mut chart = Map::new();
    if let Value::Object(m) = &u.chart.meta {
        for (k, v) in m {
            chart.insert(go_field(k), v.clone());
        }
    }
    let files: Map<String, Value> = u
        .chart
        .files
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "Values": u.values,
        "Chart": chart,
        "Release": {
            "Name": u.chart.name,
            "Namespace": "default",
            "Service": "Helm",
            "IsInstall": true,
            "IsUpgrade": false,
            "Revision": 1,
        },
        "Capabilities": {
            "KubeVersion": {"Version": KUBE_VERSION, "GitVersion": KUBE_VERSION, "Major": "1", "Minor": "31"},
            "APIVersions": API_VERSIONS,
            "HelmVersion": {"Version": "v3.16.0"},
        },
        "Files": {"$files": files},
    })
}

/// `appVersion` → `AppVersion`, `apiVersion` → `APIVersion`: the Go field names of Helm's
/// chart metadata.
fn go_field(k: &str) -> String {
    match k {
        "apiVersion" => "APIVersion".to_string(),
        _ => {
            let mut c = k.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// The objects of a rendered manifest file (empty documents skipped).
fn objects(text: &str) -> Result<Vec<Value>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn chart(templates: &[(&str, &str)], values: Value) -> Chart {
        Chart {
            meta: json!({"apiVersion": "v2", "name": "app", "version": "1.0.0", "appVersion": "2.0"}),
            name: "app".into(),
            version: "1.0.0".into(),
            app_version: Some("2.0".into()),
            values,
            templates: templates
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect::<BTreeMap<_, _>>(),
            files: BTreeMap::new(),
            subcharts: Vec::new(),
        }
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      image: {{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\n";

    #[test]
    fn values_files_apply_in_order_over_the_charts_values() {
        let c = chart(
            &[("templates/pod.yaml", POD)],
            json!({"image": {"repository": "quay.io/x/app", "tag": ""}}),
        );
        let over = [
            json!({"image": {"tag": "3.0"}}),
            json!({"image": {"repository": "quay.io/y/app"}}),
        ];
        let r = chart_images(&c, &over, &[]);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.found.keys().collect::<Vec<_>>(), ["quay.io/y/app:3.0"]);
    }

    #[test]
    fn a_template_that_fails_is_named_and_the_values_are_searched() {
        let broken = "{{ required \"set .Values.secret\" .Values.secret }}\nkind: Secret\n";
        let c = chart(
            &[
                ("templates/pod.yaml", POD),
                ("templates/secret.yaml", broken),
            ],
            json!({
                "image": {"repository": "quay.io/x/app", "tag": ""},
                "sidecar": {"image": {"registry": "quay.io", "repository": "x/side", "tag": "1"}}
            }),
        );
        let r = chart_images(&c, &[], &[]);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("app/templates/secret.yaml")
                && r.warnings[0].contains("set .Values.secret"),
            "{}",
            r.warnings[0]
        );
        let found: Vec<(&str, Vec<&str>)> = r
            .found
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "quay.io/x/app:2.0",
                    vec!["app/templates/pod.yaml", "values"]
                ),
                ("quay.io/x/side:1", vec!["values"]),
            ]
        );
    }

    #[test]
    fn helm_merges_null_removes_a_key() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": 3});
        merge_over(&mut base, &json!({"a": {"b": null, "e": 4}, "d": [1]}));
        assert_eq!(base, json!({"a": {"c": 2, "e": 4}, "d": [1]}));
    }

    #[test]
    fn a_parents_definition_replaces_its_subcharts() {
        let mut sub = chart(
            &[
                (
                    "templates/_h.tpl",
                    "{{- define \"image\" -}}quay.io/sub/app:1{{- end -}}",
                ),
                (
                    "templates/pod.yaml",
                    "kind: Pod\nspec:\n  containers:\n    - image: {{ include \"image\" . }}\n",
                ),
            ],
            json!({}),
        );
        sub.name = "sub".into();
        let mut parent = chart(
            &[(
                "templates/_h.tpl",
                "{{- define \"image\" -}}quay.io/parent/app:2{{- end -}}",
            )],
            json!({}),
        );
        parent.subcharts.push(sub);
        let r = chart_images(&parent, &[], &[]);
        assert_eq!(r.found.keys().collect::<Vec<_>>(), ["quay.io/parent/app:2"]);
    }

    /// Helm adds templates in reverse name order within a depth: of two files defining one
    /// name, the one that sorts first wins.
    #[test]
    fn of_two_definitions_in_one_chart_the_first_file_by_name_wins() {
        let c = chart(
            &[
                (
                    "templates/_a.tpl",
                    "{{- define \"image\" -}}quay.io/a/app:1{{- end -}}",
                ),
                (
                    "templates/_b.tpl",
                    "{{- define \"image\" -}}quay.io/b/app:1{{- end -}}",
                ),
                (
                    "templates/pod.yaml",
                    "kind: Pod\nspec:\n  containers:\n    - image: {{ include \"image\" . }}\n",
                ),
            ],
            json!({}),
        );
        let r = chart_images(&c, &[], &[]);
        assert_eq!(r.found.keys().collect::<Vec<_>>(), ["quay.io/a/app:1"]);
    }
}
