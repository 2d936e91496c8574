//! Go's `fmt` as templates see it: `print`, `println` and `printf` with its verbs, flags, width
//! and precision, including Go's in-band errors (`%!d(string=x)`, `%!s(MISSING)`).

use super::limits::MAX_DEPTH;
use super::value::{self, Val};

/// `fmt.Sprint`: operands printed with `%v`, a space between two that are not strings.
pub(super) fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Val::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        a.write_go(&mut out);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands with spaces between and a newline after.
pub(super) fn sprintln(args: &[Val]) -> String {
    let mut out = args.iter().map(Val::to_go).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

#[derive(Default, Clone)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// `fmt.Sprintf`.
pub(super) fn sprintf(format: &str, args: &[Val]) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next_arg = 0;
    let mut i = 0;
    let take_int = |next_arg: &mut usize| -> Option<i64> {
        let v = args.get(*next_arg)?;
        *next_arg += 1;
        match v {
            Val::Int(n) => Some(*n),
            _ => None,
        }
    };
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while let Some(c) = chars.get(i) {
            match c {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            i += 1;
            match take_int(&mut next_arg) {
                Some(w) => {
                    spec.minus |= w < 0;
                    spec.width = usize::try_from(w.unsigned_abs())
                        .ok()
                        .filter(|w| *w < 1 << 20);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
        } else {
            spec.width = digits(&chars, &mut i);
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            if chars.get(i) == Some(&'*') {
                i += 1;
                match take_int(&mut next_arg) {
                    Some(p) if p >= 0 => {
                        spec.prec = usize::try_from(p).ok().filter(|p| *p < 1 << 20)
                    }
                    _ => out.push_str("%!(BADPREC)"),
                }
            } else {
                spec.prec = Some(digits(&chars, &mut i).unwrap_or(0));
            }
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(arg) => {
                next_arg += 1;
                format_arg(&mut out, verb, &spec, arg, 0);
            }
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    if let Some(extra) = args.get(next_arg..).filter(|e| !e.is_empty()) {
        let items: Vec<String> = extra.iter().map(typed).collect();
        out.push_str(&format!("%!(EXTRA {})", items.join(", ")));
    }
    out
}

fn digits(chars: &[char], i: &mut usize) -> Option<usize> {
    let start = *i;
    while chars.get(*i).is_some_and(char::is_ascii_digit) {
        *i += 1;
    }
    let n: String = chars[start..*i].iter().collect();
    n.parse().ok().filter(|n| *n < 1 << 20)
}

/// `type=value`, as Go reports a value it could not format.
fn typed(v: &Val) -> String {
    match v {
        Val::Nil => "<nil>".into(),
        v => format!("{}={}", v.type_name(), v.to_go()),
    }
}

fn format_arg(out: &mut String, verb: char, spec: &Spec, arg: &Val, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    let bad = |out: &mut String| out.push_str(&format!("%!{verb}({})", typed(arg)));
    match (verb, arg) {
        ('T', v) => pad(out, v.type_name(), spec, false),
        ('v', _) if spec.sharp => pad(out, &go_syntax(arg, 0), spec, false),
        ('v' | 't', Val::Bool(b)) => pad(out, if *b { "true" } else { "false" }, spec, false),
        ('v' | 'd' | 'b' | 'o' | 'O' | 'x' | 'X' | 'c' | 'q' | 'U', Val::Int(n)) => {
            int(out, verb, spec, *n)
        }
        ('v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G', Val::Float(f)) => float(out, verb, spec, *f),
        ('v' | 's', Val::Str(s)) => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, &s, spec, false);
        }
        ('q', Val::Str(s)) if spec.sharp && !s.contains(['`', '\n', '\r']) => {
            pad(out, &format!("`{s}`"), spec, false);
        }
        ('q', Val::Str(s)) => pad(out, &quote(s, spec.plus), spec, false),
        ('x' | 'X', Val::Str(s)) => {
            let hex: Vec<String> = s
                .bytes()
                .map(|b| match verb {
                    'x' => format!("{b:02x}"),
                    _ => format!("{b:02X}"),
                })
                .collect();
            pad(
                out,
                &hex.join(if spec.space { " " } else { "" }),
                spec,
                false,
            );
        }
        ('v', Val::Nil) => pad(out, "<nil>", spec, false),
        (_, Val::List(l)) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, verb, spec, v, depth + 1);
            }
            out.push(']');
        }
        (_, Val::Map(m)) => {
            out.push_str("map[");
            for (i, (k, v)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, verb, spec, &Val::from(k.as_str()), depth + 1);
                out.push(':');
                format_arg(out, verb, spec, v, depth + 1);
            }
            out.push(']');
        }
        _ => bad(out),
    }
}

