//! `airlift extract`: one command-line tool out of a release's component image, as `oc adm
//! release extract --command` does. The tool is read from the image's layers in order (a later
//! layer replaces a file, an OCI whiteout removes it). `openshift-install` then gets the release
//! image it installs written into its marker, so the disconnected installer installs the
//! mirrored payload.
//!
//! Pure: layer readers in, bytes out.

use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;

/// A tool `airlift extract --command` knows: the payload component that ships it and its path
/// in that image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    pub command: &'static str,
    pub component: &'static str,
    pub path: &'static str,
}

/// The tools of a release payload for a Linux host.
pub const TOOLS: [Tool; 2] = [
    Tool {
        command: "openshift-install",
        component: "installer",
        path: "usr/bin/openshift-install",
    },
    Tool {
        command: "oc",
        component: "cli",
        path: "usr/bin/oc",
    },
];

pub fn tool(command: &str) -> Option<Tool> {
    TOOLS.iter().copied().find(|t| t.command == command)
}

/// The installer's placeholder for the release image it installs (`oc adm release extract`
/// overwrites it): a NUL, the name, a NUL, `X` padding, 300 bytes in all with the final NUL.
const MARKER_PREFIX: &[u8] = b"\x00_RELEASE_IMAGE_LOCATION_\x00";
const MARKER_LEN: usize = 300;

/// A file read out of the layers.
#[derive(Debug, PartialEq, Eq)]
pub struct Extracted {
    pub bytes: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExtractError {
    #[error("layer {layer} of the image is not a readable (gzip) tar: {message}")]
    #[diagnostic(help(
        "the image at the target is damaged; `airlift verify TARGET` checks it, `airlift build` repairs it"
    ))]
    Layer { layer: usize, message: String },
    #[error("the release image name `{0}` does not fit the installer's {MARKER_LEN}-byte marker")]
    #[diagnostic(help("use a shorter target namespace"))]
    TooLong(String),
}

/// Reads `path` (relative, e.g. `usr/bin/oc`) from layers in manifest order.
pub fn file_from_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
    path: &str,
) -> Result<Option<Extracted>, ExtractError> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let whiteout = format!("{dir}/.wh.{name}");
    let opaque = format!("{dir}/.wh..wh..opq");
    let mut found = None;
    for (i, layer) in layers.into_iter().enumerate() {
        let err = |e: std::io::Error| ExtractError::Layer {
            layer: i + 1,
            message: e.to_string(),
        };
        let mut buffered = BufReader::new(layer);
        let gzip = buffered.fill_buf().map_err(err)?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read> = if gzip {
            Box::new(GzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(err)? {
            let mut entry = entry.map_err(err)?;
            let p = entry.path().map_err(err)?.to_string_lossy().into_owned();
            let p = p.trim_start_matches("./").trim_start_matches('/');
            if p == whiteout || p == opaque {
                found = None;
            } else if p == path && entry.header().entry_type().is_file() {
                let mode = entry.header().mode().map_err(err)?;
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(err)?;
                found = Some(Extracted { bytes, mode });
            }
        }
    }
    Ok(found)
}

/// Writes `image` into the installer's release-image marker, as `oc adm release extract` does.
/// `Ok(false)` when the binary has no marker (it is left unchanged).
pub fn set_release_image(binary: &mut [u8], image: &str) -> Result<bool, ExtractError> {
    // The name and its NUL must leave the marker's own final NUL in place.
    if image.len() + 1 >= MARKER_LEN {
        return Err(ExtractError::TooLong(image.to_string()));
    }
    let Some(at) = binary
        .windows(MARKER_PREFIX.len())
        .position(|w| w == MARKER_PREFIX)
    else {
        return Ok(false);
    };
    let end = (at + MARKER_LEN).min(binary.len());
    let region = &mut binary[at..end];
    region[..image.len()].copy_from_slice(image.as_bytes());
    region[image.len()] = 0;
    Ok(true)
}

/// A marker as an installer binary carries it, for tests and fixtures.
pub fn marker() -> Vec<u8> {
    let mut m = MARKER_PREFIX.to_vec();
    m.resize(MARKER_LEN - 1, b'X');
    m.push(0);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(files: &[(&str, &[u8], u32)], gzip: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        let t = b.into_inner().unwrap();
        if !gzip {
            return t;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &t).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn the_last_layer_wins_and_a_whiteout_removes() {
        let l1 = tar(&[("usr/bin/oc", b"old", 0o755)], true);
        let l2 = tar(&[("./usr/bin/oc", b"new", 0o750)], false);
        let got = file_from_layers([&l1[..], &l2[..]], "usr/bin/oc").unwrap();
        assert_eq!(
            got,
            Some(Extracted {
                bytes: b"new".to_vec(),
                mode: 0o750
            })
        );
        let l3 = tar(&[("usr/bin/.wh.oc", b"", 0o644)], true);
        let got = file_from_layers([&l1[..], &l3[..]], "usr/bin/oc").unwrap();
        assert_eq!(got, None);
        let bad = b"not a tar at all, not even close to 512 bytes".to_vec();
        assert!(file_from_layers([&bad[..]], "usr/bin/oc").is_err());
    }

    #[test]
    fn the_release_image_goes_into_the_marker() {
        let mut bin = b"#!/bin/sh\n".to_vec();
        bin.extend(marker());
        bin.extend(b"\ntail\n");
        let len = bin.len();
        let image = "mirror.example:5000/ns/openshift/release-images@sha256:0123";
        assert!(set_release_image(&mut bin, image).unwrap());
        assert_eq!(bin.len(), len);
        let at = 10;
        assert_eq!(&bin[at..at + image.len()], image.as_bytes());
        assert_eq!(bin[at + image.len()], 0);
        assert!(bin.ends_with(b"X\x00\ntail\n"));
        let mut plain = b"no marker".to_vec();
        assert!(!set_release_image(&mut plain, image).unwrap());
        assert!(set_release_image(&mut marker(), &"x".repeat(299)).is_err());
    }
}
