//! Families read from text, handed to an encoder as the registry hands its own: a histogram's
//! buckets, sum and count gathered into one series, a summary's quantiles likewise, every
//! series' labels sorted by name and its family's series in label order.

use std::borrow::Cow;
use std::collections::HashMap;

use super::order::{PairList, label_order};
use super::parse::{Family, Sample, SampleSet};
use super::{
    Encoder, ExtraLabels, FamilyInfo, HistogramValue, Labels, Number, Series, SummaryValue, Value,
};
use crate::kinds::table::MetricKind;

/// Hands `families` (as [`super::parse::parse`] read them) to `encoder`, in order; a family
/// without samples is left out, as the registry leaves out families without series.
///
/// ```
/// use dynamo_exporter::exposition::encode_parsed;
/// use dynamo_exporter::{TextEncoder, parse};
///
/// let text = concat!(
///     "# TYPE rpc_seconds histogram\n",
///     "rpc_seconds_bucket{le=\"+Inf\",route=\"/a\"} 3.0\n",
///     "rpc_seconds_bucket{route=\"/a\",le=\"0.5\"} 1.0\n",
///     "rpc_seconds_count{route=\"/a\"} 3.0\n",
///     "rpc_seconds_sum{route=\"/a\"} 2.5\n",
/// );
/// let mut page = String::new();
/// encode_parsed(&parse::parse(text).unwrap(), &mut TextEncoder::new(&mut page));
/// assert_eq!(
///     page,
///     concat!(
///         "# TYPE rpc_seconds histogram\n",
///         "rpc_seconds_bucket{route=\"/a\",le=\"0.5\"} 1\n",
///         "rpc_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n",
///         "rpc_seconds_sum{route=\"/a\"} 2.5\n",
///         "rpc_seconds_count{route=\"/a\"} 3\n",
///     )
/// );
/// ```
pub fn encode_parsed(families: &[Family], encoder: &mut dyn Encoder) {
    encode_with(families, &[], encoder);
}

/// Hands `families` to `encoder` as [`encode_parsed`] does, with each pair of `labels` added
/// to every series that has no label of its name: the page [`encode_parsed`] writes once the
/// pairs are added to each such sample, without copying them into the samples.
///
/// ```
/// use dynamo_exporter::exposition::encode_parsed_with_labels;
/// use dynamo_exporter::{TextEncoder, parse};
///
/// let text = "# TYPE up gauge\nup{zone=\"b\"} 1\nup{job=\"own\",zone=\"c\"} 0\n";
/// let labels = [("job".to_string(), "engine".to_string())];
/// let mut page = String::new();
/// encode_parsed_with_labels(&parse::parse(text).unwrap(), &labels, &mut TextEncoder::new(&mut page));
/// assert_eq!(
///     page,
///     concat!(
///         "# TYPE up gauge\n",
///         "up{job=\"engine\",zone=\"b\"} 1\n",
///         "up{job=\"own\",zone=\"c\"} 0\n",
///     )
/// );
/// ```
pub fn encode_parsed_with_labels(
    families: &[Family],
    labels: &[(String, String)],
    encoder: &mut dyn Encoder,
) {
    let mut extra: Vec<(Box<str>, Box<str>)> = labels
        .iter()
        .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
        .collect();
    extra.sort_by(|a, b| a.0.cmp(&b.0));
    extra.dedup_by(|a, b| a.0 == b.0);
    encode_with(families, &extra, encoder);
}

fn encode_with(families: &[Family], extra: &ExtraLabels, encoder: &mut dyn Encoder) {
    for family in families {
        let series = gather(family);
        if series.is_empty() {
            continue;
        }
        let order = label_order(&series, extra);
        encoder.family(&FamilyInfo {
            name: &family.name,
            help: family.help.as_deref(),
            kind: family.kind,
            observed: true,
        });
        for at in order {
            encoder.series(&series[at as usize].as_series(extra));
        }
    }
}

