//! The runtime: root of the hierarchy, owner of the registry, the callbacks and the recorder;
//! its builder is in [`builder`].

mod builder;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dynamo_exporter::exposition::{Encoder, encode_parsed_with_labels};
#[cfg(feature = "otlp")]
use dynamo_exporter::otlp::OtlpExporter;
use dynamo_exporter::{Gauge, HandleCache, Probed, Registry, RegistryRecorder, fork};
use parking_lot::Mutex;

use crate::callbacks::text::TextCheck;
use crate::callbacks::{CallbackText, Callbacks};
use crate::health_checks::HealthChecks;
use crate::hierarchy::{Namespace, Path, Place};
use crate::process_metrics::ProcessMetrics;
use crate::prometheus_names::labels;
use crate::requests::RequestClock;
use crate::scope::{self, Scoped};
use crate::system_server::{HealthStatus, SystemState};
use crate::{Metrics, MetricsError, Naming};

pub use builder::{MAX_CALLBACK_TIMEOUT, RuntimeBuilder};

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
    /// Canary health checks of idle endpoints.
    pub(crate) health_checks: HealthChecks,
    /// One `Arc` per distinct path, so that places can be told apart by address.
    paths: Mutex<HashSet<Arc<Path>>>,
    pub(crate) root: Arc<Path>,
    /// Handles given to macro calls, by place and key.
    pub(crate) macro_handles: MacroHandles,
    /// Where request tracking reads the time: given to the builder, or made when the first
    /// request metrics are (the fast clock calibrates on its first use).
    request_clock: OnceLock<RequestClock>,
    /// The OTLP exporter, while it runs.
    #[cfg(feature = "otlp")]
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
    /// Runs the callbacks at or below `place`, then hands `encoder` what a scrape of it shows:
    /// the registry's families, then those of the text callbacks and engine sources that pass
    /// the checks, labelled. A page, an OTLP export and a level's `prometheus_expfmt` all come
    /// from here.
    pub(crate) fn scrape(&self, place: &Path, encoder: &mut dyn Encoder) {
        let texts = self.collect(place);
        let required: Vec<(&str, &str)> =
            place.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let shown = self.registry.encode(&required, encoder);
        if !texts.is_empty() {
            let accepted =
                self.text_check
                    .accepted(shown.taken_names(), texts, &self.registry.const_labels());
            for one in &accepted {
                encode_parsed_with_labels(&one.families, &one.labels, encoder);
            }
        }
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

    /// Stops OTLP export, if it runs, after a final flush bounded by its shutdown timeout.
    pub(crate) fn stop_otlp(&self) {
        #[cfg(feature = "otlp")]
        {
            let exporter = {
                let _section = fork::enter();
                self.otlp.lock().take()
            };
            if let Some(exporter) = exporter {
                exporter.shutdown();
            }
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
    /// bounded by its shutdown timeout ([`crate::OtlpConfig::with_shutdown_timeout`], 5 s by
    /// default) whatever the collector does. Metrics keep working; calling it again does
    /// nothing.
    pub fn shutdown(&self) {
        self.root.runtime.health_checks.shutdown();
        self.root.runtime.system.shutdown();
        self.root.runtime.stop_otlp();
    }

    /// Sets the runtime's readiness: `/health` answers 200 `ready` when it and every endpoint
    /// that reported its own ([`crate::Endpoint::set_health_status`]) are ready, else 503
    /// `notready`. Not consulted when a list of endpoints decides
    /// ([`RuntimeBuilder::use_endpoint_health_status`]).
    pub fn set_health_status(&self, status: HealthStatus) {
        self.root.runtime.system.set_health(status);
    }

    /// The runtime's own readiness, as last set (endpoints aside).
    #[must_use]
    pub fn health_status(&self) -> HealthStatus {
        self.root.runtime.system.health()
    }
}
