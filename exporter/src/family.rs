//! A metric family: every metric sharing one name, kind and help; the registration rules
//! among them; and their series, merged in label order for a scrape.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::exposition::{Encoder, ExtraLabels, FamilyInfo, Labels, LabelsRepr};
use crate::labels::{cmp_pairs, pairs_key};
use crate::members::{Entry, Members, Merged, Run, Snapshot};
use crate::metric::Core;
use crate::pool::{Cell, Pool, Series, SlotRef};
use crate::{ExporterError, MetricKind};

/// Constant labels sorted by name: with the family name, a metric's identity.
pub(crate) type Identity = Box<[(Box<str>, Box<str>)]>;

/// Label names, sorted.
type LabelNames = Box<[Box<str>]>;

/// Something whose series a family renders: a vec.
pub(crate) trait Source: Send + Sync {
    /// The vec's name, kind and labels.
    fn core(&self) -> &Arc<Core>;
    /// Appends the streams of its series, as they are now.
    fn streams(&self, out: &mut Vec<Stream>);
    /// Merges runs of its series, after a scrape.
    fn tidy(&self);
    /// Ends every series and refuses new ones: the vec was unregistered.
    fn detach(&self);
}

/// Series in label order from one place, and how to read their values.
pub(crate) struct Stream {
    labels: StreamLabels,
    items: Items,
    pool: &'static dyn Series,
}

enum StreamLabels {
    /// Keys hold a vec's variable values.
    Vec(Arc<Core>),
    /// Keys hold every label pair.
    Pairs,
    /// The overflow series of a vec.
    Overflow(Arc<Core>),
}

enum Items {
    Members(Snapshot),
    /// One series: its slot and generation.
    One(u32, u32),
}

impl Stream {
    pub(crate) fn vec<C: Cell>(core: Arc<Core>, members: Snapshot, pool: &'static Pool<C>) -> Self {
        Self {
            labels: StreamLabels::Vec(core),
            items: Items::Members(members),
            pool,
        }
    }

    pub(crate) fn overflow<C: Cell>(
        core: Arc<Core>,
        index: u32,
        state: u64,
        pool: &'static Pool<C>,
    ) -> Self {
        Self {
            labels: StreamLabels::Overflow(core),
            items: Items::One(index, (state >> 32) as u32),
            pool,
        }
    }

    fn required_consts(&self, required: &[(&str, &str)]) -> bool {
        match &self.labels {
            StreamLabels::Vec(core) | StreamLabels::Overflow(core) => {
                core.layout.has_consts(required)
            }
            StreamLabels::Pairs => true,
        }
    }

    fn cursor<'a>(&'a self, extra: &'a ExtraLabels) -> Cursor<'a> {
        let iter = match &self.items {
            Items::Members(snapshot) => CursorIter::Members(snapshot.iter()),
            Items::One(index, state) => CursorIter::One(Some((*index, *state))),
        };
        let mut cursor = Cursor {
            stream: self,
            extra,
            iter,
            head: None,
        };
        cursor.advance();
        cursor
    }
}

/// A position in a stream: its next series.
struct Cursor<'a> {
    stream: &'a Stream,
    extra: &'a ExtraLabels,
    iter: CursorIter<'a>,
    head: Option<(Labels<'a>, u32, u32)>,
}

enum CursorIter<'a> {
    Members(Merged<'a>),
    One(Option<(u32, u32)>),
}

impl<'a> Cursor<'a> {
    fn advance(&mut self) {
        self.head = match &mut self.iter {
            CursorIter::Members(merged) => {
                merged.next().map(|(run, entry): (&'a Run, &'a Entry)| {
                    let key = run.key(entry);
                    let repr = match &self.stream.labels {
                        StreamLabels::Vec(core) => LabelsRepr::Vec {
                            layout: &core.layout,
                            key,
                        },
                        StreamLabels::Pairs | StreamLabels::Overflow(_) => {
                            LabelsRepr::Pairs { key }
                        }
                    };
                    (
                        Labels {
                            repr,
                            extra: self.extra,
                        },
                        entry.slot,
                        entry.generation,
                    )
                })
            }
            CursorIter::One(one) => {
                one.take()
                    .and_then(|(index, state)| match &self.stream.labels {
                        StreamLabels::Overflow(core) => Some((
                            Labels {
                                repr: LabelsRepr::Overflow {
                                    layout: &core.layout,
                                },
                                extra: self.extra,
                            },
                            index,
                            state,
                        )),
                        _ => None,
                    })
            }
        };
    }
}

