//! A channel's upgrade graph: entries as nodes; `replaces`, `skips` and `skipRange` as edges.
//!
//! An edge `a → b` means "a replaces / skips / covers b with its skipRange". A head is an entry
//! with no incoming edge. Two rules are offered: [`EdgeRule::All`] (every edge kind, used to
//! pick a channel's head) and [`EdgeRule::Opm`] (`replaces` and `skips` only, which is what
//! `opm` checks when it loads a catalog, so the validation of a filtered channel uses it).
//! Pure; knows nothing about filters.

use semver::Version;

use super::error::GraphError;
use super::fbc::{Channel, Package};
use super::semver_range::{VersionRange, parse_version};

/// The kind of an upgrade edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Replaces,
    Skips,
    SkipRange,
}

/// Which edges count when looking for heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeRule {
    /// `replaces`, `skips` and `skipRange`.
    All,
    /// `replaces` and `skips`: the rule `opm` applies when it loads a catalog.
    Opm,
}

impl EdgeRule {
    fn counts(self, kind: EdgeKind) -> bool {
        self == EdgeRule::All || kind != EdgeKind::SkipRange
    }
}

/// The graph of one channel. Nodes are indices into the channel's entries.
#[derive(Debug, Clone)]
pub struct ChannelGraph<'c> {
    pub names: Vec<&'c str>,
    /// Each entry's bundle version, if its bundle has one.
    pub versions: Vec<Option<Version>>,
    /// `(from, to, kind)`: `from` replaces/skips/covers `to`.
    pub edges: Vec<(usize, usize, EdgeKind)>,
}

impl<'c> ChannelGraph<'c> {
    /// Builds the graph; every entry must have an `olm.bundle` in the package. Edges to names
    /// outside the channel are ignored, as OLM ignores them.
    pub fn build(package: &'c Package, channel: &'c Channel) -> Result<Self, GraphError> {
        let names: Vec<&str> = channel.entries.iter().map(|e| e.name.as_str()).collect();
        let mut versions = Vec::with_capacity(names.len());
        for name in &names {
            let bundle = package
                .bundles
                .get(*name)
                .ok_or_else(|| GraphError::MissingBundle {
                    package: package.name.clone(),
                    channel: channel.name.clone(),
                    entry: name.to_string(),
                })?;
            let version = match &bundle.version {
                Some(text) => Some(parse_version(text).map_err(|e| GraphError::Version {
                    package: package.name.clone(),
                    bundle: bundle.name.clone(),
                    reason: e.to_string(),
                })?),
                None => None,
            };
            versions.push(version);
        }
        let index = |name: &str| names.iter().position(|n| *n == name);
        let mut edges = Vec::new();
        for (from, entry) in channel.entries.iter().enumerate() {
            if let Some(to) = entry.replaces.as_deref().and_then(index) {
                edges.push((from, to, EdgeKind::Replaces));
            }
            for to in entry.skips.iter().filter_map(|s| index(s)) {
                edges.push((from, to, EdgeKind::Skips));
            }
            if let Some(text) = &entry.skip_range {
                let range = VersionRange::parse(text).map_err(|source| GraphError::SkipRange {
                    package: package.name.clone(),
                    channel: channel.name.clone(),
                    entry: entry.name.clone(),
                    source: Box::new(source),
                })?;
                for (to, version) in versions.iter().enumerate() {
                    if to != from && version.as_ref().is_some_and(|v| range.contains(v)) {
                        edges.push((from, to, EdgeKind::SkipRange));
                    }
                }
            }
        }
        edges.retain(|(from, to, _)| from != to);
        Ok(ChannelGraph {
            names,
            versions,
            edges,
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Heads among the nodes `kept` accepts, counting only edges between kept nodes.
    pub fn heads(&self, rule: EdgeRule, kept: &dyn Fn(usize) -> bool) -> Vec<usize> {
        let mut incoming = vec![false; self.len()];
        for &(from, to, kind) in &self.edges {
            if rule.counts(kind) && kept(from) && kept(to) {
                incoming[to] = true;
            }
        }
        (0..self.len())
            .filter(|&i| kept(i) && !incoming[i])
            .collect()
    }

    /// The channel's head: the single head under [`EdgeRule::All`], or failing that the single
    /// head under [`EdgeRule::Opm`]. `Err` carries every head found.
    pub fn head(&self) -> Result<usize, Vec<usize>> {
        let all = self.heads(EdgeRule::All, &|_| true);
        if let [only] = all[..] {
            return Ok(only);
        }
        match self.heads(EdgeRule::Opm, &|_| true)[..] {
            [only] => Ok(only),
            ref several => Err(several.to_vec()),
        }
    }

    /// Nodes on a cycle of `replaces`/`skips` edges among kept nodes, in entry order; empty when
    /// the kept graph is acyclic.
    pub fn cycle(&self, kept: &dyn Fn(usize) -> bool) -> Vec<usize> {
        let edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter(|(f, t, k)| EdgeRule::Opm.counts(*k) && kept(*f) && kept(*t))
            .map(|(f, t, _)| (*f, *t))
            .collect();
        let mut indegree = vec![0usize; self.len()];
        for &(_, to) in &edges {
            indegree[to] += 1;
        }
        let mut removed = vec![false; self.len()];
        let mut ready: Vec<usize> = (0..self.len())
            .filter(|&i| kept(i) && indegree[i] == 0)
            .collect();
        while let Some(node) = ready.pop() {
            removed[node] = true;
            for &(_, to) in edges.iter().filter(|(from, _)| *from == node) {
                indegree[to] -= 1;
                if indegree[to] == 0 {
                    ready.push(to);
                }
            }
        }
        (0..self.len())
            .filter(|&i| kept(i) && !removed[i])
            .collect()
    }
}
