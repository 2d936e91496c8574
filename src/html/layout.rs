//! The layered (Sugiyama-style) layout of a graph page, left to right. Pure geometry: no markup.
//!
//! Back edges found by a depth-first search are reversed (so a cycle cannot hang it); layers are
//! longest paths from the sources; an edge longer than one layer passes through one dummy vertex
//! per layer between; the order within a layer comes from barycenter sweeps with ties by group
//! then label (the ordering with fewest crossings wins); heights are pulled toward neighbours
//! by a weighted least-squares placement that keeps every gap, so boxes never overlap.

use super::graph::GraphView;

pub(super) const BOX_W: f64 = 184.0;
pub(super) const BOX_H: f64 = 44.0;
const LAYER_GAP: f64 = 72.0;
const GAP: f64 = 14.0;
const DUMMY_GAP: f64 = 8.0;
const MARGIN: f64 = 20.0;
const SWEEPS: usize = 8;

/// A box, in SVG user units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
}

/// How one edge of the view is drawn: from its source to its target, `points` alternate
/// between curves (across a gap between layers) and straight lines (through a layer).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Route {
    /// Index into the view's edges.
    pub edge: usize,
    /// The edge closes a cycle: it runs right to left.
    pub back: bool,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Layout {
    /// One per node, `BOX_W` × `BOX_H`.
    pub boxes: Vec<Rect>,
    /// One per node.
    pub layer: Vec<usize>,
    /// One per drawable edge (not to a missing node, not to itself).
    pub routes: Vec<Route>,
    pub width: f64,
    pub height: f64,
}

/// The graph with long edges cut by dummies: vertices `0..nodes` are the nodes, the rest
/// dummies.
struct Layered {
    nodes: usize,
    layer: Vec<usize>,
    /// The node whose group and label place a vertex among equals (a dummy's edge source).
    owner: Vec<usize>,
    /// Neighbours in the layer before and after.
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
    /// Per drawable edge: its index, whether it is reversed, its vertices left to right.
    chains: Vec<(usize, bool, Vec<usize>)>,
}

impl Layered {
    fn height(&self, v: usize) -> f64 {
        if v < self.nodes { BOX_H } else { 0.0 }
    }

    fn gap(&self, a: usize, b: usize) -> f64 {
        if a < self.nodes || b < self.nodes {
            GAP
        } else {
            DUMMY_GAP
        }
    }
}

pub(super) fn layout(g: &GraphView) -> Layout {
    let lg = layered(g);
    let order = order(g, &lg);
    let y = heights(&lg, &order);
    let x = |l: usize| MARGIN + l as f64 * (BOX_W + LAYER_GAP);
    let boxes = (0..lg.nodes)
        .map(|v| Rect {
            x: x(lg.layer[v]),
            y: y[v],
        })
        .collect();
    let routes = lg
        .chains
        .iter()
        .map(|(edge, back, chain)| {
            let mut points = Vec::with_capacity(chain.len() * 2);
            for (i, &v) in chain.iter().enumerate() {
                let (left, mid) = (x(lg.layer[v]), y[v] + lg.height(v) / 2.0);
                if i > 0 {
                    points.push((left, mid));
                }
                if i + 1 < chain.len() {
                    points.push((left + BOX_W, mid));
                }
            }
            if *back {
                points.reverse();
            }
            Route {
                edge: *edge,
                back: *back,
                points,
            }
        })
        .collect();
    let layers = order.len().max(1);
    let bottom = y.iter().enumerate().map(|(v, y)| y + lg.height(v));
    Layout {
        boxes,
        layer: lg.layer[..lg.nodes].to_vec(),
        routes,
        width: x(layers) - LAYER_GAP + MARGIN,
        height: bottom.fold(MARGIN, f64::max) + MARGIN,
    }
}

