//! `airlift-index.json`: the series index beside the chunks. It lists every archive of a
//! `file://DIR` target in sequence, with its chunks (name, size, sha256), the images it carries
//! and a free-form summary for `describe`. Written deterministically (sorted keys and images,
//! pretty JSON, trailing newline) and atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::ArchiveError;
use super::layout::{INDEX_FILE, chunk_number};
use crate::oci::Digest;

/// The index format this airlift writes and reads.
pub const INDEX_FORMAT: u64 = 1;

/// The whole index: every archive written into one directory for one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesIndex {
    pub format: u64,
    pub target: String,
    /// In sequence order (1, 2, …).
    pub archives: Vec<ArchiveEntry>,
}

/// One archive of the series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    /// 1 for the first archive of the directory, then 2, 3, …
    pub sequence: u64,
    /// [`archive_id`] of `chunks`.
    pub id: Digest,
    /// The id of the archive this one extends (the previous in sequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<Digest>,
    /// RFC 3339 time, only when the caller has a `SOURCE_DATE_EPOCH`-like value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Written with `--since`: this archive carries again every blob archives `resends_from`
    /// and later shipped, so those may be missing where it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resends_from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe_digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_digest: Option<Digest>,
    /// In write order (chunk numbers ascending).
    pub chunks: Vec<ChunkEntry>,
    pub images: Vec<ImageEntry>,
    /// Per content set, free-form, for `describe`.
    #[serde(default)]
    pub summary: BTreeMap<String, serde_json::Value>,
    /// Blobs carried by this archive (not counting blobs of earlier archives).
    pub blobs: u64,
    pub blob_bytes: u64,
}

/// One chunk file of an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// `airlift-NNNNNN.tar`.
    pub name: String,
    pub size: u64,
    pub sha256: Digest,
}

/// One image the archive carries (its manifest is a blob of the archive or of an earlier one).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImageEntry {
    /// The content set that selected it.
    pub set: String,
    /// The reference as the recipe names it.
    pub source: String,
    pub digest: Digest,
    /// The manifest's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Its name in the archive's OCI layout (`org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The id of an archive: sha256 over its chunks' sha256 in order, each written as
/// `sha256:<hex>\n`.
pub fn archive_id(chunks: &[ChunkEntry]) -> Digest {
    let mut hasher = Sha256::new();
    for chunk in chunks {
        hasher.update(chunk.sha256.to_string().as_bytes());
        hasher.update(b"\n");
    }
    Digest::from_sha256(hasher.finalize().into())
}

impl SeriesIndex {
    /// An index with no archives yet.
    pub fn new(target: impl Into<String>) -> Self {
        SeriesIndex {
            format: INDEX_FORMAT,
            target: target.into(),
            archives: Vec::new(),
        }
    }

