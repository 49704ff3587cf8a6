//! [`RuntimeBuilder`]: every setting of a runtime, from code or from the environment, and the
//! building of the runtime from them.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
#[cfg(feature = "otlp")]
use std::time::SystemTime;
use std::time::{Duration, Instant};

use dynamo_exporter::multiprocess::{self, GaugeMode};
#[cfg(feature = "otlp")]
use dynamo_exporter::otlp::OtlpConfig;
use dynamo_exporter::{NamePattern, NativeHistogram, Registry, RegistryRecorder, SettingSource};
use metrics_util::layers::Layer;
use parking_lot::Mutex;

use super::{Clock, DistributedRuntime, MacroHandles, RuntimeInner};
use crate::callbacks::Callbacks;
use crate::callbacks::text::TextCheck;
use crate::health_checks::HealthChecks;
use crate::hierarchy::{Path, Place};
use crate::metrics_config::{MacroNativeHistograms, MetricsConfig, SeriesIdleTimeout};
use crate::names::full_metric_name;
use crate::process_metrics::ProcessMetrics;
use crate::prometheus_names::{distributed_runtime, name_prefix, self_metrics};
use crate::requests::RequestClock;
use crate::system_server::{self, HealthStatus, Port, Route, ServerSettings, SystemState};
use crate::{MetricsError, NamingLayer};

/// The longest [`RuntimeBuilder::callback_timeout`]: a scrape that waits longer for its
/// callbacks has long been given up by Prometheus (whose scrape timeout is at most its
/// interval).
pub const MAX_CALLBACK_TIMEOUT: Duration = Duration::from_secs(300);

/// Options for [`DistributedRuntime`]; [`DistributedRuntime::new`] uses the defaults.
#[must_use]
pub struct RuntimeBuilder {
    callback_timeout: Duration,
    global_recorder: bool,
    clock: Option<Clock>,
    request_clock: Option<RequestClock>,
    server: ServerSettings,
    max_series: Option<usize>,
    series_idle_timeout: Option<SeriesIdleTimeout>,
    const_labels: Option<Vec<(String, String)>>,
    process_metrics: Option<bool>,
    native_histograms: Option<MacroNativeHistograms>,
    max_callback_text_bytes: Option<usize>,
    multiprocess_dir: Option<std::path::PathBuf>,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpConfig>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("callback_timeout", &self.callback_timeout)
            .field("global_recorder", &self.global_recorder)
            .finish_non_exhaustive()
    }
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            callback_timeout: Duration::from_secs(5),
            global_recorder: true,
            clock: None,
            request_clock: None,
            server: ServerSettings::default(),
            max_series: None,
            series_idle_timeout: None,
            const_labels: None,
            process_metrics: None,
            native_histograms: None,
            max_callback_text_bytes: None,
            multiprocess_dir: None,
            #[cfg(feature = "otlp")]
            otlp: None,
        }
    }
}

impl RuntimeBuilder {
    /// How long a scrape waits for its callbacks, all of them together (default 5 s, above
    /// zero and at most [`MAX_CALLBACK_TIMEOUT`]). A callback still running then is left to finish on its own
    /// and is not started again until it has; one not started by then is not started for that
    /// scrape.
    pub fn callback_timeout(self, timeout: Duration) -> Self {
        Self {
            callback_timeout: timeout,
            ..self
        }
    }

    /// Whether to install the process-wide `metrics` recorder if none is installed yet
    /// (default true). Without it, macro calls reach this runtime only through a recorder
    /// the application installs.
    pub fn global_recorder(self, install: bool) -> Self {
        Self {
            global_recorder: install,
            ..self
        }
    }

    /// Where the uptime gauge reads the time since start (default: a monotonic clock).
    pub fn uptime_clock(self, clock: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        Self {
            clock: Some(Arc::new(clock)),
            ..self
        }
    }

    /// How many series one metric may hold (default 10,000, or `DYN_METRICS_MAX_SERIES`;
    /// 0 for no bound). Past it, new label sets share one overflow series, marked
    /// `otel_metric_overflow="true"`. Also bounds the series `metrics` macros create under one
    /// name. A vec can change its own bound ([`dynamo_exporter::MetricVec::set_max_series`]).
    pub fn max_series(self, max: usize) -> Self {
        Self {
            max_series: Some(max),
            ..self
        }
    }

