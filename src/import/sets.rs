//! The content of an image set, part by part: release channels, operator catalogs and their
//! packages, additional and blocked images, Helm charts, and the delete set of a
//! DeleteImageSetConfiguration, each as recipe text on the `Recipe` being built, with a warning
//! for what does not carry over. Pure.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;
use serde_saphyr::Spanned;

use super::convert::{Cx, Recipe, Warning, bounds, flag, q, raw, required, s};
use super::isc::{self, Content, Operator, Package};

pub(super) fn mirror(cx: &mut Cx<'_>, r: &mut Recipe, m: &Content, v1: bool) {
    if let Some(p) = &m.platform {
        platform(cx, r, p);
    }
    for (i, op) in m.operators.iter().enumerate() {
        if let Some(text) = catalog(cx, r, op, i, v1) {
            r.blocks.push(text);
        }
    }
    images(cx, r, m);
    if let Some(h) = &m.helm {
        helm(cx, r, h);
    }
    if let Some(samples) = &m.samples {
        cx.warn(
            samples,
            "`samples` is not implemented by oc-mirror or airlift; ignored",
        );
    }
    if r.needs.is_empty() {
        cx.warnings.push(Warning {
            line: None,
            message:
                "the image set mirrors nothing; the recipe's target needs an empty `images` set"
                    .into(),
        });
        let name = r.name("images");
        r.blocks.push(format!("images {} {{\n}}\n", q(&name)));
        r.needs.push(name);
    }
}

fn platform(cx: &mut Cx<'_>, r: &mut Recipe, p: &Spanned<isc::Platform>) {
    let p = &p.value;
    let mut channels = Vec::new();
    for (i, c) in p.channels.iter().enumerate() {
        let path = format!("mirror.platform.channels[{i}]");
        let Some(name) = required(cx, &c.value.name, c, &path, "a channel", "stable-4.15") else {
            continue;
        };
        if let Some(t) = &c.value.kind
            && t.value != "ocp"
        {
            cx.warn(
                t,
                format!(
                    "channel `{name}` has type `{}`: airlift reads OpenShift (ocp) update graphs; set update-url= on the release set for another update service; not imported",
                    t.value
                ),
            );
            continue;
        }
        let min = cx.version(&c.value.min_version, &format!("{path}.minVersion"));
        let max = cx.version(&c.value.max_version, &format!("{path}.maxVersion"));
        let shortest = flag(&c.value.shortest_path);
        // oc-mirror's `full`: from the channel's first release. airlift's channel without `min`
        // is the latest release only, so `full` becomes `min="0.0.0"`.
        let min = match (min, flag(&c.value.full)) {
            (None, true) if !shortest => Some("0.0.0".to_string()),
            (min, true) => {
                if let Some(f) = &c.value.full {
                    cx.warn(f, format!("channel `{name}`: `full` with minVersion or shortestPath changes nothing in airlift; ignored"));
                }
                min
            }
            (min, false) => min,
        };
        let mut line = format!("    channel {}", q(name));
        line.push_str(&bounds(min.as_ref(), max.as_ref()));
        if shortest {
            line.push_str(" shortest-path=#true");
        }
        channels.push(line);
    }
    let arches: Vec<String> = p
        .architectures
        .iter()
        .map(|a| q(&a.value))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut extra = String::new();
    if !arches.is_empty() {
        let _ = writeln!(extra, "    arch {}", arches.join(" "));
    }
    if flag(&p.graph) {
        extra.push_str("    graph #true\n");
    }
    if flag(&p.kube_virt_container) {
        extra.push_str("    kubevirt-container #true\n");
    }
    if !channels.is_empty() {
        let name = r.name("platform");
        let mut b = format!("release {} {{\n", q(&name));
        for c in &channels {
            b.push_str(c);
            b.push('\n');
        }
        b.push_str(&extra);
        b.push_str("}\n");
        r.blocks.push(b);
        r.needs.push(name);
    }
    if let Some(rel) = &p.release {
        // A payload named directly: no update graph.
        let name = r.name("platform-release");
        let mut b = format!("release {} image={} {{\n", q(&name), q(&rel.value));
        b.push_str(&extra);
        b.push_str("}\n");
        r.blocks.push(b);
        r.needs.push(name);
    }
}

