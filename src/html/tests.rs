//! Unit tests of the pages: escaping, completeness, self-containment, determinism, layout.

use super::graph::{GraphEdge, GraphNode, GraphView, graph_page};
use super::layout::{BOX_H, BOX_W, layout};
use super::page::{escape, human_bytes, human_duration};
use super::timings::{bars, nice_step, slowest, timings_page};
use crate::exec::timings::{BlobSpan, RegistryUse, SpanOutcome, TaskSpan, Timings, TimingsSummary};

const HOSTILE: &str = "copy mirror <script>alert('x')</script> & \"q\"";

fn span(
    id: &str,
    outcome: SpanOutcome,
    times: Option<(u64, u64)>,
    lane: Option<usize>,
) -> TaskSpan {
    let kind = id.split(' ').next().unwrap_or_default().to_string();
    TaskSpan {
        id: id.to_string(),
        kind,
        target: "mirror".to_string(),
        set: Some("apps".to_string()),
        subject: id.rsplit(' ').next().unwrap_or_default().to_string(),
        outcome,
        start_ms: times.map(|t| t.0),
        end_ms: times.map(|t| t.1),
        bytes: 7 << 20,
        lane,
    }
}

fn fixture() -> Timings {
    use SpanOutcome::*;
    let tasks = vec![
        span(
            "copy mirror quay.io/ns/app:1.0",
            Done,
            Some((0, 1200)),
            Some(0),
        ),
        span(
            "copy mirror quay.io/ns/db:2",
            Done,
            Some((100, 2500)),
            Some(1),
        ),
        span(HOSTILE, Failed, Some((300, 900)), Some(2)),
        span(
            "verify-signature mirror quay.io/ns/app:1.0",
            Fresh,
            None,
            None,
        ),
        span("render-resources mirror", Done, Some((2500, 2600)), None),
        span("prune-catalog mirror ops", Done, Some((2550, 2580)), None),
        span("write-lock mirror", NotAttempted, None, None),
        span("mystery-kind mirror x", Done, Some((2600, 2600)), Some(0)),
    ];
    Timings {
        tool: "airlift 0.1.0".to_string(),
        targets: vec!["mirror".to_string()],
        started: "2025-01-02T03:04:05Z".to_string(),
        duration_ms: 2650,
        summary: TimingsSummary {
            tasks: 8,
            run: 5,
            fresh: 1,
            failed: 1,
            bytes: 123_456_789,
            blobs_uploaded: 12,
            blobs_mounted: 3,
            blobs_present: 40,
            requests: 310,
            retries: 4,
            throttled: 3,
        },
        tasks,
        registries: vec![
            RegistryUse {
                side: "destination".to_string(),
                host: "mirror.local:5000".to_string(),
                requests: 200,
                retries: 4,
                throttled: 3,
                max_in_flight: 6,
                in_flight: vec![(0, 1), (100, 6), (900, 2), (2600, 0)],
            },
            RegistryUse {
                side: "source".to_string(),
                host: "quay.io".to_string(),
                requests: 110,
                retries: 0,
                throttled: 0,
                max_in_flight: 3,
                in_flight: vec![(0, 3), (1200, 1), (2500, 0)],
            },
        ],
        slowest_blobs: vec![BlobSpan {
            digest: format!("sha256:{}", "ab".repeat(32)),
            repository: "ns/db".to_string(),
            bytes: 50 << 20,
            start_ms: 150,
            end_ms: 2400,
        }],
    }
}

fn node(label: &str, group: &str, fresh: usize, dirty: usize) -> GraphNode {
    GraphNode {
        label: label.to_string(),
        detail: format!("{label} first\n{label} second"),
        group: group.to_string(),
        fresh,
        dirty,
    }
}

fn edge(from: usize, to: usize) -> GraphEdge {
    GraphEdge {
        from,
        to,
        dashed: false,
    }
}

/// A plan-shaped graph: copies per set, verifies after them, outputs after everything.
fn plan_graph(sets: usize) -> GraphView {
    let mut g = GraphView {
        title: "plan of target `mirror`".to_string(),
        ..Default::default()
    };
    let outputs = sets * 3;
    for s in 0..sets {
        let group = format!("set-{s}");
        g.nodes.push(node(
            &format!("copy ×{}", s * 7 + 1),
            &group,
            s % 3,
            (s + 1) % 4,
        ));
        g.nodes.push(node("verify-signature", &group, 1, 0));
        g.nodes.push(node("prune-catalog", &group, 0, 2));
        g.edges.push(edge(3 * s, 3 * s + 1));
        g.edges.push(edge(3 * s + 2, 3 * s));
        g.edges.push(GraphEdge {
            from: 3 * s + 1,
            to: outputs,
            dashed: true,
        });
        g.edges.push(GraphEdge {
            from: 3 * s,
            to: outputs + 1,
            dashed: s % 2 == 0,
        });
    }
    g.nodes.push(node("render-resources", "outputs", 0, 1));
    g.nodes.push(node("write-lock", "outputs", 1, 0));
    g.edges.push(edge(outputs, outputs + 1));
    g
}

