//! Metrics whose series are not pool slots but a short list kept by the metric: infos and
//! statesets. Each child (the one of a metric without variable labels, or one per label
//! values of a vec) writes its samples at a scrape; the family sorts and hands them over.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::family::{Help, RegisteredAs};
use super::{Opts, Registry};
use crate::error::ExporterError;
use crate::exposition::{Encoder, ExtraLabels, FamilyInfo, Labels, Number, Series, Value};
use crate::kinds::table::MetricKind;
use crate::storage::directory::Core;
use crate::storage::labels::cmp_pairs;

/// One sample of a listed metric: its child's label pairs (sorted by name), the pair that
/// tells it from the child's other samples (a stateset's state), and its value.
pub(crate) struct Sample {
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) one: Option<(String, String)>,
    pub(crate) value: i64,
}

impl Sample {
    /// Its labels, with a registry's `extra` ones.
    fn labels<'a>(&'a self, extra: &'a ExtraLabels) -> Labels<'a> {
        match &self.one {
            Some((name, value)) => Labels::sorted_with_one(&self.labels, (name, value), extra),
            None => Labels::sorted_with_extra(&self.labels, extra),
        }
    }

    /// Its child's labels, with a registry's `extra` ones.
    fn child_labels<'a>(&'a self, extra: &'a ExtraLabels) -> Labels<'a> {
        Labels::sorted_with_extra(&self.labels, extra)
    }
}

/// A registered listed metric, as its family sees it.
pub(crate) trait Source: Send + Sync {
    /// Its name and labels.
    fn core(&self) -> &Arc<Core>;
    /// Appends the samples of every child, as they are now.
    fn samples(&self, out: &mut Vec<Sample>);
    /// Drops every child and refuses new ones: the metric was unregistered.
    fn detach(&self);
}

/// What one kind of listed metric keeps per child, and how a child reads.
pub(crate) trait Kind: Send + Sync + 'static {
    /// The state of one child.
    type Child: Send + Sync + 'static;
    /// A new child's state.
    fn new_child(&self) -> Self::Child;
    /// Appends the child's samples: `labels` are its constant and variable pairs, sorted.
    fn samples(&self, child: &Self::Child, labels: &[(String, String)], out: &mut Vec<Sample>);
}

/// Variable label values, in declaration order.
type Values = Box<[Box<str>]>;

/// A listed metric: its children by variable label values.
pub(crate) struct Listed<K: Kind> {
    pub(crate) core: Arc<Core>,
    pub(crate) kind: K,
    children: Mutex<BTreeMap<Values, Arc<K::Child>>>,
    detached: AtomicBool,
}

impl<K: Kind> Listed<K> {
    /// The child of these label values (in declaration order), created on first use; a new
    /// child of a detached metric is not kept.
    pub(crate) fn child<V: AsRef<str>>(
        &self,
        values: &[V],
    ) -> Result<Arc<K::Child>, ExporterError> {
        let names = self.core.layout.names();
        if values.len() != names.len() {
            return Err(ExporterError::LabelValueCount {
                metric: self.core.name.to_string(),
                expected: names.iter().map(|n| n.to_string()).collect(),
                got: values.len(),
            });
        }
        let key: Values = values.iter().map(|v| v.as_ref().into()).collect();
        let _section = crate::fork::enter();
        let mut children = self.children.lock();
        if let Some(child) = children.get(&key) {
            return Ok(Arc::clone(child));
        }
        let child = Arc::new(self.kind.new_child());
        if !self.detached.load(Ordering::Relaxed) {
            children.insert(key, Arc::clone(&child));
        }
        Ok(child)
    }

    /// Removes the child of these label values (in declaration order).
    pub(crate) fn remove<V: AsRef<str>>(&self, values: &[V]) -> Result<(), ExporterError> {
        let names = self.core.layout.names();
        let key: Values = values.iter().map(|v| v.as_ref().into()).collect();
        if values.len() != names.len() {
            return Err(ExporterError::LabelValueCount {
                metric: self.core.name.to_string(),
                expected: names.iter().map(|n| n.to_string()).collect(),
                got: values.len(),
            });
        }
        let removed = {
            let _section = crate::fork::enter();
            self.children.lock().remove(&key)
        };
        match removed {
            Some(_) => Ok(()),
            None => Err(ExporterError::NoSuchSeries {
                metric: self.core.name.to_string(),
                values: values.iter().map(|v| v.as_ref().to_string()).collect(),
            }),
        }
    }

