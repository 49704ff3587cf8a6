//! A `metrics` recorder that stores macro metrics in a [`Registry`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{
    CounterFn, GaugeFn, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use crate::counter::{F64Counter, U64Counter};
use crate::family::AnySlot;
use crate::gauge::{F64Gauge, I64Gauge};
use crate::histogram::HistogramCell;
use crate::pool::{Cell, Pool, SlotRef};
use crate::registry::default_histogram_pool;
use crate::{ExporterError, IntCounter, MetricKind, Registry};

/// Stores `counter!`, `gauge!` and `histogram!` metrics in a [`Registry`], beside the metrics
/// registered directly, under the same rules.
///
/// A key's labels are its constant labels. Macros cannot return errors: a call that breaks a
/// rule or conflicts with a registered metric of another type is logged with `tracing`,
/// counted in the rejection counter, and handed a no-op handle. The series one name may have
/// through macros is bounded like a vec's ([`Registry::set_default_max_series`]); past the
/// bound, new label sets share one overflow series. Macro series can be dropped once idle
/// ([`Registry::set_idle_timeout`]).
///
/// ```
/// # use std::sync::Arc;
/// # use dynamo_exporter::{Registry, RegistryRecorder};
/// let registry = Arc::new(Registry::new());
/// let recorder = RegistryRecorder::new(Arc::clone(&registry));
/// metrics::with_local_recorder(&recorder, || metrics::counter!("jobs_total", "queue" => "a").increment(2));
/// assert!(registry.render().contains("jobs_total{queue=\"a\"} 2\n"));
/// ```
#[derive(Debug, Clone)]
pub struct RegistryRecorder {
    registry: Arc<Registry>,
    rejections: Option<IntCounter>,
}

/// A handle given to a macro call, and whether its series still lives.
#[derive(Clone)]
pub struct Probed<H> {
    /// The handle.
    pub handle: H,
    liveness: Liveness,
}

#[derive(Clone, Copy)]
enum Liveness {
    /// A no-op handle: its answer never changes.
    Always,
    Series(&'static AtomicU64, u64),
}

impl<H> Probed<H> {
    /// False once the series was dropped (idle, or its metric unregistered): ask the recorder
    /// again for a live one.
    #[must_use]
    #[inline]
    pub fn is_live(&self) -> bool {
        match self.liveness {
            Liveness::Always => true,
            Liveness::Series(word, state) => word.load(Ordering::Relaxed) == state,
        }
    }

    /// A handle that never goes stale (a no-op handle for a refused call).
    pub fn always(handle: H) -> Self {
        Self {
            handle,
            liveness: Liveness::Always,
        }
    }

    fn of<C: Cell>(handle: H, slot: &SlotRef<C>) -> Self {
        Self {
            handle,
            liveness: Liveness::Series(slot.slot.state_word(), slot.state),
        }
    }
}

impl RegistryRecorder {
    /// A recorder over `registry`.
    #[must_use]
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            rejections: None,
        }
    }

    /// Counts every refused macro call in `counter`.
    #[must_use]
    pub fn with_rejection_counter(self, counter: IntCounter) -> Self {
        Self {
            rejections: Some(counter),
            ..self
        }
    }

    /// The registry this recorder stores into.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Logs and counts a refused macro call.
    pub fn reject(&self, key: &Key, error: &dyn std::fmt::Display) {
        tracing::warn!(metric = key.name(), %error, "metric macro call refused; it records nothing");
        if let Some(counter) = &self.rejections {
            counter.inc();
        }
    }

    fn lookup<C: Cell>(
        &self,
        key: &Key,
        kind: MetricKind,
        pool: &'static Pool<C>,
    ) -> Result<AnySlot, ExporterError>
    where
        SlotRef<C>: Into<AnySlot>,
    {
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        self.registry.macro_scalar(key.name(), kind, &labels, pool)
    }

    /// The counter for a `counter!` key, with its liveness.
    pub fn counter(&self, key: &Key) -> Probed<metrics::Counter> {
        match self.lookup(key, MetricKind::Counter, U64Counter::pool()) {
            Ok(AnySlot::U64Counter(s)) => {
                Probed::of(metrics::Counter::from_arc(Arc::new(MacroSeries(s))), &s)
            }
            Ok(AnySlot::F64Counter(s)) => {
                Probed::of(metrics::Counter::from_arc(Arc::new(MacroSeries(s))), &s)
            }
            other => {
                self.reject(key, &refusal(key, MetricKind::Counter, other));
                Probed::always(metrics::Counter::noop())
            }
        }
    }

    /// The gauge for a `gauge!` key, with its liveness.
    pub fn gauge(&self, key: &Key) -> Probed<metrics::Gauge> {
        match self.lookup(key, MetricKind::Gauge, F64Gauge::pool()) {
            Ok(AnySlot::F64Gauge(s)) => {
                Probed::of(metrics::Gauge::from_arc(Arc::new(MacroSeries(s))), &s)
            }
            Ok(AnySlot::I64Gauge(s)) => {
                Probed::of(metrics::Gauge::from_arc(Arc::new(MacroSeries(s))), &s)
            }
            other => {
                self.reject(key, &refusal(key, MetricKind::Gauge, other));
                Probed::always(metrics::Gauge::noop())
            }
        }
    }

    /// The histogram for a `histogram!` key, with its liveness.
    pub fn histogram(&self, key: &Key) -> Probed<metrics::Histogram> {
        match self.lookup(key, MetricKind::Histogram, default_histogram_pool()) {
            Ok(AnySlot::Histogram(s)) => {
                Probed::of(metrics::Histogram::from_arc(Arc::new(MacroSeries(s))), &s)
            }
            other => {
                self.reject(key, &refusal(key, MetricKind::Histogram, other));
                Probed::always(metrics::Histogram::noop())
            }
        }
    }
}

