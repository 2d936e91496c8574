//! The copy engine against real registries (CNCF distribution), checked with skopeo: byte
//! identical manifests for every kind of image, blob dedup and mounts, sparse indexes, TLS and
//! htpasswd with an auth file, retries through a failing proxy, and digest mismatches.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlift::exec::{Event, EventSink, Limits};
use airlift::oci::ImageRef;
use airlift::plan::{Destination, destination_for};
use airlift::registry::{ClientOptions, RegistryClient, RegistryError, TlsOptions};
use airlift::task::{CopyContext, CopyError, CopyJob, copy_all};
use support::{
    FaultProxy, Fixture, Format, Layer, ProxyOptions, Pushed, Registry, RegistryOptions,
    SkopeoAuth, skopeo_inspect_raw,
};

fn empty_authfile(dir: &Path) -> PathBuf {
    let p = dir.join("empty-auth.json");
    std::fs::write(&p, r#"{"auths":{}}"#).expect("write auth file");
    p
}

/// A client for a registry started by the harness: its CA for TLS, plain HTTP otherwise.
fn client_for(reg: &Registry, authfile: PathBuf) -> RegistryClient {
    RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: reg.cert_dir().is_some(),
            cert_dir: reg.cert_dir().map(Path::to_path_buf),
        },
        authfile: Some(authfile),
        retry: Default::default(),
    })
    .expect("client")
}

fn insecure_client(authfile: PathBuf) -> RegistryClient {
    RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: false,
            cert_dir: None,
        },
        authfile: Some(authfile),
        retry: Default::default(),
    })
    .expect("client")
}

fn context(source: RegistryClient, dest: RegistryClient) -> CopyContext {
    CopyContext {
        source,
        dest,
        limits: Limits::default(),
    }
}

fn job(source: &str, dst: &Destination) -> CopyJob {
    let source: ImageRef = source.parse().expect("source ref");
    let dest = destination_for(dst, &source).expect("dest name");
    CopyJob {
        source,
        dest,
        platforms: None,
        signatures: true,
    }
}

/// Every manifest of `p` (and its children) reads back byte-identical at `dest_repo`.
fn assert_same_tree(p: &Pushed, dest_host: &str, dest_repo: &str, auth: &SkopeoAuth) {
    let at_dest = skopeo_inspect_raw(&format!("{dest_host}/{dest_repo}@{}", p.digest), auth)
        .expect("dest manifest");
    assert_eq!(
        at_dest, p.manifest,
        "manifest {} differs at destination",
        p.digest
    );
    for c in &p.children {
        assert_same_tree(c, dest_host, dest_repo, auth);
    }
}

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
async fn tls_htpasswd_destination_with_auth_file_and_wrong_password() {
    let src = Registry::start(RegistryOptions::default());
    let password = "correct-horse-battery";
    let dst = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), password.into())),
    });
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "secure/app",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(4000)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("auth.json");
    let b64 = |s: &str| base64_encode(s.as_bytes());
    std::fs::write(
        &good,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            dst.host(),
            b64(&format!("mirror:{password}"))
        ),
    )
    .expect("auth");
    let d = Destination::parse(&format!("{}/m", dst.host()), None);
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        client_for(&dst, good.clone()),
    );
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_same_tree(
        &img,
        &dst.host(),
        "m/secure/app",
        &SkopeoAuth::for_registry(&dst),
    );

    let wrong_password = "wrong-password-xyz";
    let bad = dir.path().join("bad-auth.json");
    std::fs::write(
        &bad,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            dst.host(),
            b64(&format!("mirror:{wrong_password}"))
        ),
    )
    .expect("auth");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        client_for(&dst, bad.clone()),
    );
    let (sink, mut rx) = EventSink::channel();
    let mut j = job(&img.reference, &d);
    j.dest = format!("{}/m/other:1", dst.host()).parse().expect("ref");
    let summary = copy_all(vec![j], &ctx, &sink).await;
    drop(sink);
    let err = summary.jobs[0]
        .result
        .as_ref()
        .expect_err("wrong password must fail");
    let CopyError::Registry { error, .. } = err else {
        panic!("unexpected {err:?}")
    };
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains(&dst.host()), "{shown}");
    assert!(shown.contains(&bad.display().to_string()), "{shown}");
    let mut everything = format!(
        "{shown}\n{summary:?}\n{:?}",
        miette::Report::new(error_clone(error))
    );
    while let Some(e) = rx.recv().await {
        everything.push_str(&serde_json::to_string(&e).expect("event json"));
        everything.push('\n');
    }
    assert!(everything.contains("job-failed"));
    for secret in [
        password,
        wrong_password,
        &b64(&format!("mirror:{wrong_password}")),
    ] {
        assert!(
            !everything.contains(secret),
            "secret leaked into output:\n{everything}"
        );
    }
}

