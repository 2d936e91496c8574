//! Values while rendering: the JSON data model with Go's semantics. Maps are shared and mutable
//! (Go maps are references, and charts rely on `set`/`merge` being seen through every alias);
//! lists and scalars are immutable. Printing follows Go's `%v`, truth follows `text/template`.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use super::limits::MAX_DEPTH;

pub(super) type Map = BTreeMap<String, Val>;

#[derive(Clone, Default)]
pub(super) enum Val {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Val>>),
    Map(Rc<RefCell<Map>>),
}

impl Drop for Val {
    /// Dropping a deeply nested value recursively could overflow the stack (a loop can nest
    /// `dict`s thousands deep), so the children of containers we hold the last reference to are
    /// moved onto a heap stack and dropped from there.
    fn drop(&mut self) {
        if !matches!(self, Val::List(_) | Val::Map(_)) {
            return;
        }
        let mut pending = Vec::new();
        take_children(self, &mut pending);
        while let Some(mut v) = pending.pop() {
            take_children(&mut v, &mut pending);
        }
    }
}

fn take_children(v: &mut Val, into: &mut Vec<Val>) {
    match v {
        Val::List(l) => {
            if let Some(l) = Rc::get_mut(l) {
                into.append(l);
            }
        }
        Val::Map(m) => {
            if let Some(m) = Rc::get_mut(m) {
                into.extend(std::mem::take(m.get_mut()).into_values());
            }
        }
        _ => {}
    }
}

impl fmt::Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_go())
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Str(s.into())
    }
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Str(s.into())
    }
}

impl From<bool> for Val {
    fn from(b: bool) -> Self {
        Val::Bool(b)
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}

impl From<f64> for Val {
    fn from(f: f64) -> Self {
        Val::Float(f)
    }
}

impl From<Vec<Val>> for Val {
    fn from(l: Vec<Val>) -> Self {
        Val::List(Rc::new(l))
    }
}

impl From<Map> for Val {
    fn from(m: Map) -> Self {
        Val::Map(Rc::new(RefCell::new(m)))
    }
}

impl Val {
    pub(super) fn from_json(v: &serde_json::Value) -> Result<Val, String> {
        Self::from_json_at(v, 0)
    }

    fn from_json_at(v: &serde_json::Value, depth: usize) -> Result<Val, String> {
        if depth > MAX_DEPTH {
            return Err(format!("data nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(match v {
            serde_json::Value::Null => Val::Nil,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Val::from(s.as_str()),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| Self::from_json_at(x, depth + 1))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
            serde_json::Value::Object(o) => o
                .iter()
                .map(|(k, x)| Ok((k.clone(), Self::from_json_at(x, depth + 1)?)))
                .collect::<Result<Map, String>>()?
                .into(),
        })
    }

    /// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
    pub(super) fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Map(m) => !m.borrow().is_empty(),
        }
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn is_nil(&self) -> bool {
        matches!(self, Val::Nil)
    }