/// Why a macro call got no series: the registry's error, or the series its key names is
/// registered as another type.
fn refusal(
    key: &Key,
    requested: MetricKind,
    outcome: Result<AnySlot, ExporterError>,
) -> ExporterError {
    match outcome {
        Err(error) => error,
        Ok(slot) => ExporterError::MacroTypeMismatch {
            name: key.name().into(),
            labels: key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect(),
            registered: match slot {
                AnySlot::F64Counter(_) | AnySlot::U64Counter(_) => MetricKind::Counter,
                AnySlot::F64Gauge(_) | AnySlot::I64Gauge(_) => MetricKind::Gauge,
                AnySlot::Histogram(_) => MetricKind::Histogram,
            },
            requested,
        },
    }
}

impl Recorder for RegistryRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.registry.describe(key.as_str(), &description);
    }

    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.registry.describe(key.as_str(), &description);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.registry.describe(key.as_str(), &description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        self.counter(key).handle
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.gauge(key).handle
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.histogram(key).handle
    }
}

/// The series behind a macro handle.
struct MacroSeries<C: 'static>(SlotRef<C>);

impl<C> MacroSeries<C> {
    #[inline]
    fn cell(&self) -> Option<&'static C> {
        self.0.slot.holds(self.0.state).then_some(&self.0.slot.cell)
    }
}

impl CounterFn for MacroSeries<U64Counter> {
    fn increment(&self, value: u64) {
        if let Some(cell) = self.cell() {
            cell.add(value);
        }
    }

    fn absolute(&self, value: u64) {
        if let Some(cell) = self.cell() {
            cell.raise_to(value);
        }
    }
}

impl CounterFn for MacroSeries<F64Counter> {
    fn increment(&self, value: u64) {
        if let Some(cell) = self.cell() {
            cell.add_whole(value);
        }
    }

    fn absolute(&self, value: u64) {
        if let Some(cell) = self.cell() {
            cell.raise_to(value as f64);
        }
    }
}

impl GaugeFn for MacroSeries<F64Gauge> {
    fn increment(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.add(value);
        }
    }

    fn decrement(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.add(-value);
        }
    }

    fn set(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.set(value);
        }
    }
}

/// Macro gauges carry f64 values; an integer gauge rounds them.
impl GaugeFn for MacroSeries<I64Gauge> {
    fn increment(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.add(value.round() as i64);
        }
    }

    fn decrement(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.add((value.round() as i64).wrapping_neg());
        }
    }

    fn set(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.set(value.round() as i64);
        }
    }
}

impl HistogramFn for MacroSeries<HistogramCell> {
    fn record(&self, value: f64) {
        if let Some(cell) = self.cell() {
            cell.observe(value);
        }
    }
}
