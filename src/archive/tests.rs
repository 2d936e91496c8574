//! Archive round trips and the failures unpacking must catch, on real files in temporary
//! directories (GNU tar cross-checks the chunks when it is installed).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::*;
use crate::oci::Digest;
use crate::registry::{ByteStream, RegistryError};

fn content(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// `bytes` as a stream of `piece`-sized buffers.
fn stream_of(bytes: &[u8], piece: usize) -> ByteStream {
    let pieces: Vec<Result<Bytes, RegistryError>> = bytes
        .chunks(piece)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(pieces).boxed()
}

/// Lays out `blobs` then `files`, creates the writer in `dir`.
fn layout_of(
    dir: &Path,
    first: u64,
    limit: u64,
    split: bool,
    blobs: &[&[u8]],
    files: &[(&str, &[u8])],
) -> ArchiveWriter {
    let mut layout = ArchiveLayout::new(first, limit, split).unwrap();
    for blob in blobs {
        layout
            .add_blob(&Digest::of(blob), blob.len() as u64)
            .unwrap();
    }
    for (path, bytes) in files {
        layout.add_file(path, bytes.to_vec()).unwrap();
    }
    ArchiveWriter::create(dir, layout).unwrap()
}

async fn write(w: &ArchiveWriter, bytes: &[u8], piece: usize) -> Result<u64, ArchiveError> {
    w.write_blob(&Digest::of(bytes), stream_of(bytes, piece))
        .await
}

/// Writes every blob, the last first and all at once: the order they arrive in must not
/// matter.
async fn fill(w: &ArchiveWriter, blobs: &[&[u8]], piece: usize) {
    let writes = blobs.iter().rev().map(|b| write(w, b, piece));
    for r in futures_util::future::join_all(writes).await {
        r.unwrap();
    }
}

async fn collect(stream: ByteStream) -> Vec<u8> {
    stream
        .try_fold(Vec::new(), |mut all, b| async move {
            all.extend_from_slice(&b);
            Ok(all)
        })
        .await
        .unwrap()
}

fn entry_for(chunks: Vec<ChunkEntry>) -> ArchiveEntry {
    ArchiveEntry {
        sequence: 1,
        id: archive_id(&chunks),
        extends: None,
        created: None,
        resends_from: None,
        recipe_digest: None,
        lock_digest: None,
        chunks,
        images: vec![],
        summary: BTreeMap::new(),
        blobs: 0,
        blob_bytes: 0,
    }
}

fn names_ending(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(suffix))
        .collect();
    names.sort();
    names
}

struct Sample {
    blobs: Vec<Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
}

fn sample() -> Sample {
    Sample {
        blobs: vec![content(1, 3000), content(2, 5000), content(3, 100), vec![]],
        files: vec![
            (
                "oci-layout".into(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ),
            ("index.json".into(), br#"{"manifests":[]}"#.to_vec()),
            ("airlift/recipe.kdl".into(), b"target \"disk\"\n".to_vec()),
            (
                format!("airlift/cache/{}", "x".repeat(120)),
                content(4, 700),
            ),
        ],
    }
}

/// Writes the sample into `dir` as chunks of at most 8 KiB, from chunk 4 on.
async fn write_sample(dir: &Path, s: &Sample) -> Vec<ChunkEntry> {
    let mut layout = ArchiveLayout::new(4, 8192, false).unwrap();
    for blob in &s.blobs {
        assert!(
            layout
                .add_blob(&Digest::of(blob), blob.len() as u64)
                .unwrap()
        );
    }
    assert!(
        !layout
            .add_blob(&Digest::of(&s.blobs[0]), s.blobs[0].len() as u64)
            .unwrap(),
        "a digest is added once"
    );
    assert_eq!(layout.blob_count(), 4);
    assert_eq!(layout.blob_bytes(), 8100);
    for (path, bytes) in &s.files {
        layout.add_file(path, bytes.clone()).unwrap();
    }
    let w = ArchiveWriter::create(dir, layout).unwrap();
    let blobs: Vec<&[u8]> = s.blobs.iter().map(Vec::as_slice).collect();
    fill(&w, &blobs, 1000).await;
    w.finish().await.unwrap()
}

#[tokio::test]
async fn round_trip_across_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    let chunks = write_sample(dir.path(), &s).await;

    assert!(chunks.len() >= 2, "{chunks:?}");
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.name, chunk_name(4 + i as u64));
        let bytes = fs::read(dir.path().join(&chunk.name)).unwrap();
        assert!(
            bytes.len() <= 8192,
            "{} is {} bytes",
            chunk.name,
            bytes.len()
        );
        assert_eq!(chunk.size, bytes.len() as u64);
        assert_eq!(chunk.sha256, Digest::of(&bytes));
        assert!(
            bytes.ends_with(&[0; 1024]),
            "a chunk ends with two zero blocks"
        );
    }
    assert!(names_ending(dir.path(), ".tmp").is_empty());

    let reader = ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
    assert_eq!(reader.blobs().count(), 4);
    for blob in &s.blobs {
        let digest = Digest::of(blob);
        assert!(reader.has_blob(&digest));
        assert_eq!(reader.blob_len(&digest), Some(blob.len() as u64));
        assert_eq!(collect(reader.blob_stream(&digest).unwrap()).await, *blob);
    }
    let mut expected: Vec<&str> = s.files.iter().map(|(p, _)| p.as_str()).collect();
    expected.sort();
    assert_eq!(reader.files().collect::<Vec<_>>(), expected);
    for (path, bytes) in &s.files {
        assert_eq!(reader.read_file(path).unwrap(), *bytes, "{path}");
    }
    assert!(reader.blob_stream(&Digest::of(b"absent")).is_none());
    assert!(matches!(
        reader.read_file("airlift/lock.json"),
        Err(ArchiveError::MissingFile { .. })
    ));
}

