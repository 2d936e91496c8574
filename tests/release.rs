//! Releases end to end, minus the copy engine: the update-graph client against a local
//! Cincinnati server (stored responses, offline reload, timeouts), selection over served
//! graphs, payload components read from a payload pushed to a real registry, the graph-data
//! image (on a base index read and pushed with airlift's registry client), and the UpdateService
//! validated against the upstream CRD.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use airlift::oci::{Digest, Repository};
use airlift::release::{
    FetchError, GraphCache, GraphClient, GraphSource, UpdateGraph, build_graph_data_layer,
    fetch_graph_data, graph_image_destination, image_from_scratch, image_on_base, list_channels,
    list_versions, load_graph_data, load_graphs, payload_destination, read_payload,
    select_release_set,
};
use airlift::resources::{ResourceOptions, render_update_service};
use airlift::task::{BaseSource, push_graph_image, read_graph_base};
use support::crds::validate;
use support::graph_server::{
    GraphServer, SilentServer, fixture_release, graph_data_tarball, graphs_dir,
};
use support::{Fixture, Format, Layer, Registry, RegistryOptions, SkopeoAuth, skopeo_inspect_raw};

/// The graph client of these tests: default settings, quick retries.
fn client() -> GraphClient {
    GraphClient::with(
        airlift::web::WebClient::plain(Duration::from_secs(10))
            .with_retry(support::clients::fast_retry()),
    )
}

#[test]
fn graph_client_stores_responses_and_reloads_them_offline() {
    let mut server = GraphServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = GraphCache::new(dir.path().join("graphs"));
    let g = client()
        .fetch_graph(&server.url(), &cache, "stable-4.15", "amd64")
        .expect("fetch stable-4.15");
    assert_eq!(g.nodes.len(), 6);
    assert_eq!(g.conditional_edges.len(), 1);
    assert_eq!(
        server.requests(),
        ["/api/upgrades_info/v1/graph?channel=stable-4.15&arch=amd64"]
    );
    let stored = dir.path().join("graphs/stable-4.15-amd64.json");
    assert_eq!(
        std::fs::read(&stored).expect("stored response"),
        std::fs::read(graphs_dir().join("stable-4.15-amd64.json")).expect("fixture"),
        "the response is stored byte for byte"
    );
    client()
        .fetch_graph(&server.url(), &cache, "stable-4.15", "multi")
        .expect("fetch multi");

    server.stop();
    let before = server.requests().len();
    assert_eq!(cache.load("stable-4.15", "amd64").expect("offline load"), g);
    let all = cache.load_all().expect("load all");
    assert_eq!(all.len(), 2);
    assert_eq!(
        server.requests().len(),
        before,
        "offline loads make no request"
    );
    let e = client()
        .fetch_graph(&server.url(), &cache, "stable-4.15", "amd64")
        .unwrap_err();
    assert!(matches!(e, FetchError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains(&server.url()), "{e}");
    let e = cache.load("eus-4.16", "amd64").unwrap_err();
    assert!(matches!(e, FetchError::NotStored { .. }), "{e}");
}

#[test]
fn unknown_channel_is_an_http_error_that_names_the_url() {
    let server = GraphServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = GraphCache::new(dir.path());
    let e = client()
        .fetch_graph(&server.url(), &cache, "stable-9.99", "amd64")
        .unwrap_err();
    match &e {
        FetchError::Status { url, status, body } => {
            assert_eq!(*status, 404);
            assert!(url.contains("channel=stable-9.99&arch=amd64"), "{url}");
            assert!(body.contains("channel not found"), "{body}");
        }
        other => panic!("{other}"),
    }
    assert!(!dir.path().join("stable-9.99-amd64.json").exists());
}

#[test]
fn a_silent_server_times_out_with_a_message_naming_url_and_offline() {
    let silent = SilentServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let web = airlift::web::WebClient::plain(Duration::from_secs(1))
        .with_retry(support::clients::fast_retry());
    let e = GraphClient::with(web)
        .fetch_graph(
            &silent.url(),
            &GraphCache::new(dir.path()),
            "stable-4.15",
            "amd64",
        )
        .unwrap_err();
    assert!(matches!(e, FetchError::Timeout { seconds: 1, .. }), "{e}");
    assert!(e.to_string().contains(&silent.url()), "{e}");
    let help = miette::Diagnostic::help(&e)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(help.contains("--offline"), "{help}");
    // A timeout is retried (#18: the update graph used to get one attempt).
    assert!(silent.accepted() >= 2, "{}", silent.accepted());
}

#[test]
fn eus_selection_over_served_graphs_adds_the_intermediate_release() {
    let mut server = GraphServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = GraphCache::new(dir.path());
    let recipe = airlift::recipe::parse_str(
        "airlift.kdl",
        "release \"ocp\" {\n    channel \"eus-4.14\" min=\"4.14.3\" max=\"4.14.8\" shortest-path=#true\n    channel \"eus-4.16\" min=\"4.16.0\" max=\"4.16.4\"\n    graph #true\n}\n",
    )
    .expect("recipe parses");
    let set = recipe.releases().next().expect("release set");
    let c = client();
    let online = GraphSource::Online {
        client: &c,
        env_override: Some(server.url()),
    };
    let graphs = load_graphs(set, &online, &cache).expect("graphs online");
    let keys: Vec<String> = graphs.keys().map(|(c, a)| format!("{c}-{a}")).collect();
    assert_eq!(
        keys,
        [
            "eus-4.14-amd64",
            "eus-4.16-amd64",
            "stable-4.15-amd64",
            "stable-4.16-amd64"
        ]
    );
    server.stop();
    let offline = load_graphs(set, &GraphSource::Offline, &cache).expect("graphs offline");
    assert_eq!(offline, graphs, "stored responses give the same graphs");
    let s = select_release_set(set, &graphs).expect("selection");
    let got: Vec<String> = s.releases.iter().map(|r| r.version.to_string()).collect();
    assert_eq!(
        got,
        ["4.14.3", "4.14.8", "4.15.5", "4.16.0", "4.16.2", "4.16.4"]
    );
    assert_eq!(s.warnings.len(), 1);
    assert!(s.warnings[0].contains("added 4.15.5"), "{:?}", s.warnings);
    let dst = payload_destination(
        "mirror.example:5000",
        "ocp",
        &s.releases[2].version,
        "amd64",
    )
    .expect("destination");
    assert_eq!(
        dst.to_string(),
        "mirror.example:5000/ocp/openshift/release-images:4.15.5-amd64"
    );
    // `list releases` from the stored responses.
    let stored = cache.load_all().expect("stored graphs");
    assert!(list_channels(&stored).contains("\nstable-4.16\n"));
    let eus = stored
        .iter()
        .find(|g: &&UpdateGraph| g.channel == "eus-4.16")
        .expect("eus-4.16 stored");
    assert!(list_versions(eus).ends_with("4.14.8\n4.16.0\n4.16.2\n4.16.4\n"));
}

#[test]
fn graph_data_is_fetched_stored_and_built_reproducibly() {
    let mut server = GraphServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let fetched = fetch_graph_data(&client(), &server.graph_data_url(), dir.path()).expect("fetch");
    assert_eq!(fetched, graph_data_tarball());
    server.stop();
    let stored = load_graph_data(dir.path()).expect("stored graph data");
    assert_eq!(stored, fetched);
    let a = build_graph_data_layer(&stored, 0).expect("layer");
    let b = build_graph_data_layer(&fetched, 0).expect("layer again");
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.diff_id, b.diff_id);
    let (ia, ib) = (
        image_from_scratch(&a, "amd64"),
        image_from_scratch(&b, "amd64"),
    );
    assert_eq!(ia.manifest, ib.manifest);
    assert_eq!(ia.manifest_digest, Digest::of(&ia.manifest));
    let listing = a.listing().expect("listing");
    assert!(
        listing
            .iter()
            .any(|l| l.ends_with("var/lib/cincinnati-graph-data/channels/eus-4.16.yaml"))
    );
    assert!(
        listing.iter().all(|l| l.contains(" 0/0 0 ")),
        "{listing:#?}"
    );
}

