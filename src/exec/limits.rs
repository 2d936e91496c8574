//! Transfer permits: one global pool (`--jobs`) and a per-registry window. A worker takes one
//! `Permit` per network operation (global first, then registries in sorted order, so two
//! workers can never wait on each other), and never holds one while waiting for another
//! worker's result.
//!
//! Each registry's window adapts (AIMD, as TCP does): it starts at the per-registry limit,
//! halves when the registry answered 429 or 503 since the last look, and grows by one after a
//! window's worth of requests without such an answer, never past the limit. The answers are
//! read from the registry clients' traffic counters ([`Traffic`]), so a registry that throttles
//! at a concurrency of 4 sees a few 429s, not a storm of retries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::registry::Traffic;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Concurrency limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Concurrent transfers in total.
    pub jobs: usize,
    /// Concurrent transfers per registry, for hosts `hosts` does not name.
    pub per_registry: usize,
    /// Ceilings of named registry hosts (the recipe's `registry` nodes, then
    /// `--registry-concurrency HOST=N`), in place of `per_registry`.
    pub hosts: Arc<BTreeMap<String, usize>>,
}

impl Default for Limits {
    /// 8 transfers in total, 6 per registry: copying is I/O bound, so more transfers than cores.
    fn default() -> Self {
        Limits {
            jobs: 8,
            per_registry: 6,
            hosts: Arc::default(),
        }
    }
}

impl Limits {
    /// These limits with `jobs` transfers in total.
    pub fn with_jobs(&self, jobs: usize) -> Limits {
        Limits {
            jobs,
            ..self.clone()
        }
    }

    /// The ceiling of `registry`'s window (at least 1).
    pub fn of(&self, registry: &str) -> usize {
        self.hosts
            .get(registry)
            .copied()
            .unwrap_or(self.per_registry)
            .max(1)
    }
}

/// The pools.
pub struct Permits {
    limits: Limits,
    global: Arc<Semaphore>,
    registries: Mutex<HashMap<String, Window>>,
    /// Where 429/503 answers and request counts are read (the clients of the run).
    feedback: Vec<Arc<Traffic>>,
}

/// One registry's adaptive window: a semaphore of `limit` permits, of which `parked` are held
/// back while the window is smaller than the limit.
struct Window {
    sem: Arc<Semaphore>,
    size: usize,
    parked: Arc<Mutex<Vec<OwnedSemaphorePermit>>>,
    /// Throttling answers and requests counted at the last change.
    throttled: u64,
    requests: u64,
    /// Requests counted at the last decrease: one burst of 429s halves the window once.
    cut_at: Option<u64>,
    /// The smallest the window was.
    smallest: usize,
}

/// Held while one operation runs.
pub struct Permit {
    _held: Vec<OwnedSemaphorePermit>,
}

impl Permits {
    pub fn new(limits: Limits) -> Self {
        let limits = Limits {
            jobs: limits.jobs.max(1),
            ..limits
        };
        Permits {
            global: Arc::new(Semaphore::new(limits.jobs)),
            limits,
            registries: Mutex::new(HashMap::new()),
            feedback: Vec::new(),
        }
    }

    /// Permits whose registry windows adapt to the 429/503 answers `traffic` counts.
    pub fn adaptive(limits: Limits, traffic: Vec<Arc<Traffic>>) -> Self {
        Permits {
            feedback: traffic,
            ..Permits::new(limits)
        }
    }

    /// Requests and throttling answers of `registry` so far, over every client.
    fn observed(&self, registry: &str) -> (u64, u64) {
        self.feedback.iter().fold((0, 0), |(r, t), traffic| {
            let (r2, t2) = traffic.host_totals(registry);
            (r + r2, t + t2)
        })
    }

    /// The semaphore of `name`, its window adjusted to what the registry answered since the
    /// last look.
    fn registry(&self, name: &str) -> Arc<Semaphore> {
        let (requests, throttled) = self.observed(name);
        let mut m = self.registries.lock().unwrap_or_else(|e| e.into_inner());
        let limit = self.limits.of(name);
        let w = m.entry(name.to_string()).or_insert_with(|| Window {
            sem: Arc::new(Semaphore::new(limit)),
            size: limit,
            parked: Arc::default(),
            throttled,
            requests,
            cut_at: None,
            smallest: limit,
        });
        let recently_cut = w.cut_at.is_some_and(|at| requests < at + w.size as u64);
        if throttled > w.throttled && recently_cut {
            w.throttled = throttled;
        } else if throttled > w.throttled {
            // Multiplicative decrease: park half the window (taken as permits free up).
            let target = (w.size / 2).max(1);
            for _ in target..w.size {
                let (sem, parked) = (w.sem.clone(), w.parked.clone());
                tokio::spawn(async move {
                    if let Ok(p) = sem.acquire_owned().await {
                        parked.lock().unwrap_or_else(|e| e.into_inner()).push(p);
                    }
                });
            }
            w.size = target;
            w.smallest = w.smallest.min(target);
            w.throttled = throttled;
            w.requests = requests;
            w.cut_at = Some(requests);
        } else if w.size < limit && requests >= w.requests + w.size as u64 {
            // Additive increase: one more after a window's worth of unthrottled requests.
            if w.parked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .is_some()
            {
                w.size += 1;
            }
            w.requests = requests;
        }
        w.sem.clone()
    }

