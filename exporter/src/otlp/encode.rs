//! The OTLP encoder: families and series of a scrape, and parsed callback text, as one
//! `ExportMetricsServiceRequest` of the OpenTelemetry project's own protobuf types.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    self as pb, AggregationTemporality, HistogramDataPoint, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, SummaryDataPoint, metric::Data, number_data_point, summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::config::Temporality;
use super::resource::SDK_NAME;
use crate::MetricKind;
use crate::exposition::{Encoder, FamilyInfo, Labels, Number, Value};
use crate::parse::{self, FamilyType};

/// What a series was at the previous collection, for delta temporality.
#[derive(Debug, Clone, PartialEq)]
enum Previous {
    UInt(u64),
    Float(f64),
    Histogram { counts: Vec<u64>, sum: f64 },
}

/// The cumulative values of the previous collection, by series, for delta temporality.
///
/// Holds only the series of the last collection, so it is bounded by the series the
/// registry holds (each metric's series bound) and the callback text.
#[derive(Debug, Default)]
pub(crate) struct DeltaState {
    /// When the previous collection ran (Unix nanoseconds); 0 before the first.
    at: u64,
    series: HashMap<String, Previous>,
}

impl DeltaState {
    /// Series remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

/// Builds one OTLP request from a collection: an [`Encoder`] for the registry's families,
/// and [`OtlpEncoder::text_families`] for parsed callback text.
///
/// Counters become monotonic sums, gauges (and untyped text) gauges, histograms
/// explicit-bucket histograms (bucket counts per bucket, not cumulative), summaries from
/// text summaries; label pairs become string attributes. Cumulative points start at the
/// runtime's start, so a restart shows as a reset; delta points report the change since
/// the previous collection, and a series whose total went down (removed and created again)
/// starts over.
pub struct OtlpEncoder {
    temporality: Temporality,
    start: u64,
    now: u64,
    metrics: Vec<pb::Metric>,
    /// Whether the current family reports changes (delta) rather than totals.
    current_delta: bool,
    /// Families encoded so far, with their kinds, for [`OtlpEncoder::taken_names`].
    families: Vec<(String, FamilyType)>,
    previous: DeltaState,
    next: HashMap<String, Previous>,
    key: String,
}

impl std::fmt::Debug for OtlpEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpEncoder")
            .field("temporality", &self.temporality)
            .field("metrics", &self.metrics.len())
            .finish_non_exhaustive()
    }
}

impl OtlpEncoder {
    /// An encoder for a collection at `now` (Unix nanoseconds) whose cumulative points
    /// start at `start`, with no previous collection: under delta temporality every total
    /// is a change since `start`.
    ///
    /// ```
    /// use dynamo_exporter::otlp::{OtlpEncoder, Temporality};
    /// use dynamo_exporter::{Opts, Registry};
    ///
    /// let registry = Registry::new();
    /// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
    /// let mut encoder = OtlpEncoder::new(Temporality::Cumulative, 1, 2);
    /// registry.encode(&[], &mut encoder);
    /// let request = encoder.into_request(&[("service.name".into(), "worker".into())]);
    /// let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
    /// assert_eq!(metric.name, "jobs_total");
    /// ```
    #[must_use]
    pub fn new(temporality: Temporality, start: u64, now: u64) -> Self {
        Self::with_previous(temporality, start, now, DeltaState::default())
    }

    /// The request, with `resource` as the resource's attributes.
    #[must_use]
    pub fn into_request(self, resource: &[(String, String)]) -> ExportMetricsServiceRequest {
        self.finish(resource).0
    }

    /// An encoder that remembers `previous` for delta temporality.
    pub(crate) fn with_previous(
        temporality: Temporality,
        start: u64,
        now: u64,
        previous: DeltaState,
    ) -> Self {
        Self {
            temporality,
            start,
            now,
            metrics: Vec::new(),
            current_delta: false,
            families: Vec::new(),
            previous,
            next: HashMap::new(),
            key: String::new(),
        }
    }

