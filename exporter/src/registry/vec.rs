//! Labelled metrics: one series per set of variable label values.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::error::ExporterError;
use crate::kinds::handle::{Metric, Registered};
use crate::registry::shared::Shared;
use crate::registry::streams::{Source, Stream};
use crate::storage::catalog;
use crate::storage::directory::Core;
use crate::storage::fingerprint::{Fingerprint, Seed};
use crate::storage::index::{Index, IndexCounts};
use crate::storage::members::{Members, Merge};
use crate::storage::pool::{Cell, Pool, Series, Slot, SlotRef, owner_of};

/// A vec type of each handle of the kinds table (`CounterVec`, ...).
macro_rules! vec_types {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident,
        $create_vec:ident; $one:literal, $many:literal $(, $settings:ident)?;)*})*) => {$($(
        #[doc = concat!("A vec of [`", stringify!($handle), "`](crate::", stringify!($handle), ")s: ", $many, " keyed by label values.")]
        pub type $vec = MetricVec<crate::kinds::$handle>;
    )*)*};
}

crate::metric_kinds!(vec_types);

/// A metric with variable labels: each distinct set of label values is its own series.
///
/// Finding an existing series takes no lock, writes no shared memory and allocates nothing:
/// it hashes the values, reads the vec's index and confirms the series in its slot. The handle
/// it returns is a small copy; keep it to skip the lookup next time.
///
/// Series can be removed ([`MetricVec::remove_label_values`], [`MetricVec::remove_matching`],
/// [`MetricVec::clear`]): a removed series leaves the next scrape, handles to it record
/// nothing from then on, and the same values used again start a new series at zero. A vec
/// holds at most [`MetricVec::max_series`] series; past that, new label sets share one series
/// marked `otel_metric_overflow="true"`.
///
/// ```
/// # use dynamo_exporter::{Opts, Registry};
/// let registry = Registry::new();
/// let by_model = registry
///     .int_counter_vec(&Opts::new("requests_total", "Requests"), &["model"])
///     .unwrap();
/// by_model.with_label_values(&["llama"]).inc();
/// assert_eq!(by_model.with_label_values(&["llama"]).get(), 1);
/// by_model.remove_label_values(&["llama"]).unwrap();
/// assert_eq!(by_model.with_label_values(&["llama"]).get(), 0);
/// assert_eq!(by_model.variable_labels(), ["model"]);
/// ```
#[must_use]
pub struct MetricVec<M: Metric> {
    inner: Arc<VecInner<M::Cell>>,
    handle: PhantomData<fn() -> M>,
}

pub(crate) struct VecInner<C: Cell> {
    core: Arc<Core>,
    /// Whether its series go into the multiprocess directory's catalog.
    cataloged: bool,
    /// The metric's id, which its slots' states carry (the core's, kept at hand for lookups).
    owner: u32,
    pool: &'static Pool<C>,
    seed: Seed,
    index: Index,
    variable_count: usize,
    /// Series the vec may hold; 0 for no bound.
    max_series: AtomicUsize,
    shared: Weak<Shared>,
    overflow_logged: AtomicBool,
    state: Mutex<VecState<C>>,
}

struct VecState<C: 'static> {
    counts: IndexCounts,
    members: Members,
    /// The series new label sets fold into past the bound.
    overflow: Option<SlotRef<C>>,
    /// Unregistered: lookups of new values get no-op handles.
    detached: bool,
}

impl<M: Metric> Clone for MetricVec<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            handle: PhantomData,
        }
    }
}

impl<M: Metric> std::fmt::Debug for MetricVec<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricVec")
            .field("name", &self.name())
            .field("const_labels", &self.const_labels())
            .field("variable_labels", &self.variable_labels())
            .finish_non_exhaustive()
    }
}

impl<M: Metric> Registered for MetricVec<M> {
    fn metric_id(&self) -> u32 {
        self.inner.core.id
    }
}

impl<M: Metric> MetricVec<M> {
    pub(crate) fn new(
        core: Arc<Core>,
        pool: &'static Pool<M::Cell>,
        shared: &Arc<Shared>,
        cataloged: bool,
    ) -> (Self, Arc<dyn Source>) {
        let inner = Arc::new(VecInner {
            cataloged,
            variable_count: core.layout.names().len(),
            owner: core.id,
            core,
            pool,
            seed: Seed::random(),
            index: Index::new(),
            max_series: AtomicUsize::new(shared.default_max_series()),
            shared: Arc::downgrade(shared),
            overflow_logged: AtomicBool::new(false),
            state: Mutex::new(VecState {
                counts: IndexCounts::default(),
                members: Members::default(),
                overflow: None,
                detached: false,
            }),
        });
        let source: Arc<dyn Source> = Arc::clone(&inner) as Arc<dyn Source>;
        let vec = Self {
            inner,
            handle: PhantomData,
        };
        (vec, source)
    }

