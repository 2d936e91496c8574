//! Cross-reference validation over all files of a recipe: one global namespace for content
//! sets, trusts, targets and deletes; `needs`, `only`, `applies-to` and `from=` resolution;
//! cycles among targets; `only` naming something the target does not carry.
//!
//! Pure: works on decoded data and pushes errors; no I/O.

use std::collections::BTreeSet;

use miette::SourceSpan;

use super::diagnostics::{FileId, RecipeError, SourceFile, closest};
use super::model::{Need, Origin, Recipe, Spanned, TargetLocation};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Set,
    Trust,
    Target,
    Delete,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Set => "a content set",
            Kind::Trust => "a trust",
            Kind::Target => "a target",
            Kind::Delete => "a delete",
        }
    }
}

struct Entry {
    name: String,
    kind: Kind,
    file: FileId,
    span: SourceSpan,
}

struct Names<'b> {
    entries: Vec<Entry>,
    /// Names of declarations that failed to decode (already reported): references to them are
    /// not reported again.
    broken: &'b BTreeSet<String>,
}

impl Names<'_> {
    fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    fn of_kinds(&self, kinds: &[Kind]) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| e.name.as_str())
            .collect()
    }
}

fn err(
    files: &[SourceFile],
    file: FileId,
    span: SourceSpan,
    label: &str,
    msg: String,
) -> RecipeError {
    RecipeError::at(file, &files[file], span, label, msg)
}

/// Collects names; reports duplicates pointing at both declarations.
fn names<'b>(
    recipe: &Recipe,
    broken: &'b BTreeSet<String>,
    errors: &mut Vec<RecipeError>,
) -> Names<'b> {
    let mut all: Vec<(Kind, Origin, &Spanned<String>)> = Vec::new();
    all.extend(
        recipe
            .sets
            .iter()
            .map(|s| (Kind::Set, s.origin(), s.name())),
    );
    all.extend(
        recipe
            .trusts
            .iter()
            .map(|t| (Kind::Trust, t.origin, &t.name)),
    );
    all.extend(
        recipe
            .targets
            .iter()
            .map(|t| (Kind::Target, t.origin, &t.name)),
    );
    all.extend(
        recipe
            .deletes
            .iter()
            .map(|d| (Kind::Delete, d.origin, &d.name)),
    );
    let mut names = Names {
        entries: Vec::new(),
        broken,
    };
    for (kind, origin, name) in all {
        if let Some(why) = bad_name(&name.value) {
            errors.push(
                err(
                    &recipe.files,
                    origin.file,
                    name.span,
                    "not usable as a name",
                    format!("the name `{}` {why}", name.value.escape_debug()),
                )
                .help(
                    "names become file and directory names in the workspace: use letters, digits, `.`, `_` and `-`, starting with a letter or digit (at most 128 characters)",
                ),
            );
        }
        if let Some(first) = names.get(&name.value) {
            let msg = format!("the name `{}` is used twice", name.value);
            let help = "content sets, trusts, targets and deletes share one namespace (across included files): rename one of them";
            let e = err(
                &recipe.files,
                origin.file,
                name.span,
                "used again here",
                msg,
            );
            let e = if first.file == origin.file {
                e.also(
                    first.span,
                    format!("first used here for {}", first.kind.noun()),
                )
                .help(help)
            } else {
                let at = recipe.files[first.file].location(first.span);
                e.help(format!(
                    "first used for {} at {at}; {help}",
                    first.kind.noun()
                ))
            };
            errors.push(e);
        } else {
            names.entries.push(Entry {
                name: name.value.clone(),
                kind,
                file: origin.file,
                span: name.span,
            });
        }
    }
    names
}

/// Reports a registry host given settings twice (in one file or across included files).
fn registries_once(recipe: &Recipe, errors: &mut Vec<RecipeError>) {
    for (i, r) in recipe.registries.iter().enumerate() {
        let Some(first) = recipe.registries[..i]
            .iter()
            .find(|f| f.host.value == r.host.value)
        else {
            continue;
        };
        let (file, span) = (r.origin.file, r.host.span);
        let msg = format!("registry `{}` is set twice", r.host.value);
        let e = err(&recipe.files, file, span, "set again here", msg);
        let help = "give each registry host one `registry` node";
        errors.push(if first.origin.file == file {
            e.also(first.host.span, "first set here").help(help)
        } else {
            let at = recipe.files[first.origin.file].location(first.host.span);
            e.help(format!("first set at {at}; {help}"))
        });
    }
}

