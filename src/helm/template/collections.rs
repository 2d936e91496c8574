//! Sprig's list and dict functions. Lists are values (functions return new ones); dicts are
//! shared, so `set`, `unset`, `merge` and `mergeOverwrite` change the map every alias sees, as
//! Go maps do. The `must…` variants behave like the plain ones (which already report errors).

use std::cell::RefCell;
use std::rc::Rc;

use super::funcs::{Func, int_arg, list_arg, string_arg, strval, want, want_at_least};
use super::limits::MAX_DEPTH;
use super::value::{self, Map, Val};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("append", append),
    ("chunk", chunk),
    ("compact", compact),
    ("concat", concat),
    ("deepCopy", deep_copy),
    ("dict", dict),
    ("dig", dig),
    ("first", |a| {
        list1(a, |l| l.first().cloned().unwrap_or_default())
    }),
    ("get", |a| {
        want(a, 2)?;
        Ok(map_arg(&a[0])?
            .and_then(|m| m.borrow().get(&string_arg(&a[1])).cloned())
            .unwrap_or_else(|| "".into()))
    }),
    ("has", has),
    ("hasKey", |a| {
        want(a, 2)?;
        let key = string_arg(&a[1]);
        Ok(map_arg(&a[0])?
            .is_some_and(|m| m.borrow().contains_key(&key))
            .into())
    }),
    ("initial", |a| {
        list1(a, |l| rest_of(l, 0, l.len().saturating_sub(1)))
    }),
    ("join", |a| {
        want(a, 2)?;
        Ok(strings(&a[1]).join(&string_arg(&a[0])).into())
    }),
    ("keys", keys),
    ("last", |a| {
        list1(a, |l| l.last().cloned().unwrap_or_default())
    }),
    ("list", |a| Ok(a.to_vec().into())),
    ("merge", |a| merge(a, false)),
    ("mergeOverwrite", |a| merge(a, true)),
    ("mustAppend", append),
    ("mustChunk", chunk),
    ("mustCompact", compact),
    ("mustDeepCopy", deep_copy),
    ("mustFirst", |a| {
        list1(a, |l| l.first().cloned().unwrap_or_default())
    }),
    ("mustHas", has),
    ("mustInitial", |a| {
        list1(a, |l| rest_of(l, 0, l.len().saturating_sub(1)))
    }),
    ("mustLast", |a| {
        list1(a, |l| l.last().cloned().unwrap_or_default())
    }),
    ("mustMerge", |a| merge(a, false)),
    ("mustMergeOverwrite", |a| merge(a, true)),
    ("mustPrepend", prepend),
    ("mustPush", append),
    ("mustRest", |a| list1(a, |l| rest_of(l, 1, l.len()))),
    ("mustReverse", reverse),
    ("mustUniq", uniq),
    ("mustWithout", without),
    ("omit", |a| pick_or_omit(a, false)),
    ("pick", |a| pick_or_omit(a, true)),
    ("pluck", |a| {
        let (key, dicts) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        let key = string_arg(key);
        let found = dicts.iter().filter_map(|d| d.get(&key));
        Ok(found.collect::<Vec<_>>().into())
    }),
    ("prepend", prepend),
    ("push", append),
    ("rest", |a| list1(a, |l| rest_of(l, 1, l.len()))),
    ("reverse", reverse),
    ("set", |a| {
        want(a, 3)?;
        let m = map_arg(&a[0])?.ok_or("cannot set a key in nil")?;
        let (key, value) = (string_arg(&a[1]), a[2].clone());
        m.borrow_mut().insert(key, value);
        Ok(a[0].clone())
    }),
    ("sortAlpha", |a| {
        want(a, 1)?;
        let mut s = strings(&a[0]);
        s.sort();
        Ok(s.into_iter().map(Val::from).collect::<Vec<_>>().into())
    }),
    ("split", |a| split(a, -1, true)),
    ("splitList", |a| split(a, -1, false)),
    ("splitn", |a| {
        want(a, 3)?;
        let n = int_arg(&a[1])?;
        split(&[a[0].clone(), a[2].clone()], n, true)
    }),
    ("toStrings", |a| {
        want(a, 1)?;
        Ok(strings(&a[0])
            .into_iter()
            .map(Val::from)
            .collect::<Vec<_>>()
            .into())
    }),
    ("tuple", |a| Ok(a.to_vec().into())),
    ("uniq", uniq),
    ("unset", |a| {
        want(a, 2)?;
        if let Some(m) = map_arg(&a[0])? {
            let key = string_arg(&a[1]);
            m.borrow_mut().remove(&key);
        }
        Ok(a[0].clone())
    }),
    ("values", |a| {
        want(a, 1)?;
        let values = a[0].entries().into_iter().map(|(_, v)| v);
        Ok(values.collect::<Vec<_>>().into())
    }),
    ("without", without),
];

