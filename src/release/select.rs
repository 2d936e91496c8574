//! Release selection: which versions of which channels to mirror, from update graphs.
//!
//! Per channel and architecture:
//! - no `min`: the latest release only (the highest version, at most `max` when given);
//! - `min` (and `max`, default the channel's latest): every release in `[min, max]`;
//! - `shortest-path #true` with `min`: the shortest upgrade path from `min` to `max` over the
//!   channel's edges (conditional edges included, with a warning naming their risks).
//!
//! A release set with several channels also gets the cross-channel path: from the lowest `min`
//! to the highest `max` over the union of its channels' graphs. When that union has no path
//! (EUS-to-EUS upgrades cross an odd minor that the EUS channels do not carry), the graphs of
//! the intermediate `stable-X.Y` channels ([`helper_channels`]) are added, and every release
//! taken only from them is reported in a warning.
//!
//! Tie-break: breadth-first search visits successors from the highest version down and keeps
//! the first parent found, so among equally short paths the one that goes to the highest
//! version at its first step wins, then at its second step, and so on.
//!
//! Pure: graphs in, [`Selection`] out. No I/O.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use semver::Version;

use super::graph::{GraphNode, UpdateGraph};
use crate::oci::ImageRef;
use crate::recipe::{Recipe, RecipeError, ReleaseSet};

/// One `channel` line of a release set, without spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRequest {
    pub channel: String,
    pub min: Option<Version>,
    pub max: Option<Version>,
    pub shortest_path: bool,
}

/// One release payload to mirror.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelectedRelease {
    pub version: Version,
    pub arch: String,
    /// The payload as the graph names it, pinned by digest.
    pub payload: ImageRef,
    /// Channels it was selected from (helper channels included).
    pub channels: BTreeSet<String>,
}

/// `release "x" image="…"`: a payload named directly, without the update graph. Its version
/// is read from the payload's `release-metadata`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirectPayload {
    pub image: ImageRef,
    pub arch: String,
}

/// What to mirror for one release set, sorted and deduplicated, plus things the user should
/// know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub releases: Vec<SelectedRelease>,
    pub direct: Vec<DirectPayload>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum SelectError {
    #[error("no update graph was loaded for channel `{channel}` ({arch})")]
    #[diagnostic(
        code(airlift::release::graph_missing),
        help("fetch the channel's graph (or run without --offline once) before selecting")
    )]
    MissingGraph { channel: String, arch: String },
    #[error("channel `{channel}` ({arch}) lists no releases")]
    #[diagnostic(
        code(airlift::release::empty_channel),
        help("check the channel name and architecture with `airlift list releases`")
    )]
    EmptyChannel { channel: String, arch: String },
    #[error(
        "channel `{channel}` ({arch}) has no release at or below max {max}; its oldest is {oldest}"
    )]
    #[diagnostic(
        code(airlift::release::below_channel),
        help("raise `max` to {oldest} or later, or pick an older channel")
    )]
    NothingBelowMax {
        channel: String,
        arch: String,
        max: String,
        oldest: String,
    },
    #[error("channel `{channel}`: min {min} is above max {max}")]
    #[diagnostic(
        code(airlift::release::min_above_max),
        help("lower `min` or raise `max` (without `max`, it is the channel's newest release)")
    )]
    MinAboveMax {
        channel: String,
        min: String,
        max: String,
    },
    #[error("channel `{channel}` ({arch}) has no release between {min} and {max}; it has {known}")]
    #[diagnostic(
        code(airlift::release::empty_range),
        help("widen `min`/`max` to include one of the listed releases")
    )]
    EmptyRange {
        channel: String,
        arch: String,
        min: String,
        max: String,
        known: String,
    },
    #[error(
        "channel `{channel}` ({arch}) does not contain {version}, so no upgrade path can start or end there; nearest: {nearest}"
    )]
    #[diagnostic(
        code(airlift::release::not_in_channel),
        help(
            "with shortest-path, `min` and `max` must be releases of the channel; pick one of the nearest releases"
        )
    )]
    NotInChannel {
        channel: String,
        arch: String,
        version: String,
        nearest: String,
    },
    #[error("channel `{channel}` ({arch}) has no upgrade path from {from} to {to}")]
    #[diagnostic(
        code(airlift::release::no_path),
        help(
            "drop shortest-path to mirror the whole range, or add the channel that carries the intermediate releases"
        )
    )]
    NoPath {
        channel: String,
        arch: String,
        from: String,
        to: String,
    },
    #[error(
        "release {version} ({arch}) has payload `{first}` in one channel and `{second}` in another"
    )]
    #[diagnostic(
        code(airlift::release::payload_conflict),
        help(
            "the update graphs disagree; fetch them again (delete the stored responses) and report it if it persists"
        )
    )]
    PayloadConflict {
        version: String,
        arch: String,
        first: String,
        second: String,
    },
}

