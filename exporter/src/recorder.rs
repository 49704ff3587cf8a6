//! A `metrics` recorder that stores macro metrics in a [`Registry`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{
    CounterFn, GaugeFn, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use crate::error::ExporterError;
use crate::kinds::IntCounter;
use crate::kinds::table::MetricKind;
use crate::kinds::{
    F64Counter, F64Gauge, HistogramCell, I64Gauge, NativeHistogram, U64Counter,
    default_histogram_pool, native_histogram_pool,
};
use crate::registry::Registry;
use crate::registry::scalars::AnySlot;
use crate::storage::pool::{Cell, Pool, SlotRef};

mod cache;
mod front;

pub use cache::{DEFAULT_CACHE_CAPACITY, HandleCache};
pub use front::ThreadHandles;

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
    native: Option<Arc<MacroNative>>,
}

/// The macro histograms that keep native buckets, and the pool they take them from.
struct MacroNative {
    names: Vec<NamePattern>,
    pool: &'static Pool<HistogramCell>,
}

impl std::fmt::Debug for MacroNative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacroNative")
            .field("names", &self.names)
            .finish()
    }
}

/// A pattern of metric names: `*` matches every name, `prefix*` the names that start with
/// `prefix`, anything else that one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern(String);

impl NamePattern {
    /// The pattern `pattern` (`*`, `prefix*` or a name).
    pub fn new(pattern: impl Into<String>) -> Self {
        Self(pattern.into())
    }

    /// True when `name` matches.
    #[must_use]
    pub fn matches(&self, name: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => self.0 == name,
        }
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
}

impl RegistryRecorder {
    /// A recorder over `registry`.
    #[must_use]
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            rejections: None,
            native: None,
        }
    }

    /// Gives the `histogram!` metrics whose name matches one of `names` native buckets as
    /// `native` sets them, beside the default classic buckets (so text scrapers see what they
    /// saw before).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use dynamo_exporter::{NamePattern, NativeHistogram, Registry, RegistryRecorder};
    /// let registry = Arc::new(Registry::new());
    /// let recorder = RegistryRecorder::new(Arc::clone(&registry))
    ///     .with_native_histograms(vec![NamePattern::new("latency_*")], NativeHistogram::new(1.1))
    ///     .unwrap();
    /// metrics::with_local_recorder(&recorder, || metrics::histogram!("latency_seconds").record(0.2));
    /// assert!(registry.render().contains("latency_seconds_count 1\n"));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ExporterError::InvalidNativeHistogram`] for settings that break a rule (the metric it
    /// names is the first pattern).
    pub fn with_native_histograms(
        self,
        names: Vec<NamePattern>,
        native: NativeHistogram,
    ) -> Result<Self, ExporterError> {
        let metric = names.first().map_or("", NamePattern::as_str);
        let pool = native_histogram_pool(metric, &native)?;
        Ok(Self {
            native: Some(Arc::new(MacroNative { names, pool })),
            ..self
        })
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
    ) -> Result<AnySlot, ExporterError> {
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        self.registry.macro_scalar(key.name(), kind, &labels, pool)
    }

    /// The counter for a `counter!` key, with its liveness.
    pub fn counter(&self, key: &Key) -> Probed<metrics::Counter> {
        let found = self.lookup(key, MetricKind::Counter, U64Counter::pool());
        let handle = found.as_ref().ok().and_then(|slot| {
            probe(slot, as_counter::<U64Counter>).or_else(|| probe(slot, as_counter::<F64Counter>))
        });
        handle.unwrap_or_else(|| {
            self.reject(key, &refusal(key, MetricKind::Counter, found));
            Probed::always(metrics::Counter::noop())
        })
    }

    /// The gauge for a `gauge!` key, with its liveness.
    pub fn gauge(&self, key: &Key) -> Probed<metrics::Gauge> {
        let found = self.lookup(key, MetricKind::Gauge, F64Gauge::pool());
        let handle = found.as_ref().ok().and_then(|slot| {
            probe(slot, as_gauge::<F64Gauge>).or_else(|| probe(slot, as_gauge::<I64Gauge>))
        });
        handle.unwrap_or_else(|| {
            self.reject(key, &refusal(key, MetricKind::Gauge, found));
            Probed::always(metrics::Gauge::noop())
        })
    }

    /// The histogram for a `histogram!` key, with its liveness.
    pub fn histogram(&self, key: &Key) -> Probed<metrics::Histogram> {
        let pool = match &self.native {
            Some(native) if native.names.iter().any(|n| n.matches(key.name())) => native.pool,
            _ => default_histogram_pool(),
        };
        let found = self.lookup(key, MetricKind::Histogram, pool);
        let handle = found
            .as_ref()
            .ok()
            .and_then(|slot| probe(slot, as_histogram));
        handle.unwrap_or_else(|| {
            self.reject(key, &refusal(key, MetricKind::Histogram, found));
            Probed::always(metrics::Histogram::noop())
        })
    }
}

/// The macro handle `wrap` makes of `slot`, if its cell is a `C`.
fn probe<C: Cell, H>(slot: &AnySlot, wrap: fn(MacroSeries<C>) -> H) -> Option<Probed<H>> {
    let series = slot.typed::<C>()?;
    let liveness = Liveness::Series(series.slot.state_word(), series.state);
    Some(Probed {
        handle: wrap(MacroSeries(series)),
        liveness,
    })
}

fn as_counter<C>(series: MacroSeries<C>) -> metrics::Counter
where
    MacroSeries<C>: CounterFn + Send + Sync + 'static,
{
    metrics::Counter::from_arc(Arc::new(series))
}

fn as_gauge<C>(series: MacroSeries<C>) -> metrics::Gauge
where
    MacroSeries<C>: GaugeFn + Send + Sync + 'static,
{
    metrics::Gauge::from_arc(Arc::new(series))
}

fn as_histogram(series: MacroSeries<HistogramCell>) -> metrics::Histogram {
    metrics::Histogram::from_arc(Arc::new(series))
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
            registered: slot.kind,
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
            cell.add_u64(value);
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
            cell.add((-value).round() as i64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::HistogramParts;

    #[test]
    fn macro_histograms_opt_in_by_name() {
        let registry = Arc::new(Registry::new());
        let recorder = RegistryRecorder::new(Arc::clone(&registry))
            .with_native_histograms(
                vec![NamePattern::new("ttft_*"), NamePattern::new("itl_seconds")],
                NativeHistogram::new(1.1),
            )
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            for name in [
                "ttft_seconds",
                "itl_seconds",
                "itl_seconds_total",
                "other_seconds",
            ] {
                metrics::histogram!(name).record(2.0);
            }
        });
        let mut parts = HistogramParts::default();
        registry.encode(&[], &mut parts);
        let native = Some((3, 0, 1, vec![(8, 1)]));
        assert_eq!(
            parts.seen,
            [
                ("itl_seconds".into(), native.clone()),
                ("itl_seconds_total".into(), None),
                ("other_seconds".into(), None),
                ("ttft_seconds".into(), native),
            ]
        );
        // The classic default buckets stay, so a text scraper sees what it saw before.
        let text = registry.render();
        assert!(
            text.contains("ttft_seconds_bucket{le=\"2.5\"} 1\n"),
            "{text}"
        );
        let refused = RegistryRecorder::new(registry)
            .with_native_histograms(vec![NamePattern::new("x")], NativeHistogram::new(f64::NAN));
        assert!(matches!(
            refused,
            Err(ExporterError::InvalidNativeHistogram {
                setting: "native_bucket_factor",
                ..
            })
        ));
    }
}
