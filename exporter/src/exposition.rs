//! What a scrape sees, and the formats it is written in.
//!
//! Metric kinds describe their series as [`Value`]s; they write no text. The registry walks
//! its families in name order and their series in label order and hands each to an
//! [`Encoder`]. Families read from text ([`parse`]) reach encoders the same way
//! ([`encode_parsed`]), so each format has one writer for everything on a page. [`Format`]
//! lists the formats a scrape is served in, with their content types and how a client's
//! `Accept` header chooses among them; [`TextEncoder`] writes the Prometheus text format,
//! [`ProtobufEncoder`] the Prometheus protobuf format, [`OpenMetricsEncoder`] the OpenMetrics
//! text format, and the OTLP exporter's encoder implements the same trait. [`Filtered`] wraps
//! any encoder to keep only the families a [`NameFilter`] names.

mod accept;
mod decimal;
pub(crate) mod escape;
mod filter;
mod label_text;
pub(crate) mod openmetrics;
pub(crate) mod order;
pub mod parse;
mod parsed;
pub(crate) mod protobuf;
pub(crate) mod text;

use std::borrow::Cow;

pub use filter::{Filtered, NameFilter};
pub use openmetrics::OpenMetricsEncoder;
pub use parsed::{encode_parsed, encode_parsed_with_labels};
pub use protobuf::ProtobufEncoder;
pub use text::TextEncoder;

use crate::kinds::RecordedExemplar;
use crate::kinds::table::MetricKind;
use crate::storage::labels::{KeyPairs, Layout, Pairs};

/// An exposition format a page can be written in: one variant and its arms here, its encoder
/// in a file of its own; a client's `Accept` chooses among those a server offers
/// ([`Format::negotiate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format, version 0.0.4: what every scraper reads, and the default.
    Text,
    /// The Prometheus protobuf format: length-delimited `io.prometheus.client.MetricFamily`
    /// messages, served to a client that asks for it by `Accept` (Prometheus does with native
    /// histograms on).
    Protobuf,
    /// The OpenMetrics text format, version 1.0.0: offered only when a server is told to
    /// ([`Format::DEFAULT`] leaves it out), since Prometheus then stores classic bucket
    /// bounds in their canonical form (`le="1.0"` where the Prometheus text format has
    /// `le="1"`).
    OpenMetrics,
}

impl Format {
    /// Every format, in the order a server prefers them when a client accepts several
    /// equally.
    pub const ALL: &'static [Format] = &[Format::Text, Format::Protobuf, Format::OpenMetrics];

    /// The formats a server offers unless told otherwise: every format but OpenMetrics, as
    /// the Prometheus Go client does by default.
    pub const DEFAULT: &'static [Format] = &[Format::Text, Format::Protobuf];

    /// The formats a server offers: [`Format::DEFAULT`], and OpenMetrics too when
    /// `openmetrics` is true ([`Format::ALL`]).
    #[must_use]
    pub fn offered(openmetrics: bool) -> &'static [Format] {
        if openmetrics {
            Self::ALL
        } else {
            Self::DEFAULT
        }
    }

    /// The `Content-Type` of a page in this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => text::CONTENT_TYPE,
            Self::Protobuf => protobuf::CONTENT_TYPE,
            Self::OpenMetrics => openmetrics::CONTENT_TYPE,
        }
    }

    /// The media type and the parameters that name this format in `Accept`.
    fn media(self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self {
            Self::Text => ("text/plain", &[("version", "0.0.4")]),
            Self::Protobuf => (
                "application/vnd.google.protobuf",
                &[
                    ("proto", "io.prometheus.client.MetricFamily"),
                    ("encoding", "delimited"),
                ],
            ),
            Self::OpenMetrics => (
                "application/openmetrics-text",
                &[("version", "1.0.0"), ("charset", "utf-8")],
            ),
        }
    }

    /// A whole page in this format: `fill` hands the families to the encoder, and the page is
    /// finished after.
    pub fn render(self, fill: impl FnOnce(&mut dyn Encoder)) -> Vec<u8> {
        match self {
            Self::Text => {
                let mut out = String::with_capacity(4096);
                let mut encoder = TextEncoder::new(&mut out);
                fill(&mut encoder);
                encoder.finish();
                out.into_bytes()
            }
            Self::Protobuf => {
                let mut out = Vec::with_capacity(4096);
                let mut encoder = ProtobufEncoder::new(&mut out);
                fill(&mut encoder);
                encoder.finish();
                out
            }
            Self::OpenMetrics => {
                let mut out = String::with_capacity(4096);
                let mut encoder = OpenMetricsEncoder::new(&mut out);
                fill(&mut encoder);
                encoder.finish();
                out.into_bytes()
            }
        }
    }
}