#[test]
fn update_service_is_valid_and_stable() {
    let releases =
        Repository::parse("mirror.example:5000/ocp/openshift/release-images").expect("repo");
    let graph = graph_image_destination("mirror.example:5000", "ocp").expect("graph image");
    let digest = Digest::of(b"graph image manifest");
    let opts = ResourceOptions {
        target: "enterprise".into(),
        ..ResourceOptions::default()
    };
    let (name, text) =
        render_update_service(&releases, graph.repository(), &digest, &opts).expect("render");
    let (_, again) =
        render_update_service(&releases, graph.repository(), &digest, &opts).expect("render");
    assert_eq!(text, again);
    assert_eq!(name, "updateService.yaml");
    assert!(
        text.contains(&format!(
            "graphDataImage: mirror.example:5000/ocp/openshift/graph-image@{digest}"
        )),
        "{text}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(&name);
    std::fs::write(&path, &text).expect("write");
    let (ok, output) = validate(&[path]);
    assert!(
        ok,
        "validate.py rejected the UpdateService:\n{output}\n{text}"
    );

    let epoch = ResourceOptions {
        source_date_epoch: Some(1_700_000_000),
        ..opts
    };
    let (_, dated) =
        render_update_service(&releases, graph.repository(), &digest, &epoch).expect("render");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/release"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!("update_service", text);
        insta::assert_snapshot!("update_service_dated", dated);
    });
}