fn error_clone(e: &RegistryError) -> RegistryError {
    match e {
        RegistryError::Unauthorized {
            registry,
            what,
            status,
            source_desc,
        } => RegistryError::Unauthorized {
            registry: registry.clone(),
            what: what.clone(),
            status: *status,
            source_desc: source_desc.clone(),
        },
        other => RegistryError::Protocol {
            registry: String::new(),
            what: String::new(),
            message: other.to_string(),
        },
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test]
async fn transient_503s_are_retried_with_retry_after() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "flaky/app",
            Some("v1"),
            Format::Docker,
            "amd64",
            &[Layer::Random(3000)],
        )
        .await;
    let proxy = FaultProxy::start(
        &src.host(),
        ProxyOptions {
            matcher: Arc::new(|m, p| m == "GET" && p.contains("/manifests/")),
            fail_first: 2,
            retry_after: Some(1),
            corrupt: false,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&dst.host(), None);
    let via_proxy = format!("{}/flaky/app:v1", proxy.host());
    let summary = copy_all(vec![job(&via_proxy, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_eq!(proxy.injected(), 2);
    assert!(proxy.matched() >= 3);
    assert_same_tree(
        &img,
        &dst.host(),
        "flaky/app",
        &SkopeoAuth::for_registry(&dst),
    );
}

#[tokio::test]
async fn digest_mismatch_fails_the_job_tags_nothing_and_spares_others() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let bad = fx
        .image(
            "corrupt/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(5000)],
        )
        .await;
    let good = fx
        .image(
            "fine/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(5000)],
        )
        .await;
    let layer = format!("/blobs/{}", bad.blobs[1].digest);
    let proxy = FaultProxy::start(
        &src.host(),
        ProxyOptions {
            matcher: Arc::new(move |m, p| m == "GET" && p.ends_with(&layer)),
            fail_first: 0,
            retry_after: None,
            corrupt: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&dst.host(), None);
    let jobs = vec![
        job(&format!("{}/corrupt/app:v1", proxy.host()), &d),
        job(&format!("{}/fine/app:v1", proxy.host()), &d),
    ];
    let summary = copy_all(jobs, &ctx, &EventSink::discard()).await;
    assert_eq!(summary.failed, 1);
    let err = summary.jobs[0]
        .result
        .as_ref()
        .expect_err("corrupt blob must fail");
    let CopyError::Registry { error, .. } = err else {
        panic!("unexpected {err:?}")
    };
    assert!(
        matches!(error, RegistryError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert!(proxy.matched() >= 1);
    let dfx = Fixture::new(&dst);
    assert!(
        dfx.tags("corrupt/app").await.is_empty(),
        "nothing may be tagged"
    );
    assert!(!dfx.blob_exists("corrupt/app", &bad.blobs[1].digest).await);
    assert!(summary.jobs[1].result.is_ok());
    assert_same_tree(
        &good,
        &dst.host(),
        "fine/app",
        &SkopeoAuth::for_registry(&dst),
    );
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
}

#[tokio::test]
async fn insecure_side_skips_verification_of_a_tls_registry() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: None,
    });
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "plain/app",
            Some("1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(100)],
        )
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = Destination::parse(&dst.host(), None);
    // verification on without the CA fails with a connection error naming the registry
    let strict = RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: true,
            cert_dir: None,
        },
        authfile: Some(empty_authfile(dir.path())),
        retry: fast_retry(),
    })
    .expect("client");
    let ctx = context(insecure_client(empty_authfile(dir.path())), strict);
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    let err = summary.jobs[0]
        .result
        .as_ref()
        .expect_err("unknown CA must fail")
        .to_string();
    assert!(err.contains(&dst.host()), "{err}");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_same_tree(
        &img,
        &dst.host(),
        "plain/app",
        &SkopeoAuth::for_registry(&dst),
    );
}

