//! Prometheus metrics in the text exposition format, kept by hand (a few counters and one
//! histogram do not justify a metrics framework).
//!
//! Every request passes through [`Metrics::request`], so it takes no lock and allocates
//! nothing: the routes are known when the router is built, each (route, method) pair owns a
//! fixed set of atomic counters, and the common status codes have a slot each. Only a status
//! code outside that list goes to a small locked map.
//!
//! Upload outcomes are counted per upload (one request body, which may carry several report
//! documents): `scs_monitor_uploads_total{outcome="accepted"}` and
//! `scs_monitor_uploads_total{outcome="rejected",reason=…}`; `scs_monitor_reports_accepted_total`
//! counts the report documents that accepted uploads stored.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Status codes with their own counter slot; others go to the fallback map.
const STATUSES: [u16; 24] = [
    200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429,
    500, 501, 502, 503, 504,
];

/// Reasons an upload is refused (the `reason` label).
pub const REJECT_REASONS: [&str; 13] = [
    "unauthenticated",
    "throttled",
    "busy",
    "forbidden",
    "duplicate",
    "content_type",
    "missing_signature",
    "signature",
    "invalid",
    "empty",
    "too_large",
    "timeout",
    "internal",
];

/// Methods with their own counters (the router serves only these).
const METHODS: [&str; 3] = ["GET", "POST", "other"];

