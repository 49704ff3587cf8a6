//! A metric family: every metric sharing one name, type and help, and the registration rules
//! among them. Its scalars are in [`super::scalars`], its series are walked for a scrape by
//! [`super::streams`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::ExporterError;
use crate::exposition::{Encoder, ExtraLabels, FamilyInfo, OVERFLOW_LABEL};
use crate::kinds::table::MetricKind;
use crate::registry::idle::Idle;
use crate::registry::listed::{self, Source as ListedSource};
use crate::registry::scalars::{AnySlot, Scalar, ScalarGroups};
use crate::registry::streams::{Source, Stream, write_series};
use crate::storage::directory::Core;
use crate::storage::labels::pairs_key;
use crate::storage::pool::{Cell, Pool, SlotRef};

/// Constant labels sorted by name: with the family name, a metric's identity.
pub(crate) type Identity = Box<[(Box<str>, Box<str>)]>;

/// Label names, sorted.
type LabelNames = Box<[Box<str>]>;

/// How a registration treats the family's help text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Help<'a> {
    /// Must agree with the family's help (or replace a placeholder).
    Required(&'a str),
    /// From a macro: used for a new family, ignored otherwise.
    Placeholder(&'a str),
}

/// A registered metric.
enum Registration {
    Scalar(Scalar),
    Vec(Arc<dyn Source>),
    /// An info or a stateset.
    Listed(Arc<dyn ListedSource>),
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
    /// For each set of label names (sorted), the constant names among them (sorted), and
    /// how many metrics use that set.
    splits: HashMap<LabelNames, (LabelNames, usize)>,
    scalars: ScalarGroups,
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

/// The family's state, for the closures that create a metric under its lock.
pub(crate) struct Registering<'a> {
    state: &'a mut FamilyState,
}

/// What a creation closure made.
pub(crate) enum RegisteredAs {
    Scalar(Scalar),
    Vec(Arc<dyn Source>),
    Listed(Arc<dyn ListedSource>),
}

impl Registering<'_> {
    /// Puts a new scalar's series in its pool's group; returns what to record.
    pub(crate) fn add_scalar<C: Cell>(
        &mut self,
        core: Arc<Core>,
        slot: &SlotRef<C>,
        pool: &'static Pool<C>,
        kind: MetricKind,
    ) -> RegisteredAs {
        let slot = AnySlot::new(slot, pool, kind);
        let key = pairs_key(core.layout.consts().iter().map(|(k, v)| (&**k, &**v)));
        self.state.scalars.add(&slot, &key);
        RegisteredAs::Scalar(Scalar {
            core,
            slot,
            by_macro: None,
        })
    }
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
                scalars: ScalarGroups::default(),
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
            RegisteredAs::Listed(source) => Registration::Listed(source),
        };
        state.metrics.insert(identity, registration);
        Ok(made)
    }

    /// The help text it has now.
    pub(crate) fn help(&self) -> String {
        let _section = crate::fork::enter();
        self.state.lock().help.to_string()
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
    /// `max_series` macro series, the family's overflow series instead. A scalar of another
    /// type under the identity is returned as it is, for the recorder to refuse.
    pub(crate) fn macro_scalar(
        &self,
        kind: MetricKind,
        identity: Identity,
        max_series: usize,
        now: Duration,
        create: impl FnOnce(&Identity) -> Option<(Arc<Core>, AnySlot)>,
    ) -> Result<AnySlot, ExporterError> {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        match state.metrics.get(&identity) {
            Some(Registration::Scalar(scalar)) => return Ok(scalar.slot),
            Some(Registration::Vec(_) | Registration::Listed(_)) => {
                return Err(already_registered(&self.name, &identity));
            }
            None => {}
        }
        self.check(&state, kind, Help::Placeholder(""), &identity)?;
        self.check_split(&state, &split_of(&identity, &[]))?;
        let overflowing = max_series > 0 && state.macro_series >= max_series;
        let identity: Identity = if overflowing {
            let overflow: Identity = vec![(OVERFLOW_LABEL.into(), "true".into())].into();
            if let Some(Registration::Scalar(scalar)) = state.metrics.get(&overflow) {
                return Ok(scalar.slot);
            }
            overflow
        } else {
            identity
        };
        let Some((core, slot)) = create(&identity) else {
            return Err(ExporterError::PoolFull {
                metric: self.name.to_string(),
            });
        };
        let key = pairs_key(identity.iter().map(|(k, v)| (&**k, &**v)));
        state.scalars.add(&slot, &key);
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
                by_macro: Some(Idle::new(now)),
            }),
        );
        Ok(slot)
    }

    /// Replaces placeholder help with a description.
    /// Returns whether the help changed.
    pub(crate) fn describe(&self, help: &str) -> bool {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let changes = state.help_is_placeholder && !help.is_empty();
        if changes {
            state.help = help.into();
            state.help_is_placeholder = false;
        }
        changes
    }

    /// Takes the metric with this identity out: its series end and leave the scrape.
    /// Returns whether the family is now empty.
    pub(crate) fn unregister(&self, identity: &Identity) -> Option<bool> {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let registration = state.metrics.remove(identity)?;
        forget(&mut state, identity, registration);
        Some(state.metrics.is_empty())
    }

    /// Ends every series of every metric: the registry is going away.
    pub(crate) fn end_all(&self) {
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        let metrics: Vec<(Identity, Registration)> = state.metrics.drain().collect();
        for (identity, registration) in metrics {
            end(&mut state, &identity, registration);
        }
    }

    /// Hands the family and its series whose labels include every `required` pair to
    /// `encoder`, in label order; a family with no such series is not shown at all. Macro
    /// series idle for longer than the sweep's timeout are dropped first. Returns whether
    /// the family was shown.
    pub(crate) fn encode(
        &self,
        required: &[(&str, &str)],
        encoder: &mut dyn Encoder,
        sweep: &Sweep<'_>,
    ) -> bool {
        let mut streams = Vec::new();
        let vecs: Vec<Arc<dyn Source>>;
        let listed: Vec<Arc<dyn ListedSource>>;
        let help = {
            let _section = crate::fork::enter();
            let mut state = self.state.lock();
            if let Some(timeout) = sweep.idle_timeout {
                drop_idle(&mut state, sweep.now, timeout);
            }
            vecs = state
                .metrics
                .values()
                .filter_map(|r| match r {
                    Registration::Vec(source) => Some(Arc::clone(source)),
                    Registration::Scalar(_) | Registration::Listed(_) => None,
                })
                .collect();
            listed = state
                .metrics
                .values()
                .filter_map(|r| match r {
                    Registration::Listed(source) => Some(Arc::clone(source)),
                    Registration::Scalar(_) | Registration::Vec(_) => None,
                })
                .collect();
            for group in state.scalars.iter_mut() {
                streams.push(Stream::scalars(group.members.snapshot(), group.pool));
            }
            Arc::clone(&state.help)
        };
        for source in &vecs {
            if source.core().layout.has_consts(required) {
                source.streams(&mut streams);
            }
        }
        let info = FamilyInfo {
            name: &self.name,
            help: Some(&help),
            kind: self.kind,
            observed: false,
        };
        if !listed.is_empty() {
            // An info or stateset family holds nothing else.
            return listed::write_samples(&listed, required, sweep.extra, &info, encoder);
        }
        let shown = write_series(&streams, required, sweep.extra, &info, encoder);
        // The scrape's thread, not the writers, merges the runs that piled up.
        for source in &vecs {
            source.tidy();
        }
        let _section = crate::fork::enter();
        self.state.lock().scalars.tidy();
        shown
    }
}