/// Anything that would make a page load something from elsewhere.
fn assert_self_contained(page: &str) {
    for needle in ["http://", "https://", "@import", "src=", "<link", "<iframe"] {
        assert!(!page.contains(needle), "page contains {needle}");
    }
    for (i, _) in page.match_indices("url(") {
        assert!(
            page[i + 4..].starts_with('#'),
            "url( not to an anchor at {i}"
        );
    }
    for (i, _) in page.match_indices("href=") {
        assert!(
            page[i + 5..].starts_with("\"#"),
            "href not to an anchor at {i}"
        );
    }
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<meta charset=\"utf-8\">"));
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("document.documentElement.dataset.rendered = \"ok\""));
    assert!(page.find("<script").unwrap() > page.find("<body").unwrap());
}

#[test]
fn escape_covers_the_five() {
    assert_eq!(
        escape("<script>a&b\"c'd</script>"),
        "&lt;script&gt;a&amp;b&quot;c&#x27;d&lt;/script&gt;"
    );
    assert_eq!(escape("plain ×37 · ok"), "plain ×37 · ok");
}

#[test]
fn hostile_text_is_never_raw() {
    let page = timings_page(&fixture());
    assert!(!page.contains("<script>alert"));
    assert!(page.contains(&escape(HOSTILE)));
    let mut g = plan_graph(2);
    g.title = "<b>title</b>".to_string();
    g.nodes[0] = node(HOSTILE, "<i>set</i>", 1, 1);
    let page = graph_page(&g);
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<b>title") && !page.contains("<i>set"));
    assert!(page.contains("&lt;b&gt;title&lt;/b&gt;"));
    assert_self_contained(&page);
}

