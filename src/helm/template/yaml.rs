//! `toYaml` output laid out byte for byte as Helm's (sigs.k8s.io/yaml over go-yaml v2): keys in
//! go-yaml's natural order, sequences not indented under their key, multi-line strings as
//! literal blocks, quoting only where a plain scalar would read back as something else, and
//! long scalars folded at 80 columns. `Style::Pretty` is `toYamlPretty` (go-yaml v3 with
//! indented sequences, no folding).

use std::cmp::Ordering;

use super::limits::MAX_DEPTH;
use super::value::{Val, format_float};

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Style {
    Helm,
    Pretty,
}

const WIDTH: usize = 80;

/// The YAML document for `v`, without the final newline (as Helm's `toYaml` trims it).
pub(super) fn to_yaml(v: &Val, style: Style) -> Result<String, String> {
    let mut e = Emitter {
        out: String::new(),
        col: 0,
        style,
    };
    match v {
        Val::Map(_) | Val::List(_) if v.truthy() => e.block(v, 0, false, 0)?,
        Val::Str(s) if s.contains('\n') && literal_ok(s) => e.literal(s, 2),
        other => e.scalar(other, 2, false),
    }
    e.newline();
    let mut out = e.out;
    out.pop();
    Ok(out)
}

struct Emitter {
    out: String,
    /// Characters since the last newline.
    col: usize,
    style: Style,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        match s.rfind('\n') {
            Some(i) => self.col = s[i + 1..].chars().count(),
            None => self.col += s.chars().count(),
        }
        self.out.push_str(s);
    }

    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.col = if c == '\n' { 0 } else { self.col + 1 };
    }

    fn newline(&mut self) {
        if self.col > 0 || self.out.is_empty() {
            self.put_char('\n');
        }
    }

    fn indent(&mut self, n: usize) {
        self.put_char('\n');
        self.put(&" ".repeat(n));
    }

    /// A non-empty map or list at `indent`; with `inline`, its first line continues the
    /// current one (after "- ").
    fn block(&mut self, v: &Val, indent: usize, inline: bool, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("value nested more than {MAX_DEPTH} levels deep"));
        }
        match v {
            Val::Map(_) => {
                let mut entries = v.entries();
                sort_keys(&mut entries);
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 || !inline {
                        self.put(&" ".repeat(indent));
                    }
                    self.string(key, indent + 2, false);
                    self.put_char(':');
                    self.value(value, indent, depth)?;
                    self.newline();
                }
            }
            Val::List(l) => {
                for (i, item) in l.iter().enumerate() {
                    if i > 0 || !inline {
                        self.put(&" ".repeat(indent));
                    }
                    self.put("- ");
                    match item {
                        Val::Map(_) | Val::List(_) if item.truthy() => {
                            self.block(item, indent + 2, true, depth + 1)?
                        }
                        Val::Str(s) if s.contains('\n') && literal_ok(s) => {
                            self.literal(s, indent + 2)
                        }
                        other => self.scalar(other, indent + 2, true),
                    }
                    self.newline();
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The value of a map entry at `indent`, after "key:".
    fn value(&mut self, v: &Val, indent: usize, depth: usize) -> Result<(), String> {
        match v {
            Val::Map(_) if v.truthy() => {
                self.put_char('\n');
                self.block(v, indent + 2, false, depth + 1)
            }
            Val::List(_) if v.truthy() => {
                self.put_char('\n');
                let at = if self.style == Style::Pretty {
                    indent + 2
                } else {
                    indent
                };
                self.block(v, at, false, depth + 1)
            }
            Val::Str(s) if s.contains('\n') && literal_ok(s) => {
                self.put_char(' ');
                self.literal(s, indent + 2);
                Ok(())
            }
            other => {
                self.put_char(' ');
                self.scalar(other, indent + 2, true);
                Ok(())
            }
        }
    }

    fn scalar(&mut self, v: &Val, indent: usize, breaks: bool) {
        match v {
            Val::Nil => self.put("null"),
            Val::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Val::Int(i) => self.put(&i.to_string()),
            Val::Float(f) => self.put(&float(*f)),
            Val::Str(s) => self.string(s, indent, breaks),
            Val::Map(_) => self.put("{}"),
            Val::List(_) => self.put("[]"),
        }
    }

    /// A string as plain, single- or double-quoted scalar; `breaks` allows folding.
    fn string(&mut self, s: &str, indent: usize, breaks: bool) {
        let breaks = breaks && self.style == Style::Helm;
        let chars: Vec<char> = s.chars().collect();
        let last = chars.len().saturating_sub(1);
        let a = analyze(s);
        let quoted = s.contains('\n') || resolves_to_non_string(s) || a.special || !a.plain;
        if !quoted {
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                if c == ' '
                    && breaks
                    && !spaces
                    && self.col > WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.indent(indent);
                } else {
                    self.put_char(c);
                }
                spaces = c == ' ';
            }
            return;
        }
        if !s.contains('\n') && !resolves_to_non_string(s) && !a.special && !a.space_break {
            self.put_char('\'');
            let mut spaces = false;
            for (i, &c) in chars.iter().enumerate() {
                let fold = c == ' ' && breaks && !spaces && self.col > WIDTH;
                if fold && i != 0 && i != last && chars.get(i + 1) != Some(&' ') {
                    self.indent(indent);
                } else if c == '\'' {
                    self.put("''");
                } else {
                    self.put_char(c);
                }
                spaces = c == ' ';
            }
            self.put_char('\'');
            return;
        }
        self.put_char('"');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if breaks && !spaces && self.col > WIDTH && i != 0 && i != last {
                    self.indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put_char('\\');
                    }
                } else {
                    self.put_char(' ');
                }
                spaces = true;
                continue;
            }
            spaces = false;
            match c {
                '\0' => self.put("\\0"),
                '\x07' => self.put("\\a"),
                '\x08' => self.put("\\b"),
                '\t' => self.put("\\t"),
                '\n' => self.put("\\n"),
                '\x0b' => self.put("\\v"),
                '\x0c' => self.put("\\f"),
                '\r' => self.put("\\r"),
                '\x1b' => self.put("\\e"),
                '"' => self.put("\\\""),
                '\\' => self.put("\\\\"),
                '\u{85}' => self.put("\\N"),
                '\u{2028}' => self.put("\\L"),
                '\u{2029}' => self.put("\\P"),
                c if printable(c) => self.put_char(c),
                c if (c as u32) <= 0xFF => self.put(&format!("\\x{:02X}", c as u32)),
                c if (c as u32) <= 0xFFFF => self.put(&format!("\\u{:04X}", c as u32)),
                c => self.put(&format!("\\U{:08X}", c as u32)),
            }
        }
        self.put_char('"');
    }

    /// A literal block scalar (`|`, `|-`, `|+`, with an indentation hint when the text starts
    /// with a space or newline) whose lines are indented to `indent`.
    fn literal(&mut self, s: &str, indent: usize) {
        self.put_char('|');
        if s.starts_with([' ', '\n']) {
            self.put_char('2');
        }
        if !s.ends_with('\n') {
            self.put_char('-');
        } else if s == "\n" || s.ends_with("\n\n") {
            self.put_char('+');
        }
        self.put_char('\n');
        let mut at_line_start = true;
        for c in s.chars() {
            if c == '\n' {
                self.put_char('\n');
                at_line_start = true;
            } else {
                if at_line_start {
                    self.put(&" ".repeat(indent));
                    at_line_start = false;
                }
                self.put_char(c);
            }
        }
    }
}

