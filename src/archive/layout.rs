//! Names beside and inside an archive: chunk file names, blob entry names, and the rule every
//! entry path follows.

use crate::oci::Digest;

/// The series index beside the chunks.
pub const INDEX_FILE: &str = "airlift-index.json";

const CHUNK_PREFIX: &str = "airlift-";
const CHUNK_SUFFIX: &str = ".tar";
/// Suffix of a chunk while it is written; never a final chunk.
pub(super) const TMP_SUFFIX: &str = ".tmp";
const BLOB_DIR: &str = "blobs/sha256/";
const PART_INFIX: &str = ".part-";

/// `airlift-NNNNNN.tar`: the file name of chunk `number` (global across a series).
pub fn chunk_name(number: u64) -> String {
    format!("{CHUNK_PREFIX}{number:06}{CHUNK_SUFFIX}")
}

/// The number of a chunk file name written by [`chunk_name`]; `None` for any other name.
pub fn chunk_number(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(CHUNK_PREFIX)?
        .strip_suffix(CHUNK_SUFFIX)?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    (chunk_name(number) == name).then_some(number)
}

/// `blobs/sha256/<hex>`: where an OCI image layout keeps a blob.
pub fn blob_path(digest: &Digest) -> String {
    format!("{BLOB_DIR}{}", digest.hex())
}

/// `blobs/sha256/<hex>.part-NNNN`: part `part` (from 1) of a blob split across chunks.
pub(super) fn part_path(digest: &Digest, part: u32) -> String {
    format!("{BLOB_DIR}{}{PART_INFIX}{part:04}", digest.hex())
}

/// What an entry under `blobs/` names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum BlobName {
    Whole(Digest),
    Part(Digest, u32),
}

/// Classifies a path under `blobs/`; `None` for a path outside `blobs/`, `Some(Err)` for a name
/// under `blobs/` that is neither a blob nor a blob part.
pub(super) fn parse_blob_path(path: &str) -> Option<Result<BlobName, &'static str>> {
    if !path.starts_with("blobs/") {
        return None;
    }
    let bad = "unexpected name under blobs/ (expected blobs/sha256/<64 hex>[.part-NNNN])";
    let Some(rest) = path.strip_prefix(BLOB_DIR) else {
        return Some(Err(bad));
    };
    let (hex, part) = match rest.split_once(PART_INFIX) {
        Some((hex, digits)) => {
            let part = digits
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| digits.parse::<u32>().ok())
                .flatten()
                .filter(|n| *n >= 1 && format!("{n:04}") == digits);
            match part {
                Some(n) => (hex, Some(n)),
                None => return Some(Err(bad)),
            }
        }
        None => (rest, None),
    };
    let Ok(digest) = format!("sha256:{hex}").parse::<Digest>() else {
        return Some(Err(bad));
    };
    Some(Ok(match part {
        Some(n) => BlobName::Part(digest, n),
        None => BlobName::Whole(digest),
    }))
}

/// Checks an entry path: relative, `/`-separated, no empty, `.` or `..` component, no NUL or
/// backslash. Returns why a path is refused.
pub(super) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\0') || path.contains('\\') {
        return Err("NUL or backslash in path");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty path component"),
            "." => return Err("`.` component"),
            ".." => return Err("`..` component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_names_round_trip_and_reject_look_alikes() {
        assert_eq!(chunk_name(4), "airlift-000004.tar");
        assert_eq!(chunk_number("airlift-000004.tar"), Some(4));
        assert_eq!(chunk_number("airlift-1234567.tar"), Some(1_234_567));
        for bad in [
            "airlift-0000004.tar",
            "airlift-4.tar",
            "airlift-000004.tar.tmp",
            "../airlift-000004.tar",
            "airlift-00000a.tar",
        ] {
            assert_eq!(chunk_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn blob_names_parse() {
        let d = Digest::of(b"x");
        assert_eq!(
            parse_blob_path(&blob_path(&d)),
            Some(Ok(BlobName::Whole(d.clone())))
        );
        assert_eq!(
            parse_blob_path(&part_path(&d, 12)),
            Some(Ok(BlobName::Part(d.clone(), 12)))
        );
        assert_eq!(parse_blob_path("index.json"), None);
        for bad in [
            "blobs/sha512/00".to_string(),
            format!("{}.part-0000", blob_path(&d)),
            format!("{}.part-12", blob_path(&d)),
            "blobs/sha256/short".to_string(),
        ] {
            assert!(matches!(parse_blob_path(&bad), Some(Err(_))), "{bad}");
        }
    }

    #[test]
    fn paths_are_checked() {
        assert!(check_path("airlift/recipe.kdl").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            "a//b",
            "./a",
            "a/",
            "a\\b",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
