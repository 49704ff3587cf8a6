//! The registry: every family by name, registration rules, and rendering of the whole.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::family::{Family, Help};
use crate::histogram::{Buckets, DEFAULT_BUCKETS};
use crate::series::{AnySeries, Cell, MetricCore, Series};
use crate::vec::{MetricVec, VecChild};
use crate::{
    Counter, CounterVec, ExporterError, Gauge, GaugeVec, Histogram, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, MetricKind, validate,
};

/// Name, help and constant labels of a metric to register.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Opts<'a> {
    /// The full exported name.
    pub name: &'a str,
    /// The help text (required).
    pub help: &'a str,
    /// Constant labels: part of the metric's identity.
    pub const_labels: &'a [(&'a str, &'a str)],
}

impl<'a> Opts<'a> {
    /// Options with no constant labels.
    pub fn new(name: &'a str, help: &'a str) -> Self {
        Self {
            name,
            help,
            const_labels: &[],
        }
    }

    /// The same options with these constant labels.
    pub fn with_const_labels(self, const_labels: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            const_labels,
            ..self
        }
    }
}

/// Every metric family, sorted by name, ready to render.
///
/// A metric's identity is its name plus its constant labels: registering the same identity
/// twice is an error, while the same name with other constant labels joins the family when
/// the type and help agree. Every check happens at registration, so rendering never fails.
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let hits = registry
///     .int_counter(&Opts::new("cache_hits_total", "Cache hits").with_const_labels(&[("tier", "l1")]))
///     .unwrap();
/// hits.inc();
/// assert_eq!(
///     registry.render(),
///     concat!(
///         "# HELP cache_hits_total Cache hits\n",
///         "# TYPE cache_hits_total counter\n",
///         "cache_hits_total{tier=\"l1\"} 1\n",
///     )
/// );
/// ```
#[derive(Default)]
pub struct Registry {
    families: RwLock<BTreeMap<Arc<str>, Arc<Family>>>,
    /// Descriptions from `describe_*` macros for families not created yet.
    descriptions: Mutex<HashMap<Box<str>, Box<str>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("families", &self.families.read().len())
            .finish()
    }
}

