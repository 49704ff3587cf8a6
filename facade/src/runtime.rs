//! The runtime: root of the hierarchy, owner of the registry, the callbacks and the recorder.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use dynamo_exporter::otlp::{OtlpConfig, OtlpEncoder, OtlpExporter};
use dynamo_exporter::{Gauge, HandleCache, Probed, Registry, RegistryRecorder, fork};
use metrics_util::layers::Layer;
use parking_lot::Mutex;

use crate::callbacks::text::TextCheck;
use crate::callbacks::{CallbackText, Callbacks};
use crate::hierarchy::{Namespace, Path, Place};
use crate::metrics_config::{MetricsConfig, SeriesIdleTimeout};
use crate::names::full_metric_name;
use crate::process_metrics::ProcessMetrics;
use crate::prometheus_names::{distributed_runtime, labels, self_metrics};
use crate::requests::RequestClock;
use crate::scope::{self, Scoped};
use crate::system_server::{self, HealthStatus, Port, Route, ServerSettings, SystemState};
use crate::{Metrics, MetricsError, Naming, NamingLayer};

/// The recorder each runtime puts macro calls through.
pub(crate) type RuntimeRecorder = Naming<RegistryRecorder>;

type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The shared state behind a runtime and every handle made from it.
pub(crate) struct RuntimeInner {
    pub(crate) registry: Arc<Registry>,
    pub(crate) recorder: RuntimeRecorder,
    pub(crate) callbacks: Callbacks,
    callback_timeout: Duration,
    /// Checks the text of exposition callbacks before it joins a page.
    text_check: TextCheck,
    uptime: Gauge,
    /// The standard `process_*` metrics, unless turned off.
    process: Option<ProcessMetrics>,
    clock: Clock,
    /// Readiness and the system status server.
    pub(crate) system: SystemState,
    /// One `Arc` per distinct path, so that places can be told apart by address.
    paths: Mutex<HashSet<Arc<Path>>>,
    pub(crate) root: Arc<Path>,
    /// Handles given to macro calls, by place and key.
    pub(crate) macro_handles: MacroHandles,
    /// Where request tracking reads the time: given to the builder, or made when the first
    /// request metrics are (the fast clock calibrates on its first use).
    request_clock: OnceLock<RequestClock>,
    /// The OTLP exporter, while it runs.
    otlp: Mutex<Option<OtlpExporter>>,
}

/// The handles given to `metrics` macro calls, cached by the place they came from and their
/// key, so a repeated call skips naming and registration.
#[derive(Default)]
pub(crate) struct MacroHandles {
    pub(crate) counters: HandleCache<Probed<metrics::Counter>>,
    pub(crate) gauges: HandleCache<Probed<metrics::Gauge>>,
    pub(crate) histograms: HandleCache<Probed<metrics::Histogram>>,
}

impl RuntimeInner {
    /// Runs the callbacks at or below `place`, then renders it and appends the text of the
    /// text callbacks and engine sources that passes the checks, labelled.
    pub(crate) fn scrape(&self, place: &Path) -> String {
        let texts = self.collect(place);
        let required: Vec<(&str, &str)> =
            place.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut out = String::with_capacity(4096);
        self.registry.render_into(&required, &mut out);
        self.text_check
            .append(&mut out, &texts, &self.registry.const_labels());
        out
    }

    /// What comes before rendering `place`: runs its callbacks (returning the texts of the
    /// text callbacks and engine sources) and, for the runtime level, refreshes the built-in
    /// metrics (uptime, and the process metrics when on).
    pub(crate) fn collect(&self, place: &Path) -> Vec<CallbackText> {
        let texts = self.callbacks.run(place, self.callback_timeout);
        if place.labels.is_empty() {
            self.uptime.set((self.clock)().as_secs_f64());
            if let Some(process) = &self.process {
                process.refresh();
            }
        }
        texts
    }

    /// Fills an OTLP request with what a scrape of the whole runtime shows: the callbacks
    /// run (bounded as for a scrape), the uptime refreshed, every family of the registry,
    /// then the callback text that passes the page's checks.
    pub(crate) fn collect_otlp(&self, encoder: &mut OtlpEncoder) {
        let texts = self.collect(&self.root);
        self.registry.encode(&[], encoder);
        if !texts.is_empty() {
            let families = self.text_check.accepted(
                encoder.taken_names(),
                &texts,
                &self.registry.const_labels(),
            );
            encoder.text_families(&families);
        }
    }