    /// The current window of `registry` (tests, reports).
    pub fn window(&self, registry: &str) -> Option<usize> {
        let m = self.registries.lock().unwrap_or_else(|e| e.into_inner());
        m.get(registry).map(|w| w.size)
    }

    /// Every registry's window now, and the smallest it was (after throttling).
    pub fn windows(&self) -> std::collections::BTreeMap<String, (usize, usize)> {
        let m = self.registries.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .map(|(k, w)| (k.clone(), (w.size, w.smallest)))
            .collect()
    }

    /// A permit for an operation touching `registries` (source and/or destination).
    pub async fn acquire(&self, registries: &[&str]) -> Permit {
        let mut held = Vec::new();
        if let Ok(p) = self.global.clone().acquire_owned().await {
            held.push(p);
        }
        let sorted: BTreeSet<&str> = registries.iter().copied().collect();
        for r in sorted {
            if let Ok(p) = self.registry(r).acquire_owned().await {
                held.push(p);
            }
        }
        Permit { _held: held }
    }

    /// Global permits currently free (for tests and the reporter).
    pub fn available(&self) -> usize {
        self.global.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_throttling_registry_halves_its_window_and_grows_back_by_one() {
        let traffic = Arc::new(Traffic::new(std::time::Instant::now()));
        let p = Permits::adaptive(
            Limits {
                jobs: 16,
                per_registry: 8,
                ..Limits::default()
            },
            vec![traffic.clone()],
        );
        drop(p.acquire(&["r.example"]).await);
        assert_eq!(p.window("r.example"), Some(8));
        drop(traffic.begin("r.example"));
        traffic.answered("r.example", 429);
        drop(p.acquire(&["r.example"]).await);
        assert_eq!(p.window("r.example"), Some(4));
        tokio::task::yield_now().await;
        // Four unthrottled requests later the window grows by one.
        for _ in 0..4 {
            drop(traffic.begin("r.example"));
        }
        drop(p.acquire(&["r.example"]).await);
        assert_eq!(p.window("r.example"), Some(5));
        // Another registry is not affected.
        drop(p.acquire(&["other.example"]).await);
        assert_eq!(p.window("other.example"), Some(8));
    }

    #[tokio::test]
    async fn per_registry_limit_bounds_one_registry_only() {
        let p = Permits::new(Limits {
            jobs: 3,
            per_registry: 1,
            ..Limits::default()
        });
        let a = p.acquire(&["a.example", "b.example"]).await;
        assert_eq!(p.available(), 2);
        let c = p.acquire(&["c.example"]).await;
        assert_eq!(p.available(), 1);
        let blocked = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            p.acquire(&["a.example"]),
        )
        .await;
        assert!(blocked.is_err());
        drop(a);
        drop(c);
        assert_eq!(p.available(), 3);
        let _again = p.acquire(&["a.example"]).await;
    }

    #[tokio::test]
    async fn a_named_host_has_its_own_ceiling_and_the_others_the_default() {
        let p = Permits::new(Limits {
            jobs: 16,
            per_registry: 2,
            hosts: Arc::new(BTreeMap::from([
                ("slow.example".to_string(), 1),
                ("fast.example".to_string(), 5),
            ])),
        });
        let held_fast: Vec<Permit> =
            futures_util::future::join_all((0..5).map(|_| p.acquire(&["fast.example"]))).await;
        assert_eq!(p.window("fast.example"), Some(5));
        let wait = std::time::Duration::from_millis(50);
        let more_fast = tokio::time::timeout(wait, p.acquire(&["fast.example"])).await;
        assert!(more_fast.is_err(), "a sixth transfer to fast.example waits");
        let _slow = p.acquire(&["slow.example"]).await;
        let more_slow = tokio::time::timeout(wait, p.acquire(&["slow.example"])).await;
        assert!(
            more_slow.is_err(),
            "a second transfer to slow.example waits"
        );
        let _a = p.acquire(&["other.example"]).await;
        let _b = p.acquire(&["other.example"]).await;
        let third = tokio::time::timeout(wait, p.acquire(&["other.example"])).await;
        assert!(third.is_err(), "an unnamed host keeps the default of 2");
        drop(held_fast);
    }
}
