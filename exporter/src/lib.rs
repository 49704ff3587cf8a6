//! Metric storage, exposition formats and the HTTP status server for `dynamo-runtime`.
//!
//! This crate knows metrics, labels and exposition formats; it knows nothing of the runtime's
//! namespaces, components or endpoints, which reach it as ordinary constant labels. Its layers,
//! each using only those below: `storage` (slots, pools, the lock-free index), [`exposition`]
//! (what a scrape sees, and the formats), the metric kinds, the [`Registry`], the
//! [`RegistryRecorder`] of the `metrics` macros, and the ways out ([`StatusServer`], `otlp`).
//!
//! - [`Registry`] holds metric families and hands them to an [`exposition::Encoder`]
//!   deterministically: families by name, series by their label pairs. A scrape reads from a
//!   snapshot, so creating, updating and removing series never wait for it.
//! - Handles ([`Counter`], [`IntCounter`], [`Gauge`], [`IntGauge`], [`Histogram`]) are small
//!   copies of a reference to a slot of type-stable storage: an update is one check and one
//!   atomic operation, with no lock, no allocation and no reference count. A [`MetricVec`]
//!   finds an existing series without a lock, removes series, and bounds how many it holds.
//!   Every kind is one file and one line of the kinds table, `metric_kinds!`, which the
//!   registry's, the runtime's and Python's creators are generated from.
//! - [`exposition`] describes what a scrape sees (families, series, values by the shape of
//!   their samples) and the [`Format`]s a page is served in; [`TextEncoder`] writes the text
//!   format. [`parse`] reads the text format back strictly, and
//!   [`exposition::encode_parsed`] hands what it read to any encoder.
//! - [`RegistryRecorder`] stores the `metrics` crate's macro calls in the same registry, and
//!   [`HandleCache`] lets a recorder hand repeated macro calls their handle without a lock.
//! - [`StatusServer`] serves a scrape hook on `/metrics` in the format a client's `Accept`
//!   asks for (gzip when asked), with readiness and liveness routes, from a thread and tokio
//!   runtime of its own, bounded in time, connections and renders whatever its clients do.
//! - `otlp` (feature `otlp`) pushes the same families to an OpenTelemetry collector over
//!   OTLP/HTTP, from a thread of its own, with a bounded queue, retries and a final flush.
//! - [`fork`] keeps the storage usable in a child after `fork()`; [`SettingError`] is the one
//!   error of a setting, from the environment or from code.
//!
//! Features: `otlp` (OTLP export, with protobuf and TLS; off here, on in `dynamo-runtime`);
//! `test-util` (for the workspace's tests, from `[dev-dependencies]` only) adds `test_util`:
//! promtool checks of a text, a small HTTP client and readiness polling.
//!
//! ```
//! use dynamo_exporter::{Opts, Registry};
//!
//! let registry = Registry::new();
//! let latency = registry
//!     .histogram(&Opts::new("latency_seconds", "Request latency"), Some(&[0.1, 1.0]))
//!     .unwrap();
//! latency.observe(0.25);
//! assert_eq!(
//!     registry.render(),
//!     concat!(
//!         "# HELP latency_seconds Request latency\n",
//!         "# TYPE latency_seconds histogram\n",
//!         "latency_seconds_bucket{le=\"0.1\"} 0\n",
//!         "latency_seconds_bucket{le=\"1\"} 1\n",
//!         "latency_seconds_bucket{le=\"+Inf\"} 1\n",
//!         "latency_seconds_sum 0.25\n",
//!         "latency_seconds_count 1\n",
//!     )
//! );
//! ```

mod error;
pub mod exposition;
pub mod fork;
mod kinds;
pub mod multiprocess;
#[cfg(feature = "otlp")]
pub mod otlp;
mod recorder;
mod registry;
mod server;
mod settings;
mod storage;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use error::ExporterError;
pub use exposition::{Format, OVERFLOW_LABEL, TextEncoder, parse};
// Every metric kind of the table (`metric_kinds!`): handles, vecs, and what their files add.
pub use kinds::*;
pub use recorder::{
    DEFAULT_CACHE_CAPACITY, HandleCache, NamePattern, Probed, RegistryRecorder, ThreadHandles,
};
// `MetricVec`, and a vec type of each handle of the kinds table.
pub use registry::vec::*;
pub use registry::{Clock, DEFAULT_MAX_SERIES, Opts, Registry, Shown};
pub use server::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HEALTH_PATH, DEFAULT_IDLE_TIMEOUT, DEFAULT_LISTEN_BACKLOG,
    DEFAULT_LIVE_PATH, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING_SCRAPES, DEFAULT_WRITE_TIMEOUT,
    Health, HealthFn, METRICS_PATH, ScrapeFn, ServerLimits, StatusServer, StatusServerBuilder,
    check_route_path,
};
pub use settings::{SettingError, SettingSource, env_var, format_duration, parse_duration};

/// The `Content-Type` of the text exposition format this crate renders.
pub const TEXT_CONTENT_TYPE: &str = exposition::text::CONTENT_TYPE;

/// The `Content-Type` of a page in the Prometheus protobuf format (delimited `MetricFamily`
/// messages).
pub const PROTOBUF_CONTENT_TYPE: &str = exposition::protobuf::CONTENT_TYPE;

/// The `Content-Type` of a page in the OpenMetrics 1.0 text format.
pub const OPENMETRICS_CONTENT_TYPE: &str = exposition::openmetrics::CONTENT_TYPE;
