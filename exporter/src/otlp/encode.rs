//! The OTLP encoder: the families and series of a scrape (the registry's and those read from
//! callback text alike) as one `ExportMetricsServiceRequest` of the OpenTelemetry project's own
//! protobuf types.

use std::collections::HashMap;
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
use crate::exposition::{Encoder, FamilyInfo, HistogramValue, Number, Series, Value};
use crate::kinds::table::MetricKind;

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

/// Builds one OTLP request from a collection: an [`Encoder`] of the families a scrape shows.
///
/// Counters become monotonic sums, gauges (and untyped text) gauges, histograms
/// explicit-bucket histograms (bucket counts per bucket, not cumulative), summaries from
/// text summaries; label pairs become string attributes. Cumulative points start at the
/// runtime's start, so a restart shows as a reset; delta points report the change since
/// the previous collection, and a series whose total went down (removed and created again)
/// starts over. Under [`Temporality::LowMemory`], families observed from callback text stay
/// cumulative, as an asynchronous instrument's do.
pub struct OtlpEncoder {
    temporality: Temporality,
    start: u64,
    now: u64,
    metrics: Vec<pb::Metric>,
    /// Whether the current family reports changes (delta) rather than totals.
    current_delta: bool,
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
        self.into_parts(resource).0
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
            previous,
            next: HashMap::new(),
            key: String::new(),
        }
    }

    /// The request, with `resource` as the resource's attributes, and what delta
    /// temporality must remember for the next collection.
    pub(crate) fn into_parts(
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
        histogram: &HistogramValue<'_>,
    ) -> HistogramDataPoint {
        let HistogramValue {
            bounds,
            cumulative,
            sum,
            count,
            ..
        } = *histogram;
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
            count,
            sum,
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
            sum: sum.unwrap_or(0.0),
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
                point.sum = sum.map(|sum| sum - sum_before);
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
    fn content_type(&self) -> &'static str {
        "application/x-protobuf"
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.current_delta = match self.temporality {
            Temporality::Cumulative => false,
            Temporality::Delta => true,
            Temporality::LowMemory => !family.observed,
        };
        let delta = self.current_delta;
        let data = match family.kind {
            MetricKind::Counter => Data::Sum(pb::Sum {
                data_points: Vec::new(),
                aggregation_temporality: aggregation(delta),
                is_monotonic: true,
            }),
            MetricKind::Histogram => Data::Histogram(pb::Histogram {
                data_points: Vec::new(),
                aggregation_temporality: aggregation(delta),
            }),
            MetricKind::Summary => {
                self.current_delta = false;
                Data::Summary(pb::Summary::default())
            }
            _ => {
                self.current_delta = false;
                Data::Gauge(pb::Gauge::default())
            }
        };
        self.metrics.push(pb::Metric {
            name: family.name.to_string(),
            description: family.help.unwrap_or_default().to_string(),
            data: Some(data),
            ..Default::default()
        });
    }

    fn series(&mut self, series: &Series<'_>) {
        // The name is lent out while the point is built, rather than copied per series.
        let Some(name) = self.metrics.last_mut().map(|m| std::mem::take(&mut m.name)) else {
            return;
        };
        let owned: Vec<(&str, std::borrow::Cow<'_, str>)> = series.labels.iter().collect();
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, &**v)).collect();
        let monotonic = matches!(self.current_data(), Some(Data::Sum(_)));
        match &series.value {
            Value::Number(n) => {
                let point = self.number_point(&name, &pairs, *n, monotonic);
                match self.current_data() {
                    Some(Data::Sum(sum)) => sum.data_points.push(point),
                    Some(Data::Gauge(gauge)) => gauge.data_points.push(point),
                    _ => {}
                }
            }
            Value::Histogram(h) => {
                let point = self.histogram_point(&name, &pairs, h);
                if let Some(Data::Histogram(histogram)) = self.current_data() {
                    histogram.data_points.push(point);
                }
            }
            Value::Summary(s) => {
                let point = SummaryDataPoint {
                    attributes: attributes(pairs.iter().copied()),
                    start_time_unix_nano: self.start,
                    time_unix_nano: self.now,
                    count: s.count.unwrap_or(0),
                    sum: s.sum.unwrap_or(0.0),
                    quantile_values: s
                        .quantiles
                        .iter()
                        .map(|(quantile, value)| summary_data_point::ValueAtQuantile {
                            quantile: *quantile,
                            value: *value,
                        })
                        .collect(),
                    flags: 0,
                };
                if let Some(Data::Summary(summary)) = self.current_data() {
                    summary.data_points.push(point);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Opts;
    use crate::registry::Registry;

    fn encode(
        registry: &Registry,
        temporality: Temporality,
        now: u64,
        state: DeltaState,
    ) -> (Vec<pb::Metric>, DeltaState) {
        let mut encoder = OtlpEncoder::with_previous(temporality, 100, now, state);
        registry.encode(&[], &mut encoder);
        let (request, state) = encoder.into_parts(&[]);
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
        let families = crate::parse::parse(text).unwrap();
        let mut encoder = OtlpEncoder::new(Temporality::LowMemory, 100, 1000);
        crate::exposition::encode_parsed(&families, &mut encoder);
        let (request, state) = encoder.into_parts(&[]);
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