impl SelectError {
    /// The channel the error is about (`None` for a payload conflict).
    pub fn channel(&self) -> Option<&str> {
        match self {
            SelectError::MissingGraph { channel, .. }
            | SelectError::EmptyChannel { channel, .. }
            | SelectError::NothingBelowMax { channel, .. }
            | SelectError::MinAboveMax { channel, .. }
            | SelectError::EmptyRange { channel, .. }
            | SelectError::NotInChannel { channel, .. }
            | SelectError::NoPath { channel, .. } => Some(channel),
            SelectError::PayloadConflict { .. } => None,
        }
    }
}

/// `err` as a recipe diagnostic: labelled at the channel line it is about (or the set's name),
/// with the error's help. `None` when `set` does not come from `recipe`'s files.
pub fn recipe_error(recipe: &Recipe, set: &ReleaseSet, err: &SelectError) -> Option<RecipeError> {
    let span = err
        .channel()
        .and_then(|c| set.channels.iter().find(|ch| ch.name.value == c))
        .map_or(set.name.span, |ch| ch.name.span);
    let label = match err.channel() {
        Some(c) => format!("channel `{c}`"),
        None => format!("release `{}`", set.name.value),
    };
    let e = recipe.error_at(set.origin.file, span, label, err.to_string())?;
    Some(match miette::Diagnostic::help(err) {
        Some(h) => e.help(h.to_string()),
        None => e,
    })
}

/// The channel lines of a recipe release set.
pub fn requests_of(set: &ReleaseSet) -> Vec<ChannelRequest> {
    set.channels
        .iter()
        .map(|c| ChannelRequest {
            channel: c.name.value.clone(),
            min: c.min.as_ref().map(|m| m.value.clone()),
            max: c.max.as_ref().map(|m| m.value.clone()),
            shortest_path: c.shortest_path,
        })
        .collect()
}

/// Channels whose graphs the cross-channel path may need besides the requested ones:
/// `stable-X.Y` for every minor after the lowest `min` up to the highest `max` (same major),
/// minus the requested channels. Empty for fewer than two channels. Fetch what exists of these
/// (a missing one is not an error) and pass them to [`select`] with the requested graphs.
pub fn helper_channels(requests: &[ChannelRequest]) -> Vec<String> {
    if requests.len() < 2 {
        return Vec::new();
    }
    let Some(low) = requests.iter().filter_map(|r| r.min.as_ref()).min() else {
        return Vec::new();
    };
    let high_minor = requests
        .iter()
        .flat_map(|r| {
            [
                r.max
                    .as_ref()
                    .filter(|m| m.major == low.major)
                    .map(|m| m.minor),
                channel_minor(&r.channel)
                    .filter(|(major, _)| *major == low.major)
                    .map(|(_, minor)| minor),
            ]
        })
        .flatten()
        .max()
        .unwrap_or(low.minor);
    let requested: BTreeSet<&str> = requests.iter().map(|r| r.channel.as_str()).collect();
    ((low.minor + 1)..=high_minor)
        .map(|minor| format!("stable-{}.{minor}", low.major))
        .filter(|c| !requested.contains(c.as_str()))
        .collect()
}

