//! Sprig's string functions. Argument order follows sprig, so the string being worked on comes
//! last and pipelines read naturally: `{{ .name | trunc 63 | trimSuffix "-" }}`. Byte-indexed
//! functions (`trunc`, `substr`) cut bytes as Go does; a cut inside a character becomes U+FFFD.

use super::funcs::{Func, int_arg, string_arg, strval, want, want_at_least};
use super::limits::MAX_STRING;
use super::printf;
use super::value::Val;

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("abbrev", |a| {
        want(a, 2)?;
        let width = int_arg(&a[0])?;
        let s = string_arg(&a[1]);
        Ok(if width < 4 {
            s
        } else {
            abbreviate(&s, 0, width)
        }
        .into())
    }),
    ("abbrevboth", |a| {
        want(a, 3)?;
        let (left, right) = (int_arg(&a[0])?, int_arg(&a[1])?);
        let s = string_arg(&a[2]);
        let keep = right < 4 || (left > 0 && right < 7);
        Ok(if keep { s } else { abbreviate(&s, left, right) }.into())
    }),
    ("camelcase", |a| str1(a, camelcase)),
    ("cat", |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(Val::to_go).collect();
        Ok(parts.join(" ").into())
    }),
    ("contains", |a| str2(a, |sub, s| s.contains(sub).into())),
    ("hasPrefix", |a| str2(a, |p, s| s.starts_with(p).into())),
    ("hasSuffix", |a| str2(a, |p, s| s.ends_with(p).into())),
    ("indent", |a| {
        want(a, 2)?;
        indent(int_arg(&a[0])?, &string_arg(&a[1])).map(Val::from)
    }),
    ("initials", |a| {
        str1(a, |s| {
            let mut out = String::new();
            let mut gap = true;
            for c in s.chars() {
                if c.is_whitespace() {
                    gap = true;
                } else if gap {
                    out.push(c);
                    gap = false;
                }
            }
            out
        })
    }),
    ("kebabcase", |a| str1(a, |s| snake(s, '-'))),
    ("lower", |a| str1(a, str::to_lowercase)),
    ("nindent", |a| {
        want(a, 2)?;
        Ok(format!("\n{}", indent(int_arg(&a[0])?, &string_arg(&a[1]))?).into())
    }),
    ("nospace", |a| {
        str1(a, |s| s.chars().filter(|c| !c.is_whitespace()).collect())
    }),
    ("plural", |a| {
        want(a, 3)?;
        Ok(if int_arg(&a[2])? == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        })
    }),
    ("quote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| printf::quote(&strval(v), false))
            .collect();
        Ok(parts.join(" ").into())
    }),
    ("randAlpha", |a| fixed(a, 'x')),
    ("randAlphaNum", |a| fixed(a, 'x')),
    ("randAscii", |a| fixed(a, 'x')),
    ("randNumeric", |a| fixed(a, '0')),
    ("repeat", |a| {
        want(a, 2)?;
        let n = usize::try_from(int_arg(&a[0])?).map_err(|_| "negative repeat count")?;
        let s = string_arg(&a[1]);
        if s.len().saturating_mul(n) > MAX_STRING {
            return Err(format!("result longer than {MAX_STRING} bytes"));
        }
        Ok(s.repeat(n).into())
    }),
    ("replace", |a| {
        want(a, 3)?;
        let (old, new, s) = (string_arg(&a[0]), string_arg(&a[1]), string_arg(&a[2]));
        replace(&s, &old, &new).map(Val::from)
    }),
    ("shuffle", |a| str1(a, str::to_owned)),
    ("snakecase", |a| str1(a, |s| snake(s, '_'))),
    ("squote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", v.to_go()))
            .collect();
        Ok(parts.join(" ").into())
    }),
    ("substr", |a| {
        want(a, 3)?;
        let (start, end, s) = (int_arg(&a[0])?, int_arg(&a[1])?, string_arg(&a[2]));
        let len = s.len() as i64;
        let (lo, hi) = if start < 0 {
            (0, end)
        } else if end < 0 || end > len {
            (start, len)
        } else {
            (start, end)
        };
        bytes(&s, lo, hi)
    }),
    ("swapcase", |a| {
        str1(a, |s| {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if c.is_uppercase() {
                    out.extend(c.to_lowercase());
                } else if c.is_lowercase() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
            }
            out
        })
    }),
    ("title", |a| str1(a, title)),
    ("toString", |a| {
        want(a, 1)?;
        Ok(strval(&a[0]).into())
    }),
    ("trim", |a| str1(a, |s| s.trim().to_owned())),
    ("trimAll", |a| {
        str2(a, |cut, s| s.trim_matches(|c| cut.contains(c)).into())
    }),
    ("trimPrefix", |a| {
        str2(a, |p, s| s.strip_prefix(p).unwrap_or(s).into())
    }),
    ("trimSuffix", |a| {
        str2(a, |p, s| s.strip_suffix(p).unwrap_or(s).into())
    }),
    ("trimall", |a| {
        str2(a, |cut, s| s.trim_matches(|c| cut.contains(c)).into())
    }),
    ("trunc", |a| {
        want(a, 2)?;
        let (n, s) = (int_arg(&a[0])?, string_arg(&a[1]));
        let len = s.len() as i64;
        if n < 0 && len + n > 0 {
            bytes(&s, len + n, len)
        } else if n >= 0 && len > n {
            bytes(&s, 0, n)
        } else {
            Ok(s.into())
        }
    }),
    ("untitle", |a| {
        str1(a, |s| {
            let mut out = String::with_capacity(s.len());
            let mut next = true;
            for c in s.chars() {
                if c.is_whitespace() {
                    next = true;
                    out.push(c);
                } else if next {
                    out.extend(c.to_lowercase());
                    next = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
    }),
    ("upper", |a| str1(a, str::to_uppercase)),
    ("wrap", |a| {
        want(a, 2)?;
        Ok(wrap(&string_arg(&a[1]), int_arg(&a[0])?, "\n", false).into())
    }),
    ("wrapWith", |a| {
        want(a, 3)?;
        let sep = string_arg(&a[1]);
        Ok(wrap(&string_arg(&a[2]), int_arg(&a[0])?, &sep, true).into())
    }),
];

fn str1(a: &[Val], f: impl Fn(&str) -> String) -> Result<Val, String> {
    want(a, 1)?;
    Ok(f(&string_arg(&a[0])).into())
}

fn str2(a: &[Val], f: impl Fn(&str, &str) -> Val) -> Result<Val, String> {
    want(a, 2)?;
    Ok(f(&string_arg(&a[0]), &string_arg(&a[1])))
}

/// The deterministic stand-in for sprig's random strings: `n` times `c`.
fn fixed(a: &[Val], c: char) -> Result<Val, String> {
    want_at_least(a, 1)?;
    let n = usize::try_from(int_arg(&a[0])?)
        .unwrap_or(0)
        .min(MAX_STRING);
    Ok(c.to_string().repeat(n).into())
}

/// Bytes `lo..hi` of `s`, as Go slices strings (bounds outside the string are an error).
fn bytes(s: &str, lo: i64, hi: i64) -> Result<Val, String> {
    let len = s.len() as i64;
    if lo < 0 || hi < lo || hi > len {
        return Err(format!(
            "slice bounds out of range [{lo}:{hi}] with length {len}"
        ));
    }
    Ok(
        String::from_utf8_lossy(&s.as_bytes()[lo as usize..hi as usize])
            .into_owned()
            .into(),
    )
}

fn indent(n: i64, s: &str) -> Result<String, String> {
    let n = usize::try_from(n).unwrap_or(0);
    let lines = s.bytes().filter(|b| *b == b'\n').count() + 1;
    if lines.saturating_mul(n).saturating_add(s.len()) > MAX_STRING {
        return Err(format!("result longer than {MAX_STRING} bytes"));
    }
    let pad = " ".repeat(n);
    Ok(format!("{pad}{}", s.replace('\n', &format!("\n{pad}"))))
}

/// `strings.Replace(s, old, new, -1)`, where an empty `old` matches between every character.
fn replace(s: &str, old: &str, new: &str) -> Result<String, String> {
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    if count.saturating_mul(new.len()).saturating_add(s.len()) > MAX_STRING {
        return Err(format!("result longer than {MAX_STRING} bytes"));
    }
    if !old.is_empty() {
        return Ok(s.replace(old, new));
    }
    let mut out = String::from(new);
    for c in s.chars() {
        out.push(c);
        out.push_str(new);
    }
    Ok(out)
}

/// goutils' `AbbreviateFull` on characters: at most `width` characters, "..." marking cuts.
fn abbreviate(s: &str, offset: i64, width: i64) -> String {
    let c: Vec<char> = s.chars().collect();
    let len = c.len() as i64;
    if s.is_empty() || width < 4 {
        return String::new();
    }
    if len <= width {
        return s.to_owned();
    }
    let mut offset = offset.clamp(0, len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    let slice = |lo: i64, hi: i64| -> String { c[lo as usize..hi as usize].iter().collect() };
    if offset <= 4 {
        return format!("{}...", slice(0, width - 3));
    }
    if width < 7 {
        return String::new();
    }
    if offset + width - 3 < len {
        return format!("...{}", abbreviate(&slice(offset, len), 0, width - 3));
    }
    format!("...{}", slice(len - (width - 3), len))
}

/// `strings.Title`: upper-cases the first letter of every word.
fn title(s: &str) -> String {
    let separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// xstrings' `ToCamelCase`: "http_server" is "HttpServer"; leading connectors stay.
fn camelcase(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if !is_connector(c) {
            break;
        }
        out.push(c);
        chars.next();
    }
    let mut upper_next = true;
    let mut prev_connector = false;
    while let Some(c) = chars.next() {
        if is_connector(c) {
            if prev_connector || chars.peek().is_none() {
                out.push(c);
            }
            prev_connector = true;
            upper_next = true;
            continue;
        }
        if upper_next {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper_next = false;
        prev_connector = false;
    }
    out
}

/// xstrings' `ToSnakeCase`/`ToKebabCase`: words split at connectors and case changes, a digit
/// run joining the word before it unless lower-case letters follow ("Bld4Floor3rd" is
/// "bld4_floor_3rd", "HTTPServer" is "http_server").
fn snake(s: &str, connector: char) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Upper,
        Lower,
        Digit,
        Other,
    }
    let kind = |c: char| {
        if c.is_uppercase() {
            Kind::Upper
        } else if c.is_lowercase() {
            Kind::Lower
        } else if c.is_numeric() {
            Kind::Digit
        } else {
            Kind::Other
        }
    };
    let mut words: Vec<String> = Vec::new();
    for chunk in s.split(is_connector).filter(|w| !w.is_empty()) {
        let c: Vec<char> = chunk.chars().collect();
        let mut word = String::new();
        for i in 0..c.len() {
            let (k, prev, next) = (
                kind(c[i]),
                i.checked_sub(1).map(|p| kind(c[p])),
                c.get(i + 1).map(|n| kind(*n)),
            );
            let boundary = match (prev, k) {
                (None, _) => false,
                (Some(Kind::Lower | Kind::Digit | Kind::Other), Kind::Upper) => true,
                (Some(Kind::Upper), Kind::Upper) => next == Some(Kind::Lower),
                (Some(Kind::Upper | Kind::Lower), Kind::Digit) => {
                    let digit_word = word.chars().next().is_some_and(|w| kind(w) == Kind::Digit);
                    let mut rest = c[i..].iter().skip_while(|x| kind(**x) == Kind::Digit);
                    !digit_word && rest.next().is_some_and(|x| kind(*x) == Kind::Lower)
                }
                _ => false,
            };
            if boundary && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.extend(c[i].to_lowercase());
        }
        words.push(word);
    }
    words.join(&connector.to_string())
}

/// goutils' `WrapCustom`: breaks at spaces so lines stay within `width` bytes where possible;
/// with `long_words`, longer words are cut too.
fn wrap(s: &str, width: i64, sep: &str, long_words: bool) -> String {
    let b = s.as_bytes();
    let width = usize::try_from(width.max(1)).unwrap_or(1);
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut offset = 0;
    while b.len() - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (offset + width + 1).min(b.len());
        match b[offset..end].iter().rposition(|c| *c == b' ') {
            Some(space) => {
                out.extend_from_slice(&b[offset..offset + space]);
                out.extend_from_slice(sep.as_bytes());
                offset += space + 1;
            }
            None if long_words => {
                out.extend_from_slice(&b[offset..offset + width]);
                out.extend_from_slice(sep.as_bytes());
                offset += width;
            }
            None => match b[offset + width..].iter().position(|c| *c == b' ') {
                Some(space) => {
                    out.extend_from_slice(&b[offset..offset + width + space]);
                    out.extend_from_slice(sep.as_bytes());
                    offset += width + space + 1;
                }
                None => {
                    offset = {
                        out.extend_from_slice(&b[offset..]);
                        b.len()
                    }
                }
            },
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}
