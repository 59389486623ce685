//! Prometheus metrics (text exposition format 0.0.4), kept by hand: request counts by
//! route and status, a latency histogram by route, requests in flight and rate-limit
//! refusals. Routes are the matched templates (`/v1/cards/{id}`), never concrete paths,
//! so no identity or id ends up in a label.

use std::{
    collections::HashMap,
    fmt::Write,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::storage::SearchCacheCounts;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The statuses the API answers with; anything else is counted as "other".
const STATUSES: [u16; 16] = [
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 429, 500, 503, 0,
];

/// Counters of one route and method. Atomics, so that recording a request takes no lock
/// once the route has been seen.
#[derive(Default)]
struct RouteStats {
    by_status: [AtomicU64; STATUSES.len()],
    bucket_counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// route → method → stats.
type RouteTable = HashMap<String, HashMap<String, Arc<RouteStats>>>;

/// The server's metrics.
pub struct Metrics {
    started: Instant,
    in_flight: AtomicI64,
    rate_limited_identity: AtomicU64,
    rate_limited_address: AtomicU64,
    routes: RwLock<RouteTable>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, starting the uptime clock.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicI64::new(0),
            rate_limited_identity: AtomicU64::new(0),
            rate_limited_address: AtomicU64::new(0),
            routes: RwLock::new(HashMap::new()),
        }
    }

    /// A request started.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self, method: &str, route: &str) -> Arc<RouteStats> {
        let known = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .and_then(|methods| methods.get(method))
            .cloned();
        known.unwrap_or_else(|| {
            self.routes
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.to_owned())
                .or_default()
                .entry(method.to_owned())
                .or_default()
                .clone()
        })
    }

    /// A request finished.
    pub fn request_finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let stats = self.stats(method, route);
        let status_index = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len() - 1);
        if let Some(counter) = stats.by_status.get(status_index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        stats.sum_micros.fetch_add(micros, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(stats.bucket_counts.iter()) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A request was refused by the `scope` ("identity" or "address") rate limit.
    pub fn count_rate_limited(&self, scope: &str) {
        let counter = if scope == "identity" {
            &self.rate_limited_identity
        } else {
            &self.rate_limited_address
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The metrics in Prometheus text format, with the storage's search cache counts.
    pub fn render(&self, search_cache: SearchCacheCounts) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail; the results are ignored deliberately.
        let _ = writeln!(
            out,
            "# HELP tessera_build_info Version of the running tessera-server.\n\
             # TYPE tessera_build_info gauge\n\
             tessera_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(
            out,
            "# HELP tessera_uptime_seconds Seconds since the server started.\n\
             # TYPE tessera_uptime_seconds gauge\n\
             tessera_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "# HELP tessera_http_requests_in_flight Requests being handled.\n\
             # TYPE tessera_http_requests_in_flight gauge\n\
             tessera_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP tessera_rate_limited_total Requests refused with 429, by limit.\n\
             # TYPE tessera_rate_limited_total counter\n\
             tessera_rate_limited_total{{scope=\"identity\"}} {}\n\
             tessera_rate_limited_total{{scope=\"address\"}} {}",
            self.rate_limited_identity.load(Ordering::Relaxed),
            self.rate_limited_address.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP tessera_search_cache_lookups_total Identities looked up by searches, by where the answer came from (hit: cache; miss: database, then cached; bypass: database, cache not provably current).\n\
             # TYPE tessera_search_cache_lookups_total counter\n\
             tessera_search_cache_lookups_total{{result=\"hit\"}} {}\n\
             tessera_search_cache_lookups_total{{result=\"miss\"}} {}\n\
             tessera_search_cache_lookups_total{{result=\"bypass\"}} {}",
            search_cache.hits, search_cache.misses, search_cache.bypassed
        );
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<(&String, &String, &Arc<RouteStats>)> = routes
            .iter()
            .flat_map(|(route, methods)| {
                methods
                    .iter()
                    .map(move |(method, stats)| (route, method, stats))
            })
            .collect();
        rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let _ = writeln!(
            out,
            "# HELP tessera_http_requests_total Requests answered, by route, method and status.\n\
             # TYPE tessera_http_requests_total counter"
        );
        for (route, method, stats) in &rows {
            for (status, count) in STATUSES.iter().zip(stats.by_status.iter()) {
                let count = count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let status = if *status == 0 {
                    "other".to_owned()
                } else {
                    status.to_string()
                };
                let _ = writeln!(
                    out,
                    "tessera_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP tessera_http_request_duration_seconds Time to answer, by route and method.\n\
             # TYPE tessera_http_request_duration_seconds histogram"
        );
        for (route, method, stats) in &rows {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (bound, count) in BUCKETS.iter().zip(stats.bucket_counts.iter()) {
                let _ = writeln!(
                    out,
                    "tessera_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    count.load(Ordering::Relaxed)
                );
            }
            let count = stats.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tessera_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}\n\
                 tessera_http_request_duration_seconds_sum{{{labels}}} {:.6}\n\
                 tessera_http_request_duration_seconds_count{{{labels}}} {count}",
                stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
        out
    }
}