/// go-yaml writes floats as `strconv.FormatFloat(f, 'g', -1, 64)`; Helm's detour through JSON
/// turns integral floats into integers first.
fn float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        return (f as i64).to_string();
    }
    format_float(f)
}

/// libyaml's `is_printable`: which characters may appear unescaped.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A literal block needs printable text without a space before a line break (and no
/// trailing space); otherwise go-yaml falls back to a double-quoted string.
fn literal_ok(s: &str) -> bool {
    let a = analyze(s);
    !(a.special || a.space_break || s.ends_with(' '))
}

#[derive(Default)]
struct Analysis {
    /// A plain scalar is allowed (in block context).
    plain: bool,
    /// Non-printable characters: only double quotes can hold them.
    special: bool,
    /// A space right before a line break.
    space_break: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(s: &str) -> Analysis {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Analysis::default();
    }
    let blankz = |i: usize| {
        chars
            .get(i)
            .is_none_or(|c| matches!(c, ' ' | '\t' | '\0') || is_break(*c))
    };
    let mut indicators = s.starts_with("---") || s.starts_with("...");
    let (mut special, mut space_break, mut line_breaks) = (false, false, false);
    let mut prev_space = false;
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = blankz(i + 1);
        if i == 0 {
            indicators |= "#,[]{}&*!|>'\"%@`".contains(c)
                || (matches!(c, '?' | ':' | '-') && followed_by_whitespace);
        } else {
            indicators |=
                (c == ':' && followed_by_whitespace) || (c == '#' && preceded_by_whitespace);
        }
        special |= !printable(c);
        if is_break(c) {
            line_breaks = true;
            space_break |= prev_space;
        }
        prev_space = c == ' ';
        preceded_by_whitespace = blankz(i);
    }
    let edge_space = chars.first() == Some(&' ') || chars.last() == Some(&' ');
    Analysis {
        plain: !(indicators || edge_space || line_breaks || special),
        special,
        space_break,
    }
}

