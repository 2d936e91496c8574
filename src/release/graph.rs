//! The update graph of one channel and architecture, parsed from a Cincinnati JSON response.
//!
//! Cincinnati answers `GET …/graph?channel=C&arch=A` with `nodes` (version, payload, metadata),
//! `edges` (`[from_index, to_index]` into `nodes`) and `conditionalEdges` (edges that carry
//! risks, named by version). Conditional edges are kept as edges (a cluster can take them after
//! accepting the risk) and recorded so selection can say when a path uses one.
//!
//! Pure: bytes in, [`UpdateGraph`] out. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde::Deserialize;

use crate::oci::ImageRef;

/// One release in a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    pub version: Version,
    /// The release payload, pinned by digest.
    pub payload: ImageRef,
    /// Cincinnati metadata (`io.openshift.upgrades.graph.release.channels`, `url`, …).
    pub metadata: BTreeMap<String, String>,
}

/// An edge that is only recommended after accepting the named risks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConditionalEdge {
    pub from: Version,
    pub to: Version,
    /// Risk names, sorted.
    pub risks: Vec<String>,
}

/// The graph of one channel and architecture. Nodes are sorted by version; edges are
/// `(from, to)` versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateGraph {
    pub channel: String,
    pub arch: String,
    pub nodes: BTreeMap<Version, GraphNode>,
    /// Every edge, conditional ones included.
    pub edges: BTreeSet<(Version, Version)>,
    pub conditional_edges: Vec<ConditionalEdge>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum GraphError {
    #[error("the update graph for channel `{channel}` ({arch}) is not valid JSON: {message}")]
    #[diagnostic(
        code(airlift::release::graph_json),
        help(
            "check that the update URL points at a Cincinnati graph endpoint (…/api/upgrades_info/v1/graph); delete the stored response to fetch it again"
        )
    )]
    Json {
        channel: String,
        arch: String,
        message: String,
    },
    #[error(
        "the update graph for channel `{channel}` ({arch}) has an invalid node `{what}`: {message}"
    )]
    #[diagnostic(
        code(airlift::release::graph_node),
        help(
            "the graph server returned a node airlift cannot use; report it to the graph's operator"
        )
    )]
    Node {
        channel: String,
        arch: String,
        what: String,
        message: String,
    },
    #[error(
        "the update graph for channel `{channel}` ({arch}) has an edge to node {index}, but only {count} nodes"
    )]
    #[diagnostic(
        code(airlift::release::graph_edge),
        help("the graph response is inconsistent; fetch it again (delete the stored response)")
    )]
    Edge {
        channel: String,
        arch: String,
        index: usize,
        count: usize,
    },
}

#[derive(Deserialize)]
struct RawGraph {
    #[serde(default)]
    nodes: Vec<RawNode>,
    #[serde(default)]
    edges: Vec<(usize, usize)>,
    #[serde(default, rename = "conditionalEdges")]
    conditional_edges: Vec<RawConditional>,
}

#[derive(Deserialize)]
struct RawNode {
    version: String,
    payload: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawConditional {
    #[serde(default)]
    edges: Vec<RawVersionEdge>,
    #[serde(default)]
    risks: Vec<RawRisk>,
}

#[derive(Deserialize)]
struct RawVersionEdge {
    from: String,
    to: String,
}

#[derive(Deserialize)]
struct RawRisk {
    name: String,
}

impl UpdateGraph {
    /// Parses a Cincinnati response for `channel` and `arch`.
    pub fn parse(channel: &str, arch: &str, bytes: &[u8]) -> Result<UpdateGraph, GraphError> {
        let raw: RawGraph = serde_json::from_slice(bytes).map_err(|e| GraphError::Json {
            channel: channel.to_string(),
            arch: arch.to_string(),
            message: e.to_string(),
        })?;
        let node_err = |what: &str, message: String| GraphError::Node {
            channel: channel.to_string(),
            arch: arch.to_string(),
            what: what.to_string(),
            message,
        };
        let mut versions = Vec::with_capacity(raw.nodes.len());
        let mut nodes = BTreeMap::new();
        for n in raw.nodes {
            let version = Version::parse(&n.version)
                .map_err(|e| node_err(&n.version, format!("not a semantic version: {e}")))?;
            let payload: ImageRef = n
                .payload
                .parse()
                .map_err(|e| node_err(&n.version, format!("payload: {e}")))?;
            if payload.digest().is_none() {
                return Err(node_err(
                    &n.version,
                    format!("payload `{payload}` is not pinned by digest"),
                ));
            }
            versions.push(version.clone());
            nodes.insert(
                version.clone(),
                GraphNode {
                    version,
                    payload,
                    metadata: n.metadata,
                },
            );
        }
        let count = versions.len();
        let mut edges = BTreeSet::new();
        for (from, to) in raw.edges {
            let (Some(f), Some(t)) = (versions.get(from), versions.get(to)) else {
                return Err(GraphError::Edge {
                    channel: channel.to_string(),
                    arch: arch.to_string(),
                    index: from.max(to),
                    count,
                });
            };
            edges.insert((f.clone(), t.clone()));
        }
        let mut conditional_edges = Vec::new();
        for c in raw.conditional_edges {
            let mut risks: Vec<String> = c.risks.into_iter().map(|r| r.name).collect();
            risks.sort();
            risks.dedup();
            for e in c.edges {
                let parse = |v: &str| {
                    Version::parse(v).map_err(|err| {
                        node_err(v, format!("conditional edge version is invalid: {err}"))
                    })
                };
                let (from, to) = (parse(&e.from)?, parse(&e.to)?);
                // An edge to a release the channel does not list cannot be used.
                if !nodes.contains_key(&from) || !nodes.contains_key(&to) {
                    continue;
                }
                edges.insert((from.clone(), to.clone()));
                conditional_edges.push(ConditionalEdge {
                    from,
                    to,
                    risks: risks.clone(),
                });
            }
        }
        conditional_edges.sort();
        conditional_edges.dedup();
        Ok(UpdateGraph {
            channel: channel.to_string(),
            arch: arch.to_string(),
            nodes,
            edges,
            conditional_edges,
        })
    }

