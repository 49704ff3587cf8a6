//! Families read from text, handed to an encoder as the registry hands its own: a histogram's
//! buckets, sum and count gathered into one series, a summary's quantiles likewise, every
//! series' labels sorted by name and its family's series in label order.

use std::borrow::Cow;

use super::parse::Family;
use super::{Encoder, FamilyInfo, HistogramValue, Labels, Number, Series, SummaryValue, Value};
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
    for family in families {
        let series = gather(family);
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
            encoder.series(&one.as_series());
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
    fn as_series(&self) -> Series<'_> {
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
            labels: Labels::sorted(&self.labels),
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
fn gather(family: &Family) -> Vec<Gathered<'_>> {
    let special = family.kind.reserved_label();
    let mut series: Vec<Gathered<'_>> = Vec::new();
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
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    series
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