fn cmp_heads(a: &Cursor<'_>, b: &Cursor<'_>) -> Ordering {
    match (&a.head, &b.head) {
        (Some((x, ..)), Some((y, ..))) => cmp_pairs(x.iter(), y.iter()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// How a registration treats the family's help text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Help<'a> {
    /// Must agree with the family's help (or replace a placeholder).
    Required(&'a str),
    /// From a macro: used for a new family, ignored otherwise.
    Placeholder(&'a str),
}

/// A scalar's slot, whatever its cell type.
#[derive(Clone, Copy)]
pub(crate) enum AnySlot {
    F64Counter(SlotRef<crate::counter::F64Counter>),
    U64Counter(SlotRef<crate::counter::U64Counter>),
    F64Gauge(SlotRef<crate::gauge::F64Gauge>),
    I64Gauge(SlotRef<crate::gauge::I64Gauge>),
    Histogram(SlotRef<crate::histogram::HistogramCell>),
}

macro_rules! any_slot_from {
    ($($variant:ident($cell:ty)),*) => {$(
        impl From<SlotRef<$cell>> for AnySlot {
            fn from(slot: SlotRef<$cell>) -> Self {
                Self::$variant(slot)
            }
        }
    )*};
}

any_slot_from!(
    F64Counter(crate::counter::F64Counter),
    U64Counter(crate::counter::U64Counter),
    F64Gauge(crate::gauge::F64Gauge),
    I64Gauge(crate::gauge::I64Gauge),
    Histogram(crate::histogram::HistogramCell)
);

impl AnySlot {
    /// The slot's index in its pool and the generation of the series.
    fn index_generation(&self) -> (u32, u32) {
        let (index, state) = match self {
            Self::F64Counter(s) => (s.index, s.state),
            Self::U64Counter(s) => (s.index, s.state),
            Self::F64Gauge(s) => (s.index, s.state),
            Self::I64Gauge(s) => (s.index, s.state),
            Self::Histogram(s) => (s.index, s.state),
        };
        (index, (state >> 32) as u32)
    }

    fn state(&self) -> u64 {
        match self {
            Self::F64Counter(s) => s.state,
            Self::U64Counter(s) => s.state,
            Self::F64Gauge(s) => s.state,
            Self::I64Gauge(s) => s.state,
            Self::Histogram(s) => s.state,
        }
    }
}

/// A registered metric.
enum Registration {
    Scalar(Scalar),
    Vec(Arc<dyn Source>),
}

pub(crate) struct Scalar {
    core: Arc<Core>,
    slot: AnySlot,
    pool: &'static dyn Series,
    /// The pool's address: which scalar group it is in.
    group: usize,
    /// Created by a metric macro: counted against the bound, and dropped when idle.
    by_macro: Option<Idle>,
}

/// When a macro series last changed, to drop it once idle.
#[derive(Clone, Copy)]
struct Idle {
    signature: u64,
    since: Duration,
}

/// The scalars of a family that share one pool, in label order.
struct ScalarGroup {
    pool: &'static dyn Series,
    members: Members,
}

pub(crate) struct Family {
    pub(crate) name: Arc<str>,
    pub(crate) kind: MetricKind,
    state: Mutex<FamilyState>,
}

struct FamilyState {
    help: Arc<str>,
    /// The help came from a metric macro without a description and may still be replaced.
    help_is_placeholder: bool,
    metrics: HashMap<Identity, Registration>,
    /// For each set of label names (sorted), the constant names among them (sorted).
    splits: HashMap<LabelNames, (LabelNames, usize)>,
    scalars: HashMap<usize, ScalarGroup>,
    /// Series created by metric macros, their overflow series not counted.
    macro_series: usize,
}

/// What the registry tells a family at a scrape.
pub(crate) struct Sweep<'a> {
    /// Now, by the registry's clock.
    pub(crate) now: Duration,
    /// Macro series unchanged this long are dropped.
    pub(crate) idle_timeout: Option<Duration>,
    /// Labels added to every series that does not have them.
    pub(crate) extra: &'a ExtraLabels,
}

impl Family {
    pub(crate) fn new(name: Arc<str>, kind: MetricKind, help: Help<'_>) -> Self {
        let (help, help_is_placeholder) = match help {
            Help::Required(h) => (h, false),
            Help::Placeholder(h) => (h, true),
        };
        Self {
            name,
            kind,
            state: Mutex::new(FamilyState {
                help: help.into(),
                help_is_placeholder,
                metrics: HashMap::new(),
                splits: HashMap::new(),
                scalars: HashMap::new(),
                macro_series: 0,
            }),
        }
    }

    /// Checks kind, help, identity and label split for a new metric, then runs `create`
    /// (under the family's lock) and records what it made. Nothing changes on error.
    pub(crate) fn register<T>(
        &self,
        kind: MetricKind,
        help: Help<'_>,
        identity: Identity,
        variable_names: &[&str],
        create: impl FnOnce(&mut Registering<'_>) -> Result<(T, RegisteredAs), ExporterError>,
    ) -> Result<T, ExporterError> {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        self.check(&state, kind, help, &identity)?;
        let split = split_of(&identity, variable_names);
        self.check_split(&state, &split)?;
        let (made, registered) = create(&mut Registering { state: &mut state })?;
        if let Help::Required(h) = help {
            if state.help_is_placeholder {
                state.help = h.into();
            }
            state.help_is_placeholder = false;
        }
        state.splits.entry(split.0).or_insert((split.1, 0)).1 += 1;
        let registration = match registered {
            RegisteredAs::Scalar(scalar) => Registration::Scalar(scalar),
            RegisteredAs::Vec(source) => Registration::Vec(source),
        };
        state.metrics.insert(identity, registration);
        Ok(made)
    }

    /// True when no metric is registered in the family.
    pub(crate) fn is_empty(&self) -> bool {
        let _section = crate::fork::enter();
        self.state.lock().metrics.is_empty()
    }

    fn check_split(
        &self,
        state: &FamilyState,
        split: &(LabelNames, LabelNames),
    ) -> Result<(), ExporterError> {
        match state.splits.get(&split.0) {
            Some((existing, _)) if *existing != split.1 => Err(ExporterError::LabelSplitConflict {
                name: self.name.to_string(),
                labels: split.0.iter().map(|n| n.to_string()).collect(),
                existing_const: existing.iter().map(|n| n.to_string()).collect(),
            }),
            _ => Ok(()),
        }
    }

    fn check(
        &self,
        state: &FamilyState,
        kind: MetricKind,
        help: Help<'_>,
        identity: &Identity,
    ) -> Result<(), ExporterError> {
        if kind != self.kind {
            return Err(ExporterError::KindConflict {
                name: self.name.to_string(),
                existing: self.kind,
                requested: kind,
            });
        }
        if let Help::Required(h) = help {
            if *state.help != *h && !state.help_is_placeholder {
                return Err(ExporterError::HelpConflict {
                    name: self.name.to_string(),
                    existing: state.help.to_string(),
                    requested: h.into(),
                });
            }
        }
        if state.metrics.contains_key(identity) {
            return Err(already_registered(&self.name, identity));
        }
        Ok(())
    }

    /// The slot of the macro scalar with this identity, registered by `create` if new; past
    /// `max_series` macro series, the family's overflow series instead.
    pub(crate) fn macro_scalar(
        &self,
        kind: MetricKind,
        identity: Identity,
        max_series: usize,
        now: Duration,
        create: impl FnOnce(
            &mut Registering<'_>,
            &Identity,
        ) -> Option<(Arc<Core>, AnySlot, &'static dyn Series)>,
    ) -> Result<AnySlot, ExporterError> {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        match state.metrics.get(&identity) {
            Some(Registration::Scalar(scalar)) => return Ok(scalar.slot),
            Some(Registration::Vec(_)) => return Err(already_registered(&self.name, &identity)),
            None => {}
        }
        self.check(&state, kind, Help::Placeholder(""), &identity)?;
        self.check_split(&state, &split_of(&identity, &[]))?;
        let overflowing = max_series > 0 && state.macro_series >= max_series;
        let identity: Identity = if overflowing {
            let overflow: Identity =
                vec![(crate::exposition::OVERFLOW_LABEL.into(), "true".into())].into();
            if let Some(Registration::Scalar(scalar)) = state.metrics.get(&overflow) {
                return Ok(scalar.slot);
            }
            overflow
        } else {
            identity
        };
        let mut scope = Registering { state: &mut state };
        let Some((core, slot, pool)) = create(&mut scope, &identity) else {
            return Err(ExporterError::PoolFull {
                metric: self.name.to_string(),
            });
        };
        let group = pool_key(pool);
        state.scalars.entry(group).or_insert_with(|| ScalarGroup {
            pool,
            members: Members::default(),
        });
        let (index, _) = slot.index_generation();
        let key = pairs_key(identity.iter().map(|(k, v)| (&**k, &**v)));
        if let Some(group) = state.scalars.get_mut(&group) {
            group.members.push(index, slot.state(), &key);
        }
        if !overflowing {
            state.macro_series += 1;
        }
        let split = split_of(&identity, &[]);
        state.splits.entry(split.0).or_insert((split.1, 0)).1 += 1;
        state.metrics.insert(
            identity,
            Registration::Scalar(Scalar {
                core,
                slot,
                pool,
                group,
                by_macro: Some(Idle {
                    signature: 0,
                    since: now,
                }),
            }),
        );
        Ok(slot)
    }

    /// Replaces placeholder help with a description.
    pub(crate) fn describe(&self, help: &str) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        if state.help_is_placeholder && !help.is_empty() {
            state.help = help.into();
            state.help_is_placeholder = false;
        }
    }

    /// Takes the metric with this identity out: its series end and leave the scrape.
    /// Returns whether the family is now empty.
    pub(crate) fn unregister(&self, identity: &Identity) -> Option<bool> {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let registration = state.metrics.remove(identity)?;
        let names = match &registration {
            Registration::Scalar(_) => split_of(identity, &[]).0,
            Registration::Vec(source) => {
                let names: Vec<&str> = source.core().layout.names().iter().map(|n| &**n).collect();
                split_of(identity, &names).0
            }
        };
        if let Some(entry) = state.splits.get_mut(&names) {
            entry.1 -= 1;
            if entry.1 == 0 {
                state.splits.remove(&names);
            }
        }
        match registration {
            Registration::Scalar(scalar) => end_scalar(&mut state, &scalar, identity),
            Registration::Vec(source) => source.detach(),
        }
        Some(state.metrics.is_empty())
    }

    /// Ends every series of every metric: the registry is going away.
    pub(crate) fn end_all(&self) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let metrics: Vec<(Identity, Registration)> = state.metrics.drain().collect();
        for (identity, registration) in metrics {
            match registration {
                Registration::Scalar(scalar) => end_scalar(&mut state, &scalar, &identity),
                Registration::Vec(source) => source.detach(),
            }
        }
    }

    /// Hands the family and its series whose labels include every `required` pair to
    /// `encoder`, in label order; a family with no such series is not shown at all. Macro
    /// series idle for longer than the sweep's timeout are dropped first.
    pub(crate) fn encode(
        &self,
        required: &[(&str, &str)],
        encoder: &mut dyn Encoder,
        sweep: &Sweep<'_>,
    ) {
        let _section = crate::fork::enter();
        let mut streams = Vec::new();
        let vecs: Vec<Arc<dyn Source>>;
        let help = {
            let mut state = self.state.lock();
            if let Some(timeout) = sweep.idle_timeout {
                drop_idle(&mut state, sweep.now, timeout);
            }
            vecs = state
                .metrics
                .values()
                .filter_map(|r| match r {
                    Registration::Vec(source) => Some(Arc::clone(source)),
                    Registration::Scalar(_) => None,
                })
                .collect();
            for group in state.scalars.values_mut() {
                streams.push(Stream {
                    labels: StreamLabels::Pairs,
                    items: Items::Members(group.members.snapshot()),
                    pool: group.pool,
                });
            }
            drop(state);
            for source in &vecs {
                if source.core().layout.has_consts(required) {
                    source.streams(&mut streams);
                }
            }
            Arc::clone(&self.state.lock().help)
        };
        let info = FamilyInfo {
            name: &self.name,
            help: &help,
            kind: self.kind,
        };
        write_series(&streams, required, sweep.extra, &info, encoder);
        // The scrape's thread, not the writers, merges the runs that piled up.
        for source in &vecs {
            source.tidy();
        }
        let mut state = self.state.lock();
        let groups: Vec<usize> = state.scalars.keys().copied().collect();
        for group in groups {
            let merge = state.scalars.get_mut(&group).and_then(|g| g.members.plan());
            merge_now(&mut state, group, merge);
        }
    }
}

/// Hands the series of `streams` whose labels include every `required` pair to `encoder` in
/// label order, announcing the family before the first.
fn write_series(
    streams: &[Stream],
    required: &[(&str, &str)],
    extra: &ExtraLabels,
    info: &FamilyInfo<'_>,
    encoder: &mut dyn Encoder,
) {
    let mut cursors: Vec<Cursor<'_>> = streams
        .iter()
        .filter(|s| s.required_consts(required))
        .map(|s| s.cursor(extra))
        .filter(|c| c.head.is_some())
        .collect();
    let mut scratch = Vec::new();
    let mut started = false;
    let mut emit = |cursor: &Cursor<'_>, scratch: &mut Vec<u64>| {
        let Some((labels, index, state)) = &cursor.head else {
            return;
        };
        let pairs = matches!(labels.repr, LabelsRepr::Pairs { .. });
        if pairs && !required.is_empty() && !labels.has(required) {
            return;
        }
        if let Some(value) = cursor.stream.pool.read(*index, *state, scratch) {
            if !started {
                encoder.family(info);
                started = true;
            }
            encoder.series(labels, &value);
        }
    };
    if cursors.len() == 1 {
        let cursor = &mut cursors[0];
        while cursor.head.is_some() {
            emit(cursor, &mut scratch);
            cursor.advance();
        }
        return;
    }
    let mut heap = CursorHeap::new(cursors);
    while let Some(cursor) = heap.min() {
        emit(cursor, &mut scratch);
        heap.advance_min();
    }
}

/// The family's state, for the closures that create a metric under its lock.
pub(crate) struct Registering<'a> {
    state: &'a mut FamilyState,
}

/// What a creation closure made.
pub(crate) enum RegisteredAs {
    Scalar(Scalar),
    Vec(Arc<dyn Source>),
}

impl Registering<'_> {
    /// Puts a new scalar's series in its pool's group; returns what to record.
    pub(crate) fn add_scalar<C: Cell>(
        &mut self,
        core: Arc<Core>,
        slot: SlotRef<C>,
        pool: &'static Pool<C>,
    ) -> RegisteredAs
    where
        SlotRef<C>: Into<AnySlot>,
    {
        let group = pool_key(pool);
        let key = pairs_key(core.layout.consts().iter().map(|(k, v)| (&**k, &**v)));
        let dyn_pool: &'static dyn Series = pool;
        let entry = self
            .state
            .scalars
            .entry(group)
            .or_insert_with(|| ScalarGroup {
                pool: dyn_pool,
                members: Members::default(),
            });
        entry.members.push(slot.index, slot.state, &key);
        RegisteredAs::Scalar(Scalar {
            core,
            slot: slot.into(),
            pool: dyn_pool,
            group,
            by_macro: None,
        })
    }
}

