//! Cluster resources of a target from what it holds: every image the target should hold whose
//! destination the journal records as filled from the locked digest; the CatalogSource /
//! ClusterCatalog of every rebuilt catalog the journal records; the signature ConfigMap of the
//! release payloads it holds whose signatures were verified; and the UpdateService when the
//! target carries a `graph #true` release set and the graph-data image is recorded. Used by the
//! `render-resources` task and by `airlift resources`.
//!
//! Reads the journal, saved signatures and `catalog-source-template` files; writes only the
//! output directory ([`super::write_dir`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    CatalogSourceError, Category, MirroredCatalog, MirroredImage, ResourceError, ResourceOptions,
    render, render_catalog_sources, render_signature_configmaps, render_update_service, write_dir,
};
use crate::oci::Digest;
use crate::plan::{
    CatalogGoal, Destination, GoalItem, graph_image as graph_image_dest, named_destination,
};
use crate::release::RELEASE_PAYLOAD_REPO;
use crate::state::{Journal, KindName, LockFile};
use crate::task::saved_signatures;

/// What a target should hold and how to render it.
pub struct HeldInput<'a> {
    pub dest: &'a Destination,
    pub items: &'a [GoalItem],
    pub catalogs: &'a [CatalogGoal],
    /// The target carries a release set with `graph #true`.
    pub graph: bool,
    pub options: &'a ResourceOptions,
    /// `catalog-source-template` per catalog set: the name the recipe gives it and its path.
    pub templates: &'a BTreeMap<String, (String, PathBuf)>,
    pub lock: Option<&'a LockFile>,
    pub signatures_dir: &'a Path,
    pub dir: &'a Path,
}

/// What rendering wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedTarget {
    pub dir: PathBuf,
    pub files: usize,
    pub held: usize,
    /// Images of the target it does not hold (yet).
    pub not_held: Vec<String>,
    pub notes: Vec<String>,
}

/// Rendering or writing failed.
#[derive(Debug, thiserror::Error)]
pub enum HeldError {
    #[error(transparent)]
    Render(Box<ResourceError>),
    #[error(transparent)]
    Catalog(Box<CatalogSourceError>),
    #[error("cannot read catalog-source-template {path}: {source}")]
    Template {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write cluster resources to {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl From<ResourceError> for HeldError {
    fn from(e: ResourceError) -> Self {
        HeldError::Render(Box::new(e))
    }
}

impl From<CatalogSourceError> for HeldError {
    fn from(e: CatalogSourceError) -> Self {
        HeldError::Catalog(Box::new(e))
    }
}

/// A release payload item (`openshift/release-images`).
fn is_payload(item: &GoalItem) -> bool {
    item.category == Category::Release
        && item
            .dest_name
            .as_ref()
            .is_some_and(|n| n.path == RELEASE_PAYLOAD_REPO)
}

/// Renders and writes the resources of what the journal says the target holds.
pub fn render_held(input: &HeldInput<'_>, journal: &Journal) -> Result<RenderedTarget, HeldError> {
    let mut images = Vec::new();
    let mut not_held = Vec::new();
    let mut payloads = Vec::new();
    for item in input.items {
        let digest = item.origin.digest().or_else(|| {
            input
                .lock
                .and_then(|l| l.digest_of(&item.set, &item.origin))
        });
        let dest = item.dest(input.dest).ok();
        let held = match (digest, &dest) {
            (Some(d), Some(dest)) => journal
                .get(&dest.to_string())
                .is_some_and(|r| &r.source_digest == d),
            _ => false,
        };
        let Some(dest) = dest.filter(|_| held) else {
            not_held.push(item.origin.to_string());
            continue;
        };
        let mirror = match item.origin.digest() {
            Some(d) => match item.origin.tag() {
                Some(_) => dest.pinned(d.clone()),
                None => dest.repository().with_digest(d.clone()),
            },
            None => dest,
        };
        if is_payload(item)
            && let Some(d) = item.origin.digest()
        {
            payloads.push(d.clone());
        }
        images.push(MirroredImage {
            source: item.origin.clone(),
            mirror,
            category: item.category,
        });
    }
    images.sort();
    images.dedup();
    let opts = input.options;
    let mut rendered = render(&images, opts)?;
    // Verified release signatures (saved by `verify-signature` tasks) of the payloads held.
    let sigs: Vec<(Digest, Vec<Vec<u8>>)> = payloads
        .into_iter()
        .map(|d| {
            let s = saved_signatures(input.signatures_dir, &d);
            (d, s)
        })
        .collect();
    rendered
        .files
        .extend(render_signature_configmaps(&sigs, opts)?);
    // `graph #true`: the UpdateService, once the graph-data image is at the target.
    if input.graph
        && let (Ok(graph), Ok(payload_repo)) = (
            graph_image_dest(input.dest),
            named_destination(input.dest, RELEASE_PAYLOAD_REPO, "x"),
        )
        && let Some(rec) = journal.get(&graph.to_string())
    {
        let (name, text) = render_update_service(
            payload_repo.repository(),
            graph.repository(),
            &rec.output_digest,
            opts,
        )?;
        rendered.files.insert(name, text.into_bytes());
    }
    let catalogs = held_catalogs(input, journal, &mut not_held)?;
    let catalog_files = render_catalog_sources(&catalogs, opts)?;
    rendered.files.extend(
        catalog_files
            .into_iter()
            .map(|(name, text)| (name, text.into_bytes())),
    );
    write_dir(&rendered, input.dir).map_err(|source| HeldError::Write {
        dir: input.dir.to_path_buf(),
        source,
    })?;
    Ok(RenderedTarget {
        dir: input.dir.to_path_buf(),
        files: rendered.files.len(),
        held: images.len() + catalogs.len(),
        not_held,
        notes: rendered.notes,
    })
}

/// Rebuilt catalogs the target holds: the journal records their prune task (or, for a catalog
/// inherited from another target, the copy of that target's rebuild) done from the locked
/// catalog digest. Reads each `catalog-source-template`.
fn held_catalogs(
    input: &HeldInput<'_>,
    journal: &Journal,
    not_held: &mut Vec<String>,
) -> Result<Vec<MirroredCatalog>, HeldError> {
    let mut out = Vec::new();
    for c in input.catalogs {
        // Rebuilt here (also from an archive), or copied from the target it is inherited from.
        // From an archive: rebuilt here, or copied as is when the archive carries it rebuilt.
        let held_kinds: &[KindName] = match (&c.via, &c.archive) {
            (Some(_), None) => &[KindName::Copy],
            (Some(_), Some(_)) => &[KindName::PruneCatalog, KindName::Unpack],
            (None, _) => &[KindName::PruneCatalog],
        };
        let digest = c
            .source
            .digest()
            .or_else(|| input.lock.and_then(|l| l.digest_of(&c.set, &c.source)));
        let dest = c.dest(input.dest).ok();
        let held = match (digest, &dest) {
            (Some(d), Some(dest)) => journal
                .get(&dest.to_string())
                .is_some_and(|r| held_kinds.contains(&r.kind) && &r.source_digest == d),
            _ => false,
        };
        let Some(image) = dest.filter(|_| held) else {
            not_held.push(format!("catalog {}", c.source));
            continue;
        };
        let template = match input.templates.get(&c.set) {
            Some((name, path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| HeldError::Template {
                    path: path.clone(),
                    source,
                })?;
                Some((name.clone(), text))
            }
            None => None,
        };
        out.push(MirroredCatalog { image, template });
    }
    Ok(out)
}
