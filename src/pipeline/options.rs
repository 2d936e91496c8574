//! What a pipeline run is asked to do, independent of how it was asked (the CLI's flags map
//! onto [`Options`]), and what follows from it: registry clients, limits, the runtime, and how
//! tags are resolved.

use std::path::PathBuf;
use std::sync::Arc;

use crate::discover::{Resolution, Sides};
use crate::exec::Limits;
use crate::exit::{Exit, Failure};
use crate::registry::{ClientOptions, RegistriesConf, RegistryClient, TlsOptions};

/// The options every pipeline command shares.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The recipe file.
    pub recipe: PathBuf,
    /// The workspace (default: `.airlift/` beside the recipe).
    pub workspace: Option<PathBuf>,
    pub authfile: Option<PathBuf>,
    /// `--registries-conf`, loaded: redirects for the source side's reads.
    pub registries: Option<Arc<RegistriesConf>>,
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
    /// `--since DATE` (seconds since the epoch): archive targets write one archive with
    /// everything their archives shipped since then.
    pub since: Option<i64>,
}

impl Options {
    /// Registry clients for both sides. Only the source side reads through the
    /// registries.conf: writes to a destination are never redirected.
    pub fn sides(&self) -> Result<Sides, Failure> {
        let client = |verify: bool, registries: Option<Arc<RegistriesConf>>| {
            RegistryClient::new(ClientOptions {
                tls: TlsOptions {
                    verify,
                    cert_dir: self.cert_dir.clone(),
                },
                authfile: self.authfile.clone(),
                registries,
                ..ClientOptions::default()
            })
            .map_err(|e| Failure::new(Exit::InvalidInput, e))
        };
        Ok(Sides {
            source: client(self.src_tls_verify, self.registries.clone())?,
            dest: client(self.dest_tls_verify, None)?,
            web: self.web()?,
        })
    }

    /// The client of the update graph, the graph-data tarball and signature stores: the
    /// source side's TLS settings (`--src-tls-verify`, `--cert-dir`), proxies and retries.
    pub fn web(&self) -> Result<crate::web::WebClient, Failure> {
        let tls = TlsOptions {
            verify: self.src_tls_verify,
            cert_dir: self.cert_dir.clone(),
        };
        crate::web::WebClient::new(
            &tls,
            crate::registry::RetryPolicy::default(),
            crate::web::DEFAULT_TIMEOUT,
        )
        .map_err(|e| Failure::new(Exit::InvalidInput, e))
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

/// `--since`'s DATE: `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`, as seconds since the
/// epoch.
pub fn parse_date(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a date: write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (text, None),
    };
    let num = |s: &str, len: usize| -> Result<i64, String> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return Err(bad());
    }
    let seconds = match time {
        None => 0,
        Some(t) => {
            let parts: Vec<&str> = t.split(':').collect();
            let [h, mi, se] = parts.as_slice() else {
                return Err(bad());
            };
            let (h, mi, se) = (num(h, 2)?, num(mi, 2)?, num(se, 2)?);
            if h > 23 || mi > 59 || se > 59 {
                return Err(bad());
            }
            h * 3600 + mi * 60 + se
        }
    };
    Ok(days_from_civil(y, m, d) * 86_400 + seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_parse_to_utc_seconds() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2026-11-29"), Ok(1_795_910_400));
        assert_eq!(parse_date("2024-02-29T12:30:05Z"), Ok(1_709_209_805));
        assert_eq!(
            crate::resources::rfc3339_utc(parse_date("2000-03-01T00:00:01Z").expect("date")),
            "2000-03-01T00:00:01Z"
        );
        for bad in [
            "2026-13-01",
            "2023-02-29",
            "26-11-29",
            "2026-11-29T10:00",
            "yesterday",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