/// Takes a registration out of the label splits, then ends it.
fn forget(state: &mut FamilyState, identity: &Identity, registration: Registration) {
    let names = match &registration {
        Registration::Scalar(_) => split_of(identity, &[]).0,
        Registration::Vec(source) => {
            let names: Vec<&str> = source.core().layout.names().iter().map(|n| &**n).collect();
            split_of(identity, &names).0
        }
        Registration::Listed(source) => {
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
    end(state, identity, registration);
}

/// Ends a registration's series: a scalar's one, or every one of a vec.
fn end(state: &mut FamilyState, identity: &Identity, registration: Registration) {
    match registration {
        Registration::Scalar(scalar) => {
            state.scalars.end(&scalar.slot);
            scalar.core.retire();
            let overflow = identity.len() == 1 && &*identity[0].0 == OVERFLOW_LABEL;
            if scalar.by_macro.is_some() && !overflow {
                state.macro_series = state.macro_series.saturating_sub(1);
            }
        }
        Registration::Vec(source) => source.detach(),
        Registration::Listed(source) => source.detach(),
    }
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
        let (index, generation) = scalar.slot.index_generation();
        let signature = scalar
            .slot
            .pool()
            .read(index, generation, &mut scratch)
            .map_or(0, |v| v.signature());
        if last.is_idle(signature, now, timeout) {
            idle.push(identity.clone());
        }
    }
    for identity in idle {
        if let Some(registration) = state.metrics.remove(&identity) {
            forget(state, &identity, registration);
        }
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