/// Turns families and series into an exposition format.
///
/// Whoever fills a page calls [`Encoder::family`] once per family that has series to show,
/// then [`Encoder::series`] for each of its series, in order, and [`Encoder::finish`] once at
/// the end.
pub trait Encoder {
    /// The media type of what it writes (the `Content-Type` of a page).
    fn content_type(&self) -> &'static str;

    /// A new family begins.
    fn family(&mut self, family: &FamilyInfo<'_>);

    /// One series of the current family.
    fn series(&mut self, series: &Series<'_>);

    /// Every family was handed over: writes what ends a page, if the format has an end.
    fn finish(&mut self) {}
}

/// A family, as an encoder sees it before its series.
#[derive(Debug, Clone, Copy)]
pub struct FamilyInfo<'a> {
    /// The metric name.
    pub name: &'a str,
    /// The help text, unescaped; text read from elsewhere may have none.
    pub help: Option<&'a str>,
    /// The type.
    pub kind: MetricKind,
    /// Its values were read from elsewhere when the page was collected (callback and engine
    /// text), as an asynchronous instrument's are, rather than recorded by the application.
    pub observed: bool,
}

/// One series: its labels, its value, and the time it was read if its source gave one.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The label pairs, sorted by name.
    pub labels: Labels<'a>,
    /// The value.
    pub value: Value<'a>,
    /// Milliseconds since the Unix epoch, when the text it was read from had a timestamp.
    pub timestamp_ms: Option<i64>,
    /// The latest exemplar of a counter, or of each bucket of a histogram, by bucket; empty
    /// for most series. Only formats that carry exemplars write them (OpenMetrics, protobuf,
    /// OTLP), never the Prometheus text format.
    pub exemplars: &'a [RecordedExemplar],
}

/// A number as its metric stores it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer counter.
    UInt(u64),
    /// An integer gauge.
    Int(i64),
    /// A float counter or gauge, or a number read from text.
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
    /// Upper bounds, without `+Inf`, increasing.
    pub bounds: &'a [f64],
    /// Cumulative counts: one per bound, then the `+Inf` bucket.
    pub cumulative: &'a [u64],
    /// The sum of observations; `None` when the text it was read from had no `_sum`.
    pub sum: Option<f64>,
    /// How many observations were recorded (the `+Inf` bucket, unless text said otherwise).
    pub count: u64,
    /// The native (exponential) buckets of a native or hybrid histogram; `None` for a
    /// histogram with classic buckets only. A native-only histogram has no `bounds`, and its
    /// `cumulative` is its count alone (the `+Inf` bucket).
    pub native: Option<NativeValue<'a>>,
}

/// The exponential buckets of a native histogram, as Prometheus defines them: at `schema` s,
/// bucket `i` holds the observations `v` with `2^((i-1)/2^s) < |v| <= 2^(i/2^s)`, positive
/// and negative apart; observations with `|v| <= zero_threshold` are in the zero bucket. The
/// histogram's `count` is the zero bucket, every bucket and the NaN observations (which have
/// no bucket) together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NativeValue<'a> {
    /// The resolution, from -4 (factor 65536) to 8 (factor 2^(1/256)).
    pub schema: i8,
    /// The largest magnitude counted in the zero bucket (0 counts only zeros).
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Every observation: the zero bucket, every bucket and the NaN observations.
    pub count: u64,
    /// The buckets of positive observations.
    pub positive: BucketCounts<'a>,
    /// The buckets of negative observations, by the index of their magnitude.
    pub negative: BucketCounts<'a>,
}

/// The populated buckets of one sign of a native histogram: `(index, count)` pairs by
/// increasing index, every count above zero.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketCounts<'a> {
    /// Index (an `i32` as `i64` bits) and count, one after the other.
    words: &'a [u64],
}

impl<'a> BucketCounts<'a> {
    /// The buckets written as `[index as i64 as u64, count, index, count, ..]` by increasing
    /// index, every count above zero.
    #[must_use]
    pub fn from_words(words: &'a [u64]) -> Self {
        debug_assert!(words.len() % 2 == 0, "index and count pairs");
        Self { words }
    }

    /// Writes `(index, count)` pairs (by increasing index, counts above zero) as
    /// [`BucketCounts::from_words`] reads them.
    pub fn push_words(out: &mut Vec<u64>, buckets: impl IntoIterator<Item = (i32, u64)>) {
        for (index, count) in buckets {
            out.extend([i64::from(index) as u64, count]);
        }
    }