    /// The highest version in the channel, optionally at most `max`.
    pub fn latest(&self, max: Option<&Version>) -> Option<&GraphNode> {
        self.nodes
            .values()
            .rev()
            .find(|n| max.is_none_or(|m| &n.version <= m))
    }

    /// The risks of the conditional edge `from → to`, if it is one.
    pub fn risks(&self, from: &Version, to: &Version) -> Option<&[String]> {
        self.conditional_edges
            .iter()
            .find(|c| &c.from == from && &c.to == to)
            .map(|c| c.risks.as_slice())
    }

    /// Channels named in the nodes' `io.openshift.upgrades.graph.release.channels` metadata,
    /// plus this graph's own channel.
    pub fn known_channels(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::from([self.channel.clone()]);
        for n in self.nodes.values() {
            if let Some(list) = n.metadata.get(CHANNELS_METADATA) {
                out.extend(
                    list.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                );
            }
        }
        out
    }
}

/// Node metadata key listing every channel a release belongs to.
pub const CHANNELS_METADATA: &str = "io.openshift.upgrades.graph.release.channels";

/// A fixture graph from `tests/fixtures/release/graphs/<channel>-<arch>.json`.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> UpdateGraph {
    let path = format!(
        "{}/tests/fixtures/release/graphs/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (channel, arch) = name.rsplit_once('-').unwrap_or((name, "amd64"));
    UpdateGraph::parse(channel, arch, &bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_nodes_edges_and_conditional_edges() {
        let g = fixture("stable-4.15-amd64");
        assert_eq!(g.channel, "stable-4.15");
        assert_eq!(g.arch, "amd64");
        let versions: Vec<String> = g.nodes.keys().map(Version::to_string).collect();
        assert_eq!(
            versions,
            ["4.14.5", "4.14.8", "4.15.0", "4.15.2", "4.15.3", "4.15.5"]
        );
        assert!(g.edges.contains(&(v("4.14.8"), v("4.15.3"))));
        assert!(
            g.edges.contains(&(v("4.15.2"), v("4.15.5"))),
            "conditional edges are edges"
        );
        assert_eq!(
            g.risks(&v("4.15.2"), &v("4.15.5")),
            Some(&["FixtureEtcdRisk".to_string()][..])
        );
        assert_eq!(g.risks(&v("4.15.2"), &v("4.15.3")), None);
        assert_eq!(
            g.latest(None).map(|n| n.version.to_string()),
            Some("4.15.5".into())
        );
        assert_eq!(
            g.latest(Some(&v("4.15.4"))).map(|n| n.version.to_string()),
            Some("4.15.3".into())
        );
        assert!(g.known_channels().contains("stable-4.16"));
    }

    #[test]
    fn rejects_bad_responses() {
        let err = UpdateGraph::parse("c", "amd64", b"<html>").unwrap_err();
        assert!(matches!(err, GraphError::Json { .. }), "{err}");
        let tag_only =
            br#"{"nodes":[{"version":"4.15.0","payload":"quay.io/x/y:4.15.0"}],"edges":[]}"#;
        let err = UpdateGraph::parse("c", "amd64", tag_only).unwrap_err();
        assert!(err.to_string().contains("not pinned by digest"), "{err}");
        let d = "0".repeat(64);
        let bad_edge = format!(
            r#"{{"nodes":[{{"version":"4.15.0","payload":"quay.io/x/y@sha256:{d}"}}],"edges":[[0,3]]}}"#
        );
        let err = UpdateGraph::parse("c", "amd64", bad_edge.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                GraphError::Edge {
                    index: 3,
                    count: 1,
                    ..
                }
            ),
            "{err}"
        );
        let bad_version =
            format!(r#"{{"nodes":[{{"version":"four","payload":"quay.io/x/y@sha256:{d}"}}]}}"#);
        assert!(UpdateGraph::parse("c", "amd64", bad_version.as_bytes()).is_err());
    }
}
