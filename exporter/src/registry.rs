//! The registry: every family by name, registration and removal, and scrapes of the whole.
//!
//! - [`family`]: the registration rules of one family (type, help, identity, label split).
//! - [`scalars`] and [`vec`]: a family's metrics without and with variable labels.
//! - [`streams`]: a family's series merged into label order for a scrape.
//! - [`idle`], [`shared`], [`validate`]: idle macro series; what a registry's parts share;
//!   the Prometheus rules for names, labels, help and buckets.

pub(crate) mod family;
pub(crate) mod idle;
pub(crate) mod listed;
pub(crate) mod scalars;
pub(crate) mod shared;
pub(crate) mod streams;
pub(crate) mod validate;
pub(crate) mod vec;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use crate::error::ExporterError;
use crate::exposition::{Encoder, ExtraLabels, TextEncoder};
use crate::kinds::NativeHistogram;
use crate::kinds::handle::sealed::Create;
use crate::kinds::handle::{Metric, Registered};
use crate::kinds::table::MetricKind;
use crate::registry::vec::IntCounterVec;
use crate::registry::vec::MetricVec;
use crate::storage::catalog::{self, GaugeMode};
use crate::storage::directory::Core;
use crate::storage::fingerprint::Fingerprint;
use crate::storage::labels::Layout;
use crate::storage::pool::{Cell, Pool};
use family::{Family, Help, Identity, RegisteredAs, Registering};
use scalars::AnySlot;
use shared::Shared;

pub use shared::{Clock, DEFAULT_MAX_SERIES};

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
    /// How a gauge's values from the processes of a multiprocess directory are merged.
    pub multiprocess_mode: GaugeMode,
    /// Native buckets for a histogram, beside its classic ones; other kinds ignore it.
    pub native: Option<NativeHistogram>,
}

impl<'a> Opts<'a> {
    /// Options with no constant labels.
    pub fn new(name: &'a str, help: &'a str) -> Self {
        Self {
            name,
            help,
            const_labels: &[],
            multiprocess_mode: GaugeMode::default(),
            native: None,
        }
    }

    /// The same options with native buckets (for a histogram; see [`NativeHistogram`]).
    pub fn with_native(self, native: NativeHistogram) -> Self {
        Self {
            native: Some(native),
            ..self
        }
    }

