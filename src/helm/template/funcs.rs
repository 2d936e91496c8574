//! The function table (Go's builtins, Helm's and sprig's functions) and the argument
//! conversions they share. Go's own builtins live here; the executor implements the few that
//! need the template set or lazy evaluation (`and`, `or`, `include`, `tpl`, `required`, `fail`).
//!
//! Argument conversion is lenient where Go would stop with "wrong type for value": a string
//! parameter takes any value (nil as ""), an int parameter any number or numeric string.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::value::{self, Val};
use super::{collections, encoding, numbers, printf, sprig};

pub(super) type Func = fn(&[Val]) -> Result<Val, String>;

/// Implemented by the executor.
const SPECIAL: &[&str] = &["and", "fail", "include", "or", "required", "tpl"];

pub(super) fn exists(name: &str) -> bool {
    SPECIAL.contains(&name) || lookup(name).is_some()
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    static TABLE: OnceLock<HashMap<&'static str, Func>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            BUILTINS
                .iter()
                .chain(sprig::FUNCS)
                .chain(numbers::FUNCS)
                .chain(collections::FUNCS)
                .chain(encoding::FUNCS)
                .copied()
                .collect()
        })
        .get(name)
        .copied()
}

/// Every name the table knows (for tests).
#[cfg(test)]
pub(super) fn names() -> Vec<&'static str> {
    BUILTINS
        .iter()
        .chain(sprig::FUNCS)
        .chain(numbers::FUNCS)
        .chain(collections::FUNCS)
        .chain(encoding::FUNCS)
        .map(|(n, _)| *n)
        .collect()
}

const BUILTINS: &[(&str, Func)] = &[
    ("eq", eq),
    ("ge", |a| ordered(a, |o| o.is_ge())),
    ("gt", |a| ordered(a, |o| o.is_gt())),
    ("html", |a| Ok(html(&go_args(a)).into())),
    ("index", index),
    ("js", |a| Ok(js(&go_args(a)).into())),
    ("le", |a| ordered(a, |o| o.is_le())),
    ("len", len),
    ("lt", |a| ordered(a, |o| o.is_lt())),
    ("ne", |a| {
        want(a, 2)?;
        Ok((!value::equal(&a[0], &a[1], false)).into())
    }),
    ("not", |a| {
        want(a, 1)?;
        Ok((!a[0].truthy()).into())
    }),
    ("print", |a| Ok(printf::sprint(a).into())),
    ("printf", |a| {
        let (format, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        Ok(printf::sprintf(&string_arg(format), rest).into())
    }),
    ("println", |a| Ok(printf::sprintln(a).into())),
    ("slice", slice),
    ("urlquery", |a| Ok(urlquery(&go_args(a)).into())),
];

pub(super) fn want(args: &[Val], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wrong number of args: want {n} got {}", args.len()))
    }
}

pub(super) fn want_at_least(args: &[Val], n: usize) -> Result<(), String> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args: want at least {n} got {}",
            args.len()
        ))
    }
}

/// A Go `string` parameter, leniently: nil is "", anything else prints as `%v`.
pub(super) fn string_arg(v: &Val) -> String {
    match v {
        Val::Str(s) => s.to_string(),
        Val::Nil => String::new(),
        other => other.to_go(),
    }
}

/// Sprig's `strval`: `%v`, so nil is "<nil>".
pub(super) fn strval(v: &Val) -> String {
    match v {
        Val::Str(s) => s.to_string(),
        other => other.to_go(),
    }
}

/// A Go `int` parameter: numbers (floats truncate), numeric strings, nil as 0.
pub(super) fn int_arg(v: &Val) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Float(f) => Ok(*f as i64),
        Val::Nil => Ok(0),
        Val::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected an integer, got {s:?}")),
        other => Err(format!("expected an integer, got {}", other.type_name())),
    }
}

