//! Families read from text, handed to an encoder as the registry hands its own: a histogram's
//! buckets, sum and count gathered into one series, a summary's quantiles likewise, every
//! series' labels sorted by name and its family's series in label order.

use std::borrow::Cow;
use std::collections::HashMap;

use super::parse::Family;
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
        let series = gather(family, extra);
        if series.is_empty() {
            continue;
        }
        encoder.family(&FamilyInfo {
            name: &family.name,
            help: family.help.as_deref(),
            kind: family.kind,
            observed: true,
        });
        for one in &series {
            encoder.series(&one.as_series(extra));
        }
    }
}

/// One series gathered from the samples of a family.
struct Gathered<'a> {
    /// Sorted by name; without `le` or `quantile`. A sample's own when they already are.
    labels: Cow<'a, [(String, String)]>,
    timestamp_ms: Option<i64>,
    shape: Shape,
}

enum Shape {
    Number(f64),
    Histogram {
        /// `(bound, cumulative count)`, `+Inf` among them if the text had it.
        buckets: Vec<(f64, u64)>,
        sum: Option<f64>,
        count: Option<u64>,
        /// Filled by [`Gathered::finish`]: finite bounds, and their counts then `+Inf`'s.
        bounds: Vec<f64>,
        cumulative: Vec<u64>,
    },
    Summary {
        quantiles: Vec<(f64, f64)>,
        sum: Option<f64>,
        count: Option<u64>,
    },
}

