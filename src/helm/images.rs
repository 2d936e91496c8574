//! The images a chart deploys: every `image` of the containers, init containers and ephemeral
//! containers in the rendered objects (wherever a pod spec sits: Pods, Deployments,
//! StatefulSets, DaemonSets, Jobs, CronJobs and custom resources that embed one), the paths a
//! recipe names (`image-path`, like oc-mirror's `imagePaths`), and the chart's
//! `artifacthub.io/images` annotation. When a chart cannot be rendered, the image fields of its
//! values (`image.registry`/`repository`/`tag`/`digest` and plain `image:` strings).
//!
//! Pure: values in, references out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::oci::ImageRef;

/// A recipe-named path to image references in a rendered object: `{.spec.image}`,
/// `spec.containers[*].image`, `spec.list[0].image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePath(Vec<Step>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Every,
    Index(usize),
}

impl ImagePath {
    pub fn parse(text: &str) -> Result<ImagePath, String> {
        let t = text.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(t);
        let t = t.strip_prefix('.').unwrap_or(t);
        if t.is_empty() {
            return Err("the path is empty".to_string());
        }
        let mut steps = Vec::new();
        for part in t.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if key.is_empty() && rest.is_empty() {
                return Err(format!("an empty step in `{text}`"));
            }
            if !key.is_empty() {
                steps.push(Step::Key(key.to_string()));
            }
            while !rest.is_empty() {
                let Some(end) = rest.find(']') else {
                    return Err(format!("`[` without `]` in `{text}`"));
                };
                let inner = &rest[1..end];
                steps.push(if inner == "*" {
                    Step::Every
                } else {
                    Step::Index(inner.parse().map_err(|_| {
                        format!("`[{inner}]` is neither `[*]` nor an index in `{text}`")
                    })?)
                });
                rest = &rest[end + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return Err(format!("unexpected `{rest}` after `]` in `{text}`"));
                }
            }
        }
        Ok(ImagePath(steps))
    }

    /// The strings this path reaches in `v`.
    fn strings<'v>(&self, v: &'v Value, out: &mut Vec<&'v str>) {
        fn walk<'v>(steps: &[Step], v: &'v Value, out: &mut Vec<&'v str>) {
            let Some((first, rest)) = steps.split_first() else {
                if let Some(s) = v.as_str() {
                    out.push(s);
                }
                return;
            };
            match (first, v) {
                (Step::Key(k), Value::Object(m)) => {
                    if let Some(next) = m.get(k) {
                        walk(rest, next, out);
                    }
                }
                (Step::Every, Value::Array(a)) => a.iter().for_each(|x| walk(rest, x, out)),
                (Step::Every, Value::Object(m)) => m.values().for_each(|x| walk(rest, x, out)),
                (Step::Index(i), Value::Array(a)) => {
                    if let Some(x) = a.get(*i) {
                        walk(rest, x, out);
                    }
                }
                _ => {}
            }
        }
        walk(&self.0, v, out);
    }
}