    /// Every family and sample name encoded so far (`h`, `h_bucket`, `h_sum`, `h_count` for
    /// a histogram `h`): what text from elsewhere may not reuse.
    #[must_use]
    pub fn taken_names(&self) -> HashSet<String> {
        let mut taken = HashSet::new();
        for (name, kind) in &self.families {
            taken.insert(name.clone());
            taken.extend(parse::sample_names(name, *kind));
        }
        taken
    }

    /// Adds families parsed from callback text. Counters read from text are observed
    /// totals: delta under [`Temporality::Delta`], cumulative otherwise.
    pub fn text_families(&mut self, families: &[parse::Family]) {
        for family in families {
            if family.samples.is_empty() {
                continue;
            }
            let delta = self.temporality == Temporality::Delta;
            self.current_delta = delta;
            self.families.push((family.name.clone(), family.kind));
            let description = family.help.clone().unwrap_or_default();
            let data = match family.kind {
                FamilyType::Counter => Data::Sum(pb::Sum {
                    data_points: family
                        .samples
                        .iter()
                        .map(|s| {
                            let labels = sorted(&s.labels);
                            self.number_point(&family.name, &labels, Number::Float(s.value), true)
                        })
                        .collect(),
                    aggregation_temporality: aggregation(delta),
                    is_monotonic: true,
                }),
                FamilyType::Gauge | FamilyType::Untyped => Data::Gauge(pb::Gauge {
                    data_points: family
                        .samples
                        .iter()
                        .map(|s| {
                            let labels = sorted(&s.labels);
                            self.number_point(&family.name, &labels, Number::Float(s.value), false)
                        })
                        .collect(),
                }),
                FamilyType::Histogram => Data::Histogram(pb::Histogram {
                    data_points: text_histograms(family)
                        .into_iter()
                        .map(|(labels, h)| {
                            self.histogram_point(
                                &family.name,
                                &labels,
                                &h.bounds,
                                &h.cumulative,
                                h.sum,
                            )
                        })
                        .collect(),
                    aggregation_temporality: aggregation(delta),
                }),
                FamilyType::Summary => Data::Summary(pb::Summary {
                    data_points: text_summaries(family)
                        .into_iter()
                        .map(|(labels, s)| SummaryDataPoint {
                            attributes: attributes(labels.iter().map(|(k, v)| (&**k, &**v))),
                            start_time_unix_nano: self.start,
                            time_unix_nano: self.now,
                            count: s.count,
                            sum: s.sum,
                            quantile_values: s.quantiles,
                            flags: 0,
                        })
                        .collect(),
                }),
            };
            self.metrics.push(pb::Metric {
                name: family.name.clone(),
                description,
                data: Some(data),
                ..Default::default()
            });
        }
    }

    /// The request, with `resource` as the resource's attributes, and what delta
    /// temporality must remember for the next collection.
    pub(crate) fn finish(
        self,
        resource: &[(String, String)],
    ) -> (ExportMetricsServiceRequest, DeltaState) {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: attributes(resource.iter().map(|(k, v)| (&**k, &**v))),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SDK_NAME.into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    metrics: self.metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let state = DeltaState {
            at: self.now,
            series: self.next,
        };
        (request, state)
    }

    /// The key of a series in the delta state: its name and labels, length-prefixed.
    fn series_key<'a>(
        &mut self,
        name: &str,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> String {
        self.key.clear();
        let _ = write!(self.key, "{}:{name}", name.len());
        for (k, v) in labels {
            let _ = write!(self.key, "{}:{k}{}:{v}", k.len(), v.len());
        }
        self.key.clone()
    }

