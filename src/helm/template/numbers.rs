//! Sprig's arithmetic, conversions, defaults and type tests. As in sprig, `add`/`sub`/`mul`/
//! `div`/`mod`/`max`/`min` work on 64-bit integers (floats truncate, numeric strings convert),
//! the `…f` variants on decimals, and `floor`/`ceil`/`round` return floats.

use super::funcs::{Func, int_arg, string_arg, to_f64, to_i64, want, want_at_least};
use super::limits::MAX_LIST;
use super::value::{self, Val};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("add", |a| {
        Ok(Val::Int(a.iter().map(to_i64).fold(0, i64::wrapping_add)))
    }),
    ("add1", |a| {
        want(a, 1)?;
        Ok(Val::Int(to_i64(&a[0]).wrapping_add(1)))
    }),
    ("add1f", |a| {
        want(a, 1)?;
        decimal_op(&a[0], &[Val::Int(1)], Op::Add)
    }),
    ("addf", |a| decimal_op(&Val::Int(0), a, Op::Add)),
    ("all", |a| Ok(a.iter().all(Val::truthy).into())),
    ("any", |a| Ok(a.iter().any(Val::truthy).into())),
    ("atoi", |a| {
        want(a, 1)?;
        let s = string_arg(&a[0]);
        let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
        let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        Ok(Val::Int(if ok { s.parse().unwrap_or(0) } else { 0 }))
    }),
    ("biggest", |a| fold_int(a, i64::max)),
    ("ceil", |a| {
        want(a, 1)?;
        Ok(Val::Float(to_f64(&a[0]).ceil()))
    }),
    ("coalesce", |a| {
        Ok(a.iter().find(|v| v.truthy()).cloned().unwrap_or_default())
    }),
    ("deepEqual", |a| {
        want(a, 2)?;
        Ok(value::equal(&a[0], &a[1], true).into())
    }),
    ("default", |a| {
        want_at_least(a, 1)?;
        Ok(match a.get(1) {
            Some(given) if given.truthy() => given.clone(),
            _ => a[0].clone(),
        })
    }),
    ("div", |a| int_op(a, i64::checked_div)),
    ("divf", |a| {
        want_at_least(a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Div)
    }),
    ("empty", |a| {
        want(a, 1)?;
        Ok((!a[0].truthy()).into())
    }),
    ("float64", |a| {
        want(a, 1)?;
        Ok(Val::Float(to_f64(&a[0])))
    }),
    ("floor", |a| {
        want(a, 1)?;
        Ok(Val::Float(to_f64(&a[0]).floor()))
    }),
    ("int", |a| {
        want(a, 1)?;
        Ok(Val::Int(to_i64(&a[0])))
    }),
    ("int64", |a| {
        want(a, 1)?;
        Ok(Val::Int(to_i64(&a[0])))
    }),
    ("kindIs", |a| {
        want(a, 2)?;
        Ok((string_arg(&a[0]) == a[1].kind()).into())
    }),
    ("kindOf", |a| {
        want(a, 1)?;
        Ok(a[0].kind().into())
    }),
    ("max", |a| fold_int(a, i64::max)),
    ("maxf", |a| fold_float(a, f64::max)),
    ("min", |a| fold_int(a, i64::min)),
    ("minf", |a| fold_float(a, f64::min)),
    ("mod", |a| int_op(a, i64::checked_rem)),
    ("mul", |a| {
        want_at_least(a, 1)?;
        Ok(Val::Int(a.iter().map(to_i64).fold(1, i64::wrapping_mul)))
    }),
    ("mulf", |a| {
        want_at_least(a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Mul)
    }),
    ("randInt", |a| {
        want(a, 2)?;
        Ok(Val::Int(int_arg(&a[0])?))
    }),
    ("round", |a| {
        want_at_least(a, 2)?;
        let on = a.get(2).map_or(0.5, to_f64);
        let pow = 10f64.powf(to_f64(&a[1]));
        let digit = pow * to_f64(&a[0]);
        let rounded = if digit.fract() >= on {
            digit.ceil()
        } else {
            digit.floor()
        };
        Ok(Val::Float(rounded / pow))
    }),
    ("seq", seq),
    ("sub", |a| {
        want(a, 2)?;
        Ok(Val::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    }),
    ("subf", |a| {
        want_at_least(a, 1)?;
        decimal_op(&a[0], &a[1..], Op::Sub)
    }),
    ("ternary", |a| {
        want(a, 3)?;
        Ok(if a[2].truthy() {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    ("toDecimal", |a| {
        want(a, 1)?;
        Ok(Val::Int(i64::from_str_radix(&a[0].to_go(), 8).unwrap_or(0)))
    }),
    ("typeIs", |a| {
        want(a, 2)?;
        Ok((string_arg(&a[0]) == a[1].type_name()).into())
    }),
    ("typeIsLike", |a| {
        want(a, 2)?;
        let (target, t) = (string_arg(&a[0]), a[1].type_name());
        Ok((target == t || target == format!("*{t}")).into())
    }),
    ("typeOf", |a| {
        want(a, 1)?;
        Ok(a[0].type_name().into())
    }),
    ("until", |a| {
        want(a, 1)?;
        let n = int_arg(&a[0])?;
        until_step(0, n, if n >= 0 { 1 } else { -1 }).map(Val::from)
    }),
    ("untilStep", |a| {
        want(a, 3)?;
        until_step(int_arg(&a[0])?, int_arg(&a[1])?, int_arg(&a[2])?).map(Val::from)
    }),
];

fn fold_int(a: &[Val], f: fn(i64, i64) -> i64) -> Result<Val, String> {
    let (first, rest) = a
        .split_first()
        .ok_or("wrong number of args: want at least 1 got 0")?;
    Ok(Val::Int(rest.iter().map(to_i64).fold(to_i64(first), f)))
}

fn fold_float(a: &[Val], f: fn(f64, f64) -> f64) -> Result<Val, String> {
    let (first, rest) = a
        .split_first()
        .ok_or("wrong number of args: want at least 1 got 0")?;
    Ok(Val::Float(rest.iter().map(to_f64).fold(to_f64(first), f)))
}

fn int_op(a: &[Val], f: fn(i64, i64) -> Option<i64>) -> Result<Val, String> {
    want(a, 2)?;
    let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
    if y == 0 {
        return Err("integer divide by zero".into());
    }
    Ok(Val::Int(f(x, y).unwrap_or(x)))
}

/// sprig's `untilStep`: `start`, `start+step`, … up to (not including) `stop`.
fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<Val>, String> {
    let mut out = Vec::new();
    let mut i = start;
    let more = |i: i64| {
        if stop < start {
            step < 0 && i > stop
        } else {
            step > 0 && i < stop
        }
    };
    while more(i) {
        if out.len() >= MAX_LIST {
            return Err(format!("more than {MAX_LIST} numbers"));
        }
        out.push(Val::Int(i));
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(out)
}

/// sprig's `seq`, like the shell's: `seq 3` is "1 2 3", `seq 2 -1 0` is "2 1 0".
fn seq(a: &[Val]) -> Result<Val, String> {
    let p = a.iter().map(int_arg).collect::<Result<Vec<_>, _>>()?;
    let list = match p[..] {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.saturating_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.saturating_add(step), step)?
        }
        [start, step, end] => {
            let inc = if end < start { -1 } else { 1 };
            if end < start && step > 0 {
                Vec::new()
            } else {
                until_step(start, end.saturating_add(inc), step)?
            }
        }
        _ => Vec::new(),
    };
    let parts: Vec<String> = list.iter().map(Val::to_go).collect();
    Ok(parts.join(" ").into())
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// sprig's decimal arithmetic: operands as their shortest decimal form, computed exactly (so
/// `addf 0.1 0.2` is 0.3), division to 16 places; plain floats if the digits do not fit.
fn decimal_op(first: &Val, rest: &[Val], op: Op) -> Result<Val, String> {
    let mut acc = to_f64(first);
    for x in rest {
        let y = to_f64(x);
        if matches!(op, Op::Div) && y == 0.0 {
            return Err("decimal division by 0".into());
        }
        acc = exact(acc, y, op).unwrap_or(match op {
            Op::Add => acc + y,
            Op::Sub => acc - y,
            Op::Mul => acc * y,
            Op::Div => acc / y,
        });
    }
    Ok(Val::Float(acc))
}

/// `f` as `mantissa × 10^-scale`.
fn decimal(f: f64) -> Option<(i128, u32)> {
    if !f.is_finite() {
        return None;
    }
    let s = format!("{f}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let m: i128 = format!("{int}{frac}").parse().ok()?;
    Some((m, u32::try_from(frac.len()).ok()?))
}

fn exact(x: f64, y: f64, op: Op) -> Option<f64> {
    let ((mx, sx), (my, sy)) = (decimal(x)?, decimal(y)?);
    let pow = |n: u32| 10i128.checked_pow(n);
    let (m, scale) = match op {
        Op::Add | Op::Sub => {
            let s = sx.max(sy);
            let a = mx.checked_mul(pow(s - sx)?)?;
            let b = my.checked_mul(pow(s - sy)?)?;
            let m = if matches!(op, Op::Add) {
                a.checked_add(b)?
            } else {
                a.checked_sub(b)?
            };
            (m, s)
        }
        Op::Mul => (mx.checked_mul(my)?, sx.checked_add(sy)?),
        Op::Div => {
            let places = 16u32;
            let shift = i64::from(places) + i64::from(sy) - i64::from(sx);
            let (num, den) = if shift >= 0 {
                (mx.checked_mul(pow(u32::try_from(shift).ok()?)?)?, my)
            } else {
                (mx, my.checked_mul(pow(u32::try_from(-shift).ok()?)?)?)
            };
            let (q, r) = (num / den, num % den);
            let away = r.checked_mul(2)?.abs() >= den.abs();
            let q = if away {
                q + (num.signum() * den.signum())
            } else {
                q
            };
            (q, places)
        }
    };
    let digits = m.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!(
        "{}{digits}",
        "0".repeat((scale + 1).saturating_sub(digits.len()))
    );
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if m < 0 { "-" } else { "" };
    format!("{sign}{int}.{frac}0").parse().ok()
}
