//! Release-signature verification against keys and signed messages made by the real `gpg` at
//! test time (temporary GNUPGHOME), served by a static HTTP server on 127.0.0.1 laid out like
//! mirror.openshift.com (`sha256=<hex>/signature-N`).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airlift::oci::{Digest, ImageRef, Repository};
use airlift::registry::TlsOptions;
use airlift::trust::{
    FetchedSignature, Keyring, SignatureStore, TrustError, fetch_and_verify, store, verify_release,
};
use airlift::web::{WebClient, WebError};
use support::clients::fast_retry;
use support::gpg::Gpg;
use support::http::StaticServer;
use support::proxy::{FaultProxy, ProxyOptions};
use support::{Registry, RegistryOptions};

/// The web client of these tests: default TLS settings, quick retries.
fn web() -> WebClient {
    WebClient::plain(std::time::Duration::from_secs(10)).with_retry(fast_retry())
}

const RELEASE_REPO: &str = "quay.io/openshift-release-dev/ocp-release";

fn simple_signing(digest: &Digest, reference: &str, kind: &str) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": kind,
        },
        "optional": {"creator": "airlift test"},
    })
    .to_string()
    .into_bytes()
}

fn release_doc(digest: &Digest) -> Vec<u8> {
    simple_signing(
        digest,
        &format!("{RELEASE_REPO}:4.15.0-x86_64"),
        "atomic container signature",
    )
}

fn payload(name: &str) -> (Digest, ImageRef) {
    let digest = Digest::of(name.as_bytes());
    let image: ImageRef = format!("{RELEASE_REPO}@{digest}").parse().unwrap();
    (digest, image)
}

fn keyring_file(dir: &Path, name: &str, bytes: &[u8]) -> Keyring {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    Keyring::load(&path).unwrap()
}

/// Serves `sigs` as `/sigs/sha256=<hex>/signature-N` (N from 1).
fn serve(digest: &Digest, sigs: &[Vec<u8>]) -> (StaticServer, SignatureStore) {
    let files: BTreeMap<String, Vec<u8>> = sigs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("/sigs/sha256={}/signature-{}", digest.hex(), i + 1),
                s.clone(),
            )
        })
        .collect();
    let server = StaticServer::start(files);
    let store = SignatureStore::resolve(Some(&format!("{}/sigs", server.base_url())), None);
    (server, store)
}

/// One fetched signature, as the store's first (`signature-1`).
fn one_signature(bytes: Vec<u8>) -> [FetchedSignature; 1] {
    [FetchedSignature {
        index: 1,
        location: "mem/signature-1".into(),
        bytes,
    }]
}

fn unverified_text(err: &TrustError) -> String {
    assert!(
        matches!(err, TrustError::ReleaseUnverified { .. }),
        "expected ReleaseUnverified, got {err:?}"
    );
    err.to_string()
}

#[test]
fn ed25519_signed_message_verifies_over_http() {
    let gpg = Gpg::new();
    let key_id = gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    assert_eq!(keyring.key_ids(), vec![key_id.clone()]);
    let (digest, image) = payload("ed25519");
    let sig = gpg.sign("r@example.com", &release_doc(&digest), &[]);
    let (server, store) = serve(&digest, std::slice::from_ref(&sig));

    let verified = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap();
    assert_eq!(verified.digest, digest);
    assert_eq!(verified.key_id, key_id);
    assert_eq!(verified.signatures, vec![(1, sig)]);
    // signature-1 found, signature-2 answered 404: fetching stops there.
    let hex = digest.hex();
    assert_eq!(
        server.requests(),
        vec![
            format!("/sigs/sha256={hex}/signature-1"),
            format!("/sigs/sha256={hex}/signature-2"),
        ]
    );
}

#[test]
fn rsa_binary_keyring_and_uncompressed_message_verify() {
    let gpg = Gpg::new();
    let key_id = gpg.gen_key("Rsa <rsa@example.com>", "rsa3072", "never", None);
    let keyring = keyring_file(
        gpg.home.path(),
        "k.gpg",
        &gpg.export("rsa@example.com", false),
    );
    let (digest, image) = payload("rsa");
    let sig = gpg.sign("rsa@example.com", &release_doc(&digest), &["-z", "0"]);
    let fetched = one_signature(sig);
    let verified = verify_release(&image, &[], &fetched, &keyring).unwrap();
    assert_eq!(verified.key_id, key_id);
}

