//! The creators of infos and enums (statesets), beside those of the kinds table.

use dynamo_exporter::{Info, InfoVec, StateSet, StateSetVec};

use super::Metrics;
use crate::MetricsError;

impl Metrics {
    /// Creates an info: metadata pairs set by [`Info::info`], shown as the gauge
    /// `<name>_info{key="value",..} 1` (OpenMetrics: an `info`).
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # let runtime = dynamo_runtime::DistributedRuntime::builder().global_recorder(false).build()?;
    /// let metrics = runtime.namespace("ns").metrics();
    /// let build = metrics.create_info("build", "Build metadata", &[])?;
    /// build.info(&[("version", "1.2.3")])?;
    /// assert_eq!(
    ///     metrics.prometheus_expfmt()?,
    ///     concat!(
    ///         "# HELP dynamo_component_build_info Build metadata\n",
    ///         "# TYPE dynamo_component_build_info gauge\n",
    ///         "dynamo_component_build_info{dynamo_namespace=\"ns\",version=\"1.2.3\"} 1\n",
    ///     )
    /// );
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A bad name, help or label, or a conflict with a metric already registered.
    pub fn create_info(
        &self,
        name: &str,
        help: &str,
        const_labels: &[(&str, &str)],
    ) -> Result<Info, MetricsError> {
        self.create(name, help, const_labels, &[], |registry, opts| {
            registry.info(opts)
        })
    }

    /// Creates infos keyed by the values of `label_names`.
    ///
    /// # Errors
    ///
    /// A bad name, help or label, or a conflict with a metric already registered.
    pub fn create_infovec(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        const_labels: &[(&str, &str)],
    ) -> Result<InfoVec, MetricsError> {
        self.create(name, help, const_labels, label_names, |registry, opts| {
            registry.info_vec(opts, label_names)
        })
    }

    /// Creates an enum: one of `states`, the first until [`StateSet::state`] sets another,
    /// shown as a gauge of one series per state (in their order) labelled with the metric's
    /// full name, 1 for the current state and 0 for the others (OpenMetrics: a `stateset`).
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// # let runtime = dynamo_runtime::DistributedRuntime::builder().global_recorder(false).build()?;
    /// let metrics = runtime.namespace("ns").metrics();
    /// let state = metrics.create_enum("worker_state", "Worker state", &[], &["starting", "running"])?;
    /// state.state("running")?;
    /// assert_eq!(
    ///     metrics.prometheus_expfmt()?,
    ///     concat!(
    ///         "# HELP dynamo_component_worker_state Worker state\n",
    ///         "# TYPE dynamo_component_worker_state gauge\n",
    ///         "dynamo_component_worker_state{dynamo_component_worker_state=\"starting\",dynamo_namespace=\"ns\"} 0\n",
    ///         "dynamo_component_worker_state{dynamo_component_worker_state=\"running\",dynamo_namespace=\"ns\"} 1\n",
    ///     )
    /// );
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A bad name, help, label or states list (empty, or a state twice), or a conflict with a
    /// metric already registered.
    pub fn create_enum(
        &self,
        name: &str,
        help: &str,
        const_labels: &[(&str, &str)],
        states: &[&str],
    ) -> Result<StateSet, MetricsError> {
        self.create(name, help, const_labels, &[], |registry, opts| {
            registry.state_set(opts, states)
        })
    }

    /// Creates enums of `states` keyed by the values of `label_names`, each starting in the
    /// first state.
    ///
    /// # Errors
    ///
    /// A bad name, help, label or states list (empty, or a state twice), or a conflict with a
    /// metric already registered.
    pub fn create_enumvec(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        const_labels: &[(&str, &str)],
        states: &[&str],
    ) -> Result<StateSetVec, MetricsError> {
        self.create(name, help, const_labels, label_names, |registry, opts| {
            registry.state_set_vec(opts, label_names, states)
        })
    }
}
