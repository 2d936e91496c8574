//! Checks that a filtered channel is still a valid OLM channel (one head under opm's rule, no
//! cycle) and, when it is not, works out which version bound to move.
//!
//! Pure; called by `filter.rs` with the channel graph and the set of kept entries.

use semver::Version;

use super::error::FilterError;
use super::graph::{ChannelGraph, EdgeRule};
use super::semver_range::cmp_precedence;

/// Where a filtered channel's entries came from, for the help text of a failed check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Selection<'a> {
    /// A version range: `[min, max]`, either side open.
    Range {
        min: Option<&'a Version>,
        max: Option<&'a Version>,
    },
    /// Named bundles.
    Bundles,
}

/// Whether `version` lies within `[min, max]` (inclusive, semver precedence).
pub(crate) fn in_range(version: &Version, min: Option<&Version>, max: Option<&Version>) -> bool {
    min.is_none_or(|m| cmp_precedence(version, m).is_ge())
        && max.is_none_or(|m| cmp_precedence(version, m).is_le())
}

/// The context of a check, for error messages.
pub(crate) struct Context<'a> {
    pub catalog: &'a str,
    pub package: &'a str,
    pub channel: &'a str,
}

/// Checks the kept entries (`kept[i]`) of a channel: exactly one head under opm's rule and no
/// cycle of `replaces`/`skips` edges.
pub(crate) fn check_channel(
    cx: &Context<'_>,
    graph: &ChannelGraph<'_>,
    kept: &[bool],
    selection: Selection<'_>,
) -> Result<(), FilterError> {
    let is_kept = |i: usize| kept[i];
    let cycle = graph.cycle(&is_kept);
    if !cycle.is_empty() {
        return Err(FilterError::Cycle {
            catalog: cx.catalog.to_string(),
            package: cx.package.to_string(),
            channel: cx.channel.to_string(),
            members: cycle.iter().map(|&i| graph.names[i].to_string()).collect(),
        });
    }
    let heads = graph.heads(EdgeRule::Opm, &is_kept);
    if heads.len() == 1 {
        return Ok(());
    }
    let help = match selection {
        Selection::Range { min, max } => range_help(graph, min, max),
        Selection::Bundles => "the named bundles are not connected by `replaces`/`skips`: name the bundles between them too, or one bundle per channel".to_string(),
    };
    Err(FilterError::MultipleHeads {
        catalog: cx.catalog.to_string(),
        package: cx.package.to_string(),
        channel: cx.channel.to_string(),
        heads: heads.iter().map(|&i| describe(graph, i)).collect(),
        help,
    })
}

fn describe(graph: &ChannelGraph<'_>, i: usize) -> String {
    match &graph.versions[i] {
        Some(v) => format!("{} ({v})", graph.names[i]),
        None => graph.names[i].to_string(),
    }
}

/// Whether the entries within `[min, max]` form a valid channel.
fn valid_with(graph: &ChannelGraph<'_>, min: Option<&Version>, max: Option<&Version>) -> bool {
    let kept: Vec<bool> = graph
        .versions
        .iter()
        .map(|v| v.as_ref().is_some_and(|v| in_range(v, min, max)))
        .collect();
    let is_kept = |i: usize| kept[i];
    kept.iter().any(|k| *k)
        && graph.cycle(&is_kept).is_empty()
        && graph.heads(EdgeRule::Opm, &is_kept).len() == 1
}

/// Suggests the smallest move of `max` up, or of `min` down, that makes the range valid.
fn range_help(graph: &ChannelGraph<'_>, min: Option<&Version>, max: Option<&Version>) -> String {
    let mut versions: Vec<&Version> = graph.versions.iter().flatten().collect();
    versions.sort_by(|a, b| cmp_precedence(a, b));
    let mut moves = Vec::new();
    if let Some(max) = max {
        let raise = versions
            .iter()
            .filter(|v| cmp_precedence(v, max).is_gt())
            .find(|v| valid_with(graph, min, Some(v)));
        if let Some(v) = raise {
            moves.push(format!("raise max to {v}"));
        }
    }
    if let Some(min) = min {
        let lower = versions
            .iter()
            .rev()
            .filter(|v| cmp_precedence(v, min).is_lt())
            .find(|v| valid_with(graph, Some(v), max));
        if let Some(v) = lower {
            moves.push(format!("lower min to {v}"));
        }
    }
    if moves.is_empty() && !valid_with(graph, None, None) {
        "the channel itself has several heads under opm's `replaces`/`skips` rule (only skipRange links them); mirror just its head (no min/max) or the whole channel with `full`".to_string()
    } else if moves.is_empty() {
        "the upgrade graph cannot be cut inside this range; widen min/max or name the bundles to mirror".to_string()
    } else {
        format!(
            "{} so that the kept bundles form one upgrade graph",
            moves.join(", or ")
        )
    }
}
