//! Infos: key-value metadata of a target (build, model), as one series of value 1 whose
//! labels carry the metadata: [`Info`], and [`InfoVec`] keyed by variable labels.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::ExporterError;
use crate::kinds::handle::Registered;
use crate::kinds::table::MetricKind;
use crate::registry::listed::{Kind, Listed, Sample};
use crate::registry::validate::label_name_problem;
use crate::registry::{Opts, Registry};

/// Metadata pairs, sorted by name.
type Pairs = Arc<[(String, String)]>;

/// Key-value metadata, shown as the series `<name>_info{key="value",..} 1`; each
/// [`Info::info`] replaces the pairs the last one set.
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let build = registry.info(&Opts::new("build", "Build metadata")).unwrap();
/// build.info(&[("version", "1.2.3"), ("commit", "abc")]).unwrap();
/// assert_eq!(
///     registry.render(),
///     concat!(
///         "# HELP build_info Build metadata\n",
///         "# TYPE build_info gauge\n",
///         "build_info{commit=\"abc\",version=\"1.2.3\"} 1\n",
///     )
/// );
/// ```
#[must_use]
pub struct Info {
    metric: Arc<Listed<InfoKind>>,
    child: Arc<Mutex<Pairs>>,
}

/// Infos keyed by the values of variable labels.
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let models = registry.info_vec(&Opts::new("model", "Loaded models"), &["worker"]).unwrap();
/// models.with_label_values(&["w1"]).info(&[("name", "llama")]).unwrap();
/// assert_eq!(
///     registry.render(),
///     concat!(
///         "# HELP model_info Loaded models\n",
///         "# TYPE model_info gauge\n",
///         "model_info{name=\"llama\",worker=\"w1\"} 1\n",
///     )
/// );
/// ```
#[must_use]
pub struct InfoVec {
    metric: Arc<Listed<InfoKind>>,
}

/// What an info keeps per child: its pairs.
pub(crate) struct InfoKind;

impl Kind for InfoKind {
    type Child = Mutex<Pairs>;

    fn new_child(&self) -> Mutex<Pairs> {
        Mutex::new(Arc::from(Vec::new()))
    }

    fn samples(&self, child: &Mutex<Pairs>, labels: &[(String, String)], out: &mut Vec<Sample>) {
        let pairs = Arc::clone(&child.lock());
        let mut labels = labels.to_vec();
        labels.extend(pairs.iter().cloned());
        labels.sort();
        out.push(Sample {
            labels,
            one: None,
            value: 1,
        });
    }
}

impl Info {
    /// The constant labels (for a vec child, its vec's), sorted by name.
    #[must_use]
    pub fn const_labels(&self) -> Vec<(String, String)> {
        self.metric.core.const_labels()
    }

    /// Sets the metadata, replacing the pairs set before. Keys follow the label name rules
    /// and may not be one of the metric's own labels (constant, variable or hierarchy).
    ///
    /// # Errors
    ///
    /// [`ExporterError::InvalidLabelName`] or [`ExporterError::DuplicateLabel`] naming the
    /// key; the info keeps its pairs.
    pub fn info(&self, pairs: &[(&str, &str)]) -> Result<(), ExporterError> {
        let metric = || self.metric.core.name.to_string();
        let mut sorted: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let problem = label_name_problem(key).or_else(|| {
                self.metric
                    .is_label(key)
                    .then_some("it is already one of the metric's labels")
            });
            if let Some(reason) = problem {
                return Err(ExporterError::InvalidLabelName {
                    metric: metric(),
                    label: (*key).into(),
                    reason,
                });
            }
            if sorted.iter().any(|(k, _)| k == key) {
                return Err(ExporterError::DuplicateLabel {
                    metric: metric(),
                    label: (*key).into(),
                });
            }
            sorted.push(((*key).into(), (*value).into()));
        }
        sorted.sort();
        let _section = crate::fork::enter();
        *self.child.lock() = sorted.into();
        Ok(())
    }

    /// The pairs set last, sorted by key.
    #[must_use]
    pub fn get(&self) -> Vec<(String, String)> {
        let _section = crate::fork::enter();
        self.child.lock().to_vec()
    }

    /// The full exported name (the family's, without `_info`).
    #[must_use]
    pub fn name(&self) -> String {
        self.metric.core.name.to_string()
    }
}

