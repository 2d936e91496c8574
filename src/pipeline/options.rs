//! What a pipeline run is asked to do, independent of how it was asked (the CLI's flags map
//! onto [`Options`]), and what follows from it: registry clients, limits, the runtime, and how
//! tags are resolved.

use std::path::PathBuf;

use crate::discover::{Resolution, Sides};
use crate::exec::Limits;
use crate::exit::{Exit, Failure};
use crate::registry::{ClientOptions, RegistryClient, TlsOptions};

/// The options every pipeline command shares.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The recipe file.
    pub recipe: PathBuf,
    /// The workspace (default: `.airlift/` beside the recipe).
    pub workspace: Option<PathBuf>,
    pub authfile: Option<PathBuf>,
    pub src_tls_verify: bool,
    pub dest_tls_verify: bool,
    pub cert_dir: Option<PathBuf>,
    /// Global transfer concurrency.
    pub jobs: Option<usize>,
    /// Fail if resolution differs from the lock.
    pub locked: bool,
    /// Resolve from the lock and stored responses only.
    pub offline: bool,
    /// Print errors only.
    pub quiet: bool,
}

impl Options {
    /// Registry clients for both sides.
    pub fn sides(&self) -> Result<Sides, Failure> {
        let client = |verify: bool| {
            RegistryClient::new(ClientOptions {
                tls: TlsOptions {
                    verify,
                    cert_dir: self.cert_dir.clone(),
                },
                authfile: self.authfile.clone(),
                ..ClientOptions::default()
            })
            .map_err(|e| Failure::new(Exit::InvalidInput, e))
        };
        Ok(Sides {
            source: client(self.src_tls_verify)?,
            dest: client(self.dest_tls_verify)?,
        })
    }

    pub fn limits(&self) -> Limits {
        let d = Limits::default();
        match self.jobs {
            Some(j) => Limits {
                jobs: j.max(1),
                per_registry: d.per_registry.min(j.max(1)),
            },
            None => d,
        }
    }

    /// How `build` and `plan` resolve tags: the lock pins what it names (a no-op rerun asks
    /// sources nothing); `--locked` resolves afresh to compare with the lock; `--offline` uses
    /// the lock only. `lock` and `update` always resolve afresh.
    pub fn resolution(&self) -> Resolution {
        if self.offline {
            Resolution::Offline
        } else if self.locked {
            Resolution::Fresh
        } else {
            Resolution::Pinned
        }
    }
}

/// `SOURCE_DATE_EPOCH`, when set to a number.
pub fn source_date_epoch() -> Option<i64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Exit::Internal,
                miette::miette!("cannot start the runtime: {e}"),
            )
        })
}

/// Where workspace paths used by several stages live.
pub fn graph_cache_dir(root: &std::path::Path) -> PathBuf {
    root.join("cache").join("graphs")
}
