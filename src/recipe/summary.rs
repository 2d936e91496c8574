//! `Recipe::summary`: a deterministic, human-readable listing of what a recipe declares
//! (content sets, trusts, targets with resolved needs and locations, deletes, registry
//! settings), used by snapshot
//! tests and `airlift check -v`.
//!
//! Pure formatting; paths are printed as resolved (relative recipes give relative paths).

use std::fmt::Write;

use semver::Version;

use super::model::{
    CatalogSource, ContentSet, DEFAULT_GRAPH_BASE_IMAGE, Delete, GraphBase, MirrorScope,
    MirrorSourcePolicy, Need, Recipe, Spanned, Target, TargetLocation, Trust,
};

fn range(min: &Option<Spanned<Version>>, max: &Option<Spanned<Version>>) -> String {
    let mut s = String::new();
    if let Some(v) = min {
        let _ = write!(s, " min={}", v.value);
    }
    if let Some(v) = max {
        let _ = write!(s, " max={}", v.value);
    }
    s
}

impl Recipe {
    /// A deterministic summary of the recipe (same recipe → same text).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        out.push_str("files:\n");
        for f in &self.files {
            let _ = writeln!(out, "  {}", f.display_name());
        }
        out.push_str("content sets:\n");
        for s in &self.sets {
            self.set_summary(&mut out, s);
        }
        if !self.trusts.is_empty() {
            out.push_str("trusts:\n");
            for t in &self.trusts {
                trust_summary(&mut out, t);
            }
        }
        out.push_str("targets:\n");
        for t in &self.targets {
            self.target_summary(&mut out, t);
        }
        if !self.deletes.is_empty() {
            out.push_str("deletes:\n");
            for d in &self.deletes {
                delete_summary(&mut out, d);
            }
        }
        if !self.registries.is_empty() {
            out.push_str("registries:\n");
            for (host, n) in self.registry_concurrency() {
                let _ = writeln!(out, "  {host}: at most {n} transfers at once");
            }
        }
        out
    }

    fn set_summary(&self, out: &mut String, set: &ContentSet) {
        let file = self.files[set.origin().file].display_name();
        let _ = writeln!(out, "  {} {} ({file})", set.kind(), set.name().value);
        match set {
            ContentSet::Release(r) => {
                if let Some(img) = &r.image {
                    let _ = writeln!(out, "    image {}", img.value);
                }
                for c in &r.channels {
                    let sp = if c.shortest_path {
                        " shortest-path"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "    channel {}{}{sp}",
                        c.name.value,
                        range(&c.min, &c.max)
                    );
                }
                let arch: Vec<&str> = r.arch.iter().map(|a| a.value.as_str()).collect();
                let _ = writeln!(out, "    arch {}", arch.join(" "));
                let _ = writeln!(
                    out,
                    "    graph {} kubevirt-container {}",
                    r.graph, r.kubevirt_container
                );
                if let Some(u) = &r.update_url {
                    let _ = writeln!(out, "    update-url {}", u.value);
                }
                if let Some(u) = &r.graph_data_url {
                    let _ = writeln!(out, "    graph-data-url {}", u.value);
                }
                match r.graph_base_image.as_ref().map(|b| &b.value) {
                    Some(GraphBase::Scratch) => out.push_str("    graph-base-image scratch\n"),
                    Some(GraphBase::Image(i)) => {
                        let _ = writeln!(out, "    graph-base-image {i}");
                    }
                    None if r.graph => {
                        let _ = writeln!(
                            out,
                            "    graph-base-image {DEFAULT_GRAPH_BASE_IMAGE} (default)"
                        );
                    }
                    None => {}
                }
            }
            ContentSet::Catalog(c) => {
                let src = match &c.source.value {
                    CatalogSource::Image(r) => format!("image {r}"),
                    CatalogSource::OciLayout(p) => format!("oci layout {}", p.display()),
                };
                let _ = writeln!(out, "    source {src}");
                if let Some(r) = &c.rename {
                    let tag = r
                        .tag
                        .as_ref()
                        .map(|t| format!(" tag={}", t.value))
                        .unwrap_or_default();
                    let _ = writeln!(out, "    rename {}{tag}", r.path.value);
                }
                if c.is_full() {
                    out.push_str("    full\n");
                }
                let every = c
                    .heads
                    .as_ref()
                    .is_some_and(|h| h.value == crate::catalog::Heads::EveryChannel);
                if every {
                    out.push_str("    heads every-channel\n");
                }
                if c.dependencies.as_ref().is_some_and(|d| !d.value) {
                    out.push_str("    dependencies off\n");
                }
                if c.packages.is_empty() {
                    let what = if c.is_full() {
                        "everything"
                    } else if every {
                        "head of every channel"
                    } else {
                        "head of each default channel"
                    };
                    let _ = writeln!(out, "    packages: all ({what})");
                }
                for p in &c.packages {
                    let optional = if p.optional { " (optional)" } else { "" };
                    let _ = writeln!(
                        out,
                        "    package {}{}{optional}",
                        p.name.value,
                        range(&p.min, &p.max)
                    );
                    if let Some(d) = &p.default_channel {
                        let _ = writeln!(out, "      default-channel {}", d.value);
                    }
                    for ch in &p.channels {
                        let _ = writeln!(
                            out,
                            "      channel {}{}",
                            ch.name.value,
                            range(&ch.min, &ch.max)
                        );
                    }
                    for b in &p.bundles {
                        let _ = writeln!(out, "      bundle {}", b.value);
                    }
                }
                if let Some(t) = &c.catalog_source_template {
                    let _ = writeln!(out, "    catalog-source-template {}", t.value.display());
                }
            }
            ContentSet::Images(i) => {
                for img in &i.images {
                    let _ = writeln!(out, "    image {}", img.value);
                }
                for m in &i.mapped {
                    let _ = writeln!(out, "    mapped {} = {}", m.source, m.dest);
                }
                for b in &i.blocks {
                    let _ = writeln!(out, "    block /{}/", b.value.as_str());
                }
            }
            ContentSet::Helm(h) => {
                for r in &h.repositories {
                    let _ = writeln!(out, "    repository {} {}", r.name.value, r.url.value);
                    for c in &r.charts {
                        let v = c
                            .version
                            .as_ref()
                            .map_or("latest".to_string(), |v| v.value.to_string());
                        let _ = writeln!(out, "      chart {} {v}", c.name.value);
                    }
                }
                for l in &h.locals {
                    let _ = writeln!(out, "    local {} {}", l.name.value, l.path.value.display());
                }
            }
        }
        let trusts: Vec<&str> = self
            .trusts_for(&set.name().value)
            .map(|t| t.name.value.as_str())
            .collect();
        if !trusts.is_empty() {
            let _ = writeln!(out, "    verified by {}", trusts.join(", "));
        }
    }

    fn target_summary(&self, out: &mut String, t: &Target) {
        let loc = match &t.location.value {
            TargetLocation::Registry {
                registry,
                namespace,
            } => format!("registry {registry} namespace {namespace:?}"),
            TargetLocation::Directory(d) => format!("directory {}", d.display()),
            TargetLocation::Layout(d) => format!("OCI layout {}", d.display()),
        };
        let _ = writeln!(out, "  {} → {loc}", t.name.value);
        let needs: Vec<String> = t
            .needs
            .iter()
            .map(|n| match &n.value {
                Need::Set(s) => format!("set {s}"),
                Need::Target(s) => format!("target {s}"),
            })
            .collect();
        let _ = writeln!(out, "    needs {}", needs.join(", "));
        if !t.only.is_empty() {
            let only: Vec<&str> = t.only.iter().map(|o| o.value.as_str()).collect();
            let _ = writeln!(out, "    only {}", only.join(", "));
        }
        let carried: Vec<String> = self.carried_sets(&t.name.value).into_iter().collect();
        let _ = writeln!(out, "    carries {}", carried.join(", "));
        if let Some(s) = &t.archive_size {
            let _ = writeln!(
                out,
                "    archive-size {} ({} bytes)",
                s.value,
                s.value.bytes()
            );
        }
        if let Some(n) = &t.max_nested_paths {
            let _ = writeln!(out, "    max-nested-paths {}", n.value);
        }
        if t.mirror_scope != MirrorScope::default() {
            let _ = writeln!(out, "    mirror-scope {:?}", t.mirror_scope);
        }
        if t.mirror_source_policy != MirrorSourcePolicy::default() {
            let _ = writeln!(out, "    mirror-source-policy {:?}", t.mirror_source_policy);
        }
    }
}