    /// A counter's or gauge's point; counters under delta temporality report their change.
    fn number_point<'a>(
        &mut self,
        name: &str,
        labels: &[(&'a str, &'a str)],
        value: Number,
        counter: bool,
    ) -> NumberDataPoint {
        let attributes = attributes(labels.iter().copied());
        if !(counter && self.current_delta) {
            return NumberDataPoint {
                attributes,
                start_time_unix_nano: if counter { self.start } else { 0 },
                time_unix_nano: self.now,
                value: Some(number_value(value)),
                ..Default::default()
            };
        }
        let key = self.series_key(name, labels.iter().copied());
        let (current, change) = match value {
            Number::UInt(v) => {
                let change = match self.previous.series.get(&key) {
                    Some(Previous::UInt(p)) if *p <= v => v - p,
                    _ => v,
                };
                (Previous::UInt(v), Number::UInt(change))
            }
            Number::Int(v) => {
                let v = u64::try_from(v).unwrap_or(0);
                let change = match self.previous.series.get(&key) {
                    Some(Previous::UInt(p)) if *p <= v => v - p,
                    _ => v,
                };
                (Previous::UInt(v), Number::UInt(change))
            }
            Number::Float(v) => {
                let change = match self.previous.series.get(&key) {
                    Some(Previous::Float(p)) if *p <= v => v - p,
                    _ => v,
                };
                (Previous::Float(v), Number::Float(change))
            }
        };
        let start = self.delta_start(&key);
        self.next.insert(key, current);
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: self.now,
            value: Some(number_value(change)),
            ..Default::default()
        }
    }

    /// A histogram's point: bucket counts per bucket; their changes under delta temporality.
    fn histogram_point<'a>(
        &mut self,
        name: &str,
        labels: &[(&'a str, &'a str)],
        bounds: &[f64],
        cumulative: &[u64],
        sum: f64,
    ) -> HistogramDataPoint {
        let mut counts: Vec<u64> = Vec::with_capacity(cumulative.len());
        let mut below = 0;
        for c in cumulative {
            counts.push(c.saturating_sub(below));
            below = below.max(*c);
        }
        let mut point = HistogramDataPoint {
            attributes: attributes(labels.iter().copied()),
            start_time_unix_nano: self.start,
            time_unix_nano: self.now,
            count: cumulative.last().copied().unwrap_or(0),
            sum: Some(sum),
            bucket_counts: counts,
            explicit_bounds: bounds.to_vec(),
            ..Default::default()
        };
        if !self.current_delta {
            return point;
        }
        let key = self.series_key(name, labels.iter().copied());
        let current = Previous::Histogram {
            counts: point.bucket_counts.clone(),
            sum,
        };
        if let Some(Previous::Histogram {
            counts: before,
            sum: sum_before,
        }) = self.previous.series.get(&key)
        {
            let grew = before.len() == point.bucket_counts.len()
                && before.iter().zip(&point.bucket_counts).all(|(b, c)| b <= c);
            if grew {
                for (c, b) in point.bucket_counts.iter_mut().zip(before) {
                    *c -= b;
                }
                point.count = point.bucket_counts.iter().sum();
                point.sum = Some(sum - sum_before);
            }
        }
        point.start_time_unix_nano = self.delta_start(&key);
        self.next.insert(key, current);
        point
    }

    /// Where a delta point starts: the previous collection for a series it saw, else the
    /// runtime's start.
    fn delta_start(&self, key: &str) -> u64 {
        if self.previous.at != 0 && self.previous.series.contains_key(key) {
            self.previous.at
        } else {
            self.start
        }
    }
}