fn method_index(method: &http::Method) -> usize {
    if method == http::Method::GET {
        0
    } else if method == http::Method::POST {
        1
    } else {
        2
    }
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative: `counts[i]` = requests in (BUCKETS[i-1], BUCKETS[i]]; last = above all.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(BUCKETS.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct RouteStats {
    /// `[method][status slot]`.
    statuses: [[AtomicU64; STATUSES.len()]; METHODS.len()],
    latency: Histogram,
}

/// The monitor's counters.
#[derive(Debug)]
pub struct Metrics {
    routes: HashMap<&'static str, RouteStats>,
    unmatched: RouteStats,
    rare: Mutex<BTreeMap<(&'static str, usize, u16), u64>>,
    uploads_accepted: AtomicU64,
    reports_accepted: AtomicU64,
    rejected: [AtomicU64; REJECT_REASONS.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(&[])
    }
}

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

impl Metrics {
    /// Counters for these routes (the router's path patterns); other paths count as
    /// `unmatched`.
    pub fn new(routes: &[&'static str]) -> Metrics {
        Metrics {
            routes: routes.iter().map(|r| (*r, RouteStats::default())).collect(),
            unmatched: RouteStats::default(),
            rare: Mutex::new(BTreeMap::new()),
            uploads_accepted: AtomicU64::new(0),
            reports_accepted: AtomicU64::new(0),
            rejected: Default::default(),
        }
    }

    fn stats(&self, route: Option<&str>) -> (&'static str, &RouteStats) {
        match route.and_then(|r| self.routes.get_key_value(r)) {
            Some((name, stats)) => (name, stats),
            None => (UNMATCHED, &self.unmatched),
        }
    }

    /// Records one finished request (`route` = the matched path pattern, if any).
    pub fn request(
        &self,
        route: Option<&str>,
        method: &http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        let (name, stats) = self.stats(route);
        let m = method_index(method);
        match STATUSES.iter().position(|s| *s == status) {
            Some(slot) => {
                stats.statuses[m][slot].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                *self
                    .rare
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((name, m, status))
                    .or_default() += 1;
            }
        }
        stats.latency.observe(elapsed);
    }

    /// Counts an accepted upload that stored `reports` report documents.
    pub fn accepted(&self, reports: u64) {
        self.uploads_accepted.fetch_add(1, Ordering::Relaxed);
        self.reports_accepted.fetch_add(reports, Ordering::Relaxed);
    }

    /// Counts a refused upload by reason (one of [`REJECT_REASONS`]; others count as
    /// `internal`).
    pub fn rejected(&self, reason: &str) {
        let slot = REJECT_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(REJECT_REASONS.len() - 1);
        self.rejected[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text; `subjects` = (scope name, badge colour) → number of cells.
    pub fn render(&self, subjects: &BTreeMap<(String, String), u64>) -> String {
        let mut out = String::with_capacity(8192);
        let mut routes: Vec<(&'static str, &RouteStats)> =
            self.routes.iter().map(|(k, v)| (*k, v)).collect();
        routes.sort_by_key(|(k, _)| *k);
        routes.push((UNMATCHED, &self.unmatched));
        let rare = self.rare.lock().unwrap_or_else(|e| e.into_inner()).clone();

        out.push_str(
            "# HELP scs_monitor_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE scs_monitor_requests_total counter\n");
        for (route, stats) in &routes {
            let route = escape(route);
            for (m, method) in METHODS.iter().enumerate() {
                let mut lines: Vec<(u16, u64)> = STATUSES
                    .iter()
                    .zip(&stats.statuses[m])
                    .map(|(s, n)| (*s, n.load(Ordering::Relaxed)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                lines.extend(
                    rare.iter()
                        .filter(|((r, rm, _), _)| escape(r) == route && *rm == m)
                        .map(|((_, _, s), n)| (*s, *n)),
                );
                lines.sort_unstable();
                for (status, n) in lines {
                    let _ = writeln!(
                        out,
                        "scs_monitor_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP scs_monitor_request_seconds Request latency by route.\n");
        out.push_str("# TYPE scs_monitor_request_seconds histogram\n");
        for (route, stats) in &routes {
            let h = &stats.latency;
            let counts: Vec<u64> = h.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let route = escape(route);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += counts[i];
                let _ = writeln!(
                    out,
                    "scs_monitor_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {total}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_count{{route=\"{route}\"}} {total}"
            );
        }
        out.push_str(
            "# HELP scs_monitor_uploads_total POST /reports requests by outcome (one upload may \
             carry several reports).\n",
        );
        out.push_str("# TYPE scs_monitor_uploads_total counter\n");
        let _ = writeln!(
            out,
            "scs_monitor_uploads_total{{outcome=\"accepted\"}} {}",
            self.uploads_accepted.load(Ordering::Relaxed)
        );
        for (reason, n) in REJECT_REASONS.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "scs_monitor_uploads_total{{outcome=\"rejected\",reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP scs_monitor_reports_accepted_total Report documents stored by accepted \
             uploads.\n",
        );
        out.push_str("# TYPE scs_monitor_reports_accepted_total counter\n");
        let _ = writeln!(
            out,
            "scs_monitor_reports_accepted_total {}",
            self.reports_accepted.load(Ordering::Relaxed)
        );
        out.push_str("# HELP scs_monitor_subjects Subject and scope cells by badge colour.\n");
        out.push_str("# TYPE scs_monitor_subjects gauge\n");
        for ((scope, colour), n) in subjects {
            let _ = writeln!(
                out,
                "scs_monitor_subjects{{scope=\"{}\",status=\"{colour}\"}} {n}",
                escape(scope)
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_per_route_and_statuses_are_counted() {
        let m = Metrics::new(&["/a", "/b"]);
        let get = http::Method::GET;
        m.request(Some("/a"), &get, 200, Duration::from_micros(500));
        m.request(Some("/a"), &get, 200, Duration::from_millis(3));
        m.request(
            Some("/a"),
            &http::Method::POST,
            418,
            Duration::from_secs(20),
        );
        m.request(None, &get, 404, Duration::from_micros(10));
        let text = m.render(&BTreeMap::new());
        assert!(
            text.contains(
                "scs_monitor_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "scs_monitor_requests_total{route=\"/a\",method=\"POST\",status=\"418\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "scs_monitor_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_request_seconds_bucket{route=\"/a\",le=\"0.001\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_request_seconds_bucket{route=\"/a\",le=\"0.005\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_request_seconds_bucket{route=\"/a\",le=\"10\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_request_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_request_seconds_count{route=\"/a\"} 3"),
            "{text}"
        );
        // A route without requests has no histogram lines.
        assert!(!text.contains("route=\"/b\""), "{text}");
    }

    #[test]
    fn uploads_and_reports_are_counted_separately() {
        let m = Metrics::default();
        m.accepted(3);
        m.accepted(1);
        m.rejected("too_large");
        m.rejected("no-such-reason");
        let text = m.render(&BTreeMap::new());
        assert!(
            text.contains("scs_monitor_uploads_total{outcome=\"accepted\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("scs_monitor_reports_accepted_total 4"),
            "{text}"
        );
        assert!(text.contains("reason=\"too_large\"} 1"), "{text}");
        assert!(text.contains("reason=\"internal\"} 1"), "{text}");
    }
}
