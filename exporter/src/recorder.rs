//! A `metrics` recorder that stores macro metrics in a [`Registry`].

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use metrics::{
    CounterFn, GaugeFn, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use crate::counter::{F64Counter, U64Counter, add_f64};
use crate::gauge::{F64Gauge, I64Gauge};
use crate::histogram::HistogramCell;
use crate::series::{Cell, Series};
use crate::{ExporterError, IntCounter, Registry};

/// Stores `counter!`, `gauge!` and `histogram!` metrics in a [`Registry`], beside the metrics
/// registered directly, under the same rules.
///
/// A key's labels are its constant labels. Macros cannot return errors: a call that breaks a
/// rule or conflicts with a registered metric of another type is logged with `tracing`,
/// counted in the rejection counter, and handed a no-op handle.
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

    fn lookup<C: Cell>(&self, key: &Key) -> Result<Arc<dyn Any + Send + Sync>, ExporterError> {
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        self.registry.macro_scalar::<C>(key.name(), &labels)
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
        let found = self.lookup::<U64Counter>(key).and_then(|any| {
            any.downcast::<Series<U64Counter>>()
                .map(metrics::Counter::from_arc)
                .or_else(|any| {
                    any.downcast::<Series<F64Counter>>()
                        .map(metrics::Counter::from_arc)
                })
                .map_err(|_| incompatible(key))
        });
        found.unwrap_or_else(|error| {
            self.reject(key, &error);
            metrics::Counter::noop()
        })
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        let found = self.lookup::<F64Gauge>(key).and_then(|any| {
            any.downcast::<Series<F64Gauge>>()
                .map(metrics::Gauge::from_arc)
                .or_else(|any| {
                    any.downcast::<Series<I64Gauge>>()
                        .map(metrics::Gauge::from_arc)
                })
                .map_err(|_| incompatible(key))
        });
        found.unwrap_or_else(|error| {
            self.reject(key, &error);
            metrics::Gauge::noop()
        })
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let found = self.lookup::<HistogramCell>(key).and_then(|any| {
            any.downcast::<Series<HistogramCell>>()
                .map(metrics::Histogram::from_arc)
                .map_err(|_| incompatible(key))
        });
        found.unwrap_or_else(|error| {
            self.reject(key, &error);
            metrics::Histogram::noop()
        })
    }
}

fn incompatible(key: &Key) -> ExporterError {
    ExporterError::InvalidMetricName {
        name: key.name().into(),
        reason: "registered with an incompatible value type",
    }
}

impl CounterFn for Series<U64Counter> {
    fn increment(&self, value: u64) {
        self.cell.0.fetch_add(value, Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.cell.0.fetch_max(value, Relaxed);
    }
}

impl CounterFn for Series<F64Counter> {
    fn increment(&self, value: u64) {
        self.cell.add_whole(value);
    }

    fn absolute(&self, value: u64) {
        self.cell.raise_to(value as f64);
    }
}

impl GaugeFn for Series<F64Gauge> {
    fn increment(&self, value: f64) {
        add_f64(&self.cell.0, value);
    }

    fn decrement(&self, value: f64) {
        add_f64(&self.cell.0, -value);
    }

    fn set(&self, value: f64) {
        self.cell.0.store(value.to_bits(), Relaxed);
    }
}

/// Macro gauges carry f64 values; an integer gauge rounds them.
impl GaugeFn for Series<I64Gauge> {
    fn increment(&self, value: f64) {
        self.cell.0.fetch_add(value.round() as i64, Relaxed);
    }

    fn decrement(&self, value: f64) {
        self.cell.0.fetch_sub(value.round() as i64, Relaxed);
    }

    fn set(&self, value: f64) {
        self.cell.0.store(value.round() as i64, Relaxed);
    }
}

impl HistogramFn for Series<HistogramCell> {
    fn record(&self, value: f64) {
        self.cell.observe(value);
    }
}
