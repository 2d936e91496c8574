//! Reading image layers: gzip detection and tar entry-path safety, shared by the payload reader
//! and the graph-data layer builder.
//!
//! Pure: works on readers over bytes the caller fetched; never touches the file system.

use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum LayerError {
    #[error("{what} is not a readable tar archive: {message}")]
    #[diagnostic(
        code(airlift::release::bad_tar),
        help("the blob is damaged or not a layer; fetch it again and check its digest")
    )]
    Tar { what: String, message: String },
    #[error("{what} is zstd-compressed, which airlift cannot read yet")]
    #[diagnostic(
        code(airlift::release::zstd_layer),
        help("mirror a gzip-compressed variant of this image")
    )]
    Zstd { what: String },
    #[error("{what} has an unsafe entry `{path}`: {reason}")]
    #[diagnostic(
        code(airlift::release::unsafe_entry),
        help(
            "refusing to read an archive that could write outside its directory; check where the archive came from"
        )
    )]
    Unsafe {
        what: String,
        path: String,
        reason: &'static str,
    },
}

/// A reader over the tar stream of a layer: gzip is detected by its magic bytes and
/// decompressed; anything else is read as a plain tar.
pub(crate) fn tar_stream<'a, R: Read + 'a>(
    what: &str,
    reader: R,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut buf = BufReader::new(reader);
    let head = buf.fill_buf().map_err(|e| LayerError::Tar {
        what: what.to_string(),
        message: e.to_string(),
    })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(GzDecoder::new(buf)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(LayerError::Zstd {
            what: what.to_string(),
        })
    } else {
        Ok(Box::new(buf))
    }
}

/// The normalised relative path of a tar entry (`./a//b/` → `a/b`), or why it is unsafe:
/// absolute paths and `..` components are refused. The empty path (`./`) is `Ok("")`.
pub(crate) fn safe_path(what: &str, raw: &[u8]) -> Result<String, LayerError> {
    let text = String::from_utf8_lossy(raw);
    let unsafe_entry = |reason| LayerError::Unsafe {
        what: what.to_string(),
        path: text.to_string(),
        reason,
    };
    if text.starts_with('/') {
        return Err(unsafe_entry("absolute path"));
    }
    if text.contains('\0') {
        return Err(unsafe_entry("NUL byte in the path"));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_entry("`..` component")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Whether a link at `entry` (a normalised relative path) pointing at `target` stays inside the
/// archive root. Absolute targets are outside.
pub(crate) fn link_stays_inside(entry: &str, target: &str, hard: bool) -> bool {
    if target.starts_with('/') {
        return false;
    }
    // A symlink resolves from its own directory; a hard link from the archive root.
    let mut depth: Vec<&str> = if hard {
        Vec::new()
    } else {
        let mut d: Vec<&str> = entry.split('/').filter(|p| !p.is_empty()).collect();
        d.pop();
        d
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            p => depth.push(p),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_and_unsafe_ones_refused() {
        assert_eq!(
            safe_path("l", b"./release-manifests//a.yaml").unwrap(),
            "release-manifests/a.yaml"
        );
        assert_eq!(safe_path("l", b"./").unwrap(), "");
        assert!(matches!(
            safe_path("l", b"/etc/passwd"),
            Err(LayerError::Unsafe { .. })
        ));
        assert!(matches!(
            safe_path("l", b"a/../../b"),
            Err(LayerError::Unsafe { .. })
        ));
    }

    #[test]
    fn links_must_stay_inside() {
        assert!(link_stays_inside("a/b/link", "../c", false));
        assert!(!link_stays_inside("a/link", "../../c", false));
        assert!(!link_stays_inside("a/link", "/etc/passwd", false));
        assert!(link_stays_inside("a/hard", "a/file", true));
        assert!(!link_stays_inside("a/hard", "../x", true));
    }

    #[test]
    fn gzip_plain_and_zstd_are_told_apart() {
        let mut s = String::new();
        tar_stream("l", &b"plain"[..])
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "plain");
        let zstd = [0x28u8, 0xb5, 0x2f, 0xfd, 0];
        assert!(matches!(
            tar_stream("l", &zstd[..]),
            Err(LayerError::Zstd { .. })
        ));
    }
}
