//! Engine pass-through: serving the metrics an inference engine (vLLM, SGLang, TensorRT-LLM)
//! exposes in the text format on the runtime's page, filtered by family name and labelled
//! with the hierarchy and chosen labels.
//!
//! An [`EngineSource`] reads the engine's text; [`crate::Metrics::register_engine_metrics`]
//! registers it at a level with an [`EngineFilter`]. Before each scrape of that level or one
//! above it, the text is read, parsed strictly, filtered, given the level's hierarchy labels
//! and the filter's labels where a sample lacks them (its own labels win), and joins the page
//! through the same checks as the text of exposition callbacks.
//!
//! A source registered at several levels is read once per scrape, and its families appear
//! once: the first registration due wins, with its labels.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dynamo_exporter::SettingSource;

use crate::MetricsError;

type ReadFn = dyn Fn() -> Result<String, String> + Send + Sync;

static NEXT_SOURCE: AtomicU64 = AtomicU64::new(1);

/// The family name prefixes a filter skips unless told to keep them: the process and
/// interpreter metrics a client library adds by itself (prometheus_client's `process_*` and
/// `python_*`), which the runtime shows already (`process_*`) or which describe the library
/// rather than the engine.
pub const PROCESS_FAMILY_PREFIXES: [&str; 2] = ["process_", "python_"];

/// Where an engine's metrics come from: a function returning exposition text.
///
/// Clones are the same source: registered at several levels, it is read once per scrape and
/// each of its families appears once.
///
/// ```
/// # fn main() -> anyhow::Result<()> {
/// use dynamo_runtime::{DistributedRuntime, EngineFilter, EngineSource};
///
/// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
/// let engine = EngineSource::new(|| {
///     Ok::<_, std::convert::Infallible>(
///         "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 2\n".into(),
///     )
/// });
/// let endpoint = runtime.namespace("ns").component("vllm").endpoint("generate");
/// endpoint.metrics().register_engine_metrics(
///     &engine,
///     EngineFilter::new().with_include_prefix("vllm:").with_label("worker_id", "7"),
/// )?;
/// assert_eq!(
///     endpoint.metrics().prometheus_expfmt()?,
///     concat!(
///         "# TYPE vllm:num_requests_running gauge\n",
///         "vllm:num_requests_running{dynamo_component=\"vllm\",dynamo_endpoint=\"generate\",",
///         "dynamo_namespace=\"ns\",model_name=\"m\",worker_id=\"7\"} 2\n",
///     )
/// );
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct EngineSource {
    identity: SourceIdentity,
    read: Arc<ReadFn>,
}

/// What makes two sources the same: being clones, or having the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SourceIdentity {
    /// Made by [`EngineSource::new`]: the same only as its clones.
    Own(u64),
    /// Made by [`EngineSource::with_key`].
    Keyed(u64),
}

impl std::fmt::Debug for EngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSource")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl EngineSource {
    /// A source that calls `read` for the engine's text before each scrape that shows it. An
    /// error (or a panic) is logged and the scrape goes on without the text.
    pub fn new<F, E>(read: F) -> Self
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Display,
    {
        Self {
            identity: SourceIdentity::Own(NEXT_SOURCE.fetch_add(1, Ordering::Relaxed)),
            read: Arc::new(move || read().map_err(|e| e.to_string())),
        }
    }

    /// A source that counts as the same as every other source made with `key`: read once per
    /// scrape, its families shown once. For sources made apart that read the same thing, such
    /// as bindings that wrap one object of another language each time it is registered (the
    /// key is then the object's address, which stays its own while a registration keeps the
    /// object alive). Sources made with [`EngineSource::new`] never share a key's identity.
    pub fn with_key<F, E>(key: u64, read: F) -> Self
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Display,
    {
        Self {
            identity: SourceIdentity::Keyed(key),
            read: Arc::new(move || read().map_err(|e| e.to_string())),
        }
    }

    /// What names this source among all sources.
    pub(crate) fn identity(&self) -> SourceIdentity {
        self.identity
    }

    /// Reads the engine's text.
    pub(crate) fn read(&self) -> Result<String, String> {
        (self.read)()
    }
}

