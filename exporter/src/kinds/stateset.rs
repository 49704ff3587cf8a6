//! Statesets: which of a fixed list of states is current, as one series per state labelled
//! with the metric's own name: [`StateSet`], and [`StateSetVec`] keyed by variable labels.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::error::ExporterError;
use crate::kinds::handle::Registered;
use crate::kinds::table::MetricKind;
use crate::registry::listed::{Kind, Listed, Sample};
use crate::registry::validate::label_name_problem;
use crate::registry::{Opts, Registry};

/// One of a fixed list of states, the first at creation: shown as `<name>{<name>="<state>"}`
/// of 1 for the current state and 0 for the others, in the order of the states
/// (prometheus_client's `Enum`).
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let worker = registry
///     .state_set(&Opts::new("worker_state", "Worker state"), &["starting", "running"])
///     .unwrap();
/// worker.state("running").unwrap();
/// assert!(worker.state("sleeping").is_err());
/// assert_eq!(
///     registry.render(),
///     concat!(
///         "# HELP worker_state Worker state\n",
///         "# TYPE worker_state gauge\n",
///         "worker_state{worker_state=\"starting\"} 0\n",
///         "worker_state{worker_state=\"running\"} 1\n",
///     )
/// );
/// ```
#[must_use]
pub struct StateSet {
    metric: Arc<Listed<StateSetKind>>,
    current: Arc<AtomicUsize>,
}

/// Statesets keyed by the values of variable labels, each starting in the first state.
#[must_use]
pub struct StateSetVec {
    metric: Arc<Listed<StateSetKind>>,
}

/// The states of a stateset, and the label naming them (the metric's name).
pub(crate) struct StateSetKind {
    label: Box<str>,
    states: Box<[Box<str>]>,
}

impl Kind for StateSetKind {
    /// The index of the current state.
    type Child = AtomicUsize;

    fn new_child(&self) -> AtomicUsize {
        AtomicUsize::new(0)
    }

    fn samples(&self, current: &AtomicUsize, labels: &[(String, String)], out: &mut Vec<Sample>) {
        let current = current.load(Relaxed);
        for (index, state) in self.states.iter().enumerate() {
            out.push(Sample {
                labels: labels.to_vec(),
                one: Some((self.label.to_string(), state.to_string())),
                value: i64::from(index == current),
            });
        }
    }
}

impl StateSet {
    /// The constant labels (for a vec child, its vec's), sorted by name.
    #[must_use]
    pub fn const_labels(&self) -> Vec<(String, String)> {
        self.metric.core.const_labels()
    }

    /// Makes `state` the current state.
    ///
    /// # Errors
    ///
    /// [`ExporterError::UnknownState`] naming a state it does not have; the current state
    /// stays.
    pub fn state(&self, state: &str) -> Result<(), ExporterError> {
        let states = &self.metric.kind.states;
        match states.iter().position(|s| **s == *state) {
            Some(index) => {
                self.current.store(index, Relaxed);
                Ok(())
            }
            None => Err(ExporterError::UnknownState {
                metric: self.name(),
                state: state.into(),
                states: self.states(),
            }),
        }
    }

    /// The current state.
    #[must_use]
    pub fn get(&self) -> String {
        self.metric.kind.states[self.current.load(Relaxed)].to_string()
    }

    /// Every state, in the order given at creation.
    #[must_use]
    pub fn states(&self) -> Vec<String> {
        self.metric
            .kind
            .states
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// The full exported name.
    #[must_use]
    pub fn name(&self) -> String {
        self.metric.core.name.to_string()
    }
}

impl StateSetVec {
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

    /// The stateset for these label values (in declaration order), created on first use.
    ///
    /// A wrong number of values is logged and answered with a stateset that shows nowhere;
    /// use [`StateSetVec::get_metric_with_label_values`] to get the error instead.
    pub fn with_label_values<V: AsRef<str>>(&self, values: &[V]) -> StateSet {
        self.get_metric_with_label_values(values)
            .unwrap_or_else(|error| {
                tracing::error!(%error, "label values refused; the state goes nowhere");
                StateSet {
                    metric: Arc::clone(&self.metric),
                    current: Arc::new(AtomicUsize::new(0)),
                }
            })
    }

