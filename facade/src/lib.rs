//! The Dynamo runtime's metrics API.
//!
//! Metrics are created from a hierarchy, `DistributedRuntime -> namespace -> component ->
//! endpoint`, with `.metrics()` at every level. Each metric is exported as
//! `dynamo_component_<name>` and carries the hierarchy labels of the level it was created at
//! (`dynamo_namespace`, `dynamo_component`, `dynamo_endpoint`).
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! use dynamo_runtime::DistributedRuntime;
//!
//! let runtime = DistributedRuntime::new()?;
//! let endpoint = runtime.namespace("my_namespace").component("my_component").endpoint("my_endpoint");
//! let by_model = endpoint.metrics().create_countervec(
//!     "requests_by_model",
//!     "Requests by model",
//!     &["model_type", "model_size"],
//!     &[],
//! )?;
//! by_model.with_label_values(&["llama", "7b"]).inc();
//! assert_eq!(
//!     endpoint.metrics().prometheus_expfmt()?,
//!     concat!(
//!         "# HELP dynamo_component_requests_by_model Requests by model\n",
//!         "# TYPE dynamo_component_requests_by_model counter\n",
//!         "dynamo_component_requests_by_model{dynamo_component=\"my_component\",",
//!         "dynamo_endpoint=\"my_endpoint\",dynamo_namespace=\"my_namespace\",",
//!         "model_size=\"7b\",model_type=\"llama\"} 1\n",
//!     )
//! );
//! # Ok(()) }
//! ```
//!
//! # Request tracking
//!
//! [`Endpoint::track_request`] instruments a request handler in one line. The guard it returns
//! counts the request in Dynamo's request metrics (`requests_total`, `inflight_requests`,
//! `request_duration_seconds`, and `errors_total`, `cancellation_total` and the byte counters
//! when told) and ends the request exactly once, whatever path leaves the handler: a return, a
//! `?`, a panic. [`Endpoint::instrument_request`] and [`Endpoint::track_stream`] do the same
//! for a future and a stream of responses, counting a drop before the end as a cancellation.
//! Every histogram has timers as well ([`Histogram::start_timer`]).
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! use dynamo_runtime::{DistributedRuntime, Endpoint};
//!
//! fn generate(endpoint: &Endpoint, prompt: &str) -> String {
//!     let _request = endpoint.track_request(); // ends when the function returns
//!     prompt.to_uppercase()
//! }
//!
//! let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
//! let endpoint = runtime.namespace("ns").component("llm").endpoint("generate");
//! generate(&endpoint, "hello");
//! let text = endpoint.metrics().prometheus_expfmt()?;
//! assert!(text.contains(
//!     "dynamo_component_requests_total{dynamo_component=\"llm\",dynamo_endpoint=\"generate\",dynamo_namespace=\"ns\"} 1\n"
//! ));
//! assert!(text.contains(
//!     "dynamo_component_inflight_requests{dynamo_component=\"llm\",dynamo_endpoint=\"generate\",dynamo_namespace=\"ns\"} 0\n"
//! ));
//! # Ok(()) }
//! ```
//!
//! # The `metrics` macros
//!
//! `metrics::counter!`, `gauge!` and `histogram!` land in the same registry under the same
//! naming rules ([`NamingLayer`]). Inside [`Endpoint::in_scope`] (or a future wrapped by
//! [`Endpoint::instrument`]) they carry that endpoint's labels and go to its runtime; outside
//! any scope they go to the oldest runtime still alive, without hierarchy labels. The first
//! runtime installs the process-wide recorder that does this routing.
//!
//! # Labels for the whole process, process metrics, engine metrics
//!
//! `DYN_METRICS_CONST_LABELS` ([`RuntimeBuilder::const_labels`]) adds labels such as
//! `cluster` to every series of the page that lacks them, the text of callbacks included. The
//! runtime's page shows the standard `process_*` metrics, read from `/proc` at each scrape
//! ([`RuntimeBuilder::process_metrics`], `DYN_METRICS_PROCESS`).
//! [`Metrics::register_engine_metrics`] serves an inference engine's own metrics (an
//! [`EngineSource`] of exposition text) filtered by family name ([`EngineFilter`]), with the
//! level's hierarchy labels and chosen labels added.
//!
//! # The system status server
//!
//! When `DYN_SYSTEM_PORT` asks for it, [`DistributedRuntime::new`] starts an HTTP server on a
//! thread of its own: `/metrics` runs every registered callback and renders the whole
//! runtime, `/health` reports the readiness the application sets
//! ([`DistributedRuntime::set_health_status`]) and `/live` answers while the server runs.
//! [`SystemServerConfig`] lists the variables; [`RuntimeBuilder`] takes the same settings in
//! code.
//!
//! ```
//! # fn main() -> anyhow::Result<()> {
//! use dynamo_runtime::{DistributedRuntime, HealthStatus};
//!
//! let runtime = DistributedRuntime::builder()
//!     .system_host("127.0.0.1")
//!     .system_port(Some(0)) // any free port
//!     .build()?;
//! let address = runtime.system_status_server_info().expect("the server runs");
//! assert_ne!(address.port(), 0);
//! runtime.set_health_status(HealthStatus::Ready);
//! runtime.shutdown();
//! assert_eq!(runtime.system_status_server_info(), None);
//! # Ok(()) }
//! ```