/// Layers and dummies of the drawable edges.
fn layered(g: &GraphView) -> Layered {
    let n = g.nodes.len();
    let drawable: Vec<usize> = (0..g.edges.len())
        .filter(|&k| {
            let e = g.edges[k];
            e.from < n && e.to < n && e.from != e.to
        })
        .collect();
    let pairs: Vec<(usize, usize)> = drawable
        .iter()
        .map(|&k| (g.edges[k].from, g.edges[k].to))
        .collect();
    let back = back_edges(n, &pairs);
    let forward: Vec<(usize, usize)> = (0..pairs.len())
        .filter(|&i| !back[i])
        .map(|i| pairs[i])
        .collect();
    let mut lg = Layered {
        nodes: n,
        layer: longest_paths(n, &forward),
        owner: (0..n).collect(),
        up: vec![Vec::new(); n],
        down: vec![Vec::new(); n],
        chains: Vec::with_capacity(pairs.len()),
    };
    for (i, &(from, to)) in pairs.iter().enumerate() {
        let (lo, hi) = if back[i] { (to, from) } else { (from, to) };
        let mut chain = vec![lo];
        for l in lg.layer[lo] + 1..lg.layer[hi] {
            chain.push(lg.layer.len());
            lg.layer.push(l);
            lg.owner.push(lo);
            lg.up.push(Vec::new());
            lg.down.push(Vec::new());
        }
        chain.push(hi);
        for pair in chain.windows(2) {
            lg.down[pair[0]].push(pair[1]);
            lg.up[pair[1]].push(pair[0]);
        }
        lg.chains.push((drawable[i], back[i], chain));
    }
    lg
}

/// Edges that close a cycle, found by a depth-first search from the sources first.
fn back_edges(n: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut out = vec![Vec::new(); n];
    let mut has_in = vec![false; n];
    for (k, &(u, v)) in edges.iter().enumerate() {
        out[u].push((v, k));
        has_in[v] = true;
    }
    let (sources, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&v| !has_in[v]);
    // 0: unseen, 1: on the stack, 2: done.
    let mut state = vec![0_u8; n];
    let mut back = vec![false; edges.len()];
    for root in sources.into_iter().chain(rest) {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        let mut stack = vec![(root, 0_usize)];
        while let Some((u, next)) = stack.last_mut() {
            let u = *u;
            if let Some(&(v, k)) = out[u].get(*next) {
                *next += 1;
                match state[v] {
                    0 => {
                        state[v] = 1;
                        stack.push((v, 0));
                    }
                    1 => back[k] = true,
                    _ => {}
                }
            } else {
                state[u] = 2;
                stack.pop();
            }
        }
    }
    back
}

/// Each node's longest path from a source, over acyclic `edges`.
fn longest_paths(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut out = vec![Vec::new(); n];
    let mut indegree = vec![0_usize; n];
    for &(u, v) in edges {
        out[u].push(v);
        indegree[v] += 1;
    }
    let mut layer = vec![0; n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(u) = ready.pop() {
        for &v in &out[u] {
            layer[v] = layer[v].max(layer[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                ready.push(v);
            }
        }
    }
    layer
}

/// The vertices of each layer, top to bottom.
fn order(g: &GraphView, lg: &Layered) -> Vec<Vec<usize>> {
    let tie = |a: usize, b: usize| {
        let (na, nb) = (&g.nodes[lg.owner[a]], &g.nodes[lg.owner[b]]);
        (&na.group, &na.label, a).cmp(&(&nb.group, &nb.label, b))
    };
    let layers = lg.layer.iter().max().map_or(0, |l| l + 1);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (v, &l) in lg.layer.iter().enumerate() {
        order[l].push(v);
    }
    for layer in &mut order {
        layer.sort_by(|&a, &b| tie(a, b));
    }
    let mut pos = positions(&order, lg.layer.len());
    let mut best = (crossings(&order, &pos, &lg.down), order.clone());
    for sweep in 0..SWEEPS {
        let rightward = sweep % 2 == 0;
        let (sweep, nbrs): (Vec<usize>, _) = if rightward {
            ((1..layers).collect(), &lg.up)
        } else {
            ((0..layers.saturating_sub(1)).rev().collect(), &lg.down)
        };
        for l in sweep {
            let bary = |v: usize| match nbrs[v].len() {
                0 => pos[v] as f64,
                k => nbrs[v].iter().map(|&u| pos[u] as f64).sum::<f64>() / k as f64,
            };
            let mut keyed: Vec<(f64, usize)> = order[l].iter().map(|&v| (bary(v), v)).collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| tie(a.1, b.1)));
            order[l] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in order[l].iter().enumerate() {
                pos[v] = i;
            }
        }
        let c = crossings(&order, &pos, &lg.down);
        if c < best.0 {
            best = (c, order.clone());
        }
    }
    best.1
}

