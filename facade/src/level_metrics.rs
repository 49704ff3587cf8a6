//! `.metrics()`: creating metrics at one hierarchy level, scraping it, and its callbacks.

mod info_enum;

use std::fmt::Display;
use std::sync::Arc;

use dynamo_exporter::exposition::Encoder;
use dynamo_exporter::multiprocess::GaugeMode;
use dynamo_exporter::{ExporterError, NativeHistogram, Opts, Registered, Registry, TextEncoder};

use crate::MetricsError;
use crate::callbacks::CallbackHandle;
use crate::engine::{EngineFilter, EnginePass, EngineSource};
use crate::hierarchy::Place;
use crate::names::{full_metric_name, is_reserved_label};

/// The metrics of one hierarchy level (runtime, namespace, component or endpoint).
///
/// Every metric created here is named `dynamo_component_<name>` and carries the level's
/// hierarchy labels (`dynamo_namespace`, `dynamo_component`, `dynamo_endpoint`) besides the
/// constant labels given.
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use dynamo_runtime::DistributedRuntime;
///
/// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
/// let endpoint = runtime.namespace("ns").component("cache").endpoint("get");
/// let hits = endpoint.metrics().create_intcounter("hits_total", "Cache hits", &[])?;
/// hits.inc();
/// assert_eq!(
///     endpoint.metrics().prometheus_expfmt()?,
///     concat!(
///         "# HELP dynamo_component_hits_total Cache hits\n",
///         "# TYPE dynamo_component_hits_total counter\n",
///         "dynamo_component_hits_total{dynamo_component=\"cache\",dynamo_endpoint=\"get\",dynamo_namespace=\"ns\"} 1\n",
///     )
/// );
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Metrics {
    place: Place,
    /// Where the creators register: the runtime's registry, or a scratch one for a dry run.
    registry: Arc<Registry>,
    /// How the gauges it creates merge across the processes of a multiprocess directory.
    gauge_mode: GaugeMode,
    /// Native buckets for the histograms it creates, beside their classic ones.
    native: Option<NativeHistogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("labels", &self.place.path.labels)
            .finish()
    }
}

