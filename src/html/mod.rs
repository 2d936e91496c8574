//! Self-contained HTML pages: the `build --timings` report and a plan's task graph. Pure
//! renderers: no I/O, no clock, no randomness; the same data give the same bytes. Pages carry
//! their style and one small script inline and reference nothing outside themselves.

mod graph;
mod layout;
mod page;
mod timings;

pub use graph::{GraphEdge, GraphNode, GraphView, graph_page};
pub use timings::timings_page;

#[cfg(test)]
mod tests;