#[test]
fn keyring_with_several_keys_finds_the_signer_and_armored_messages_work() {
    let gpg = Gpg::new();
    gpg.gen_key("One <one@example.com>", "ed25519", "never", None);
    let second = gpg.gen_key("Two <two@example.com>", "ed25519", "never", None);
    // Two armor blocks concatenated, as `cat a.asc b.asc > keys.asc` makes.
    let mut keys = gpg.export("one@example.com", true);
    keys.extend(gpg.export("two@example.com", true));
    let keyring = keyring_file(gpg.home.path(), "keys.asc", &keys);
    assert_eq!(keyring.key_ids().len(), 2);
    let (digest, image) = payload("several");
    let sig = gpg.sign("two@example.com", &release_doc(&digest), &["--armor"]);
    let fetched = one_signature(sig);
    let verified = verify_release(&image, &[], &fetched, &keyring).unwrap();
    assert_eq!(verified.key_id, second);
}

#[test]
fn unknown_key_is_rejected_naming_the_key() {
    let gpg = Gpg::new();
    gpg.gen_key("Trusted <t@example.com>", "ed25519", "never", None);
    let stranger = gpg.gen_key("Stranger <s@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("t@example.com", true));
    let (digest, image) = payload("unknown");
    let sig = gpg.sign("s@example.com", &release_doc(&digest), &[]);
    let (_server, store) = serve(&digest, &[sig]);
    let err = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap_err();
    let text = unverified_text(&err);
    assert!(text.contains("unknown key"), "{text}");
    assert!(text.contains(&stranger), "{text}");
    assert!(text.contains(&image.to_string()), "{text}");
    assert!(
        text.contains(&format!("sha256={}/signature-1", digest.hex())),
        "{text}"
    );
}

#[test]
fn signature_for_another_digest_is_a_digest_mismatch() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("mine");
    let (other, _) = payload("other");
    let sig = gpg.sign("r@example.com", &release_doc(&other), &[]);
    let (_server, store) = serve(&digest, &[sig]);
    let err = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap_err();
    let text = unverified_text(&err);
    assert!(text.contains("digest mismatch"), "{text}");
    assert!(text.contains(&other.to_string()), "{text}");
}

#[test]
fn tampered_signed_data_is_a_bad_signature() {
    let gpg = Gpg::new();
    let key_id = gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("tampered");
    let doc = release_doc(&digest);
    let mut sig = gpg.sign("r@example.com", &doc, &["-z", "0"]);
    // Change one character of the signed JSON inside the (uncompressed) literal packet.
    let at = sig
        .windows(7)
        .position(|w| w == b"airlift")
        .expect("literal data is visible uncompressed");
    sig[at] = b'A';
    let fetched = one_signature(sig);
    let err = verify_release(&image, &[], &fetched, &keyring).unwrap_err();
    let text = unverified_text(&err);
    assert!(text.contains("bad signature"), "{text}");
    assert!(text.contains(&key_id), "{text}");
}

#[test]
fn damaged_compressed_message_is_rejected() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("damaged");
    let mut sig = gpg.sign("r@example.com", &release_doc(&digest), &[]);
    let mid = sig.len() / 2;
    sig[mid] ^= 0x55;
    let fetched = one_signature(sig);
    let err = verify_release(&image, &[], &fetched, &keyring).unwrap_err();
    unverified_text(&err);
}