//! # OTLP export
//!
//! With `OTEL_METRICS_EXPORTER=otlp` (or [`RuntimeBuilder::otlp`] and an [`OtlpConfig`]), the
//! runtime also pushes everything its page shows to an OpenTelemetry collector over
//! OTLP/HTTP, from a thread of its own: the standard `OTEL_*` variables configure it, and
//! [`DistributedRuntime::shutdown`] sends a last export.

mod callbacks;
mod const_labels;
mod engine;
mod error;
mod global_recorder;
mod health_checks;
mod hierarchy;
mod layer;
mod level_metrics;
mod metrics_config;
pub mod names;
mod otlp;
mod process_metrics;
pub mod prometheus_names;
mod requests;
mod runtime;
mod scope;
mod system_server;
mod thread_handles;

pub use callbacks::CallbackHandle;
pub use dynamo_exporter::NativeHistogram;
/// The list of metric kinds the `create_*` creators are generated from, for bindings that
/// generate theirs the same way.
#[doc(hidden)]
pub use dynamo_exporter::metric_kinds;
pub use dynamo_exporter::multiprocess::GaugeMode;
#[cfg(feature = "otlp")]
pub use dynamo_exporter::otlp::{Compression, OtlpConfig, Protocol, Temporality};
pub use dynamo_exporter::{
    CounterNumber, DEFAULT_BUCKETS, DEFAULT_MAX_SERIES, Exemplar, ExemplarNames, ExporterError,
    GaugeNumber, GenericCounter, GenericGauge, HistogramTimer, MAX_BUCKETS, MAX_EXEMPLAR_RUNES,
    Metric, MetricVec, OVERFLOW_LABEL, Registered, SettingError, SettingSource,
};
pub use engine::{EngineFilter, EngineSource, PROCESS_FAMILY_PREFIXES};
pub use error::MetricsError;
pub use hierarchy::{Component, Endpoint, Namespace};
pub use layer::{Naming, NamingLayer};
pub use level_metrics::Metrics;
pub use metrics_config::{
    CONST_LABELS_VAR, DEFAULT_MAX_CALLBACK_TEXT_BYTES, DEFAULT_NATIVE_BUCKET_FACTOR,
    MAX_CALLBACK_TEXT_BYTES_BOUND, MAX_CALLBACK_TEXT_BYTES_VAR, MAX_SERIES_IDLE_TIMEOUT,
    MAX_SERIES_VAR, MacroNativeHistograms, MetricsConfig, NATIVE_BUCKET_FACTOR_VAR,
    NATIVE_HISTOGRAMS_VAR, PROCESS_METRICS_VAR, SERIES_IDLE_TIMEOUT_VAR,
};
pub use requests::{
    DEFAULT_REQUEST_DURATION_BUCKETS, RequestGuard, RequestMetrics, RequestMetricsOptions,
    TraceParent, TrackedFuture, TrackedStream,
};
pub use runtime::{DistributedRuntime, MAX_CALLBACK_TIMEOUT, RuntimeBuilder};
pub use scope::Scoped;
/// Re-exports every handle and vec of the kinds table.
macro_rules! kind_reexports {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident,
        $create_vec:ident; $one:literal, $many:literal $(, $settings:ident)?;)*})*) => {
        pub use dynamo_exporter::{$($($handle, $vec,)*)*};
    };
}
dynamo_exporter::metric_kinds!(kind_reexports);
pub use dynamo_exporter::{Info, InfoVec, StateSet, StateSetVec};
pub use system_server::{
    CALLBACK_THREADS_VAR, CANARY_WAIT_TIME_VAR, DEFAULT_CALLBACK_THREADS, DEFAULT_CANARY_WAIT_TIME,
    DEFAULT_HEALTH_CHECK_REQUEST_TIMEOUT, DEFAULT_HOST, ENABLED_VAR, HEADER_TIMEOUT_VAR,
    HEALTH_CHECK_ENABLED_VAR, HEALTH_CHECK_REQUEST_TIMEOUT_VAR, HEALTH_PATH_VAR, HOST_VAR,
    HealthCheckConfig, HealthStatus, IDLE_TIMEOUT_VAR, LISTEN_BACKLOG_VAR, LIVE_PATH_VAR,
    MAX_CALLBACK_THREADS, MAX_CANARY_WAIT_TIME, MAX_CONNECTIONS_VAR, MAX_HEADER_TIMEOUT,
    MAX_HEALTH_CHECK_REQUEST_TIMEOUT, MAX_IDLE_TIMEOUT, MAX_PENDING_SCRAPES_VAR, MAX_WRITE_TIMEOUT,
    OPENMETRICS_VAR, PORT_VAR, STARTING_HEALTH_VAR, SystemServerConfig, USE_ENDPOINT_HEALTH_VAR,
    WRITE_TIMEOUT_VAR,
};
