//! Prometheus metrics in the text exposition format, kept by hand (a few counters and one
//! histogram do not justify a metrics framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The monitor's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    accepted: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        drop(requests);
        let secs = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts accepted reports.
    pub fn accepted(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a rejected upload by reason.
    pub fn rejected(&self, reason: &'static str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// The exposition text; `subjects` = badge colour → number of (subject, scope) cells.
    pub fn render(&self, subjects: &BTreeMap<(String, String), u64>) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP scs_monitor_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE scs_monitor_requests_total counter\n");
        for ((route, method, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "scs_monitor_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP scs_monitor_request_seconds Request latency by route.\n");
        out.push_str("# TYPE scs_monitor_request_seconds histogram\n");
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let route = escape(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scs_monitor_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scs_monitor_request_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP scs_monitor_reports_accepted_total Reports stored.\n");
        out.push_str("# TYPE scs_monitor_reports_accepted_total counter\n");
        let _ = writeln!(
            out,
            "scs_monitor_reports_accepted_total {}",
            self.accepted.load(Ordering::Relaxed)
        );
        out.push_str("# HELP scs_monitor_reports_rejected_total Uploads refused, by reason.\n");
        out.push_str("# TYPE scs_monitor_reports_rejected_total counter\n");
        for (reason, n) in self
            .rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "scs_monitor_reports_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
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