/// `(major, minor)` from a channel name like `eus-4.16` or `stable-4.15`.
fn channel_minor(channel: &str) -> Option<(u64, u64)> {
    let (_, v) = channel.rsplit_once('-')?;
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Selects the releases of one release set for every architecture. `graphs` is keyed by
/// `(channel, arch)` and holds the requested channels and whichever [`helper_channels`]
/// exist. A set with `image=` bypasses the graph.
pub fn select_release_set(
    set: &ReleaseSet,
    graphs: &BTreeMap<(String, String), UpdateGraph>,
) -> Result<Selection, SelectError> {
    let arches: Vec<String> = if set.arch.is_empty() {
        vec!["amd64".to_string()]
    } else {
        set.arch.iter().map(|a| a.value.clone()).collect()
    };
    let mut out = Selection::default();
    if let Some(image) = &set.image {
        out.direct = arches
            .into_iter()
            .map(|arch| DirectPayload {
                image: image.value.clone(),
                arch,
            })
            .collect();
        out.direct.sort();
        out.direct.dedup();
        return Ok(out);
    }
    let requests = requests_of(set);
    for arch in arches {
        let of_arch: BTreeMap<String, UpdateGraph> = graphs
            .iter()
            .filter(|((_, a), _)| *a == arch)
            .map(|((c, _), g)| (c.clone(), g.clone()))
            .collect();
        let s = select(&requests, &arch, &of_arch)?;
        out.releases.extend(s.releases);
        out.warnings.extend(s.warnings);
    }
    out.releases = merge(out.releases)?;
    Ok(out)
}

/// Selects the releases of `requests` for one `arch`. `graphs` is keyed by channel and must
/// hold every requested channel; other entries are helper channels for the cross-channel path.
pub fn select(
    requests: &[ChannelRequest],
    arch: &str,
    graphs: &BTreeMap<String, UpdateGraph>,
) -> Result<Selection, SelectError> {
    let mut picked = Vec::new();
    let mut warnings = Vec::new();
    for req in requests {
        let graph = graphs
            .get(&req.channel)
            .ok_or_else(|| SelectError::MissingGraph {
                channel: req.channel.clone(),
                arch: arch.to_string(),
            })?;
        for node in select_channel(req, graph, &mut warnings)? {
            picked.push(selected(node, arch, [req.channel.clone()]));
        }
    }
    if requests.len() >= 2 {
        picked.extend(cross_channel(requests, arch, graphs, &mut warnings)?);
    }
    Ok(Selection {
        releases: merge(picked)?,
        direct: Vec::new(),
        warnings,
    })
}

fn selected(
    node: &GraphNode,
    arch: &str,
    channels: impl IntoIterator<Item = String>,
) -> SelectedRelease {
    SelectedRelease {
        version: node.version.clone(),
        arch: arch.to_string(),
        payload: node.payload.clone(),
        channels: channels.into_iter().collect(),
    }
}

/// Sorts by (version, arch) and merges duplicates' channels; a version with two payloads is an
/// error.
fn merge(mut releases: Vec<SelectedRelease>) -> Result<Vec<SelectedRelease>, SelectError> {
    releases.sort();
    let mut out: Vec<SelectedRelease> = Vec::with_capacity(releases.len());
    for r in releases {
        match out.last_mut() {
            Some(last) if last.version == r.version && last.arch == r.arch => {
                if last.payload != r.payload {
                    return Err(SelectError::PayloadConflict {
                        version: r.version.to_string(),
                        arch: r.arch,
                        first: last.payload.to_string(),
                        second: r.payload.to_string(),
                    });
                }
                last.channels.extend(r.channels);
            }
            _ => out.push(r),
        }
    }
    Ok(out)
}

fn select_channel<'g>(
    req: &ChannelRequest,
    graph: &'g UpdateGraph,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'g GraphNode>, SelectError> {
    let channel = || req.channel.clone();
    let arch = || graph.arch.clone();
    let Some(newest) = graph.latest(None) else {
        return Err(SelectError::EmptyChannel {
            channel: channel(),
            arch: arch(),
        });
    };
    let Some(min) = &req.min else {
        return match graph.latest(req.max.as_ref()) {
            Some(n) => Ok(vec![n]),
            None => Err(SelectError::NothingBelowMax {
                channel: channel(),
                arch: arch(),
                max: req.max.as_ref().unwrap_or(&newest.version).to_string(),
                oldest: graph
                    .nodes
                    .keys()
                    .next()
                    .unwrap_or(&newest.version)
                    .to_string(),
            }),
        };
    };
    let max = req.max.clone().unwrap_or_else(|| newest.version.clone());
    if *min > max {
        return Err(SelectError::MinAboveMax {
            channel: channel(),
            min: min.to_string(),
            max: max.to_string(),
        });
    }
    if req.shortest_path {
        for end in [min, &max] {
            if !graph.nodes.contains_key(end) {
                return Err(SelectError::NotInChannel {
                    channel: channel(),
                    arch: arch(),
                    version: end.to_string(),
                    nearest: nearest(graph.nodes.keys(), end),
                });
            }
        }
        let adj = adjacency([graph]);
        let path = shortest_path(&adj, min, &max).ok_or_else(|| SelectError::NoPath {
            channel: channel(),
            arch: arch(),
            from: min.to_string(),
            to: max.to_string(),
        })?;
        warn_conditional(&path, [graph], warnings);
        return Ok(path.iter().filter_map(|v| graph.nodes.get(v)).collect());
    }
    let range: Vec<&GraphNode> = graph
        .nodes
        .range(min.clone()..=max.clone())
        .map(|(_, n)| n)
        .collect();
    if range.is_empty() {
        return Err(SelectError::EmptyRange {
            channel: channel(),
            arch: arch(),
            min: min.to_string(),
            max: max.to_string(),
            known: nearest(graph.nodes.keys(), min),
        });
    }
    Ok(range)
}

/// The releases closest to `v` (one below, one above), for error messages.
fn nearest<'a>(versions: impl Iterator<Item = &'a Version> + Clone, v: &Version) -> String {
    let below = versions.clone().filter(|x| *x < v).max();
    let above = versions.filter(|x| *x > v).min();
    let list: Vec<String> = [below, above]
        .into_iter()
        .flatten()
        .map(Version::to_string)
        .collect();
    if list.is_empty() {
        "none".to_string()
    } else {
        list.join(", ")
    }
}

