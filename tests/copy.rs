//! The copy engine against real registries (CNCF distribution), checked with skopeo: byte
//! identical manifests for every kind of image, blob dedup and mounts, sparse indexes, events.
//! Faults (auth, TLS, retries, corruption) are in `copy_faults.rs`.

mod support;

use airlift::exec::{Event, EventSink};
use airlift::plan::Destination;
use airlift::task::{CopyJob, copy_all};
use support::clients::{assert_same_tree, context, empty_authfile, insecure_client, job};
use support::{Fixture, Format, Layer, Registry, RegistryOptions, SkopeoAuth, skopeo_inspect_raw};

#[tokio::test]
async fn copies_every_image_kind_byte_identical() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let base = Layer::shared_random(64 * 1024);
    let oci_index = fx
        .index(
            "apps/multi",
            Some("v1"),
            Format::Oci,
            &["amd64", "arm64", "s390x"],
            std::slice::from_ref(&base),
            4096,
        )
        .await;
    let docker_list = fx
        .index(
            "apps/dlist",
            Some("v2"),
            Format::Docker,
            &["amd64", "arm64"],
            std::slice::from_ref(&base),
            2048,
        )
        .await;
    let single = fx
        .image(
            "apps/single",
            Some("1.0"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(8192)],
        )
        .await;
    let docker = fx
        .image(
            "apps/docker",
            Some("latest"),
            Format::Docker,
            "amd64",
            &[Layer::Random(1000)],
        )
        .await;
    let by_digest = fx
        .image(
            "apps/pinned",
            None,
            Format::Oci,
            "amd64",
            &[Layer::Random(500)],
        )
        .await;
    let signed = fx
        .image(
            "apps/signed",
            Some("prod"),
            Format::Oci,
            "amd64",
            &[Layer::Random(700)],
        )
        .await;
    let sig = fx.cosign_signature(&signed).await;
    let referrer = fx
        .referrer(&signed, "application/vnd.airlift.test.sbom")
        .await;

    let d = Destination::parse(&format!("{}/mirror", dst.host()), None);
    let auth_dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(auth_dir.path())),
        insecure_client(empty_authfile(auth_dir.path())),
    );
    let all = [
        &oci_index,
        &docker_list,
        &single,
        &docker,
        &by_digest,
        &signed,
    ];
    let jobs: Vec<CopyJob> = all.iter().map(|p| job(&p.reference, &d)).collect();
    let summary = copy_all(jobs, &ctx, &EventSink::discard()).await;
    for o in &summary.jobs {
        assert!(o.result.is_ok(), "{} failed: {:?}", o.source, o.result);
    }
    assert!(summary.is_success());

    let auth = SkopeoAuth::for_registry(&dst);
    for p in all {
        let dest_repo = format!("mirror/{}", p.repo);
        assert_same_tree(p, &dst.host(), &dest_repo, &auth);
        let tag = p.tag.clone().unwrap_or_else(|| p.digest.replace(':', "-"));
        let tagged = skopeo_inspect_raw(&format!("{}/{dest_repo}:{tag}", dst.host()), &auth)
            .expect("dest tag");
        assert_eq!(tagged, p.manifest, "tag {tag} of {dest_repo}");
    }
    let dfx = Fixture::new(&dst);
    let placed = [
        ("mirror/apps/single", single.blobs.clone()),
        ("mirror/apps/docker", docker.blobs.clone()),
        (
            "mirror/apps/multi",
            oci_index
                .children
                .iter()
                .flat_map(|c| c.blobs.clone())
                .collect(),
        ),
    ];
    for (repo, blobs) in placed {
        for b in blobs {
            assert!(
                dfx.blob_exists(repo, &b.digest).await,
                "blob {} missing in {repo}",
                b.digest
            );
        }
    }
    // the cosign signature tag and the referrer travelled with their subject
    let sig_tag = sig.tag.clone().expect("sig tag");
    let raw = skopeo_inspect_raw(
        &format!("{}/mirror/apps/signed:{sig_tag}", dst.host()),
        &auth,
    )
    .expect("sig at dest");
    assert_eq!(raw, sig.manifest);
    let raw = skopeo_inspect_raw(
        &format!("{}/mirror/apps/signed@{}", dst.host(), referrer.digest),
        &auth,
    )
    .expect("referrer at dest");
    assert_eq!(raw, referrer.manifest);
    let signed_outcome = summary
        .jobs
        .iter()
        .find(|o| o.source.path() == "apps/signed")
        .expect("signed job");
    let attachments = &signed_outcome.result.as_ref().expect("ok").attachments;
    assert!(attachments.contains(&sig_tag), "{attachments:?}");
    assert!(attachments.contains(&referrer.digest), "{attachments:?}");
    // the digest-only image got the sha256-<hex> tag
    assert!(
        dfx.tags("mirror/apps/pinned")
            .await
            .contains(&by_digest.digest.replace(':', "-"))
    );
}

