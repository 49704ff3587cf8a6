//! What a scrape sees: families, series with their labels, and values; and the [`Encoder`]s
//! that turn them into an exposition format.
//!
//! Metric kinds describe their samples as a [`Value`]; they write no text. The registry walks
//! its families in name order and their series in label order, and hands each to an encoder:
//! [`TextEncoder`] writes the Prometheus text format, and other formats implement the same
//! trait. [`parse`] reads the text format back, for text that comes from outside the registry.

pub mod parse;
pub(crate) mod text;

pub use text::TextEncoder;

use crate::MetricKind;
use std::borrow::Cow;

use crate::labels::{KeyPairs, Layout, Pairs};

/// A family, as an encoder sees it before its series.
#[derive(Debug, Clone, Copy)]
pub struct FamilyInfo<'a> {
    /// The metric name.
    pub name: &'a str,
    /// The help text, unescaped.
    pub help: &'a str,
    /// The type.
    pub kind: MetricKind,
}

/// A number as its metric stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer counter.
    UInt(u64),
    /// An integer gauge.
    Int(i64),
    /// A float counter or gauge.
    Float(f64),
}

impl Number {
    /// The value as an f64 (large integers round).
    #[must_use]
    pub fn as_f64(self) -> f64 {
        match self {
            Self::UInt(v) => v as f64,
            Self::Int(v) => v as f64,
            Self::Float(v) => v,
        }
    }
}

/// The buckets, sum and count of one histogram series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramValue<'a> {
    /// Upper bounds, without `+Inf`.
    pub bounds: &'a [f64],
    /// Cumulative counts: one per bound, then the `+Inf` bucket, which is the total count.
    pub cumulative: &'a [u64],
    /// The sum of observations.
    pub sum: f64,
}

impl HistogramValue<'_> {
    /// How many observations were recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

/// The value of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A counter's total.
    Counter(Number),
    /// A gauge's value.
    Gauge(Number),
    /// A histogram's buckets, sum and count.
    Histogram(HistogramValue<'a>),
}

/// The label pairs of one series, sorted by name.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    pub(crate) repr: LabelsRepr<'a>,
    /// Labels the registry adds to every series that does not have them (sorted by name).
    pub(crate) extra: &'a [(Box<str>, Box<str>)],
}

/// Constant labels a registry adds to every series, sorted by name.
pub(crate) type ExtraLabels = [(Box<str>, Box<str>)];

#[derive(Clone, Copy)]
pub(crate) enum LabelsRepr<'a> {
    /// A vec's series: its layout and the key of its variable values.
    Vec { layout: &'a Layout, key: &'a str },
    /// A scalar: every pair in its key.
    Pairs { key: &'a str },
    /// The series a vec folds new label sets into once it reaches its bound.
    Overflow { layout: &'a Layout },
}

/// The label marking the series that new label sets fold into once a metric has as many
/// series as it may have; its value is `"true"`.
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

impl<'a> Labels<'a> {
    /// Every pair, sorted by name; values unescaped. The registry's extra labels are
    /// among them, except where the series has a label of the same name.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        WithExtra {
            base: self.own().peekable(),
            extra: self.extra.iter().peekable(),
        }
    }

    /// The series' own pairs, without the registry's extra labels.
    fn own(&self) -> Iter<'a> {
        match self.repr {
            LabelsRepr::Vec { layout, key } => Iter::Vec(layout.pairs(key)),
            LabelsRepr::Pairs { key } => Iter::Pairs(KeyPairs::new(key)),
            LabelsRepr::Overflow { layout } => Iter::Overflow(overflow_pairs(layout)),
        }
    }

    /// True when every `required` pair is among the labels.
    pub(crate) fn has(&self, required: &[(&str, &str)]) -> bool {
        required
            .iter()
            .all(|(k, v)| self.iter().any(|(name, value)| name == *k && value == *v))
    }
}

impl std::fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn overflow_pairs(layout: &Layout) -> Box<dyn Iterator<Item = (&str, Cow<'_, str>)> + '_> {
    let consts = layout
        .consts()
        .iter()
        .map(|(k, v)| (&**k, Cow::Borrowed(&**v)));
    let at = layout
        .consts()
        .partition_point(|(k, _)| &**k < OVERFLOW_LABEL);
    Box::new(
        consts
            .clone()
            .take(at)
            .chain(std::iter::once((OVERFLOW_LABEL, Cow::Borrowed("true"))))
            .chain(consts.skip(at)),
    )
}

/// A series' pairs merged with extra pairs by name; on a tie the series' own pair wins.
struct WithExtra<'a> {
    base: std::iter::Peekable<Iter<'a>>,
    extra: std::iter::Peekable<std::slice::Iter<'a, (Box<str>, Box<str>)>>,
}

impl<'a> Iterator for WithExtra<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let extra = self.extra.peek().map(|(k, v)| (&**k, &**v));
            let own = self.base.peek().map(|(name, _)| *name);
            match (own, extra) {
                (Some(own), Some((name, value))) if name < own => {
                    self.extra.next();
                    return Some((name, Cow::Borrowed(value)));
                }
                (Some(own), Some((name, _))) if name == own => {
                    self.extra.next();
                }
                (Some(_), _) => return self.base.next(),
                (None, Some((name, value))) => {
                    self.extra.next();
                    return Some((name, Cow::Borrowed(value)));
                }
                (None, None) => return None,
            }
        }
    }
}

enum Iter<'a> {
    Vec(Pairs<'a>),
    Pairs(KeyPairs<'a>),
    Overflow(Box<dyn Iterator<Item = (&'a str, Cow<'a, str>)> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Vec(pairs) => pairs.next(),
            Self::Pairs(pairs) => pairs.next(),
            Self::Overflow(pairs) => pairs.next(),
        }
    }
}

/// Turns families and series into an exposition format.
///
/// The registry calls [`Encoder::family`] once per family that has series to show, then
/// [`Encoder::series`] for each of its series, in order.
pub trait Encoder {
    /// A new family begins.
    fn family(&mut self, family: &FamilyInfo<'_>);

    /// One series of the current family.
    fn series(&mut self, labels: &Labels<'_>, value: &Value<'_>);
}