    /// Removes every child whose variable labels named in `labels` have the given values;
    /// returns how many. A label the metric does not have matches nothing.
    pub(crate) fn remove_matching(&self, labels: &[(&str, &str)]) -> usize {
        let Some(wanted) = self.core.layout.places(labels) else {
            return 0;
        };
        let _section = crate::fork::enter();
        let mut children = self.children.lock();
        let before = children.len();
        children.retain(|values, _| !wanted.iter().all(|(at, value)| &*values[*at] == *value));
        before - children.len()
    }

    /// Removes every child.
    pub(crate) fn clear(&self) {
        let _section = crate::fork::enter();
        self.children.lock().clear();
    }

    /// The label names a child's own pairs may not take: the constant and variable ones.
    pub(crate) fn is_label(&self, name: &str) -> bool {
        let layout = &self.core.layout;
        layout.consts().iter().any(|(k, _)| &**k == name)
            || layout.names().iter().any(|n| &**n == name)
    }
}

impl<K: Kind> Source for Listed<K> {
    fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn samples(&self, out: &mut Vec<Sample>) {
        let _section = crate::fork::enter();
        let children: Vec<(Values, Arc<K::Child>)> = self
            .children
            .lock()
            .iter()
            .map(|(k, c)| (k.clone(), Arc::clone(c)))
            .collect();
        let layout = &self.core.layout;
        for (values, child) in children {
            let mut labels: Vec<(String, String)> = layout
                .consts()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(
                    layout
                        .names()
                        .iter()
                        .zip(values.iter())
                        .map(|(k, v)| (k.to_string(), v.to_string())),
                )
                .collect();
            labels.sort();
            self.kind.samples(&child, &labels, out);
        }
    }

    fn detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
        let _section = crate::fork::enter();
        self.children.lock().clear();
        self.core.retire();
    }
}

/// Hands the samples of `sources` whose labels include every `required` pair to `encoder`
/// in label order, announcing the family before the first; returns whether it had any.
pub(crate) fn write_samples(
    sources: &[Arc<dyn Source>],
    required: &[(&str, &str)],
    extra: &ExtraLabels,
    info: &FamilyInfo<'_>,
    encoder: &mut dyn Encoder,
) -> bool {
    let mut samples = Vec::new();
    for source in sources {
        if source.core().layout.has_consts(required) {
            source.samples(&mut samples);
        }
    }
    samples.retain(|s| s.labels(extra).has(required));
    // By child, each child's samples together and in their own order (a stateset's states
    // as declared), as OpenMetrics wants a metric's samples.
    samples.sort_by(|a, b| cmp_pairs(a.child_labels(extra).iter(), b.child_labels(extra).iter()));
    if samples.is_empty() {
        return false;
    }
    encoder.family(info);
    for sample in &samples {
        encoder.series(&Series {
            labels: sample.labels(extra),
            value: Value::Number(Number::Int(sample.value)),
            timestamp_ms: None,
            exemplars: &[],
        });
    }
    true
}

impl Registry {
    /// Registers a listed metric of `kind` (info or stateset) made by `make`, its child
    /// without variable labels created at once when it has none.
    pub(crate) fn listed<K: Kind>(
        &self,
        opts: &Opts<'_>,
        metric_kind: MetricKind,
        variable_labels: &[&str],
        kind: K,
    ) -> Result<Arc<Listed<K>>, ExporterError> {
        if self.shared.multiprocess() {
            return Err(ExporterError::NotMultiprocess {
                metric: opts.name.into(),
                kind: metric_kind,
            });
        }
        let help = Help::Required(opts.help);
        let (family, identity, layout) =
            self.prepare_kind(metric_kind, opts, help, variable_labels)?;
        let (id, name) = (self.id, Arc::clone(&family.name));
        let result = family.register(metric_kind, help, identity, variable_labels, |_| {
            let listed = Arc::new(Listed {
                core: Core::register(id, name, layout),
                kind,
                children: Mutex::default(),
                detached: AtomicBool::new(false),
            });
            if variable_labels.is_empty() {
                listed.child::<&str>(&[])?;
            }
            let source: Arc<dyn Source> = Arc::clone(&listed) as Arc<dyn Source>;
            Ok((listed, RegisteredAs::Listed(source)))
        });
        self.forget_if_empty(&family);
        result
    }
}