    /// `(index, count)` by increasing index.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (i32, u64)> + 'a {
        self.words
            .chunks_exact(2)
            .map(|pair| (pair[0] as i64 as i32, pair[1]))
    }

    /// How many buckets are populated.
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.len() / 2
    }

    /// True when no bucket is populated.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The sum of the counts.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, count)| count).sum()
    }
}

impl std::fmt::Debug for BucketCounts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The quantiles, sum and count of one summary series (read from text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryValue<'a> {
    /// `(quantile, value)` pairs, by quantile.
    pub quantiles: &'a [(f64, f64)],
    /// The sum of observations, if given.
    pub sum: Option<f64>,
    /// How many observations, if given.
    pub count: Option<u64>,
}

/// The value of one series, by the shape of its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// One number: a counter's total, a gauge's value, an untyped sample.
    Number(Number),
    /// A histogram's buckets, sum and count.
    Histogram(HistogramValue<'a>),
    /// A summary's quantiles, sum and count.
    Summary(SummaryValue<'a>),
}

impl Value<'_> {
    /// A number that changes whenever the value does (for telling idle series).
    pub(crate) fn signature(&self) -> u64 {
        let number = |n: &Number| match n {
            Number::UInt(v) => *v,
            Number::Int(v) => *v as u64,
            Number::Float(v) => v.to_bits(),
        };
        let sum = |s: Option<f64>| s.map_or(0, f64::to_bits);
        match self {
            Value::Number(n) => number(n).wrapping_add(1),
            Value::Histogram(h) => h.count.wrapping_mul(31) ^ sum(h.sum),
            Value::Summary(s) => s.count.unwrap_or(0).wrapping_mul(31) ^ sum(s.sum),
        }
    }
}

/// The label pairs of one series, sorted by name.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    pub(crate) repr: LabelsRepr<'a>,
    /// Labels the registry adds to every series that does not have them (sorted by name).
    pub(crate) extra: &'a ExtraLabels,
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
    /// Pairs read from text, sorted by name.
    Owned(&'a [(String, String)]),
    /// Pairs sorted by name and one more pair, whose name none of them has, in its place.
    OwnedWith {
        pairs: &'a [(String, String)],
        one: (&'a str, &'a str),
    },
}

/// The label marking the series that new label sets fold into once a metric has as many
/// series as it may have; its value is `"true"`.
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// No labels added.
#[cfg(test)]
const NO_EXTRA: &ExtraLabels = &[];

impl<'a> Labels<'a> {
    /// Pairs sorted by name, as they are.
    #[cfg(test)]
    pub(crate) fn sorted(pairs: &'a [(String, String)]) -> Self {
        Self::sorted_with_extra(pairs, NO_EXTRA)
    }

    /// Pairs sorted by name, with a registry's extra labels.
    pub(crate) fn sorted_with_extra(pairs: &'a [(String, String)], extra: &'a ExtraLabels) -> Self {
        Self {
            repr: LabelsRepr::Owned(pairs),
            extra,
        }
    }

    /// Pairs sorted by name with `one` pair (whose name none of them has) in its place, with
    /// a registry's extra labels.
    pub(crate) fn sorted_with_one(
        pairs: &'a [(String, String)],
        one: (&'a str, &'a str),
        extra: &'a ExtraLabels,
    ) -> Self {
        Self {
            repr: LabelsRepr::OwnedWith { pairs, one },
            extra,
        }
    }

    /// Every pair, sorted by name; values unescaped. The registry's extra labels are
    /// among them, except where the series has a label of the same name.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + 'a {
        WithExtra {
            base: self.own().peekable(),
            extra: self.extra.iter().peekable(),
        }
    }

    /// Calls `each` with every pair [`Labels::iter`] gives, in its order; without its merging
    /// where there is nothing to merge (no extra labels, and a vec's variable labels all
    /// between the same two of its constant ones), as on most pages.
    pub fn for_each_pair(&self, mut each: impl FnMut(&str, &str)) {
        if self.extra.is_empty() {
            match self.repr {
                LabelsRepr::Pairs { key } => {
                    KeyPairs::new(key).for_each(|(name, value)| each(name, &value));
                    return;
                }
                LabelsRepr::Vec { layout, key } => {
                    if let Some(at) = layout.contiguous_at() {
                        let (before, after) = layout.consts().split_at(at);
                        before.iter().for_each(|(name, value)| each(name, value));
                        KeyPairs::new(key).for_each(|(name, value)| each(name, &value));
                        after.iter().for_each(|(name, value)| each(name, value));
                        return;
                    }
                }
                _ => {}
            }
        }
        self.iter().for_each(|(name, value)| each(name, &value));
    }

    /// The series' own pairs, without the registry's extra labels.
    fn own(&self) -> Iter<'a> {
        match self.repr {
            LabelsRepr::Vec { layout, key } => Iter::Vec(layout.pairs(key)),
            LabelsRepr::Pairs { key } => Iter::Pairs(KeyPairs::new(key)),
            LabelsRepr::Overflow { layout } => Iter::Overflow(overflow_pairs(layout)),
            LabelsRepr::Owned(pairs) => Iter::Owned(pairs.iter()),
            LabelsRepr::OwnedWith { pairs, one } => {
                let at = pairs.partition_point(|(name, _)| name.as_str() < one.0);
                Iter::OwnedWith {
                    before: pairs[..at].iter(),
                    one: Some(one),
                    after: pairs[at..].iter(),
                }
            }
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
            let Some((name, value)) = self.extra.peek().map(|(k, v)| (&**k, &**v)) else {
                return self.base.next();
            };
            let Some((own, _)) = self.base.peek() else {
                self.extra.next();
                return Some((name, Cow::Borrowed(value)));
            };
            match name.cmp(own) {
                std::cmp::Ordering::Less => {
                    self.extra.next();
                    return Some((name, Cow::Borrowed(value)));
                }
                std::cmp::Ordering::Equal => {
                    self.extra.next();
                }
                std::cmp::Ordering::Greater => return self.base.next(),
            }
        }
    }
}

