//! One series: its rendered labels and the atomic cell behind them.

use std::any::Any;
use std::cmp::Ordering;
use std::sync::Arc;

use crate::MetricKind;
use crate::histogram::Buckets;
use crate::labels::{LabelLayout, LabelText};

/// What every series of one metric shares: its name, labels and buckets.
pub(crate) struct MetricCore {
    pub(crate) name: Arc<str>,
    /// Sorted by name.
    pub(crate) const_labels: Box<[(Box<str>, Box<str>)]>,
    /// In declaration order.
    pub(crate) variable_names: Box<[Box<str>]>,
    pub(crate) layout: LabelLayout,
    pub(crate) buckets: Option<Arc<Buckets>>,
}

impl MetricCore {
    pub(crate) fn new(
        name: Arc<str>,
        mut const_labels: Vec<(Box<str>, Box<str>)>,
        variable_names: Vec<Box<str>>,
        buckets: Option<Arc<Buckets>>,
    ) -> Self {
        const_labels.sort();
        let layout = LabelLayout::new(&const_labels, &variable_names);
        Self {
            name,
            const_labels: const_labels.into(),
            variable_names: variable_names.into(),
            layout,
            buckets,
        }
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
    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String);
}

/// A series of one metric: the cell, and its labels rendered once.
pub(crate) struct Series<C> {
    pub(crate) core: Arc<MetricCore>,
    /// The series' part of the label text (see [`LabelLayout`]).
    text: Box<str>,
    /// The hash of the variable label values, for the vec's lookup table.
    pub(crate) hash: u64,
    pub(crate) cell: C,
}

impl<C: Cell> Series<C> {
    pub(crate) fn new<V: AsRef<str>>(core: Arc<MetricCore>, values: &[V], hash: u64) -> Self {
        let text = core.layout.series_text(values);
        let cell = C::new(core.buckets.as_ref());
        Self {
            core,
            text,
            hash,
            cell,
        }
    }

    /// The series' part of the label text.
    #[inline]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// A series of any type, as a family holds it for rendering.
pub(crate) trait AnySeries: Send + Sync {
    fn core(&self) -> &MetricCore;
    fn text(&self) -> &str;
    fn write(&self, out: &mut String);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<C: Cell> AnySeries for Series<C> {
    fn core(&self) -> &MetricCore {
        &self.core
    }

    fn text(&self) -> &str {
        &self.text
    }

    fn write(&self, out: &mut String) {
        self.cell.write(
            &self.core.name,
            self.core.layout.label_text(&self.text),
            out,
        );
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Orders series by their label pairs, compared as sequences of `(name, value)`.
pub(crate) fn cmp_series(a: &dyn AnySeries, b: &dyn AnySeries) -> Ordering {
    LabelLayout::cmp_series(&a.core().layout, a.text(), &b.core().layout, b.text())
}

/// Appends `name`, then `suffix`, then `{labels}` (or nothing when there are no labels), and
/// the space before the value.
pub(crate) fn push_sample_prefix(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: LabelText<'_>,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() {
        out.push('{');
        labels.push(out);
        out.push('}');
    }
    out.push(' ');
}