/// The `create_*` creators of every kind of [`dynamo_exporter::metric_kinds!`]; a kind that
/// takes buckets takes them last, `None` meaning `0.005 … 10` ([`dynamo_exporter::DEFAULT_BUCKETS`]).
macro_rules! creators {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident, $create_vec:ident;
        $one:literal, $many:literal $(, $buckets:ident)?;)*})*) => {$($(
        #[doc = concat!("Creates ", $one, ".")]
        $(#[doc = concat!("\n\n`", stringify!($buckets), "` of `None` means `0.005 … 10` ([`dynamo_exporter::DEFAULT_BUCKETS`]).")])?
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a metric already registered.
        pub fn $create(
            &self,
            name: &str,
            help: &str,
            const_labels: &[(&str, &str)],
            $($buckets: Option<Vec<f64>>,)?
        ) -> Result<dynamo_exporter::$handle, MetricsError> {
            self.create(name, help, const_labels, &[], |registry, opts| {
                registry.$reg(opts $(, $buckets.as_deref())?)
            })
        }

        #[doc = concat!("Creates ", $many, " keyed by the values of `label_names`.")]
        $(#[doc = concat!("\n\n`", stringify!($buckets), "` of `None` means `0.005 … 10` ([`dynamo_exporter::DEFAULT_BUCKETS`]).")])?
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a metric already registered.
        pub fn $create_vec(
            &self,
            name: &str,
            help: &str,
            label_names: &[&str],
            const_labels: &[(&str, &str)],
            $($buckets: Option<Vec<f64>>,)?
        ) -> Result<dynamo_exporter::$vec, MetricsError> {
            self.create(name, help, const_labels, label_names, |registry, opts| {
                registry.$reg_vec(opts, label_names $(, $buckets.as_deref())?)
            })
        }
    )*)*};
}

impl Metrics {
    /// The same creators, whose gauges merge across the processes of a multiprocess
    /// directory by `mode` (the default is [`GaugeMode::LiveSum`]: the sum over the processes
    /// that run). Other kinds ignore it: counters and histograms are always summed.
    ///
    /// ```
    /// use dynamo_runtime::{DistributedRuntime, GaugeMode};
    ///
    /// let drt = DistributedRuntime::builder().build().unwrap();
    /// let metrics = drt.namespace("ns").metrics();
    /// let loaded = metrics
    ///     .with_multiprocess_mode(GaugeMode::Max)
    ///     .create_gauge("model_loaded", "Whether the model is loaded", &[])
    ///     .unwrap();
    /// loaded.set(1.0);
    /// ```
    pub fn with_multiprocess_mode(&self, mode: GaugeMode) -> Self {
        Self {
            place: self.place.clone(),
            registry: Arc::clone(&self.registry),
            gauge_mode: mode,
            native: self.native,
        }
    }

    /// The same creators, whose histograms also keep native (exponential) buckets as
    /// `native` sets them: Prometheus scraping the protobuf format and OTLP get those, text
    /// scrapers the classic buckets. Buckets of `Some(vec![])` make a histogram native only.
    /// Other kinds ignore it.
    ///
    /// ```
    /// use dynamo_runtime::{DistributedRuntime, NativeHistogram};
    ///
    /// let drt = DistributedRuntime::builder().build().unwrap();
    /// let metrics = drt.namespace("ns").metrics();
    /// let latency = metrics
    ///     .with_native_histograms(NativeHistogram::new(1.1))
    ///     .create_histogram("ttft_seconds", "Time to first token", &[], Some(vec![]))
    ///     .unwrap();
    /// latency.observe(0.120);
    /// ```
    pub fn with_native_histograms(&self, native: NativeHistogram) -> Self {
        self.with_native(Some(native))
    }

    /// The same creators with these native settings, or none.
    pub(crate) fn with_native(&self, native: Option<NativeHistogram>) -> Self {
        Self {
            place: self.place.clone(),
            registry: Arc::clone(&self.registry),
            gauge_mode: self.gauge_mode,
            native,
        }
    }

    pub(crate) fn new(place: Place) -> Self {
        let registry = Arc::clone(&place.runtime.registry);
        Self {
            place,
            registry,
            gauge_mode: GaugeMode::default(),
            native: None,
        }
    }

    /// The same creators over an empty registry of their own: what they refuse there is
    /// malformed, and nothing reaches the runtime's registry.
    pub(crate) fn dry_run(&self) -> Self {
        Self {
            place: self.place.clone(),
            registry: Arc::new(Registry::new()),
            gauge_mode: self.gauge_mode,
            native: self.native,
        }
    }

    dynamo_exporter::metric_kinds!(creators);

    /// The exposition text of this level and everything below it, after running their
    /// callbacks.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidHierarchyName`] when a level name sanitizes to nothing.
    pub fn prometheus_expfmt(&self) -> Result<String, MetricsError> {
        let mut page = String::with_capacity(4096);
        let mut encoder = TextEncoder::new(&mut page);
        self.encode(&mut encoder)?;
        dynamo_exporter::exposition::Encoder::finish(&mut encoder);
        Ok(page)
    }

    /// Hands `encoder` what a scrape of this level and everything below it shows, after
    /// running their callbacks: the page in any format, such as the protobuf one
    /// (`Format::Protobuf.render(|encoder| { metrics.encode(encoder); })`), or the values
    /// themselves. The encoder's `finish` is left to the caller.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidHierarchyName`] when a level name sanitizes to nothing.
    pub fn encode(&self, encoder: &mut dyn Encoder) -> Result<(), MetricsError> {
        self.place.path.checked_labels()?;
        self.place.runtime.scrape(&self.place.path, encoder);
        Ok(())
    }

    /// Takes out a metric created at this level, a handle of a metric without variable labels
    /// or a vec: its series leave the scrape, its handles record nothing from then on, and the
    /// same name and labels can be created again.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # let runtime = dynamo_runtime::DistributedRuntime::builder().global_recorder(false).build()?;
    /// let metrics = runtime.namespace("ns").metrics();
    /// let adapters = metrics.create_intgaugevec("lora_loaded", "Loaded adapters", &["adapter"], &[])?;
    /// adapters.with_label_values(&["a1"]).set(1);
    /// metrics.unregister(&adapters)?;
    /// assert_eq!(metrics.prometheus_expfmt()?, "");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`MetricsError::NotCreatedHere`] for a metric of another level;
    /// [`MetricsError::Registry`] with [`dynamo_exporter::ExporterError::NotRegistered`] for one
    /// already unregistered, a no-op handle, or another runtime's.
    pub fn unregister(&self, metric: &dyn Registered) -> Result<(), MetricsError> {
        let registry = &self.place.runtime.registry;
        let labels = registry
            .registered_labels(metric)
            .ok_or(ExporterError::NotRegistered)?;
        let hierarchy: Vec<(&str, &str)> = labels
            .iter()
            .filter(|(k, _)| is_reserved_label(k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut here: Vec<(&str, &str)> = self
            .place
            .path
            .labels
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        here.sort_unstable();
        if hierarchy != here {
            return Err(MetricsError::NotCreatedHere {
                metric: registry.registered_name(metric).unwrap_or_default(),
                labels: hierarchy
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
        Ok(registry.unregister(metric)?)
    }

    /// Runs `callback` before each scrape of this level or a level above it (the
    /// `/metrics` route scrapes the runtime level), on the runtime's pool of callback
    /// threads. An error or panic is logged and skipped. The returned handle unregisters it;
    /// dropping the handle keeps it registered.
    pub fn register_callback<F, E>(&self, callback: F) -> CallbackHandle
    where
        F: Fn() -> Result<(), E> + Send + Sync + 'static,
        E: Display,
    {
        let f = move || callback().map_err(|e| e.to_string());
        let id = self
            .place
            .runtime
            .callbacks
            .add_update(self.place.path.clone(), Box::new(f));
        CallbackHandle::new(&self.place.runtime, id)
    }

    /// Appends the text `callback` returns to each scrape of this level or a level above it.
    ///
    /// The text is checked first: when a line does not parse as the exposition format, or a
    /// family or sample name in it is already on the page (from a metric or an earlier
    /// callback), the text is left off that scrape, logged, and counted in
    /// `dynamo_metrics_callback_text_dropped_total`. An error is logged and skipped. The
    /// returned handle unregisters the callback; dropping it keeps the callback registered.
    pub fn register_prometheus_expfmt_callback<F, E>(&self, callback: F) -> CallbackHandle
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Display,
    {
        let f = move || callback().map_err(|e| e.to_string());
        let id = self
            .place
            .runtime
            .callbacks
            .add_text(self.place.path.clone(), Box::new(f));
        CallbackHandle::new(&self.place.runtime, id)
    }

    /// Serves the families of an engine's text on each scrape of this level or a level above
    /// it: the text `source` returns, parsed, filtered by family name ([`EngineFilter`]), with
    /// this level's hierarchy labels and the filter's labels added to every sample that lacks
    /// them (its own labels win), and the runtime's constant labels after those. The text
    /// then joins the page under the same checks as [`Metrics::register_prometheus_expfmt_callback`]'s.
    ///
    /// The same source (or a clone) registered at several levels is read once per scrape,
    /// and its families appear once: with the labels of its first registration due. The
    /// returned handle unregisters this registration; dropping it keeps it registered.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidSetting`] for a label of the filter that is not a valid label
    /// name, is reserved (`le`, `quantile`, `__*`, `dynamo_*`) or is given twice;
    /// [`MetricsError::InvalidHierarchyName`] when a level name sanitizes to nothing.
    pub fn register_engine_metrics(
        &self,
        source: &EngineSource,
        filter: EngineFilter,
    ) -> Result<CallbackHandle, MetricsError> {
        let hierarchy = self.place.path.checked_labels()?;
        let pass = EnginePass::new(source, filter, hierarchy)?;
        let id = self
            .place
            .runtime
            .callbacks
            .add_engine(self.place.path.clone(), pass);
        Ok(CallbackHandle::new(&self.place.runtime, id))
    }

    /// Applies the naming rules, adds the hierarchy labels and registers through `register`.
    fn create<T>(
        &self,
        name: &str,
        help: &str,
        const_labels: &[(&str, &str)],
        variable_labels: &[&str],
        register: impl FnOnce(&Registry, &Opts<'_>) -> Result<T, ExporterError>,
    ) -> Result<T, MetricsError> {
        let hierarchy = self.place.path.checked_labels()?;
        let full_name = full_metric_name(name)?;
        let user_labels = const_labels
            .iter()
            .map(|(k, _)| *k)
            .chain(variable_labels.iter().copied());
        if let Some(label) = user_labels.into_iter().find(|l| is_reserved_label(l)) {
            return Err(MetricsError::ReservedLabel {
                metric: full_name,
                label: label.into(),
            });
        }
        let mut labels: Vec<(&str, &str)> =
            hierarchy.iter().map(|(k, v)| (*k, v.as_str())).collect();
        labels.extend_from_slice(const_labels);
        let mut opts = Opts::new(&full_name, help)
            .with_const_labels(&labels)
            .with_multiprocess_mode(self.gauge_mode);
        opts.native = self.native;
        Ok(register(&self.registry, &opts)?)
    }
}