fn fast_retry() -> airlift::registry::RetryPolicy {
    airlift::registry::RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
        max_total: std::time::Duration::from_secs(10),
    }
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_bounded_attempts() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "down/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(100)],
        )
        .await;
    let proxy = FaultProxy::start(
        &src.host(),
        ProxyOptions {
            matcher: Arc::new(|m, p| m == "GET" && p.contains("/manifests/")),
            fail_first: usize::MAX,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: false,
            cert_dir: None,
        },
        authfile: Some(empty_authfile(dir.path())),
        retry: fast_retry(),
    })
    .expect("client");
    let ctx = context(source, insecure_client(empty_authfile(dir.path())));
    let d = Destination::parse(&dst.host(), None);
    let summary = copy_all(
        vec![job(&format!("{}/down/app:v1", proxy.host()), &d)],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    let err = summary.jobs[0].result.as_ref().expect_err("must give up");
    let CopyError::Registry { error, .. } = err else {
        panic!("unexpected {err:?}")
    };
    assert!(
        matches!(error, RegistryError::RetriesExhausted { attempts: 3, .. }),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains(&proxy.host()) && shown.contains("503") && shown.contains("down/app:v1"),
        "{shown}"
    );
    assert_eq!(proxy.injected(), 3);
    assert!(Fixture::new(&dst).tags("down/app").await.is_empty());
    let _ = img;
}

#[tokio::test]
async fn bearer_token_auth_with_scopes_and_cached_tokens() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "tok/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(3000), Layer::Random(3000)],
        )
        .await;
    let front = FaultProxy::start(
        &dst.host(),
        ProxyOptions {
            bearer: Some(("robot".into(), "tok-secret-pw".into())),
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let authfile = dir.path().join("auth.json");
    std::fs::write(
        &authfile,
        format!(
            r#"{{"auths":{{"http://{}/v2/":{{"username":"robot","password":"tok-secret-pw"}}}}}}"#,
            front.host()
        ),
    )
    .expect("auth file");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(authfile),
    );
    let d = Destination::parse(&front.host(), None);
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_same_tree(
        &img,
        &dst.host(),
        "tok/app",
        &SkopeoAuth::for_registry(&dst),
    );
    let scopes = front.scopes();
    assert!(
        scopes.iter().any(|s| s == "repository:tok/app:pull,push"),
        "{scopes:?}"
    );
    // one token per scope (pull, and pull,push), fetched once even by concurrent requests
    assert_eq!(front.tokens_issued(), 2, "{scopes:?}");
    assert!(front.total() > front.tokens_issued() * 2);

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        format!(
            r#"{{"auths":{{"{}":{{"username":"robot","password":"nope-pw"}}}}}}"#,
            front.host()
        ),
    )
    .expect("auth file");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(bad.clone()),
    );
    let mut j = job(&img.reference, &d);
    j.dest = format!("{}/tok/other:v1", front.host())
        .parse()
        .expect("ref");
    let summary = copy_all(vec![j], &ctx, &EventSink::discard()).await;
    let err = summary.jobs[0]
        .result
        .as_ref()
        .expect_err("bad password")
        .to_string();
    assert!(
        err.contains(&front.host()) && err.contains(&bad.display().to_string()),
        "{err}"
    );
    assert!(!err.contains("nope-pw"));
}

#[tokio::test]
async fn refused_monolithic_upload_falls_back_to_a_streamed_patch() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "chunky/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(300_000)],
        )
        .await;
    let front = FaultProxy::start(
        &dst.host(),
        ProxyOptions {
            refuse_monolithic: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&front.host(), None);
    let summary = copy_all(vec![job(&img.reference, &d)], &ctx, &EventSink::discard()).await;
    assert!(summary.is_success(), "{summary:?}");
    assert_eq!(
        front.injected(),
        2,
        "config and layer were each refused once"
    );
    assert_eq!(summary.totals.blobs_uploaded, 2);
    assert_same_tree(
        &img,
        &dst.host(),
        "chunky/app",
        &SkopeoAuth::for_registry(&dst),
    );
}