    /// The stateset for these label values (in declaration order), created on first use.
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] for a wrong number of values.
    pub fn get_metric_with_label_values<V: AsRef<str>>(
        &self,
        values: &[V],
    ) -> Result<StateSet, ExporterError> {
        Ok(StateSet {
            metric: Arc::clone(&self.metric),
            current: self.metric.child(values)?,
        })
    }

    /// Removes the stateset of these label values (in declaration order).
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] for a wrong number of values,
    /// [`ExporterError::NoSuchSeries`] when there is no stateset with these values.
    pub fn remove_label_values<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        self.metric.remove(values)
    }

    /// Removes every stateset whose variable labels named in `labels` have the given values;
    /// returns how many. A label the vec does not have matches nothing.
    pub fn remove_matching(&self, labels: &[(&str, &str)]) -> usize {
        self.metric.remove_matching(labels)
    }

    /// Removes every stateset.
    pub fn clear(&self) {
        self.metric.clear();
    }

    /// The full exported name.
    #[must_use]
    pub fn name(&self) -> String {
        self.metric.core.name.to_string()
    }
}

/// Checks the states and that the metric's name can label them.
fn state_set_kind(
    opts: &Opts<'_>,
    variable_labels: &[&str],
    states: &[&str],
) -> Result<StateSetKind, ExporterError> {
    let name = opts.name;
    let invalid = |reason| ExporterError::InvalidStates {
        metric: name.into(),
        states: states.iter().map(|s| s.to_string()).collect(),
        reason,
    };
    if states.is_empty() {
        return Err(invalid("a stateset needs at least one state"));
    }
    if states
        .iter()
        .enumerate()
        .any(|(i, s)| states[..i].contains(s))
    {
        return Err(invalid("a state is given more than once"));
    }
    let taken =
        opts.const_labels.iter().any(|(k, _)| *k == name) || variable_labels.contains(&name);
    let problem = label_name_problem(name)
        .or_else(|| taken.then_some("a stateset labels its states with its own name"));
    if let Some(reason) = problem {
        return Err(ExporterError::InvalidLabelName {
            metric: name.into(),
            label: name.into(),
            reason,
        });
    }
    Ok(StateSetKind {
        label: name.into(),
        states: states.iter().map(|s| (*s).into()).collect(),
    })
}

impl Registry {
    /// Registers a stateset of these states (at least one), the first current.
    ///
    /// # Errors
    ///
    /// A bad name, help, label or states list, or a conflict with a registered metric;
    /// [`ExporterError::NotMultiprocess`] in multiprocess mode.
    pub fn state_set(&self, opts: &Opts<'_>, states: &[&str]) -> Result<StateSet, ExporterError> {
        let kind = state_set_kind(opts, &[], states)?;
        let metric = self.listed(opts, MetricKind::StateSet, &[], kind)?;
        let current = metric.child::<&str>(&[])?;
        Ok(StateSet { metric, current })
    }

    /// Registers statesets of these states (at least one) keyed by the values of
    /// `variable_labels`.
    ///
    /// # Errors
    ///
    /// A bad name, help, label or states list, or a conflict with a registered metric;
    /// [`ExporterError::NotMultiprocess`] in multiprocess mode.
    pub fn state_set_vec(
        &self,
        opts: &Opts<'_>,
        variable_labels: &[&str],
        states: &[&str],
    ) -> Result<StateSetVec, ExporterError> {
        let kind = state_set_kind(opts, variable_labels, states)?;
        let metric = self.listed(opts, MetricKind::StateSet, variable_labels, kind)?;
        Ok(StateSetVec { metric })
    }
}

impl Registered for StateSet {
    fn metric_id(&self) -> u32 {
        self.metric.core.id
    }
}

impl Registered for StateSetVec {
    fn metric_id(&self) -> u32 {
        self.metric.core.id
    }
}

impl Clone for StateSet {
    fn clone(&self) -> Self {
        Self {
            metric: Arc::clone(&self.metric),
            current: Arc::clone(&self.current),
        }
    }
}

impl Clone for StateSetVec {
    fn clone(&self) -> Self {
        Self {
            metric: Arc::clone(&self.metric),
        }
    }
}

impl std::fmt::Debug for StateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSet")
            .field("name", &self.name())
            .field("state", &self.get())
            .finish()
    }
}

impl std::fmt::Debug for StateSetVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSetVec")
            .field("name", &self.name())
            .finish()
    }
}
