//! A plan's DAG as a page: a layered drawing (laid out by `layout`) and a table of its nodes.
//! The caller collapses tasks into nodes; this file only draws what it is given.

use std::collections::BTreeMap;

use super::layout::{BOX_H, BOX_W, layout};
use super::page::{document, escape, fit, num_cell, table_head, w};

/// What to draw: nodes clustered by group, edges between them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphView {
    /// E.g. "plan of target `mirror`".
    pub title: String,
    pub nodes: Vec<GraphNode>,
    /// Indices into `nodes`; edges to a missing node are not drawn.
    pub edges: Vec<GraphEdge>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphNode {
    /// E.g. "copy ×37" or "render-resources".
    pub label: String,
    /// Tooltip text, multi-line (e.g. the first members' ids).
    pub detail: String,
    /// The content set, or "outputs"; nodes are clustered by group.
    pub group: String,
    /// Members already done.
    pub fresh: usize,
    /// Members that will run.
    pub dirty: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    /// "Runs after, whatever the outcome" rather than "needs".
    pub dashed: bool,
}

const GROUP_COLOURS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];
const FRESH: (&str, &str) = ("#d9f0d9", "#5a9e5a");
const DIRTY: (&str, &str) = ("#fde5ad", "#c98a00");
const EMPTY: (&str, &str) = ("#eef0f3", "#a0a7b3");

/// An SVG path through route points: curves between layers, straight across dummies.
fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, &(x, y)) in points.iter().enumerate() {
        if i == 0 {
            w!(&mut d, "M{x:.1},{y:.1}");
        } else if i % 2 == 1 {
            let (px, py) = points[i - 1];
            let mx = (px + x) / 2.0;
            w!(&mut d, " C{mx:.1},{py:.1} {mx:.1},{y:.1} {x:.1},{y:.1}");
        } else {
            w!(&mut d, " L{x:.1},{y:.1}");
        }
    }
    d
}

fn group_colours(g: &GraphView) -> BTreeMap<&str, &'static str> {
    let mut groups: Vec<&str> = g.nodes.iter().map(|n| n.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, group)| (group, GROUP_COLOURS[i % GROUP_COLOURS.len()]))
        .collect()
}

fn counts(n: &GraphNode) -> String {
    match (n.dirty, n.fresh) {
        (0, 0) => "nothing to do".to_string(),
        (d, 0) => format!("{d} to run"),
        (0, f) => format!("{f} fresh"),
        (d, f) => format!("{d} to run · {f} fresh"),
    }
}

fn swatch(out: &mut String, fill: &str, stroke: &str, text: &str) {
    w!(
        out,
        r#"<span><span class="sw" style="background:{fill};border-color:{stroke}"></span>{text}</span>"#
    );
}