    /// Stops OTLP export, if it runs, after a final flush bounded by its export timeout.
    pub(crate) fn stop_otlp(&self) {
        let exporter = {
            let _section = fork::enter();
            self.otlp.lock().take()
        };
        if let Some(exporter) = exporter {
            exporter.shutdown();
        }
    }

    /// The runtime's one `Arc` of this path.
    pub(crate) fn intern(&self, path: Path) -> Arc<Path> {
        let _section = fork::enter();
        let mut paths = self.paths.lock();
        if let Some(known) = paths.get(&path) {
            return Arc::clone(known);
        }
        let path = Arc::new(path);
        paths.insert(Arc::clone(&path));
        path
    }

    /// The clock of request tracking.
    pub(crate) fn request_clock(&self) -> RequestClock {
        self.request_clock
            .get_or_init(RequestClock::monotonic)
            .clone()
    }

    /// Time since the runtime started, by its clock.
    pub(crate) fn uptime(&self) -> Duration {
        (self.clock)()
    }
}

/// The root of the hierarchy: `runtime.namespace(..).component(..).endpoint(..)`.
///
/// Handles are cheap clones; two handles for the same path are the same place.
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use dynamo_runtime::DistributedRuntime;
///
/// let runtime = DistributedRuntime::new()?;
/// let endpoint = runtime.namespace("my_namespace").component("my_component").endpoint("my_endpoint");
/// let requests = endpoint.metrics().create_counter("requests_total", "Total requests", &[])?;
/// requests.inc();
/// assert_eq!(requests.name(), "dynamo_component_requests_total");
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct DistributedRuntime {
    root: Place,
}

impl std::fmt::Debug for DistributedRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedRuntime").finish_non_exhaustive()
    }
}

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
            otlp: None,
        }
    }
}

impl RuntimeBuilder {
    /// How long a scrape waits for its callbacks, all of them together (default 5 s). A
    /// callback still running then is left to finish on its own and is not started again
    /// until it has; one not started by then is not started for that scrape.
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
    /// `timeout` (default `None`, or `DYN_METRICS_IDLE_TIMEOUT`), checked at each scrape.
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

    /// Reads every `DYN_*` setting (server and metrics) from the process environment when
    /// the runtime is built, as [`DistributedRuntime::new`] does. Settings given in code win.
    pub fn from_env(self) -> Self {
        self.system_server_from_env()
    }

