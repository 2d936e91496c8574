//! Decoders for `trust`, `target` (with its URL forms) and `delete`.
//!
//! Names in `needs`, `only`, `applies-to` and `from=` are kept as written here; `validate`
//! resolves them. No I/O.

use kdl::KdlNode;

use super::decode::{
    Ctx, args, check_arg_count, check_props, check_unique, children, no_children, once, str_arg,
    str_args,
};
use super::decode_values::{
    check_range, image_ref, path_value, prop, prop_str, prop_version, resolve, url, whole_number,
};
use super::diagnostics::suggest;
use super::model::{
    Delete, DeleteCatalog, DeleteRelease, MAX_REGISTRY_CONCURRENCY, MirrorScope,
    MirrorSourcePolicy, Need, RegistrySettings, Spanned, Target, TargetLocation, Trust,
};
use super::size::{ByteSize, SizeError};
use crate::oci::Repository;

const TRUST_USAGE: &str = "trust \"keys\" { gpg-keyring \"keys/release.asc\"; applies-to \"ocp\" }";

pub(crate) fn trust(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Trust> {
    check_props(ctx, node, &["signature-store"]);
    check_arg_count(ctx, node, 1, TRUST_USAGE);
    let name = str_arg(ctx, node, 0, "a name", TRUST_USAGE);
    let signature_store =
        prop_str(ctx, node, "signature-store").filter(|s| url(ctx, s, "signature-store"));
    let mut gpg_keyring = None;
    let mut cosign_key = None;
    let mut applies_to = Vec::new();
    let mut seen = Vec::new();
    for child in children(ctx, node, &["gpg-keyring", "cosign-key", "applies-to"]) {
        check_props(ctx, child, &[]);
        no_children(ctx, child);
        match child.name().value() {
            "applies-to" => applies_to.extend(str_args(
                ctx,
                child,
                "a content set name",
                "applies-to \"ocp\"",
            )),
            kind if once(ctx, &mut seen, child) => {
                let usage = format!("{kind} \"keys/file\"");
                check_arg_count(ctx, child, 1, &usage);
                let p = str_arg(ctx, child, 0, "a path", &usage).map(|s| path_value(ctx, &s));
                if kind == "gpg-keyring" {
                    gpg_keyring = p;
                } else {
                    cosign_key = p;
                }
            }
            _ => {}
        }
    }
    let name = name?;
    if gpg_keyring.is_none() && cosign_key.is_none() {
        let e = ctx
            .error(name.span, "no key", format!("trust `{}` has no key", name.value))
            .help("add `gpg-keyring \"keys/release.asc\"` (release signatures) or `cosign-key \"keys/cosign.pub\"` (cosign signatures)");
        ctx.push(e);
    }
    if applies_to.is_empty() {
        let e = ctx
            .error(
                name.span,
                "applies to nothing",
                format!("trust `{}` applies to no content set", name.value),
            )
            .help("add `applies-to \"<content set>\"` inside its block");
        ctx.push(e);
    }
    Some(Trust {
        origin: ctx.origin(node),
        name,
        gpg_keyring,
        cosign_key,
        applies_to,
        signature_store,
    })
}

const REGISTRY_USAGE: &str = "registry \"quay.io\" concurrency=4";

/// `registry "host[:port]" concurrency=N`: settings for one registry, on either side.
pub(crate) fn registry(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<RegistrySettings> {
    check_props(ctx, node, &["concurrency"]);
    check_arg_count(ctx, node, 1, REGISTRY_USAGE);
    no_children(ctx, node);
    let host = str_arg(ctx, node, 0, "a registry host", REGISTRY_USAGE).and_then(|h| {
        match crate::oci::registry_name(&h.value) {
            Some(name) => Some(Spanned::new(name, h.span)),
            None => {
                let e = ctx
                    .error(
                        h.span,
                        "not a registry host",
                        format!("`{}` is not a registry host", h.value.escape_debug()),
                    )
                    .help("write the host as image references name it, with its port if any and without a scheme or path: `quay.io`, `registry.example.com:5000`, `localhost:5000`");
                ctx.push(e);
                None
            }
        }
    });
    let concurrency = match prop(node, "concurrency") {
        None => {
            let e = ctx
                .error(
                    node.name().span(),
                    "sets nothing",
                    "this `registry` node sets nothing",
                )
                .help(format!("add a setting, e.g. `{REGISTRY_USAGE}`"));
            ctx.push(e);
            None
        }
        Some(e) => whole_number(
            ctx,
            e,
            (1, MAX_REGISTRY_CONCURRENCY),
            "`concurrency`",
            REGISTRY_USAGE,
        ),
    };
    Some(RegistrySettings {
        origin: ctx.origin(node),
        host: host?,
        concurrency: concurrency?,
    })
}

const TARGET_USAGE: &str =
    "target \"mirror\" \"docker://registry.example.com:5000/mirror\" { needs \"ocp\" }";

pub(crate) fn target(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Target> {
    check_props(ctx, node, &["mirror-scope", "mirror-source-policy"]);
    check_arg_count(ctx, node, 2, TARGET_USAGE);
    let name = str_arg(ctx, node, 0, "a name", TARGET_USAGE);
    let location = str_arg(ctx, node, 1, "a URL", TARGET_USAGE).and_then(|s| location(ctx, &s));
    let mirror_scope = prop_str(ctx, node, "mirror-scope")
        .and_then(|s| {
            choice(
                ctx,
                &s,
                "mirror-scope",
                &[
                    ("repository", MirrorScope::Repository),
                    ("namespace", MirrorScope::Namespace),
                    ("registry", MirrorScope::Registry),
                ],
            )
        })
        .unwrap_or_default();
    let mirror_source_policy = prop_str(ctx, node, "mirror-source-policy")
        .and_then(|s| {
            choice(
                ctx,
                &s,
                "mirror-source-policy",
                &[
                    (
                        "AllowContactingSource",
                        MirrorSourcePolicy::AllowContactingSource,
                    ),
                    ("NeverContactSource", MirrorSourcePolicy::NeverContactSource),
                ],
            )
        })
        .unwrap_or_default();
    let mut needs = Vec::new();
    let mut only = Vec::new();
    let mut archive_size = None;
    let mut max_nested_paths = None;
    let mut seen = Vec::new();
    let allowed = ["needs", "only", "archive-size", "max-nested-paths"];
    for child in children(ctx, node, &allowed) {
        check_props(ctx, child, &[]);
        no_children(ctx, child);
        match child.name().value() {
            "needs" => needs.extend(str_args(ctx, child, "a name", "needs \"ocp\" \"disk\"")),
            "only" => only.extend(str_args(ctx, child, "a content set name", "only \"ocp\"")),
            "archive-size" if once(ctx, &mut seen, child) => archive_size = size(ctx, child),
            "max-nested-paths" if once(ctx, &mut seen, child) => {
                max_nested_paths = nested(ctx, child)
            }
            _ => {}
        }
    }
    check_unique(ctx, needs.iter(), "need");
    check_unique(ctx, only.iter(), "`only` entry");
    let needs: Vec<Spanned<Need>> = needs
        .into_iter()
        .map(|n| Spanned::new(Need::Set(n.value), n.span))
        .collect();
    let name = name?;
    if needs.is_empty() {
        let e = ctx
            .error(
                name.span,
                "needs nothing",
                format!("target `{}` needs nothing", name.value),
            )
            .help("add `needs \"<content set or target>\"` inside its block");
        ctx.push(e);
    }
    let location = location?;
    let is_dir = matches!(location.value, TargetLocation::Directory(_));
    if let (Some(s), false) = (&archive_size, is_dir) {
        let e = ctx
            .error(
                s.span,
                "archive-size",
                "`archive-size` applies only to file:// targets",
            )
            .also(location.span, "a registry")
            .help("remove `archive-size`, or make this a `file://DIR` target");
        ctx.push(e);
    }
    if let (Some(n), true) = (&max_nested_paths, is_dir) {
        let e = ctx
            .error(
                n.span,
                "max-nested-paths",
                "`max-nested-paths` applies only to docker:// targets",
            )
            .also(location.span, "a directory")
            .help("set it on the registry target that receives this archive");
        ctx.push(e);
    }
    Some(Target {
        origin: ctx.origin(node),
        name,
        location,
        needs,
        only,
        archive_size,
        max_nested_paths,
        mirror_scope,
        mirror_source_policy,
    })
}

fn choice<T: Copy>(
    ctx: &mut Ctx<'_>,
    s: &Spanned<String>,
    key: &str,
    options: &[(&str, T)],
) -> Option<T> {
    if let Some((_, v)) = options.iter().find(|(k, _)| *k == s.value) {
        return Some(*v);
    }
    let names: Vec<&str> = options.iter().map(|(k, _)| *k).collect();
    let e = ctx
        .error(
            s.span,
            "unknown value",
            format!("`{}` is not a valid {key}", s.value),
        )
        .help(suggest(&s.value, &names, "values"));
    ctx.push(e);
    None
}

/// Parses a target URL: `docker://host[:port][/namespace…]`, `file://dir` or `oci://dir`.
pub(crate) fn location(ctx: &mut Ctx<'_>, s: &Spanned<String>) -> Option<Spanned<TargetLocation>> {
    let help = "write `docker://host[:port]/namespace` for a registry, `file://dir` (relative to this file) / `file:///absolute/dir` for an archive directory, or `oci://dir` for a plain OCI image layout";
    let bad = |ctx: &mut Ctx<'_>, why: String| {
        let e = ctx.error(s.span, "invalid target URL", why).help(help);
        ctx.push(e);
        None
    };
    if let Some(rest) = s.value.strip_prefix("docker://") {
        let rest = rest.trim_end_matches('/');
        let (host, namespace) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_host(host) {
            return bad(
                ctx,
                format!("`{host}` in `{}` is not a registry host", s.value),
            );
        }
        let ns_ok = namespace.is_empty()
            || Repository::new("airlift.invalid", namespace).is_ok_and(|r| r.path() == namespace);
        if !ns_ok {
            return bad(
                ctx,
                format!(
                    "`{namespace}` in `{}` is not a valid namespace: use lowercase path components",
                    s.value
                ),
            );
        }
        let loc = TargetLocation::Registry {
            registry: host.to_string(),
            namespace: namespace.to_string(),
        };
        return Some(Spanned::new(loc, s.span));
    }
    if let Some(rest) = s.value.strip_prefix("file://") {
        if rest.is_empty() {
            return bad(ctx, "`file://` needs a directory".to_string());
        }
        let dir = resolve(ctx.base, std::path::Path::new(rest));
        return Some(Spanned::new(TargetLocation::Directory(dir), s.span));
    }
    if let Some(rest) = s.value.strip_prefix("oci://") {
        if rest.is_empty() {
            return bad(ctx, "`oci://` needs a directory".to_string());
        }
        let dir = resolve(ctx.base, std::path::Path::new(rest));
        return Some(Spanned::new(TargetLocation::Layout(dir), s.span));
    }
    bad(ctx, format!("`{}` is not a target URL", s.value))
}

/// `host[:port]`: DNS labels or a bracketed IPv6 address, optional numeric port.
fn valid_host(h: &str) -> bool {
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(v6) = h.strip_prefix('[') {
        let Some((addr, rest)) = v6.split_once(']') else {
            return false;
        };
        let addr_ok = !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        return addr_ok && (rest.is_empty() || rest.strip_prefix(':').is_some_and(port_ok));
    }
    let (name, port) = match h.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (h, None),
    };
    let name_ok = !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    name_ok && port.is_none_or(port_ok)
}

fn size(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Spanned<ByteSize>> {
    let usage = "archive-size \"4GiB\"";
    check_arg_count(ctx, node, 1, usage);
    let s = str_arg(ctx, node, 0, "a size", usage)?;
    match s.value.parse::<ByteSize>() {
        Ok(b) => Some(Spanned::new(b, s.span)),
        Err(err) => {
            let e = ctx
                .error(
                    s.span,
                    "invalid size",
                    format!("invalid archive-size: {err}"),
                )
                .help(SizeError::help());
            ctx.push(e);
            None
        }
    }
}

fn nested(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Spanned<u32>> {
    let usage = "max-nested-paths 2";
    check_arg_count(ctx, node, 1, usage);
    let a = args(node);
    let Some(e) = a.first() else {
        let err = ctx
            .error(
                node.name().span(),
                "value missing",
                "`max-nested-paths` needs a number",
            )
            .help(format!("write it as `{usage}`"));
        ctx.push(err);
        return None;
    };
    whole_number(ctx, e, (1, u32::MAX), "`max-nested-paths`", usage)
}

const DELETE_USAGE: &str =
    "delete \"retire\" from=\"enterprise\" { image \"registry.example.com/a/b@sha256:…\" }";

pub(crate) fn delete(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<Delete> {
    check_props(ctx, node, &["from"]);
    check_arg_count(ctx, node, 1, DELETE_USAGE);
    let name = str_arg(ctx, node, 0, "a name", DELETE_USAGE);
    let from = prop_str(ctx, node, "from");
    let mut releases = Vec::new();
    let mut catalogs = Vec::new();
    let mut images = Vec::new();
    let mut entries = 0;
    for child in children(ctx, node, &["release", "catalog", "image"]) {
        entries += 1;
        if child.name().value() == "catalog" {
            catalogs.extend(delete_catalog(ctx, child));
            continue;
        }
        no_children(ctx, child);
        if child.name().value() == "release" {
            releases.extend(delete_release(ctx, child));
        } else {
            let usage = "image \"registry.redhat.io/ubi8/ubi@sha256:…\"";
            check_props(ctx, child, &[]);
            check_arg_count(ctx, child, 1, usage);
            images.extend(
                str_arg(ctx, child, 0, "an image reference", usage)
                    .and_then(|s| image_ref(ctx, &s)),
            );
        }
    }
    let name = name?;
    let Some(from) = from else {
        let e = ctx
            .error(
                name.span,
                "no from=",
                format!(
                    "delete `{}` does not say which target to delete from",
                    name.value
                ),
            )
            .help(format!("write it as `{DELETE_USAGE}`"));
        ctx.push(e);
        return None;
    };
    // An entry that is there but invalid has its own error.
    if entries == 0 {
        let e = ctx
            .error(
                name.span,
                "deletes nothing",
                format!("delete `{}` lists nothing to delete", name.value),
            )
            .help(
                "add `release channel=\"…\" min=\"…\" max=\"…\"`, `catalog \"…\" { package … }` or `image \"…\"` inside its block",
            );
        ctx.push(e);
    }
    Some(Delete {
        origin: ctx.origin(node),
        name,
        from,
        releases,
        catalogs,
        images,
    })
}

fn delete_catalog(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<DeleteCatalog> {
    let usage = "catalog \"registry.redhat.io/redhat/redhat-operator-index:v4.15\" { package \"x\" max=\"1.2.0\" }";
    check_props(ctx, node, &[]);
    check_arg_count(ctx, node, 1, usage);
    let source = str_arg(ctx, node, 0, "a catalog image", usage).and_then(|s| image_ref(ctx, &s));
    let mut packages = Vec::new();
    for child in children(ctx, node, &["package"]) {
        packages.extend(super::decode_sets::package(ctx, child));
    }
    if packages.is_empty() {
        let e = ctx
            .error(node.name().span(), "no packages", "`catalog` in a delete names no package")
            .help("name the packages whose bundles to delete: `package \"x\" max=\"1.2.0\"` (a whole catalog image is deleted with `image \"…\"`)");
        ctx.push(e);
        return None;
    }
    Some(DeleteCatalog {
        span: node.span(),
        source: source?,
        packages,
    })
}

fn delete_release(ctx: &mut Ctx<'_>, node: &KdlNode) -> Option<DeleteRelease> {
    check_props(ctx, node, &["channel", "min", "max"]);
    check_arg_count(
        ctx,
        node,
        0,
        "release channel=\"stable-4.13\" min=\"4.13.3\" max=\"4.13.3\"",
    );
    let channel = prop_str(ctx, node, "channel");
    let min = prop_version(ctx, node, "min");
    let max = prop_version(ctx, node, "max");
    check_range(ctx, &min, &max);
    let Some(channel) = channel else {
        let e = ctx
            .error(
                node.name().span(),
                "channel missing",
                "`release` in a delete needs channel=",
            )
            .help("write it as `release channel=\"stable-4.13\" min=\"4.13.3\" max=\"4.13.3\"`");
        ctx.push(e);
        return None;
    };
    Some(DeleteRelease {
        span: node.span(),
        channel,
        min,
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::valid_host;

    #[test]
    fn hosts() {
        assert!(valid_host("registry.example.com"));
        assert!(valid_host("localhost:5000"));
        assert!(valid_host("127.0.0.1:5000"));
        assert!(valid_host("[::1]:5000"));
        assert!(valid_host("mirror"));
        assert!(!valid_host(""));
        assert!(!valid_host("host:"));
        assert!(!valid_host("ho_st"));
        assert!(!valid_host("host:abc"));
        assert!(!valid_host("[::1]x"));
    }
}
