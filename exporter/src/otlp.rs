//! OTLP export: the same metrics as the scrape page, pushed to an OpenTelemetry collector
//! over OTLP/gRPC (feature `otlp-grpc`, the default protocol then) or OTLP/HTTP with protobuf
//! bodies.
//!
//! [`OtlpExporter::start`] runs a thread of its own with a single-threaded tokio runtime.
//! Each interval it calls a collect hook (which hands the registry's families and any callback
//! text to an [`OtlpEncoder`], as a scrape hands them to a page's encoder), encodes the
//! request with the `opentelemetry-proto` types and
//! puts it on a bounded queue; a second task sends the queue in order, trying again on
//! retryable answers (HTTP 429, 502, 503, 504; gRPC `UNAVAILABLE` and the other retryable
//! codes; timeouts, connection errors) with exponential backoff and jitter or the server's
//! `Retry-After` (gRPC: `RetryInfo`), within the export timeout. Past the
//! queue's bound the oldest request is dropped. Drops are counted by reason and logged at
//! most once a minute. [`OtlpExporter::shutdown`] collects once more and sends what is
//! queued, within the shutdown timeout, whatever the collector does.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//! use dynamo_exporter::otlp::{OtlpConfig, OtlpExporter, OtlpSelfMetrics};
//! use dynamo_exporter::{Opts, Registry};
//!
//! let registry = Arc::new(Registry::new());
//! registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
//! let metrics = OtlpSelfMetrics::register(&registry, |name| name.to_string()).unwrap();
//! let source = Arc::clone(&registry);
//! let exporter = OtlpExporter::start(
//!     &OtlpConfig::new()
//!         .with_endpoint("http://127.0.0.1:9/v1/metrics")
//!         .with_shutdown_timeout(Duration::from_millis(200)),
//!     SystemTime::now(),
//!     Arc::new(move |encoder| {
//!         source.encode(&[], encoder);
//!     }),
//!     metrics,
//! )
//! .unwrap();
//! exporter.shutdown(); // one final export attempt, bounded by the shutdown timeout
//! ```

mod client;
mod config;
mod encode;
mod exemplar;
mod export;
#[cfg(feature = "otlp-grpc")]
pub(crate) mod grpc;
mod log;
mod resource;
mod retry;
mod tls;

use std::cell::Cell;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::watch;

#[allow(deprecated)]
pub use config::OtlpConfigError;
pub use config::{
    CERTIFICATE_VAR, CLIENT_CERTIFICATE_VAR, CLIENT_KEY_VAR, COMPRESSION_VAR, Compression,
    DEFAULT_ENDPOINT, DEFAULT_EXPORT_TIMEOUT, DEFAULT_GRPC_ENDPOINT, DEFAULT_INTERVAL,
    DEFAULT_MAX_QUEUED_REQUESTS, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TIMEOUT, ENDPOINT_VAR,
    EXPORT_INTERVAL_VAR, EXPORT_TIMEOUT_VAR, EXPORTER_VAR, HEADERS_VAR, MAX_EXPORT_TIMEOUT,
    MAX_INTERVAL, MAX_SHUTDOWN_TIMEOUT, MAX_TIMEOUT, METRICS_CERTIFICATE_VAR,
    METRICS_CLIENT_CERTIFICATE_VAR, METRICS_CLIENT_KEY_VAR, METRICS_COMPRESSION_VAR,
    METRICS_ENDPOINT_VAR, METRICS_HEADERS_VAR, METRICS_PROTOCOL_VAR, METRICS_TIMEOUT_VAR,
    OtlpConfig, PROTOCOL_VAR, Protocol, RESOURCE_ATTRIBUTES_VAR, SDK_DISABLED_VAR,
    SERVICE_NAME_VAR, SHUTDOWN_TIMEOUT_VAR, TEMPORALITY_VAR, TIMEOUT_VAR, Temporality,
};
pub use encode::OtlpEncoder;
pub use resource::SDK_NAME;

use crate::error::ExporterError;
use crate::exposition::Encoder;
use crate::fork::ProcessThread;
use crate::kinds::IntCounter;
use crate::kinds::IntGauge;
use crate::registry::Opts;
use crate::registry::Registry;
use crate::registry::vec::IntCounterVec;
use export::{Command, Shared};

/// Hands everything to export to an encoder, as a scrape hook does for a page: called once
/// per interval, on the exporter's blocking pool.
pub type CollectFn = Arc<dyn Fn(&mut dyn Encoder) + Send + Sync>;

