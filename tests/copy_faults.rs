//! The copy engine under faults, against real registries: TLS and htpasswd with an auth file,
//! bearer tokens, wrong credentials (no secret in any output), transient and persistent 5xx,
//! refused monolithic uploads, single-request uploads (taken by a registry that does them,
//! answered with a session by distribution, refused by one that does not know them), and a
//! proxy that corrupts a blob.

mod support;

use std::sync::Arc;

use airlift::exec::EventSink;
use airlift::plan::Destination;
use airlift::registry::{ClientOptions, RegistryClient, RegistryError, TlsOptions};
use airlift::task::{CopyError, copy_all};
use support::clients::{
    assert_same_tree, client_for, context, empty_authfile, fast_retry, insecure_client, job,
};
use support::{
    FaultProxy, Fixture, Format, Layer, ProxyOptions, Registry, RegistryOptions, SkopeoAuth,
};

#[tokio::test]
async fn tls_htpasswd_destination_with_auth_file_and_wrong_password() {
    let src = Registry::start(RegistryOptions::default());
    let password = "correct-horse-battery";
    let dst = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), password.into())),
        ..RegistryOptions::default()
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
    assert_eq!(summary.exit(), airlift::exit::Exit::Remote);
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
            corrupt: 0,
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

/// Hardening (#18): a blob whose bytes did not match their digest once (a corrupted transfer)
/// failed the image at once; it is now read once more from the source, and a second mismatch
/// fails (the test below).
#[tokio::test]
async fn one_corrupted_transfer_is_read_again_from_the_source() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "once/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(5000)],
        )
        .await;
    let layer = format!("/blobs/{}", img.blobs[1].digest);
    let proxy = FaultProxy::start(
        &src.host(),
        ProxyOptions {
            matcher: Arc::new(move |m, p| m == "GET" && p.ends_with(&layer)),
            corrupt: 1,
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
    let summary = copy_all(
        vec![job(&format!("{}/once/app:v1", proxy.host()), &d)],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    assert_eq!(summary.failed, 0, "{:?}", summary.jobs[0].result);
    assert_eq!(
        proxy.matched(),
        2,
        "the layer is read twice: once corrupted, once right"
    );
    assert_same_tree(
        &img,
        &dst.host(),
        "once/app",
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
            corrupt: usize::MAX,
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
async fn insecure_side_skips_verification_of_a_tls_registry() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: None,
        ..RegistryOptions::default()
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
        registries: None,
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
        registries: None,
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

/// Blob uploads a proxy saw: (POSTs carrying `digest=`, POSTs without, PUTs into sessions).
fn upload_requests(front: &FaultProxy) -> (usize, usize, usize) {
    let log = front.requests();
    let posts = |with: bool| {
        log.iter()
            .filter(|(m, p)| {
                m == "POST"
                    && p.contains("/blobs/uploads/")
                    && !p.contains("mount=")
                    && p.contains("digest=") == with
            })
            .count()
    };
    let puts = log
        .iter()
        .filter(|(m, p)| m == "PUT" && p.contains("/blobs/uploads/"))
        .count();
    (posts(true), posts(false), puts)
}

/// Two single-platform images at a source — `<repo>/first`, one small layer, and
/// `<repo>/second`, a 200 kB layer and a small one — and an empty destination behind a proxy with
/// `options`; the copies share one context, so the destination client remembers what the
/// registry answered.
struct UploadLab {
    dst: Registry,
    front: FaultProxy,
    first: support::Pushed,
    second: support::Pushed,
    ctx: airlift::task::CopyContext,
    _src: Registry,
    _dir: tempfile::TempDir,
}

impl UploadLab {
    async fn start(repo: &str, options: ProxyOptions) -> UploadLab {
        let src = Registry::start(RegistryOptions::default());
        let dst = Registry::start(RegistryOptions::default());
        let fx = Fixture::new(&src);
        let image = |name: &str, layers: Vec<Layer>| {
            let name = format!("{repo}/{name}");
            let fx = &fx;
            async move {
                fx.image(&name, Some("v1"), Format::Oci, "amd64", &layers)
                    .await
            }
        };
        let first = image("first", vec![Layer::Random(3000)]).await;
        let second = image("second", vec![Layer::Random(200_000), Layer::Random(2000)]).await;
        let front = FaultProxy::start(&dst.host(), options).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(
            insecure_client(empty_authfile(dir.path())),
            insecure_client(empty_authfile(dir.path())),
        );
        UploadLab {
            dst,
            front,
            first,
            second,
            ctx,
            _src: src,
            _dir: dir,
        }
    }

    /// Copies one of the images to the destination through the proxy.
    async fn copy(&self, image: &support::Pushed) -> airlift::task::CopySummary {
        let d = Destination::parse(&self.front.host(), None);
        let summary = copy_all(
            vec![job(&image.reference, &d)],
            &self.ctx,
            &EventSink::discard(),
        )
        .await;
        assert!(summary.is_success(), "{summary:?}");
        summary
    }

    /// Both images arrived whole, and the meter counted each blob's bytes once.
    fn assert_both_arrived(&self, repo: &str) {
        let bytes = |p: &support::Pushed| p.blobs.iter().map(|b| b.size).sum::<u64>();
        assert_eq!(
            self.ctx.dest.meter().sent(),
            bytes(&self.first) + bytes(&self.second),
            "bytes sent again after a session was opened for them are not counted twice"
        );
        let auth = SkopeoAuth::for_registry(&self.dst);
        assert_same_tree(
            &self.first,
            &self.dst.host(),
            &format!("{repo}/first"),
            &auth,
        );
        assert_same_tree(
            &self.second,
            &self.dst.host(),
            &format!("{repo}/second"),
            &auth,
        );
    }
}

#[tokio::test]
async fn a_registry_that_takes_single_post_uploads_gets_each_blob_in_one_request() {
    let lab = UploadLab::start(
        "single",
        ProxyOptions {
            single_post: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    // The first image's small blobs ask; the registry takes them, so every later blob, the
    // 200 kB layer too, goes up in one POST.
    lab.copy(&lab.first).await;
    assert_eq!(upload_requests(&lab.front), (2, 0, 0));
    let second = lab.copy(&lab.second).await;
    assert_eq!(second.totals.blobs_uploaded, 3);
    assert_eq!(
        upload_requests(&lab.front),
        (5, 0, 0),
        "one POST per blob, no session, no PUT"
    );
    lab.assert_both_arrived("single");
}

#[tokio::test]
async fn distribution_answers_a_single_post_with_a_session_and_no_request_is_added() {
    // A logging passthrough: distribution itself answers.
    let lab = UploadLab::start("session", ProxyOptions::passthrough()).await;
    lab.copy(&lab.first).await;
    assert_eq!(
        upload_requests(&lab.front),
        (2, 0, 2),
        "both small blobs asked, got a session (202) and were PUT into it"
    );
    lab.copy(&lab.second).await;
    assert_eq!(
        upload_requests(&lab.front),
        (2, 3, 5),
        "once the answer is known, no blob asks again: POST then PUT, two requests per blob"
    );
    lab.assert_both_arrived("session");
}

#[tokio::test]
async fn a_registry_that_refuses_single_post_uploads_gets_post_then_put() {
    let lab = UploadLab::start(
        "refused",
        ProxyOptions {
            refuse_single_post: true,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    lab.copy(&lab.first).await;
    assert_eq!(
        lab.front.injected(),
        2,
        "both small blobs asked and were refused"
    );
    assert_eq!(
        upload_requests(&lab.front),
        (2, 2, 2),
        "each refused blob then opened a session and was PUT into it"
    );
    lab.copy(&lab.second).await;
    assert_eq!(
        upload_requests(&lab.front),
        (2, 5, 5),
        "a registry that refused is not asked again"
    );
    lab.assert_both_arrived("refused");
}

#[tokio::test]
async fn a_failed_upload_restarts_from_the_source() {
    let src = Registry::start(RegistryOptions::default());
    let dst = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&src);
    let img = fx
        .image(
            "again/app",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(200_000)],
        )
        .await;
    let layer = format!("/blobs/{}", img.blobs[1].digest);
    let put_layer = format!("digest={}", img.blobs[1].digest);
    let source_side = FaultProxy::start(
        &src.host(),
        ProxyOptions {
            matcher: Arc::new(move |m, p| m == "GET" && p.ends_with(&layer)),
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dest_side = FaultProxy::start(
        &dst.host(),
        ProxyOptions {
            matcher: Arc::new(move |m, p| m == "PUT" && p.contains(&put_layer)),
            fail_first: 1,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(
        insecure_client(empty_authfile(dir.path())),
        insecure_client(empty_authfile(dir.path())),
    );
    let d = Destination::parse(&dest_side.host(), None);
    let summary = copy_all(
        vec![job(&format!("{}/again/app:v1", source_side.host()), &d)],
        &ctx,
        &EventSink::discard(),
    )
    .await;
    assert!(summary.is_success(), "{summary:?}");
    assert_eq!(dest_side.injected(), 1);
    // the retried upload streamed the layer from the source a second time
    assert_eq!(source_side.matched(), 2);
    assert_same_tree(
        &img,
        &dst.host(),
        "again/app",
        &SkopeoAuth::for_registry(&dst),
    );
}
