//! `Digest`: a validated `sha256:<64 hex>` content address, held as its 32 bytes (no heap: a
//! plan of thousands of images keys its maps by digests many times over).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A sha256 content digest. Only sha256 is accepted: it is the only algorithm registries and
/// OpenShift use for image content, and accepting others would make equality ambiguous.
///
/// Ordered by its bytes, which is the order of its lowercase hex text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hash: [u8; 32],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("digest `{0}` does not start with `sha256:`")]
    Algorithm(String),
    #[error("digest `{0}` must have 64 lowercase hex characters after `sha256:`")]
    Hex(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_sha256(Sha256::digest(bytes).into())
    }

    /// Wraps a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Self {
        Digest { hash }
    }

    /// The 64 hex characters without the algorithm prefix.
    pub fn hex(&self) -> String {
        self.with_hex(str::to_string)
    }

    /// Calls `f` with the hex text, written on the stack (`Display` runs on hot paths: keys,
    /// URLs, journal records).
    fn with_hex<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.hash, &mut buf).expect("64 bytes hold 32 in hex");
        f(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }

    /// `sha256-<hex>`: the tag form used for digest-only destinations and cosign attachments.
    pub fn tag_form(&self) -> String {
        format!("sha256-{}", self.hex())
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Algorithm(s.to_string()))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Hex(s.to_string()));
        }
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hex, &mut hash).map_err(|_| DigestError::Hex(s.to_string()))?;
        Ok(Digest { hash })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_hex(|hex| write!(f, "sha256:{hex}"))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_hex(|hex| write!(f, "Digest(sha256:{hex})"))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_the_well_known_value() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_other_algorithms_and_bad_hex() {
        assert!(matches!(
            "sha512:00".parse::<Digest>(),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            "sha256:XYZ".parse::<Digest>(),
            Err(DigestError::Hex(_))
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(matches!(upper.parse::<Digest>(), Err(DigestError::Hex(_))));
    }

    #[test]
    fn order_is_the_order_of_the_text() {
        let mut texts: Vec<String> = ["0f", "a0", "09", "ff", "10"]
            .iter()
            .map(|b| format!("sha256:{}", b.repeat(32)))
            .collect();
        let mut digests: Vec<Digest> = texts.iter().map(|t| t.parse().unwrap()).collect();
        texts.sort();
        digests.sort();
        let shown: Vec<String> = digests.iter().map(Digest::to_string).collect();
        assert_eq!(shown, texts);
    }

    #[test]
    fn parse_round_trips() {
        let s = format!("sha256:{}", "ab".repeat(32));
        let d: Digest = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.tag_form(), format!("sha256-{}", "ab".repeat(32)));
    }
}