fn pool_key(pool: &'static dyn Series) -> usize {
    std::ptr::from_ref(pool).cast::<()>() as usize
}

/// Merges a scalar group's runs right away (scalar groups are small and change rarely).
fn merge_now(state: &mut FamilyState, group: usize, merge: Option<crate::members::Merge>) {
    let (Some(merge), Some(group)) = (merge, state.scalars.get_mut(&group)) else {
        return;
    };
    let pool = group.pool;
    let (run, dropped) = merge.merge(|e| pool.is_live(e.slot, e.generation));
    group.members.install(merge, run, dropped);
}

fn end_scalar(state: &mut FamilyState, scalar: &Scalar, identity: &Identity) {
    let (index, series) = scalar.slot.index_generation();
    scalar.pool.end(index, series);
    scalar.core.retire();
    let overflow = identity.len() == 1 && &*identity[0].0 == crate::exposition::OVERFLOW_LABEL;
    if scalar.by_macro.is_some() && !overflow {
        state.macro_series = state.macro_series.saturating_sub(1);
    }
    let merge = state
        .scalars
        .get_mut(&scalar.group)
        .and_then(|g| g.members.ended());
    merge_now(state, scalar.group, merge);
}

/// Drops macro series whose value has not changed for `timeout`.
fn drop_idle(state: &mut FamilyState, now: Duration, timeout: Duration) {
    let mut scratch = Vec::new();
    let mut idle = Vec::new();
    for (identity, registration) in &mut state.metrics {
        let Registration::Scalar(scalar) = registration else {
            continue;
        };
        let Some(last) = &mut scalar.by_macro else {
            continue;
        };
        let (index, series) = scalar.slot.index_generation();
        let signature = scalar
            .pool
            .read(index, series, &mut scratch)
            .map_or(0, |v| signature(&v));
        if signature != last.signature {
            *last = Idle {
                signature,
                since: now,
            };
        } else if now.saturating_sub(last.since) >= timeout {
            idle.push(identity.clone());
        }
    }
    for identity in idle {
        if let Some(Registration::Scalar(scalar)) = state.metrics.remove(&identity) {
            let names = split_of(&identity, &[]).0;
            if let Some(entry) = state.splits.get_mut(&names) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    state.splits.remove(&names);
                }
            }
            end_scalar(state, &scalar, &identity);
        }
    }
}