#[tokio::test]
async fn gnu_tar_lists_every_chunk() {
    if std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    let chunks = write_sample(dir.path(), &s).await;
    let mut listed = Vec::new();
    for chunk in &chunks {
        let out = std::process::Command::new("tar")
            .arg("tvf")
            .arg(dir.path().join(&chunk.name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            assert!(line.starts_with("-rw-r--r-- 0/0 "), "{line}");
            listed.push(line.rsplit(' ').next().unwrap().to_string());
        }
    }
    let mut expected: Vec<String> = s.blobs.iter().map(|b| blob_path(&Digest::of(b))).collect();
    expected.extend(s.files.iter().map(|(p, _)| p.clone()));
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn identical_input_gives_identical_chunks() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let s = sample();
    assert_eq!(
        write_sample(a.path(), &s).await,
        write_sample(b.path(), &s).await
    );
}

#[tokio::test]
async fn an_empty_archive_is_one_empty_tar() {
    let dir = tempfile::tempdir().unwrap();
    let w = layout_of(dir.path(), 1, 4096, false, &[], &[]);
    let chunks = w.finish().await.unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].size, 1024);
    let reader = ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
    assert_eq!(reader.files().count() + reader.blobs().count(), 0);
}

#[tokio::test]
async fn a_blob_over_the_chunk_size_is_refused_unless_split() {
    let big = content(9, 10_000);
    let mut layout = ArchiveLayout::new(1, 4096, false).unwrap();
    match layout.add_blob(&Digest::of(&big), 10_000) {
        Err(ArchiveError::BlobTooLarge {
            digest,
            size,
            limit,
        }) => {
            assert_eq!((digest, size, limit), (Digest::of(&big), 10_000, 4096));
        }
        other => panic!("{other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let small = [content(1, 500), content(2, 1500)];
    let blobs: [&[u8]; 3] = [&small[0], &big, &small[1]];
    let w = layout_of(dir.path(), 1, 4096, true, &blobs, &[("index.json", b"{}")]);
    fill(&w, &blobs, 777).await;
    let chunks = w.finish().await.unwrap();
    assert!(chunks.len() >= 4, "{chunks:?}");
    assert!(chunks.iter().all(|c| c.size <= 4096), "{chunks:?}");

    let reader = ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
    for blob in blobs {
        let digest = Digest::of(blob);
        assert_eq!(reader.blob_len(&digest), Some(blob.len() as u64));
        assert_eq!(collect(reader.blob_stream(&digest).unwrap()).await, *blob);
    }
    assert_eq!(reader.files().collect::<Vec<_>>(), ["index.json"]);
}

#[tokio::test]
async fn a_bad_stream_is_refused_and_the_blob_can_be_written_again() {
    let good = [content(1, 3000), content(2, 2000)];
    let bytes = content(5, 2500);
    let right = Digest::of(&bytes);
    let blobs: [&[u8]; 3] = [&good[0], &bytes, &good[1]];
    let dir = tempfile::tempdir().unwrap();
    let w = layout_of(dir.path(), 1, 8192, false, &blobs, &[]);
    write(&w, &good[0], 1000).await.unwrap();

    // Other bytes than the digest names; fewer and more bytes than the layout's size.
    let other = content(6, 2500);
    let err = w.write_blob(&right, stream_of(&other, 1000)).await;
    assert!(
        matches!(&err, Err(ArchiveError::SourceDigest { digest, .. }) if *digest == right),
        "{err:?}"
    );
    let err = w.write_blob(&right, stream_of(&bytes[..2400], 1000)).await;
    assert!(
        matches!(
            err,
            Err(ArchiveError::SourceSize {
                expected: 2500,
                found: 2400,
                ..
            })
        ),
        "{err:?}"
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"extra");
    let err = w.write_blob(&right, stream_of(&longer, 1000)).await;
    assert!(
        matches!(
            err,
            Err(ArchiveError::SourceSize {
                expected: 2500,
                found: 2505,
                ..
            })
        ),
        "{err:?}"
    );
    let failing: ByteStream = stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(RegistryError::LocalFile {
            path: "x".into(),
            message: "gone".into(),
        }),
    ])
    .boxed();
    let err = w.write_blob(&right, failing).await;
    assert!(matches!(err, Err(ArchiveError::Source { .. })), "{err:?}");
    let absent = Digest::of(b"absent");
    let err = w.write_blob(&absent, stream_of(b"absent", 10)).await;
    assert!(
        matches!(err, Err(ArchiveError::NotInLayout { .. })),
        "{err:?}"
    );

    // Written again from a good stream: byte for byte what a writer that never saw the bad
    // streams writes.
    write(&w, &bytes, 700).await.unwrap();
    write(&w, &good[1], 1000).await.unwrap();
    let chunks = w.finish().await.unwrap();
    let clean = tempfile::tempdir().unwrap();
    let w = layout_of(clean.path(), 1, 8192, false, &blobs, &[]);
    fill(&w, &blobs, 1000).await;
    assert_eq!(chunks, w.finish().await.unwrap());
    ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
}

