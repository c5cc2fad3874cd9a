//! Prometheus metrics, kept per application (no process-global registry):
//! counters and histograms recorded on the request path, and gauges read
//! from the other components when `/metrics` is scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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
    login_refusals: AtomicU64,
    record_batches: Mutex<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http: Mutex::new(BTreeMap::new()),
            verify: Mutex::new(BTreeMap::new()),
            plugin_failures: Mutex::new(BTreeMap::new()),
            rate_limited: Mutex::new(BTreeMap::new()),
            login_refusals: AtomicU64::new(0),
            record_batches: Mutex::new(Histogram::new(SIZE_BUCKETS)),
        }
    }
}

impl Metrics {
    /// One HTTP request answered. Each label must come from a closed set
    /// (a known method or `other`, a route template): every distinct
    /// combination is a series kept for the life of the process.
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

    /// A login attempt refused by its rate limits (audited only once per
    /// username, network and window; counted here every time).
    pub fn login_refused(&self) {
        self.login_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// A record transaction committed `rows` rows.
    pub fn record_batch(&self, rows: usize) {
        if let Ok(mut batches) = self.record_batches.lock() {
            batches.observe(rows as f64);
        }
    }

    /// The recorded metrics in the Prometheus text format, followed by
    /// `gauges`, the samples the other components expose when scraped.
    pub fn render(&self, gauges: impl IntoIterator<Item = Sample>) -> String {
        let mut out = String::new();
        self.render_http(&mut out);
        self.render_verify(&mut out);
        self.render_counters(&mut out);
        header(
            &mut out,
            "sigil_record_commit_rows",
            "histogram",
            "Rows per verification-record transaction (group commit).",
        );
        if let Ok(batches) = self.record_batches.lock() {
            batches.render(&mut out, "sigil_record_commit_rows", "");
        }
        render_samples(&mut out, gauges);
        out
    }

    /// Request latencies, and their counts as a counter of their own.
    fn render_http(&self, out: &mut String) {
        let http = self.http.lock().ok();
        let requests = || http.iter().flat_map(|http| http.iter());
        let labels = |(method, route, status): &(String, String, u16)| {
            format!(
                "method=\"{}\",route=\"{}\",status=\"{status}\"",
                label(method),
                label(route)
            )
        };
        let name = "sigil_http_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "HTTP requests by method, route and status.",
        );
        for (key, histogram) in requests() {
            histogram.render(out, name, &labels(key));
        }
        let name = "sigil_http_requests_total";
        header(
            out,
            name,
            "counter",
            "HTTP requests by method, route and status.",
        );
        for (key, histogram) in requests() {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(key), histogram.count);
        }
    }

    fn render_verify(&self, out: &mut String) {
        let name = "sigil_verify_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Plugin time per verification, by plugin.",
        );
        if let Ok(verify) = self.verify.lock() {
            for (plugin, histogram) in verify.iter() {
                histogram.render(out, name, &format!("plugin=\"{}\"", label(plugin)));
            }
        }
    }

    /// Plugin failures and rate-limit refusals.
    fn render_counters(&self, out: &mut String) {
        let name = "sigil_plugin_failures_total";
        let help = "Plugin calls that trapped, timed out or ran out of memory.";
        header(out, name, "counter", help);
        if let Ok(failures) = self.plugin_failures.lock() {
            for ((plugin, kind), count) in failures.iter() {
                let plugin = label(plugin);
                let _ = writeln!(out, "{name}{{plugin=\"{plugin}\",kind=\"{kind}\"}} {count}");
            }
        }
        let name = "sigil_rate_limited_total";
        header(
            out,
            name,
            "counter",
            "Requests refused by a rate limit, by policy.",
        );
        if let Ok(limited) = self.rate_limited.lock() {
            for (scope, count) in limited.iter() {
                let _ = writeln!(out, "{name}{{scope=\"{}\"}} {count}", label(scope));
            }
        }
        let name = "sigil_login_refusals_total";
        header(
            out,
            name,
            "counter",
            "Login attempts refused by a rate limit (audited once per username, network and window).",
        );
        let refusals = self.login_refusals.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name} {refusals}");
    }
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// What a sample measures: a running total or a current level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever grows (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One value a component exposes at scrape time (cache hits, pool
/// connections, breaker state...). Samples of one metric are rendered
/// together: the first one carries the family's `# HELP` and `# TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (`sigil_db_pool_connections`).
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The `# HELP` text of the family.
    pub help: &'static str,
    /// `key="value"` pairs, comma-separated, values escaped; empty for none.
    pub labels: String,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample of a counter, without labels.
    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Self {
        Self {
            name,
            kind: Kind::Counter,
            help,
            labels: String::new(),
            value,
        }
    }

    /// A sample of a gauge, without labels.
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Self {
        Self {
            kind: Kind::Gauge,
            ..Self::counter(name, help, value)
        }
    }

    /// The same sample with one more label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        if !self.labels.is_empty() {
            self.labels.push(',');
        }
        let _ = write!(self.labels, "{key}=\"{}\"", label(value));
        self
    }
}

/// Samples in the text format; a family's header precedes its first
/// sample (samples of one family must be adjacent).
fn render_samples(out: &mut String, samples: impl IntoIterator<Item = Sample>) {
    let mut family = "";
    for sample in samples {
        if sample.name != family {
            header(out, sample.name, sample.kind.as_str(), sample.help);
            family = sample.name;
        }
        if sample.labels.is_empty() {
            let _ = writeln!(out, "{} {}", sample.name, sample.value);
        } else {
            let _ = writeln!(out, "{}{{{}}} {}", sample.name, sample.labels, sample.value);
        }
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
        let text = metrics.render([]);
        assert!(text.contains(r#"sigil_http_request_duration_seconds_bucket{method="GET",route="/v1/keys",status="200",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"sigil_http_request_duration_seconds_bucket{method="GET",route="/v1/keys",status="200",le="+Inf"} 2"#));
        assert!(text.contains(
            r#"sigil_http_requests_total{method="GET",route="/v1/keys",status="200"} 2"#
        ));
    }

    #[test]
    fn samples_of_one_family_share_one_header() {
        let help = "PostgreSQL pool connections by state.";
        let text = Metrics::default().render([
            Sample::gauge("sigil_db_pool_connections", help, 3.0).label("state", "idle"),
            Sample::gauge("sigil_db_pool_connections", help, 2.0).label("state", "in_use"),
            Sample::counter("sigil_record_commits_total", "Commits.", 5.0),
        ]);
        let gauges = text
            .split_once("sigil_record_commit_rows_count 0\n")
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        assert_eq!(
            gauges,
            "# HELP sigil_db_pool_connections PostgreSQL pool connections by state.\n\
             # TYPE sigil_db_pool_connections gauge\n\
             sigil_db_pool_connections{state=\"idle\"} 3\n\
             sigil_db_pool_connections{state=\"in_use\"} 2\n\
             # HELP sigil_record_commits_total Commits.\n\
             # TYPE sigil_record_commits_total counter\n\
             sigil_record_commits_total 5\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let sample = Sample::gauge("g", "", 1.0)
            .label("a", "x")
            .label("b", "say \"hi\"\\n");
        assert_eq!(sample.labels, r#"a="x",b="say \"hi\"\\n""#);
    }
}