/// One series gathered from the samples of a family.
struct Gathered<'a> {
    /// Sorted by name; without `le` or `quantile`. A sample's own when they already are.
    labels: SeriesLabels<'a>,
    timestamp_ms: Option<i64>,
    shape: Shape,
}

/// A series' value; a histogram's and a summary's apart, so that a family of numbers walks
/// small series.
enum Shape {
    Number(f64),
    Histogram(Box<HistogramShape>),
    Summary(Box<SummaryShape>),
}

#[derive(Default)]
struct HistogramShape {
    /// `(bound, cumulative count)`, `+Inf` among them if the text had it.
    buckets: Vec<(f64, u64)>,
    sum: Option<f64>,
    count: Option<u64>,
    /// Filled by [`Gathered::finish`]: finite bounds, and their counts then `+Inf`'s.
    bounds: Vec<f64>,
    cumulative: Vec<u64>,
}

#[derive(Default)]
struct SummaryShape {
    quantiles: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<u64>,
}

impl Gathered<'_> {
    fn as_series<'b>(&'b self, extra: &'b ExtraLabels) -> Series<'b> {
        let value = match &self.shape {
            Shape::Number(v) => Value::Number(Number::Float(*v)),
            Shape::Histogram(h) => Value::Histogram(HistogramValue {
                bounds: &h.bounds,
                cumulative: &h.cumulative,
                sum: h.sum,
                count: h
                    .count
                    .unwrap_or_else(|| h.cumulative.last().copied().unwrap_or(0)),
                native: None,
            }),
            Shape::Summary(q) => Value::Summary(SummaryValue {
                quantiles: &q.quantiles,
                sum: q.sum,
                count: q.count,
            }),
        };
        Series {
            labels: self.labels.with_extra(extra),
            value,
            timestamp_ms: self.timestamp_ms,
            exemplars: &[],
        }
    }

    /// Sorts the buckets and quantiles, and gives a histogram its `+Inf` bucket: the count
    /// when the text had no such bucket.
    fn finish(&mut self) {
        match &mut self.shape {
            Shape::Number(_) => {}
            Shape::Histogram(h) => {
                let HistogramShape {
                    buckets,
                    count,
                    bounds,
                    cumulative,
                    ..
                } = &mut **h;
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                let infinite = match buckets.last() {
                    Some((bound, total)) if *bound == f64::INFINITY => {
                        let total = *total;
                        buckets.pop();
                        Some(total)
                    }
                    _ => None,
                };
                bounds.extend(buckets.iter().map(|(bound, _)| *bound));
                cumulative.extend(buckets.iter().map(|(_, n)| *n));
                let total = infinite
                    .or(*count)
                    .unwrap_or_else(|| cumulative.last().copied().unwrap_or(0));
                cumulative.push(total);
            }
            Shape::Summary(q) => {
                q.quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
    }
}

impl PairList for Gathered<'_> {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> (&str, &str) {
        self.labels.get(index)
    }

    fn with_extra<'b>(&'b self, extra: &'b ExtraLabels) -> Labels<'b> {
        self.labels.with_extra(extra)
    }
}

/// The labels of one gathered series, sorted by name.
enum SeriesLabels<'a> {
    /// A sample's own (borrowed when they were sorted already).
    Pairs(Cow<'a, [(String, String)]>),
    /// A set's shared labels with the own pair of its sample `own` at `at`.
    With {
        set: &'a SampleSet,
        at: u32,
        own: u32,
    },
}

impl<'a> SeriesLabels<'a> {
    fn len(&self) -> usize {
        match self {
            Self::Pairs(pairs) => pairs.len(),
            Self::With { set, .. } => set.labels.len() + 1,
        }
    }

    /// The pair at `index` (less than [`SeriesLabels::len`]).
    fn get(&self, index: usize) -> (&str, &str) {
        fn pair((k, v): &(String, String)) -> (&str, &str) {
            (k, v)
        }
        match self {
            Self::Pairs(pairs) => pair(&pairs[index]),
            Self::With { set, at, own } => match index.cmp(&(*at as usize)) {
                std::cmp::Ordering::Less => pair(&set.labels[index]),
                std::cmp::Ordering::Equal => (&set.label, &set.values[*own as usize].0),
                std::cmp::Ordering::Greater => pair(&set.labels[index - 1]),
            },
        }
    }