macro_rules! creators {
    ($($(#[$doc:meta])* $scalar:ident -> $handle:ty, $(#[$vdoc:meta])* $vec:ident -> $vhandle:ty;)*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a registered metric.
        pub fn $scalar(&self, opts: &Opts<'_>) -> Result<$handle, ExporterError> {
            self.scalar(opts, None)
        }

        $(#[$vdoc])*
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a registered metric.
        pub fn $vec(&self, opts: &Opts<'_>, variable_labels: &[&str]) -> Result<$vhandle, ExporterError> {
            self.vec(opts, variable_labels, None)
        }
    )*};
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    creators! {
        /// Registers an f64 counter.
        counter -> Counter,
        /// Registers a vec of f64 counters.
        counter_vec -> CounterVec;
        /// Registers a u64 counter.
        int_counter -> IntCounter,
        /// Registers a vec of u64 counters.
        int_counter_vec -> IntCounterVec;
        /// Registers an f64 gauge.
        gauge -> Gauge,
        /// Registers a vec of f64 gauges.
        gauge_vec -> GaugeVec;
        /// Registers an i64 gauge.
        int_gauge -> IntGauge,
        /// Registers a vec of i64 gauges.
        int_gauge_vec -> IntGaugeVec;
    }

    /// Registers a histogram; `None` buckets means [`DEFAULT_BUCKETS`].
    ///
    /// # Errors
    ///
    /// A bad name, help, label or bucket list, or a conflict with a registered metric.
    pub fn histogram(
        &self,
        opts: &Opts<'_>,
        buckets: Option<&[f64]>,
    ) -> Result<Histogram, ExporterError> {
        self.scalar(opts, Some(buckets.unwrap_or(&DEFAULT_BUCKETS)))
    }

    /// Registers a vec of histograms; `None` buckets means [`DEFAULT_BUCKETS`].
    ///
    /// # Errors
    ///
    /// A bad name, help, label or bucket list, or a conflict with a registered metric.
    pub fn histogram_vec(
        &self,
        opts: &Opts<'_>,
        variable_labels: &[&str],
        buckets: Option<&[f64]>,
    ) -> Result<HistogramVec, ExporterError> {
        self.vec(
            opts,
            variable_labels,
            Some(buckets.unwrap_or(&DEFAULT_BUCKETS)),
        )
    }

    /// The whole exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&[], &mut out);
        out
    }

    /// Appends the exposition text of the series whose constant labels include every
    /// `required` pair (all series when it is empty): families by name, series by labels.
    pub fn render_into(&self, required: &[(&str, &str)], out: &mut String) {
        let families: Vec<Arc<Family>> = {
            // fork gate: the lock below must not be held by another thread when a process forks.
            let _section = crate::fork::enter();
            self.families.read().values().cloned().collect()
        };
        for family in families {
            family.render(required, out);
        }
    }

    fn scalar<M: VecChild>(
        &self,
        opts: &Opts<'_>,
        buckets: Option<&[f64]>,
    ) -> Result<M, ExporterError> {
        let (_, scalar) =
            self.register::<M::Cell>(opts, Help::Required(opts.help), &[], buckets)?;
        let series = scalar.expect("a scalar registration makes its series");
        Ok(M::from_series(series))
    }

    fn vec<M: VecChild>(
        &self,
        opts: &Opts<'_>,
        variable_labels: &[&str],
        buckets: Option<&[f64]>,
    ) -> Result<MetricVec<M>, ExporterError> {
        let ((family, core), _) =
            self.register::<M::Cell>(opts, Help::Required(opts.help), variable_labels, buckets)?;
        Ok(MetricVec::new(core, family))
    }

    /// Checks and registers one metric; with no variable labels it is a scalar and its series
    /// is created and returned.
    #[allow(clippy::type_complexity)]
    fn register<C: Cell>(
        &self,
        opts: &Opts<'_>,
        help: Help<'_>,
        variable_labels: &[&str],
        buckets: Option<&[f64]>,
    ) -> Result<((Arc<Family>, Arc<MetricCore>), Option<Arc<Series<C>>>), ExporterError> {
        let name = opts.name;
        validate::metric_name(name)?;
        if let Help::Required(text) = help {
            validate::help(name, text)?;
        }
        let labels = opts
            .const_labels
            .iter()
            .map(|(k, _)| *k)
            .chain(variable_labels.iter().copied());
        validate::label_names(name, C::KIND, labels)?;
        let buckets = match buckets {
            Some(given) => Some(Arc::new(Buckets::new(validate::buckets(name, given)?))),
            None => None,
        };
        let family = self.family(name, C::KIND, help);
        let const_labels = opts
            .const_labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let variable_names = variable_labels.iter().map(|n| (*n).into()).collect();
        let core = Arc::new(MetricCore::new(
            Arc::clone(&family.name),
            const_labels,
            variable_names,
            buckets,
        ));
        let mut typed = None;
        family.register(C::KIND, help, &core, || {
            if !variable_labels.is_empty() {
                return None;
            }
            let series = Arc::new(Series::<C>::new(Arc::clone(&core), &[] as &[&str], 0));
            typed = Some(Arc::clone(&series));
            Some(series as Arc<dyn AnySeries>)
        })?;
        Ok(((family, core), typed))
    }

    /// The family of this name, created if new.
    fn family(&self, name: &str, kind: MetricKind, help: Help<'_>) -> Arc<Family> {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        if let Some(family) = self.families.read().get(name) {
            return Arc::clone(family);
        }
        let mut families = self.families.write();
        let description = self.descriptions.lock().remove(name);
        let help = match (help, description.as_deref()) {
            (Help::Placeholder(_), Some(described)) => Help::Required(described),
            (help, _) => help,
        };
        let family = families
            .entry(name.into())
            .or_insert_with_key(|key| Arc::new(Family::new(Arc::clone(key), kind, help)));
        Arc::clone(family)
    }

    /// The scalar series with this name and constant labels, registered by a metric macro if
    /// it does not exist yet. Used by [`crate::RegistryRecorder`].
    pub(crate) fn macro_scalar<C: Cell>(
        &self,
        name: &str,
        const_labels: &[(&str, &str)],
    ) -> Result<Arc<dyn Any + Send + Sync>, ExporterError> {
        let mut identity: Vec<(Box<str>, Box<str>)> = const_labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        identity.sort();
        // Two rounds: a registration racing ours may win between the lookup and the insert.
        for _ in 0..2 {
            let existing = {
                // fork gate: the lock below must not be held by another thread when a process forks.
                let _section = crate::fork::enter();
                self.families.read().get(name).cloned()
            };
            if let Some(family) = existing {
                if family.kind != C::KIND {
                    return Err(ExporterError::KindConflict {
                        name: name.into(),
                        existing: family.kind,
                        requested: C::KIND,
                    });
                }
                match family.scalar(&identity) {
                    Some(Some(series)) => return Ok(series),
                    Some(None) => {
                        return Err(ExporterError::AlreadyRegistered {
                            name: name.into(),
                            const_labels: identity
                                .into_iter()
                                .map(|(k, v)| (k.into(), v.into()))
                                .collect(),
                        });
                    }
                    None => {}
                }
            }
            let buckets = (C::KIND == MetricKind::Histogram).then_some(&DEFAULT_BUCKETS[..]);
            let opts = Opts {
                name,
                help: name,
                const_labels,
            };
            match self.register::<C>(&opts, Help::Placeholder(name), &[], buckets) {
                Ok((_, series)) => {
                    return Ok(series.expect("a scalar registration makes its series"));
                }
                Err(ExporterError::AlreadyRegistered { .. }) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(ExporterError::AlreadyRegistered {
            name: name.into(),
            const_labels: identity
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        })
    }

    /// Sets the help of a family created by a metric macro, or of one created later.
    pub(crate) fn describe(&self, name: &str, help: &str) {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        match self.families.read().get(name) {
            Some(family) => family.describe(help),
            None => {
                self.descriptions.lock().insert(name.into(), help.into());
            }
        }
    }
}
