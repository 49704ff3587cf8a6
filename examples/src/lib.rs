//! Example programs of the dynamo-runtime metrics API; see `examples/README.md`.
//!
//! The two server examples serve the same metrics, created here; they differ only in how the
//! metrics are kept up to date (a thread of the application, or a callback before each scrape).

// The user guide: every ```rust block of docs/guide.md runs as a doc test of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
mod user_guide {}

use dynamo_runtime::{Gauge, GaugeVec, IntCounter, IntGauge, Metrics, MetricsError};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// SIGINT (Ctrl-C) and SIGTERM (what `kill`, systemd and Kubernetes send), caught from
/// [`StopSignals::install`] on, so the program decides how to stop: the server examples stop
/// their server, which answers the scrapes in flight, and return from `main` with exit code 0.
#[derive(Debug)]
pub struct StopSignals(Signals);

impl StopSignals {
    /// Catches SIGINT and SIGTERM from now on. Install before announcing the server, so that
    /// no signal can arrive before it is caught.
    ///
    /// # Errors
    ///
    /// When the signal handlers cannot be installed.
    pub fn install() -> std::io::Result<Self> {
        Signals::new([SIGINT, SIGTERM]).map(Self)
    }

    /// Blocks until one of the signals arrives, and names it.
    #[must_use]
    pub fn wait(mut self) -> &'static str {
        match self.0.forever().next() {
            Some(SIGINT) => "SIGINT",
            _ => "SIGTERM",
        }
    }
}

/// Workers whose in-flight requests the examples report.
pub const WORKERS: u64 = 3;

/// The metrics of a pool of workers, as both server examples serve them.
#[derive(Debug, Clone)]
pub struct WorkerMetrics {
    total_slots: IntGauge,
    cache_usage: Gauge,
    active: GaugeVec,
    updates: IntCounter,
}

impl WorkerMetrics {
    /// Creates the metrics; `update_method` (`loop` or `callback`) becomes a constant label of
    /// the update counter.
    ///
    /// # Errors
    ///
    /// When a metric of the same name already exists with another type or help.
    pub fn create(metrics: &Metrics, update_method: &str) -> Result<Self, MetricsError> {
        Ok(Self {
            total_slots: metrics.create_intgauge(
                "total_slots",
                "Request slots of the worker pool",
                &[],
            )?,
            cache_usage: metrics.create_gauge(
                "kv_cache_usage_ratio",
                "Fraction of the KV cache in use, from 0 to 1",
                &[],
            )?,
            active: metrics.create_gaugevec(
                "worker_active_requests",
                "Requests in flight on each worker",
                &["worker_id"],
                &[],
            )?,
            updates: metrics.create_intcounter(
                "updates_total",
                "Times the metrics were updated",
                &[("update_method", update_method)],
            )?,
        })
    }

    /// Sets every metric to the values of update number `tick` (made-up load that changes).
    pub fn update(&self, tick: u64) {
        self.total_slots.set(64);
        self.cache_usage.set((tick % 100) as f64 / 100.0);
        for worker in 0..WORKERS {
            self.active
                .with_label_values(&[worker.to_string()])
                .set(((tick + worker * 3) % 10) as f64);
        }
        self.updates.inc();
    }
}
