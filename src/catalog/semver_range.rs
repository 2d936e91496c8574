//! Version parsing and OLM `skipRange` evaluation (blang/semver range syntax, as OLM uses it).
//!
//! A range is a disjunction (`||`) of conjunctions (whitespace) of comparators such as
//! `>=4.1.0 <4.2.0`. Comparison is plain semver precedence, pre-releases included, exactly as
//! blang/semver compares. Pure functions; this module knows nothing about catalogs.

use std::fmt;

use semver::Version;

/// Why a version or a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`{0}` is not a semantic version (expected MAJOR.MINOR.PATCH[-PRE][+BUILD])")]
    Version(String),
    #[error("range `{range}` is empty or has an empty `||` alternative")]
    Empty { range: String },
    #[error("comparator `{comparator}` in range `{range}` has no version after the operator")]
    MissingVersion { range: String, comparator: String },
}

/// Parses a bundle or filter version, leniently as OLM does: an optional leading `v`, and
/// missing minor/patch components read as 0 (`1.2` is `1.2.0`).
pub fn parse_version(text: &str) -> Result<Version, RangeError> {
    let trimmed = text.trim();
    let bare = trimmed.strip_prefix('v').unwrap_or(trimmed);
    if let Ok(v) = Version::parse(bare) {
        return Ok(v);
    }
    // Pad a short core (`1`, `1.2`) before any pre-release or build suffix.
    let split = bare.find(['-', '+']).unwrap_or(bare.len());
    let (core, rest) = bare.split_at(split);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(RangeError::Version(text.to_string()));
    }
    let mut padded = parts.join(".");
    for _ in parts.len()..3 {
        padded.push_str(".0");
    }
    padded.push_str(rest);
    Version::parse(&padded).map_err(|_| RangeError::Version(text.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
}

impl Comparator {
    fn matches(&self, v: &Version) -> bool {
        let ord = cmp_precedence(v, &self.version);
        match self.op {
            Op::Eq => ord.is_eq(),
            Op::Ne => !ord.is_eq(),
            Op::Gt => ord.is_gt(),
            Op::Ge => ord.is_ge(),
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
        }
    }
}

/// Semver precedence: build metadata does not count (the `semver` crate's `Ord` compares it).
pub fn cmp_precedence(a: &Version, b: &Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| a.pre.cmp(&b.pre))
}

/// A parsed `skipRange`: OR of ANDs of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    alternatives: Vec<Vec<Comparator>>,
}

impl VersionRange {
    /// Parses `>=4.1.0 <4.2.0 || =5.0.0`. Operators: `=`, `==`, `!=`, `!`, `>`, `>=`, `<`,
    /// `<=`; no operator means `=`. Whitespace between an operator and its version is allowed.
    pub fn parse(range: &str) -> Result<Self, RangeError> {
        let mut alternatives = Vec::new();
        for alternative in range.split("||") {
            let mut comparators = Vec::new();
            let mut tokens = alternative.split_whitespace().peekable();
            while let Some(token) = tokens.next() {
                let (op, rest) = split_op(token);
                let version_text = if rest.is_empty() {
                    tokens.next().ok_or_else(|| RangeError::MissingVersion {
                        range: range.to_string(),
                        comparator: token.to_string(),
                    })?
                } else {
                    rest
                };
                let version = parse_version(version_text)?;
                comparators.push(Comparator { op, version });
            }
            if comparators.is_empty() {
                return Err(RangeError::Empty {
                    range: range.to_string(),
                });
            }
            alternatives.push(comparators);
        }
        Ok(VersionRange { alternatives })
    }

    /// Whether `version` satisfies the range.
    pub fn contains(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|c| c.matches(version)))
    }
}

fn split_op(token: &str) -> (Op, &str) {
    for (prefix, op) in [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("!", Op::Ne),
    ] {
        if let Some(rest) = token.strip_prefix(prefix) {
            return (op, rest);
        }
    }
    (Op::Eq, token)
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self
            .alternatives
            .iter()
            .map(|all| {
                all.iter()
                    .map(|c| format!("{}{}", c.op.symbol(), c.version))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        f.write_str(&text.join(" || "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap()
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(v("v1.2.3"), Version::new(1, 2, 3));
        assert_eq!(v("1.2"), Version::new(1, 2, 0));
        assert_eq!(v("4"), Version::new(4, 0, 0));
        assert_eq!(v("1.2-rc.1").to_string(), "1.2.0-rc.1");
        assert!(parse_version("one.two").is_err());
        assert!(parse_version("1.2.3.4").is_err());
    }

    #[test]
    fn and_or_and_operators() {
        let r = VersionRange::parse(">=4.1.0 <4.2.0 || =5.0.0").unwrap();
        assert!(r.contains(&v("4.1.0")));
        assert!(r.contains(&v("4.1.9")));
        assert!(!r.contains(&v("4.2.0")));
        assert!(!r.contains(&v("4.0.9")));
        assert!(r.contains(&v("5.0.0")));
        assert_eq!(r.to_string(), ">=4.1.0 <4.2.0 || =5.0.0");
        let spaced = VersionRange::parse(">= 1.0.0 < 2.0.0").unwrap();
        assert!(spaced.contains(&v("1.5.0")));
        let ne = VersionRange::parse("!1.0.0").unwrap();
        assert!(!ne.contains(&v("1.0.0")) && ne.contains(&v("1.0.1")));
    }

    #[test]
    fn prereleases_compare_by_precedence() {
        let r = VersionRange::parse(">=1.13.0 <1.34.1-5").unwrap();
        assert!(r.contains(&v("1.30.2")));
        assert!(r.contains(&v("1.34.1-4")));
        assert!(!r.contains(&v("1.34.1-5")));
        assert!(!r.contains(&v("1.34.1")));
        assert!(
            VersionRange::parse("=1.0.0+build")
                .unwrap()
                .contains(&v("1.0.0"))
        );
    }

    #[test]
    fn malformed_ranges() {
        assert!(matches!(
            VersionRange::parse(">=1.0.0 ||"),
            Err(RangeError::Empty { .. })
        ));
        assert!(matches!(
            VersionRange::parse(">="),
            Err(RangeError::MissingVersion { .. })
        ));
        assert!(matches!(
            VersionRange::parse(">=x.y"),
            Err(RangeError::Version(_))
        ));
    }
}