impl Gathered<'_> {
    fn as_series<'b>(&'b self, extra: &'b ExtraLabels) -> Series<'b> {
        let value = match &self.shape {
            Shape::Number(v) => Value::Number(Number::Float(*v)),
            Shape::Histogram {
                bounds,
                cumulative,
                sum,
                count,
                ..
            } => Value::Histogram(HistogramValue {
                bounds,
                cumulative,
                sum: *sum,
                count: count.unwrap_or_else(|| cumulative.last().copied().unwrap_or(0)),
            }),
            Shape::Summary {
                quantiles,
                sum,
                count,
            } => Value::Summary(SummaryValue {
                quantiles,
                sum: *sum,
                count: *count,
            }),
        };
        Series {
            labels: Labels::sorted_with_extra(&self.labels, extra),
            value,
            timestamp_ms: self.timestamp_ms,
        }
    }

    /// Sorts the buckets and quantiles, and gives a histogram its `+Inf` bucket: the count
    /// when the text had no such bucket.
    fn finish(&mut self) {
        match &mut self.shape {
            Shape::Number(_) => {}
            Shape::Histogram {
                buckets,
                count,
                bounds,
                cumulative,
                ..
            } => {
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
            Shape::Summary { quantiles, .. } => {
                quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
    }
}

/// The series of a family, in label order.
fn gather<'a>(family: &'a Family, extra: &ExtraLabels) -> Vec<Gathered<'a>> {
    let special = family.kind.reserved_label();
    // A series per sample, but for histograms and summaries.
    let mut series: Vec<Gathered<'_>> = match family.kind {
        MetricKind::Histogram | MetricKind::Summary => Vec::new(),
        _ => Vec::with_capacity(family.samples.len()),
    };
    let mut index: std::collections::HashMap<Vec<(String, String)>, usize> =
        std::collections::HashMap::new();
    for sample in &family.samples {
        let mut bound = None;
        let own = &sample.labels;
        let labels: Cow<'_, [(String, String)]> = if own.is_sorted_by(|a, b| a.0 < b.0)
            && !own.iter().any(|(name, _)| Some(name.as_str()) == special)
        {
            Cow::Borrowed(own)
        } else {
            let mut labels: Vec<(String, String)> = Vec::with_capacity(own.len());
            for (name, value) in own {
                if Some(name.as_str()) == special {
                    bound = parse_number(value);
                } else {
                    labels.push((name.clone(), value.clone()));
                }
            }
            labels.sort();
            Cow::Owned(labels)
        };
        let at = match family.kind {
            MetricKind::Histogram | MetricKind::Summary => match index.get(&*labels) {
                Some(&at) => at,
                None => {
                    index.insert(labels.to_vec(), series.len());
                    series.push(Gathered {
                        labels,
                        timestamp_ms: None,
                        shape: empty_shape(family.kind),
                    });
                    series.len() - 1
                }
            },
            _ => {
                series.push(Gathered {
                    labels,
                    timestamp_ms: None,
                    shape: Shape::Number(sample.value),
                });
                series.len() - 1
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
    sort_by_labels(&mut series, extra);
    series
}

/// Sorts series by their labels with `extra` added. When every series has the same label names, as the series of
/// a large family usually do, each label's values are ranked once and the series sorted by
/// their ranks: the same order, with a string compare per distinct value rather than several
/// per comparison of two series.
fn sort_by_labels(series: &mut Vec<Gathered<'_>>, extra: &ExtraLabels) {
    let Some(first) = series.first() else {
        return;
    };
    let width = first.labels.len();
    let same_names = series.iter().all(|one| {
        one.labels.len() == width
            && one
                .labels
                .iter()
                .zip(first.labels.iter())
                .all(|(a, b)| a.0 == b.0)
    });
    // Extra labels go to the same places in series with the same label names, which then
    // sort as their own labels do; series whose names differ sort with the extra labels.
    if !same_names && !extra.is_empty() {
        series.sort_by(|a, b| {
            let a = Labels::sorted_with_extra(&a.labels, extra);
            let b = Labels::sorted_with_extra(&b.labels, extra);
            a.iter().cmp(b.iter())
        });
        return;
    }
    if series.is_sorted_by(|a, b| a.labels <= b.labels) {
        return;
    }
    if !same_names || width == 0 {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        return;
    }
    let mut ranks = vec![0_u32; series.len() * width];
    for at in 0..width {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut first: Vec<u32> = Vec::with_capacity(series.len());
        for one in series.iter() {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            first.push(*ids.entry(one.labels[at].1.as_str()).or_insert(next));
        }
        let mut distinct: Vec<(&str, u32)> = ids.into_iter().collect();
        distinct.sort_unstable();
        let mut rank_of = vec![0_u32; distinct.len()];
        for (rank, (_, id)) in distinct.iter().enumerate() {
            rank_of[*id as usize] = u32::try_from(rank).unwrap_or(u32::MAX);
        }
        for (row, id) in first.iter().enumerate() {
            ranks[row * width + at] = rank_of[*id as usize];
        }
    }
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by(|&a, &b| {
        ranks[a * width..(a + 1) * width].cmp(&ranks[b * width..(b + 1) * width])
    });
    let mut taken: Vec<Option<Gathered<'_>>> = series.drain(..).map(Some).collect();
    series.extend(order.into_iter().filter_map(|row| taken[row].take()));
}

fn empty_shape(kind: MetricKind) -> Shape {
    match kind {
        MetricKind::Histogram => Shape::Histogram {
            buckets: Vec::new(),
            sum: None,
            count: None,
            bounds: Vec::new(),
            cumulative: Vec::new(),
        },
        _ => Shape::Summary {
            quantiles: Vec::new(),
            sum: None,
            count: None,
        },
    }
}

/// Adds one sample (`suffix` after the family name) to its series.
fn add(shape: &mut Shape, suffix: &str, bound: Option<f64>, value: f64) {
    match shape {
        Shape::Number(_) => {}
        Shape::Histogram {
            buckets,
            sum,
            count,
            ..
        } => match (suffix, bound) {
            ("_bucket", Some(bound)) => buckets.push((bound, whole(value))),
            ("_sum", _) => *sum = Some(value),
            ("_count", _) => *count = Some(whole(value)),
            _ => {}
        },
        Shape::Summary {
            quantiles,
            sum,
            count,
        } => match (suffix, bound) {
            ("", Some(quantile)) => quantiles.push((quantile, value)),
            ("_sum", _) => *sum = Some(value),
            ("_count", _) => *count = Some(whole(value)),
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
    fn series_sorted_by_ranks_come_in_label_order() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for names in [&["a", "b", "c"][..], &["a", "b"], &["x"]] {
            let mut series: Vec<Gathered<'_>> = (0..600)
                .map(|_| Gathered {
                    labels: Cow::Owned(
                        names
                            .iter()
                            .map(|name| (name.to_string(), format!("v{}", next(40))))
                            .collect(),
                    ),
                    timestamp_ms: None,
                    shape: Shape::Number(0.0),
                })
                .collect();
            // A series without the last label: the labels differ in names, sorted as they are.
            if names.len() == 2 {
                series[7].labels = Cow::Owned(vec![("a".into(), "v3".into())]);
            }
            let mut expected: Vec<Vec<(String, String)>> =
                series.iter().map(|one| one.labels.to_vec()).collect();
            expected.sort();
            sort_by_labels(&mut series, &[]);
            let got: Vec<Vec<(String, String)>> =
                series.iter().map(|one| one.labels.to_vec()).collect();
            assert_eq!(got, expected, "{names:?}");
        }
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