type Adjacency = BTreeMap<Version, BTreeSet<Version>>;

fn adjacency<'g>(graphs: impl IntoIterator<Item = &'g UpdateGraph>) -> Adjacency {
    let mut adj = Adjacency::new();
    for g in graphs {
        for (from, to) in &g.edges {
            adj.entry(from.clone()).or_default().insert(to.clone());
        }
    }
    adj
}

/// Breadth-first shortest path; successors are visited highest version first (see the module
/// header for the resulting tie-break).
fn shortest_path(adj: &Adjacency, from: &Version, to: &Version) -> Option<Vec<Version>> {
    if from == to {
        return Some(vec![from.clone()]);
    }
    let mut parent: BTreeMap<&Version, &Version> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        let Some(next) = adj.get(u) else { continue };
        for w in next.iter().rev() {
            if w == from || parent.contains_key(w) {
                continue;
            }
            parent.insert(w, u);
            if w == to {
                let mut path = vec![w.clone()];
                let mut cur = w;
                while let Some(p) = parent.get(cur) {
                    path.push((*p).clone());
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(w);
        }
    }
    None
}

fn warn_conditional<'g>(
    path: &[Version],
    graphs: impl IntoIterator<Item = &'g UpdateGraph> + Clone,
    warnings: &mut Vec<String>,
) {
    for step in path.windows(2) {
        let (from, to) = (&step[0], &step[1]);
        let risks: BTreeSet<&String> = graphs
            .clone()
            .into_iter()
            .filter_map(|g| g.risks(from, to))
            .flatten()
            .collect();
        // Only conditional when no graph offers the edge unconditionally.
        let unconditional = graphs
            .clone()
            .into_iter()
            .any(|g| g.edges.contains(&(from.clone(), to.clone())) && g.risks(from, to).is_none());
        if !risks.is_empty() && !unconditional {
            let names: Vec<&str> = risks.iter().map(|s| s.as_str()).collect();
            warnings.push(format!(
                "the upgrade path uses the conditional update {from} → {to} (risks: {}); the cluster must accept these risks to take it",
                names.join(", ")
            ));
        }
    }
}