impl InfoVec {
    /// The variable label names, in declaration order.
    #[must_use]
    pub fn variable_labels(&self) -> Vec<&str> {
        self.metric
            .core
            .layout
            .names()
            .iter()
            .map(|n| &**n)
            .collect()
    }

    /// The constant labels, sorted by name.
    #[must_use]
    pub fn const_labels(&self) -> Vec<(String, String)> {
        self.metric.core.const_labels()
    }

    /// The info for these label values (in declaration order), created on first use.
    ///
    /// A wrong number of values is logged and answered with an info that shows nowhere; use
    /// [`InfoVec::get_metric_with_label_values`] to get the error instead.
    pub fn with_label_values<V: AsRef<str>>(&self, values: &[V]) -> Info {
        self.get_metric_with_label_values(values)
            .unwrap_or_else(|error| {
                tracing::error!(%error, "label values refused; the info goes nowhere");
                Info {
                    metric: Arc::clone(&self.metric),
                    child: Arc::new(InfoKind.new_child()),
                }
            })
    }

    /// The info for these label values (in declaration order), created on first use.
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] for a wrong number of values.
    pub fn get_metric_with_label_values<V: AsRef<str>>(
        &self,
        values: &[V],
    ) -> Result<Info, ExporterError> {
        Ok(Info {
            metric: Arc::clone(&self.metric),
            child: self.metric.child(values)?,
        })
    }

    /// Removes the info of these label values (in declaration order).
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] for a wrong number of values,
    /// [`ExporterError::NoSuchSeries`] when there is no info with these values.
    pub fn remove_label_values<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        self.metric.remove(values)
    }

    /// Removes every info whose variable labels named in `labels` have the given values;
    /// returns how many. A label the vec does not have matches nothing.
    pub fn remove_matching(&self, labels: &[(&str, &str)]) -> usize {
        self.metric.remove_matching(labels)
    }

    /// Removes every info.
    pub fn clear(&self) {
        self.metric.clear();
    }

    /// The full exported name (the family's, without `_info`).
    #[must_use]
    pub fn name(&self) -> String {
        self.metric.core.name.to_string()
    }
}

impl Registry {
    /// Registers an info: metadata pairs shown as `<name>_info{..} 1`, none until
    /// [`Info::info`] sets them.
    ///
    /// # Errors
    ///
    /// A bad name, help or label, or a conflict with a registered metric;
    /// [`ExporterError::NotMultiprocess`] in multiprocess mode.
    pub fn info(&self, opts: &Opts<'_>) -> Result<Info, ExporterError> {
        let metric = self.listed(opts, MetricKind::Info, &[], InfoKind)?;
        let child = metric.child::<&str>(&[])?;
        Ok(Info { metric, child })
    }

    /// Registers infos keyed by the values of `variable_labels`.
    ///
    /// # Errors
    ///
    /// A bad name, help or label, or a conflict with a registered metric;
    /// [`ExporterError::NotMultiprocess`] in multiprocess mode.
    pub fn info_vec(
        &self,
        opts: &Opts<'_>,
        variable_labels: &[&str],
    ) -> Result<InfoVec, ExporterError> {
        let metric = self.listed(opts, MetricKind::Info, variable_labels, InfoKind)?;
        Ok(InfoVec { metric })
    }
}

impl Registered for Info {
    fn metric_id(&self) -> u32 {
        self.metric.core.id
    }
}

impl Registered for InfoVec {
    fn metric_id(&self) -> u32 {
        self.metric.core.id
    }
}

impl Clone for Info {
    fn clone(&self) -> Self {
        Self {
            metric: Arc::clone(&self.metric),
            child: Arc::clone(&self.child),
        }
    }
}

impl Clone for InfoVec {
    fn clone(&self) -> Self {
        Self {
            metric: Arc::clone(&self.metric),
        }
    }
}

impl std::fmt::Debug for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Info")
            .field("name", &self.name())
            .field("info", &self.get())
            .finish()
    }
}

impl std::fmt::Debug for InfoVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoVec")
            .field("name", &self.name())
            .finish()
    }
}
