//! The page `airlift build --timings` writes, after `cargo build --timings`: a summary, a
//! timeline of every task that ran, registry concurrency and throttling, the slowest tasks and
//! blobs, and a table of every task. Pure: the same `Timings` give the same bytes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::page::{
    bytes_cell, document, escape, fit, human_bytes, human_duration, num_cell, secs, table_head,
    throughput, w,
};
use crate::exec::timings::{BlobSpan, RegistryUse, SpanOutcome, TaskSpan, Timings};

/// Colours of the task kinds airlift has; other kinds take one of `OTHER` by name.
const KIND_COLOURS: [(&str, &str); 13] = [
    ("copy", "#4e79a7"),
    ("verify-signature", "#59a14f"),
    ("verify-cosign", "#8cd17d"),
    ("prune-catalog", "#f28e2b"),
    ("build-graph-image", "#b07aa1"),
    ("render-resources", "#76b7b2"),
    ("write-lock", "#9c755f"),
    ("write-layout", "#edc948"),
    ("pack", "#ff9da7"),
    ("unpack", "#d4a6c8"),
    ("verify-archive", "#499894"),
    ("delete", "#79706e"),
    ("push-chart", "#a0cbe8"),
];
const OTHER: [&str; 4] = ["#bab0ac", "#b6992d", "#d37295", "#9d7660"];
const FAILED: &str = "#d62728";

/// Timeline geometry, in SVG user units.
const PLOT_W: f64 = 1000.0;
const LEFT: f64 = 14.0;
const RIGHT: f64 = 30.0;
const AXIS_H: f64 = 24.0;
const MAX_PLOT_H: f64 = 1600.0;

/// The page of one build's timings.
pub fn timings_page(t: &Timings) -> String {
    let total = total_ms(t);
    let mut body = String::new();
    header(&mut body, t);
    summary(&mut body, t);
    timeline(&mut body, t, total);
    registries(&mut body, &t.registries, total);
    slowest_tasks(&mut body, &t.tasks);
    slowest_blobs(&mut body, &t.slowest_blobs);
    all_tasks(&mut body, &t.tasks);
    let title = format!("airlift timings: {}", t.targets.join(", "));
    document(&title, false, &body)
}

/// The colour of a task kind.
fn kind_colour(kind: &str) -> &'static str {
    if let Some((_, c)) = KIND_COLOURS.iter().find(|(k, _)| *k == kind) {
        return c;
    }
    // FNV-1a: stable across runs and platforms, unlike `std::hash`.
    let h = kind.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    OTHER[(h % OTHER.len() as u64) as usize]
}

/// Text colour readable on a `#rrggbb` fill.
fn ink(fill: &str) -> &'static str {
    let channel = |i: usize| {
        let hex = fill.get(i..i + 2).unwrap_or("00");
        f64::from(u8::from_str_radix(hex, 16).unwrap_or(0))
    };
    let luma = 0.299 * channel(1) + 0.587 * channel(3) + 0.114 * channel(5);
    if luma < 150.0 { "#ffffff" } else { "#1f2430" }
}

/// The distinctive end of a subject for a bar label: the source's last path segment.
fn short_subject(subject: &str) -> &str {
    let source = subject.split(" -> ").next().unwrap_or(subject);
    match source.rsplit_once('/') {
        Some((_, last)) if !last.is_empty() => last,
        _ => source,
    }
}

