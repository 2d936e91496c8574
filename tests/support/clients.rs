//! Helpers that connect airlift's own library to harness registries: clients, copy
//! contexts, jobs named like a target would name them, and the skopeo cross-check of a
//! pushed tree. Only for tests of the copy engine.

use std::path::{Path, PathBuf};

use airlift::exec::Limits;
use airlift::oci::ImageRef;
use airlift::plan::{Destination, destination_for};
use airlift::registry::{ClientOptions, RegistryClient, RetryPolicy, TlsOptions};
use airlift::task::{CopyContext, CopyJob};

use super::{Pushed, Registry, SkopeoAuth, skopeo_inspect_raw};

/// An auth file with no entries, so tests never read the user's credentials.
pub fn empty_authfile(dir: &Path) -> PathBuf {
    let p = dir.join("empty-auth.json");
    std::fs::write(&p, r#"{"auths":{}}"#).expect("write auth file");
    p
}

/// A client for a registry started by the harness: its CA for TLS, plain HTTP otherwise.
pub fn client_for(reg: &Registry, authfile: PathBuf) -> RegistryClient {
    RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: reg.cert_dir().is_some(),
            cert_dir: reg.cert_dir().map(Path::to_path_buf),
        },
        authfile: Some(authfile),
        retry: Default::default(),
        registries: None,
    })
    .expect("client")
}

pub fn insecure_client(authfile: PathBuf) -> RegistryClient {
    RegistryClient::new(ClientOptions {
        tls: TlsOptions {
            verify: false,
            cert_dir: None,
        },
        authfile: Some(authfile),
        retry: Default::default(),
        registries: None,
    })
    .expect("client")
}

pub fn context(source: RegistryClient, dest: RegistryClient) -> CopyContext {
    CopyContext::new(source, dest)
}

pub fn job(source: &str, dst: &Destination) -> CopyJob {
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
pub fn assert_same_tree(p: &Pushed, dest_host: &str, dest_repo: &str, auth: &SkopeoAuth) {
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

/// A retry policy that gives up quickly (3 attempts, tens of milliseconds apart).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
        max_total: std::time::Duration::from_secs(10),
    }
}