    fn with_extra<'b>(&'b self, extra: &'b ExtraLabels) -> Labels<'b> {
        match self {
            Self::Pairs(pairs) => Labels::sorted_with_extra(pairs, extra),
            Self::With { set, own, .. } => Labels::sorted_with_one(
                &set.labels,
                (&set.label, &set.values[*own as usize].0),
                extra,
            ),
        }
    }
}

/// A sample's labels sorted by name without the family's `le` or `quantile` (borrowed when
/// they are so already), and that label's number.
fn labels_of<'s>(
    sample: &'s Sample,
    special: Option<&str>,
) -> (Cow<'s, [(String, String)]>, Option<f64>) {
    let own = &sample.labels;
    if own.is_sorted_by(|a, b| a.0 < b.0)
        && !own.iter().any(|(name, _)| Some(name.as_str()) == special)
    {
        return (Cow::Borrowed(own), None);
    }
    let mut bound = None;
    let mut labels: Vec<(String, String)> = Vec::with_capacity(own.len());
    for (name, value) in own {
        if Some(name.as_str()) == special {
            bound = parse_number(value);
        } else {
            labels.push((name.clone(), value.clone()));
        }
    }
    labels.sort();
    (Cow::Owned(labels), bound)
}

/// The series of a family, in the order of its samples.
fn gather(family: &Family) -> Vec<Gathered<'_>> {
    let special = family.kind.reserved_label();
    let numbers = !matches!(family.kind, MetricKind::Histogram | MetricKind::Summary);
    // A series per sample, but for histograms and summaries.
    let mut series: Vec<Gathered<'_>> = if numbers {
        Vec::with_capacity(family.sample_count())
    } else {
        Vec::new()
    };
    // The samples of sets that cannot be kept as sets: with labels out of order, or
    // in a histogram or summary.
    let mut expanded: Vec<Sample> = Vec::new();
    for set in &family.sets {
        let shared = numbers
            && set.labels.is_sorted_by(|a, b| a.0 < b.0)
            && !set
                .labels
                .iter()
                .any(|(name, _)| *name == set.label || Some(name.as_str()) == special);
        if !shared {
            expanded.extend(set.samples());
            continue;
        }
        let at = set
            .labels
            .partition_point(|(name, _)| name.as_str() < set.label.as_str());
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        series.extend((0..).zip(&set.values).map(|(own, (_, value))| Gathered {
            labels: SeriesLabels::With { set, at, own },
            timestamp_ms: None,
            shape: Shape::Number(*value),
        }));
    }
    let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
    let own = family
        .samples
        .iter()
        .map(|sample| (sample, labels_of(sample, special)));
    let sets = expanded.iter().map(|sample| {
        let (labels, bound) = labels_of(sample, special);
        (sample, (Cow::Owned(labels.into_owned()), bound))
    });
    for (sample, (labels, bound)) in own.chain(sets) {
        let at = if numbers {
            series.push(Gathered {
                labels: SeriesLabels::Pairs(labels),
                timestamp_ms: None,
                shape: Shape::Number(sample.value),
            });
            series.len() - 1
        } else {
            match index.get(&*labels) {
                Some(&at) => at,
                None => {
                    index.insert(labels.to_vec(), series.len());
                    series.push(Gathered {
                        labels: SeriesLabels::Pairs(labels),
                        timestamp_ms: None,
                        shape: empty_shape(family.kind),
                    });
                    series.len() - 1
                }
            }
        };
        let one = &mut series[at];
        one.timestamp_ms = one.timestamp_ms.or(sample.timestamp_ms);
        let suffix = sample.name.get(family.name.len()..).unwrap_or_default();
        add(&mut one.shape, suffix, bound, sample.value);
    }
    for one in &mut series {
        one.finish();
    }
    series
}

