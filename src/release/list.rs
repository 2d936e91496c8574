//! `airlift list releases` output, like `oc mirror list releases`: the channels known from
//! update-graph responses, or the versions of one channel sorted by semantic version.
//!
//! Pure: graphs in, text out (for stdout). No I/O.

use std::collections::BTreeSet;

use super::graph::UpdateGraph;

/// Sort key of a channel name: prefix, then major and minor numerically (`stable-4.9` before
/// `stable-4.10`), then the name.
fn channel_key(name: &str) -> (String, u64, u64, String) {
    let (prefix, version) = name.rsplit_once('-').unwrap_or((name, ""));
    let mut nums = version
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX));
    let major = nums.next().unwrap_or(u64::MAX);
    let minor = nums.next().unwrap_or(u64::MAX);
    (prefix.to_string(), major, minor, name.to_string())
}

/// Every channel named by `graphs` (their own channels and those listed in the nodes'
/// channel metadata), one per line under a header.
pub fn list_channels(graphs: &[UpdateGraph]) -> String {
    let channels: BTreeSet<String> = graphs
        .iter()
        .flat_map(UpdateGraph::known_channels)
        .collect();
    let mut sorted: Vec<String> = channels.into_iter().collect();
    sorted.sort_by_key(|c| channel_key(c));
    let mut out = String::from("Available OpenShift release channels:\n");
    for c in sorted {
        out.push_str(&c);
        out.push('\n');
    }
    out
}

/// The versions of one channel and architecture, oldest first.
pub fn list_versions(graph: &UpdateGraph) -> String {
    let mut out = format!(
        "Channel: {}\nArchitecture: {}\n\n",
        graph.channel, graph.arch
    );
    for v in graph.nodes.keys() {
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::graph::fixture;

    #[test]
    fn channels_are_listed_in_natural_order() {
        let text = list_channels(&[fixture("stable-4.15-amd64"), fixture("eus-4.16-amd64")]);
        assert_eq!(
            text,
            "Available OpenShift release channels:\neus-4.14\neus-4.16\nstable-4.14\nstable-4.15\nstable-4.16\n"
        );
        assert!(channel_key("stable-4.9") < channel_key("stable-4.10"));
    }

    #[test]
    fn versions_are_sorted_by_semver() {
        assert_eq!(
            list_versions(&fixture("stable-4.16-amd64")),
            "Channel: stable-4.16\nArchitecture: amd64\n\n4.15.3\n4.15.5\n4.16.0\n4.16.2\n4.16.4\n"
        );
    }
}
