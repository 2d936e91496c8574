//! Grouping mirrored images into source → mirrors entries at a mirror scope, and the refusal of
//! scope widenings that would redirect a source to a mirror that does not hold its content.
//!
//! Pure: works on [`MirroredImage`] values only. Every renderer (IDMS, ITMS, ICSP,
//! registries.conf, install-config) reads the [`Grouped`] result, so they all agree.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Category, MirrorScope, MirroredImage, ResourceError, ResourceOptions};

/// source prefix → mirror prefixes, sorted and deduplicated.
pub type Entries = BTreeMap<String, BTreeSet<String>>;

/// The entries every document is rendered from.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Grouped {
    /// Entries for pulls by digest (IDMS, ICSP, install-config), per category.
    pub digest: BTreeMap<Category, Entries>,
    /// Entries for pulls by tag (ITMS), per category.
    pub tag: BTreeMap<Category, Entries>,
    /// The scope actually used.
    pub scope: MirrorScope,
    pub notes: Vec<String>,
}

impl Grouped {
    /// Digest entries of every category merged: what the installer and hosts need.
    pub fn all_digest(&self) -> Entries {
        merge(self.digest.values())
    }

    /// Tag entries of every category merged.
    pub fn all_tag(&self) -> Entries {
        merge(self.tag.values())
    }
}

fn merge<'a>(maps: impl Iterator<Item = &'a Entries>) -> Entries {
    let mut out = Entries::new();
    for m in maps {
        for (source, mirrors) in m {
            out.entry(source.clone())
                .or_default()
                .extend(mirrors.iter().cloned());
        }
    }
    out
}

/// Where a source repository sits under a scope prefix: `prefix` + `/` + `rest`
/// (`rest` is empty at repository scope).
struct Scoped {
    prefix: String,
    rest: String,
}

