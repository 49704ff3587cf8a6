//! Metric storage and Prometheus text rendering for `dynamo-runtime`.
//!
//! This crate knows metrics, labels and the text exposition format; it knows nothing of the
//! runtime's namespaces, components or endpoints, which reach it as ordinary constant labels.
//!
//! - [`Registry`] holds metric families and renders them deterministically: families by
//!   name, series by their label pairs, each series' label text rendered once and cached.
//! - Handles ([`Counter`], [`IntCounter`], [`Gauge`], [`IntGauge`], [`Histogram`] and their
//!   [`MetricVec`]s) are cheap `Arc` clones over atomics: no lock and no allocation on update,
//!   and a vec finds an existing series without a lock either.
//! - [`RegistryRecorder`] stores the `metrics` crate's macro calls in the same registry, and
//!   [`HandleCache`] lets a recorder hand repeated macro calls their handle without a lock.
//! - [`StatusServer`] serves a scrape hook on `/metrics` (gzip when asked), with readiness
//!   and liveness routes, from a thread and tokio runtime of its own.
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

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cache;
mod counter;
mod error;
mod family;
mod format;
mod gauge;
mod handle;
mod histogram;
mod kind;
mod labels;
mod recorder;
mod registry;
mod series;
mod server;
mod timer;
mod validate;
mod vec;

pub use cache::HandleCache;
pub use counter::{Counter, IntCounter};
pub use error::ExporterError;
pub use gauge::{Gauge, IntGauge};
pub use histogram::{DEFAULT_BUCKETS, Histogram};
pub use kind::MetricKind;
pub use recorder::RegistryRecorder;
pub use registry::{Opts, Registry};
pub use server::{
    DEFAULT_HEALTH_PATH, DEFAULT_LIVE_PATH, Health, HealthFn, METRICS_PATH, ScrapeFn, StatusServer,
    StatusServerBuilder, check_route_path,
};
pub use timer::HistogramTimer;
pub use vec::{CounterVec, GaugeVec, HistogramVec, IntCounterVec, IntGaugeVec, MetricVec};

/// The `Content-Type` of the text exposition format this crate renders.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