/// The map in a dict parameter: `None` for nil, an error for anything but a map.
fn map_arg(v: &Val) -> Result<Option<Rc<RefCell<Map>>>, String> {
    match v {
        Val::Map(m) => Ok(Some(m.clone())),
        Val::Nil => Ok(None),
        other => Err(format!("expected a map, got {}", other.type_name())),
    }
}

fn list1(a: &[Val], f: impl Fn(&[Val]) -> Val) -> Result<Val, String> {
    want(a, 1)?;
    Ok(f(&list_arg(&a[0])?))
}

/// `l[lo..hi]`, or nil for an empty list (as sprig's `rest` and `initial` return).
fn rest_of(l: &[Val], lo: usize, hi: usize) -> Val {
    if l.is_empty() {
        return Val::Nil;
    }
    l.get(lo..hi).unwrap_or_default().to_vec().into()
}

/// sprig's `strslice`: a list's non-nil elements as strings, nil as none, anything else as one.
fn strings(v: &Val) -> Vec<String> {
    match v {
        Val::List(l) => l.iter().filter(|v| !v.is_nil()).map(strval).collect(),
        Val::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn append(a: &[Val]) -> Result<Val, String> {
    want(a, 2)?;
    let mut l = list_arg(&a[0])?;
    l.push(a[1].clone());
    Ok(l.into())
}

fn prepend(a: &[Val]) -> Result<Val, String> {
    want(a, 2)?;
    let mut l = list_arg(&a[0])?;
    l.insert(0, a[1].clone());
    Ok(l.into())
}

fn concat(a: &[Val]) -> Result<Val, String> {
    let mut out = Vec::new();
    for l in a {
        out.extend(list_arg(l)?);
    }
    Ok(out.into())
}

fn chunk(a: &[Val]) -> Result<Val, String> {
    want(a, 2)?;
    let size = usize::try_from(int_arg(&a[0])?)
        .ok()
        .filter(|s| *s > 0)
        .ok_or("chunk size must be positive")?;
    let l = list_arg(&a[1])?;
    Ok(l.chunks(size)
        .map(|c| Val::from(c.to_vec()))
        .collect::<Vec<_>>()
        .into())
}

fn compact(a: &[Val]) -> Result<Val, String> {
    want(a, 1)?;
    let l = list_arg(&a[0])?;
    Ok(l.into_iter().filter(Val::truthy).collect::<Vec<_>>().into())
}

fn reverse(a: &[Val]) -> Result<Val, String> {
    want(a, 1)?;
    let mut l = list_arg(&a[0])?;
    l.reverse();
    Ok(l.into())
}

fn uniq(a: &[Val]) -> Result<Val, String> {
    want(a, 1)?;
    let mut out: Vec<Val> = Vec::new();
    for v in list_arg(&a[0])? {
        if !out.iter().any(|u| value::equal(u, &v, true)) {
            out.push(v);
        }
    }
    Ok(out.into())
}

fn has(a: &[Val]) -> Result<Val, String> {
    want(a, 2)?;
    let found = list_arg(&a[1])?
        .iter()
        .any(|v| value::equal(v, &a[0], true));
    Ok(found.into())
}

fn without(a: &[Val]) -> Result<Val, String> {
    want_at_least(a, 1)?;
    let l = list_arg(&a[0])?;
    let omit = &a[1..];
    let kept = l
        .into_iter()
        .filter(|v| !omit.iter().any(|o| value::equal(v, o, true)));
    Ok(kept.collect::<Vec<_>>().into())
}

fn deep_copy(a: &[Val]) -> Result<Val, String> {
    want(a, 1)?;
    a[0].deep_copy()
}

fn dict(a: &[Val]) -> Result<Val, String> {
    let mut m = Map::new();
    for pair in a.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_else(|| "".into());
        m.insert(strval(&pair[0]), value);
    }
    Ok(m.into())
}

/// `dig "a" "b" default dict`: the value at a path of keys, or the default.
fn dig(a: &[Val]) -> Result<Val, String> {
    want_at_least(a, 3)?;
    let (dict, rest) = a.split_last().ok_or("dig needs a dict")?;
    let (default, path) = rest.split_last().ok_or("dig needs a default")?;
    let mut v = dict.clone();
    for key in path {
        match v.get(&string_arg(key)) {
            Some(next) => v = next,
            None => return Ok(default.clone()),
        }
    }
    Ok(v)
}

fn keys(a: &[Val]) -> Result<Val, String> {
    let mut keys: Vec<String> = Vec::new();
    for d in a {
        if let Some(m) = map_arg(d)? {
            keys.extend(m.borrow().keys().cloned());
        }
    }
    keys.sort();
    Ok(keys.into_iter().map(Val::from).collect::<Vec<_>>().into())
}

fn pick_or_omit(a: &[Val], pick: bool) -> Result<Val, String> {
    want_at_least(a, 1)?;
    let names: Vec<String> = a[1..].iter().map(string_arg).collect();
    let kept = a[0]
        .entries()
        .into_iter()
        .filter(|(k, _)| names.contains(k) == pick);
    Ok(kept.collect::<Map>().into())
}

fn split(a: &[Val], n: i64, as_map: bool) -> Result<Val, String> {
    want(a, 2)?;
    let (sep, s) = (string_arg(&a[0]), string_arg(&a[1]));
    let limit = if n < 0 {
        usize::MAX
    } else {
        usize::try_from(n).unwrap_or(usize::MAX)
    };
    let parts: Vec<String> = if limit == 0 {
        Vec::new()
    } else if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let head = chars.len().min(limit.saturating_sub(1));
        let mut parts: Vec<String> = chars[..head].iter().map(char::to_string).collect();
        if head < chars.len() {
            parts.push(chars[head..].iter().collect());
        }
        parts
    } else {
        s.splitn(limit, sep.as_str()).map(str::to_owned).collect()
    };
    if !as_map {
        return Ok(parts.into_iter().map(Val::from).collect::<Vec<_>>().into());
    }
    let m: Map = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Val::from(p)))
        .collect();
    Ok(m.into())
}

