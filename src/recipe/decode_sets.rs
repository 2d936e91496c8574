//! Decoders for the content sets: `release`, `catalog`, `images` and `helm`, including the
//! catalog scenario-table rules (full + range, package + channel ranges, channels + bundles).
//!
//! Works on one node at a time through [`Ctx`]; no I/O, no cross-references between nodes.

use kdl::KdlNode;
use regex::Regex;

use super::decode::{
    Ctx, bool_node, check_arg_count, check_props, check_unique, children, no_children, once,
    str_arg, str_args,
};
use super::decode_values::{check_range, image_ref, path_value, prop_str, prop_version, url};
use super::diagnostics::suggest;
use super::model::{
    CatalogRename, CatalogSet, CatalogSource, ChartRender, ChartRepoUrl, ChartVersion, GraphBase,
    HelmChart, HelmLocal, HelmRepository, HelmSet, ImageSet, Package, PackageChannel,
    ReleaseChannel, ReleaseSet, Spanned,
};
use crate::oci::{ImageRef, Repository};

/// Architectures a release can be mirrored for.
pub const ARCHES: &[&str] = &["amd64", "arm64", "ppc64le", "s390x", "multi"];

const RELEASE_USAGE: &str = "release \"ocp\" { channel \"stable-4.15\" }";