/// A `catalog` set for one operator entry.
fn catalog(
    cx: &mut Cx<'_>,
    r: &mut Recipe,
    op: &Spanned<Operator>,
    i: usize,
    v1: bool,
) -> Option<String> {
    let path = format!("mirror.operators[{i}]");
    let o = &op.value;
    let Some(source) = s(&o.catalog) else {
        let e = cx.field(
            op,
            &path,
            "an operator entry needs a catalog",
            "add `catalog: registry.redhat.io/redhat/redhat-operator-index:v4.15`",
        );
        cx.errors.push(e);
        return None;
    };
    let source = source
        .strip_prefix("docker://")
        .unwrap_or(source)
        .to_string();
    let (source, oci) = match source.strip_prefix("oci:") {
        Some(p) => {
            let p = p.trim_start_matches("//");
            (format!("oci://{p}"), true)
        }
        None => (source, false),
    };
    if !oci && source.parse::<crate::oci::ImageRef>().is_err() {
        let e = cx.field(
            o.catalog.as_ref()?,
            &format!("{path}.catalog"),
            "not an image reference",
            "write the catalog image as registry/namespace/name:tag (or oci://DIR)",
        );
        cx.errors.push(e);
        return None;
    }
    let base = source
        .rsplit('/')
        .next()
        .unwrap_or("catalog")
        .replace([':', '@'], "-");
    let name = r.name(&base);
    let mut b = format!("catalog {} {} {{\n", q(&name), q(&source));
    // targetCatalog / targetName and targetTag.
    let tag = o.target_tag.as_ref().map(|t| match &t.value {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    });
    let source_path = if oci {
        None
    } else {
        source
            .parse::<crate::oci::ImageRef>()
            .ok()
            .map(|r| r.path().to_string())
    };
    let rename = s(&o.target_catalog).map(str::to_string).or_else(|| {
        s(&o.target_name).map(
            |n| match source_path.as_deref().and_then(|p| p.rsplit_once('/')) {
                Some((ns, _)) => format!("{ns}/{n}"),
                None => n.to_string(),
            },
        )
    });
    match (rename, tag) {
        (Some(p), Some(t)) => {
            let _ = writeln!(b, "    rename {} tag={}", q(&p), q(&t));
        }
        (Some(p), None) => {
            let _ = writeln!(b, "    rename {}", q(&p));
        }
        (None, Some(t)) => match &source_path {
            Some(p) => {
                let _ = writeln!(b, "    rename {} tag={}", q(p), q(&t));
            }
            None => {
                if let Some(at) = &o.target_tag {
                    cx.warn(at, "`targetTag` on an oci:// catalog needs `targetCatalog` in airlift; ignored");
                }
            }
        },
        (None, None) => {}
    }
    if let Some(t) = s(&o.target_catalog_source_template) {
        let _ = writeln!(b, "    catalog-source-template {}", q(t));
    }
    if let Some(orig) = &o.original_ref {
        cx.warn(orig, "`originalRef` is oc-mirror bookkeeping; ignored");
    }
    // airlift keeps what kept bundles depend on, as oc-mirror v1 did unless told otherwise.
    if flag(&o.skip_dependencies) {
        b.push_str("    dependencies #false\n");
    }
    let mut full = flag(&o.full);
    let ranged = o.packages.iter().any(|p| {
        p.value.min_version.is_some()
            || p.value.max_version.is_some()
            || p.value
                .channels
                .iter()
                .any(|c| c.value.min_version.is_some() || c.value.max_version.is_some())
    });
    if full && ranged {
        if let Some(f) = &o.full {
            cx.warn(f, format!("catalog {source}: `full: true` with version ranges is not a valid filter (the documentation's scenario 17); `full` dropped, the ranges kept"));
        }
        full = false;
    }
    if full {
        b.push_str("    full #true\n");
    }
    // oc-mirror v2 keeps the head of every channel where the filter names none; airlift's
    // default is the documentation's (the default channel's head), so v2 files say so.
    let heads_only = o.packages.is_empty()
        || o.packages.iter().any(|p| {
            let p = &p.value;
            p.channels.is_empty()
                && p.bundles.is_empty()
                && p.min_version.is_none()
                && p.max_version.is_none()
        });
    if !full && heads_only && !v1 {
        b.push_str("    heads \"every-channel\"\n");
    }
    for (j, p) in o.packages.iter().enumerate() {
        if let Some(text) = package(cx, p, &format!("{path}.packages[{j}]")) {
            b.push_str(&text);
        }
    }
    b.push_str("}\n");
    r.needs.push(name);
    Some(b)
}