fn positions(order: &[Vec<usize>], vertices: usize) -> Vec<usize> {
    let mut pos = vec![0; vertices];
    for layer in order {
        for (i, &v) in layer.iter().enumerate() {
            pos[v] = i;
        }
    }
    pos
}

/// Edge crossings between each pair of adjacent layers.
fn crossings(order: &[Vec<usize>], pos: &[usize], down: &[Vec<usize>]) -> usize {
    let mut total = 0;
    for layer in order {
        let ends: Vec<(usize, usize)> = layer
            .iter()
            .flat_map(|&u| down[u].iter().map(move |&v| (pos[u], pos[v])))
            .collect();
        for (i, a) in ends.iter().enumerate() {
            total += ends[i + 1..]
                .iter()
                .filter(|b| (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1))
                .count();
        }
    }
    total
}

/// Each vertex's top: stacked, then each layer in turn (sweeping right, then left) placed as
/// near its neighbours' centres as its order and gaps allow; the topmost at `MARGIN`.
fn heights(lg: &Layered, order: &[Vec<usize>]) -> Vec<f64> {
    let mut y = vec![0.0_f64; lg.layer.len()];
    for layer in order {
        let mut top = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            if i > 0 {
                top += lg.gap(layer[i - 1], v);
            }
            y[v] = top;
            top += lg.height(v);
        }
    }
    for pass in 0..SWEEPS {
        let sweep: Vec<usize> = if pass % 2 == 0 {
            (0..order.len()).collect()
        } else {
            (0..order.len()).rev().collect()
        };
        for l in sweep {
            let layer = &order[l];
            let (mut want, mut weight) = (Vec::new(), Vec::new());
            for &v in layer {
                let count = lg.up[v].len() + lg.down[v].len();
                if count == 0 {
                    want.push(y[v]);
                    weight.push(0.1);
                } else {
                    let centres = lg.up[v]
                        .iter()
                        .chain(&lg.down[v])
                        .map(|&u| y[u] + lg.height(u) / 2.0);
                    want.push(centres.sum::<f64>() / count as f64 - lg.height(v) / 2.0);
                    weight.push(count as f64);
                }
            }
            let seps: Vec<f64> = layer
                .windows(2)
                .map(|p| lg.height(p[0]) + lg.gap(p[0], p[1]))
                .collect();
            for (&v, placed) in layer.iter().zip(place(&want, &weight, &seps)) {
                y[v] = placed;
            }
        }
    }
    let top = y.iter().copied().fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() {
        MARGIN - top
    } else {
        MARGIN
    };
    // Gaps are whole numbers, so rounding positive positions keeps them.
    y.iter().map(|v| (v + shift).round()).collect()
}

/// Positions nearest `want` (weighted least squares) that keep `seps[i]` from each position to
/// the next: with the gaps taken out this is isotonic regression, solved by pooling adjacent
/// violators.
fn place(want: &[f64], weight: &[f64], seps: &[f64]) -> Vec<f64> {
    let offsets: Vec<f64> = std::iter::once(0.0)
        .chain(seps.iter().scan(0.0, |at, s| {
            *at += s;
            Some(*at)
        }))
        .collect();
    // Runs of equal shifted position: (weight, weighted sum, members).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for i in 0..want.len() {
        blocks.push((weight[i], weight[i] * (want[i] - offsets[i]), 1));
        while let [.., (w1, s1, c1), (w2, s2, c2)] = blocks[..] {
            if s1 / w1 <= s2 / w2 {
                break;
            }
            blocks.pop();
            if let Some(last) = blocks.last_mut() {
                *last = (w1 + w2, s1 + s2, c1 + c2);
            }
        }
    }
    let mut out = Vec::with_capacity(want.len());
    for (w, s, members) in blocks {
        for _ in 0..members {
            out.push(s / w + offsets[out.len()]);
        }
    }
    out
}