/// Pads to the width: spaces (left or, with `-`, right) or zeros after the sign.
fn pad(out: &mut String, s: &str, spec: &Spec, numeric: bool) {
    let len = s.chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        out.push_str(s);
    } else if spec.minus {
        out.push_str(s);
        out.push_str(&" ".repeat(fill));
    } else if spec.zero {
        let sign_len = if numeric && s.starts_with(['-', '+', ' ']) {
            1
        } else {
            0
        };
        out.push_str(&s[..sign_len]);
        out.push_str(&"0".repeat(fill));
        out.push_str(&s[sign_len..]);
    } else {
        out.push_str(&" ".repeat(fill));
        out.push_str(s);
    }
}

fn sign(spec: &Spec, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn int(out: &mut String, verb: char, spec: &Spec, n: i64) {
    let c = u32::try_from(n).ok().and_then(char::from_u32);
    let text = match verb {
        'c' => return pad(out, &c.unwrap_or('\u{FFFD}').to_string(), spec, false),
        'q' => return pad(out, &quote_char(c.unwrap_or('\u{FFFD}')), spec, false),
        'U' => return pad(out, &format!("U+{:04X}", n.unsigned_abs()), spec, false),
        _ => {
            let m = n.unsigned_abs();
            let mut digits = match verb {
                'b' => format!("{m:b}"),
                'o' | 'O' => format!("{m:o}"),
                'x' => format!("{m:x}"),
                'X' => format!("{m:X}"),
                _ => m.to_string(),
            };
            if let Some(p) = spec.prec {
                if p == 0 && m == 0 {
                    digits.clear();
                } else if digits.len() < p {
                    digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                }
            }
            let prefix = match verb {
                'O' => "0o",
                'x' if spec.sharp => "0x",
                'X' if spec.sharp => "0X",
                'o' if spec.sharp && !digits.starts_with('0') => "0",
                'b' if spec.sharp => "0b",
                _ => "",
            };
            format!("{}{prefix}{digits}", sign(spec, n < 0))
        }
    };
    let zero = Spec {
        zero: spec.zero && spec.prec.is_none(),
        ..spec.clone()
    };
    pad(out, &text, &zero, true);
}

fn float(out: &mut String, verb: char, spec: &Spec, f: f64) {
    if !f.is_finite() {
        let text = if f.is_nan() {
            format!("{}NaN", if spec.plus { "+" } else { "" })
        } else {
            format!(
                "{}Inf",
                if f < 0.0 {
                    "-"
                } else if spec.space {
                    " "
                } else {
                    "+"
                }
            )
        };
        let spaces = Spec {
            zero: false,
            ..spec.clone()
        };
        return pad(out, &text, &spaces, true);
    }
    let body = match verb {
        'e' | 'E' => exp(f.abs(), spec.prec.unwrap_or(6)),
        'f' | 'F' => format!("{:.*}", spec.prec.unwrap_or(6), f.abs()),
        'g' | 'G' if spec.prec.is_some() => general(f.abs(), spec.prec.unwrap_or(0).max(1)),
        _ => value::format_float(f.abs()),
    };
    let body = if matches!(verb, 'E' | 'G') {
        body.to_uppercase()
    } else {
        body
    };
    pad(
        out,
        &format!("{}{body}", sign(spec, f.is_sign_negative() && f != 0.0)),
        spec,
        true,
    );
}

/// `%.<prec>e` the Go way: `1.500000e+00`.
fn exp(f: f64, prec: usize) -> String {
    let s = format!("{f:.prec$e}");
    let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if e < 0 { '-' } else { '+' },
        e.unsigned_abs()
    )
}

/// `%.<prec>g`: `prec` significant digits, trailing zeros dropped, exponent form when the
/// exponent is below -4 or at least the precision.
fn general(f: f64, prec: usize) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let s = format!("{:.*e}", prec - 1, f);
    let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let (nd, point) = (digits.len() as i32, e + 1);
    let mut eprec = prec as i32;
    if eprec > nd && nd >= point {
        eprec = nd;
    }
    if e < -4 || e >= eprec {
        return value::exponent_form(digits, e);
    }
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point >= nd {
        format!("{digits}{}", "0".repeat((point - nd) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    }
}

/// Whether Go's `strconv.IsPrint` holds (approximately: no controls, no format characters,
/// no spaces other than U+0020).
fn printable(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'))
}

fn escape(out: &mut String, c: char, quote: char, ascii_only: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if printable(c) && (!ascii_only || c.is_ascii()) => out.push(c),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// `strconv.Quote` (with `ascii_only`, `strconv.QuoteToASCII`).
pub(super) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

fn quote_char(c: char) -> String {
    let mut out = String::from("'");
    escape(&mut out, c, '\'', false);
    out.push('\'');
    out
}

/// `%#v`: Go syntax.
fn go_syntax(v: &Val, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "...".into();
    }
    match v {
        Val::Nil => "<nil>".into(),
        Val::Str(s) => quote(s, false),
        Val::List(l) => {
            let items: Vec<String> = l.iter().map(|v| go_syntax(v, depth + 1)).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Val::Map(m) => {
            let items: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k, false), go_syntax(v, depth + 1)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
        other => other.to_go(),
    }
}