    /// The same options with this multiprocess mode (for a gauge; see [`GaugeMode`]).
    pub fn with_multiprocess_mode(self, multiprocess_mode: GaugeMode) -> Self {
        Self {
            multiprocess_mode,
            ..self
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

static NEXT_REGISTRY: AtomicU64 = AtomicU64::new(1);

/// Every metric family, sorted by name, ready to render.
///
/// A metric's identity is its name plus its constant labels: registering the same identity
/// twice is an error, while the same name with other constant labels joins the family when
/// the type and help agree. Every check happens at registration, so rendering never fails.
/// A scrape renders from a snapshot: creating, updating and removing series never wait for it.
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
/// registry.unregister(&hits).unwrap();
/// assert_eq!(registry.render(), "");
/// ```
pub struct Registry {
    id: u64,
    families: RwLock<BTreeMap<Arc<str>, Arc<Family>>>,
    /// Descriptions from `describe_*` macros for families not created yet.
    descriptions: Mutex<HashMap<Box<str>, Box<str>>>,
    shared: Arc<Shared>,
    /// Labels added to every series that does not have them, sorted by name.
    extra: RwLock<Arc<ExtraLabels>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            id: NEXT_REGISTRY.fetch_add(1, Ordering::Relaxed),
            families: RwLock::default(),
            descriptions: Mutex::default(),
            extra: RwLock::new(Arc::from(Vec::new())),
            shared: Arc::new(Shared::default()),
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("families", &self.families.read().len())
            .finish_non_exhaustive()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // The values stay in the multiprocess directory: a process ending keeps its counts.
        catalog::keeping(|| {
            for family in self.families.get_mut().values() {
                family.end_all();
            }
        });
    }
}

/// The creators of every kind of [`crate::metric_kinds!`].
macro_rules! creators {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident, $create_vec:ident;
        $one:literal, $many:literal $(, $settings:ident)?;)*})*) => {$($(
        #[doc = concat!("Registers ", $one, ".")]
        $(#[doc = concat!("\n\n`", stringify!($settings), "` of `None` means [`crate::DEFAULT_BUCKETS`].")])?
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a registered metric.
        pub fn $reg(&self, opts: &Opts<'_> $(, $settings: <crate::$handle as Create>::Settings<'_>)?) -> Result<crate::$handle, ExporterError> {
            self.scalar(opts, <crate::$handle as Create>::pool(opts.name, opts.native.as_ref(), ($($settings)?))?)
        }

        #[doc = concat!("Registers ", $many, " keyed by the values of `variable_labels`.")]
        $(#[doc = concat!("\n\n`", stringify!($settings), "` of `None` means [`crate::DEFAULT_BUCKETS`].")])?
        ///
        /// # Errors
        ///
        /// A bad name, help or label, or a conflict with a registered metric.
        pub fn $reg_vec(
            &self,
            opts: &Opts<'_>,
            variable_labels: &[&str]
            $(, $settings: <crate::$handle as Create>::Settings<'_>)?
        ) -> Result<crate::$vec, ExporterError> {
            self.vec(opts, variable_labels, <crate::$handle as Create>::pool(opts.name, opts.native.as_ref(), ($($settings)?))?)
        }
    )*)*};
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    crate::metric_kinds!(creators);

    /// Takes a metric out: a handle of a metric without variable labels, or a vec. Its series
    /// leave the scrape, its handles record nothing from then on, and the same name and
    /// labels can be registered again.
    ///
    /// # Errors
    ///
    /// [`ExporterError::NotRegistered`] when the metric is not in this registry (already
    /// unregistered, a no-op handle, or another registry's).
    pub fn unregister(&self, metric: &dyn Registered) -> Result<(), ExporterError> {
        let _section = crate::fork::enter();
        let core = Core::find(metric.metric_id())
            .filter(|c| c.registry == self.id)
            .ok_or(ExporterError::NotRegistered)?;
        let identity: Identity = core.layout.consts().to_vec().into();
        let mut families = self.families.write();
        let family = families
            .get(&core.name)
            .ok_or(ExporterError::NotRegistered)?;
        match family.unregister(&identity) {
            None => Err(ExporterError::NotRegistered),
            Some(empty) => {
                if empty {
                    families.remove(&core.name);
                }
                Ok(())
            }
        }
    }

    /// Adds these labels to every series a scrape shows, except to series that have a label
    /// of the same name (those keep theirs). Names are checked like any label name; `le` and
    /// `quantile`, which mark buckets and quantiles, and the overflow marker are refused.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// registry.set_const_labels(&[("cluster", "us-west")]).unwrap();
    /// let jobs = registry.int_counter_vec(&Opts::new("jobs_total", "Jobs"), &["cluster", "queue"]).unwrap();
    /// jobs.with_label_values(&["eu", "a"]).inc();
    /// jobs.with_label_values(&["", "b"]).inc();
    /// assert_eq!(
    ///     registry.render(),
    ///     concat!(
    ///         "# HELP jobs_total Jobs\n",
    ///         "# TYPE jobs_total counter\n",
    ///         "jobs_total{cluster=\"\",queue=\"b\"} 1\n",
    ///         "jobs_total{cluster=\"eu\",queue=\"a\"} 1\n",
    ///     )
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// [`ExporterError::InvalidLabelName`] or [`ExporterError::DuplicateLabel`] naming the label.
    pub fn set_const_labels(&self, labels: &[(&str, &str)]) -> Result<(), ExporterError> {
        // Checked as histogram labels (no `le`), since they join every family.
        validate::label_names(
            "every metric",
            MetricKind::Histogram,
            labels.iter().map(|(k, _)| *k),
        )?;
        if let Some((name, _)) = labels.iter().find(|(k, _)| *k == "quantile") {
            return Err(ExporterError::InvalidLabelName {
                metric: "every metric".into(),
                label: (*name).into(),
                reason: "\"quantile\" is reserved for summary quantiles",
            });
        }
        let mut pairs: Vec<(Box<str>, Box<str>)> = labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        pairs.sort();
        let _section = crate::fork::enter();
        *self.extra.write() = pairs.into();
        Ok(())
    }

    /// The labels [`Registry::set_const_labels`] set, sorted by name.
    #[must_use]
    pub fn const_labels(&self) -> Vec<(String, String)> {
        let _section = crate::fork::enter();
        self.extra
            .read()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The constant labels (sorted by name) of a metric registered here.
    #[must_use]
    pub fn registered_labels(&self, metric: &dyn Registered) -> Option<Vec<(String, String)>> {
        let core = Core::find(metric.metric_id()).filter(|c| c.registry == self.id)?;
        Some(core.const_labels())
    }

    /// The name of a metric registered here.
    #[must_use]
    pub fn registered_name(&self, metric: &dyn Registered) -> Option<String> {
        let core = Core::find(metric.metric_id()).filter(|c| c.registry == self.id)?;
        Some(core.name.to_string())
    }

    /// How many series a vec created from now on may hold (0: no bound); see
    /// [`MetricVec::set_max_series`]. Also bounds the series that metric macros create
    /// under one name. The default is [`DEFAULT_MAX_SERIES`].
    pub fn set_default_max_series(&self, max: usize) {
        self.shared.set_default_max_series(max);
    }

    /// Drops series created by metric macros once their value has not changed for
    /// `timeout`, checked at each scrape; `None` (the default) keeps them.
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) {
        self.shared.set_idle_timeout(timeout);
    }

    /// Reads the time from `clock` (for idle series) instead of a monotonic clock. Can be set
    /// once.
    pub fn set_clock(&self, clock: Box<Clock>) {
        self.shared.set_clock(clock);
    }

    /// Counts every label set folded into an overflow series in `counter`, by metric name
    /// (its one variable label). Can be set once.
    pub fn set_overflow_counter(&self, counter: IntCounterVec) {
        counter.set_max_series(0);
        self.shared.set_overflow_count(Box::new(move |metric| {
            counter.with_label_values(&[metric]).inc();
        }));
    }

    /// The whole exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&[], &mut out);
        out
    }

    /// Appends the exposition text of the series whose labels include every `required` pair
    /// (all series when it is empty): families by name, series by labels.
    pub fn render_into(&self, required: &[(&str, &str)], out: &mut String) {
        let mut encoder = TextEncoder::new(out);
        self.encode(required, &mut encoder);
        encoder.finish();
    }

    /// Hands every family and series whose labels include every `required` pair to
    /// `encoder`, families by name and series by labels; returns the families shown.
    pub fn encode(&self, required: &[(&str, &str)], encoder: &mut dyn Encoder) -> Shown {
        let joined = self.shared.multiprocess();
        if let Some(dir) = joined.then(crate::storage::mapped::directory).flatten() {
            let extra: Arc<ExtraLabels> = {
                let _section = crate::fork::enter();
                Arc::clone(&self.extra.read())
            };
            let names = crate::multiprocess::encode(dir, required, &extra, encoder);
            return Shown(names);
        }
        // Sections only where locks are held: a fork waits for them, not for the whole page.
        let (families, extra) = {
            let _section = crate::fork::enter();
            let families: Vec<Arc<Family>> = self.families.read().values().cloned().collect();
            (families, Arc::clone(&*self.extra.read()))
        };
        let sweep = self.shared.sweep(&extra);
        let mut shown = Shown::default();
        for family in families {
            if family.encode(required, encoder, &sweep) {
                shown.0.push((Arc::clone(&family.name), family.kind));
            }
        }
        shown
    }

    /// From now on, the metrics registered here join the page of the multiprocess directory,
    /// and this registry's scrapes show that page: the merge of every process's metrics.
    ///
    /// # Errors
    ///
    /// When the process is not in multiprocess mode (see [`crate::multiprocess`]).
    pub fn join_multiprocess(&self) -> Result<(), ExporterError> {
        if crate::storage::mapped::directory().is_none() {
            return Err(ExporterError::Multiprocess {
                path: String::new(),
                reason: format!(
                    "the process is not in multiprocess mode (set {} or call multiprocess::set_directory first)",
                    crate::storage::mapped::DIRECTORY_VARIABLE
                ),
            });
        }
        self.shared.join_multiprocess();
        Ok(())
    }

    /// The names of the families registered.
    #[must_use]
    pub fn family_names(&self) -> Vec<String> {
        let _section = crate::fork::enter();
        self.families.read().keys().map(|k| k.to_string()).collect()
    }

    fn scalar<M: Metric>(
        &self,
        opts: &Opts<'_>,
        pool: &'static Pool<M::Cell>,
    ) -> Result<M, ExporterError> {
        let (family, identity, layout) = self.prepare::<M>(opts, Help::Required(opts.help), &[])?;
        let (id, name) = (self.id, Arc::clone(&family.name));
        let cataloged = self.shared.multiprocess();
        let result = family.register(
            M::KIND,
            Help::Required(opts.help),
            identity,
            &[],
            |scope: &mut Registering<'_>| {
                let core = Core::register(id, name, layout);
                match pool.alloc(core.id, Fingerprint::NONE) {
                    Some(slot) => {
                        if cataloged {
                            let (help, mode) = (opts.help, opts.multiprocess_mode);
                            let (index, state) = (slot.index(), slot.state);
                            catalog::scalar(&core, M::KIND, help, mode, pool.name(), index, state);
                        }
                        let registered = scope.add_scalar(core, &slot, pool, M::KIND);
                        Ok((M::from_slot(slot), registered))
                    }
                    None => {
                        core.retire();
                        Err(ExporterError::PoolFull {
                            metric: core.name.to_string(),
                        })
                    }
                }
            },
        );
        self.forget_if_empty(&family);
        result
    }

    fn vec<M: Metric>(
        &self,
        opts: &Opts<'_>,
        variable_labels: &[&str],
        pool: &'static Pool<M::Cell>,
    ) -> Result<MetricVec<M>, ExporterError> {
        let (family, identity, layout) =
            self.prepare::<M>(opts, Help::Required(opts.help), variable_labels)?;
        let (id, name, shared) = (self.id, Arc::clone(&family.name), &self.shared);
        let result = family.register(
            M::KIND,
            Help::Required(opts.help),
            identity,
            variable_labels,
            |_: &mut Registering<'_>| {
                let core = Core::register(id, name, layout);
                let cataloged = shared.multiprocess();
                if cataloged {
                    catalog::metric(&core, M::KIND, opts.help, opts.multiprocess_mode);
                }
                let (vec, source) = MetricVec::new(core, pool, shared, cataloged);
                Ok((vec, RegisteredAs::Vec(source)))
            },
        );
        self.forget_if_empty(&family);
        result
    }

    /// Checks everything that does not depend on other metrics, and finds (or creates) the
    /// family.
    fn prepare<M: Metric>(
        &self,
        opts: &Opts<'_>,
        help: Help<'_>,
        variable_labels: &[&str],
    ) -> Result<(Arc<Family>, Identity, Layout), ExporterError> {
        self.prepare_kind(M::KIND, opts, help, variable_labels)
    }

    /// [`Registry::prepare`] for a family of type `kind`.
    fn prepare_kind(
        &self,
        kind: MetricKind,
        opts: &Opts<'_>,
        help: Help<'_>,
        variable_labels: &[&str],
    ) -> Result<(Arc<Family>, Identity, Layout), ExporterError> {
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
        validate::label_names(name, kind, labels)?;
        self.check_info_name(name, kind)?;
        let mut consts: Vec<(Box<str>, Box<str>)> = opts
            .const_labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        consts.sort();
        let identity: Identity = consts.clone().into();
        let layout = Layout::new(
            consts,
            variable_labels.iter().map(|n| (*n).into()).collect(),
        );
        Ok((self.family(name, kind, help), identity, layout))
    }

    /// Refuses the two families that would write the same name in the text format: an info
    /// `x` (written `x_info`) and a family `x_info`.
    fn check_info_name(&self, name: &str, kind: MetricKind) -> Result<(), ExporterError> {
        let _section = crate::fork::enter();
        let families = self.families.read();
        let (other, other_kind) = if kind == MetricKind::Info {
            let written = format!("{name}{}", kind.text_suffix());
            match families.get(written.as_str()) {
                Some(family) => (written, family.kind),
                None => return Ok(()),
            }
        } else {
            let stem = name.strip_suffix(MetricKind::Info.text_suffix());
            match stem.and_then(|stem| families.get(stem)) {
                Some(family) if family.kind == MetricKind::Info => (name.to_string(), family.kind),
                _ => return Ok(()),
            }
        };
        Err(ExporterError::KindConflict {
            name: other,
            existing: other_kind,
            requested: kind,
        })
    }

    /// The family of this name, created if new.
    fn family(&self, name: &str, kind: MetricKind, help: Help<'_>) -> Arc<Family> {
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

    /// Takes an empty family out of the map (a refused first registration leaves one).
    fn forget_if_empty(&self, family: &Arc<Family>) {
        let _section = crate::fork::enter();
        if family.is_empty() {
            let mut families = self.families.write();
            if family.is_empty()
                && families
                    .get(&family.name)
                    .is_some_and(|f| Arc::ptr_eq(f, family))
            {
                families.remove(&family.name);
            }
        }
    }

    /// The scalar series with this name and constant labels, registered by a metric macro if
    /// it does not exist yet, in `pool`. Used by [`crate::RegistryRecorder`].
    pub(crate) fn macro_scalar<C: Cell>(
        &self,
        name: &str,
        kind: MetricKind,
        const_labels: &[(&str, &str)],
        pool: &'static Pool<C>,
    ) -> Result<AnySlot, ExporterError> {
        validate::metric_name(name)?;
        validate::label_names(name, kind, const_labels.iter().map(|(k, _)| *k))?;
        let mut consts: Vec<(Box<str>, Box<str>)> = const_labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        consts.sort();
        let identity: Identity = consts.into();
        let family = self.family(name, kind, Help::Placeholder(name));
        let (id, family_name) = (self.id, Arc::clone(&family.name));
        let cataloged = self.shared.multiprocess();
        let help = if cataloged {
            family.help()
        } else {
            String::new()
        };
        let max = self.shared.default_max_series();
        let result = family.macro_scalar(kind, identity, max, self.shared.now(), |identity| {
            let layout = Layout::new(identity.to_vec(), Vec::new());
            let core = Core::register(id, family_name, layout);
            match pool.alloc(core.id, Fingerprint::NONE) {
                Some(slot) => {
                    if cataloged {
                        let mode = GaugeMode::default();
                        let (index, state) = (slot.index(), slot.state);
                        catalog::scalar(&core, kind, &help, mode, pool.name(), index, state);
                    }
                    Some((core, AnySlot::new(&slot, pool, kind)))
                }
                None => {
                    core.retire();
                    None
                }
            }
        });
        self.forget_if_empty(&family);
        result
    }

    /// Sets the help of a family created by a metric macro, or of one created later.
    pub(crate) fn describe(&self, name: &str, help: &str) {
        let _section = crate::fork::enter();
        match self.families.read().get(name) {
            Some(family) => {
                if family.describe(help) && self.shared.multiprocess() {
                    catalog::help(name, help);
                }
            }
            None => {
                self.descriptions.lock().insert(name.into(), help.into());
            }
        }
    }
}

/// The families a scrape showed, by name and type: names that text from elsewhere may not
/// take on the same page.
#[derive(Debug, Default, Clone)]
pub struct Shown(Vec<(Arc<str>, MetricKind)>);

impl Shown {
    /// Each family shown, with its type, in the order shown.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetricKind)> {
        self.0.iter().map(|(name, kind)| (&**name, *kind))
    }

    /// Every family name shown and every sample name of those families (`h`, `h_bucket`,
    /// `h_sum`, `h_count` for a histogram `h`).
    #[must_use]
    pub fn taken_names(&self) -> HashSet<String> {
        let mut taken = HashSet::new();
        for (name, kind) in self.iter() {
            taken.insert(name.to_string());
            taken.extend(kind.sample_names(name));
        }
        taken
    }
}