    /// Go's `%T` of the value as Helm would hold it.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "<nil>",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::List(_) => "[]interface {}",
            Val::Map(_) => "map[string]interface {}",
        }
    }

    /// Go's `reflect.Kind` name.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Val::Nil => "invalid",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::List(_) => "slice",
            Val::Map(_) => "map",
        }
    }

    /// The value of `key` if this is a map.
    pub(super) fn get(&self, key: &str) -> Option<Val> {
        match self {
            Val::Map(m) => m.borrow().get(key).cloned(),
            _ => None,
        }
    }

    /// A snapshot of a map's entries in key order (empty for anything else): iterating a
    /// snapshot lets the template change the map meanwhile.
    pub(super) fn entries(&self) -> Vec<(String, Val)> {
        match self {
            Val::Map(m) => m
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Go's `%v`.
    pub(super) fn to_go(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out);
        out
    }

    pub(super) fn write_go(&self, out: &mut String) {
        self.write_go_at(out, 0);
    }

    fn write_go_at(&self, out: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            out.push_str("...");
            return;
        }
        match self {
            Val::Nil => out.push_str("<nil>"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Float(f) => out.push_str(&format_float(*f)),
            Val::Str(s) => out.push_str(s),
            Val::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go_at(out, depth + 1);
                }
                out.push(']');
            }
            Val::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go_at(out, depth + 1);
                }
                out.push(']');
            }
        }
    }

    /// A copy sharing nothing mutable with the original (sprig's `deepCopy`).
    pub(super) fn deep_copy(&self) -> Result<Val, String> {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> Result<Val, String> {
        if depth > MAX_DEPTH {
            return Err(format!("value nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(match self {
            Val::List(l) => l
                .iter()
                .map(|v| v.deep_copy_at(depth + 1))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
            Val::Map(_) => self
                .entries()
                .into_iter()
                .map(|(k, v)| Ok((k, v.deep_copy_at(depth + 1)?)))
                .collect::<Result<Map, String>>()?
                .into(),
            other => other.clone(),
        })
    }
}

/// Equality for `eq`/`ne`, `has`, `uniq`…: `strict` is `reflect.DeepEqual` (an int never equals
/// a float); otherwise numbers compare by value across int and float, as charts expect.
pub(super) fn equal(a: &Val, b: &Val, strict: bool) -> bool {
    equal_at(a, b, strict, 0)
}

fn equal_at(a: &Val, b: &Val, strict: bool, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Val::Nil, Val::Nil) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Float(x), Val::Float(y)) => x == y,
        (Val::Int(x), Val::Float(y)) | (Val::Float(y), Val::Int(x)) => !strict && *x as f64 == *y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(x), Val::List(y)) => {
            Rc::ptr_eq(x, y)
                || (x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|(p, q)| equal_at(p, q, strict, depth + 1)))
        }
        (Val::Map(x), Val::Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, vx), (ky, vy))| kx == ky && equal_at(vx, vy, strict, depth + 1))
        }
        _ => false,
    }
}

/// Ordering for `lt`/`le`/`gt`/`ge`: numbers (across int and float) and strings.
pub(super) fn compare(a: &Val, b: &Val) -> Result<Ordering, String> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Ok(x.cmp(y)),
        (Val::Int(x), Val::Float(y)) => Ok((*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Val::Float(x), Val::Int(y)) => Ok(x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal)),
        (Val::Float(x), Val::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Int(_) | Val::Float(_) | Val::Str(_), Val::Int(_) | Val::Float(_) | Val::Str(_)) => {
            Err("incompatible types for comparison".into())
        }
        _ => Err("invalid type for comparison".into()),
    }
}

/// The shortest decimal digits of a finite, non-zero `f` and the position of the decimal
/// point: `f = 0.DIGITS × 10^point`.
pub(super) fn shortest_digits(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse::<i32>().unwrap_or(0) + 1)
}

/// Go's `%v` (and `strconv.FormatFloat(f, 'g', -1, 64)`) for a float: `1.5`, `3`, `1e+06`.
pub(super) fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let (digits, point) = shortest_digits(f);
    let exp = point - 1;
    if !(-4..6).contains(&exp) {
        format!("{sign}{}", exponent_form(&digits, exp))
    } else {
        format!("{sign}{}", fixed_form(&digits, point))
    }
}

/// `d.ddde±XX` from significant digits and a decimal exponent.
pub(super) fn exponent_form(digits: &str, exp: i32) -> String {
    let (first, rest) = digits.split_at(digits.len().min(1));
    let mut out = first.to_owned();
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    let sign = if exp < 0 { '-' } else { '+' };
    out.push_str(&format!("e{sign}{:02}", exp.unsigned_abs()));
    out
}

/// Plain decimal notation from significant digits and the decimal point position.
fn fixed_form(digits: &str, point: i32) -> String {
    let n = digits.len() as i32;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point >= n {
        format!("{digits}{}", "0".repeat((point - n) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    }
}