#[test]
fn no_signature_in_the_store_is_reported_with_the_url() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("absent");
    let (server, store) = serve(&digest, &[]);
    let err = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap_err();
    assert!(matches!(err, TrustError::NoSignature { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no signature found"), "{text}");
    assert!(text.contains(&image.to_string()), "{text}");
    assert!(
        text.contains(&format!(
            "{}/sigs/sha256={}/signature-1",
            server.base_url(),
            digest.hex()
        )),
        "{text}"
    );
}

#[test]
fn one_good_signature_among_bad_ones_verifies_and_only_it_is_kept() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    gpg.gen_key("Stranger <s@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("mixed");
    let bad = gpg.sign("s@example.com", &release_doc(&digest), &[]);
    let good = gpg.sign("r@example.com", &release_doc(&digest), &[]);
    let (server, store) = serve(&digest, &[bad, good.clone()]);
    let verified = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap();
    assert_eq!(verified.signatures, vec![(2, good)]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn other_documents_and_identities_are_rejected() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("docs");
    let wrong_type = gpg.sign(
        "r@example.com",
        &simple_signing(
            &digest,
            &format!("{RELEASE_REPO}:x"),
            "cosign container image signature",
        ),
        &[],
    );
    let wrong_repo = gpg.sign(
        "r@example.com",
        &simple_signing(
            &digest,
            "quay.io/someone/else:4.15.0-x86_64",
            "atomic container signature",
        ),
        &[],
    );
    let detached = gpg.run(
        &["--local-user", "r@example.com", "--detach-sign"],
        Some(&release_doc(&digest)),
    );
    let fetched: Vec<FetchedSignature> = [wrong_type, wrong_repo.clone(), detached]
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| FetchedSignature {
            index: i as u32 + 1,
            location: format!("mem/signature-{}", i + 1),
            bytes,
        })
        .collect();
    let err = verify_release(&image, &[], &fetched, &keyring).unwrap_err();
    let TrustError::ReleaseUnverified { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failures.len(), 3);
    let texts: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        texts[0].contains("not a simple-signing document"),
        "{texts:?}"
    );
    assert!(texts[1].contains("identity mismatch"), "{texts:?}");
    assert!(
        texts[2].contains("not an OpenPGP signed message"),
        "{texts:?}"
    );

    // The same identity is accepted once its repository is listed as a release source.
    let also = [Repository::parse("quay.io/someone/else").unwrap()];
    let fetched = one_signature(wrong_repo);
    verify_release(&image, &also, &fetched, &keyring).unwrap();
}

#[test]
fn expired_key_is_rejected() {
    let gpg = Gpg::new();
    let key_id = gpg.gen_key(
        "Old <old@example.com>",
        "ed25519",
        "1d",
        Some("20200101T000000!"),
    );
    let keyring = keyring_file(
        gpg.home.path(),
        "k.asc",
        &gpg.export("old@example.com", true),
    );
    let (digest, image) = payload("expired");
    let sig = gpg.sign(
        "old@example.com",
        &release_doc(&digest),
        &["--faked-system-time", "20200101T010000!"],
    );
    let fetched = one_signature(sig);
    let err = verify_release(&image, &[], &fetched, &keyring).unwrap_err();
    let text = unverified_text(&err);
    assert!(text.contains("expired key"), "{text}");
    assert!(text.contains(&key_id), "{text}");
}

#[test]
fn directory_store_serves_saved_signatures() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("offline");
    let sig = gpg.sign("r@example.com", &release_doc(&digest), &[]);
    let dir = tempfile::tempdir().unwrap();
    store::save(dir.path(), &digest, std::slice::from_ref(&sig)).unwrap();
    let store = SignatureStore::resolve(Some(&format!("file://{}", dir.path().display())), None);
    let verified = fetch_and_verify(&store, &web(), &image, &[], &keyring).unwrap();
    assert_eq!(verified.signatures, vec![(1, sig)]);
}

#[test]
fn unpinned_release_is_refused() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let image: ImageRef = format!("{RELEASE_REPO}:4.15.0-x86_64").parse().unwrap();
    let err = verify_release(&image, &[], &[], &keyring).unwrap_err();
    assert!(matches!(err, TrustError::NotPinned { .. }), "{err:?}");
}

#[test]
fn unreachable_store_is_a_fetch_error_naming_the_url() {
    // Bind then drop a listener: the port is closed, so the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = SignatureStore::resolve(Some(&format!("http://127.0.0.1:{port}/sigs")), None);
    let (digest, _) = payload("unreachable");
    let err = store.fetch(&digest, &web()).unwrap_err();
    assert!(matches!(err, TrustError::Fetch { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "http://127.0.0.1:{port}/sigs/sha256={}/signature-1",
            digest.hex()
        )),
        "{text}"
    );
}

#[test]
fn bzip2_compressed_message_verifies() {
    let gpg = Gpg::new();
    gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
    let keyring = keyring_file(gpg.home.path(), "k.asc", &gpg.export("r@example.com", true));
    let (digest, image) = payload("bzip2");
    let sig = gpg.sign(
        "r@example.com",
        &release_doc(&digest),
        &["--compress-algo", "bzip2"],
    );
    let fetched = one_signature(sig);
    verify_release(&image, &[], &fetched, &keyring).unwrap();
}

#[test]
fn signature_by_a_signing_subkey_verifies() {
    let gpg = Gpg::new();
    // An RSA primary key with an added Ed25519 signing subkey.
    gpg.gen_key("Sub <sub@example.com>", "rsa3072", "never", None);
    let listing = gpg.run(&["--with-colons", "--list-keys", "sub@example.com"], None);
    let fingerprint = String::from_utf8_lossy(&listing)
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("fingerprint")
        .to_string();
    gpg.run(
        &["--quick-add-key", &fingerprint, "ed25519", "sign", "never"],
        None,
    );
    let listing = gpg.run(
        &[
            "--with-colons",
            "--list-keys",
            "--keyid-format",
            "long",
            "sub@example.com",
        ],
        None,
    );
    let subkey_id = String::from_utf8_lossy(&listing)
        .lines()
        .find(|l| l.starts_with("sub:"))
        .and_then(|l| l.split(':').nth(4))
        .expect("subkey id")
        .to_uppercase();
    let keyring = keyring_file(
        gpg.home.path(),
        "k.gpg",
        &gpg.export("sub@example.com", false),
    );
    let (digest, image) = payload("subkey");
    // gpg picks the newest signing-capable key: the subkey.
    let sig = gpg.sign("sub@example.com", &release_doc(&digest), &[]);
    let fetched = one_signature(sig);
    let verified = verify_release(&image, &[], &fetched, &keyring).unwrap();
    assert_eq!(verified.key_id, subkey_id);
}

