//! Transfer permits: one global pool (`--jobs`) and a per-registry limit. A worker takes one
//! `Permit` per network operation (global first, then registries in sorted order, so two
//! workers can never wait on each other), and never holds one while waiting for another
//! worker's result.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Concurrency limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Concurrent transfers in total.
    pub jobs: usize,
    /// Concurrent transfers per registry.
    pub per_registry: usize,
}

impl Default for Limits {
    /// 8 transfers in total, 6 per registry: copying is I/O bound, so more transfers than cores.
    fn default() -> Self {
        Limits {
            jobs: 8,
            per_registry: 6,
        }
    }
}

/// The pools.
pub struct Permits {
    limits: Limits,
    global: Arc<Semaphore>,
    registries: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Held while one operation runs.
pub struct Permit {
    _held: Vec<OwnedSemaphorePermit>,
}

impl Permits {
    pub fn new(limits: Limits) -> Self {
        let limits = Limits {
            jobs: limits.jobs.max(1),
            per_registry: limits.per_registry.max(1),
        };
        Permits {
            limits,
            global: Arc::new(Semaphore::new(limits.jobs)),
            registries: Mutex::new(HashMap::new()),
        }
    }

    fn registry(&self, name: &str) -> Arc<Semaphore> {
        let mut m = self.registries.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(name.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_registry)))
            .clone()
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
    async fn per_registry_limit_bounds_one_registry_only() {
        let p = Permits::new(Limits {
            jobs: 3,
            per_registry: 1,
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
}