#[tokio::test]
async fn a_bad_split_blob_is_refused_across_chunks() {
    let small = content(1, 1000);
    let big = content(2, 12_000);
    let blobs: [&[u8]; 2] = [&small, &big];
    let dir = tempfile::tempdir().unwrap();
    let w = layout_of(dir.path(), 1, 4096, true, &blobs, &[]);
    write(&w, &small, 300).await.unwrap();
    let mut wrong = big.clone();
    wrong[11_000] ^= 1;
    let err = w
        .write_blob(&Digest::of(&big), stream_of(&wrong, 999))
        .await;
    assert!(
        matches!(err, Err(ArchiveError::SourceDigest { .. })),
        "{err:?}"
    );
    assert!(
        names_ending(dir.path(), ".tar").is_empty(),
        "no chunk is final before every blob is in"
    );
    write(&w, &big, 999).await.unwrap();
    let chunks = w.finish().await.unwrap();

    let clean = tempfile::tempdir().unwrap();
    let w = layout_of(clean.path(), 1, 4096, true, &blobs, &[]);
    fill(&w, &blobs, 300).await;
    assert_eq!(chunks, w.finish().await.unwrap());
    ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
}

#[tokio::test]
async fn an_interrupted_pack_leaves_only_temporaries_and_resumes() {
    let blobs = [content(1, 2500), content(2, 2500), content(3, 700)];
    let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let dir = tempfile::tempdir().unwrap();
    let w = layout_of(dir.path(), 1, 4096, false, &refs, &[("index.json", b"{}")]);
    write(&w, &blobs[0], 1000).await.unwrap();
    write(&w, &blobs[2], 1000).await.unwrap();
    drop(w);
    assert!(names_ending(dir.path(), ".tar").is_empty());
    assert_eq!(
        names_ending(dir.path(), ".tmp"),
        [
            "airlift-000001.tar.tmp",
            "airlift-000002.tar.tmp",
            "airlift-000003.tar.tmp",
            "airlift-pack.progress.tmp"
        ]
    );

    // The same layout again: what was written is kept once it reads back right; a damaged
    // blob is written again.
    let tmp = dir.path().join("airlift-000003.tar.tmp");
    let mut damaged = fs::read(&tmp).unwrap();
    let at = damaged
        .windows(100)
        .position(|w| w == &blobs[2][..100])
        .unwrap();
    damaged[at + 50] ^= 1;
    fs::write(&tmp, damaged).unwrap();
    let w = layout_of(dir.path(), 1, 4096, false, &refs, &[("index.json", b"{}")]);
    assert!(w.already_written(&Digest::of(&blobs[0])).await);
    assert!(!w.already_written(&Digest::of(&blobs[1])).await);
    assert!(!w.already_written(&Digest::of(&blobs[2])).await);
    write(&w, &blobs[1], 1000).await.unwrap();
    write(&w, &blobs[2], 1000).await.unwrap();
    let chunks = w.finish().await.unwrap();
    assert!(names_ending(dir.path(), ".tmp").is_empty());
    let clean = tempfile::tempdir().unwrap();
    let w = layout_of(
        clean.path(),
        1,
        4096,
        false,
        &refs,
        &[("index.json", b"{}")],
    );
    fill(&w, &refs, 1000).await;
    assert_eq!(chunks, w.finish().await.unwrap());

    // Another layout starts over.
    let dir = tempfile::tempdir().unwrap();
    let w = layout_of(dir.path(), 1, 4096, false, &refs, &[]);
    write(&w, &blobs[0], 1000).await.unwrap();
    drop(w);
    let w = layout_of(dir.path(), 1, 4096, false, &refs[..1], &[]);
    assert!(!w.already_written(&Digest::of(&blobs[0])).await);
    assert_eq!(
        names_ending(dir.path(), ".tar.tmp"),
        ["airlift-000001.tar.tmp"]
    );
    drop(w);

    fs::write(dir.path().join("notes.tmp"), b"mine").unwrap();
    assert_eq!(clean_temporaries(dir.path()).unwrap(), 1);
    assert_eq!(names_ending(dir.path(), ".tmp"), ["notes.tmp"]);
    assert_eq!(clean_temporaries(&dir.path().join("absent")).unwrap(), 0);
}