fn trust_summary(out: &mut String, t: &Trust) {
    let _ = writeln!(out, "  {}", t.name.value);
    if let Some(k) = &t.gpg_keyring {
        let _ = writeln!(out, "    gpg-keyring {}", k.value.display());
    }
    if let Some(k) = &t.cosign_key {
        let _ = writeln!(out, "    cosign-key {}", k.value.display());
    }
    if let Some(s) = &t.signature_store {
        let _ = writeln!(out, "    signature-store {}", s.value);
    }
    let a: Vec<&str> = t.applies_to.iter().map(|a| a.value.as_str()).collect();
    let _ = writeln!(out, "    applies-to {}", a.join(", "));
}

fn delete_summary(out: &mut String, d: &Delete) {
    let _ = writeln!(out, "  {} from {}", d.name.value, d.from.value);
    for r in &d.releases {
        let _ = writeln!(
            out,
            "    release channel {}{}",
            r.channel.value,
            range(&r.min, &r.max)
        );
    }
    for c in &d.catalogs {
        let names: Vec<&str> = c.packages.iter().map(|p| p.name.value.as_str()).collect();
        let _ = writeln!(
            out,
            "    catalog {} packages {}",
            c.source.value,
            names.join(", ")
        );
    }
    for i in &d.images {
        let _ = writeln!(out, "    image {}", i.value);
    }
}