#[test]
fn every_task_is_in_the_page_and_timed_ones_have_bars() {
    let t = fixture();
    let page = timings_page(&t);
    for (i, s) in t.tasks.iter().enumerate() {
        assert!(page.contains(&escape(&s.id)), "{} missing", s.id);
        let bar = format!("id=\"bar-{i}\"");
        assert_eq!(page.contains(&bar), s.start_ms.is_some(), "{}", s.id);
    }
    assert!(page.contains("throttled: 3 answers 429/503 from mirror.local:5000"));
    assert!(page.contains("title=\"123456789 bytes\">117.7 MiB<"));
    assert!(
        page.contains("stroke=\"#d62728\""),
        "the failed task is outlined"
    );
    assert!(page.contains(r#"style="fill:#ffffff" pointer-events="none">app:1.0<"#));
    assert_self_contained(&page);
}

#[test]
fn lanes_without_a_number_go_after_the_last_and_never_overlap() {
    let t = fixture();
    let bars = bars(&t.tasks);
    let lane = |i: usize| bars.iter().find(|b| b.task == i).map(|b| b.lane);
    assert_eq!(lane(0), Some(0));
    assert_eq!(lane(2), Some(2));
    assert_eq!(lane(3), None);
    // render-resources and prune-catalog overlap in time: two lanes after lane 2.
    assert_eq!((lane(4), lane(5)), (Some(3), Some(4)));
    for a in &bars {
        for b in &bars {
            if a.task < b.task && a.lane == b.lane && a.start < a.end && b.start < b.end {
                assert!(
                    a.end <= b.start || b.end <= a.start,
                    "{} {}",
                    a.task,
                    b.task
                );
            }
        }
    }
}

#[test]
fn nothing_throttled_and_nothing_run_are_said() {
    let mut t = fixture();
    for r in &mut t.registries {
        r.throttled = 0;
    }
    assert!(timings_page(&t).contains("Nothing was throttled"));
    let empty = timings_page(&Timings::default());
    assert!(empty.contains("No task ran"));
    assert!(empty.contains("No registry was used"));
    assert_self_contained(&empty);
}

#[test]
fn slowest_tasks_by_duration_then_id() {
    use SpanOutcome::Done;
    let tasks = vec![
        span("copy m b", Done, Some((0, 10)), Some(0)),
        span("copy m a", Done, Some((5, 15)), Some(1)),
        span("copy m c", Done, Some((0, 30)), Some(2)),
        span("copy m d", SpanOutcome::Fresh, None, None),
    ];
    assert_eq!(slowest(&tasks), vec![(2, 30), (1, 10), (0, 10)]);
    let many: Vec<TaskSpan> = (0..50)
        .map(|i| span(&format!("copy m {i:02}"), Done, Some((0, i)), None))
        .collect();
    assert_eq!(slowest(&many).len(), 20);
}

#[test]
fn pages_are_deterministic() {
    let t = fixture();
    assert_eq!(timings_page(&t), timings_page(&t.clone()));
    let g = plan_graph(5);
    assert_eq!(graph_page(&g), graph_page(&g.clone()));
}

#[test]
fn nice_steps_are_1_2_5() {
    assert_eq!(nice_step(0, 10), 1);
    assert_eq!(nice_step(1, 10), 1);
    assert_eq!(nice_step(95, 10), 10);
    assert_eq!(nice_step(10_000, 10), 1000);
    assert_eq!(nice_step(12_345, 10), 2000);
    assert_eq!(nice_step(41_000, 10), 5000);
    assert_eq!(nice_step(4_000_000, 8), 500_000);
    assert_eq!(nice_step(u64::MAX, 1), u64::MAX);
}

#[test]
fn units_for_people() {
    assert_eq!(human_bytes(512), "512 B");
    assert_eq!(human_bytes(12_897_484), "12.3 MiB");
    assert_eq!(human_duration(850), "850 ms");
    assert_eq!(human_duration(184_500), "3 min 04.500 s");
}

/// No two boxes of a layer overlap, layers do not overlap, every route joins its two boxes.
fn assert_sound(g: &GraphView) {
    let lay = layout(g);
    assert_eq!(lay.boxes.len(), g.nodes.len());
    for (i, a) in lay.boxes.iter().enumerate() {
        for b in &lay.boxes[i + 1..] {
            let apart_x = a.x + BOX_W <= b.x || b.x + BOX_W <= a.x;
            let apart_y = a.y + BOX_H <= b.y || b.y + BOX_H <= a.y;
            assert!(apart_x || apart_y, "{a:?} overlaps {b:?}");
        }
    }
    for r in &lay.routes {
        let e = g.edges[r.edge];
        assert!(e.from < g.nodes.len() && e.to < g.nodes.len() && e.from != e.to);
        let (from, to) = (lay.boxes[e.from], lay.boxes[e.to]);
        let first = r.points.first().copied().unwrap_or_default();
        let last = r.points.last().copied().unwrap_or_default();
        let (start_x, end_x) = if r.back {
            (from.x, to.x + BOX_W)
        } else {
            (from.x + BOX_W, to.x)
        };
        assert_eq!(first, (start_x, from.y + BOX_H / 2.0));
        assert_eq!(last, (end_x, to.y + BOX_H / 2.0));
    }
}

#[test]
fn layout_is_sound_for_plans_small_and_large() {
    assert_sound(&plan_graph(3));
    assert_sound(&plan_graph(100));
    // Pseudo-random DAG with long edges.
    let mut g = GraphView::default();
    let mut seed = 7_u64;
    for i in 0..150 {
        g.nodes
            .push(node(&format!("n{i}"), &format!("g{}", i % 4), i % 2, i % 3));
        for _ in 0..2 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let from = (seed >> 33) as usize % (i + 1);
            if from != i {
                g.edges.push(edge(from, i));
            }
        }
    }
    assert_sound(&g);
    let lay = layout(&g);
    for r in &lay.routes {
        let e = g.edges[r.edge];
        assert!(
            lay.layer[e.from] < lay.layer[e.to],
            "a DAG has no back edges"
        );
    }
}

#[test]
fn cycles_self_loops_and_dangling_edges_do_not_hang() {
    let mut g = GraphView::default();
    for l in ["a", "b", "c", "d"] {
        g.nodes.push(node(l, "s", 0, 1));
    }
    g.edges = vec![
        edge(0, 1),
        edge(1, 2),
        edge(2, 0),
        edge(2, 3),
        edge(3, 3),
        edge(3, 99),
    ];
    assert_sound(&g);
    let lay = layout(&g);
    assert_eq!(
        lay.routes.len(),
        4,
        "the self-loop and the dangling edge are not drawn"
    );
    assert_eq!(lay.routes.iter().filter(|r| r.back).count(), 1);
    let page = graph_page(&g);
    assert!(page.contains("closes a cycle"));
    assert_self_contained(&page);
}

#[test]
fn an_empty_graph_is_a_page_too() {
    let g = GraphView {
        title: "plan of target `none`".to_string(),
        ..Default::default()
    };
    let lay = layout(&g);
    assert!(lay.boxes.is_empty() && lay.routes.is_empty());
    let page = graph_page(&g);
    assert!(page.contains("nothing to draw"));
    assert_self_contained(&page);
}

#[test]
fn graph_page_lists_every_node() {
    let g = plan_graph(4);
    let page = graph_page(&g);
    for n in &g.nodes {
        assert!(page.contains(&escape(&n.label)));
    }
    assert!(page.contains("stroke-dasharray"));
    assert!(page.contains("url(#mix-"), "mixed nodes have a split fill");
    assert_self_contained(&page);
}
