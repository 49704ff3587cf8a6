//! One series: a metric's label values, their rendered text and the atomic cell behind them.

use std::any::Any;
use std::cmp::Ordering;
use std::sync::Arc;

use crate::MetricKind;
use crate::format::push_label_value;
use crate::histogram::Buckets;

/// What every series of one metric shares: its name, constant labels and variable label names.
pub(crate) struct MetricCore {
    pub(crate) name: Arc<str>,
    /// Sorted by name.
    pub(crate) const_labels: Box<[(Box<str>, Box<str>)]>,
    /// In declaration order.
    pub(crate) variable_names: Box<[Box<str>]>,
    /// Every label, constant or variable, in name order: the order labels render in.
    order: Box<[Slot]>,
    pub(crate) buckets: Option<Arc<Buckets>>,
}

#[derive(Clone, Copy)]
enum Slot {
    Const(usize),
    Var(usize),
}

impl MetricCore {
    pub(crate) fn new(
        name: Arc<str>,
        mut const_labels: Vec<(Box<str>, Box<str>)>,
        variable_names: Vec<Box<str>>,
        buckets: Option<Arc<Buckets>>,
    ) -> Self {
        const_labels.sort();
        let mut core = Self {
            name,
            const_labels: const_labels.into(),
            variable_names: variable_names.into(),
            order: Box::new([]),
            buckets,
        };
        let mut order: Vec<Slot> = (0..core.const_labels.len())
            .map(Slot::Const)
            .chain((0..core.variable_names.len()).map(Slot::Var))
            .collect();
        order.sort_by(|a, b| core.label_name(*a).cmp(core.label_name(*b)));
        core.order = order.into();
        core
    }

    fn label_name(&self, slot: Slot) -> &str {
        match slot {
            Slot::Const(i) => &self.const_labels[i].0,
            Slot::Var(i) => &self.variable_names[i],
        }
    }

    /// The `(name, value)` label pairs of a series with these variable values, in name order.
    fn pairs<'a, V: AsRef<str>>(
        &'a self,
        values: &'a [V],
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.order.iter().map(move |slot| match *slot {
            Slot::Const(i) => (&*self.const_labels[i].0, &*self.const_labels[i].1),
            Slot::Var(i) => (&*self.variable_names[i], values[i].as_ref()),
        })
    }

    /// Renders `a="x",b="y"` for a series with these variable values.
    pub(crate) fn labels_text<V: AsRef<str>>(&self, values: &[V]) -> Box<str> {
        let mut out = String::new();
        for (i, (name, value)) in self.pairs(values).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push_str("=\"");
            push_label_value(&mut out, value);
            out.push('"');
        }
        out.into()
    }

    /// True when every `required` pair is among the constant labels.
    pub(crate) fn has_const_labels(&self, required: &[(&str, &str)]) -> bool {
        required.iter().all(|(k, v)| {
            self.const_labels
                .iter()
                .any(|(ck, cv)| **ck == **k && **cv == **v)
        })
    }

    pub(crate) fn const_label_refs(&self) -> Vec<(&str, &str)> {
        self.const_labels
            .iter()
            .map(|(k, v)| (&**k, &**v))
            .collect()
    }

    pub(crate) fn variable_name_refs(&self) -> Vec<&str> {
        self.variable_names.iter().map(|n| &**n).collect()
    }
}

/// The atomic storage of one series of some metric type.
pub(crate) trait Cell: Send + Sync + Sized + 'static {
    const KIND: MetricKind;

    fn new(buckets: Option<&Arc<Buckets>>) -> Self;

    /// Appends this series' sample lines.
    fn write(&self, name: &str, labels: &str, out: &mut String);
}

/// A series of one metric: the cell and everything needed to render it without allocating.
pub(crate) struct Series<C> {
    pub(crate) core: Arc<MetricCore>,
    values: Box<[Box<str>]>,
    labels: Box<str>,
    pub(crate) cell: C,
}

impl<C: Cell> Series<C> {
    pub(crate) fn new(core: Arc<MetricCore>, values: Box<[Box<str>]>) -> Self {
        let labels = core.labels_text(&values);
        let cell = C::new(core.buckets.as_ref());
        Self {
            core,
            values,
            labels,
            cell,
        }
    }
}

/// A series of any type, as a family holds it for rendering.
pub(crate) trait AnySeries: Send + Sync {
    fn core(&self) -> &MetricCore;
    fn values(&self) -> &[Box<str>];
    fn write(&self, out: &mut String);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<C: Cell> AnySeries for Series<C> {
    fn core(&self) -> &MetricCore {
        &self.core
    }

    fn values(&self) -> &[Box<str>] {
        &self.values
    }

    fn write(&self, out: &mut String) {
        self.cell.write(&self.core.name, &self.labels, out);
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Orders series by their label pairs, compared as sequences of `(name, value)`.
pub(crate) fn cmp_series(a: &dyn AnySeries, b: &dyn AnySeries) -> Ordering {
    a.core().pairs(a.values()).cmp(b.core().pairs(b.values()))
}

/// Appends `name`, then `suffix`, then `{labels}` (or nothing when there are no labels), and
/// the space before the value.
pub(crate) fn push_sample_prefix(out: &mut String, name: &str, suffix: &str, labels: &str) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        out.push_str(labels);
        out.push('}');
    }
    out.push(' ');
}
