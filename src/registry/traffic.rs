//! What one side's client asked of each registry host: requests, retries, throttling answers
//! (429/503), and how many requests were in flight over time. The build summary counts
//! requests from it; `build --timings` draws the concurrency. A request counts from sending to
//! the response headers (a streamed body after that is the task's time, not the request's).
//!
//! Cheap enough to be always on: four counters per host, and a concurrency timeline of at most
//! [`TIMELINE_MAX`] points per host (a full one is downsampled, keeping each bucket's peak, as
//! the timings page draws it), so its memory does not grow with the build.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The run's start, which every client's and the executor's times count from (set by the first
/// call).
pub fn run_epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Points a host's concurrency timeline keeps (64 KiB); the timings page draws 400.
pub const TIMELINE_MAX: usize = 4096;

/// Appends `point` to a timeline, first downsampling it to half its size when it is full.
fn push_point(points: &mut Vec<(u64, u64)>, point: (u64, u64)) {
    if points.len() >= TIMELINE_MAX {
        *points = downsample(points, TIMELINE_MAX / 2);
    }
    points.push(point);
}

/// At most `max` points of a step series, keeping the peak of each bucket (so a short burst
/// stays visible) and the last point.
pub fn downsample(points: &[(u64, u64)], max: usize) -> Vec<(u64, u64)> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max - 1);
    let mut out: Vec<(u64, u64)> = points
        .chunks(per)
        .map(|c| {
            let peak = c.iter().map(|p| p.1).max().unwrap_or(0);
            (c[0].0, peak)
        })
        .collect();
    if let Some(last) = points.last() {
        out.push(*last);
    }
    out
}

/// Counters of one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostTraffic {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub max_in_flight: u64,
    /// `(ms since the epoch, requests in flight from then on)`, in time order; at most
    /// [`TIMELINE_MAX`] points, older ones merged (see [`downsample`]).
    pub in_flight: Vec<(u64, u64)>,
    now_in_flight: u64,
}

/// Per-host traffic of one client.
#[derive(Debug)]
pub struct Traffic {
    epoch: Instant,
    hosts: Mutex<BTreeMap<String, HostTraffic>>,
}

/// One request in flight; dropping it ends the request.
pub struct InFlight<'a> {
    traffic: &'a Traffic,
    host: String,
}

impl Traffic {
    /// Times are counted from `epoch` (the run's start).
    pub fn new(epoch: Instant) -> Self {
        Traffic {
            epoch,
            hosts: Mutex::new(BTreeMap::new()),
        }
    }

    fn with<R>(&self, host: &str, f: impl FnOnce(&mut HostTraffic, u64) -> R) -> R {
        let ms = self.epoch.elapsed().as_millis() as u64;
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if !hosts.contains_key(host) {
            hosts.insert(host.to_string(), HostTraffic::default());
        }
        let h = hosts.get_mut(host).expect("inserted above");
        f(h, ms)
    }