fn empty_shape(kind: MetricKind) -> Shape {
    match kind {
        MetricKind::Histogram => Shape::Histogram(Box::default()),
        _ => Shape::Summary(Box::default()),
    }
}

/// Adds one sample (`suffix` after the family name) to its series.
fn add(shape: &mut Shape, suffix: &str, bound: Option<f64>, value: f64) {
    match shape {
        Shape::Number(_) => {}
        Shape::Histogram(h) => match (suffix, bound) {
            ("_bucket", Some(bound)) => h.buckets.push((bound, whole(value))),
            ("_sum", _) => h.sum = Some(value),
            ("_count", _) => h.count = Some(whole(value)),
            _ => {}
        },
        Shape::Summary(q) => match (suffix, bound) {
            ("", Some(quantile)) => q.quantiles.push((quantile, value)),
            ("_sum", _) => q.sum = Some(value),
            ("_count", _) => q.count = Some(whole(value)),
            _ => {}
        },
    }
}

/// A count the parser checked to be whole and at least zero.
fn whole(value: f64) -> u64 {
    value as u64
}

/// A bound or quantile as the parser read it.
fn parse_number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::exposition::TextEncoder;
    use crate::parse::parse;

    fn text_of(text: &str) -> String {
        let mut page = String::new();
        encode_parsed(&parse(text).unwrap(), &mut TextEncoder::new(&mut page));
        page
    }

    #[test]
    fn writes_what_it_read_in_the_page_order() {
        let page = text_of(concat!(
            "# HELP a_total A \\\\ help\n",
            "# TYPE a_total counter\n",
            "a_total{z=\"1\",x=\"q\\\"\\n\\\\\"} 7.5 12\n",
            "a_total{x=\"a\"} 1.0\n",
            "b NaN\n",
            "# TYPE empty gauge\n",
            "# TYPE rpc summary\n",
            "rpc{quantile=\"0.9\"} 3\n",
            "rpc{quantile=\"0.5\"} 2\n",
            "rpc_count 4.0\n",
            "rpc_sum 10\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\n",
            "h_count 5\n",
        ));
        assert_eq!(
            page,
            concat!(
                "# HELP a_total A \\\\ help\n",
                "# TYPE a_total counter\n",
                "a_total{x=\"a\"} 1\n",
                "a_total{x=\"q\\\"\\n\\\\\",z=\"1\"} 7.5 12\n",
                "# TYPE b untyped\n",
                "b NaN\n",
                "# TYPE rpc summary\n",
                "rpc{quantile=\"0.5\"} 2\n",
                "rpc{quantile=\"0.9\"} 3\n",
                "rpc_sum 10\n",
                "rpc_count 4\n",
                "# TYPE h histogram\n",
                "h_bucket{le=\"1\"} 1\n",
                "h_bucket{le=\"+Inf\"} 5\n",
                "h_count 5\n",
            )
        );
        assert_eq!(text_of(&page), page, "a second round trip changes nothing");
    }

    #[test]
    fn labels_added_as_series_are_written_make_the_page_of_labels_copied_into_samples() {
        let text = concat!(
            "# TYPE g gauge\n",
            "g 1\n",
            "g{c=\"1\"} 3\n",
            "g{a=\"1\"} 2\n",
            "g{b=\"own\",c=\"0\"} 4\n",
            "# TYPE same gauge\n",
            "same{a=\"2\",c=\"1\"} 1\n",
            "same{a=\"1\",c=\"2\"} 2\n",
            "same{a=\"1\",c=\"1\"} 3\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\n",
            "h_bucket{a=\"x\",le=\"1\"} 2\n",
            "h_count 1\n",
            "h_count{a=\"x\"} 2\n",
        );
        let families = parse(text).unwrap();
        let mut copied = families.clone();
        for sample in copied.iter_mut().flat_map(|f| &mut f.samples) {
            if !sample.labels.iter().any(|(name, _)| name == "b") {
                sample.labels.push(("b".into(), "added".into()));
            }
        }
        let mut expected = String::new();
        encode_parsed(&copied, &mut TextEncoder::new(&mut expected));
        let mut page = String::new();
        let labels = [("b".to_string(), "added".to_string())];
        encode_parsed_with_labels(&families, &labels, &mut TextEncoder::new(&mut page));
        assert_eq!(page, expected);
        // Sorted with the label added: `a` before `b`, then `b`'s values.
        assert!(
            page.contains(concat!(
                "g{a=\"1\",b=\"added\"} 2\n",
                "g{b=\"added\"} 1\n",
                "g{b=\"added\",c=\"1\"} 3\n",
                "g{b=\"own\",c=\"0\"} 4\n",
            )),
            "{page}"
        );
    }

    #[test]
    fn sets_make_the_page_of_their_samples_written_out() {
        let set = |name: &str, labels: &[(&str, &str)], values: &[(&str, f64)]| SampleSet {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            label: "pid".into(),
            values: values
                .iter()
                .map(|(own, v)| (Arc::from(*own), *v))
                .collect(),
        };
        let mut families = parse(concat!(
            "# HELP g Per \\\\ process.\n",
            "# TYPE g gauge\n",
            "g{pid=\"5\",route=\"/a\"} 9\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\n",
            "h_count 1\n",
        ))
        .unwrap();
        families[0].sets = vec![
            set(
                "g",
                &[("model", "m\"1"), ("route", "/b")],
                &[("12", 1.5), ("3", -2.0)],
            ),
            set("g", &[("route", "/a")], &[("40", 0.0), ("100", 7.0)]),
            // Labels out of order: written out before the page is made.
            set("g", &[("zone", "z"), ("model", "m")], &[("1", 1.0)]),
        ];
        assert_eq!(families[0].sample_count(), 6);
        let mut expanded = families.clone();
        for family in &mut expanded {
            family.expand_sets();
        }
        assert!(expanded[0].sets.is_empty());
        assert_eq!(expanded[0].samples.len(), 6);
        for extra in [vec![], vec![("job".to_string(), "engine".to_string())]] {
            let mut page = String::new();
            encode_parsed_with_labels(&families, &extra, &mut TextEncoder::new(&mut page));
            let mut expected = String::new();
            encode_parsed_with_labels(&expanded, &extra, &mut TextEncoder::new(&mut expected));
            assert_eq!(page, expected);
        }
        let mut page = String::new();
        encode_parsed(&families, &mut TextEncoder::new(&mut page));
        assert_eq!(
            page,
            concat!(
                "# HELP g Per \\\\ process.\n",
                "# TYPE g gauge\n",
                "g{model=\"m\",pid=\"1\",zone=\"z\"} 1\n",
                "g{model=\"m\\\"1\",pid=\"12\",route=\"/b\"} 1.5\n",
                "g{model=\"m\\\"1\",pid=\"3\",route=\"/b\"} -2\n",
                "g{pid=\"100\",route=\"/a\"} 7\n",
                "g{pid=\"40\",route=\"/a\"} 0\n",
                "g{pid=\"5\",route=\"/a\"} 9\n",
                "# TYPE h histogram\n",
                "h_bucket{le=\"1\"} 1\n",
                "h_bucket{le=\"+Inf\"} 1\n",
                "h_count 1\n",
            )
        );
    }

    #[test]
    fn a_histogram_keeps_a_count_that_differs_from_its_last_bucket() {
        let page = text_of(concat!(
            "# TYPE h histogram\n",
            "h_bucket{le=\"+Inf\"} 3\n",
            "h_bucket{le=\"-Inf\"} 0\n",
            "h_sum -1\n",
            "h_count 4\n",
        ));
        assert_eq!(
            page,
            concat!(
                "# TYPE h histogram\n",
                "h_bucket{le=\"-Inf\"} 0\n",
                "h_bucket{le=\"+Inf\"} 3\n",
                "h_sum -1\n",
                "h_count 4\n",
            )
        );
    }
}