/// `merge dst src…`: deep merge into `dst` (which is changed and returned). Without
/// `overwrite` (mergo's `Merge`) a key of `dst` keeps its value unless that is empty; with it
/// (`MergeWithOverwrite`) sources win, nil included. Nested maps merge either way.
fn merge(a: &[Val], overwrite: bool) -> Result<Val, String> {
    want_at_least(a, 1)?;
    let dst = match &a[0] {
        Val::Map(m) => m.clone(),
        Val::Nil => Rc::new(RefCell::new(Map::new())),
        other => return Err(format!("expected a map, got {}", other.type_name())),
    };
    for src in &a[1..] {
        if let Some(src) = map_arg(src)? {
            merge_into(&dst, &src, overwrite, 0)?;
        }
    }
    Ok(Val::Map(dst))
}

fn merge_into(
    dst: &Rc<RefCell<Map>>,
    src: &Rc<RefCell<Map>>,
    overwrite: bool,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("maps nested more than {MAX_DEPTH} levels deep"));
    }
    if Rc::ptr_eq(dst, src) {
        return Ok(());
    }
    let entries = Val::Map(src.clone()).entries();
    for (key, s) in entries {
        let d = dst.borrow().get(&key).cloned();
        let keep_dst = d.as_ref().is_some_and(Val::truthy) && !overwrite;
        let new = match (&s, &d) {
            (Val::Nil, _) => overwrite.then_some(Val::Nil),
            (Val::Map(sm), Some(Val::Map(dm))) => {
                merge_into(dm, sm, overwrite, depth + 1)?;
                None
            }
            _ => (!keep_dst).then(|| s.clone()),
        };
        if let Some(new) = new {
            dst.borrow_mut().insert(key, new);
        }
    }
    Ok(())
}