/// Why `name` cannot name a content set, trust, target or delete, if it cannot: names become
/// paths (`out/<target>/…`, `state/shipped-<target>.json`), so a `/`, a `..` or a leading dot
/// would reach outside the workspace or hide a file.
fn bad_name(name: &str) -> Option<&'static str> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > 128 {
        Some("is longer than 128 characters")
    } else if !first_ok {
        Some("does not start with a letter or a digit")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("contains a character other than letters, digits, `.`, `_` and `-`")
    } else if name.contains("..") {
        Some("contains `..`")
    } else {
        None
    }
}

/// Checks references against the name table, pushing an error for each bad one.
struct Resolver<'a> {
    files: &'a [SourceFile],
    names: &'a Names<'a>,
    errors: &'a mut Vec<RecipeError>,
}

/// One reference to check: who wrote it, what it must name.
struct Ref<'r> {
    file: FileId,
    name: &'r Spanned<String>,
    wanted: &'r [Kind],
    /// The property or node that holds the reference, e.g. "`needs`".
    what: &'r str,
    /// The declaration holding the reference (left out of suggestions).
    referrer: &'r str,
}

impl Resolver<'_> {
    /// The kind of what `r` names, or `None` (with an error) when it names nothing suitable.
    fn check(&mut self, r: Ref<'_>) -> Option<Kind> {
        let expected = r
            .wanted
            .iter()
            .map(|k| k.noun())
            .collect::<Vec<_>>()
            .join(" or ");
        let name = &r.name.value;
        match self.names.get(name) {
            Some(e) if r.wanted.contains(&e.kind) => Some(e.kind),
            Some(e) => {
                let at = self.files[e.file].location(e.span);
                let msg = format!(
                    "`{name}` is {}, but {} names {expected}",
                    e.kind.noun(),
                    r.what
                );
                self.errors.push(
                    err(self.files, r.file, r.name.span, "wrong kind", msg).help(format!(
                        "`{name}` is declared at {at}; name {expected} here"
                    )),
                );
                None
            }
            None if self.names.broken.contains(name) => None,
            None => {
                let mut candidates = self.names.of_kinds(r.wanted);
                candidates.retain(|c| *c != r.referrer);
                let help = match closest(name, &candidates) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if candidates.is_empty() => format!("declare {expected} named `{name}`"),
                    None => format!("known names: {}", candidates.join(", ")),
                };
                let msg = format!("{} names `{name}`, which is not declared", r.what);
                self.errors
                    .push(err(self.files, r.file, r.name.span, "unknown name", msg).help(help));
                None
            }
        }
    }
}

/// Resolves references in place and reports every cross-reference problem.
pub(crate) fn validate(
    recipe: &mut Recipe,
    broken: &BTreeSet<String>,
    errors: &mut Vec<RecipeError>,
) {
    let names = names(recipe, broken, errors);
    registries_once(recipe, errors);
    let files = recipe.files.clone();
    let mut res = Resolver {
        files: &files,
        names: &names,
        errors,
    };
    for t in &mut recipe.targets {
        let file = t.origin.file;
        let referrer = t.name.value.clone();
        let mut resolved = Vec::new();
        for need in &t.needs {
            let (Need::Set(n) | Need::Target(n)) = &need.value;
            let name = Spanned::new(n.clone(), need.span);
            let wanted = [Kind::Set, Kind::Target];
            let r = Ref {
                file,
                name: &name,
                wanted: &wanted,
                what: "`needs`",
                referrer: &referrer,
            };
            match res.check(r) {
                Some(Kind::Target) => {
                    resolved.push(Spanned::new(Need::Target(n.clone()), need.span))
                }
                Some(_) => resolved.push(Spanned::new(Need::Set(n.clone()), need.span)),
                None => {}
            }
        }
        t.needs = resolved;
        let only = std::mem::take(&mut t.only);
        t.only = only
            .into_iter()
            .filter(|o| {
                let r = Ref {
                    file,
                    name: o,
                    wanted: &[Kind::Set],
                    what: "`only`",
                    referrer: &referrer,
                };
                res.check(r).is_some()
            })
            .collect();
    }
    for tr in &recipe.trusts {
        for a in &tr.applies_to {
            let r = Ref {
                file: tr.origin.file,
                name: a,
                wanted: &[Kind::Set],
                what: "`applies-to`",
                referrer: "",
            };
            res.check(r);
        }
    }
    for d in &recipe.deletes {
        let r = Ref {
            file: d.origin.file,
            name: &d.from,
            wanted: &[Kind::Target],
            what: "`from=`",
            referrer: "",
        };
        if res.check(r).is_some()
            && let Some(t) = recipe.target(&d.from.value)
            && !matches!(t.location.value, TargetLocation::Registry { .. })
        {
            let msg = format!(
                "cannot delete from `{}`: it is a directory, not a registry",
                d.from.value
            );
            res.errors.push(
                err(
                    &files,
                    d.origin.file,
                    d.from.span,
                    "a directory target",
                    msg,
                )
                .help("name a docker:// target in from=; archives are rebuilt, not edited"),
            );
        }
    }
    let cyclic = cycles(recipe, errors);
    only_carried(recipe, &cyclic, errors);
}