/// The smallest step of 1, 2 or 5 × 10ⁿ ms that cuts `span_ms` into at most `ticks` steps.
pub(super) fn nice_step(span_ms: u64, ticks: u64) -> u64 {
    let raw = span_ms.div_ceil(ticks.max(1)).max(1);
    let mut magnitude = 1_u64;
    loop {
        for m in [1_u64, 2, 5] {
            let step = m.saturating_mul(magnitude);
            if step >= raw {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A tick label in seconds with as many decimals as the step needs.
fn tick_label(ms: u64, step: u64) -> String {
    let decimals = match step {
        1000.. => 0,
        100.. => 1,
        10.. => 2,
        _ => 3,
    };
    format!("{:.*} s", decimals, ms as f64 / 1000.0)
}

/// The time the drawings span: the run, or anything recorded after it.
fn total_ms(t: &Timings) -> u64 {
    let tasks = t.tasks.iter().filter_map(|s| s.end_ms);
    let points = t
        .registries
        .iter()
        .flat_map(|r| r.in_flight.iter().map(|p| p.0));
    let blobs = t.slowest_blobs.iter().map(|b| b.end_ms);
    tasks
        .chain(points)
        .chain(blobs)
        .fold(t.duration_ms, u64::max)
        .max(1)
}

/// A task that has times: its index in `tasks`, start, end and lane.
pub(super) struct Bar {
    pub task: usize,
    pub start: u64,
    pub end: u64,
    pub lane: usize,
}

/// Every task with times, with a lane each: its own (lanes left empty are skipped), or for
/// tasks without one the lowest lane free at its start among lanes after the last given one.
pub(super) fn bars(tasks: &[TaskSpan]) -> Vec<Bar> {
    let timed: Vec<(usize, u64, u64, Option<usize>)> = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let (start, end) = (s.start_ms?, s.end_ms?);
            Some((i, start, end.max(start), s.lane))
        })
        .collect();
    let given: BTreeSet<usize> = timed.iter().filter_map(|t| t.3).collect();
    let rank: BTreeMap<usize, usize> = given.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let mut out = Vec::with_capacity(timed.len());
    let mut unplaced = Vec::new();
    for (task, start, end, lane) in timed {
        match lane.and_then(|l| rank.get(&l)) {
            Some(&lane) => out.push(Bar {
                task,
                start,
                end,
                lane,
            }),
            None => unplaced.push((start, end, task)),
        }
    }
    unplaced.sort_unstable_by(|a, b| (a.0, a.1, &tasks[a.2].id).cmp(&(b.0, b.1, &tasks[b.2].id)));
    let mut lane_ends: Vec<u64> = Vec::new();
    for (start, end, task) in unplaced {
        let lane = match lane_ends.iter().position(|e| *e <= start) {
            Some(l) => l,
            None => {
                lane_ends.push(0);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = end;
        out.push(Bar {
            task,
            start,
            end,
            lane: given.len() + lane,
        });
    }
    out
}

fn header(out: &mut String, t: &Timings) {
    out.push_str("<h1>airlift build timings</h1>\n");
    w!(
        out,
        "<p class=\"sub\"><a href=\"#timeline\">timeline</a> · <a href=\"#registries\">registries</a> · \
         <a href=\"#slowest\">slowest</a> · <a href=\"#tasks\">all tasks</a></p>\n"
    );
    w!(
        out,
        "<dl class=\"meta\"><dt>Tool</dt><dd>{}</dd><dt>Targets</dt><dd>{}</dd>\
         <dt>Started</dt><dd>{}</dd><dt>Duration</dt><dd title=\"{} ms\">{}</dd></dl>\n",
        escape(&t.tool),
        escape(&t.targets.join(", ")),
        escape(&t.started),
        t.duration_ms,
        human_duration(t.duration_ms)
    );
}

fn summary(out: &mut String, t: &Timings) {
    let s = &t.summary;
    let rows = [
        ("Tasks", s.tasks.to_string()),
        (
            "Run / fresh / failed",
            format!("{} / {} / {}", s.run, s.fresh, s.failed),
        ),
        (
            "Uploaded",
            format!(
                r#"<span title="{} bytes">{}</span>"#,
                s.bytes,
                human_bytes(s.bytes)
            ),
        ),
        (
            "Blobs uploaded / mounted / present",
            format!(
                "{} / {} / {}",
                s.blobs_uploaded, s.blobs_mounted, s.blobs_present
            ),
        ),
        (
            "Requests / retries",
            format!("{} / {}", s.requests, s.retries),
        ),
        ("Throttled (429/503)", s.throttled.to_string()),
    ];
    out.push_str("<h2 id=\"summary\">Summary</h2>\n<table class=\"kv\"><tbody>\n");
    for (name, value) in rows {
        w!(
            out,
            "<tr><th>{name}</th><td class=\"num\">{value}</td></tr>\n"
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Vertical grid lines and labels of a time axis from `x0` over `width` units.
fn time_axis(out: &mut String, x0: f64, width: f64, total: u64, ticks: u64, y: (f64, f64, f64)) {
    let (label_y, top, bottom) = y;
    let step = nice_step(total, ticks);
    let mut ms = 0;
    while ms <= total {
        let x = x0 + ms as f64 / total as f64 * width;
        w!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}"/><text x="{x:.1}" y="{label_y:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            tick_label(ms, step)
        );
        out.push('\n');
        match ms.checked_add(step) {
            Some(next) => ms = next,
            None => break,
        }
    }
}

fn timeline(out: &mut String, t: &Timings, total: u64) {
    out.push_str("<h2 id=\"timeline\">Timeline</h2>\n");
    let bars = bars(&t.tasks);
    let untimed = t.tasks.len() - bars.len();
    if bars.is_empty() {
        w!(
            out,
            "<p class=\"note\">No task ran ({untimed} without times): nothing to draw.</p>\n"
        );
        return;
    }
    let mut kinds: Vec<&str> = bars.iter().map(|b| t.tasks[b.task].kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let any_failed = bars
        .iter()
        .any(|b| t.tasks[b.task].outcome == SpanOutcome::Failed);
    out.push_str("<div class=\"legend\">");
    for kind in &kinds {
        w!(
            out,
            r#"<span><span class="sw" style="background:{}"></span>{}</span>"#,
            kind_colour(kind),
            escape(kind)
        );
    }
    if any_failed {
        w!(
            out,
            r#"<span><span class="sw" style="background:#fff;border:2px solid {FAILED}"></span>failed</span>"#
        );
    }
    w!(
        out,
        "<span>{} tasks drawn, {untimed} without times (fresh or not attempted)</span></div>\n",
        bars.len()
    );

    let lanes = bars.iter().map(|b| b.lane + 1).max().unwrap_or(1);
    let lane_h = (MAX_PLOT_H / lanes as f64).clamp(0.8, 20.0);
    let bar_h = if lane_h >= 6.0 { lane_h - 4.0 } else { lane_h };
    let plot_h = lanes as f64 * lane_h;
    let (width, height) = (LEFT + PLOT_W + RIGHT, AXIS_H + plot_h + 8.0);
    w!(
        out,
        r#"<div class="fig scroll"><svg viewBox="0 0 {width:.0} {height:.1}" width="100%" role="img" aria-label="task timeline">"#
    );
    out.push('\n');
    time_axis(
        out,
        LEFT,
        PLOT_W,
        total,
        10,
        (14.0, AXIS_H - 4.0, AXIS_H + plot_h),
    );
    for b in &bars {
        let s = &t.tasks[b.task];
        let x = LEFT + b.start as f64 / total as f64 * PLOT_W;
        let bw = ((b.end - b.start) as f64 / total as f64 * PLOT_W).max(1.0);
        let y = AXIS_H + b.lane as f64 * lane_h;
        let outline = if s.outcome == SpanOutcome::Failed {
            format!(r#" stroke="{FAILED}" stroke-width="1.5""#)
        } else {
            String::new()
        };
        w!(
            out,
            r#"<rect id="bar-{}" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bar_h:.1}" rx="1.5" fill="{}"{outline}><title>{}
{}
kind: {} · {}
start {} · end {} · {}
{} uploaded</title></rect>"#,
            b.task,
            kind_colour(&s.kind),
            escape(&s.id),
            escape(&s.subject),
            escape(&s.kind),
            outcome_name(s.outcome),
            secs(b.start),
            secs(b.end),
            secs(b.end - b.start),
            human_bytes(s.bytes)
        );
        let chars = ((bw - 8.0) / 6.2).floor();
        if lane_h >= 14.0 && chars >= 6.0 {
            w!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="10.5" style="fill:{}" pointer-events="none">{}</text>"#,
                x + 4.0,
                y + bar_h / 2.0 + 3.8,
                ink(kind_colour(&s.kind)),
                escape(&fit(short_subject(&s.subject), chars as usize))
            );
        }
        out.push('\n');
    }
    out.push_str("</svg></div>\n");
}

fn registries(out: &mut String, regs: &[RegistryUse], total: u64) {
    out.push_str("<h2 id=\"registries\">Registries</h2>\n");
    if regs.is_empty() {
        out.push_str("<p class=\"note\">No registry was used.</p>\n");
        return;
    }
    let throttled: Vec<&RegistryUse> = regs.iter().filter(|r| r.throttled > 0).collect();
    if throttled.is_empty() {
        out.push_str(
            "<p class=\"note\">Nothing was throttled: no registry answered 429 or 503.</p>\n",
        );
    }
    for r in throttled {
        w!(
            out,
            "<p class=\"note warn\">throttled: {} answers 429/503 from {} ({}).</p>\n",
            r.throttled,
            escape(&r.host),
            escape(&r.side)
        );
    }
    let numeric = ["Requests", "Retries", "Throttled", "Max in flight"];
    table_head(out, &["Side", "Host"], &numeric);
    for r in regs {
        w!(
            out,
            "<tr><td>{}</td><td class=\"id\">{}</td>",
            escape(&r.side),
            escape(&r.host)
        );
        for v in [r.requests, r.retries, r.throttled, r.max_in_flight] {
            num_cell(out, v, &v.to_string());
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n<div class=\"charts\">\n");
    for r in regs {
        concurrency_chart(out, r, total);
    }
    out.push_str("</div>\n");
}

/// Requests in flight over time, as a step chart.
fn concurrency_chart(out: &mut String, r: &RegistryUse, total: u64) {
    const W: f64 = 520.0;
    const H: f64 = 130.0;
    const X0: f64 = 34.0;
    const PW: f64 = W - X0 - 18.0;
    const TOP: f64 = 10.0;
    const BASE: f64 = H - 24.0;
    let top_n = r
        .in_flight
        .iter()
        .map(|p| p.1)
        .fold(r.max_in_flight, u64::max)
        .max(1);
    let x = |ms: u64| X0 + ms as f64 / total as f64 * PW;
    let y = |n: u64| BASE - n as f64 / top_n as f64 * (BASE - TOP);
    w!(
        out,
        "<div class=\"fig\"><h3>{} {}</h3><p class=\"sub\">max {} in flight · {} requests</p>\n\
         <svg viewBox=\"0 0 {W:.0} {H:.0}\" width=\"100%\" role=\"img\" aria-label=\"requests in flight\">\n",
        escape(&r.side),
        escape(&r.host),
        r.max_in_flight,
        r.requests
    );
    time_axis(out, X0, PW, total, 6, (H - 8.0, TOP, BASE));
    w!(
        out,
        r#"<line class="axis" x1="{X0:.1}" y1="{BASE:.1}" x2="{:.1}" y2="{BASE:.1}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{top_n}</text><text x="{:.1}" y="{BASE:.1}" font-size="11" text-anchor="end">0</text>"#,
        X0 + PW,
        X0 - 6.0,
        TOP + 8.0,
        X0 - 6.0
    );
    let mut path = format!("M{X0:.1},{BASE:.1}");
    for &(ms, n) in &r.in_flight {
        w!(&mut path, " H{:.1} V{:.1}", x(ms.min(total)), y(n));
    }
    w!(&mut path, " H{:.1}", X0 + PW);
    w!(
        out,
        "\n<path d=\"{path} V{BASE:.1} Z\" fill=\"#4e79a7\" fill-opacity=\"0.18\"/>\
         <path d=\"{path}\" fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"1.5\"/>\n</svg></div>\n"
    );
}

fn outcome_name(o: SpanOutcome) -> &'static str {
    match o {
        SpanOutcome::Fresh => "fresh",
        SpanOutcome::Done => "done",
        SpanOutcome::Failed => "failed",
        SpanOutcome::NotAttempted => "not attempted",
    }
}

/// The 20 tasks that took longest, ties by id.
pub(super) fn slowest(tasks: &[TaskSpan]) -> Vec<(usize, u64)> {
    let mut timed: Vec<(usize, u64)> = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.end_ms?.saturating_sub(s.start_ms?))))
        .collect();
    timed.sort_by(|a, b| (Reverse(a.1), &tasks[a.0].id).cmp(&(Reverse(b.1), &tasks[b.0].id)));
    timed.truncate(20);
    timed
}

/// Duration, bytes and throughput cells, ending the row.
fn transfer_cells(out: &mut String, ms: u64, bytes: u64) {
    num_cell(out, ms, &secs(ms));
    bytes_cell(out, bytes);
    w!(
        out,
        "<td class=\"num\">{}</td></tr>\n",
        throughput(bytes, ms)
    );
}

fn slowest_tasks(out: &mut String, tasks: &[TaskSpan]) {
    out.push_str("<h2 id=\"slowest\">Slowest tasks</h2>\n");
    let slowest = slowest(tasks);
    if slowest.is_empty() {
        out.push_str("<p class=\"note\">No task ran.</p>\n");
        return;
    }
    table_head(out, &["Task", "Kind"], &["Duration", "Bytes", "Throughput"]);
    for (i, ms) in slowest {
        let s = &tasks[i];
        w!(
            out,
            r#"<tr data-hl="bar-{i}"><td class="id">{}</td><td>{}</td>"#,
            escape(&s.id),
            escape(&s.kind)
        );
        transfer_cells(out, ms, s.bytes);
    }
    out.push_str("</tbody></table>\n");
}

fn slowest_blobs(out: &mut String, blobs: &[BlobSpan]) {
    out.push_str("<h2 id=\"blobs\">Slowest blobs</h2>\n");
    if blobs.is_empty() {
        out.push_str("<p class=\"note\">No blob was uploaded.</p>\n");
        return;
    }
    table_head(
        out,
        &["Digest", "Repository"],
        &["Duration", "Bytes", "Throughput"],
    );
    for b in blobs {
        let ms = b.end_ms.saturating_sub(b.start_ms);
        w!(
            out,
            r#"<tr><td class="id">{}</td><td class="id">{}</td>"#,
            escape(&b.digest),
            escape(&b.repository)
        );
        transfer_cells(out, ms, b.bytes);
    }
    out.push_str("</tbody></table>\n");
}

fn all_tasks(out: &mut String, tasks: &[TaskSpan]) {
    w!(out, "<h2 id=\"tasks\">All tasks ({})</h2>\n", tasks.len());
    let numeric = ["Start", "End", "Duration", "Bytes"];
    table_head(out, &["Task", "Kind", "Set", "Outcome"], &numeric);
    for (i, s) in tasks.iter().enumerate() {
        let hl = if s.start_ms.is_some() && s.end_ms.is_some() {
            format!(r#" data-hl="bar-{i}""#)
        } else {
            String::new()
        };
        let style = if s.outcome == SpanOutcome::Failed {
            format!(r#" style="color:{FAILED};font-weight:600""#)
        } else {
            String::new()
        };
        w!(
            out,
            "<tr{hl}><td class=\"id\">{}</td><td>{}</td><td>{}</td><td{style}>{}</td>",
            escape(&s.id),
            escape(&s.kind),
            escape(s.set.as_deref().unwrap_or("")),
            outcome_name(s.outcome)
        );
        let duration = s.start_ms.zip(s.end_ms).map(|(a, b)| b.saturating_sub(a));
        for v in [s.start_ms, s.end_ms, duration] {
            match v {
                Some(ms) => num_cell(out, ms, &secs(ms)),
                None => out.push_str(r#"<td class="num" data-v="-1">—</td>"#),
            }
        }
        bytes_cell(out, s.bytes);
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}