/// Image references found, each with where it was found (`templates/deployment.yaml`,
/// `values`, `Chart.yaml annotation`), sorted.
pub type Found = BTreeMap<String, BTreeSet<String>>;

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The images of the rendered object `doc` of template `template`, plus `extra` paths.
pub fn images_in_object(template: &str, doc: &Value, extra: &[ImagePath], found: &mut Found) {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if CONTAINER_LISTS.contains(&k.as_str())
                        && let Value::Array(items) = x
                    {
                        for c in items {
                            if let Some(image) = c.get("image").and_then(Value::as_str) {
                                out.push(image.to_string());
                            }
                        }
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(doc, &mut refs);
    for p in extra {
        let mut strings = Vec::new();
        p.strings(doc, &mut strings);
        refs.extend(strings.into_iter().map(str::to_string));
    }
    for r in refs {
        let r = r.trim();
        if !r.is_empty() {
            found
                .entry(r.to_string())
                .or_default()
                .insert(template.to_string());
        }
    }
}

/// The `artifacthub.io/images` annotation of a chart: a YAML list of `{name, image}`.
pub fn images_in_annotation(annotation: &str, found: &mut Found) -> Result<(), String> {
    let list: Value = serde_saphyr::from_str(annotation).map_err(|e| e.to_string())?;
    let Value::Array(items) = list else {
        return Err("not a list of `{name, image}`".to_string());
    };
    for i in items {
        if let Some(image) = i.get("image").and_then(Value::as_str) {
            found
                .entry(image.trim().to_string())
                .or_default()
                .insert("Chart.yaml annotation artifacthub.io/images".to_string());
        }
    }
    Ok(())
}

/// The images a chart's values name, for a chart that cannot be rendered: `image: "ref"`
/// strings and `image: {registry, repository, tag, digest}` maps (any key ending in `image`
/// or `Image`); a missing tag is the chart's `appVersion`, as most charts default it.
pub fn images_in_values(values: &Value, app_version: Option<&str>, found: &mut Found) {
    fn is_image_key(k: &str) -> bool {
        k == "image" || k.ends_with("Image") || k.ends_with("-image") || k.ends_with("_image")
    }
    fn global_registry(values: &Value) -> Option<&str> {
        let g = values.get("global")?;
        g.get("imageRegistry")
            .or_else(|| g.get("image").and_then(|i| i.get("registry")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    fn compose(
        m: &serde_json::Map<String, Value>,
        app: Option<&str>,
        global: Option<&str>,
    ) -> Option<String> {
        let text = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let repo = text("repository").or_else(|| text("name"))?;
        let registry = text("registry").or(global);
        let mut r = match registry {
            Some(reg) if !repo.starts_with(&format!("{reg}/")) => format!("{reg}/{repo}"),
            _ => repo.to_string(),
        };
        if let Some(d) = text("digest") {
            r.push('@');
            r.push_str(d);
        } else if let Some(t) = text("tag")
            .map(str::to_string)
            .or_else(|| {
                m.get("tag")
                    .filter(|t| t.is_number())
                    .map(ToString::to_string)
            })
            .or_else(|| app.map(str::to_string))
        {
            r.push(':');
            r.push_str(&t);
        }
        Some(r)
    }
    fn walk(v: &Value, app: Option<&str>, global: Option<&str>, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if is_image_key(k) {
                        match x {
                            Value::String(s) if s.contains('/') || s.contains(':') => {
                                out.push(s.clone())
                            }
                            Value::Object(im) => out.extend(compose(im, app, global)),
                            _ => {}
                        }
                    }
                    walk(x, app, global, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, app, global, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(values, app_version, global_registry(values), &mut refs);
    for r in refs {
        found.entry(r).or_default().insert("values".to_string());
    }
}

/// Valid image references with where each was found.
pub type ParsedImages = BTreeMap<ImageRef, BTreeSet<String>>;

/// Parses every found reference: valid ones normalised and sorted, with the invalid ones and
/// why (a template that renders `image: ":"` names no image).
pub fn parse_found(found: &Found) -> (ParsedImages, Vec<(String, String)>) {
    let mut ok = ParsedImages::new();
    let mut bad = Vec::new();
    for (text, places) in found {
        // A reference without a tag or digest means `:latest`, as for a container runtime.
        let last = text.rsplit('/').next().unwrap_or(text);
        let full = if last.contains(':') || text.contains('@') {
            text.clone()
        } else {
            format!("{text}:latest")
        };
        match full.parse::<ImageRef>() {
            Ok(r) => {
                ok.entry(r).or_default().extend(places.iter().cloned());
            }
            Err(e) => bad.push((text.clone(), e.to_string())),
        }
    }
    (ok, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_anywhere_and_extra_paths_are_found() {
        let doc = json!({
            "kind": "CronJob",
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "initContainers": [{"name": "i", "image": "busybox:1.36"}],
                "containers": [{"name": "c", "image": "quay.io/x/y:1"}]
            }}}}},
            "extra": {"sidecar": {"image": "quay.io/x/sidecar:2"}}
        });
        let mut found = Found::new();
        let p = ImagePath::parse("{.extra.sidecar.image}").unwrap();
        images_in_object("c/templates/cron.yaml", &doc, &[p], &mut found);
        let keys: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["busybox:1.36", "quay.io/x/sidecar:2", "quay.io/x/y:1"]
        );
    }

    #[test]
    fn image_paths_parse_lists_and_reject_garbage() {
        let p = ImagePath::parse("spec.list[*].image").unwrap();
        let doc = json!({"spec": {"list": [{"image": "a:1"}, {"image": "b:2"}, {"x": 1}]}});
        let mut out = Vec::new();
        p.strings(&doc, &mut out);
        assert_eq!(out, ["a:1", "b:2"]);
        assert!(ImagePath::parse("spec.list[x]").is_err());
        assert!(ImagePath::parse("spec..x").is_err());
        assert!(ImagePath::parse("{}").is_err());
    }

    #[test]
    fn values_fallback_composes_registry_repository_and_tag() {
        let values = json!({
            "global": {"imageRegistry": "registry.example.com"},
            "image": {"repository": "team/app", "tag": ""},
            "sidecar": {"proxyImage": {"registry": "quay.io", "repository": "x/proxy", "digest": "sha256:abc"}},
            "plain": {"image": "docker.io/library/redis:7"}
        });
        let mut found = Found::new();
        images_in_values(&values, Some("1.2.3"), &mut found);
        let keys: Vec<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "docker.io/library/redis:7",
                "quay.io/x/proxy@sha256:abc",
                "registry.example.com/team/app:1.2.3"
            ]
        );
    }

    #[test]
    fn a_reference_without_a_tag_is_latest_and_garbage_is_reported() {
        let mut found = Found::new();
        for r in [
            "busybox",
            "localhost:5000/team/tool",
            "quay.io/x/y:1",
            "Not A Ref",
        ] {
            found
                .entry(r.to_string())
                .or_default()
                .insert("t".to_string());
        }
        let (ok, bad) = parse_found(&found);
        let ok: Vec<String> = ok.keys().map(ToString::to_string).collect();
        assert_eq!(
            ok,
            [
                "docker.io/library/busybox:latest",
                "localhost:5000/team/tool:latest",
                "quay.io/x/y:1"
            ]
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, "Not A Ref");
    }
}