impl Encoder for OtlpEncoder {
    fn family(&mut self, family: &FamilyInfo<'_>) {
        let delta = self.temporality != Temporality::Cumulative;
        let (data, kind) = match family.kind {
            MetricKind::Counter => {
                self.current_delta = delta;
                (
                    Data::Sum(pb::Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: aggregation(delta),
                        is_monotonic: true,
                    }),
                    FamilyType::Counter,
                )
            }
            MetricKind::Gauge => {
                self.current_delta = false;
                (Data::Gauge(pb::Gauge::default()), FamilyType::Gauge)
            }
            MetricKind::Histogram => {
                self.current_delta = delta;
                (
                    Data::Histogram(pb::Histogram {
                        data_points: Vec::new(),
                        aggregation_temporality: aggregation(delta),
                    }),
                    FamilyType::Histogram,
                )
            }
        };
        self.families.push((family.name.to_string(), kind));
        self.metrics.push(pb::Metric {
            name: family.name.to_string(),
            description: family.help.to_string(),
            data: Some(data),
            ..Default::default()
        });
    }

    fn series(&mut self, labels: &Labels<'_>, value: &Value<'_>) {
        // The name is lent out while the point is built, rather than copied per series.
        let Some(name) = self.metrics.last_mut().map(|m| std::mem::take(&mut m.name)) else {
            return;
        };
        let owned: Vec<(&str, std::borrow::Cow<'_, str>)> = labels.iter().collect();
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, &**v)).collect();
        match value {
            Value::Counter(n) => {
                let point = self.number_point(&name, &pairs, *n, true);
                if let Some(Data::Sum(sum)) = self.current_data() {
                    sum.data_points.push(point);
                }
            }
            Value::Gauge(n) => {
                let point = self.number_point(&name, &pairs, *n, false);
                if let Some(Data::Gauge(gauge)) = self.current_data() {
                    gauge.data_points.push(point);
                }
            }
            Value::Histogram(h) => {
                let point = self.histogram_point(&name, &pairs, h.bounds, h.cumulative, h.sum);
                if let Some(Data::Histogram(histogram)) = self.current_data() {
                    histogram.data_points.push(point);
                }
            }
        }
        if let Some(metric) = self.metrics.last_mut() {
            metric.name = name;
        }
    }
}

impl OtlpEncoder {
    fn current_data(&mut self) -> Option<&mut Data> {
        self.metrics.last_mut().and_then(|m| m.data.as_mut())
    }
}

fn aggregation(delta: bool) -> i32 {
    if delta {
        AggregationTemporality::Delta as i32
    } else {
        AggregationTemporality::Cumulative as i32
    }
}

fn number_value(n: Number) -> number_data_point::Value {
    match n {
        Number::UInt(v) => match i64::try_from(v) {
            Ok(v) => number_data_point::Value::AsInt(v),
            Err(_) => number_data_point::Value::AsDouble(v as f64),
        },
        Number::Int(v) => number_data_point::Value::AsInt(v),
        Number::Float(v) => number_data_point::Value::AsDouble(v),
    }
}

fn attributes<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<KeyValue> {
    pairs
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.to_string())),
            }),
            ..Default::default()
        })
        .collect()
}

/// Label pairs sorted by name, as the page orders them.
fn sorted(labels: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, &**v)).collect();
    pairs.sort_unstable();
    pairs
}

/// One histogram series read from text.
#[derive(Default)]
struct TextHistogram {
    /// `(le, cumulative count)` as read.
    buckets: Vec<(f64, u64)>,
    bounds: Vec<f64>,
    cumulative: Vec<u64>,
    sum: f64,
    count: Option<u64>,
}

/// One summary series read from text.
#[derive(Default)]
struct TextSummary {
    quantiles: Vec<summary_data_point::ValueAtQuantile>,
    sum: f64,
    count: u64,
}

/// The samples of a family grouped into series by their labels without `skip`, in the order
/// the series first appear; each group's labels sorted by name.
fn group_by_series<'f, T: Default>(
    family: &'f parse::Family,
    skip: &str,
    mut add: impl FnMut(&mut T, &'f parse::Sample, Option<&'f str>),
) -> Vec<(Vec<(&'f str, &'f str)>, T)> {
    let mut index: HashMap<Vec<(&str, &str)>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<(&str, &str)>, T)> = Vec::new();
    for sample in &family.samples {
        let mut special = None;
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(sample.labels.len());
        for (k, v) in &sample.labels {
            if k == skip {
                special = Some(v.as_str());
            } else {
                labels.push((k, v));
            }
        }
        labels.sort_unstable();
        let at = *index.entry(labels.clone()).or_insert_with(|| {
            groups.push((labels, T::default()));
            groups.len() - 1
        });
        add(&mut groups[at].1, sample, special);
    }
    groups
}