/// Why a request was dropped, the `reason` label of the drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full: the oldest waiting request made room for a new one.
    QueueFull,
    /// The collector refused it for good (400 or another non-retryable answer).
    Rejected,
    /// Still failing (retryable answers, timeouts, connection errors) when the export
    /// timeout ran out.
    RetriesExhausted,
    /// Still queued or being sent when the final flush ran out of time.
    Shutdown,
}

impl DropReason {
    /// The label value: `queue_full`, `rejected`, `retries_exhausted`, `shutdown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::Rejected => "rejected",
            Self::RetriesExhausted => "retries_exhausted",
            Self::Shutdown => "shutdown",
        }
    }
}

/// Names of the exporter's own metrics (full names; the caller may rename them).
pub mod names {
    /// Requests the collector accepted (a counter).
    pub const EXPORTED_TOTAL: &str = "dynamo_metrics_otlp_exported_total";
    /// Help of [`EXPORTED_TOTAL`].
    pub const EXPORTED_TOTAL_HELP: &str = "OTLP export requests the collector accepted";
    /// Requests dropped, by `reason` (a counter).
    pub const DROPPED_TOTAL: &str = "dynamo_metrics_otlp_dropped_total";
    /// Help of [`DROPPED_TOTAL`].
    pub const DROPPED_TOTAL_HELP: &str = "OTLP export requests dropped: the queue was full, the collector refused them, retries ran out, or the final flush ran out of time";
    /// The label of [`DROPPED_TOTAL`] that says why.
    pub const REASON_LABEL: &str = "reason";
    /// Requests waiting to be sent (a gauge).
    pub const QUEUED_REQUESTS: &str = "dynamo_metrics_otlp_queued_requests";
    /// Help of [`QUEUED_REQUESTS`].
    pub const QUEUED_REQUESTS_HELP: &str = "OTLP export requests encoded and waiting to be sent";
}

/// The exporter's own metrics.
#[derive(Debug, Clone)]
pub struct OtlpSelfMetrics {
    /// Requests the collector accepted.
    pub exported: IntCounter,
    /// Requests dropped, by reason ([`DropReason::as_str`]).
    pub dropped: IntCounterVec,
    /// Requests waiting to be sent.
    pub queued: IntGauge,
}