/// A number that changes whenever the value does.
fn signature(value: &crate::exposition::Value<'_>) -> u64 {
    use crate::exposition::{Number, Value};
    let number = |n: &Number| match n {
        Number::UInt(v) => *v,
        Number::Int(v) => *v as u64,
        Number::Float(v) => v.to_bits(),
    };
    match value {
        Value::Counter(n) | Value::Gauge(n) => number(n).wrapping_add(1),
        Value::Histogram(h) => h.count().wrapping_mul(31) ^ h.sum.to_bits(),
    }
}

/// All label names (sorted) and the constant names among them (sorted).
fn split_of(identity: &Identity, variable_names: &[&str]) -> (LabelNames, LabelNames) {
    let consts: Vec<Box<str>> = identity.iter().map(|(k, _)| k.clone()).collect();
    let mut all = consts.clone();
    all.extend(variable_names.iter().map(|n| Box::<str>::from(*n)));
    all.sort();
    (all.into(), consts.into())
}

fn already_registered(name: &str, identity: &Identity) -> ExporterError {
    ExporterError::AlreadyRegistered {
        name: name.into(),
        const_labels: identity
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A binary heap of cursors by their next series' labels.
struct CursorHeap<'a> {
    cursors: Vec<Cursor<'a>>,
}

impl<'a> CursorHeap<'a> {
    fn new(cursors: Vec<Cursor<'a>>) -> Self {
        let mut heap = Self { cursors };
        for i in (0..heap.cursors.len() / 2).rev() {
            heap.sift_down(i);
        }
        heap
    }

    fn min(&self) -> Option<&Cursor<'a>> {
        self.cursors.first().filter(|c| c.head.is_some())
    }

    fn advance_min(&mut self) {
        if let Some(first) = self.cursors.first_mut() {
            first.advance();
            if first.head.is_none() {
                self.cursors.swap_remove(0);
            }
            self.sift_down(0);
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.cursors.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < n && cmp_heads(&self.cursors[l], &self.cursors[min]) == Ordering::Less {
                min = l;
            }
            if r < n && cmp_heads(&self.cursors[r], &self.cursors[min]) == Ordering::Less {
                min = r;
            }
            if min == i {
                return;
            }
            self.cursors.swap(i, min);
            i = min;
        }
    }
}
