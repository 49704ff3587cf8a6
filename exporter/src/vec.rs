//! Labelled metrics: one series per set of variable label values.

pub(crate) mod table;
mod words;

pub(crate) use words::bytes_eq;

use std::hash::BuildHasher;
use std::sync::Arc;

use crate::family::Family;
use crate::series::{Cell, MetricCore, Series};
use crate::{Counter, ExporterError, Gauge, Histogram, IntCounter, IntGauge};
use table::Table;

/// A handle type that can be a child of a [`MetricVec`].
pub(crate) trait VecChild: Clone {
    type Cell: Cell;
    fn from_series(series: Arc<Series<Self::Cell>>) -> Self;
    fn series(&self) -> &Arc<Series<Self::Cell>>;
    fn noop_child() -> Self;
}

/// A metric with variable labels: each distinct set of label values is its own series.
///
/// Looking up an existing series takes no lock, writes no shared memory and allocates
/// nothing; it hands back a reference to the series' handle (clone it to keep it beyond the
/// vec's borrow). A new series is created once and kept for the life of the registry.
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let by_model = registry
///     .int_counter_vec(&Opts::new("requests_total", "Requests"), &["model"])
///     .unwrap();
/// by_model.with_label_values(&["llama"]).inc();
/// assert_eq!(by_model.with_label_values(&["llama"]).get(), 1);
/// assert_eq!(by_model.variable_labels(), ["model"]);
/// ```
#[must_use]
pub struct MetricVec<M> {
    inner: Arc<VecInner<M>>,
}

struct VecInner<M> {
    core: Arc<MetricCore>,
    family: Arc<Family>,
    children: Table<M>,
    /// Seeds the hash of label values, so hashes differ from process to process.
    seed: u64,
    /// Handed out when label values are refused.
    noop: M,
    /// How many variable labels the vec has.
    variable_count: usize,
}

/// A vec of [`Counter`]s.
pub type CounterVec = MetricVec<Counter>;
/// A vec of [`IntCounter`]s.
pub type IntCounterVec = MetricVec<IntCounter>;
/// A vec of [`Gauge`]s.
pub type GaugeVec = MetricVec<Gauge>;
/// A vec of [`IntGauge`]s.
pub type IntGaugeVec = MetricVec<IntGauge>;
/// A vec of [`Histogram`]s.
pub type HistogramVec = MetricVec<Histogram>;

impl<M> Clone for MetricVec<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M> std::fmt::Debug for MetricVec<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricVec")
            .field("name", &self.inner.core.name)
            .field("const_labels", &self.inner.core.const_label_refs())
            .field("variable_labels", &self.inner.core.variable_name_refs())
            .finish_non_exhaustive()
    }
}

impl<M> MetricVec<M> {
    /// The full exported name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.core.name
    }

    /// The constant labels, sorted by name.
    #[must_use]
    pub fn const_labels(&self) -> Vec<(&str, &str)> {
        self.inner.core.const_label_refs()
    }

    /// The variable label names, in declaration order.
    #[must_use]
    pub fn variable_labels(&self) -> Vec<&str> {
        self.inner.core.variable_name_refs()
    }
}

#[allow(private_bounds)]
impl<M: VecChild> MetricVec<M> {
    pub(crate) fn new(core: Arc<MetricCore>, family: Arc<Family>) -> Self {
        let inner = VecInner {
            variable_count: core.variable_names.len(),
            core,
            family,
            children: Table::new(),
            seed: BuildHasher::hash_one(&std::hash::RandomState::new(), 0x5EED_u64),
            noop: M::noop_child(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The series for these label values (in declaration order), created on first use.
    ///
    /// A wrong number of values is logged and answered with a no-op handle; use
    /// [`MetricVec::get_metric_with_label_values`] to get the error instead.
    #[inline]
    pub fn with_label_values<V: AsRef<str>>(&self, values: &[V]) -> &M {
        match self.find(values) {
            Some(child) => child,
            None => self.create_or_noop(values),
        }
    }

    /// The series for these label values (in declaration order), created on first use.
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] when the number of values differs from the number of
    /// variable labels.
    #[inline]
    pub fn get_metric_with_label_values<V: AsRef<str>>(
        &self,
        values: &[V],
    ) -> Result<&M, ExporterError> {
        match self.find(values) {
            Some(child) => Ok(child),
            None => self.create(values),
        }
    }

    /// The existing series for these values: no lock, no allocation, no shared write.
    #[inline]
    fn find<V: AsRef<str>>(&self, values: &[V]) -> Option<&M> {
        let inner = &*self.inner;
        if values.len() != inner.variable_count {
            return None;
        }
        let (hash, plain) = words::hash_values(inner.seed, values);
        // The vec's own layout, not the series', so its loads need not wait for the series'.
        let layout = &inner.core.layout;
        inner.children.find(hash, |child| {
            let series = child.series();
            series.hash == hash && layout.matches(series.text(), values, plain)
        })
    }

    #[cold]
    #[inline(never)]
    fn create_or_noop<V: AsRef<str>>(&self, values: &[V]) -> &M {
        self.create(values).unwrap_or_else(|error| {
            tracing::error!(%error, "label values refused; the update goes nowhere");
            &self.inner.noop
        })
    }

    /// Creates the series (or finds one created meanwhile), or says why the values are wrong.
    #[cold]
    #[inline(never)]
    fn create<V: AsRef<str>>(&self, values: &[V]) -> Result<&M, ExporterError> {
        let inner = &*self.inner;
        if values.len() != inner.variable_count {
            return Err(ExporterError::LabelValueCount {
                metric: inner.core.name.to_string(),
                expected: inner
                    .core
                    .variable_names
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
                got: values.len(),
            });
        }
        let (hash, plain) = words::hash_values(inner.seed, values);
        let layout = &inner.core.layout;
        let same = |child: &M| {
            let series = child.series();
            series.hash == hash && layout.matches(series.text(), values, plain)
        };
        let make = || {
            let series = Arc::new(Series::new(Arc::clone(&inner.core), values, hash));
            inner.family.add_series(series.clone());
            M::from_series(series)
        };
        Ok(inner
            .children
            .find_or_insert(hash, same, make, |child| child.series().hash))
    }
}
