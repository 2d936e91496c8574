//! `Keyring`: the OpenPGP public keys a trust block's `gpg-keyring` names.
//!
//! Reads one file (ASCII-armored, possibly several armor blocks, or binary, possibly several
//! concatenated keys), and answers "which key made this signature" and "has this key expired".
//! Reads only the named file; no network, no gpg.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pgp::composed::{Deserializable, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{Fingerprint, KeyDetails, VerifyingKey};

use super::error::TrustError;

/// A set of OpenPGP public keys (primary keys and their signing subkeys).
#[derive(Debug, Clone)]
pub struct Keyring {
    source: PathBuf,
    keys: Vec<SignedPublicKey>,
}

/// One key of the keyring that may have made a signature: a primary key or a bound subkey.
pub(crate) struct Candidate<'a> {
    pub key: &'a dyn VerifyingKey,
    /// Key ID as 16 uppercase hex digits (what `gpg --list-keys --keyid-format long` shows).
    pub key_id: String,
    pub fingerprint: Fingerprint,
    /// Unix time at which the key expires, if it does.
    pub expires_at: Option<u64>,
    /// A revocation signature for this key (or its primary key) verifies.
    pub revoked: bool,
}

impl Keyring {
    /// Reads a keyring file: armored (`-----BEGIN PGP PUBLIC KEY BLOCK-----`, one or more
    /// blocks) or binary (`gpg --export`), each holding one or more keys.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let bytes = std::fs::read(path).map_err(|e| TrustError::KeyringRead {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses keyring bytes; `source` is only used in messages.
    pub fn from_bytes(source: &Path, bytes: &[u8]) -> Result<Self, TrustError> {
        let parse_error = |message: String| TrustError::KeyringParse {
            path: source.to_path_buf(),
            message,
        };
        let mut keys = Vec::new();
        let text = std::str::from_utf8(bytes).ok();
        match text.filter(|t| t.trim_start().starts_with("-----BEGIN PGP")) {
            Some(text) => {
                for block in armor_blocks(text) {
                    let (parsed, _) = SignedPublicKey::from_armor_many(block.as_bytes())
                        .map_err(|e| parse_error(e.to_string()))?;
                    for key in parsed {
                        keys.push(key.map_err(|e| parse_error(e.to_string()))?);
                    }
                }
            }
            None => {
                let parsed = SignedPublicKey::from_bytes_many(bytes)
                    .map_err(|e| parse_error(e.to_string()))?;
                for key in parsed {
                    keys.push(key.map_err(|e| parse_error(e.to_string()))?);
                }
            }
        }
        if keys.is_empty() {
            return Err(parse_error("the file contains no public key".to_string()));
        }
        Ok(Keyring {
            source: source.to_path_buf(),
            keys,
        })
    }

    /// Adds the keys of `other` (a signature by a key of either keyring is then accepted);
    /// [`Keyring::source`] stays this keyring's file.
    pub fn extend(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }

    /// Where the keyring was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Key IDs of the primary keys, 16 uppercase hex digits each, in file order.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| key_id_string(&k.primary_key.legacy_key_id()))
            .collect()
    }

    /// Primary keys and subkeys whose binding signature verifies, in file order. A subkey whose
    /// binding does not verify against its primary key is never offered.
    pub(crate) fn candidates(&self) -> Vec<Candidate<'_>> {
        let mut out = Vec::new();
        for key in &self.keys {
            let primary_expiry = primary_expiry(key);
            let primary_revoked = key
                .details
                .revocation_signatures
                .iter()
                .any(|sig| sig.verify_key(&key.primary_key).is_ok());
            out.push(Candidate {
                key: &key.primary_key,
                key_id: key_id_string(&key.primary_key.legacy_key_id()),
                fingerprint: key.primary_key.fingerprint(),
                expires_at: primary_expiry,
                revoked: primary_revoked,
            });
            for sub in &key.public_subkeys {
                if sub.verify_bindings(&key.primary_key).is_err() {
                    continue;
                }
                let sub_revoked = sub.signatures.iter().any(|sig| {
                    sig.typ() == Some(SignatureType::SubkeyRevocation)
                        && sig
                            .verify_subkey_binding(&key.primary_key, &sub.key)
                            .is_ok()
                });
                let own = subkey_expiry(sub);
                let expires_at = match (own, primary_expiry) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                out.push(Candidate {
                    key: sub,
                    key_id: key_id_string(&sub.key.legacy_key_id()),
                    fingerprint: sub.key.fingerprint(),
                    expires_at,
                    revoked: primary_revoked || sub_revoked,
                });
            }
        }
        out
    }
}

/// Current Unix time in seconds.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// 16 uppercase hex digits.
pub(crate) fn key_id_string(id: &impl std::fmt::Display) -> String {
    id.to_string().to_uppercase()
}

/// Splits armored text into its `-----BEGIN PGP …-----` … `-----END PGP …-----` blocks.
fn armor_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN PGP") {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line.starts_with("-----END PGP")
            && let Some(block) = current.take()
        {
            blocks.push(block);
        }
    }
    blocks
}

/// Expiry of the primary key from its newest self-certification carrying a key-expiration
/// subpacket (a zero duration means "never").
fn primary_expiry(key: &SignedPublicKey) -> Option<u64> {
    let sigs = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(key.details.direct_signatures.iter());
    expiry_from(sigs, u64::from(key.primary_key.created_at().as_secs()))
}

fn subkey_expiry(sub: &SignedPublicSubKey) -> Option<u64> {
    expiry_from(
        sub.signatures.iter(),
        u64::from(sub.key.created_at().as_secs()),
    )
}

fn expiry_from<'a>(sigs: impl Iterator<Item = &'a Signature>, created: u64) -> Option<u64> {
    let newest = sigs.max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0))?;
    let duration = newest.key_expiration_time()?.as_secs();
    (duration != 0).then(|| created + u64::from(duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armor_blocks_are_split() {
        let text = "junk\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n\
                    -----BEGIN PGP PUBLIC KEY BLOCK-----\n\nBBBB\n-----END PGP PUBLIC KEY BLOCK-----\n";
        let blocks = armor_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].contains("AAAA") && !blocks[0].contains("BBBB"));
        assert!(blocks[1].contains("BBBB"));
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_file() {
        let err = Keyring::from_bytes(Path::new("keys/x.asc"), b"not a key").unwrap_err();
        assert!(matches!(err, TrustError::KeyringParse { .. }), "{err}");
        assert!(err.to_string().contains("keys/x.asc"), "{err}");
    }
}
