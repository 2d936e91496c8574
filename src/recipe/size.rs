//! `ByteSize`: sizes written in recipes such as `archive-size "4GiB"`.
//!
//! Decimal units (KB, MB, GB, TB) are powers of 1000, binary units (KiB, MiB, GiB, TiB) powers of
//! 1024. Pure parsing and formatting; no I/O.

use std::fmt;
use std::str::FromStr;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// The units accepted after the number, with their multipliers.
pub const UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
    ("TB", 1000 * 1000 * 1000 * 1000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// Why a size does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("`{0}` does not start with a whole number")]
    NoNumber(String),
    #[error("`{0}` has no unit")]
    NoUnit(String),
    #[error("`{unit}` is not a size unit")]
    UnknownUnit { unit: String },
    #[error("`{0}` is too large")]
    Overflow(String),
    #[error("a size of zero cannot hold anything")]
    Zero,
}

impl SizeError {
    /// The help line listing the accepted units.
    pub fn help() -> String {
        format!(
            "write a whole number followed by a unit, e.g. \"4GiB\"; units: {} (KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024)",
            UNITS.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ")
        )
    }
}

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(SizeError::NoNumber(s.to_string()));
        }
        let (num, unit) = t.split_at(digits);
        let unit = unit.trim();
        if unit.is_empty() {
            return Err(SizeError::NoUnit(s.to_string()));
        }
        let mult = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| SizeError::UnknownUnit {
                unit: unit.to_string(),
            })?;
        let n: u64 = num
            .parse()
            .map_err(|_| SizeError::Overflow(s.to_string()))?;
        let bytes = n
            .checked_mul(mult)
            .ok_or_else(|| SizeError::Overflow(s.to_string()))?;
        if bytes == 0 {
            return Err(SizeError::Zero);
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that divides the size exactly, else decimal, else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exact = UNITS
            .iter()
            .rev()
            .filter(|(_, m)| *m > 1 && self.0.is_multiple_of(*m))
            .max_by_key(|(_, m)| *m);
        match exact {
            Some((u, m)) => write!(f, "{}{u}", self.0 / m),
            None => write!(f, "{}B", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_units() {
        assert_eq!("4GiB".parse(), Ok(ByteSize(4 << 30)));
        assert_eq!("4GB".parse(), Ok(ByteSize(4_000_000_000)));
        assert_eq!("512 MiB".parse(), Ok(ByteSize(512 << 20)));
        assert_eq!("10KB".parse(), Ok(ByteSize(10_000)));
        assert_eq!("1TiB".parse(), Ok(ByteSize(1 << 40)));
        assert_eq!("7B".parse(), Ok(ByteSize(7)));
    }

    #[test]
    fn bad_sizes_are_rejected() {
        assert_eq!(
            "4gb".parse::<ByteSize>(),
            Err(SizeError::UnknownUnit { unit: "gb".into() })
        );
        assert_eq!(
            "GiB".parse::<ByteSize>(),
            Err(SizeError::NoNumber("GiB".into()))
        );
        assert_eq!(
            "42".parse::<ByteSize>(),
            Err(SizeError::NoUnit("42".into()))
        );
        assert_eq!("0GiB".parse::<ByteSize>(), Err(SizeError::Zero));
        assert!(matches!(
            "99999999999TiB".parse::<ByteSize>(),
            Err(SizeError::Overflow(_))
        ));
        assert!(SizeError::help().contains("KiB"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["4GiB", "4GB", "3B", "1500KB"] {
            let b: ByteSize = s.parse().unwrap_or(ByteSize(0));
            assert_eq!(b.to_string().parse::<ByteSize>(), Ok(b));
        }
        assert_eq!(ByteSize(4 << 30).to_string(), "4GiB");
    }
}