/// Reports each cycle among targets once, naming it `a → b → a`; returns the targets on cycles.
fn cycles(recipe: &Recipe, errors: &mut Vec<RecipeError>) -> BTreeSet<String> {
    let mut on_cycle = BTreeSet::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    for t in &recipe.targets {
        let mut stack = Vec::new();
        walk(
            recipe,
            &t.name.value,
            &mut stack,
            &mut done,
            &mut |cycle: Vec<String>| {
                let mut key = cycle[..cycle.len() - 1].to_vec();
                key.sort();
                on_cycle.extend(key.iter().cloned());
                if !reported.insert(key) {
                    return;
                }
                let closing = &cycle[cycle.len() - 2];
                let back = &cycle[cycle.len() - 1];
                let Some(from) = recipe.target(closing) else {
                    return;
                };
                let Some(need) = from
                    .needs
                    .iter()
                    .find(|n| n.value == Need::Target(back.clone()))
                else {
                    return;
                };
                errors.push(
                err(&recipe.files, from.origin.file, need.span, "closes the cycle", format!("targets depend on each other in a cycle: {}", cycle.join(" → ")))
                    .help("a target can take content only from targets that do not, directly or indirectly, need it; remove one of these `needs`"),
            );
            },
        );
    }
    on_cycle
}

fn walk(
    recipe: &Recipe,
    name: &str,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    found: &mut dyn FnMut(Vec<String>),
) {
    if let Some(pos) = stack.iter().position(|s| s == name) {
        let mut cycle = stack[pos..].to_vec();
        cycle.push(name.to_string());
        found(cycle);
        return;
    }
    if done.contains(name) {
        return;
    }
    let Some(t) = recipe.target(name) else { return };
    stack.push(name.to_string());
    for up in t.needed_targets() {
        walk(recipe, up, stack, done, found);
    }
    stack.pop();
    done.insert(name.to_string());
}

/// `only` may name only content sets the needed targets carry.
fn only_carried(recipe: &Recipe, cyclic: &BTreeSet<String>, errors: &mut Vec<RecipeError>) {
    for t in &recipe.targets {
        let Some(first) = t.only.first() else {
            continue;
        };
        if cyclic.contains(&t.name.value) {
            continue;
        }
        let ups: Vec<&str> = t.needed_targets().collect();
        if ups.is_empty() {
            errors.push(
                err(&recipe.files, t.origin.file, first.span, "nothing to narrow", format!("target `{}` uses `only` but needs no other target", t.name.value))
                    .help("`only` narrows what is inherited from needed targets; list the content sets in `needs` instead"),
            );
            continue;
        }
        let inherited: BTreeSet<String> = ups.iter().flat_map(|u| recipe.carried_sets(u)).collect();
        for o in &t.only {
            if !inherited.contains(&o.value) {
                let list = if inherited.is_empty() {
                    "nothing".to_string()
                } else {
                    inherited.iter().cloned().collect::<Vec<_>>().join(", ")
                };
                errors.push(
                    err(&recipe.files, t.origin.file, o.span, "not carried", format!("target `{}` does not inherit `{}` from {}", t.name.value, o.value, ups.join(", ")))
                        .help(format!("the needed targets carry: {list}; add `{}` to their `needs` or remove it here", o.value)),
                );
            }
        }
    }
}
