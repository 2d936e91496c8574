//! What a pipeline run is asked to do, independent of how it was asked (the CLI's flags map
//! onto [`Options`]), and what follows from it: registry clients, limits, the runtime, and how
//! tags are resolved.

use std::path::PathBuf;
use std::sync::Arc;

use crate::discover::{Resolution, Sides};
use crate::exec::Limits;
use crate::exit::{Exit, Failure};
use crate::recipe::MAX_REGISTRY_CONCURRENCY;
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
    /// `--registry-concurrency`: per-registry ceilings, in the order given (the last for a host
    /// wins, and wins over the recipe's `registry` nodes).
    pub registry_concurrency: Vec<RegistryConcurrency>,
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

    /// Transfer limits: `--jobs` in total; per registry the recipe's `registry` nodes, then
    /// `--registry-concurrency`, else the default. Without `--jobs` the total grows to the
    /// highest ceiling asked for, so no ceiling is silently cut by the default total; with it,
    /// `--jobs` bounds every registry too.
    pub fn limits(&self, recipe: &crate::recipe::Recipe) -> Limits {
        let d = Limits::default();
        let mut per_registry = None;
        let mut hosts = recipe.registry_concurrency();
        for c in &self.registry_concurrency {
            match &c.host {
                Some(h) => {
                    hosts.insert(h.clone(), c.limit);
                }
                None => per_registry = Some(c.limit),
            }
        }
        let highest = hosts.values().chain(&per_registry).copied().max();
        let jobs = match self.jobs {
            Some(j) => j.max(1),
            None => d.jobs.max(highest.unwrap_or(0)),
        };
        Limits {
            jobs,
            per_registry: per_registry.unwrap_or(d.per_registry).min(jobs),
            hosts: Arc::new(hosts.into_iter().map(|(h, n)| (h, n.min(jobs))).collect()),
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

/// One `--registry-concurrency` value: `HOST=N` for one registry, or `N` for every registry
/// without its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConcurrency {
    pub host: Option<String>,
    pub limit: usize,
}

impl std::str::FromStr for RegistryConcurrency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (host, n) = match text.rsplit_once('=') {
            Some((h, n)) => (Some(h.trim()), n.trim()),
            None => (None, text.trim()),
        };
        let limit = n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_REGISTRY_CONCURRENCY as usize).contains(n))
            .ok_or_else(|| {
                format!("`{n}` is not a concurrency: write a whole number from 1 to {MAX_REGISTRY_CONCURRENCY}")
            })?;
        let host = match host {
            None => None,
            Some(h) => Some(crate::oci::registry_name(h).ok_or_else(|| {
                format!("`{h}` is not a registry host: write it as image references name it, e.g. `quay.io=4` or `registry.example.com:5000=16`")
            })?),
        };
        Ok(RegistryConcurrency { host, limit })
    }
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
    use super::{Options, RegistryConcurrency, parse_date};

    fn flag(text: &str) -> RegistryConcurrency {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn registry_concurrency_takes_a_host_or_every_registry() {
        assert_eq!(
            flag("quay.io=4"),
            RegistryConcurrency {
                host: Some("quay.io".into()),
                limit: 4
            }
        );
        assert_eq!(
            flag("registry-1.docker.io=2").host.as_deref(),
            Some("docker.io")
        );
        assert_eq!(
            flag("localhost:5000=16").host.as_deref(),
            Some("localhost:5000")
        );
        assert_eq!(
            flag("12"),
            RegistryConcurrency {
                host: None,
                limit: 12
            }
        );
        for bad in [
            "quay.io=0",
            "quay.io=257",
            "quay.io=x",
            "https://quay.io=4",
            "quay.io/ns=4",
            "",
        ] {
            assert!(
                bad.parse::<RegistryConcurrency>().is_err(),
                "{bad} is refused"
            );
        }
    }

    #[test]
    fn limits_take_the_recipe_then_the_command_line_and_grow_the_total_to_fit() {
        let recipe = crate::recipe::parse_str(
            "test.kdl",
            "registry \"quay.io\" concurrency=4\nregistry \"big.example\" concurrency=20\n",
        )
        .expect("recipe");
        let none = Options::default().limits(&recipe);
        assert_eq!(
            (none.jobs, none.per_registry),
            (20, 6),
            "the total grows to 20"
        );
        assert_eq!(
            (
                none.of("quay.io"),
                none.of("big.example"),
                none.of("other.example")
            ),
            (4, 20, 6)
        );
        let cli = Options {
            registry_concurrency: vec![flag("quay.io=2"), flag("3")],
            ..Options::default()
        };
        let l = cli.limits(&recipe);
        assert_eq!(
            (l.of("quay.io"), l.of("big.example"), l.of("other.example")),
            (2, 20, 3)
        );
        let capped = Options {
            jobs: Some(5),
            ..cli
        };
        let l = capped.limits(&recipe);
        assert_eq!(l.jobs, 5, "--jobs is kept as given");
        assert_eq!(
            (l.of("quay.io"), l.of("big.example"), l.of("other.example")),
            (2, 5, 3)
        );
    }

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