#[tokio::test]
async fn shared_blob_crosses_the_wire_once_and_is_mounted_elsewhere() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let base = Layer::shared_random(1024 * 1024);
    let a = fx
        .image(
            "team/a",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[base.clone(), Layer::Random(1000)],
        )
        .await;
    let b = fx
        .image(
            "team/b",
            Some("v1"),
            Format::Docker,
            "amd64",
            &[base.clone(), Layer::Random(1000)],
        )
        .await;
    let auth_dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(auth_dir.path())),
        insecure_client(empty_authfile(auth_dir.path())),
    );
    let d = Destination::parse(&dst.host(), None);
    let summary = copy_all(
        vec![job(&a.reference, &d), job(&b.reference, &d)],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    assert!(summary.is_success(), "{summary:?}");
    // 2 configs + 2 own layers + the base once; the base is mounted into the other repository
    assert_eq!(summary.totals.blobs_uploaded, 5, "{:?}", summary.totals);
    assert_eq!(summary.totals.blobs_mounted, 1, "{:?}", summary.totals);
    let auth = SkopeoAuth::for_registry(&dst);
    assert_same_tree(&a, &dst.host(), "team/a", &auth);
    assert_same_tree(&b, &dst.host(), "team/b", &auth);
    // a rerun finds everything in place and uploads nothing
    let again = copy_all(
        vec![job(&a.reference, &d), job(&b.reference, &d)],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    assert!(again.is_success());
    assert_eq!(again.totals.blobs_uploaded, 0, "{:?}", again.totals);
    assert_eq!(again.totals.bytes, 0);
}

#[tokio::test]
async fn platform_filter_writes_a_reported_sparse_index() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let idx = fx
        .index(
            "os/base",
            Some("9"),
            Format::Oci,
            &["amd64", "arm64"],
            &[],
            1024,
        )
        .await;
    let auth_dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(auth_dir.path())),
        insecure_client(empty_authfile(auth_dir.path())),
    );
    let d = Destination::parse(&dst.host(), None);
    let mut j = job(&idx.reference, &d);
    j.platforms = Some(vec!["arm64".into()]);
    let summary = copy_all(vec![j], &ctx, &EventSink::discard()).await;
    let copied = summary.jobs[0].result.as_ref().expect("copied");
    let sparse = copied.sparse.as_ref().expect("sparse index reported");
    assert_eq!(sparse.source_digest.to_string(), idx.digest);
    assert_eq!(sparse.dropped, ["amd64"]);
    assert_ne!(copied.digest.to_string(), idx.digest);
    let auth = SkopeoAuth::for_registry(&dst);
    let raw =
        skopeo_inspect_raw(&format!("{}/os/base:9", dst.host()), &auth).expect("sparse index");
    let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(v["manifests"].as_array().expect("manifests").len(), 1);
    assert_same_tree(&idx.children[1], &dst.host(), "os/base", &auth);
    assert!(skopeo_inspect_raw(&idx.children[0].by_digest(&dst.host()), &auth).is_err());
}

#[tokio::test]
async fn events_report_transfers_and_mounts() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "ev/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(2048)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&dst.host(), None);
    let (sink, mut rx) = EventSink::channel();
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &sink).await;
    drop(sink);
    assert!(summary.is_success());
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    assert!(matches!(
        events.first(),
        Some(Event::JobStarted { job: 0, .. })
    ));
    assert!(matches!(
        events.last(),
        Some(Event::JobFinished { job: 0, .. })
    ));
    let transferred: u64 = events
        .iter()
        .map(|e| match e {
            Event::BlobTransferred { bytes, .. } => *bytes,
            _ => 0,
        })
        .sum();
    assert_eq!(transferred, summary.totals.bytes);
    assert_eq!(transferred, img.blobs.iter().map(|b| b.size).sum::<u64>());
    // The progress meter saw the same bytes stream through (#18), and the destination
    // client counted its requests (#19, #20).
    assert_eq!(ctx.dest.meter().sent(), transferred);
    assert!(ctx.dest.meter().in_flight().is_empty());
    let traffic = ctx.dest.traffic();
    let t = traffic.get(&dst.host()).expect("destination traffic");
    assert!(t.requests >= 3, "{t:?}");
    assert_eq!(t.in_flight.last().map(|p| p.1), Some(0), "{t:?}");
}

#[tokio::test]
async fn copy_within_one_registry_mounts_instead_of_uploading() {
    let reg = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&reg);
    let img = fx
        .image(
            "inside/app",
            Some("v1"),
            Format::Docker,
            "amd64",
            &[Layer::Random(10_000)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&format!("{}/copy", reg.host()), None);
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_eq!(summary.totals.blobs_uploaded, 0, "{:?}", summary.totals);
    assert_eq!(summary.totals.blobs_mounted, 2, "{:?}", summary.totals);
    assert_same_tree(
        &img,
        &reg.host(),
        "copy/inside/app",
        &SkopeoAuth::for_registry(&reg),
    );
}