    /// The full exported name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.core.name
    }

    /// The constant labels, sorted by name (as handles give them).
    #[must_use]
    pub fn const_labels(&self) -> Vec<(String, String)> {
        self.inner.core.const_labels()
    }

    /// The variable label names, in declaration order.
    #[must_use]
    pub fn variable_labels(&self) -> Vec<&str> {
        self.inner
            .core
            .layout
            .names()
            .iter()
            .map(|n| &**n)
            .collect()
    }

    /// How many series the vec may hold (0: no bound). New label sets past it fold into one
    /// overflow series.
    #[must_use]
    pub fn max_series(&self) -> usize {
        self.inner.max_series.load(Ordering::Relaxed)
    }

    /// Sets how many series the vec may hold (0: no bound). Series already there stay.
    pub fn set_max_series(&self, max: usize) {
        self.inner.max_series.store(max, Ordering::Relaxed);
    }

    /// How many series the vec holds now, the overflow series not counted.
    #[must_use]
    pub fn series_count(&self) -> usize {
        let _section = crate::fork::enter();
        self.inner.state.lock().members.live()
    }

    /// The series for these label values (in declaration order), created on first use.
    ///
    /// A wrong number of values is logged and answered with a no-op handle; use
    /// [`MetricVec::get_metric_with_label_values`] to get the error instead.
    #[inline(always)]
    pub fn with_label_values<V: AsRef<str>>(&self, values: &[V]) -> M {
        match self.inner.find(values) {
            Some(series) => M::from_slot(series),
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
    ) -> Result<M, ExporterError> {
        match self.inner.find(values) {
            Some(series) => Ok(M::from_slot(series)),
            None => self.inner.create(values).map(M::from_slot),
        }
    }

    #[cold]
    #[inline(never)]
    fn create_or_noop<V: AsRef<str>>(&self, values: &[V]) -> M {
        match self.inner.create(values) {
            Ok(series) => M::from_slot(series),
            Err(error) => {
                tracing::error!(%error, "label values refused; the update goes nowhere");
                M::from_slot(self.inner.pool.noop())
            }
        }
    }

    /// Removes the series of these label values (in declaration order).
    ///
    /// # Errors
    ///
    /// [`ExporterError::LabelValueCount`] for a wrong number of values,
    /// [`ExporterError::NoSuchSeries`] when the vec has no series with these values.
    pub fn remove_label_values<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        self.inner.remove(values)
    }

    /// Removes every series whose variable labels named in `labels` have the given values;
    /// returns how many. A label the vec does not have matches nothing.
    pub fn remove_matching(&self, labels: &[(&str, &str)]) -> usize {
        self.inner.remove_matching(labels)
    }

    /// Removes every series.
    pub fn clear(&self) {
        self.inner.clear();
    }
}