/// `cast.ToInt64` as sprig uses it: never fails, 0 for anything unconvertible.
pub(super) fn to_i64(v: &Val) -> i64 {
    match v {
        Val::Int(i) => *i,
        Val::Float(f) => *f as i64,
        Val::Bool(b) => i64::from(*b),
        Val::Str(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// cast's `trimZeroDecimal`: "12.00" is "12", "12.5" and "12." stay as they are.
fn trim_zero_decimal(s: &str) -> &str {
    let digits = s.trim_end_matches('0');
    match digits.strip_suffix('.') {
        Some(int) if digits.len() < s.len() => int,
        _ => s,
    }
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b`/leading-zero octal, `_`.
pub(super) fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

/// `cast.ToFloat64`: never fails, 0 for anything unconvertible.
pub(super) fn to_f64(v: &Val) -> f64 {
    match v {
        Val::Int(i) => *i as f64,
        Val::Float(f) => *f,
        Val::Bool(b) => f64::from(u8::from(*b)),
        Val::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// The list in a list parameter (nil is empty); anything else is an error.
pub(super) fn list_arg(v: &Val) -> Result<Vec<Val>, String> {
    match v {
        Val::List(l) => Ok(l.as_ref().clone()),
        Val::Nil => Ok(Vec::new()),
        other => Err(format!("expected a list, got {}", other.type_name())),
    }
}

/// How Go's `html`, `js` and `urlquery` read their arguments: one string as is, else `print`.
fn go_args(args: &[Val]) -> String {
    match args {
        [Val::Str(s)] => s.to_string(),
        _ => printf::sprint(args),
    }
}

fn eq(args: &[Val]) -> Result<Val, String> {
    want_at_least(args, 2)?;
    Ok(args[1..]
        .iter()
        .any(|b| value::equal(&args[0], b, false))
        .into())
}

fn ordered(args: &[Val], test: fn(std::cmp::Ordering) -> bool) -> Result<Val, String> {
    want(args, 2)?;
    Ok(test(value::compare(&args[0], &args[1])?).into())
}

fn len(args: &[Val]) -> Result<Val, String> {
    want(args, 1)?;
    let n = match &args[0] {
        Val::Str(s) => s.len(),
        Val::List(l) => l.len(),
        Val::Map(m) => m.borrow().len(),
        Val::Nil => 0,
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Val::Int(n as i64))
}

fn index(args: &[Val]) -> Result<Val, String> {
    let (first, keys) = args
        .split_first()
        .ok_or("wrong number of args: want at least 1 got 0")?;
    let mut v = first.clone();
    for key in keys {
        v = match (&v, key) {
            (Val::Map(_), Val::Str(k)) => v.get(k).unwrap_or_default(),
            (Val::Map(_), k) => {
                return Err(format!(
                    "value has type {}; should be string",
                    k.type_name()
                ));
            }
            (Val::List(l), k) => {
                let i = index_arg(k)?;
                l.get(i)
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {i}"))?
            }
            (Val::Str(s), k) => {
                let i = index_arg(k)?;
                let b = s
                    .as_bytes()
                    .get(i)
                    .ok_or_else(|| format!("index out of range: {i}"))?;
                Val::Int(i64::from(*b))
            }
            (Val::Nil, _) => Val::Nil,
            (other, _) => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(v)
}

fn index_arg(v: &Val) -> Result<usize, String> {
    match v {
        Val::Int(i) => usize::try_from(*i).map_err(|_| format!("index out of range: {i}")),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn slice(args: &[Val]) -> Result<Val, String> {
    let (item, bounds) = args
        .split_first()
        .ok_or("wrong number of args: want at least 1 got 0")?;
    if bounds.len() > 3 {
        return Err(format!("too many slice indexes: {}", bounds.len()));
    }
    let bounds = bounds
        .iter()
        .map(index_arg)
        .collect::<Result<Vec<_>, _>>()?;
    let len = match item {
        Val::Str(s) => s.len(),
        Val::List(l) => l.len(),
        Val::Nil => return Ok(Val::Nil),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let lo = bounds.first().copied().unwrap_or(0);
    let hi = bounds.get(1).copied().unwrap_or(len);
    if lo > hi || hi > len {
        return Err(format!(
            "slice bounds out of range [{lo}:{hi}] with length {len}"
        ));
    }
    match item {
        Val::Str(s) if bounds.len() == 3 => Err(format!("cannot 3-index slice a string {s:?}")),
        Val::Str(s) => Ok(String::from_utf8_lossy(&s.as_bytes()[lo..hi])
            .into_owned()
            .into()),
        Val::List(l) => Ok(l[lo..hi].to_vec().into()),
        _ => Ok(Val::Nil),
    }
}

/// Go's `template.HTMLEscapeString`.
pub(super) fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(super) fn urlquery(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