fn text_histograms(family: &parse::Family) -> Vec<(Vec<(&str, &str)>, TextHistogram)> {
    let bucket = format!("{}_bucket", family.name);
    let sum = format!("{}_sum", family.name);
    let mut groups = group_by_series(family, "le", |h: &mut TextHistogram, sample, le| {
        if sample.name == bucket {
            let bound = match le {
                Some("+Inf") => f64::INFINITY,
                Some(text) => text.parse().unwrap_or(f64::NAN),
                None => f64::NAN,
            };
            if !bound.is_nan() {
                h.buckets.push((bound, float_count(sample.value)));
            }
        } else if sample.name == sum {
            h.sum = sample.value;
        } else {
            h.count = Some(float_count(sample.value));
        }
    });
    for (_, h) in &mut groups {
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        h.buckets.dedup_by(|a, b| a.0 == b.0);
        for (bound, count) in &h.buckets {
            if bound.is_finite() {
                h.bounds.push(*bound);
                h.cumulative.push(*count);
            }
        }
        let total = match h.buckets.last() {
            Some((bound, count)) if bound.is_infinite() => *count,
            _ => h
                .count
                .unwrap_or_else(|| h.cumulative.last().copied().unwrap_or(0)),
        };
        h.cumulative.push(total);
    }
    groups
}

fn text_summaries(family: &parse::Family) -> Vec<(Vec<(&str, &str)>, TextSummary)> {
    let sum = format!("{}_sum", family.name);
    let count = format!("{}_count", family.name);
    group_by_series(
        family,
        "quantile",
        |s: &mut TextSummary, sample, quantile| {
            if sample.name == sum {
                s.sum = sample.value;
            } else if sample.name == count {
                s.count = float_count(sample.value);
            } else if let Some(q) = quantile.and_then(|q| q.parse::<f64>().ok()) {
                s.quantiles.push(summary_data_point::ValueAtQuantile {
                    quantile: q,
                    value: sample.value,
                });
            }
        },
    )
}

