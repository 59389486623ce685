//! Prometheus metrics (text exposition format 0.0.4), kept by hand: request counts by
//! route and status, a latency histogram by route, requests in flight and rate-limit
//! refusals. Routes are the matched templates (`/v1/cards/{id}`), never concrete paths,
//! so no identity or id ends up in a label.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    bucket_counts: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

/// The server's metrics.
pub struct Metrics {
    started: Instant,
    in_flight: AtomicI64,
    rate_limited_identity: AtomicU64,
    rate_limited_address: AtomicU64,
    /// route → method → stats.
    routes: Mutex<HashMap<String, BTreeMap<String, RouteStats>>>,
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
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// A request started.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request finished.
    pub fn request_finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), BTreeMap::new());
        }
        let Some(methods) = routes.get_mut(route) else {
            return;
        };
        if !methods.contains_key(method) {
            methods.insert(method.to_owned(), RouteStats::default());
        }
        let Some(stats) = methods.get_mut(method) else {
            return;
        };
        *stats.by_status.entry(status).or_insert(0) += 1;
        stats.count += 1;
        stats.sum_seconds += seconds;
        for (bound, count) in BUCKETS.iter().zip(stats.bucket_counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
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

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
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
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut route_names: Vec<&String> = routes.keys().collect();
        route_names.sort();
        let _ = writeln!(
            out,
            "# HELP tessera_http_requests_total Requests answered, by route, method and status.\n\
             # TYPE tessera_http_requests_total counter"
        );
        for route in &route_names {
            for (method, stats) in routes.get(*route).into_iter().flatten() {
                for (status, count) in &stats.by_status {
                    let _ = writeln!(
                        out,
                        "tessera_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP tessera_http_request_duration_seconds Time to answer, by route and method.\n\
             # TYPE tessera_http_request_duration_seconds histogram"
        );
        for route in &route_names {
            for (method, stats) in routes.get(*route).into_iter().flatten() {
                let labels = format!("route=\"{route}\",method=\"{method}\"");
                for (bound, count) in BUCKETS.iter().zip(stats.bucket_counts.iter()) {
                    let _ = writeln!(
                        out,
                        "tessera_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "tessera_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                     tessera_http_request_duration_seconds_sum{{{labels}}} {:.6}\n\
                     tessera_http_request_duration_seconds_count{{{labels}}} {}",
                    stats.count, stats.sum_seconds, stats.count
                );
            }
        }
        out
    }
}