#[test]
fn revoked_key_is_rejected() {
    let gpg = Gpg::new();
    let key_id = gpg.gen_key("Gone <gone@example.com>", "ed25519", "never", None);
    let (digest, image) = payload("revoked");
    let sig = gpg.sign("gone@example.com", &release_doc(&digest), &[]);
    // gpg writes a revocation certificate at key generation, its armor line prefixed with `:`
    // against accidental import; importing it revokes the key.
    let revs = gpg.home.path().join("openpgp-revocs.d");
    let cert_path = std::fs::read_dir(&revs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let cert = std::fs::read_to_string(cert_path)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    gpg.run(&["--import"], Some(cert.as_bytes()));
    let keyring = keyring_file(
        gpg.home.path(),
        "k.asc",
        &gpg.export("gone@example.com", true),
    );
    let fetched = one_signature(sig);
    let err = verify_release(&image, &[], &fetched, &keyring).unwrap_err();
    let text = unverified_text(&err);
    assert!(text.contains("revoked key"), "{text}");
    assert!(text.contains(&key_id), "{text}");
}

/// Hardening (#18): signature stores were read without retries; a store answering 503 twice
/// now gets a third request, and verification succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_signature_store_answering_503_is_retried() {
    let gpg = Gpg::new();
    let keyring = keyring_file(gpg.home.path(), "k.asc", &{
        gpg.gen_key("Release <r@example.com>", "ed25519", "never", None);
        gpg.export("r@example.com", true)
    });
    let (digest, image) = payload("flaky-store");
    let sig = gpg.sign("r@example.com", &release_doc(&digest), &[]);
    let (server, _) = serve(&digest, std::slice::from_ref(&sig));
    let upstream = server.base_url().trim_start_matches("http://").to_string();
    let proxy = FaultProxy::start(
        &upstream,
        ProxyOptions {
            matcher: std::sync::Arc::new(|m, p| m == "GET" && p.ends_with("/signature-1")),
            fail_first: 2,
            ..ProxyOptions::passthrough()
        },
    )
    .await;
    let store = SignatureStore::resolve(Some(&format!("http://{}/sigs", proxy.host())), None);
    let verified = tokio::task::spawn_blocking(move || {
        fetch_and_verify(&store, &web(), &image, &[], &keyring)
    })
    .await
    .expect("join")
    .expect("verified after two 503s");
    assert_eq!(verified.signatures, vec![(1, sig)]);
    assert_eq!(proxy.injected(), 2);
}

/// Hardening (#18): `--cert-dir` never reached the update-graph and signature-store client.
/// Against a real TLS server whose CA is private: without the CA the request fails at once
/// (a TLS failure is not retried) with advice naming `--cert-dir`; with it, the answer comes.
#[test]
fn the_web_client_trusts_the_cert_dir_and_does_not_retry_tls_failures() {
    let reg = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    let url = format!("https://{}/v2/", reg.host());
    let timeout = std::time::Duration::from_secs(10);
    let untrusted = WebClient::new(&TlsOptions::default(), fast_retry(), timeout).unwrap();
    let err = untrusted.get(&url, None, 1024).unwrap_err();
    let WebError::Unreachable { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("--cert-dir"), "{message}");
    let tls = TlsOptions {
        verify: true,
        cert_dir: reg.cert_dir().map(Path::to_path_buf),
    };
    let trusted = WebClient::new(&tls, fast_retry(), timeout).unwrap();
    let ok = trusted
        .get(&url, None, 1024)
        .expect("trusted by the cert dir");
    assert_eq!(ok.status, 200);
    // `--src-tls-verify=false` skips the check, as for registries.
    let insecure = TlsOptions {
        verify: false,
        cert_dir: None,
    };
    let skip = WebClient::new(&insecure, fast_retry(), timeout).unwrap();
    assert_eq!(skip.get(&url, None, 1024).expect("unverified").status, 200);
}