impl<C: Cell> VecInner<C> {
    /// The existing series for these values: no lock, no allocation, no shared write.
    /// Inlined into the caller, where the number of values is usually known.
    ///
    /// The number of values is not checked: fingerprints of different numbers of values
    /// differ, so a wrong number finds nothing and goes to [`VecInner::create`], which refuses
    /// it.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn find<V: AsRef<str>>(&self, values: &[V]) -> Option<SlotRef<C>> {
        let fingerprint = self.seed.fingerprint(values);
        self.index.find(self.seed.hash(fingerprint), |entry| {
            // SAFETY: the index holds only entries of slots of this vec's pool.
            let slot = unsafe { Slot::<C>::from_entry(entry) };
            let state = slot.live_state(fingerprint)?;
            SlotRef::hold(slot, state)
        })
    }

    fn check_count<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        if values.len() == self.variable_count {
            return Ok(());
        }
        Err(ExporterError::LabelValueCount {
            metric: self.core.name.to_string(),
            expected: self
                .core
                .layout
                .names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            got: values.len(),
        })
    }

    /// Creates the series (or finds one created meanwhile), or folds it into the overflow
    /// series past the bound.
    #[cold]
    fn create<V: AsRef<str>>(&self, values: &[V]) -> Result<SlotRef<C>, ExporterError> {
        let _section = crate::fork::enter();
        self.check_count(values)?;
        let fingerprint = self.seed.fingerprint(values);
        let mut state = self.state.lock();
        if let Some(found) = self.find(values) {
            return Ok(found);
        }
        if state.detached {
            return Ok(self.pool.noop());
        }
        let max = self.max_series.load(Ordering::Relaxed);
        let slot = if max > 0 && state.members.live() >= max {
            None
        } else {
            self.pool.alloc(self.core.id, fingerprint)
        };
        let Some(slot) = slot else {
            return Ok(self.overflow(&mut state, values));
        };
        if self.cataloged {
            let (name, owner) = (self.pool.name(), self.owner);
            catalog::series(owner, name, slot.index(), slot.state, Some(values));
        }
        let seed = self.seed;
        self.index.insert(
            &mut state.counts,
            seed.hash(fingerprint),
            slot.slot.entry(),
            // SAFETY: the index holds only entries of slots of this vec's pool.
            #[allow(unsafe_code)]
            |entry| seed.hash(unsafe { Slot::<C>::from_entry(entry) }.fingerprint()),
        );
        let key = self.core.layout.key(values);
        state.members.push(slot.index(), slot.state, &key);
        Ok(slot)
    }

    /// The overflow series (created on first use), counted and logged once.
    fn overflow<V: AsRef<str>>(&self, state: &mut VecState<C>, values: &[V]) -> SlotRef<C> {
        if !self.overflow_logged.swap(true, Ordering::Relaxed) {
            let values: Vec<&str> = values.iter().map(AsRef::as_ref).collect();
            tracing::warn!(
                metric = %self.core.name,
                max_series = self.max_series.load(Ordering::Relaxed),
                ?values,
                "the metric has as many series as it may have; new label sets go to its overflow series"
            );
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.count_overflow(&self.core.name);
        }
        let fingerprint = Fingerprint::NONE;
        if !state.overflow.as_ref().is_some_and(SlotRef::is_live) {
            state.overflow = self.pool.alloc(self.core.id, fingerprint);
            if let (true, Some(slot)) = (self.cataloged, &state.overflow) {
                let (name, owner) = (self.pool.name(), self.owner);
                catalog::series::<&str>(owner, name, slot.index(), slot.state, None);
            }
        }
        state.overflow.clone().unwrap_or_else(|| self.pool.noop())
    }

    fn remove<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        let _section = crate::fork::enter();
        self.check_count(values)?;
        let mut state = self.state.lock();
        let Some(series) = self.find(values) else {
            return Err(ExporterError::NoSuchSeries {
                metric: self.core.name.to_string(),
                values: values.iter().map(|v| v.as_ref().to_string()).collect(),
            });
        };
        let merge = self.end(&mut state, series.index(), series.state);
        drop(state);
        self.merge(merge);
        Ok(())
    }

    fn remove_matching(&self, labels: &[(&str, &str)]) -> usize {
        let _section = crate::fork::enter();
        let Some(wanted) = self.core.layout.places(labels) else {
            return 0;
        };
        let snapshot = self.state.lock().members.snapshot();
        let matching: Vec<(u32, u32)> = snapshot
            .iter()
            .filter(|(_, entry)| self.pool.is_live(entry.slot, entry.generation))
            .filter(|(run, entry)| {
                let values = self.core.layout.values(run.key(entry));
                wanted.iter().all(|(at, value)| values[*at] == **value)
            })
            .map(|(_, entry)| (entry.slot, entry.generation))
            .collect();
        let mut state = self.state.lock();
        let mut removed = 0;
        let mut merge = None;
        for (index, generation) in matching {
            let Some(slot) = self.pool.slot(index) else {
                continue;
            };
            let series = slot.state();
            if (series >> 32) as u32 == generation {
                merge = self.end(&mut state, index, series).or(merge);
                removed += 1;
            }
        }
        drop(state);
        self.merge(merge);
        removed
    }

    fn clear(&self) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        self.end_all(&mut state);
    }

    /// Ends every series, the overflow series too.
    fn end_all(&self, state: &mut VecState<C>) {
        for entry in self.index.entries() {
            // SAFETY: the index holds only entries of slots of this vec's pool.
            #[allow(unsafe_code)]
            let slot = unsafe { Slot::<C>::from_entry(entry) };
            let series = slot.state();
            if owner_of(series) == self.core.id {
                self.pool.free(slot.index(), series);
            }
        }
        if let Some(overflow) = state.overflow.take() {
            self.pool.free(overflow.index(), overflow.state);
        }
        self.index.clear(&mut state.counts);
        state.members.clear();
    }

    /// Ends one series: out of the index, its slot freed.
    fn end(&self, state: &mut VecState<C>, index: u32, series: u64) -> Option<Merge> {
        if let Some(slot) = self.pool.slot(index) {
            let hash = self.seed.hash(slot.fingerprint());
            self.index.remove(&mut state.counts, hash, slot.entry());
        }
        self.pool.free(index, series);
        state.members.ended()
    }

    /// Merges runs outside the lock, then installs the result.
    fn merge(&self, merge: Option<Merge>) {
        if let Some(merge) = merge {
            let (run, dropped) = merge.merge(|e| self.pool.is_live(e.slot, e.generation));
            let _section = crate::fork::enter();
            self.state.lock().members.install(merge, run, dropped);
        }
    }
}

impl<C: Cell> Source for VecInner<C> {
    fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn streams(&self, out: &mut Vec<Stream>) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let members = state.members.snapshot();
        out.push(Stream::vec(Arc::clone(&self.core), members, self.pool));
        if let Some(overflow) = state.overflow.as_ref().filter(|s| s.is_live()) {
            out.push(Stream::overflow(
                Arc::clone(&self.core),
                overflow.index(),
                overflow.state,
                self.pool,
            ));
        }
    }

    fn tidy(&self) {
        let merge = {
            let _section = crate::fork::enter();
            self.state.lock().members.plan()
        };
        self.merge(merge);
    }

    fn detach(&self) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        state.detached = true;
        self.end_all(&mut state);
    }
}

impl<C: Cell> Drop for VecInner<C> {
    fn drop(&mut self) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let state = &mut *state;
        catalog::keeping(|| self.end_all(state));
        self.core.retire();
    }
}