    /// Reads the `DYN_SYSTEM_*` and `DYN_METRICS_*` environment variables when the runtime is
    /// built (as [`DistributedRuntime::new`] does). Settings given in code win over them.
    pub fn system_server_from_env(self) -> Self {
        self.system_server_env(|var| {
            std::env::var_os(var).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Reads the system status server's settings through `lookup` (a variable's name to
    /// its value) instead of the process environment; see [`SystemServerConfig::from_lookup`].
    ///
    /// [`SystemServerConfig::from_lookup`]: crate::SystemServerConfig::from_lookup
    pub fn system_server_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.server.lookup = Some(Box::new(lookup));
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
    ///             .with_export_timeout(Duration::from_millis(200))
    ///             .with_temporality(Temporality::Delta)
    ///             .with_service_name("worker"),
    ///     )
    ///     .build()?;
    /// runtime.shutdown(); // a final export, bounded by the export timeout
    /// # Ok(()) }
    /// ```
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
        let otlp = crate::otlp::settings(self.otlp, self.server.lookup.as_deref())?;
        let mut metrics_config = match &self.server.lookup {
            Some(lookup) => MetricsConfig::from_lookup(lookup)?,
            None => MetricsConfig::default(),
        };
        if let Some(max) = self.max_series {
            metrics_config = metrics_config.with_max_series(max);
        }
        if let Some(timeout) = self.series_idle_timeout {
            metrics_config = metrics_config.with_idle_timeout(timeout);
        }
        if let Some(labels) = &self.const_labels {
            crate::const_labels::check(labels).map_err(|problem| MetricsError::InvalidSetting {
                setting: "RuntimeBuilder::const_labels",
                value: format!("{labels:?}"),
                reason: format!("pair {:?}: {}", problem.pair, problem.reason),
            })?;
            metrics_config = metrics_config.with_const_labels(labels);
        }
        if let Some(on) = self.process_metrics {
            metrics_config = metrics_config.with_process_metrics(on);
        }
        let server = self.server.resolve()?;
        let clock: Clock = self.clock.unwrap_or_else(|| {
            let start = Instant::now();
            Arc::new(move || start.elapsed())
        });
        let started = SystemTime::now()
            .checked_sub(clock())
            .unwrap_or_else(SystemTime::now);
        let registry = Arc::new(Registry::new());
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
        let uptime = registry.gauge(&dynamo_exporter::Opts::new(
            &uptime_opts_name,
            distributed_runtime::UPTIME_SECONDS_HELP,
        ))?;
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
        let recorder = NamingLayer::new()
            .with_rejection_counter(rejections.clone())
            .layer(RegistryRecorder::new(Arc::clone(&registry)).with_rejection_counter(rejections));
        let process = metrics_config
            .process_metrics()
            .then(|| ProcessMetrics::new(Arc::clone(&registry)));
        let inner = Arc::new(RuntimeInner {
            registry,
            recorder,
            callbacks: Callbacks::new(server.config.callback_threads()),
            callback_timeout: self.callback_timeout,
            text_check: TextCheck::new(&dropped),
            uptime,
            process,
            clock,
            system: SystemState::new(server.config.starting_health()),
            paths: Mutex::new(HashSet::new()),
            root: Arc::new(Path::default()),
            macro_handles: MacroHandles::default(),
            request_clock: self.request_clock.map(OnceLock::from).unwrap_or_default(),
            otlp: Mutex::new(None),
        });
        if let Some(config) = &otlp {
            let exporter = crate::otlp::start(config, &inner, started)?;
            *inner.otlp.lock() = Some(exporter);
        }
        system_server::start(&server, &inner)?;
        crate::global_recorder::register_runtime(&inner, self.global_recorder);
        let root = Arc::clone(&inner.root);
        Ok(DistributedRuntime {
            root: Place {
                runtime: inner,
                path: root,
            },
        })
    }
}

impl DistributedRuntime {
    /// A runtime with the default options, and the system status server when
    /// `DYN_SYSTEM_PORT` asks for it. Works with or without a tokio runtime.
    ///
    /// # Errors
    ///
    /// See [`RuntimeBuilder::build`]: an unusable `DYN_SYSTEM_*` value, or a port in use.
    pub fn new() -> Result<Self, MetricsError> {
        Self::builder().from_env().build()
    }

    /// Options for a runtime. Unlike [`DistributedRuntime::new`], the builder reads no
    /// environment unless told to ([`RuntimeBuilder::system_server_from_env`]).
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The namespace `name`. Names are sanitized (`my-ns` becomes `my_ns`); a name that
    /// sanitizes to nothing makes metric creation fail.
    pub fn namespace(&self, name: impl AsRef<str>) -> Namespace {
        Namespace {
            place: self
                .root
                .child("namespace", labels::NAMESPACE, name.as_ref()),
        }
    }

    /// The runtime-level metrics: no hierarchy labels; its scrape covers every level.
    pub fn metrics(&self) -> Metrics {
        Metrics::new(self.root.clone())
    }

    /// Runs `f` in the runtime's scope: `metrics` macro calls inside it land in this runtime
    /// without hierarchy labels.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        scope::in_scope(&self.root, f)
    }

    /// Wraps `future` so that every poll runs in the runtime's scope.
    pub fn instrument<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped::new(self.root.clone(), future)
    }

    /// The address the system status server is bound to, while it runs.
    #[must_use]
    pub fn system_status_server_info(&self) -> Option<SocketAddr> {
        self.root.runtime.system.local_addr()
    }

    /// Stops the system status server, if it runs: requests in flight finish, then the
    /// server's thread is joined. Stops OTLP export, if it runs, after a final export
    /// bounded by its export timeout. Metrics keep working; calling it again does nothing.
    pub fn shutdown(&self) {
        self.root.runtime.system.shutdown();
        self.root.runtime.stop_otlp();
    }

    /// Sets the runtime's readiness: `/health` answers 200 `ready` when it and every endpoint
    /// that reported its own ([`crate::Endpoint::set_health_status`]) are ready, else 503
    /// `notready`.
    pub fn set_health_status(&self, status: HealthStatus) {
        self.root.runtime.system.set_health(status);
    }

    /// The runtime's own readiness, as last set (endpoints aside).
    #[must_use]
    pub fn health_status(&self) -> HealthStatus {
        self.root.runtime.system.health()
    }
}
