//! Helpers of the request tracking tests: a fake clock, runtimes reading it, and the
//! exposition text a set of request metrics renders.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, Endpoint};

/// A clock that moves only when told, shared by clones.
#[derive(Clone, Default)]
pub struct FakeClock(Arc<AtomicU64>);

impl FakeClock {
    /// Moves the clock forward by `millis` milliseconds.
    pub fn advance_ms(&self, millis: u64) {
        self.0.fetch_add(millis * 1_000_000, Ordering::SeqCst);
    }

    /// The time now, as the runtime reads it.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

/// A runtime without server, global recorder or process metrics whose request tracking reads
/// `clock`.
pub fn runtime_with_clock(clock: &FakeClock) -> DistributedRuntime {
    let clock = clock.clone();
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| Duration::from_millis(1500))
        .request_clock(move || clock.now())
        .build()
        .expect("the runtime starts")
}

/// The `ns/comp/ep` endpoint of `runtime`.
pub fn endpoint(runtime: &DistributedRuntime) -> Endpoint {
    runtime.namespace("ns").component("comp").endpoint("ep")
}

/// The hierarchy labels of [`endpoint`], rendered.
pub const EP: &str = r#"dynamo_component="comp",dynamo_endpoint="ep",dynamo_namespace="ns""#;

/// What a set of request metrics holds, to render the text it must scrape as.
#[derive(Debug, Clone)]
pub struct Requests<'a> {
    /// The label pairs of every series, rendered (the hierarchy labels, then others).
    pub labels: &'a str,
    /// The duration buckets.
    pub buckets: &'a [f64],
    /// Requests started.
    pub started: u64,
    /// Requests in flight.
    pub inflight: i64,
    /// The duration of each ended request, in seconds, in the order they ended.
    pub durations: &'a [f64],
    /// Errors by type, in label order.
    pub errors: &'a [(&'a str, u64)],
    /// Cancelled requests.
    pub cancelled: u64,
    /// Bytes received.
    pub request_bytes: u64,
    /// Bytes sent.
    pub response_bytes: u64,
    /// The time-to-first-response buckets and observations, once that histogram exists.
    pub first_responses: Option<(&'a [f64], &'a [f64])>,
}

impl Default for Requests<'_> {
    fn default() -> Self {
        Self {
            labels: EP,
            buckets: &[0.1, 1.0],
            started: 0,
            inflight: 0,
            durations: &[],
            errors: &[],
            cancelled: 0,
            request_bytes: 0,
            response_bytes: 0,
            first_responses: None,
        }
    }
}

impl Requests<'_> {
    /// The exposition text: families by name, as the runtime renders them.
    pub fn text(&self) -> String {
        let labels = self.labels;
        let mut out = String::new();
        let scalar = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let name = format!("dynamo_component_{name}");
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}\n"
            );
        };
        scalar(
            &mut out,
            "cancellation_total",
            "counter",
            "Total number of requests cancelled by work handler",
            self.cancelled.to_string(),
        );
        if !self.errors.is_empty() {
            let name = "dynamo_component_errors_total";
            let _ = write!(
                out,
                "# HELP {name} Total number of errors in work handler processing\n# TYPE {name} counter\n"
            );
            for (error_type, count) in self.errors {
                let _ = writeln!(
                    out,
                    "{name}{{{labels},error_type=\"{error_type}\"}} {count}"
                );
            }
        }
        scalar(
            &mut out,
            "inflight_requests",
            "gauge",
            "Number of requests currently being processed by work handler",
            self.inflight.to_string(),
        );
        scalar(
            &mut out,
            "request_bytes_total",
            "counter",
            "Total number of bytes received in requests by work handler",
            self.request_bytes.to_string(),
        );
        histogram(
            &mut out,
            "request_duration_seconds",
            "Time spent processing requests by work handler",
            labels,
            self.buckets,
            self.durations,
        );
        scalar(
            &mut out,
            "requests_total",
            "counter",
            "Total number of requests processed by work handler",
            self.started.to_string(),
        );
        scalar(
            &mut out,
            "response_bytes_total",
            "counter",
            "Total number of bytes sent in responses by work handler",
            self.response_bytes.to_string(),
        );
        if let Some((buckets, observations)) = self.first_responses {
            histogram(
                &mut out,
                "time_to_first_response_seconds",
                "Time from the start of a request to its first response, by work handler",
                labels,
                buckets,
                observations,
            );
        }
        out
    }
}

/// Appends a histogram's text: cumulative buckets, `+Inf`, sum in observation order, count.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &str,
    buckets: &[f64],
    observations: &[f64],
) {
    let name = format!("dynamo_component_{name}");
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
    for bound in buckets {
        let count = observations.iter().filter(|v| *v <= bound).count();
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
    }
    let count = observations.len();
    let sum = observations.iter().fold(0.0, |sum, v| sum + v);
    let _ = write!(
        out,
        "{name}_bucket{{{labels},le=\"+Inf\"}} {count}\n{name}_sum{{{labels}}} {sum}\n{name}_count{{{labels}}} {count}\n"
    );
}