/// A count read from text as a float: whole, at least zero.
fn float_count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Opts, Registry};

    fn encode(
        registry: &Registry,
        temporality: Temporality,
        now: u64,
        state: DeltaState,
    ) -> (Vec<pb::Metric>, DeltaState) {
        let mut encoder = OtlpEncoder::with_previous(temporality, 100, now, state);
        registry.encode(&[], &mut encoder);
        let (request, state) = encoder.finish(&[]);
        let metrics = request.resource_metrics[0].scope_metrics[0].metrics.clone();
        (metrics, state)
    }

    fn int_value(point: &NumberDataPoint) -> i64 {
        match point.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    fn sum_points(metric: &pb::Metric) -> &[NumberDataPoint] {
        match &metric.data {
            Some(Data::Sum(sum)) => &sum.data_points,
            other => panic!("expected a sum, got {other:?}"),
        }
    }

    fn histogram_points(metric: &pb::Metric) -> &[HistogramDataPoint] {
        match &metric.data {
            Some(Data::Histogram(h)) => &h.data_points,
            other => panic!("expected a histogram, got {other:?}"),
        }
    }

    #[test]
    fn cumulative_points_start_at_the_runtime_start_and_buckets_are_per_bucket() {
        let registry = Registry::new();
        registry
            .int_counter(&Opts::new("c_total", "C"))
            .unwrap()
            .inc_by(5);
        let h = registry
            .histogram(&Opts::new("h", "H"), Some(&[1.0, 2.0]))
            .unwrap();
        for v in [0.5, 1.5, 1.7, 9.0] {
            h.observe(v);
        }
        let (metrics, state) = encode(
            &registry,
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
        );
        assert_eq!(state.len(), 0, "cumulative export remembers nothing");
        let counter = &sum_points(&metrics[0])[0];
        assert_eq!(
            (counter.start_time_unix_nano, counter.time_unix_nano),
            (100, 1000)
        );
        assert_eq!(int_value(counter), 5);
        let point = &histogram_points(&metrics[1])[0];
        assert_eq!(point.explicit_bounds, [1.0, 2.0]);
        assert_eq!(point.bucket_counts, [1, 2, 1]);
        assert_eq!((point.count, point.sum), (4, Some(12.7)));
    }

    #[test]
    fn delta_reports_changes_and_a_series_that_went_down_starts_over() {
        let registry = Registry::new();
        let vec = registry
            .int_counter_vec(&Opts::new("c_total", "C"), &["k"])
            .unwrap();
        vec.with_label_values(&["a"]).inc_by(5);
        let h = registry
            .histogram(&Opts::new("h", "H"), Some(&[1.0]))
            .unwrap();
        h.observe(0.5);
        let (metrics, state) = encode(&registry, Temporality::Delta, 1000, DeltaState::default());
        assert_eq!(int_value(&sum_points(&metrics[0])[0]), 5);
        assert_eq!(sum_points(&metrics[0])[0].start_time_unix_nano, 100);
        vec.with_label_values(&["a"]).inc_by(3);
        h.observe(3.0);
        let (metrics, state) = encode(&registry, Temporality::Delta, 2000, state);
        let point = &sum_points(&metrics[0])[0];
        assert_eq!(
            (
                int_value(point),
                point.start_time_unix_nano,
                point.time_unix_nano
            ),
            (3, 1000, 2000)
        );
        let hp = &histogram_points(&metrics[1])[0];
        assert_eq!(
            (hp.bucket_counts.as_slice(), hp.count, hp.sum),
            (&[0, 1][..], 1, Some(3.0))
        );
        assert_eq!(hp.start_time_unix_nano, 1000);
        // Removed and created again with a smaller total: the total is the change.
        vec.remove_label_values(&["a"]).unwrap();
        vec.with_label_values(&["a"]).inc_by(2);
        let (metrics, state) = encode(&registry, Temporality::Delta, 3000, state);
        assert_eq!(int_value(&sum_points(&metrics[0])[0]), 2);
        assert_eq!(state.len(), 2, "one entry per live series");
    }

    #[test]
    fn text_families_become_their_otlp_kinds() {
        let text = concat!(
            "# HELP t_total Things\n# TYPE t_total counter\nt_total{b=\"2\",a=\"1\"} 4\n",
            "# TYPE g gauge\ng 1.5\n",
            "u 7\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 5\nh_count 3\n",
            "# TYPE s summary\n",
            "s{quantile=\"0.5\"} 2\ns_sum 10\ns_count 4\n",
        );
        let families = parse::parse(text).unwrap();
        let mut encoder = OtlpEncoder::new(Temporality::LowMemory, 100, 1000);
        encoder.text_families(&families);
        assert!(encoder.taken_names().contains("h_bucket"));
        let (request, state) = encoder.finish(&[]);
        assert_eq!(state.len(), 0, "lowmemory keeps text counters cumulative");
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["t_total", "g", "u", "h", "s"]);
        assert_eq!(metrics[0].description, "Things");
        let counter = &sum_points(&metrics[0])[0];
        let keys: Vec<&str> = counter
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert!(matches!(metrics[2].data, Some(Data::Gauge(_))));
        let hp = &histogram_points(&metrics[3])[0];
        assert_eq!(
            (hp.explicit_bounds.as_slice(), hp.bucket_counts.as_slice()),
            (&[1.0][..], &[1, 2][..])
        );
        let Some(Data::Summary(summary)) = &metrics[4].data else {
            panic!("expected a summary");
        };
        let sp = &summary.data_points[0];
        assert_eq!((sp.count, sp.sum, sp.quantile_values.len()), (4, 10.0, 1));
    }
}