#[tokio::test]
async fn a_flipped_byte_is_a_chunk_checksum_error() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = write_sample(dir.path(), &sample()).await;
    let victim = dir.path().join(&chunks[1].name);
    let mut bytes = fs::read(&victim).unwrap();
    bytes[600] ^= 0x01;
    fs::write(&victim, bytes).unwrap();
    match ArchiveReader::open(dir.path(), &entry_for(chunks.clone())) {
        Err(ArchiveError::ChunkChecksum { name, expected, .. }) => {
            assert_eq!(
                (name, expected),
                (chunks[1].name.clone(), chunks[1].sha256.clone())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_short_or_missing_chunk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = write_sample(dir.path(), &sample()).await;
    let first = dir.path().join(&chunks[0].name);
    let file = fs::OpenOptions::new().write(true).open(&first).unwrap();
    file.set_len(chunks[0].size - 100).unwrap();
    match ArchiveReader::open(dir.path(), &entry_for(chunks.clone())) {
        Err(ArchiveError::Truncated {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, chunks[0].name);
            assert_eq!((expected, found), (chunks[0].size, chunks[0].size - 100));
        }
        other => panic!("{other:?}"),
    }

    let dir = tempfile::tempdir().unwrap();
    let chunks = write_sample(dir.path(), &sample()).await;
    fs::remove_file(dir.path().join(&chunks[1].name)).unwrap();
    match ArchiveReader::open(dir.path(), &entry_for(chunks.clone())) {
        Err(ArchiveError::MissingChunk { sequence, name }) => {
            assert_eq!((sequence, name), (1, chunks[1].name.clone()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_inconsistent_index_entry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chunk = craft(dir.path(), |_| {});
    let mut entry = entry_for(vec![chunk.clone()]);
    entry.id = Digest::of(b"other");
    assert!(matches!(
        ArchiveReader::open(dir.path(), &entry),
        Err(ArchiveError::ArchiveId { .. })
    ));
    let renamed = ChunkEntry {
        name: "../airlift-000001.tar".into(),
        ..chunk
    };
    assert!(matches!(
        ArchiveReader::open(dir.path(), &entry_for(vec![renamed])),
        Err(ArchiveError::ChunkName { .. })
    ));
}

/// Writes `airlift-000001.tar` with the `tar` crate and returns its true index entry.
fn craft(dir: &Path, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> ChunkEntry {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    let bytes = builder.into_inner().unwrap();
    let name = chunk_name(1);
    fs::write(dir.join(&name), &bytes).unwrap();
    ChunkEntry {
        name,
        size: bytes.len() as u64,
        sha256: Digest::of(&bytes),
    }
}

fn regular(name: &[u8], data: &[u8]) -> (tar::Header, Vec<u8>) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    (h, data.to_vec())
}

fn unsafe_entry_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let chunk = craft(dir.path(), |b| {
        let (h, data) = regular(b"oci-layout", b"{}");
        b.append(&h, data.as_slice()).unwrap();
        build(b);
    });
    match ArchiveReader::open(dir.path(), &entry_for(vec![chunk])) {
        Err(ArchiveError::UnsafeEntry {
            chunk,
            path,
            reason,
        }) => {
            assert_eq!(chunk, "airlift-000001.tar");
            (path, reason)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsafe_entries_are_refused() {
    for name in [&b"../evil"[..], b"/etc/evil", b"airlift/../../evil"] {
        let (path, _) = unsafe_entry_of(|b| {
            let (h, data) = regular(name, b"evil");
            b.append(&h, data.as_slice()).unwrap();
        });
        assert_eq!(path.as_bytes(), name);
    }

    let (path, reason) = unsafe_entry_of(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_path("airlift/link").unwrap();
        h.set_link_name("/etc/passwd").unwrap();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    });
    assert_eq!(path, "airlift/link");
    assert!(reason.contains("symbolic link"), "{reason}");

    let (_, reason) = unsafe_entry_of(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_path("airlift/fifo").unwrap();
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    });
    assert!(reason.contains("fifo"), "{reason}");

    let d = Digest::of(b"x");
    let (path, reason) = unsafe_entry_of(|b| {
        let name = format!("blobs/sha256/{}.part-0002", d.hex());
        let (h, data) = regular(name.as_bytes(), b"x");
        b.append(&h, data.as_slice()).unwrap();
    });
    assert!(
        path.ends_with(".part-0002") && reason.contains("order"),
        "{reason}"
    );
}

#[test]
fn a_blob_not_matching_its_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let claimed = Digest::of(b"other");
    let chunk = craft(dir.path(), |b| {
        let (h, data) = regular(blob_path(&claimed).as_bytes(), b"content");
        b.append(&h, data.as_slice()).unwrap();
    });
    match ArchiveReader::open(dir.path(), &entry_for(vec![chunk])) {
        Err(ArchiveError::BlobDigest { digest, found }) => {
            assert_eq!((digest, found), (claimed, Digest::of(b"content")));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_paths_sizes_and_duplicates_are_refused() {
    assert!(matches!(
        ArchiveLayout::new(1, 1000, false),
        Err(ArchiveError::ArchiveSizeTooSmall { .. })
    ));
    let mut layout = ArchiveLayout::new(1, 4096, false).unwrap();
    for bad in ["", "/abs", "a/../b", "a//b", "blobs/sha256/x", "blobs"] {
        let err = layout.add_file(bad, b"x".to_vec());
        assert!(
            matches!(err, Err(ArchiveError::InvalidPath { .. })),
            "{bad}: {err:?}"
        );
    }
    layout.add_file("index.json", b"{}".to_vec()).unwrap();
    assert!(matches!(
        layout.add_file("index.json", b"{}".to_vec()),
        Err(ArchiveError::DuplicateFile { .. })
    ));
    assert!(matches!(
        layout.add_file("airlift/big", vec![0; 4096]),
        Err(ArchiveError::FileTooLarge { size: 4096, .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let chunks = ArchiveWriter::create(dir.path(), layout)
        .unwrap()
        .finish()
        .await
        .unwrap();
    let reader = ArchiveReader::open(dir.path(), &entry_for(chunks)).unwrap();
    assert_eq!(reader.files().collect::<Vec<_>>(), ["index.json"]);
}