pub(crate) fn release(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<ReleaseSet> {
    check_props(
        ctx,
        node,
        &["image", "update-url", "graph-data-url", "graph-base-image"],
    );
    check_arg_count(ctx, node, 1, RELEASE_USAGE);
    let name = str_arg(ctx, node, 0, "a name", RELEASE_USAGE);
    let image = prop_str(ctx, node, "image").and_then(|s| image_ref(ctx, &s));
    let update_url = prop_str(ctx, node, "update-url").filter(|s| url(ctx, s, "update-url"));
    let graph_data_url =
        prop_str(ctx, node, "graph-data-url").filter(|s| url(ctx, s, "graph-data-url"));
    let graph_base_image = prop_str(ctx, node, "graph-base-image").and_then(|s| {
        if s.value == "scratch" {
            Some(Spanned::new(GraphBase::Scratch, s.span))
        } else {
            image_ref(ctx, &s).map(|r| Spanned::new(GraphBase::Image(r.value), r.span))
        }
    });
    let mut channels = Vec::new();
    let mut arch = Vec::new();
    let mut graph = false;
    let mut kubevirt_container = false;
    let mut seen = Vec::new();
    for child in children(
        ctx,
        node,
        &["channel", "arch", "graph", "kubevirt-container"],
    ) {
        match child.name().value() {
            "channel" => channels.extend(release_channel(ctx, child)),
            "arch" if once(ctx, &mut seen, child) => arch = arches(ctx, child),
            "graph" if once(ctx, &mut seen, child) => {
                graph = bool_node(ctx, child).is_some_and(|b| b.value);
            }
            "kubevirt-container" if once(ctx, &mut seen, child) => {
                kubevirt_container = bool_node(ctx, child).is_some_and(|b| b.value);
            }
            _ => {}
        }
    }
    check_unique(
        ctx,
        channels.iter().map(|c: &ReleaseChannel| &c.name),
        "channel",
    );
    if let (Some(img), Some(first)) = (&image, channels.first()) {
        let e = ctx
            .error(first.name.span, "channel", "a release with `image=` cannot have channels")
            .also(img.span, "single payload")
            .help("remove the channels to mirror exactly that payload, or remove `image=` to select versions from the update graph");
        ctx.push(e);
    }
    let name = name?;
    if image.is_none() && channels.is_empty() {
        let e = ctx
            .error(name.span, "selects nothing", format!("release `{}` has no channel and no image", name.value))
            .help("add `channel \"stable-4.15\"` inside the block, or `image=\"quay.io/openshift-release-dev/ocp-release:4.15.3-x86_64\"`");
        ctx.push(e);
    }
    if arch.is_empty() {
        arch.push(Spanned::new("amd64".to_string(), name.span));
    }
    Some(ReleaseSet {
        origin: ctx.origin(node),
        name,
        channels,
        arch,
        graph,
        kubevirt_container,
        update_url,
        graph_data_url,
        graph_base_image,
        image,
    })
}

fn release_channel(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<ReleaseChannel> {
    let usage = "channel \"stable-4.15\" min=\"4.15.0\" max=\"4.15.3\"";
    check_props(ctx, node, &["min", "max", "shortest-path"]);
    check_arg_count(ctx, node, 1, usage);
    no_children(ctx, node);
    let name = str_arg(ctx, node, 0, "a channel name", usage);
    let min = prop_version(ctx, node, "min");
    let max = prop_version(ctx, node, "max");
    check_range(ctx, &min, &max);
    let shortest_path =
        super::decode_values::prop_bool(ctx, node, "shortest-path").is_some_and(|b| b.value);
    Some(ReleaseChannel {
        name: name?,
        min,
        max,
        shortest_path,
    })
}

fn arches(ctx: &mut Ctx<'_>, node: &KdlNode) -> Vec<Spanned<String>> {
    check_props(ctx, node, &[]);
    no_children(ctx, node);
    let mut out = Vec::new();
    for a in str_args(ctx, node, "an architecture", "arch \"amd64\" \"arm64\"") {
        if ARCHES.contains(&a.value.as_str()) {
            out.push(a);
        } else {
            let e = ctx
                .error(
                    a.span,
                    "unknown architecture",
                    format!("`{}` is not a release architecture", a.value),
                )
                .help(suggest(&a.value, ARCHES, "architectures"));
            ctx.push(e);
        }
    }
    out
}

const CATALOG_USAGE: &str =
    "catalog \"redhat\" \"registry.redhat.io/redhat/redhat-operator-index:v4.15\"";

pub(crate) fn catalog(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<CatalogSet> {
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 2, CATALOG_USAGE);
    let name = str_arg(ctx, node, 0, "a name", CATALOG_USAGE);
    let source =
        str_arg(ctx, node, 1, "a source", CATALOG_USAGE).and_then(|s| catalog_source(ctx, &s));
    let mut rename = None;
    let mut full = None;
    let mut heads = None;
    let mut dependencies = None;
    let mut platforms = Vec::new();
    let mut packages = Vec::new();
    let mut template = None;
    let mut seen = Vec::new();
    let allowed = [
        "rename",
        "full",
        "heads",
        "dependencies",
        "platforms",
        "package",
        "catalog-source-template",
    ];
    for child in children(ctx, node, &allowed) {
        match child.name().value() {
            "package" => packages.extend(package(ctx, child)),
            "heads" if once(ctx, &mut seen, child) => heads = catalog_heads(ctx, child),
            "dependencies" if once(ctx, &mut seen, child) => dependencies = bool_node(ctx, child),
            "platforms" if once(ctx, &mut seen, child) => platforms = catalog_platforms(ctx, child),
            "rename" if once(ctx, &mut seen, child) => rename = catalog_rename(ctx, child),
            "full" if once(ctx, &mut seen, child) => full = bool_node(ctx, child),
            "catalog-source-template" if once(ctx, &mut seen, child) => {
                let usage = "catalog-source-template \"templates/catalogsource.yaml\"";
                check_props(ctx, child, &[]);
                check_arg_count(ctx, child, 1, usage);
                no_children(ctx, child);
                template = str_arg(ctx, child, 0, "a path", usage).map(|s| path_value(ctx, &s));
            }
            _ => {}
        }
    }
    check_unique(ctx, packages.iter().map(|p: &Package| &p.name), "package");
    if let Some(f) = full.as_ref().filter(|f| f.value) {
        full_conflicts(ctx, f, &packages);
    }
    Some(CatalogSet {
        origin: ctx.origin(node),
        name: name?,
        source: source?,
        rename,
        full,
        heads,
        dependencies,
        platforms,
        packages,
        catalog_source_template: template,
    })
}

/// An empty name (`package ""`) matches nothing in a catalog: an error here, not a surprise
/// later.
fn non_empty(ctx: &mut Ctx<'_>, name: Spanned<String>, what: &str) -> Option<Spanned<String>> {
    if !name.value.trim().is_empty() {
        return Some(name);
    }
    let e = ctx
        .error(name.span, "empty name", format!("a {what} name cannot be empty"))
        .help(format!(
            "write the {what}'s name as the catalog spells it (`airlift list bundles --catalog … --package …` shows them)"
        ));
    ctx.push(e);
    None
}

fn catalog_platforms(ctx: &mut Ctx<'_>, node: &KdlNode) -> Vec<Spanned<String>> {
    let usage = "platforms \"linux/amd64\" \"linux/arm64\"";
    check_props(ctx, node, &[]);
    no_children(ctx, node);
    let n = node.entries().iter().filter(|e| e.name().is_none()).count();
    if n == 0 {
        let e = ctx
            .error(
                node.name().span(),
                "no platforms",
                "`platforms` names no platform",
            )
            .help(format!("write it as `{usage}`"));
        ctx.push(e);
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..n {
        let Some(p) = str_arg(ctx, node, i, "a platform", usage) else {
            continue;
        };
        let parts: Vec<&str> = p.value.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|s| s.is_empty()) {
            let e = ctx
                .error(
                    p.span,
                    "not os/arch",
                    format!("`{}` is not a platform", p.value),
                )
                .help("write a platform as os/arch or os/arch/variant, e.g. \"linux/amd64\"");
            ctx.push(e);
            continue;
        }
        out.push(p);
    }
    out
}

fn catalog_heads(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Spanned<crate::catalog::Heads>> {
    use crate::catalog::Heads;
    let usage = "heads \"every-channel\"";
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 1, usage);
    no_children(ctx, node);
    let value = str_arg(ctx, node, 0, "`default-channel` or `every-channel`", usage)?;
    let heads = match value.value.as_str() {
        "default-channel" => Heads::DefaultChannel,
        "every-channel" => Heads::EveryChannel,
        other => {
            let e = ctx
                .error(value.span, "unknown heads", format!("`{other}` is not a heads mode"))
                .help("write `heads \"default-channel\"` (the head of each package's default channel, the default) or `heads \"every-channel\"` (the head of every channel, as oc-mirror v2)");
            ctx.push(e);
            return None;
        }
    };
    Some(Spanned::new(heads, value.span))
}

fn catalog_source(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<CatalogSource>> {
    if let Some(path) = s.value.strip_prefix("oci://") {
        if path.is_empty() {
            let e = ctx
                .error(s.span, "empty path", "`oci://` needs a directory")
                .help("write \"oci://./catalogs/my-catalog\" (an OCI image layout, relative to this file)");
            ctx.push(e);
            return None;
        }
        let p = path_value(ctx, &Spanned::new(path.to_string(), s.span));
        return Some(Spanned::new(CatalogSource::OciLayout(p.value), s.span));
    }
    image_ref(ctx, s).map(|r| Spanned::new(CatalogSource::Image(r.value), s.span))
}

fn catalog_rename(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<CatalogRename> {
    let usage = "rename \"mirror/redhat-operator-index\" tag=\"v4.15\"";
    check_props(ctx, node, &["tag"]);
    check_arg_count(ctx, node, 1, usage);
    no_children(ctx, node);
    let path = str_arg(ctx, node, 0, "a repository path", usage)?;
    let valid_path = Repository::new("airlift.invalid", &path.value)
        .map(|r| r.path() == path.value)
        .unwrap_or(false);
    if !valid_path {
        let e = ctx
            .error(path.span, "invalid repository path", format!("`{}` is not a repository path", path.value))
            .help("use lowercase path components separated by `/`, e.g. \"mirror/redhat-operator-index\" (no registry, no tag)");
        ctx.push(e);
    }
    let tag = prop_str(ctx, node, "tag");
    if let Some(t) = &tag
        && format!("airlift.invalid/x:{}", t.value)
            .parse::<ImageRef>()
            .is_err()
    {
        let e = ctx
            .error(
                t.span,
                "invalid tag",
                format!("`{}` is not a valid tag", t.value),
            )
            .help("a tag is 1-128 of [A-Za-z0-9_.-] and cannot start with `.` or `-`");
        ctx.push(e);
    }
    Some(CatalogRename { path, tag })
}

pub(crate) fn package(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Package> {
    let usage = "package \"compliance-operator\" min=\"1.5.0\"";
    check_props(ctx, node, &["min", "max", "optional"]);
    check_arg_count(ctx, node, 1, usage);
    let name =
        str_arg(ctx, node, 0, "a package name", usage).and_then(|n| non_empty(ctx, n, "package"));
    let min = prop_version(ctx, node, "min");
    let max = prop_version(ctx, node, "max");
    let optional = super::decode_values::prop_bool(ctx, node, "optional").is_some_and(|b| b.value);
    check_range(ctx, &min, &max);
    let mut channels = Vec::new();
    let mut bundles = Vec::new();
    let mut default_channel = None;
    let mut seen = Vec::new();
    for child in children(ctx, node, &["channel", "bundle", "default-channel"]) {
        if child.name().value() == "default-channel" {
            if once(ctx, &mut seen, child) {
                let usage = "default-channel \"stable\"";
                check_props(ctx, child, &[]);
                check_arg_count(ctx, child, 1, usage);
                no_children(ctx, child);
                default_channel = str_arg(ctx, child, 0, "a channel name", usage);
            }
        } else if child.name().value() == "channel" {
            channels.extend(package_channel(ctx, child));
        } else {
            let usage = "bundle \"3scale-operator.v0.10.0-mas\"";
            check_props(ctx, child, &[]);
            check_arg_count(ctx, child, 1, usage);
            no_children(ctx, child);
            bundles.extend(
                str_arg(ctx, child, 0, "a bundle name", usage)
                    .and_then(|n| non_empty(ctx, n, "bundle")),
            );
        }
    }
    check_unique(
        ctx,
        channels.iter().map(|c: &PackageChannel| &c.name),
        "channel",
    );
    check_unique(ctx, bundles.iter(), "bundle");
    if let Some(ch) = channels.first() {
        if let Some(bound) = min.as_ref().or(max.as_ref()) {
            let e = ctx
                .error(ch.name.span, "channel filter", "a package version range cannot be combined with channels")
                .also(bound.span, "package range")
                .help("move the range onto the channel (`channel \"stable\" min=… max=…`), or remove the channels to filter the default channel");
            ctx.push(e);
        }
        if let Some(b) = bundles.first() {
            let e = ctx
                .error(
                    b.span,
                    "bundle",
                    "a package cannot select both channels and bundles",
                )
                .also(ch.name.span, "channel")
                .help("keep either the `channel` entries or the `bundle` entries of this package");
            ctx.push(e);
        }
    }
    Some(Package {
        span: node.span(),
        name: name?,
        min,
        max,
        channels,
        bundles,
        default_channel,
        optional,
    })
}

fn package_channel(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<PackageChannel> {
    let usage = "channel \"stable\" min=\"1.5.0\" max=\"1.6.0\"";
    check_props(ctx, node, &["min", "max"]);
    check_arg_count(ctx, node, 1, usage);
    no_children(ctx, node);
    let name =
        str_arg(ctx, node, 0, "a channel name", usage).and_then(|n| non_empty(ctx, n, "channel"));
    let min = prop_version(ctx, node, "min");
    let max = prop_version(ctx, node, "max");
    check_range(ctx, &min, &max);
    Some(PackageChannel {
        name: name?,
        min,
        max,
    })
}

/// `full #true` keeps everything, so it cannot be combined with ranges or bundles.
fn full_conflicts(ctx: &mut Ctx<'_>, full: &Spanned<bool>, packages: &[Package]) {
    for p in packages {
        let bounds = p
            .min
            .iter()
            .chain(&p.max)
            .chain(p.channels.iter().flat_map(|c| c.min.iter().chain(&c.max)));
        let spans: Vec<_> = bounds.map(|b| b.span).collect();
        for span in spans {
            let e = ctx
                .error(span, "version range", "`full #true` cannot be combined with a version range")
                .also(full.span, "full")
                .help("remove `full #true` to mirror only the range, or remove the range to mirror every version");
            ctx.push(e);
        }
        for b in &p.bundles {
            let e = ctx
                .error(b.span, "bundle", "`full #true` cannot be combined with bundles")
                .also(full.span, "full")
                .help("remove `full #true` to mirror only these bundles, or remove the bundles to mirror everything");
            ctx.push(e);
        }
    }
}

const IMAGES_USAGE: &str = "images \"extras\" { image \"registry.redhat.io/ubi9/ubi:latest\" }";

pub(crate) fn images(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<ImageSet> {
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 1, IMAGES_USAGE);
    let name = str_arg(ctx, node, 0, "a name", IMAGES_USAGE);
    let mut images = Vec::new();
    let mut mapped = Vec::new();
    let mut blocks = Vec::new();
    for child in children(ctx, node, &["image", "mapping", "block"]) {
        check_props(ctx, child, &[]);
        no_children(ctx, child);
        if child.name().value() == "mapping" {
            let usage = "mapping \"mapping.txt\"";
            check_arg_count(ctx, child, 1, usage);
            if let Some(path) = str_arg(ctx, child, 0, "a path", usage) {
                mapped.extend(super::mapping::read(ctx, &path));
            }
        } else if child.name().value() == "image" {
            let usage = "image \"registry.redhat.io/ubi9/ubi:latest\"";
            check_arg_count(ctx, child, 1, usage);
            images.extend(
                str_arg(ctx, child, 0, "an image reference", usage)
                    .and_then(|s| image_ref(ctx, &s)),
            );
        } else {
            let usage = "block \"^registry\\\\.example\\\\.com/unwanted/.*\"";
            check_arg_count(ctx, child, 1, usage);
            blocks.extend(
                str_arg(ctx, child, 0, "a regular expression", usage).and_then(|s| regex(ctx, &s)),
            );
        }
    }
    Some(ImageSet {
        origin: ctx.origin(node),
        name: name?,
        images,
        mapped,
        blocks,
    })
}

fn regex(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<Regex>> {
    match Regex::new(&s.value) {
        Ok(r) => Some(Spanned::new(r, s.span)),
        Err(e) => {
            let detail = e.to_string();
            let last = detail
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .to_string();
            let e = ctx
                .error(s.span, "invalid regular expression", format!("`{}` is not a valid regular expression: {last}", s.value))
                .help("use Rust regex syntax (https://docs.rs/regex); in a KDL string escape a backslash as `\\\\`, or use a raw string #\"…\"#");
            ctx.push(e);
            None
        }
    }
}

const HELM_USAGE: &str = "helm \"charts\" { local \"mychart\" \"charts/mychart-1.0.0.tgz\" }";

pub(crate) fn helm(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<HelmSet> {
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 1, HELM_USAGE);
    let name = str_arg(ctx, node, 0, "a name", HELM_USAGE);
    let mut repositories = Vec::new();
    let mut locals = Vec::new();
    for child in children(ctx, node, &["repository", "local"]) {
        if child.name().value() == "repository" {
            repositories.extend(helm_repository(ctx, child));
        } else {
            let usage = "local \"mychart\" \"charts/mychart-1.0.0.tgz\"";
            check_props(ctx, child, &[]);
            check_arg_count(ctx, child, 2, usage);
            let n = str_arg(ctx, child, 0, "a chart name", usage);
            let p = str_arg(ctx, child, 1, "a path", usage).map(|s| path_value(ctx, &s));
            let render = chart_render(ctx, child);
            if let (Some(name), Some(path)) = (n, p) {
                locals.push(HelmLocal { name, path, render });
            }
        }
    }
    check_unique(
        ctx,
        repositories.iter().map(|r: &HelmRepository| &r.name),
        "repository",
    );
    check_unique(
        ctx,
        locals.iter().map(|l: &HelmLocal| &l.name),
        "local chart",
    );
    let name = name?;
    if repositories.is_empty() && locals.is_empty() {
        let e = ctx
            .error(name.span, "selects nothing", format!("helm set `{}` has no repository and no local chart", name.value))
            .help("add `repository \"name\" \"https://…\" { chart \"name\" }` or `local \"name\" \"path.tgz\"`");
        ctx.push(e);
    }
    Some(HelmSet {
        origin: ctx.origin(node),
        name,
        repositories,
        locals,
    })
}

fn helm_repository(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<HelmRepository> {
    let usage =
        "repository \"podinfo\" \"https://stefanprodan.github.io/podinfo\" { chart \"podinfo\" }";
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 2, usage);
    let name = str_arg(ctx, node, 0, "a name", usage);
    let repo_url = str_arg(ctx, node, 1, "a URL", usage).and_then(|s| chart_repo_url(ctx, &s));
    let mut charts = Vec::new();
    for child in children(ctx, node, &["chart"]) {
        let usage = "chart \"podinfo\" version=\"6.5.0\"";
        check_props(ctx, child, &["version"]);
        check_arg_count(ctx, child, 1, usage);
        let n = str_arg(ctx, child, 0, "a chart name", usage);
        let version = prop_str(ctx, child, "version").and_then(|v| {
            match ChartVersion::parse(&v.value) {
                Ok(parsed) => Some(Spanned::new(parsed, v.span)),
                Err(reason) => {
                    let e = ctx
                        .error(v.span, "not a version or range", format!("chart version `{}`: {reason}", v.value))
                        .help("write a version (\"6.5.0\") or a range (\">=6.0.0 <7.0.0\", \"^6.1\", \"~6.1.0\", \"6.x\")");
                    ctx.push(e);
                    None
                }
            }
        });
        let render = chart_render(ctx, child);
        if let Some(name) = n {
            charts.push(HelmChart {
                name,
                version,
                render,
            });
        }
    }
    check_unique(ctx, charts.iter().map(|c: &HelmChart| &c.name), "chart");
    let name = name?;
    if charts.is_empty() {
        let e = ctx
            .error(
                name.span,
                "no charts",
                format!("repository `{}` lists no chart", name.value),
            )
            .help("add `chart \"name\"` (optionally version=\"x.y.z\") inside its block");
        ctx.push(e);
    }
    Some(HelmRepository {
        name,
        url: repo_url?,
        charts,
    })
}

/// `https://…`, `http://…` (a classic repository) or `oci://host/path` (an OCI one).
fn chart_repo_url(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<ChartRepoUrl>> {
    if let Some(rest) = s.value.strip_prefix("oci://") {
        let prefix = rest.trim_end_matches('/');
        let probe = format!("{prefix}/chart:latest");
        return match probe.parse::<crate::oci::ImageRef>() {
            Ok(_) if prefix.contains('/') || prefix.contains('.') || prefix.contains(':') => {
                Some(Spanned::new(ChartRepoUrl::Oci(prefix.to_string()), s.span))
            }
            _ => {
                let e = ctx
                    .error(s.span, "not an OCI repository", format!("`{}` does not name a registry and path", s.value))
                    .help("write \"oci://registry.example.com/charts\": charts are found at that path, one repository per chart");
                ctx.push(e);
                None
            }
        };
    }
    url(ctx, s, "repository URL").then(|| {
        Spanned::new(
            ChartRepoUrl::Http(s.value.trim_end_matches('/').to_string()),
            s.span,
        )
    })
}

/// The `values` and `image-path` children of a chart.
fn chart_render(ctx: &mut Ctx<'_>, node: &KdlNode) -> ChartRender {
    let mut render = ChartRender::default();
    for child in children(ctx, node, &["values", "image-path"]) {
        check_props(ctx, child, &[]);
        if child.name().value() == "values" {
            let usage = "values \"values/podinfo.yaml\"";
            check_arg_count(ctx, child, 1, usage);
            no_children(ctx, child);
            if let Some(p) = str_arg(ctx, child, 0, "a values file", usage) {
                render.values.push(path_value(ctx, &p));
            }
        } else {
            let usage = "image-path \"{.spec.template.spec.containers[*].image}\"";
            check_arg_count(ctx, child, 1, usage);
            no_children(ctx, child);
            if let Some(p) = str_arg(ctx, child, 0, "a path", usage) {
                if let Err(reason) = crate::helm::ImagePath::parse(&p.value) {
                    let e = ctx
                        .error(p.span, "not an image path", format!("image path `{}`: {reason}", p.value))
                        .help("write a dotted path into the rendered object, `[*]` for every element: \"{.spec.template.spec.containers[*].image}\"");
                    ctx.push(e);
                } else {
                    render.image_paths.push(p);
                }
            }
        }
    }
    render
}
