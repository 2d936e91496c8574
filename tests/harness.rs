//! Proves the test harness: a real registry, the independent fixture pusher and skopeo agree
//! on manifest bytes, over plain HTTP and over TLS with htpasswd auth.

mod support;

use std::sync::Arc;

use support::{
    FaultProxy, Fixture, Format, Layer, ProxyOptions, Registry, RegistryOptions, SkopeoAuth,
    skopeo_inspect_raw,
};

#[tokio::test]
async fn pushed_image_reads_back_identically_with_skopeo() {
    let reg = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&reg);
    let img = fx
        .image(
            "harness/one",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(4096)],
        )
        .await;
    let raw = skopeo_inspect_raw(&img.reference, &SkopeoAuth::for_registry(&reg))
        .expect("skopeo inspect");
    assert_eq!(raw, img.manifest);
    let idx = fx
        .index(
            "harness/multi",
            Some("v1"),
            Format::Docker,
            &["amd64", "arm64"],
            &[Layer::shared_random(1024)],
            2048,
        )
        .await;
    let raw = skopeo_inspect_raw(&idx.reference, &SkopeoAuth::for_registry(&reg))
        .expect("skopeo inspect index");
    assert_eq!(raw, idx.manifest);
    for child in &idx.children {
        let raw = skopeo_inspect_raw(
            &child.by_digest(&reg.host()),
            &SkopeoAuth::for_registry(&reg),
        )
        .expect("child");
        assert_eq!(raw, child.manifest);
    }
    let sig = fx.cosign_signature(&img).await;
    let refr = fx.referrer(&img, "application/vnd.airlift.test.sbom").await;
    let tags = fx.tags("harness/one").await;
    assert!(
        tags.contains(&sig.tag.clone().expect("sig tag")),
        "{tags:?}"
    );
    assert!(tags.contains(&img.digest.replace(':', "-")), "{tags:?}");
    assert!(fx.manifest("harness/one", &refr.digest).await.is_some());
}

#[tokio::test]
async fn tls_and_htpasswd_registry_works_with_skopeo() {
    let reg = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: Some(("alice".into(), "s3cret-pass".into())),
        ..RegistryOptions::default()
    });
    let fx = Fixture::new(&reg);
    let img = fx
        .image(
            "secure/app",
            Some("1.0"),
            Format::Docker,
            "amd64",
            &[Layer::Random(2048)],
        )
        .await;
    let auth = SkopeoAuth::for_registry(&reg);
    assert!(auth.cert_dir.is_some());
    let raw = skopeo_inspect_raw(&img.reference, &auth).expect("skopeo with creds");
    assert_eq!(raw, img.manifest);
    let wrong = SkopeoAuth {
        creds: Some(("alice".into(), "wrong".into())),
        ..auth.clone()
    };
    assert!(skopeo_inspect_raw(&img.reference, &wrong).is_err());
}

#[tokio::test]
async fn proxy_injects_503s_then_forwards() {
    let reg = Registry::start(RegistryOptions::default());
    let proxy = FaultProxy::start(
        &reg.host(),
        ProxyOptions {
            matcher: Arc::new(|m, p| m == "GET" && p.contains("/manifests/")),
            fail_first: 2,
            retry_after: Some(1),
            corrupt: 0,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let fx = Fixture::connect(&format!("http://{}", proxy.host()), None, None);
    let img = fx
        .image(
            "via/proxy",
            Some("v1"),
            Format::Oci,
            "amd64",
            &[Layer::Random(100)],
        )
        .await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v2/via/proxy/manifests/v1", proxy.host());
    let accept = support::fixture::OCI_MANIFEST;
    for expected in [503, 503, 200] {
        let r = client
            .get(&url)
            .header("accept", accept)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), expected);
        if expected == 200 {
            assert_eq!(r.bytes().await.expect("body").to_vec(), img.manifest);
        }
    }
    assert_eq!(proxy.injected(), 2);
    assert_eq!(proxy.matched(), 3);
}