/// Whether go-yaml v2 would read `s`, written plain, as something other than a string (null,
/// bool, number, timestamp, merge key), so that it must be quoted.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let int = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))
        .map_or_else(
            || {
                let b = body
                    .strip_prefix("0b")
                    .or_else(|| body.strip_prefix("0o"))
                    .unwrap_or(body);
                !b.is_empty()
                    && b.bytes().all(|c| c.is_ascii_digit() || c == b'_')
                    && !b.starts_with('_')
            },
            |h| !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit() || c == b'_'),
        );
    int || is_float(body) || is_base60(body) || is_timestamp(s)
}

/// `[0-9]+(\.[0-9]*)?|\.[0-9]+`, then an optional exponent.
fn is_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (digits(int) && (frac.is_empty() || digits(frac))) || (int.is_empty() && digits(frac))
        }
        None => digits(mantissa),
    };
    mantissa_ok && exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// `[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`, a YAML 1.1 sexagesimal number.
fn is_base60(s: &str) -> bool {
    let (main, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit())
        && head.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            let b = p.as_bytes();
            matches!(b.len(), 1 | 2)
                && b.iter().all(u8::is_ascii_digit)
                && (b.len() == 1 || b[0] <= b'5')
        })
        && frac.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// A YAML timestamp: `2001-12-14`, optionally followed by a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, min: usize, max: usize| {
        let n = b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (min..=max).contains(&n).then_some(from + n)
    };
    let date = num(0, 4, 4)
        .filter(|i| b.get(*i) == Some(&b'-'))
        .and_then(|i| num(i + 1, 1, 2))
        .filter(|i| b.get(*i) == Some(&b'-'))
        .and_then(|i| num(i + 1, 1, 2));
    match date {
        Some(end) if end == b.len() => true,
        Some(end) => matches!(b[end], b'T' | b't' | b' ') && b[end + 1..].contains(&b':'),
        None => false,
    }
}

/// go-yaml v2's key order: digit runs compare as numbers, letters after other characters.
fn key_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let number = |r: &[char]| {
            let run: String = r[i..].iter().take_while(|c| c.is_ascii_digit()).collect();
            (
                run.trim_start_matches('0').len(),
                run.trim_start_matches('0').to_owned(),
                run.len(),
            )
        };
        let leading_zero = (ar[i] == '0' || br[i] == '0')
            && ar[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|c| *c != '0');
        let (an, bn) = (number(&ar), number(&br));
        if !leading_zero && (an.0, &an.1) != (bn.0, &bn.1) {
            return (an.0, &an.1).cmp(&(bn.0, &bn.1));
        }
        if an.2 != bn.2 {
            return an.2.cmp(&bn.2);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// A stable merge sort by `key_order` (which is not guaranteed to be a total order, so the
/// standard library's sort, which may panic on one, is not used).
fn sort_keys(entries: &mut Vec<(String, Val)>) {
    if entries.len() < 2 {
        return;
    }
    let right = entries.split_off(entries.len() / 2);
    let mut left = std::mem::take(entries);
    sort_keys(&mut left);
    let mut right = right;
    sort_keys(&mut right);
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let next = if key_order(&b.0, &a.0) == Ordering::Less {
            r.next()
        } else {
            l.next()
        };
        entries.extend(next);
    }
    entries.extend(l);
    entries.extend(r);
}