    /// Where request tracking ([`Endpoint::track_request`](crate::Endpoint::track_request))
    /// reads the time: any monotonic reading, as a duration since a fixed origin. Tests give a
    /// fake clock to make request durations exact. By default, the machine's fastest monotonic
    /// clock: the CPU's time-stamp counter where it ticks at a constant rate, calibrated once
    /// per process when the first request metrics are created; else the OS's monotonic clock.
    pub fn request_clock(self, clock: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        Self {
            request_clock: Some(RequestClock::Custom(Arc::new(clock))),
            ..self
        }
    }

    /// Drops series created by `metrics` macros once their value has not changed for
    /// `timeout` (default `None`, or `DYN_METRICS_IDLE_TIMEOUT`; at most
    /// [`crate::MAX_SERIES_IDLE_TIMEOUT`]), checked at each scrape.
    pub fn series_idle_timeout(self, timeout: Option<Duration>) -> Self {
        Self {
            series_idle_timeout: Some(SeriesIdleTimeout::from_option(timeout)),
            ..self
        }
    }

    /// Labels added to every series of the page that lacks them (default none, or
    /// `DYN_METRICS_CONST_LABELS`): created and macro metrics, built-in ones, and the text of
    /// exposition callbacks and engines. A series' own label of the same name wins. Added to
    /// those of the environment; a name in both takes the value given here.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use dynamo_runtime::DistributedRuntime;
    ///
    /// let runtime = DistributedRuntime::builder()
    ///     .global_recorder(false)
    ///     .const_labels(&[("cluster", "us-west")])
    ///     .build()?;
    /// let ns = runtime.namespace("ns");
    /// ns.metrics().create_intgauge("slots", "Free slots", &[])?.set(3);
    /// assert_eq!(
    ///     ns.metrics().prometheus_expfmt()?,
    ///     concat!(
    ///         "# HELP dynamo_component_slots Free slots\n",
    ///         "# TYPE dynamo_component_slots gauge\n",
    ///         "dynamo_component_slots{cluster=\"us-west\",dynamo_namespace=\"ns\"} 3\n",
    ///     )
    /// );
    /// # Ok(()) }
    /// ```
    ///
    /// [`RuntimeBuilder::build`] refuses an empty or invalid label name, `le`, `quantile`,
    /// names starting with `__` or `dynamo_`, and a name given twice.
    pub fn const_labels(self, labels: &[(&str, &str)]) -> Self {
        Self {
            const_labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
            ),
            ..self
        }
    }

    /// Whether the runtime's page shows the standard process metrics (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, ...; default true, or `DYN_METRICS_PROCESS`). They are
    /// read from `/proc` at each scrape of the runtime level; where a figure cannot be read
    /// (or on a platform without `/proc`) its metric is absent.
    pub fn process_metrics(self, on: bool) -> Self {
        Self {
            process_metrics: Some(on),
            ..self
        }
    }

    /// Gives the `histogram!` metrics whose name (as given to the macro, without
    /// `dynamo_component_`) matches one of `names` (`*` for all, `prefix*`, or a name) native
    /// buckets as `native` sets them, beside the default classic buckets (or
    /// `DYN_METRICS_NATIVE_HISTOGRAMS` and `DYN_METRICS_NATIVE_BUCKET_FACTOR`).
    ///
    /// ```
    /// # fn main() -> Result<(), dynamo_runtime::MetricsError> {
    /// use dynamo_runtime::{DistributedRuntime, NativeHistogram};
    ///
    /// let drt = DistributedRuntime::builder()
    ///     .native_histograms(&["ttft_*"], NativeHistogram::new(1.1))
    ///     .build()?;
    /// drt.in_scope(|| metrics::histogram!("ttft_seconds").record(0.05));
    /// assert!(drt.metrics().prometheus_expfmt()?.contains("dynamo_component_ttft_seconds_count 1\n"));
    /// # Ok(()) }
    /// ```
    pub fn native_histograms(self, names: &[&str], native: NativeHistogram) -> Self {
        Self {
            native_histograms: Some(MacroNativeHistograms {
                names: names.iter().map(|n| (*n).to_string()).collect(),
                native,
            }),
            ..self
        }
    }

    /// The longest text one exposition callback or engine source may return for a scrape
    /// (default 4 MiB, or `DYN_METRICS_MAX_CALLBACK_TEXT_BYTES`; from 1 byte to 256 MiB). A
    /// longer text is dropped as soon as the call returns, before it is parsed, logged, and
    /// counted in `dynamo_metrics_callback_text_dropped_total{reason="too_large"}`: a runaway
    /// engine cannot make the page, or the worker's memory, grow with it.
    pub fn max_callback_text_bytes(self, bytes: usize) -> Self {
        Self {
            max_callback_text_bytes: Some(bytes),
            ..self
        }
    }

    /// Puts the process in multiprocess mode: every process of the worker that sets the same
    /// directory (here or with `DYN_METRICS_MULTIPROC_DIR`) keeps its metrics in files of it,
    /// and the one process that serves the status server shows them all on one page
    /// (counters and histograms summed, gauges by their multiprocess mode). Set it before the
    /// process creates its first metric. See the guide's section on multi-process workers.
    pub fn multiprocess_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.multiprocess_dir = Some(dir.into());
        self
    }

    /// Reads every `DYN_*` setting (server and metrics) from the process environment when
    /// the runtime is built, as [`DistributedRuntime::new`] does. Settings given in code win.
    pub fn from_env(self) -> Self {
        self.system_server_from_env()
    }

    /// Reads the `DYN_SYSTEM_*` and `DYN_METRICS_*` environment variables when the runtime is
    /// built (as [`DistributedRuntime::new`] does). Settings given in code win over them.
    /// A value that is not UTF-8 is an error of [`RuntimeBuilder::build`] naming the
    /// variable.
    pub fn system_server_from_env(mut self) -> Self {
        self.server.lookup = Some(Box::new(dynamo_exporter::env_var));
        self
    }

    /// Reads the system status server's settings through `lookup` (a variable's name to
    /// its value) instead of the process environment; see [`SystemServerConfig::from_lookup`].
    ///
    /// [`SystemServerConfig::from_lookup`]: crate::SystemServerConfig::from_lookup
    pub fn system_server_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.server.lookup = Some(Box::new(move |var| Ok(lookup(var))));
        self
    }

    /// The port of the system status server: `None` keeps it off (the default), `Some(0)`
    /// picks a free port ([`DistributedRuntime::system_status_server_info`] tells which).
    pub fn system_port(mut self, port: Option<u16>) -> Self {
        self.server.port = Some(Port::from_option(port));
        self
    }

    /// The host the system status server binds (default `0.0.0.0`).
    pub fn system_host(mut self, host: impl Into<String>) -> Self {
        self.server.host = Some(host.into());
        self
    }

    /// The path of the readiness route (default `/health`).
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.server.set_path(Route::Health, path.into());
        self
    }

    /// The path of the liveness route (default `/live`).
    pub fn live_path(mut self, path: impl Into<String>) -> Self {
        self.server.set_path(Route::Live, path.into());
        self
    }

    /// The readiness reported until [`DistributedRuntime::set_health_status`] changes it
    /// (default [`HealthStatus::NotReady`]).
    pub fn starting_health(mut self, status: HealthStatus) -> Self {
        self.server.starting_health = Some(status);
        self
    }

    /// The endpoints whose readiness alone decides `/health` (default none; env
    /// `DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS`, a JSON list such as `["generate"]`). `/health`
    /// lists them from the start, `notready` until each is set ready
    /// ([`crate::Endpoint::set_health_status`]), and is ready once all of them are, whatever
    /// [`DistributedRuntime::set_health_status`] says. Names are sanitized as endpoint names
    /// are; one that sanitizes to nothing is an error of [`RuntimeBuilder::build`].
    pub fn use_endpoint_health_status<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.server.health_endpoints = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Whether endpoints with a health check
    /// ([`crate::Endpoint::register_health_check`]) are probed once idle (default false; env
    /// `DYN_HEALTH_CHECK_ENABLED`).
    pub fn health_check_enabled(mut self, enabled: bool) -> Self {
        self.server.health_check_enabled = Some(enabled);
        self
    }

    /// Time an endpoint with a health check may go without a successful request before it
    /// is probed (default 10 s, at most an hour; env `DYN_CANARY_WAIT_TIME`, in seconds).
    pub fn canary_wait_time(mut self, wait: Duration) -> Self {
        self.server.canary_wait_time = Some(wait);
        self
    }

    /// Time a probe may take before its endpoint turns not ready (default 3 s, at most 5
    /// minutes; env `DYN_HEALTH_CHECK_REQUEST_TIMEOUT`, in seconds).
    pub fn health_check_request_timeout(mut self, timeout: Duration) -> Self {
        self.server.health_check_request_timeout = Some(timeout);
        self
    }

    /// Time a client has to send a request head to the status server (default 10 s; env
    /// `DYN_SYSTEM_HEADER_TIMEOUT_SECS`).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.server.header_read_timeout = Some(timeout);
        self
    }

    /// Time a keep-alive connection to the status server may stay idle (default 6 minutes;
    /// env `DYN_SYSTEM_IDLE_TIMEOUT_SECS`).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.server.idle_timeout = Some(timeout);
        self
    }

    /// Time a response of the status server may make no progress before its connection
    /// closes (default 30 s; env `DYN_SYSTEM_WRITE_TIMEOUT_SECS`).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.server.write_timeout = Some(timeout);
        self
    }

    /// Connections the status server keeps open at most (default 128; env
    /// `DYN_SYSTEM_MAX_CONNECTIONS`). Past it, a new connection replaces the oldest one that
    /// is not serving a request, or waits in the backlog.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.server.max_connections = Some(max);
        self
    }

    /// `/metrics` requests that may wait for a render at once (default 64; env
    /// `DYN_SYSTEM_MAX_PENDING_SCRAPES`); more are answered `503` with `Retry-After`.
    pub fn max_pending_scrapes(mut self, max: usize) -> Self {
        self.server.max_pending_scrapes = Some(max);
        self
    }

    /// Connections the kernel queues for the status server past those it serves (default
    /// 1024, capped by the kernel's `net.core.somaxconn`; env `DYN_SYSTEM_LISTEN_BACKLOG`).
    /// Past it, the kernel drops new handshakes and clients retry a second later.
    pub fn listen_backlog(mut self, backlog: usize) -> Self {
        self.server.listen_backlog = Some(backlog);
        self
    }

    /// Threads that run pre-scrape callbacks (default 4; env `DYN_SYSTEM_CALLBACK_THREADS`).
    pub fn callback_threads(mut self, threads: usize) -> Self {
        self.server.callback_threads = Some(threads);
        self
    }

    /// Whether `/metrics` also offers the OpenMetrics 1.0 text format, to a client whose
    /// `Accept` prefers it (default false; env `DYN_SYSTEM_OPENMETRICS`). Off, such a client
    /// gets the Prometheus text format (or protobuf, if it prefers that). Prometheus 2.42 and
    /// later then store classic bucket bounds in their canonical form, `le="1.0"` for
    /// `le="1"`, which queries and rules written for the old form no longer match.
    pub fn openmetrics(mut self, on: bool) -> Self {
        self.server.openmetrics = Some(on);
        self
    }

    /// Pushes the runtime's metrics to an OpenTelemetry collector over OTLP/HTTP, with these
    /// settings instead of the `OTEL_*` variables (which [`RuntimeBuilder::from_env`] reads:
    /// export is on there when `OTEL_METRICS_EXPORTER=otlp`). Start from
    /// [`OtlpConfig::from_env`] to change only some of them.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use std::time::Duration;
    /// use dynamo_runtime::{DistributedRuntime, OtlpConfig, Temporality};
    ///
    /// let runtime = DistributedRuntime::builder()
    ///     .otlp(
    ///         OtlpConfig::new()
    ///             .with_endpoint("http://127.0.0.1:4318/v1/metrics")
    ///             .with_interval(Duration::from_secs(15))
    ///             .with_shutdown_timeout(Duration::from_millis(200))
    ///             .with_temporality(Temporality::Delta)
    ///             .with_service_name("worker"),
    ///     )
    ///     .build()?;
    /// runtime.shutdown(); // a final export, bounded by the shutdown timeout
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "otlp")]
    pub fn otlp(self, config: OtlpConfig) -> Self {
        Self {
            otlp: Some(config),
            ..self
        }
    }

    /// Creates the runtime, and starts the system status server when a port is set.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidEnv`] for a server setting of the environment that cannot be
    /// used, [`MetricsError::InvalidSetting`] for one given in code,
    /// [`MetricsError::ServerStart`] when the server cannot listen (a port in use),
    /// [`MetricsError::ExportStart`] when OTLP export cannot start.
    pub fn build(self) -> Result<DistributedRuntime, MetricsError> {
        let multiprocess = self.multiprocess_directory()?;
        #[cfg(feature = "otlp")]
        let otlp = crate::otlp::settings(self.otlp, self.server.lookup.as_deref())?;
        #[cfg(not(feature = "otlp"))]
        crate::otlp::refuse_export(self.server.lookup.as_deref())?;
        let mut metrics_config = match &self.server.lookup {
            Some(lookup) => MetricsConfig::from_vars(lookup)?,
            None => MetricsConfig::default(),
        };
        if let Some(max) = self.max_series {
            metrics_config = metrics_config.with_max_series(max);
        }
        if let Some(timeout) = self.series_idle_timeout {
            let timeout = timeout.within_bound().map_err(|max| {
                SettingSource::code("RuntimeBuilder::series_idle_timeout", &timeout.duration())
                    .invalid(format!("expected at most {max} (None or zero: never)"))
            })?;
            metrics_config = metrics_config.with_idle_timeout(timeout);
        }
        crate::system_server::values::timeout_within(self.callback_timeout, MAX_CALLBACK_TIMEOUT)
            .map_err(|problem| {
            SettingSource::code("RuntimeBuilder::callback_timeout", &self.callback_timeout)
                .invalid(problem)
        })?;
        if let Some(labels) = &self.const_labels {
            crate::const_labels::check(labels).map_err(|problem| {
                SettingSource::code("RuntimeBuilder::const_labels", labels)
                    .invalid(format!("pair {:?}: {}", problem.pair, problem.reason))
            })?;
            metrics_config = metrics_config.with_const_labels(labels);
        }
        if let Some(on) = self.process_metrics {
            metrics_config = metrics_config.with_process_metrics(on);
        }
        if let Some(native) = self.native_histograms {
            metrics_config = metrics_config.with_native_histograms(native);
        }
        if let Some(bytes) = self.max_callback_text_bytes {
            let bytes =
                crate::metrics_config::text_bytes_within_bound(bytes).map_err(|reason| {
                    SettingSource::code("RuntimeBuilder::max_callback_text_bytes", &bytes)
                        .invalid(reason)
                })?;
            metrics_config = metrics_config.with_max_callback_text_bytes(bytes);
        }
        let server = self.server.resolve()?;
        let clock: Clock = self.clock.unwrap_or_else(|| {
            let start = Instant::now();
            Arc::new(move || start.elapsed())
        });
        #[cfg(feature = "otlp")]
        let started = SystemTime::now()
            .checked_sub(clock())
            .unwrap_or_else(SystemTime::now);
        let registry = Arc::new(Registry::new());
        if multiprocess.is_some() {
            registry.join_multiprocess()?;
        }
        registry.set_default_max_series(metrics_config.max_series());
        registry.set_idle_timeout(metrics_config.idle_timeout());
        let const_labels: Vec<(&str, &str)> = metrics_config
            .const_labels()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        registry.set_const_labels(&const_labels)?;
        let registry_clock = Arc::clone(&clock);
        registry.set_clock(Box::new(move || registry_clock()));
        let uptime_opts_name = full_metric_name(distributed_runtime::UPTIME_SECONDS)?;
        let uptime = registry.gauge(
            &dynamo_exporter::Opts::new(
                &uptime_opts_name,
                distributed_runtime::UPTIME_SECONDS_HELP,
            )
            .with_multiprocess_mode(GaugeMode::LiveMax),
        )?;
        let rejections = registry.int_counter(&dynamo_exporter::Opts::new(
            self_metrics::MACRO_REJECTIONS_TOTAL,
            self_metrics::MACRO_REJECTIONS_TOTAL_HELP,
        ))?;
        let overflows = registry.int_counter_vec(
            &dynamo_exporter::Opts::new(
                self_metrics::SERIES_OVERFLOW_TOTAL,
                self_metrics::SERIES_OVERFLOW_TOTAL_HELP,
            ),
            &[self_metrics::METRIC_LABEL],
        )?;
        registry.set_overflow_counter(overflows);
        let dropped = registry.int_counter_vec(
            &dynamo_exporter::Opts::new(
                self_metrics::CALLBACK_TEXT_DROPPED_TOTAL,
                self_metrics::CALLBACK_TEXT_DROPPED_TOTAL_HELP,
            ),
            &[self_metrics::DROP_REASON_LABEL],
        )?;
        // One series per reason, all made below: the series bound of the application's
        // metrics (which may be lower than the number of reasons) is not this vec's.
        dropped.set_max_series(0);
        // Series appear with the first file skipped, one per reason.
        let files_skipped = registry.int_counter_vec(
            &dynamo_exporter::Opts::new(
                self_metrics::MULTIPROCESS_FILES_SKIPPED_TOTAL,
                self_metrics::MULTIPROCESS_FILES_SKIPPED_TOTAL_HELP,
            ),
            &[self_metrics::DROP_REASON_LABEL],
        )?;
        files_skipped.set_max_series(0);
        let mut registry_recorder =
            RegistryRecorder::new(Arc::clone(&registry)).with_rejection_counter(rejections.clone());
        if let Some(native) = metrics_config.native_histograms() {
            // Macro names are exported with the component prefix, and so are the patterns.
            let names = native
                .names
                .iter()
                .map(|name| NamePattern::new(format!("{}_{name}", name_prefix::COMPONENT)))
                .collect();
            registry_recorder = registry_recorder
                .with_native_histograms(names, native.native)
                .map_err(|error| {
                    SettingSource::code(
                        "RuntimeBuilder::native_histograms",
                        &native.native.factor(),
                    )
                    .invalid(error.to_string())
                })?;
        }
        let recorder = NamingLayer::new()
            .with_rejection_counter(rejections)
            .layer(registry_recorder);
        let process = metrics_config
            .process_metrics()
            .then(|| ProcessMetrics::new(Arc::clone(&registry)));
        let inner = Arc::new(RuntimeInner {
            registry,
            recorder,
            callbacks: Callbacks::new(
                server.config.callback_threads(),
                metrics_config.max_callback_text_bytes(),
            )
            .with_files_skipped(files_skipped),
            callback_timeout: self.callback_timeout,
            text_check: TextCheck::new(&dropped),
            uptime,
            process,
            clock,
            system: SystemState::new(
                server.config.starting_health(),
                server.config.use_endpoint_health_status().to_vec(),
            ),
            health_checks: HealthChecks::new(server.config.health_checks()),
            paths: Mutex::new(HashSet::new()),
            root: Arc::new(Path::default()),
            macro_handles: MacroHandles::default(),
            request_clock: self.request_clock.map(OnceLock::from).unwrap_or_default(),
            #[cfg(feature = "otlp")]
            otlp: Mutex::new(None),
        });
        #[cfg(feature = "otlp")]
        if let Some(config) = &otlp {
            let exporter = crate::otlp::start(config, &inner, started)?;
            *inner.otlp.lock() = Some(exporter);
        }
        // In multiprocess mode one process of the worker serves the page: the first to claim
        // the directory. The others (children, forked or spawned, with the same environment)
        // leave the port alone.
        let serves = multiprocess
            .as_deref()
            .is_none_or(multiprocess::claim_server);
        if serves {
            system_server::start(&server, &inner)?;
        } else {
            tracing::info!(
                "another process of this multiprocess directory serves the page: no status server here"
            );
        }
        crate::global_recorder::register_runtime(&inner, self.global_recorder);
        let root = Arc::clone(&inner.root);
        Ok(DistributedRuntime {
            root: Place {
                runtime: inner,
                path: root,
            },
        })
    }

    /// The multiprocess directory given in code or in `DYN_METRICS_MULTIPROC_DIR`, with the
    /// process put in multiprocess mode when there is one.
    fn multiprocess_directory(&self) -> Result<Option<std::path::PathBuf>, MetricsError> {
        let (dir, source) = match (&self.multiprocess_dir, &self.server.lookup) {
            (Some(dir), _) => (
                dir.clone(),
                SettingSource::code("RuntimeBuilder::multiprocess_dir", dir),
            ),
            (None, Some(lookup)) => {
                match lookup(multiprocess::DIRECTORY_VARIABLE)?.filter(|d| !d.is_empty()) {
                    Some(dir) => (
                        dir.clone().into(),
                        SettingSource::env(multiprocess::DIRECTORY_VARIABLE, &dir),
                    ),
                    None => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
        };
        multiprocess::set_directory(&dir).map_err(|e| source.invalid(e.to_string()))?;
        Ok(Some(dir))
    }
}
