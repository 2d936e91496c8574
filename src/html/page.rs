//! What both pages share: escaping, number formatting, the document frame with its one style
//! sheet and its one small script.

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        use ::std::fmt::Write as _;
        let _ = $out.write_fmt(format_args!($($arg)*));
    }};
}
pub(super) use w;

/// Text from the data, safe in element content and in quoted attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// `512 B`, `12.3 MiB`.
pub(super) fn human_bytes(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Milliseconds as seconds with three decimals: `12.345 s`.
pub(super) fn secs(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// A wall time for people: `850 ms`, `12.345 s`, `3 min 04.500 s`, `1 h 02 min 03 s`.
pub(super) fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms} ms"),
        0..60 => secs(ms),
        60..3600 => format!("{} min {:02}.{:03} s", s / 60, s % 60, ms % 1000),
        _ => format!("{} h {:02} min {:02} s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// `42.0 MiB/s`, or a dash when nothing measurable moved.
pub(super) fn throughput(bytes: u64, ms: u64) -> String {
    if ms == 0 || bytes == 0 {
        return "—".to_string();
    }
    let mib_s = bytes as f64 / (1024.0 * 1024.0) / (ms as f64 / 1000.0);
    format!("{mib_s:.1} MiB/s")
}

/// A right-aligned numeric cell that sorts by `v`.
pub(super) fn num_cell(out: &mut String, v: u64, text: &str) {
    w!(out, r#"<td class="num" data-v="{v}">{text}</td>"#);
}

/// A byte count cell: human units, exact bytes in the tooltip.
pub(super) fn bytes_cell(out: &mut String, n: u64) {
    w!(
        out,
        r#"<td class="num" data-v="{n}" title="{n} bytes">{}</td>"#,
        human_bytes(n)
    );
}

/// A table head whose columns sort on click: text columns, then numeric ones (right-aligned).
pub(super) fn table_head(out: &mut String, text: &[&str], numeric: &[&str]) {
    out.push_str(r#"<table class="sortable"><thead><tr>"#);
    for name in text {
        w!(out, "<th>{name}</th>");
    }
    for name in numeric {
        w!(out, r#"<th class="num">{name}</th>"#);
    }
    out.push_str("</tr></thead><tbody>\n");
}

/// The whole document around `body`; a `wide` page uses the whole window.
pub(super) fn document(title: &str, wide: bool, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body{}>\n{body}\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        escape(title),
        if wide { " class=\"wide\"" } else { "" }
    )
}

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1f2430; --muted: #5d6677; --line: #dde2ea; --alt: #f5f7fa; }
body { margin: 0; padding: 24px 32px 56px; max-width: 1240px; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, sans-serif; }
body.wide { max-width: none; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 4px; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12.5px; }
p.sub { color: var(--muted); margin: 0 0 16px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 8px; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--alt); font-weight: 600; position: sticky; top: 0; cursor: pointer; white-space: nowrap; }
th[data-dir=asc]::after { content: " \25B2"; font-size: 9px; }
th[data-dir=desc]::after { content: " \25BC"; font-size: 9px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
tbody tr:hover td { background: #eef4ff; }
table.kv th { text-align: left; position: static; cursor: default; width: 220px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 10px; font-size: 13px; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
.note { padding: 8px 12px; border-left: 4px solid #2f9e44; background: #effaf1; margin: 8px 0; }
.note.warn { border-color: #d97706; background: #fff6e5; }
.fig { border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
.scroll { overflow: auto; max-height: 1600px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px; }
svg { display: block; }
svg text { font-family: system-ui, sans-serif; fill: #3b4252; }
svg .axis { stroke: #9aa3b2; } svg .grid { stroke: #edf0f4; }
svg .hl { stroke: #111 !important; stroke-width: 2.5px !important; }
"#;

const SCRIPT: &str = r#"
(function () {
  var d = document, each = Array.prototype.forEach;
  function key(td) {
    if (!td) return "";
    var v = td.getAttribute("data-v");
    return v === null ? td.textContent : Number(v);
  }
  each.call(d.querySelectorAll("table.sortable"), function (t) {
    var head = t.tHead && t.tHead.rows[0], body = t.tBodies[0];
    if (!head || !body) return;
    each.call(head.cells, function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("data-dir") !== "asc";
        each.call(head.cells, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", asc ? "asc" : "desc");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (x, y) {
          var a = key(x.cells[col]), b = key(y.cells[col]);
          var r = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  each.call(d.querySelectorAll("tr[data-hl]"), function (tr) {
    var el = d.getElementById(tr.getAttribute("data-hl"));
    if (!el) return;
    tr.addEventListener("mouseenter", function () { el.classList.add("hl"); });
    tr.addEventListener("mouseleave", function () { el.classList.remove("hl"); });
  });
  document.documentElement.dataset.rendered = "ok";
})();
"#;

/// At most `max` characters of `s`, with an ellipsis when cut.
pub(super) fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