/// Which families of an engine's text join the page, and the labels their samples get.
///
/// By default every family joins except those named `process_*` or `python_*`
/// ([`PROCESS_FAMILY_PREFIXES`]): the runtime shows its own `process_*` metrics, and the same
/// family twice would make the page invalid.
///
/// ```
/// use dynamo_runtime::EngineFilter;
///
/// let filter = EngineFilter::new()
///     .with_include_prefix("vllm:")
///     .with_exclude_prefix("vllm:cache_config")
///     .with_label("model", "llama-3-8b");
/// assert!(filter.keeps("vllm:num_requests_running"));
/// assert!(!filter.keeps("vllm:cache_config_info"));
/// assert!(!filter.keeps("sglang:num_running_reqs"));
/// assert!(!EngineFilter::new().keeps("process_cpu_seconds_total"));
/// assert!(EngineFilter::new().with_process_families(true).keeps("process_cpu_seconds_total"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct EngineFilter {
    include: Vec<String>,
    exclude: Vec<String>,
    labels: Vec<(String, String)>,
    process_families: bool,
}

impl EngineFilter {
    /// Every family but `process_*` and `python_*`, with no labels of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps only families whose name starts with one of the prefixes given this way (all
    /// families when none is given).
    pub fn with_include_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.include.push(prefix.into());
        self
    }

    /// Leaves out families whose name starts with `prefix`; exclusion wins over inclusion.
    pub fn with_exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.exclude.push(prefix.into());
        self
    }

    /// Adds the label `name="value"` to every sample that has no label `name`, such as
    /// `model` or `worker_id`. Checked when the filter is registered: a valid label name, not
    /// `le`, `quantile`, `__*` or `dynamo_*`, given once.
    pub fn with_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// Whether the `process_*` and `python_*` families of the text join the page too
    /// (default false). With the runtime's own process metrics on, a `process_*` family in the
    /// text conflicts with them and the whole text is left off the page.
    pub fn with_process_families(mut self, keep: bool) -> Self {
        self.process_families = keep;
        self
    }

    /// Whether the family `name` joins the page.
    #[must_use]
    pub fn keeps(&self, name: &str) -> bool {
        let starts = |prefixes: &[String]| prefixes.iter().any(|p| name.starts_with(p.as_str()));
        if !self.process_families
            && PROCESS_FAMILY_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        {
            return false;
        }
        (self.include.is_empty() || starts(&self.include)) && !starts(&self.exclude)
    }

    /// The labels given with [`EngineFilter::with_label`], in order.
    #[must_use]
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }
}

/// A registration of a source: what to read, what to keep, and the labels to add (the level's
/// hierarchy labels and the filter's, sorted by name).
pub(crate) struct EnginePass {
    pub(crate) source: EngineSource,
    pub(crate) filter: EngineFilter,
    pub(crate) labels: Vec<(String, String)>,
}

impl EnginePass {
    /// The pass of `source` at a level with these hierarchy labels.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidSetting`] naming the first label of the filter that breaks a rule.
    pub(crate) fn new(
        source: &EngineSource,
        filter: EngineFilter,
        hierarchy: &[(&'static str, String)],
    ) -> Result<Self, MetricsError> {
        crate::const_labels::check(&filter.labels).map_err(|problem| {
            MetricsError::from(
                SettingSource::code("EngineFilter::with_label", &problem.pair)
                    .invalid(problem.reason),
            )
        })?;
        let mut labels: Vec<(String, String)> = hierarchy
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .chain(filter.labels.iter().cloned())
            .collect();
        labels.sort();
        Ok(Self {
            source: source.clone(),
            filter,
            labels,
        })
    }
}
