//! Our own thin OCI distribution client on reqwest, used by discovery (reads) and the copy
//! engine (reads and writes). It may not touch the workspace, the plan or the terminal.
//!
//! Why not the `oci-client` crate: it pushes whole blobs from memory (airlift must stream
//! multi-GiB layers in bounded memory), treats a 202 answer to a cross-repository mount as an
//! error instead of an upload session to use, has no retry/backoff with `Retry-After`, and does
//! not read docker/podman auth files. Those four are the core of a mirroring tool, so the
//! protocol surface we need (manifests, blobs, mounts, tags, referrers, token auth) is written
//! here, in a few hundred lines we control.

mod auth;
mod authfile;
mod blob;
mod client;
mod conf;
mod error;
mod manifest;
mod pull;
mod retry;
mod traffic;
mod transport;

pub use auth::{Access, Challenge, Scopes, parse_challenge};
pub use authfile::{AuthFile, Credentials, Secret, default_search_paths, normalize_key};
pub use blob::{BlobTarget, ByteStream, Mount, OpenSource, UploadSession};
pub use client::{ClientOptions, RegistryClient};
pub use conf::{ConfError, ConfErrorKind, PullBy, PullSource, RegistriesConf, SourceError};
pub use error::{AuthSource, RegistryError, is_tls_failure, is_transient_status};
pub use manifest::{Descriptor, Manifest, ManifestDoc, Platform};
pub use retry::{Backoff, RetryPolicy, parse_retry_after};
pub use traffic::{HostTraffic, Traffic, UploadMeter, downsample, run_epoch};
pub use transport::TlsOptions;
pub(crate) use transport::{hint as transport_hint, read_cert_dir};