impl OtlpSelfMetrics {
    /// Registers the metrics of [`names`] in `registry`, each name passed through `name`.
    ///
    /// # Errors
    ///
    /// The registry's error when a metric of one of the names exists already.
    pub fn register(
        registry: &Registry,
        name: impl Fn(&str) -> String,
    ) -> Result<Self, ExporterError> {
        let exported = registry.int_counter(&Opts::new(
            &name(names::EXPORTED_TOTAL),
            names::EXPORTED_TOTAL_HELP,
        ))?;
        let dropped = registry.int_counter_vec(
            &Opts::new(&name(names::DROPPED_TOTAL), names::DROPPED_TOTAL_HELP),
            &[names::REASON_LABEL],
        )?;
        // Its reasons are few and known: each keeps its series whatever the registry's bound.
        dropped.set_max_series(0);
        let queued = registry.int_gauge(&Opts::new(
            &name(names::QUEUED_REQUESTS),
            names::QUEUED_REQUESTS_HELP,
        ))?;
        Ok(Self {
            exported,
            dropped,
            queued,
        })
    }
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpStartError {
    /// A setting cannot be used.
    #[error(transparent)]
    Config(#[from] crate::settings::SettingError),
    /// The exporter's thread or runtime could not be created.
    #[error("cannot start the OTLP exporter's thread: {0}")]
    Thread(#[source] std::io::Error),
}

thread_local! {
    /// True on the exporter's thread and its blocking pool, where joining it would wait
    /// for ourselves.
    static ON_EXPORTER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// A running OTLP exporter. Dropping it stops it at once, without the final flush of
/// [`OtlpExporter::shutdown`]; what is queued is dropped and counted.
#[must_use = "dropping the exporter stops it"]
pub struct OtlpExporter {
    commands: watch::Sender<Command>,
    thread: ProcessThread,
    shutdown_timeout: std::time::Duration,
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter").finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Starts exporting what `collect` puts in the encoder every `config.interval()`.
    /// Cumulative points start at `start` (the runtime's start).
    ///
    /// # Errors
    ///
    /// [`OtlpStartError::Config`] for a setting given in code that cannot be used,
    /// [`OtlpStartError::Thread`] when the thread cannot be started.
    pub fn start(
        config: &OtlpConfig,
        start: SystemTime,
        collect: CollectFn,
        metrics: OtlpSelfMetrics,
    ) -> Result<Self, OtlpStartError> {
        let resolved = config.resolve()?;
        let shutdown_timeout = resolved.shutdown_timeout;
        let endpoint = resolved.endpoint.to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("dynamo-otlp-blocking")
            .max_blocking_threads(2)
            .on_thread_start(|| ON_EXPORTER_THREAD.with(|on| on.set(true)))
            .build()
            .map_err(OtlpStartError::Thread)?;
        let shared = Arc::new(Shared::new(resolved, collect, metrics, start));
        let (commands, receiver) = watch::channel(Command::Run);
        let thread = std::thread::Builder::new()
            .name("dynamo-otlp-export".into())
            .spawn(move || {
                ON_EXPORTER_THREAD.with(|on| on.set(true));
                run(&runtime, shared, receiver);
                // Does not wait for a collect still running past the flush deadline.
                runtime.shutdown_background();
            })
            .map_err(OtlpStartError::Thread)?;
        tracing::info!(%endpoint, "OTLP metrics export started");
        Ok(Self {
            commands,
            thread: ProcessThread::new(thread),
            shutdown_timeout,
        })
    }

    /// Collects once more, sends what is queued, and stops; waits at most the shutdown
    /// timeout ([`OtlpConfig::with_shutdown_timeout`]), whatever the collector does, dropping
    /// (and counting) what could not be sent by then.
    pub fn shutdown(self) {
        // In a forked child the thread does not exist, and the channel's lock may be held.
        if self.thread.in_this_process() {
            let deadline = export::flush_deadline(self.shutdown_timeout);
            let _ = self.commands.send(Command::Flush(deadline));
        }
        drop(self);
    }
}

fn run(
    runtime: &tokio::runtime::Runtime,
    shared: Arc<Shared>,
    mut commands: watch::Receiver<Command>,
) {
    runtime.block_on(async move {
        let client = client::Client::new(&shared.config);
        let mut sender = tokio::spawn(export::send_loop(Arc::clone(&shared), client));
        export::collect_loop(&shared, &mut commands).await;
        let deadline = match *commands.borrow() {
            Command::Flush(deadline) => deadline,
            Command::Run => tokio::time::Instant::now(),
        };
        let _ = tokio::time::timeout_at(deadline, export::collect_once(&shared)).await;
        shared.drain();
        if tokio::time::timeout_at(deadline, &mut sender)
            .await
            .is_err()
        {
            sender.abort();
        }
        shared.abandon();
    });
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        if !self.thread.in_this_process() {
            // A forked child: the thread does not exist here; its locks may be held.
            return;
        }
        // Dropped without `shutdown`: stop at once, without a final flush.
        self.commands.send_if_modified(|command| {
            let run = *command == Command::Run;
            if run {
                *command = Command::Flush(tokio::time::Instant::now());
            }
            run
        });
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Dropped by the collect hook (the last runtime handle went away during a
        // collection): the thread stops on its own.
        if ON_EXPORTER_THREAD.with(Cell::get) {
            return;
        }
        if thread.join().is_err() {
            tracing::error!("OTLP export thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_keeps_its_series_under_a_small_bound() {
        let registry = Registry::new();
        registry.set_default_max_series(1);
        let metrics = OtlpSelfMetrics::register(&registry, str::to_string).unwrap();
        for reason in ["queue_full", "rejected", "retries_exhausted", "shutdown"] {
            metrics.dropped.with_label_values(&[reason]).inc();
        }
        assert_eq!(
            registry.render(),
            concat!(
                "# HELP dynamo_metrics_otlp_dropped_total OTLP export requests dropped: the queue was full, the collector refused them, retries ran out, or the final flush ran out of time\n",
                "# TYPE dynamo_metrics_otlp_dropped_total counter\n",
                "dynamo_metrics_otlp_dropped_total{reason=\"queue_full\"} 1\n",
                "dynamo_metrics_otlp_dropped_total{reason=\"rejected\"} 1\n",
                "dynamo_metrics_otlp_dropped_total{reason=\"retries_exhausted\"} 1\n",
                "dynamo_metrics_otlp_dropped_total{reason=\"shutdown\"} 1\n",
                "# HELP dynamo_metrics_otlp_exported_total OTLP export requests the collector accepted\n",
                "# TYPE dynamo_metrics_otlp_exported_total counter\n",
                "dynamo_metrics_otlp_exported_total 0\n",
                "# HELP dynamo_metrics_otlp_queued_requests OTLP export requests encoded and waiting to be sent\n",
                "# TYPE dynamo_metrics_otlp_queued_requests gauge\n",
                "dynamo_metrics_otlp_queued_requests 0\n",
            )
        );
    }
}
