//! Prometheus metrics, kept per application (no process-global registry):
//! counters and histograms recorded on the request path, and gauges read
//! from the other components when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Rows per record commit.
const SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
];

#[derive(Debug, Clone)]
struct Histogram {
    buckets: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: &'static [f64]) -> Self {
        Self {
            buckets,
            counts: vec![0; buckets.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (bound, count) in self.buckets.iter().zip(self.counts.iter_mut()) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.buckets.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Label values, escaped for the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The application's metrics.
#[derive(Debug)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    verify: Mutex<BTreeMap<String, Histogram>>,
    plugin_failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    rate_limited: Mutex<BTreeMap<String, u64>>,
    record_batches: Mutex<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http: Mutex::new(BTreeMap::new()),
            verify: Mutex::new(BTreeMap::new()),
            plugin_failures: Mutex::new(BTreeMap::new()),
            rate_limited: Mutex::new(BTreeMap::new()),
            record_batches: Mutex::new(Histogram::new(SIZE_BUCKETS)),
        }
    }
}

impl Metrics {
    /// One HTTP request answered.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        if let Ok(mut http) = self.http.lock() {
            http.entry((method.to_owned(), route.to_owned(), status))
                .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
                .observe(took.as_secs_f64());
        }
    }

    /// Plugin time for one verification (a batch chunk counts per item).
    pub fn verify_latency(&self, plugin: &str, took: Duration) {
        if let Ok(mut verify) = self.verify.lock() {
            verify
                .entry(plugin.to_owned())
                .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
                .observe(took.as_secs_f64());
        }
    }

    /// A plugin call failed (`trap`, `timeout`, `memory`, `other`).
    pub fn plugin_failure(&self, plugin: &str, kind: &'static str) {
        if let Ok(mut failures) = self.plugin_failures.lock() {
            *failures.entry((plugin.to_owned(), kind)).or_default() += 1;
        }
    }

    /// A request refused by the rate limit of `scope`.
    pub fn rate_limited(&self, scope: &str) {
        if let Ok(mut limited) = self.rate_limited.lock() {
            *limited.entry(scope.to_owned()).or_default() += 1;
        }
    }

    /// A record transaction committed `rows` rows.
    pub fn record_batch(&self, rows: usize) {
        if let Ok(mut batches) = self.record_batches.lock() {
            batches.observe(rows as f64);
        }
    }

    /// The recorded metrics in the Prometheus text format, followed by
    /// `gauges` (already formatted by the caller).
    pub fn render(&self, gauges: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP sigil_http_request_duration_seconds HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE sigil_http_request_duration_seconds histogram");
        if let Ok(http) = self.http.lock() {
            for ((method, route, status), histogram) in http.iter() {
                let labels = format!(
                    "method=\"{}\",route=\"{}\",status=\"{status}\"",
                    label(method),
                    label(route)
                );
                histogram.render(&mut out, "sigil_http_request_duration_seconds", &labels);
            }
        }
        let _ = writeln!(
            out,
            "# HELP sigil_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE sigil_http_requests_total counter");
        if let Ok(http) = self.http.lock() {
            for ((method, route, status), histogram) in http.iter() {
                let _ = writeln!(
                    out,
                    "sigil_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
                    label(method),
                    label(route),
                    histogram.count
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sigil_verify_duration_seconds Plugin time per verification, by plugin."
        );
        let _ = writeln!(out, "# TYPE sigil_verify_duration_seconds histogram");
        if let Ok(verify) = self.verify.lock() {
            for (plugin, histogram) in verify.iter() {
                histogram.render(
                    &mut out,
                    "sigil_verify_duration_seconds",
                    &format!("plugin=\"{}\"", label(plugin)),
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sigil_plugin_failures_total Plugin calls that trapped, timed out or ran out of memory."
        );
        let _ = writeln!(out, "# TYPE sigil_plugin_failures_total counter");
        if let Ok(failures) = self.plugin_failures.lock() {
            for ((plugin, kind), count) in failures.iter() {
                let _ = writeln!(
                    out,
                    "sigil_plugin_failures_total{{plugin=\"{}\",kind=\"{kind}\"}} {count}",
                    label(plugin)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sigil_rate_limited_total Requests refused by a rate limit, by policy."
        );
        let _ = writeln!(out, "# TYPE sigil_rate_limited_total counter");
        if let Ok(limited) = self.rate_limited.lock() {
            for (scope, count) in limited.iter() {
                let _ = writeln!(
                    out,
                    "sigil_rate_limited_total{{scope=\"{}\"}} {count}",
                    label(scope)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sigil_record_commit_rows Rows per verification-record transaction (group commit)."
        );
        let _ = writeln!(out, "# TYPE sigil_record_commit_rows histogram");
        if let Ok(batches) = self.record_batches.lock() {
            batches.render(&mut out, "sigil_record_commit_rows", "");
        }
        out.push_str(gauges);
        out
    }
}

/// Append one sample of a metric (with its HELP and TYPE lines when
/// `header` is set).
pub fn sample(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    labels: &str,
    value: f64,
    header: bool,
) {
    if header {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    }
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.http_request("GET", "/v1/keys", 200, Duration::from_millis(3));
        metrics.http_request("GET", "/v1/keys", 200, Duration::from_millis(30));
        let text = metrics.render("");
        assert!(text.contains(r#"sigil_http_request_duration_seconds_bucket{method="GET",route="/v1/keys",status="200",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"sigil_http_request_duration_seconds_bucket{method="GET",route="/v1/keys",status="200",le="+Inf"} 2"#));
        assert!(text.contains(
            r#"sigil_http_requests_total{method="GET",route="/v1/keys",status="200"} 2"#
        ));
    }
}