fn cross_channel(
    requests: &[ChannelRequest],
    arch: &str,
    graphs: &BTreeMap<String, UpdateGraph>,
    warnings: &mut Vec<String>,
) -> Result<Vec<SelectedRelease>, SelectError> {
    let Some(from) = requests.iter().filter_map(|r| r.min.clone()).min() else {
        return Ok(Vec::new());
    };
    let requested: Vec<&UpdateGraph> = requests
        .iter()
        .filter_map(|r| graphs.get(&r.channel))
        .collect();
    let Some(to) = requests
        .iter()
        .filter_map(|r| {
            r.max.clone().or_else(|| {
                graphs
                    .get(&r.channel)
                    .and_then(|g| g.latest(None))
                    .map(|n| n.version.clone())
            })
        })
        .max()
    else {
        return Ok(Vec::new());
    };
    if to <= from {
        return Ok(Vec::new());
    }
    let names = |gs: &[&UpdateGraph]| -> String {
        gs.iter()
            .map(|g| g.channel.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let in_union = |gs: &[&UpdateGraph], v: &Version| gs.iter().any(|g| g.nodes.contains_key(v));
    let mut path = None;
    if in_union(&requested, &from) && in_union(&requested, &to) {
        path = shortest_path(&adjacency(requested.iter().copied()), &from, &to);
    }
    let mut all = requested.clone();
    if path.is_none() {
        all.extend(
            graphs
                .iter()
                .filter(|(c, _)| !requests.iter().any(|r| &r.channel == *c))
                .map(|(_, g)| g),
        );
        if in_union(&all, &from) && in_union(&all, &to) {
            path = shortest_path(&adjacency(all.iter().copied()), &from, &to);
        }
    }
    let Some(path) = path else {
        warnings.push(format!(
            "no upgrade path from {from} to {to} ({arch}) across channels {}: the selected releases do not form one upgrade path; add the channel that carries the intermediate releases (see the update graph)",
            names(&requested)
        ));
        return Ok(Vec::new());
    };
    warn_conditional(&path, all.iter().copied(), warnings);
    let mut out = Vec::new();
    for v in &path {
        let holders: Vec<&UpdateGraph> = requested
            .iter()
            .copied()
            .filter(|g| g.nodes.contains_key(v))
            .collect();
        let (holders, helper) = if holders.is_empty() {
            let h: Vec<&UpdateGraph> = all
                .iter()
                .copied()
                .filter(|g| g.nodes.contains_key(v))
                .collect();
            (h, true)
        } else {
            (holders, false)
        };
        let Some(node) = holders.first().and_then(|g| g.nodes.get(v)) else {
            continue;
        };
        for g in &holders[1..] {
            if let Some(other) = g.nodes.get(v)
                && other.payload != node.payload
            {
                return Err(SelectError::PayloadConflict {
                    version: v.to_string(),
                    arch: arch.to_string(),
                    first: node.payload.to_string(),
                    second: other.payload.to_string(),
                });
            }
        }
        if helper {
            warnings.push(format!(
                "added {v} ({arch}) from channel {}: the upgrade path {from} → {to} needs it and none of the channels {} contains it",
                names(&holders),
                names(&requested)
            ));
        }
        out.push(selected(
            node,
            arch,
            holders.iter().map(|g| g.channel.clone()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