fn scoped(image: &MirroredImage, scope: MirrorScope) -> Scoped {
    let repo = image.source.repository();
    let path = repo.path();
    match scope {
        MirrorScope::Repository => Scoped {
            prefix: repo.to_string(),
            rest: String::new(),
        },
        MirrorScope::Namespace => match path.rsplit_once('/') {
            Some((parent, last)) => Scoped {
                prefix: format!("{}/{parent}", repo.registry()),
                rest: last.to_string(),
            },
            None => Scoped {
                prefix: repo.to_string(),
                rest: String::new(),
            },
        },
        MirrorScope::Registry => Scoped {
            prefix: repo.registry().to_string(),
            rest: path.to_string(),
        },
    }
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// Groups `images` into entries at the requested scope.
///
/// - An image whose source has a digest goes to the digest entries; a source with a tag only
///   goes to the tag entries, and release images by tag also to the digest entries (the
///   installer and `oc adm upgrade --to-image` pull the payload by digest).
/// - A tag entry needs the same tag at the mirror; an image renamed to another tag is left out
///   of the tag entries with a note.
/// - `folded_paths` forces repository scope (with a note).
/// - A wider scope is refused unless every image whose source lies under a widened prefix is
///   mirrored at mirror prefix + the same remaining path.
pub fn group(images: &[MirroredImage], opts: &ResourceOptions) -> Result<Grouped, ResourceError> {
    let mut notes = Vec::new();
    let scope = if opts.folded_paths && opts.scope != MirrorScope::Repository {
        notes.push(format!(
            "mirror scope `{}` was narrowed to `repository`: the target folds paths (max-nested-paths), so wider entries would redirect to repositories that do not exist",
            opts.scope
        ));
        MirrorScope::Repository
    } else {
        opts.scope
    };

    let mut sorted: Vec<&MirroredImage> = images.iter().collect();
    sorted.sort();
    sorted.dedup();

    for image in &sorted {
        if let (Some(s), Some(m)) = (image.source.digest(), image.mirror.digest())
            && s != m
        {
            return Err(ResourceError::DigestMismatch {
                source_ref: image.source.to_string(),
                mirror: image.mirror.to_string(),
            });
        }
    }

    let mut actual: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for image in &sorted {
        actual
            .entry(image.source.repository().to_string())
            .or_default()
            .insert(image.mirror.repository().to_string());
    }

    let mut grouped = Grouped {
        scope,
        ..Grouped::default()
    };
    let mut prefixes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Images whose mirror path does not end with their path below the scope prefix. When a
    // sibling gives the prefix a mirror, the widening check below names the would-be mirror;
    // otherwise the first of these is the error.
    let mut renamed = Vec::new();
    for image in &sorted {
        let s = scoped(image, scope);
        let mirror_repo = image.mirror.repository().to_string();
        let mirror_prefix = if s.rest.is_empty() {
            mirror_repo.clone()
        } else {
            match mirror_repo.strip_suffix(&format!("/{}", s.rest)) {
                Some(p) => p.to_string(),
                None => {
                    renamed.push(ResourceError::RenamedUnderScope {
                        scope,
                        prefix: s.prefix,
                        rest: s.rest,
                        source_repo: image.source.repository().to_string(),
                        actual: mirror_repo,
                    });
                    continue;
                }
            }
        };
        prefixes
            .entry(s.prefix.clone())
            .or_default()
            .insert(mirror_prefix.clone());

        let by_digest = image.source.digest().is_some();
        let by_tag = image.source.tag().is_some() && !by_digest;
        if by_digest || (by_tag && image.category == Category::Release) {
            insert(
                &mut grouped.digest,
                image.category,
                &s.prefix,
                &mirror_prefix,
            );
        }
        if by_tag {
            if image.mirror.tag() == image.source.tag() {
                insert(&mut grouped.tag, image.category, &s.prefix, &mirror_prefix);
            } else {
                notes.push(format!(
                    "`{}` is mirrored as `{}` under another tag, so no ImageTagMirrorSet entry can redirect it; pull it by digest",
                    image.source, image.mirror
                ));
            }
        }
    }

    if scope != MirrorScope::Repository {
        refuse_bad_widening(scope, &prefixes, &actual)?;
    }
    if let Some(e) = renamed.into_iter().next() {
        return Err(e);
    }
    notes.dedup();
    grouped.notes = notes;
    Ok(grouped)
}

fn insert(
    map: &mut BTreeMap<Category, Entries>,
    category: Category,
    prefix: &str,
    mirror_prefix: &str,
) {
    map.entry(category)
        .or_default()
        .entry(prefix.to_string())
        .or_default()
        .insert(mirror_prefix.to_string());
}

/// Every pair prefix → mirror prefix must send every source under the prefix to a repository
/// that holds its content.
fn refuse_bad_widening(
    scope: MirrorScope,
    prefixes: &BTreeMap<String, BTreeSet<String>>,
    actual: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), ResourceError> {
    for (prefix, mirror_prefixes) in prefixes {
        // Sources equal to the prefix or below it: `prefix/…` sorts between `prefix/` and
        // `prefix0` (`0` follows `/` in ASCII).
        let below = actual.range(format!("{prefix}/")..format!("{prefix}0"));
        let exact = actual.get_key_value(prefix);
        let under: Vec<(&String, &BTreeSet<String>)> = exact.into_iter().chain(below).collect();
        for mirror_prefix in mirror_prefixes {
            for &(source_repo, mirrors) in &under {
                let rest = source_repo
                    .strip_prefix(prefix.as_str())
                    .map(|r| r.trim_start_matches('/'))
                    .unwrap_or_default();
                let would_be = join(mirror_prefix, rest);
                if !mirrors.contains(&would_be) {
                    return Err(ResourceError::WideningRefused {
                        scope,
                        prefix: prefix.clone(),
                        mirror_prefix: mirror_prefix.clone(),
                        source_repo: source_repo.clone(),
                        would_be,
                        actual: mirrors.iter().cloned().collect::<Vec<_>>().join("`, `"),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(src: &str, dst: &str, category: Category) -> MirroredImage {
        MirroredImage {
            source: src.parse().unwrap(),
            mirror: dst.parse().unwrap(),
            category,
        }
    }

    fn opts(scope: MirrorScope) -> ResourceOptions {
        ResourceOptions {
            target: "t".into(),
            scope,
            ..ResourceOptions::default()
        }
    }

    #[test]
    fn namespace_scope_groups_siblings() {
        let images = [
            img("quay.io/ns/a:1", "m:5000/ns/a:1", Category::Generic),
            img("quay.io/ns/b:2", "m:5000/ns/b:2", Category::Generic),
        ];
        let g = group(&images, &opts(MirrorScope::Namespace)).unwrap();
        let tag = &g.tag[&Category::Generic];
        assert_eq!(tag.len(), 1);
        assert!(tag["quay.io/ns"].contains("m:5000/ns"));
        assert!(g.digest.is_empty());
    }

    #[test]
    fn widening_is_refused_when_a_sibling_lives_elsewhere() {
        let images = [
            img("quay.io/ns/a:1", "m:5000/ns/a:1", Category::Generic),
            img("quay.io/ns/b/c:2", "m:5000/other/c:2", Category::Generic),
        ];
        let e = group(&images, &opts(MirrorScope::Registry)).unwrap_err();
        assert!(matches!(
            e,
            ResourceError::RenamedUnderScope { .. } | ResourceError::WideningRefused { .. }
        ));
        let e = group(&images[..1], &opts(MirrorScope::Registry));
        assert!(e.is_ok());
    }

    #[test]
    fn nested_sources_under_a_widened_prefix_are_checked() {
        let images = [
            img("quay.io/ns/a:1", "m:5000/ns/a:1", Category::Generic),
            img("quay.io/ns/sub/b:1", "m:5000/x/sub/b:1", Category::Generic),
        ];
        let e = group(&images, &opts(MirrorScope::Namespace)).unwrap_err();
        match e {
            ResourceError::WideningRefused {
                source_repo,
                would_be,
                ..
            } => {
                assert_eq!(source_repo, "quay.io/ns/sub/b");
                assert_eq!(would_be, "m:5000/ns/sub/b");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn folded_paths_force_repository_scope() {
        let images = [img("quay.io/ns/a:1", "m:5000/ns-a:1", Category::Generic)];
        let mut o = opts(MirrorScope::Registry);
        o.folded_paths = true;
        let g = group(&images, &o).unwrap();
        assert_eq!(g.scope, MirrorScope::Repository);
        assert_eq!(g.notes.len(), 1);
    }

    #[test]
    fn release_by_tag_goes_to_both_kinds() {
        let images = [img(
            "quay.io/openshift-release-dev/ocp-release:4.15.3-x86_64",
            "m:5000/openshift/release-images:4.15.3-x86_64",
            Category::Release,
        )];
        let g = group(&images, &opts(MirrorScope::Repository)).unwrap();
        assert!(g.digest.contains_key(&Category::Release));
        assert!(g.tag.contains_key(&Category::Release));
    }

    #[test]
    fn digest_mismatch_is_an_error() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let images = [img(
            &format!("quay.io/ns/a@{a}"),
            &format!("m:5000/ns/a@{b}"),
            Category::Generic,
        )];
        assert!(matches!(
            group(&images, &opts(MirrorScope::Repository)),
            Err(ResourceError::DigestMismatch { .. })
        ));
    }
}