fn package(cx: &mut Cx<'_>, p: &Spanned<Package>, path: &str) -> Option<String> {
    let pk = &p.value;
    let name = required(cx, &pk.name, p, path, "a package", "the-operator")?;
    let default_channel =
        s(&pk.default_channel).map(|d| format!("        default-channel {}", q(d)));
    for b in [&pk.min_bundle].into_iter().flatten().chain(
        pk.channels
            .iter()
            .filter_map(|c| c.value.min_bundle.as_ref()),
    ) {
        cx.warn(
            b,
            format!("package `{name}`: `minBundle` is not supported; use minVersion"),
        );
    }
    let mut min = cx.version(&pk.min_version, &format!("{path}.minVersion"));
    let mut max = cx.version(&pk.max_version, &format!("{path}.maxVersion"));
    let mut channels: Vec<String> = Vec::new();
    for (k, c) in pk.channels.iter().enumerate() {
        let cpath = format!("{path}.channels[{k}]");
        let Some(cname) = required(cx, &c.value.name, c, &cpath, "a channel", "stable") else {
            continue;
        };
        let cmin = cx.version(&c.value.min_version, &format!("{cpath}.minVersion"));
        let cmax = cx.version(&c.value.max_version, &format!("{cpath}.maxVersion"));
        let mut line = format!("        channel {}", q(cname));
        line.push_str(&bounds(cmin.as_ref(), cmax.as_ref()));
        channels.push(line);
    }
    let bundles: Vec<String> = pk
        .bundles
        .iter()
        .filter_map(|b| s(&b.value.name).map(|n| format!("        bundle {}", q(n))))
        .collect();
    if !channels.is_empty() && (min.is_some() || max.is_some()) {
        let at = pk.min_version.as_ref().or(pk.max_version.as_ref());
        if let Some(at) = at {
            cx.warn(at, format!("package `{name}`: a package version range with channels is not a valid filter (the documentation's scenario 15); the package range dropped, the channels kept"));
        }
        min = None;
        max = None;
    }
    if !channels.is_empty() && !bundles.is_empty() {
        cx.warn(
            p,
            format!("package `{name}`: channels and bundles together are not a valid filter; the bundles kept, the channels dropped"),
        );
        channels.clear();
    }
    let mut out = format!("    package {}", q(name));
    out.push_str(&bounds(min.as_ref(), max.as_ref()));
    let children: Vec<&String> = channels
        .iter()
        .chain(bundles.iter())
        .chain(default_channel.iter())
        .collect();
    if children.is_empty() {
        out.push('\n');
    } else {
        out.push_str(" {\n");
        for c in children {
            out.push_str(c);
            out.push('\n');
        }
        out.push_str("    }\n");
    }
    Some(out)
}

fn images(cx: &mut Cx<'_>, r: &mut Recipe, m: &Content) {
    let mut lines = Vec::new();
    for (i, img) in m.additional_images.iter().enumerate() {
        let path = format!("mirror.additionalImages[{i}]");
        let Some(name) = required(
            cx,
            &img.value.name,
            img,
            &path,
            "an image",
            "registry/ns/image:tag",
        ) else {
            continue;
        };
        let name = name.strip_prefix("docker://").unwrap_or(name);
        if name.parse::<crate::oci::ImageRef>().is_err() {
            let e = cx.field(
                img,
                &path,
                "not an image reference",
                "write it as registry/namespace/name:tag or …@sha256:…",
            );
            cx.errors.push(e);
            continue;
        }
        lines.push(format!("    image {}", q(name)));
    }
    let mut blocks = Vec::new();
    for img in &m.blocked_images {
        let Some(name) = s(&img.value.name) else {
            continue;
        };
        blocks.push(format!("    block {}", raw(&block_pattern(name))));
    }
    if lines.is_empty() && blocks.is_empty() {
        return;
    }
    let name = r.name("additional-images");
    let mut b = format!("images {} {{\n", q(&name));
    for l in lines.iter().chain(blocks.iter()) {
        b.push_str(l);
        b.push('\n');
    }
    b.push_str("}\n");
    r.blocks.push(b);
    // An images set of `block`s only blocks; it mirrors nothing.
    if !lines.is_empty() {
        r.needs.push(name);
    }
}

