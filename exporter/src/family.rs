//! A metric family: every series sharing one name, kind and help, kept in render order.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::format::push_help;
use crate::series::{AnySeries, MetricCore, cmp_series};
use crate::{ExporterError, MetricKind};

/// Constant labels sorted by name: with the family name, a metric's identity.
pub(crate) type Identity = Box<[(Box<str>, Box<str>)]>;

/// Label names, sorted.
type LabelNames = Box<[Box<str>]>;

pub(crate) struct Family {
    pub(crate) name: Arc<str>,
    pub(crate) kind: MetricKind,
    state: Mutex<FamilyState>,
}

struct FamilyState {
    help: Box<str>,
    /// The help came from a metric macro without a description and may still be replaced.
    help_is_placeholder: bool,
    /// Registered metrics by identity; scalars keep their one series for the macro path.
    metrics: HashMap<Identity, Option<Arc<dyn Any + Send + Sync>>>,
    /// For each set of label names (sorted), the constant names among them (sorted).
    splits: HashMap<LabelNames, LabelNames>,
    /// Series in render order.
    sorted: Vec<Arc<dyn AnySeries>>,
    /// Series added since the last render, not yet merged into `sorted`.
    pending: Vec<Arc<dyn AnySeries>>,
}

/// How a registration treats the family's help text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Help<'a> {
    /// Must agree with the family's help (or replace a placeholder).
    Required(&'a str),
    /// From a macro: use for a new family, ignore otherwise.
    Placeholder(&'a str),
}

impl Family {
    pub(crate) fn new(name: Arc<str>, kind: MetricKind, help: Help<'_>) -> Self {
        let (help, help_is_placeholder) = match help {
            Help::Required(h) => (h, false),
            Help::Placeholder(h) => (h, true),
        };
        let state = FamilyState {
            help: help.into(),
            help_is_placeholder,
            metrics: HashMap::new(),
            splits: HashMap::new(),
            sorted: Vec::new(),
            pending: Vec::new(),
        };
        Self {
            name,
            kind,
            state: Mutex::new(state),
        }
    }

    /// Registers a metric after checking kind, help, identity and label split; `make` builds
    /// its scalar series, if it has one. Nothing changes when an error is returned.
    pub(crate) fn register(
        &self,
        kind: MetricKind,
        help: Help<'_>,
        core: &Arc<MetricCore>,
        make_scalar: impl FnOnce() -> Option<Arc<dyn AnySeries>>,
    ) -> Result<Option<Arc<dyn AnySeries>>, ExporterError> {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        if kind != self.kind {
            return Err(ExporterError::KindConflict {
                name: self.name.to_string(),
                existing: self.kind,
                requested: kind,
            });
        }
        let mut state = self.state.lock();
        let adopt_help = match help {
            Help::Required(h) if *state.help != *h => {
                if !state.help_is_placeholder {
                    return Err(ExporterError::HelpConflict {
                        name: self.name.to_string(),
                        existing: state.help.to_string(),
                        requested: h.into(),
                    });
                }
                Some(h)
            }
            _ => None,
        };
        let identity: Identity = core.const_labels.clone();
        if state.metrics.contains_key(&identity) {
            return Err(ExporterError::AlreadyRegistered {
                name: self.name.to_string(),
                const_labels: identity
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
        let mut all: Vec<Box<str>> = core.const_labels.iter().map(|(k, _)| k.clone()).collect();
        let const_names: LabelNames = all.clone().into();
        all.extend(core.variable_names.iter().cloned());
        all.sort();
        let all: LabelNames = all.into();
        if let Some(existing) = state.splits.get(&all) {
            if *existing != const_names {
                return Err(ExporterError::LabelSplitConflict {
                    name: self.name.to_string(),
                    labels: all.iter().map(|n| n.to_string()).collect(),
                    existing_const: existing.iter().map(|n| n.to_string()).collect(),
                });
            }
        }
        if let Some(h) = adopt_help {
            state.help = h.into();
            state.help_is_placeholder = false;
        }
        state.splits.insert(all, const_names);
        let scalar = make_scalar();
        if let Some(series) = &scalar {
            state.pending.push(Arc::clone(series));
        }
        state
            .metrics
            .insert(identity, scalar.clone().map(|s| s.into_any()));
        Ok(scalar)
    }

    /// The scalar series registered with these constant labels, if any; `None` inside means
    /// a vec holds that identity.
    pub(crate) fn scalar(
        &self,
        identity: &[(Box<str>, Box<str>)],
    ) -> Option<Option<Arc<dyn Any + Send + Sync>>> {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        self.state.lock().metrics.get(identity).cloned()
    }

    /// Replaces placeholder help with a description.
    pub(crate) fn describe(&self, help: &str) {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        if state.help_is_placeholder && !help.is_empty() {
            state.help = help.into();
            state.help_is_placeholder = false;
        }
    }

    pub(crate) fn add_series(&self, series: Arc<dyn AnySeries>) {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        self.state.lock().pending.push(series);
    }

    /// Appends the family's text: its header and every series whose constant labels include
    /// `required`. A family with no such series writes nothing.
    pub(crate) fn render(&self, required: &[(&str, &str)], out: &mut String) {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        let mut state = self.state.lock();
        if !state.pending.is_empty() {
            let mut pending = std::mem::take(&mut state.pending);
            state.sorted.append(&mut pending);
            // Two sorted runs after the first render: the stable sort merges them in linear time.
            state.sorted.sort_by(|a, b| cmp_series(&**a, &**b));
        }
        let start = out.len();
        out.push_str("# HELP ");
        out.push_str(&self.name);
        out.push(' ');
        push_help(out, &state.help);
        out.push_str("\n# TYPE ");
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(self.kind.as_str());
        out.push('\n');
        let header_end = out.len();
        for series in &state.sorted {
            if required.is_empty() || series.core().has_const_labels(required) {
                series.write(out);
            }
        }
        if out.len() == header_end {
            out.truncate(start);
        }
    }
}