    /// Reads `DIR/airlift-index.json`; `None` when the directory has no index.
    pub fn read(dir: &Path) -> Result<Option<Self>, ArchiveError> {
        let path = dir.join(INDEX_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ArchiveError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        // The format is checked before the rest, so a newer layout says so instead of failing
        // on a field it does not know.
        #[derive(Deserialize)]
        struct Format {
            format: u64,
        }
        let format: Format =
            serde_json::from_slice(&bytes).map_err(|source| ArchiveError::IndexParse {
                path: path.clone(),
                source,
            })?;
        if format.format != INDEX_FORMAT {
            return Err(ArchiveError::IndexFormat {
                path,
                found: format.format,
            });
        }
        let index = serde_json::from_slice(&bytes)
            .map_err(|source| ArchiveError::IndexParse { path, source })?;
        Ok(Some(index))
    }

    /// The canonical bytes: archives by sequence, images sorted, keys sorted, pretty JSON with
    /// a trailing newline. Identical indexes give identical bytes.
    pub fn to_json(&self) -> String {
        let mut sorted = self.clone();
        sorted.archives.sort_by_key(|a| a.sequence);
        for archive in &mut sorted.archives {
            archive.images.sort();
        }
        // Through `Value` so every object's keys come out sorted (serde_json's map is ordered).
        let value = serde_json::to_value(&sorted).expect("an index always serializes");
        let mut text = serde_json::to_string_pretty(&value).expect("a value always serializes");
        text.push('\n');
        text
    }

    /// Writes `DIR/airlift-index.json` atomically: a temporary file beside it, fsynced, renamed
    /// over the old index, then the directory fsynced.
    pub fn write(&self, dir: &Path) -> Result<(), ArchiveError> {
        let path = dir.join(INDEX_FILE);
        let io = |action, source| ArchiveError::Io {
            action,
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
        crate::state::write_atomic(&path, self.to_json().as_bytes()).map_err(|e| io("write", e))?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ArchiveError::Io {
                action: "sync the directory",
                path: dir.to_path_buf(),
                source: e,
            })
    }

    /// The last archive of the series.
    pub fn last(&self) -> Option<&ArchiveEntry> {
        self.archives.iter().max_by_key(|a| a.sequence)
    }

    /// The sequence number of the next archive (1 for an empty series).
    pub fn next_sequence(&self) -> u64 {
        self.last().map_or(1, |a| a.sequence + 1)
    }

    /// The number of the next archive's first chunk: one past the highest chunk of the series
    /// (1 for an empty series).
    pub fn next_chunk_number(&self) -> u64 {
        self.archives
            .iter()
            .flat_map(|a| &a.chunks)
            .filter_map(|c| chunk_number(&c.name))
            .max()
            .map_or(1, |n| n + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u64, bytes: &[u8]) -> ChunkEntry {
        ChunkEntry {
            name: super::super::layout::chunk_name(n),
            size: bytes.len() as u64,
            sha256: Digest::of(bytes),
        }
    }

    fn sample() -> SeriesIndex {
        let first = vec![chunk(1, b"one"), chunk(2, b"two")];
        let second = vec![chunk(3, b"three")];
        let first_id = archive_id(&first);
        let mut summary = BTreeMap::new();
        summary.insert(
            "ocp".to_string(),
            serde_json::json!({"zeta": 1, "alpha": [2, 1]}),
        );
        SeriesIndex {
            format: INDEX_FORMAT,
            target: "disk".into(),
            archives: vec![
                ArchiveEntry {
                    sequence: 2,
                    id: archive_id(&second),
                    extends: Some(first_id.clone()),
                    created: Some("2024-01-01T00:00:00Z".into()),
                    resends_from: None,
                    recipe_digest: Some(Digest::of(b"recipe")),
                    lock_digest: None,
                    chunks: second,
                    images: vec![
                        ImageEntry {
                            set: "b".into(),
                            source: "quay.io/b:1".into(),
                            digest: Digest::of(b"b"),
                            media_type: None,
                            name: None,
                        },
                        ImageEntry {
                            set: "a".into(),
                            source: "quay.io/a:1".into(),
                            digest: Digest::of(b"a"),
                            media_type: None,
                            name: None,
                        },
                    ],
                    summary,
                    blobs: 1,
                    blob_bytes: 5,
                },
                ArchiveEntry {
                    sequence: 1,
                    id: first_id,
                    extends: None,
                    created: None,
                    resends_from: None,
                    recipe_digest: None,
                    lock_digest: None,
                    chunks: first,
                    images: vec![],
                    summary: BTreeMap::new(),
                    blobs: 2,
                    blob_bytes: 6,
                },
            ],
        }
    }

    #[test]
    fn index_round_trips_and_writes_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SeriesIndex::read(dir.path()).unwrap(), None);

        let index = sample();
        index.write(dir.path()).unwrap();
        let first = fs::read(dir.path().join(INDEX_FILE)).unwrap();
        let back = SeriesIndex::read(dir.path()).unwrap().unwrap();
        assert_eq!(
            back.archives[0].sequence, 1,
            "archives are written in sequence"
        );
        assert_eq!(back.archives[1].images[0].set, "a", "images are sorted");
        assert_eq!(back.archives[1], {
            let mut a = index.archives[0].clone();
            a.images.sort();
            a
        });

        sample().write(dir.path()).unwrap();
        let second = fs::read(dir.path().join(INDEX_FILE)).unwrap();
        assert_eq!(first, second, "identical input, identical bytes");
        let text = String::from_utf8(first).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.find("\"alpha\"").unwrap() < text.find("\"zeta\"").unwrap());
        assert!(text.find("\"archives\"").unwrap() < text.find("\"format\"").unwrap());
        assert!(!text.contains("lock_digest"), "absent options are omitted");
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(INDEX_FILE)]);

        assert_eq!(back.next_sequence(), 3);
        assert_eq!(back.next_chunk_number(), 4);
        assert_eq!(SeriesIndex::new("t").next_chunk_number(), 1);
    }

    #[test]
    fn another_format_is_refused_by_number() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(INDEX_FILE),
            r#"{"format": 2, "something": "new"}"#,
        )
        .unwrap();
        assert!(matches!(
            SeriesIndex::read(dir.path()),
            Err(ArchiveError::IndexFormat { found: 2, .. })
        ));
        fs::write(dir.path().join(INDEX_FILE), "{").unwrap();
        assert!(matches!(
            SeriesIndex::read(dir.path()),
            Err(ArchiveError::IndexParse { .. })
        ));
    }

    #[test]
    fn archive_id_depends_on_chunk_order() {
        let (a, b) = (chunk(1, b"a"), chunk(2, b"b"));
        assert_ne!(
            archive_id(&[a.clone(), b.clone()]),
            archive_id(&[b.clone(), a.clone()])
        );
        let mut expected = Vec::new();
        for c in [&a, &b] {
            expected.extend_from_slice(format!("{}\n", c.sha256).as_bytes());
        }
        assert_eq!(archive_id(&[a, b]), Digest::of(&expected));
    }
}