#[tokio::test]
async fn payload_components_are_read_from_a_payload_in_a_real_registry() {
    let reg = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&reg);
    let host = fx.host().to_string();
    let art = "openshift-release-dev/ocp-v4.0-art-dev";
    let cli = fx
        .image(art, None, Format::Oci, "amd64", &[Layer::Random(512)])
        .await;
    let installer = fx
        .image(art, None, Format::Oci, "amd64", &[Layer::Random(768)])
        .await;
    let components = [
        ("cli", cli.by_digest(&host)),
        ("installer", installer.by_digest(&host)),
    ];
    let release = fixture_release("4.15.3", &["4.15.2", "4.14.8"], &components);
    let layers: Vec<Layer> = release
        .layers
        .iter()
        .map(|l| Layer::Shared(std::sync::Arc::new(l.clone())))
        .collect();
    let payload = fx
        .image(
            "openshift-release-dev/ocp-release",
            Some("4.15.3-x86_64"),
            Format::Docker,
            "amd64",
            &layers,
        )
        .await;
    // Read the payload back the way the copy engine will: manifest, then layer blobs.
    let raw =
        skopeo_inspect_raw(&payload.reference, &SkopeoAuth::for_registry(&reg)).expect("skopeo");
    assert_eq!(raw, payload.manifest);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).expect("manifest json");
    let http = reqwest::Client::new();
    let mut blobs = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let digest = layer["digest"].as_str().expect("digest");
        let url = format!(
            "{}/v2/openshift-release-dev/ocp-release/blobs/{digest}",
            reg.base_url()
        );
        let bytes = http
            .get(url)
            .send()
            .await
            .expect("GET blob")
            .bytes()
            .await
            .expect("blob");
        assert_eq!(Digest::of(&bytes).to_string(), digest);
        blobs.push(bytes.to_vec());
    }
    let c = read_payload(&blobs, "amd64", false).expect("payload components");
    assert_eq!(c.version.to_string(), "4.15.3");
    assert_eq!(c.previous.len(), 2);
    let got: BTreeMap<String, String> = c
        .components
        .iter()
        .map(|(n, r)| (n.clone(), r.to_string()))
        .collect();
    assert_eq!(got, release.components);
    assert_eq!(got["cli"], format!("{host}/{art}@{}", cli.digest));
}

#[tokio::test]
async fn the_graph_image_is_accepted_by_a_real_registry() {
    let reg = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&reg);
    let layer = build_graph_data_layer(&graph_data_tarball(), 0).expect("layer");
    let image = image_from_scratch(&layer, "amd64");
    let repo = "ocp/openshift/graph-image";
    fx.push_blob(
        repo,
        &layer.blob,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
    .await;
    fx.push_blob(
        repo,
        &image.config,
        "application/vnd.oci.image.config.v1+json",
    )
    .await;
    let digest = fx
        .push_manifest(repo, "latest", image.media_type.as_str(), &image.manifest)
        .await;
    assert_eq!(digest, image.manifest_digest.to_string());
    let reference = format!("{}/{repo}:latest", fx.host());
    let raw = skopeo_inspect_raw(&reference, &SkopeoAuth::for_registry(&reg)).expect("skopeo");
    assert_eq!(raw, image.manifest);
}

#[tokio::test]
async fn a_graph_base_index_resolves_to_the_arch_child_and_its_layers_are_pushed_once() {
    let reg = Registry::start(RegistryOptions::default());
    let fx = Fixture::new(&reg);
    let base = fx
        .index(
            "base/ubi",
            Some("9"),
            Format::Oci,
            &["amd64", "arm64"],
            &[Layer::Random(900)],
            400,
        )
        .await;
    let auth_dir = tempfile::tempdir().expect("tempdir");
    let client =
        support::clients::insecure_client(support::clients::empty_authfile(auth_dir.path()));
    let base_ref: airlift::oci::ImageRef = format!("{}/base/ubi:9", fx.host())
        .parse()
        .expect("reference");
    let store = airlift::store::ImageStore::Registry(client.clone());
    let read = read_graph_base(&store, &base_ref, "arm64")
        .await
        .expect("base read");
    let arm = &base.children[1];
    assert_eq!(
        read.image.digest().map(ToString::to_string),
        Some(arm.digest.clone())
    );
    let layers: Vec<String> = read.layers.iter().map(|d| d.digest.to_string()).collect();
    let want: Vec<String> = arm.blobs[1..].iter().map(|b| b.digest.clone()).collect();
    assert_eq!(layers, want);
    let missing = read_graph_base(&store, &base_ref, "s390x")
        .await
        .expect_err("no s390x child");
    assert!(missing.to_string().contains("linux/s390x"), "{missing}");

    let layer = build_graph_data_layer(&graph_data_tarball(), 0).expect("layer");
    let image = image_on_base(&read.config, &read.layers, &layer).expect("image");
    let dest: airlift::oci::ImageRef = format!("{}/ocp/openshift/graph-image:latest", fx.host())
        .parse()
        .expect("reference");
    for _ in 0..2 {
        let source = BaseSource {
            client: &store,
            base: &read,
        };
        let digest = push_graph_image(&client, &dest, &image, &layer, Some(source))
            .await
            .expect("push");
        assert_eq!(digest, image.manifest_digest);
    }
    let raw =
        skopeo_inspect_raw(&dest.to_string(), &SkopeoAuth::for_registry(&reg)).expect("skopeo");
    assert_eq!(raw, image.manifest);
    for d in &read.layers {
        assert!(
            fx.blob_exists("ocp/openshift/graph-image", &d.digest.to_string())
                .await,
            "base layer {} at the destination",
            d.digest
        );
    }
}
