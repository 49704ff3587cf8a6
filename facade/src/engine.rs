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

pub(crate) mod multiprocess;

use std::fmt::Display;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dynamo_exporter::parse::Family;
use dynamo_exporter::{IntCounterVec, SettingSource, fork};
use parking_lot::Mutex;

use crate::MetricsError;

type ReadFn = dyn Fn(&ReadContext<'_>) -> Result<EngineRead, String> + Send + Sync;

/// What a read of a source returned.
#[derive(Debug)]
pub(crate) enum EngineRead {
    /// Exposition text, parsed before it joins the page.
    Text(String),
    /// Families made without text (a multiprocess directory's merge).
    Families(Vec<Family>),
}

/// What a read may use of the runtime that scrapes.
#[derive(Default)]
pub(crate) struct ReadContext<'a> {
    /// `dynamo_metrics_multiprocess_files_skipped_total`, by reason.
    pub(crate) files_skipped: Option<&'a IntCounterVec>,
}

/// The shortest time between two log messages about a directory's skipped files.
const SKIP_LOG_EVERY: Duration = Duration::from_secs(60);

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
    /// Made by [`EngineSource::multiprocess_dir`]: the hash of the directory's path.
    Directory(u64),
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
            read: Arc::new(move |_: &ReadContext<'_>| {
                read().map(EngineRead::Text).map_err(|e| e.to_string())
            }),
        }
    }

    /// A source that reads a `prometheus_client` multiprocess directory (the
    /// `PROMETHEUS_MULTIPROC_DIR` of an engine that runs several processes, such as vLLM's API
    /// server and its workers) and merges its files as `prometheus_client`'s
    /// `MultiProcessCollector` does, without Python: counters, histograms and summaries summed
    /// over the processes, gauges by their `multiprocess_mode` (`all` and `liveall` one series
    /// per process with a `pid` label). Files of `live*` gauges whose process is gone are left
    /// out without waiting for `mark_process_dead`.
    ///
    /// A file that cannot be read (it vanished since the directory was listed) or has an
    /// unknown name is skipped; one cut short, being written or corrupt is read up to its last
    /// whole entry. Each is logged (at most once a minute) and counted in
    /// `dynamo_metrics_multiprocess_files_skipped_total{reason}` (`unreadable`, `corrupt`,
    /// `unrecognized`); the other files still join the page. A directory that cannot be
    /// listed is an error of the read: logged, and the scrape goes on without it.
    ///
    /// Sources made for the same path (as given) are the same source: read once per scrape.
    ///
    /// ```
    /// # fn main() -> anyhow::Result<()> {
    /// use dynamo_runtime::{DistributedRuntime, EngineFilter, EngineSource};
    ///
    /// let dir = std::env::temp_dir().join(format!("doc-multiproc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// // One entry of a counter, as prometheus_client writes it in process 42: the bytes in
    /// // use, padding, the key's length, the key padded to 8-byte alignment, value, timestamp.
    /// let key = br#"["jobs", "jobs_total", {}, "Jobs done."]"#;
    /// let padded = key.len() + (8 - (key.len() + 4) % 8);
    /// let mut file = Vec::new();
    /// file.extend_from_slice(&i32::try_from(8 + 4 + padded + 16)?.to_ne_bytes());
    /// file.extend_from_slice(&[0; 4]);
    /// file.extend_from_slice(&i32::try_from(key.len())?.to_ne_bytes());
    /// file.extend_from_slice(key);
    /// file.resize(8 + 4 + padded, b' ');
    /// file.extend_from_slice(&3.0_f64.to_ne_bytes());
    /// file.extend_from_slice(&0.0_f64.to_ne_bytes());
    /// std::fs::write(dir.join("counter_42.db"), &file)?;
    ///
    /// let runtime = DistributedRuntime::builder().global_recorder(false).build()?;
    /// let ns = runtime.namespace("ns");
    /// ns.metrics()
    ///     .register_engine_metrics(&EngineSource::multiprocess_dir(&dir), EngineFilter::new())?;
    /// let page = ns.metrics().prometheus_expfmt()?;
    /// std::fs::remove_dir_all(&dir)?;
    /// assert!(page.contains("jobs_total{dynamo_namespace=\"ns\"} 3\n"), "{page}");
    /// # Ok(()) }
    /// ```
    pub fn multiprocess_dir(path: impl Into<PathBuf>) -> Self {
        let dir = path.into();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        dir.hash(&mut hasher);
        let log = Mutex::new(SkipLog {
            last: None,
            since_last: 0,
        });
        // What the reads learn (keys parsed, file sizes), taken out for a read and put back
        // after it, so that no lock is held while the files are read: a process forked
        // meanwhile starts afresh rather than waiting for a lock nobody will release.
        let reader: Mutex<Option<multiprocess::Reader>> = Mutex::new(None);
        Self {
            identity: SourceIdentity::Directory(hasher.finish()),
            read: Arc::new(move |context: &ReadContext<'_>| {
                let mut current = {
                    let _section = fork::enter();
                    reader.lock().take()
                }
                .unwrap_or_default();
                let merged = current.read_dir(&dir);
                {
                    let _section = fork::enter();
                    *reader.lock() = Some(current);
                }
                let merged = merged?;
                if !merged.skipped.is_empty() {
                    log_skipped(&log, &merged.skipped, context);
                }
                Ok(EngineRead::Families(merged.families))
            }),
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
            read: Arc::new(move |_: &ReadContext<'_>| {
                read().map(EngineRead::Text).map_err(|e| e.to_string())
            }),
        }
    }

    /// What names this source among all sources.
    pub(crate) fn identity(&self) -> SourceIdentity {
        self.identity
    }

    /// Reads the engine's text, or its families.
    pub(crate) fn read(&self, context: &ReadContext<'_>) -> Result<EngineRead, String> {
        (self.read)(context)
    }
}

struct SkipLog {
    last: Option<Instant>,
    since_last: u64,
}

/// Counts the files a read of a multiprocess directory skipped, and logs them at most once
/// a minute.
fn log_skipped(log: &Mutex<SkipLog>, skipped: &[multiprocess::Skipped], context: &ReadContext<'_>) {
    if let Some(counter) = context.files_skipped {
        for file in skipped {
            counter.with_label_values(&[file.why.reason()]).inc();
        }
    }
    let suppressed = {
        let _section = fork::enter();
        let mut log = log.lock();
        log.since_last += skipped.len() as u64;
        if log.last.is_some_and(|at| at.elapsed() < SKIP_LOG_EVERY) {
            return;
        }
        log.last = Some(Instant::now());
        std::mem::take(&mut log.since_last) - skipped.len() as u64
    };
    for file in skipped {
        tracing::warn!(
            file = %file.file.display(),
            reason = file.why.reason(),
            detail = file.detail,
            skipped_since_last_message = suppressed,
            "a file of a prometheus_client multiprocess directory was skipped or read in part"
        );
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