enum Iter<'a> {
    Vec(Pairs<'a>),
    Pairs(KeyPairs<'a>),
    Overflow(Box<dyn Iterator<Item = (&'a str, Cow<'a, str>)> + 'a>),
    Owned(std::slice::Iter<'a, (String, String)>),
    OwnedWith {
        before: std::slice::Iter<'a, (String, String)>,
        one: Option<(&'a str, &'a str)>,
        after: std::slice::Iter<'a, (String, String)>,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Vec(pairs) => pairs.next(),
            Self::Pairs(pairs) => pairs.next(),
            Self::Overflow(pairs) => pairs.next(),
            Self::Owned(pairs) => pairs
                .next()
                .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
            Self::OwnedWith { before, one, after } => match before.next() {
                Some((k, v)) => Some((k.as_str(), Cow::Borrowed(v.as_str()))),
                None => match one.take() {
                    Some((k, v)) => Some((k, Cow::Borrowed(v))),
                    None => after
                        .next()
                        .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::storage::labels::pairs_key;

    /// The pairs `for_each_pair` gives.
    fn each_pair(labels: &Labels<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        labels.for_each_pair(|name, value| out.push((name.to_string(), value.to_string())));
        out
    }

    /// The pairs `iter` gives.
    fn iterated(labels: &Labels<'_>) -> Vec<(String, String)> {
        labels
            .iter()
            .map(|(name, value)| (name.to_string(), value.into_owned()))
            .collect()
    }

    /// Distinct label names from a few, so that constant, variable and extra ones interleave
    /// and sometimes share a name.
    fn names(max: usize) -> impl Strategy<Value = Vec<String>> {
        proptest::sample::subsequence(&["a", "b", "c", "d", "e", "f"][..], 0..=max)
            .prop_map(|names| names.into_iter().map(str::to_string).collect())
            .prop_shuffle()
    }

    proptest! {
        #[test]
        fn each_pair_is_what_iter_gives(
            consts in names(3),
            vars in names(3),
            extra in names(2),
            value in "[a-z\"\\\\\n]{0,4}",
        ) {
            let vars: Vec<String> = vars.into_iter().filter(|n| !consts.contains(n)).collect();
            let consts: Vec<(Box<str>, Box<str>)> =
                consts.iter().map(|n| (n.as_str().into(), "const".into())).collect();
            let mut extra: Vec<(Box<str>, Box<str>)> =
                extra.iter().map(|n| (n.as_str().into(), "extra".into())).collect();
            extra.sort();
            let layout = Layout::new(consts, vars.iter().map(|n| n.as_str().into()).collect());
            let values: Vec<String> = vars.iter().map(|n| format!("{n}{value}")).collect();
            let key = layout.key(&values);
            let scalar_pairs: Vec<(&str, &str)> =
                vars.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
            let scalar_key = pairs_key({
                let mut sorted = scalar_pairs.clone();
                sorted.sort();
                sorted
            });
            for extra in [&extra[..], &[]] {
                let vec = Labels { repr: LabelsRepr::Vec { layout: &layout, key: &key }, extra };
                prop_assert_eq!(each_pair(&vec), iterated(&vec));
                let scalar = Labels { repr: LabelsRepr::Pairs { key: &scalar_key }, extra };
                prop_assert_eq!(each_pair(&scalar), iterated(&scalar));
            }
        }
    }
}
