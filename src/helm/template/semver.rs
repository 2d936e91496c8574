//! Version constraints as Masterminds/semver v3 (behind sprig's `semverCompare`) reads them:
//! `>=1.21.0-0`, `^1.2`, `~1.2`, `1.x`, `< 2.0`, `1.2 - 1.4`, comma or space for AND, `||` for
//! OR. Versions are lenient (`v1.30`, `1`); a pre-release version only satisfies an OR-group
//! that mentions a pre-release itself, as in Masterminds (unlike the `semver` crate's rule).

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// A version as Masterminds' `NewVersion` reads it: optional `v`, missing minor/patch as 0.
pub(super) fn parse_version(s: &str) -> Result<Version, String> {
    let (v, _) =
        parse_loose(s.trim(), false).ok_or_else(|| format!("invalid semantic version {s:?}"))?;
    Ok(v)
}

/// Which parts of a constraint's version were missing or wildcards.
#[derive(Clone, Copy, PartialEq)]
enum Dirty {
    None,
    Patch,
    Minor,
    All,
}

/// Parses `v1.2.3-pre+build`; with `wildcards`, `x`/`X`/`*` or a missing part makes the
/// version "dirty" from that part on.
fn parse_loose(s: &str, wildcards: bool) -> Option<(Version, Dirty)> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (main, build) = s.split_once('+').unwrap_or((s, ""));
    let (nums, pre) = main.split_once('-').unwrap_or((main, ""));
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut numbers = [0u64; 3];
    let mut dirty = Dirty::None;
    for (i, slot) in numbers.iter_mut().enumerate() {
        match parts.get(i) {
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => *slot = p.parse().ok()?,
            Some(&("x" | "X" | "*")) | None if wildcards => {
                dirty = [Dirty::All, Dirty::Minor, Dirty::Patch][i];
                break;
            }
            None => {}
            Some(_) => return None,
        }
    }
    if !build.is_empty() {
        BuildMetadata::new(build).ok()?;
    }
    let mut v = Version::new(numbers[0], numbers[1], numbers[2]);
    if dirty != Dirty::None {
        v.minor = if dirty == Dirty::Minor || dirty == Dirty::All {
            0
        } else {
            v.minor
        };
        v.major = if dirty == Dirty::All { 0 } else { v.major };
        v.patch = 0;
    }
    v.pre = if pre.is_empty() {
        Prerelease::EMPTY
    } else {
        Prerelease::new(pre).ok()?
    };
    Some((v, dirty))
}

struct Constraint {
    op: String,
    v: Version,
    dirty: Dirty,
}

/// Whether `version` satisfies `constraint`.
pub(super) fn matches(constraint: &str, version: &str) -> Result<bool, String> {
    let v = parse_version(version)?;
    for group in constraint.split("||") {
        let cs = parse_group(group).ok_or_else(|| format!("improper constraint: {group:?}"))?;
        let include_pre = cs.iter().any(|c| !c.v.pre.is_empty());
        if !v.pre.is_empty() && !include_pre {
            continue;
        }
        if cs.iter().all(|c| check(&v, c)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// An AND-group: `op version` items separated by commas or spaces; `a - b` is a range.
fn parse_group(group: &str) -> Option<Vec<Constraint>> {
    let tokens: Vec<&str> = group
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let mut tok = tokens[i].to_owned();
        i += 1;
        let op_len = tok
            .find(|c: char| !"=!<>~^".contains(c))
            .unwrap_or(tok.len());
        if op_len == tok.len() {
            tok.push_str(tokens.get(i)?);
            i += 1;
        }
        let (op, ver) = tok.split_at(op_len);
        if ![
            "", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^",
        ]
        .contains(&op)
        {
            return None;
        }
        if op.is_empty() && tokens.get(i) == Some(&"-") {
            let upper = tokens.get(i + 1)?;
            i += 2;
            out.push(constraint(">=", ver)?);
            out.push(constraint("<=", upper)?);
            continue;
        }
        out.push(constraint(op, ver)?);
    }
    (!out.is_empty()).then_some(out)
}

fn constraint(op: &str, ver: &str) -> Option<Constraint> {
    let (v, dirty) = parse_loose(ver, true)?;
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        op => op,
    };
    Some(Constraint {
        op: op.to_owned(),
        v,
        dirty,
    })
}

fn check(v: &Version, c: &Constraint) -> bool {
    let cmp = v.cmp_precedence(&c.v);
    let (minor_dirty, patch_dirty) = (c.dirty == Dirty::Minor, c.dirty == Dirty::Patch);
    let dirty = c.dirty != Dirty::None;
    match c.op.as_str() {
        "" | "=" if dirty => tilde(v, c, cmp),
        "" | "=" => cmp == Ordering::Equal,
        "!=" if dirty => {
            v.major != c.v.major
                || (!minor_dirty
                    && (v.minor != c.v.minor || (!patch_dirty && v.patch != c.v.patch)))
        }
        "!=" => cmp != Ordering::Equal,
        ">" if dirty => {
            if v.major != c.v.major {
                v.major > c.v.major
            } else if minor_dirty {
                false
            } else if patch_dirty {
                v.minor > c.v.minor
            } else {
                cmp == Ordering::Greater
            }
        }
        ">" => cmp == Ordering::Greater,
        "<" => cmp == Ordering::Less,
        ">=" => cmp != Ordering::Less,
        "<=" if dirty => {
            !(v.major > c.v.major || (v.major == c.v.major && v.minor > c.v.minor && !minor_dirty))
        }
        "<=" => cmp != Ordering::Greater,
        "~" => tilde(v, c, cmp),
        "^" => caret(v, c, cmp),
        _ => false,
    }
}

fn tilde(v: &Version, c: &Constraint, cmp: Ordering) -> bool {
    if cmp == Ordering::Less {
        return false;
    }
    if c.dirty == Dirty::All
        || (c.v.major == 0 && c.v.minor == 0 && c.v.patch == 0 && c.dirty == Dirty::None)
    {
        return true;
    }
    v.major == c.v.major && (v.minor == c.v.minor || c.dirty == Dirty::Minor)
}

fn caret(v: &Version, c: &Constraint, cmp: Ordering) -> bool {
    if cmp == Ordering::Less {
        return false;
    }
    if c.v.major > 0 || c.dirty == Dirty::Minor {
        return v.major == c.v.major;
    }
    if v.major > 0 {
        return false;
    }
    if c.v.minor > 0 || c.dirty == Dirty::Patch {
        return v.minor == c.v.minor;
    }
    if v.minor > 0 {
        return false;
    }
    v.patch == c.v.patch
}
