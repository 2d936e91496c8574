//! `trust` blocks in discovery: the cosign keys of every content set the goals carry, read and
//! parsed once per build (so a bad key file fails before any network work, and the key used is
//! the key whose digest is in the task key), and the refusal of a `gpg-keyring` on a set that
//! has no release payload to verify. Release keyrings are read in `release.rs`.
//!
//! Reads the key files; writes nothing.

use std::collections::BTreeSet;

use super::Session;
use crate::exit::{Exit, Failure};
use crate::oci::Digest;
use crate::plan::{CosignTrusts, TargetGoal};
use crate::recipe::ContentSet;
use crate::task::{CosignKeyRef, Loaded};
use crate::trust::CosignKey;

/// Every content set the goals carry, sorted.
fn carried_sets(goals: &[TargetGoal]) -> BTreeSet<String> {
    goals
        .iter()
        .flat_map(|g| {
            g.items
                .iter()
                .map(|i| i.set.clone())
                .chain(g.releases.iter().map(|r| r.set.clone()))
                .chain(g.catalogs.iter().map(|c| c.set.clone()))
        })
        .collect()
}

/// The cosign keys of every carried set that one or more `trust` blocks with a `cosign-key`
/// apply to. With `--no-verify` nothing is returned and a warning names what is skipped
/// (printed even with `-q`). A `trust` block with only a `gpg-keyring` applied to a set that
/// is not a `release` set verifies nothing there: that is refused (exit 3), or with
/// `--no-verify` part of the warning.
pub fn cosign_trusts(
    session: &Session,
    goals: &[TargetGoal],
    no_verify: bool,
    warnings: &mut Vec<String>,
) -> Result<CosignTrusts, Failure> {
    let mut out = CosignTrusts::new();
    let mut skipped = Vec::new();
    let mut useless = Vec::new();
    for set in carried_sets(goals) {
        let is_release = matches!(
            session.recipe.content_set(&set),
            Some(ContentSet::Release(_))
        );
        let mut keys = Vec::new();
        for t in session.recipe.trusts_for(&set) {
            let Some(path) = &t.cosign_key else {
                if !is_release {
                    useless.push(format!(
                        "trust `{}` has only a `gpg-keyring` and applies to `{set}`",
                        t.name.value
                    ));
                }
                continue;
            };
            if no_verify {
                skipped.push(format!("trust `{}` applies to `{set}`", t.name.value));
                continue;
            }
            let bytes = std::fs::read(&path.value).map_err(|e| {
                key_failure(&t.name.value, &path.value, &format!("cannot read it: {e}"))
            })?;
            let text = String::from_utf8_lossy(&bytes);
            let key = CosignKey::from_pem(&path.value, &text)
                .map_err(|e| key_failure(&t.name.value, &path.value, &e.to_string()))?;
            keys.push(CosignKeyRef {
                trust: t.name.value.clone(),
                path: path.value.clone(),
                digest: Digest::of(&bytes),
                key: Loaded::new(key),
            });
        }
        if !keys.is_empty() {
            keys.sort();
            out.insert(set, keys);
        }
    }
    if no_verify && !(skipped.is_empty() && useless.is_empty()) {
        skipped.extend(useless);
        warnings.push(format!(
            "WARNING: --no-verify: cosign signatures are NOT verified ({}); mirrored images are unverified",
            skipped.join("; ")
        ));
        return Ok(out);
    }
    if !useless.is_empty() {
        return Err(Failure::new(
            Exit::InvalidInput,
            miette::miette!(
                help = "a `gpg-keyring` verifies release payloads only: add a `cosign-key` to the trust block for images and catalogs, or remove the set from its `applies-to`",
                "nothing would verify these sets: {}",
                useless.join("; ")
            ),
        ));
    }
    Ok(out)
}

fn key_failure(trust: &str, path: &std::path::Path, why: &str) -> Failure {
    Failure::new(
        Exit::InvalidInput,
        miette::miette!(
            help = "point `cosign-key` at the `cosign.pub` written by `cosign generate-key-pair` (PEM ECDSA P-256 public key; the path is relative to the recipe file)",
            "trust `{trust}`: the cosign key {} is unusable: {why}",
            path.display()
        ),
    )
}