    /// A request to `host` starts.
    pub fn begin(&self, host: &str) -> InFlight<'_> {
        self.with(host, |h, ms| {
            h.requests += 1;
            h.now_in_flight += 1;
            h.max_in_flight = h.max_in_flight.max(h.now_in_flight);
            push_point(&mut h.in_flight, (ms, h.now_in_flight));
        });
        InFlight {
            traffic: self,
            host: host.to_string(),
        }
    }

    /// A request to `host` is tried again.
    pub fn retried(&self, host: &str) {
        self.with(host, |h, _| h.retries += 1);
    }

    /// `host` answered `status`; 429 and 503 count as throttling.
    pub fn answered(&self, host: &str, status: u16) {
        if status == 429 || status == 503 {
            self.with(host, |h, _| h.throttled += 1);
        }
    }

    /// Requests and throttling answers of `host` so far.
    pub fn host_totals(&self, host: &str) -> (u64, u64) {
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .get(host)
            .map_or((0, 0), |h| (h.requests, h.throttled))
    }

    /// Every host's counters, by host.
    pub fn snapshot(&self) -> BTreeMap<String, HostTraffic> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.traffic.with(&self.host, |h, ms| {
            h.now_in_flight = h.now_in_flight.saturating_sub(1);
            push_point(&mut h.in_flight, (ms, h.now_in_flight));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_counts_bytes_and_lists_large_uploads_until_they_end() {
        let m = UploadMeter::default();
        m.advance("small", 10, 10, 10);
        m.advance("big", 5, 5, UploadMeter::LARGE);
        assert_eq!(m.sent(), 15);
        assert_eq!(
            m.in_flight(),
            vec![("big".to_string(), 5, UploadMeter::LARGE)]
        );
        m.ended("big");
        assert!(m.in_flight().is_empty());
        m.advance(
            "big2",
            UploadMeter::LARGE,
            UploadMeter::LARGE,
            UploadMeter::LARGE,
        );
        assert!(
            m.in_flight().is_empty(),
            "a finished upload is not in flight"
        );
    }

    #[test]
    fn counts_requests_concurrency_retries_and_throttling() {
        let t = Traffic::new(Instant::now());
        let a = t.begin("r.example");
        let b = t.begin("r.example");
        t.answered("r.example", 429);
        t.answered("r.example", 200);
        t.retried("r.example");
        drop(a);
        let c = t.begin("other.example");
        drop(b);
        drop(c);
        let s = t.snapshot();
        let r = &s["r.example"];
        assert_eq!((r.requests, r.retries, r.throttled), (2, 1, 1));
        assert_eq!(r.max_in_flight, 2);
        let levels: Vec<u64> = r.in_flight.iter().map(|p| p.1).collect();
        assert_eq!(levels, vec![1, 2, 1, 0]);
        assert_eq!(s["other.example"].requests, 1);
        assert_eq!(s["other.example"].in_flight.last().map(|p| p.1), Some(0));
    }

    #[test]
    fn downsampling_keeps_peaks_and_the_end() {
        let pts: Vec<(u64, u64)> = (0..1000)
            .map(|i| (i, if i == 501 { 9 } else { 1 }))
            .collect();
        let d = downsample(&pts, 100);
        assert!(d.len() <= 101);
        assert!(d.iter().any(|p| p.1 == 9));
        assert_eq!(d.last(), Some(&(999, 1)));
        assert_eq!(downsample(&pts[..5], 100).len(), 5);
    }

    #[test]
    fn the_timeline_stays_bounded_and_keeps_its_peak_and_last_level() {
        let t = Traffic::new(Instant::now());
        let mut held = Vec::new();
        for i in 0..20_000 {
            held.push(t.begin("r.example"));
            // One burst to 50 in flight in the middle, single requests elsewhere.
            if i == 10_000 {
                held.extend((0..49).map(|_| t.begin("r.example")));
            }
            held.clear();
        }
        let s = t.snapshot();
        let r = &s["r.example"];
        assert_eq!(r.requests, 20_049);
        assert!(r.in_flight.len() <= TIMELINE_MAX, "{}", r.in_flight.len());
        assert_eq!(r.in_flight.iter().map(|p| p.1).max(), Some(50));
        assert_eq!(r.in_flight.last().map(|p| p.1), Some(0));
        assert!(r.in_flight.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}

/// Bytes streamed into uploads as they pass (progress for people: a 1.5 GiB copy moves the bar
/// while its layers upload, not when each finishes), and the large uploads in flight. A retried
/// upload counts its bytes again; the build summary counts uploaded bytes exactly.
#[derive(Debug, Default)]
pub struct UploadMeter {
    sent: std::sync::atomic::AtomicU64,
    large: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl UploadMeter {
    /// Uploads at least this large are listed while in flight.
    pub const LARGE: u64 = 32 << 20;

    /// `n` more bytes of the upload of `what` (`size` bytes in all, `sent` so far) passed.
    pub fn advance(&self, what: &str, n: u64, sent: u64, size: u64) {
        self.sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if size >= Self::LARGE {
            let mut large = self.large.lock().unwrap_or_else(|e| e.into_inner());
            if sent >= size {
                large.remove(what);
            } else {
                large.insert(what.to_string(), (sent, size));
            }
        }
    }

    /// The upload of `what` ended (finished or failed).
    pub fn ended(&self, what: &str) {
        self.large
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(what);
    }

    /// Bytes streamed so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The large uploads in flight: `(what, sent, size)`, by name.
    pub fn in_flight(&self) -> Vec<(String, u64, u64)> {
        self.large
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, (s, n))| (k.clone(), *s, *n))
            .collect()
    }
}
