//! Labelled metrics: one series per set of variable label values.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::family::Family;
use crate::series::{AnySeries, Cell, MetricCore, Series};
use crate::{Counter, ExporterError, Gauge, Histogram, IntCounter, IntGauge};

/// A handle type that can be a child of a [`MetricVec`].
pub(crate) trait VecChild: Clone {
    type Cell: Cell;
    fn from_series(series: Arc<Series<Self::Cell>>) -> Self;
    fn series(&self) -> &Arc<Series<Self::Cell>>;
}

/// A metric with variable labels: each distinct set of label values is its own series.
///
/// Looking up an existing series takes a read lock and allocates nothing; a new series is
/// created once and kept for the life of the registry.
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
    children: RwLock<HashTable<M>>,
    hasher: foldhash::fast::RandomState,
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
            core,
            family,
            children: RwLock::new(HashTable::new()),
            hasher: foldhash::fast::RandomState::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The series for these label values (in declaration order), created on first use.
    ///
    /// A wrong number of values is logged and answered with a no-op handle; use
    /// [`MetricVec::get_metric_with_label_values`] to get the error instead.
    pub fn with_label_values<V: AsRef<str>>(&self, values: &[V]) -> M
    where
        M: NoopChild,
    {
        match self.get_metric_with_label_values(values) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(%error, "label values refused; the update goes nowhere");
                M::noop_child()
            }
        }
    }

    /// The series for these label values (in declaration order), created on first use.
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] when the number of values differs from the number of
    /// variable labels.
    pub fn get_metric_with_label_values<V: AsRef<str>>(
        &self,
        values: &[V],
    ) -> Result<M, ExporterError> {
        let inner = &*self.inner;
        if values.len() != inner.core.variable_names.len() {
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
        let hash = self.hash(values);
        let same = |child: &M| {
            child
                .series()
                .values()
                .iter()
                .zip(values)
                .all(|(a, b)| **a == *b.as_ref())
        };
        if let Some(child) = inner.children.read().find(hash, same) {
            return Ok(child.clone());
        }
        let mut children = inner.children.write();
        if let Some(child) = children.find(hash, same) {
            return Ok(child.clone());
        }
        let values: Box<[Box<str>]> = values.iter().map(|v| v.as_ref().into()).collect();
        let series = Arc::new(Series::new(Arc::clone(&inner.core), values));
        inner.family.add_series(series.clone());
        let child = M::from_series(series);
        children.insert_unique(hash, child.clone(), |c| self.hash(c.series().values()));
        Ok(child)
    }

    fn hash<V: AsRef<str>>(&self, values: &[V]) -> u64 {
        let mut hasher = self.inner.hasher.build_hasher();
        for value in values {
            value.as_ref().hash(&mut hasher);
        }
        hasher.finish()
    }
}

/// A handle type with a no-op form, returned when label values are refused.
pub trait NoopChild {
    /// A handle registered nowhere.
    fn noop_child() -> Self;
}

macro_rules! noop_child {
    ($($t:ty),*) => {$(
        impl NoopChild for $t {
            fn noop_child() -> Self {
                <$t>::noop()
            }
        }
    )*};
}
noop_child!(Counter, IntCounter, Gauge, IntGauge, Histogram);