/// The page of a graph: legends, the drawing, and a table of its nodes.
pub fn graph_page(g: &GraphView) -> String {
    let mut out = String::new();
    let (dirty, fresh) = g.nodes.iter().fold((0_usize, 0_usize), |(d, f), n| {
        (d.saturating_add(n.dirty), f.saturating_add(n.fresh))
    });
    w!(
        out,
        "<h1>{}</h1>\n<p class=\"sub\">{} nodes · {} edges · {dirty} to run · {fresh} fresh · \
         <a href=\"#nodes\">table of nodes</a></p>\n",
        escape(&g.title),
        g.nodes.len(),
        g.edges.len()
    );
    if g.nodes.is_empty() {
        out.push_str("<p class=\"note\">The graph is empty: nothing to draw.</p>\n");
    } else {
        drawing(&mut out, g);
    }
    out.push_str("<h2 id=\"nodes\">Nodes</h2>\n");
    table_head(&mut out, &["Node", "Group"], &["To run", "Fresh"]);
    for (i, node) in g.nodes.iter().enumerate() {
        w!(
            out,
            r#"<tr data-hl="node-{i}" title="{}"><td class="id">{}</td><td>{}</td>"#,
            escape(&node.detail),
            escape(&node.label),
            escape(&node.group)
        );
        num_cell(&mut out, node.dirty as u64, &node.dirty.to_string());
        num_cell(&mut out, node.fresh as u64, &node.fresh.to_string());
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    document(&g.title, true, &out)
}

fn drawing(out: &mut String, g: &GraphView) {
    let lay = layout(g);
    let colours = group_colours(g);
    out.push_str("<div class=\"legend\">");
    swatch(out, FRESH.0, FRESH.1, "all fresh");
    swatch(out, DIRTY.0, DIRTY.1, "all to run");
    let mixed = format!("linear-gradient(90deg,{} 50%,{} 50%)", FRESH.0, DIRTY.0);
    swatch(out, &mixed, "#9a8f6a", "mixed (fresh share on the left)");
    swatch(out, EMPTY.0, EMPTY.1, "nothing to do");
    out.push_str("<span>→ needs</span><span>⇢ dashed: runs after, whatever the outcome</span>");
    if lay.routes.iter().any(|r| r.back) {
        out.push_str("<span style=\"color:#b4462b\">red: closes a cycle</span>");
    }
    out.push_str("</div>\n<div class=\"legend\">groups:");
    for (group, colour) in &colours {
        swatch(out, colour, colour, &escape(group));
    }
    w!(
        out,
        "</div>\n<div class=\"fig scroll\"><svg width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"task graph\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#6b7485\"/></marker>\
         <marker id=\"arrow-back\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#b4462b\"/></marker></defs>\n",
        w = lay.width,
        h = lay.height
    );
    for r in &lay.routes {
        let e = g.edges[r.edge];
        let (colour, marker) = if r.back {
            ("#b4462b", "arrow-back")
        } else {
            ("#8a93a3", "arrow")
        };
        let dash = if e.dashed {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        w!(
            out,
            "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.3\"{dash} marker-end=\"url(#{marker})\"><title>{} → {}{}</title></path>\n",
            path(&r.points),
            escape(&g.nodes[e.from].label),
            escape(&g.nodes[e.to].label),
            if e.dashed {
                " (runs after, whatever the outcome)"
            } else {
                ""
            }
        );
    }
    for (i, (node, b)) in g.nodes.iter().zip(&lay.boxes).enumerate() {
        let (fill, stroke) = match (node.dirty, node.fresh) {
            (0, 0) => (EMPTY.0.to_string(), EMPTY.1),
            (_, 0) => (DIRTY.0.to_string(), DIRTY.1),
            (0, _) => (FRESH.0.to_string(), FRESH.1),
            (d, f) => {
                let share = f as f64 / (d as f64 + f as f64);
                w!(
                    out,
                    "<linearGradient id=\"mix-{i}\"><stop offset=\"{share:.3}\" stop-color=\"{}\"/><stop offset=\"{share:.3}\" stop-color=\"{}\"/></linearGradient>\n",
                    FRESH.0,
                    DIRTY.0
                );
                (format!("url(#mix-{i})"), "#9a8f6a")
            }
        };
        let group = colours
            .get(node.group.as_str())
            .copied()
            .unwrap_or(GROUP_COLOURS[0]);
        let (x, y) = (b.x, b.y);
        w!(
            out,
            "<g><title>{label}\ngroup: {grp}\n{counts}{sep}{detail}</title>\
             <rect id=\"node-{i}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W:.1}\" height=\"{BOX_H:.1}\" rx=\"5\" fill=\"{fill}\" stroke=\"{stroke}\"/>\
             <path d=\"M{s0:.1},{y:.1} H{s1:.1} V{yb:.1} H{s0:.1} A5,5 0 0 1 {x:.1},{yb5:.1} V{y5:.1} A5,5 0 0 1 {s0:.1},{y:.1} Z\" fill=\"{group}\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"12.5\" font-weight=\"600\">{short}</text>\
             <text x=\"{tx:.1}\" y=\"{cy:.1}\" font-size=\"11\" style=\"fill:#5d6677\">{counts}</text></g>\n",
            label = escape(&node.label),
            grp = escape(&node.group),
            counts = counts(node),
            sep = if node.detail.is_empty() { "" } else { "\n\n" },
            detail = escape(&node.detail),
            s0 = x + 5.0,
            s1 = x + 7.0,
            yb = y + BOX_H,
            yb5 = y + BOX_H - 5.0,
            y5 = y + 5.0,
            tx = x + 15.0,
            ty = y + 18.0,
            cy = y + 35.0,
            short = escape(&fit(&node.label, 23)),
        );
    }
    out.push_str("</svg></div>\n");
}