/// oc-mirror's `blockedImages` entry (an image name, with or without tag or digest, or a
/// pattern) as an airlift `block` regex: a name matches itself and, without a tag or digest,
/// every tag and digest of it.
fn block_pattern(name: &str) -> String {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    let pattern_chars = ['*', '^', '$', '[', '(', '|', '+', '?'];
    if name.contains(pattern_chars) {
        return name.to_string();
    }
    let escaped: String = name
        .chars()
        .flat_map(|c| {
            let meta = "\\.+*?()|[]{}^$".contains(c);
            meta.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect();
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        format!("^{escaped}$")
    } else {
        format!("^{escaped}([:@].*)?$")
    }
}

fn helm(cx: &mut Cx<'_>, r: &mut Recipe, h: &Spanned<isc::Helm>) {
    let h = &h.value;
    let mut body = String::new();
    for repo in &h.repositories {
        let (Some(name), Some(url)) = (s(&repo.value.name), s(&repo.value.url)) else {
            cx.warn(
                repo,
                "a helm repository needs a name and a url; not imported",
            );
            continue;
        };
        let _ = writeln!(body, "    repository {} {} {{", q(name), q(url));
        for c in &repo.value.charts {
            let Some(chart) = s(&c.value.name) else {
                cx.warn(c, "a helm chart needs a name; not imported");
                continue;
            };
            let extras = chart_extras(cx, c, chart);
            let version = c.value.version.as_ref().and_then(|v| {
                let t = match &v.value {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                match semver::Version::parse(t.trim_start_matches('v')) {
                    Ok(p) => Some(p.to_string()),
                    Err(_) => {
                        cx.warn(v, format!("chart `{chart}`: version `{t}` is not a semantic version; the latest is taken"));
                        None
                    }
                }
            });
            let version = version
                .map(|v| format!(" version={}", q(&v)))
                .unwrap_or_default();
            let _ = write!(body, "        chart {}{version}", q(chart));
            body.push_str(&children_of(&extras, "        "));
        }
        body.push_str("    }\n");
    }
    for c in &h.local {
        let (Some(name), Some(path)) = (s(&c.value.name), s(&c.value.path)) else {
            cx.warn(
                c,
                "a local helm chart needs a name and a path; not imported",
            );
            continue;
        };
        let extras = chart_extras(cx, c, name);
        let _ = write!(body, "    local {} {}", q(name), q(path));
        body.push_str(&children_of(&extras, "    "));
    }
    if body.is_empty() {
        return;
    }
    let name = r.name("helm");
    cx.warnings.push(Warning {
        line: None,
        message: format!("helm set `{name}`: each chart becomes an OCI chart artifact at `<target>/<repository name>/<chart>:<version>`; check the chart paths your installs use, and the images `airlift plan -v` finds in each chart"),
    });
    r.blocks.push(format!("helm {} {{\n{body}}}\n", q(&name)));
    r.needs.push(name);
}

/// The `image-path` children of a chart (oc-mirror's `imagePaths`); `values` has no
/// counterpart and is a warning.
fn chart_extras(cx: &mut Cx<'_>, c: &Spanned<isc::HelmChart>, chart: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(p) = &c.value.image_paths {
        match &p.value {
            Value::Array(items) => {
                for i in items {
                    match i.as_str().map(crate::helm::ImagePath::parse) {
                        Some(Ok(_)) => lines.push(format!("image-path {}", q(i.as_str().unwrap_or_default()))),
                        _ => cx.warn(p, format!("chart `{chart}`: image path `{i}` is not a path airlift reads; ignored")),
                    }
                }
            }
            other => cx.warn(
                p,
                format!(
                    "chart `{chart}`: `imagePaths` must be a list of paths, not `{other}`; ignored"
                ),
            ),
        }
    }
    if let Some(v) = &c.value.values {
        cx.warn(
            v,
            format!("chart `{chart}`: `values` is not imported; write the values to a file and add `values \"file.yaml\"` to the chart"),
        );
    }
    lines
}

/// ` {\n<indent>    line\n…<indent>}\n` for child lines, else `\n`.
fn children_of(lines: &[String], indent: &str) -> String {
    if lines.is_empty() {
        return "\n".to_string();
    }
    let mut s = " {\n".to_string();
    for l in lines {
        let _ = writeln!(s, "{indent}    {l}");
    }
    let _ = writeln!(s, "{indent}}}");
    s
}

/// A DeleteImageSetConfiguration: one `delete` set from the target; the target itself needs an
/// empty `images` set, to be filled with what the registry keeps.
pub(super) fn delete(cx: &mut Cx<'_>, r: &mut Recipe, d: &Content) {
    let mut body = String::new();
    if let Some(p) = &d.platform {
        for (i, c) in p.value.channels.iter().enumerate() {
            let path = format!("delete.platform.channels[{i}]");
            let Some(name) = required(cx, &c.value.name, c, &path, "a channel", "stable-4.13")
            else {
                continue;
            };
            let min = cx.version(&c.value.min_version, &format!("{path}.minVersion"));
            let max = cx.version(&c.value.max_version, &format!("{path}.maxVersion"));
            let mut line = format!("    release channel={}", q(name));
            line.push_str(&bounds(min.as_ref(), max.as_ref()));
            body.push_str(&line);
            body.push('\n');
        }
        if !p.value.architectures.is_empty() {
            cx.warn(p, "`architectures` of a delete: airlift deletes the architectures the target's release sets carry");
        }
        if let Some(g) = &p.value.graph {
            cx.warn(g, "`graph` of a delete: the graph-data image is rebuilt by the next build, not deleted");
        }
    }
    for (i, op) in d.operators.iter().enumerate() {
        let path = format!("delete.operators[{i}]");
        let Some(source) = s(&op.value.catalog) else {
            let e = cx.field(
                op,
                &path,
                "an operator entry needs a catalog",
                "add `catalog: …`",
            );
            cx.errors.push(e);
            continue;
        };
        if op.value.packages.is_empty() {
            cx.warn(op, format!("catalog {source}: a delete names the packages whose bundles go; a catalog without packages is not imported (delete a whole catalog image with an additionalImages entry)"));
            continue;
        }
        let _ = writeln!(body, "    catalog {} {{", q(source));
        for (j, p) in op.value.packages.iter().enumerate() {
            if let Some(text) = package(cx, p, &format!("{path}.packages[{j}]")) {
                for l in text.lines() {
                    let _ = writeln!(body, "    {l}");
                }
            }
        }
        body.push_str("    }\n");
    }
    for (i, img) in d.additional_images.iter().enumerate() {
        let path = format!("delete.additionalImages[{i}]");
        let Some(name) = required(
            cx,
            &img.value.name,
            img,
            &path,
            "an image",
            "registry/ns/image@sha256:…",
        ) else {
            continue;
        };
        let _ = writeln!(
            body,
            "    image {}",
            q(name.strip_prefix("docker://").unwrap_or(name))
        );
    }
    if let Some(h) = &d.helm {
        cx.warn(h, "helm charts in a delete are not supported; ignored");
    }
    let kept = r.name("kept");
    r.blocks.push(format!(
        "// What this registry keeps: list the content sets you still mirror to it (or merge this\n// file into your recipe). A delete never removes what they need.\nimages {} {{\n}}\n",
        q(&kept)
    ));
    r.needs.push(kept);
    if body.is_empty() {
        cx.warnings.push(Warning {
            line: None,
            message: "the delete lists nothing airlift can delete".into(),
        });
        return;
    }
    let name = r.name("delete");
    r.delete = Some((name, body));
}
