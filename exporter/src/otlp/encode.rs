//! The OTLP encoder: the families and series of a scrape (the registry's and those read from
//! callback text alike) as one `ExportMetricsServiceRequest` of the OpenTelemetry project's own
//! protobuf types.

use std::collections::HashMap;
use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    self as pb, AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint,
    exponential_histogram_data_point::Buckets, metric::Data, number_data_point, summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::config::Temporality;
use super::exemplar::exemplars;
use super::resource::SDK_NAME;
use crate::exposition::{
    BucketCounts, Encoder, FamilyInfo, HistogramValue, NativeValue, Number, Series, Value,
};
use crate::kinds::table::MetricKind;

/// What a series was at the previous collection, for delta temporality.
#[derive(Debug, Clone, PartialEq)]
enum Previous {
    UInt(u64),
    Float(f64),
    Histogram { counts: Vec<u64>, sum: f64 },
    Native(Box<Exponential>),
}

/// A native histogram's totals, its buckets by Prometheus index (populated ones, by
/// increasing index): what delta temporality remembers of it, and what a point is built
/// from.
#[derive(Debug, Clone, PartialEq)]
struct Exponential {
    schema: i8,
    zero_threshold: f64,
    zero_count: u64,
    count: u64,
    sum: Option<f64>,
    positive: Vec<(i32, u64)>,
    negative: Vec<(i32, u64)>,
}

impl Exponential {
    fn new(native: &NativeValue<'_>, sum: Option<f64>) -> Self {
        let sparse = |buckets: BucketCounts<'_>| buckets.iter().filter(|(_, c)| *c > 0).collect();
        Self {
            schema: native.schema,
            zero_threshold: native.zero_threshold,
            zero_count: native.zero_count,
            // OTLP's count is the zero bucket and the buckets: NaN observations, which have
            // no bucket, are left out of it (they are in the sum).
            count: native.zero_count + native.positive.total() + native.negative.total(),
            sum,
            positive: sparse(native.positive),
            negative: sparse(native.negative),
        }
    }

    /// What was observed since `before`, at this resolution; `None` when the totals went down
    /// (the series was removed and created again), which starts the series over.
    ///
    /// A histogram past its bucket limit halves its resolution (its schema goes down) or
    /// widens its zero bucket, and never the reverse until it is reset: `before`'s buckets
    /// are first merged to this schema, and those now inside the zero bucket counted in it.
    fn since(&self, before: &Self) -> Option<Self> {
        if before.schema < self.schema || before.zero_threshold > self.zero_threshold {
            return None;
        }
        let by = u32::from(before.schema.abs_diff(self.schema));
        let mut positive = downscale(&before.positive, by);
        let mut negative = downscale(&before.negative, by);
        let mut zero_count = before.zero_count;
        if self.zero_threshold > before.zero_threshold {
            zero_count += take_under(&mut positive, self.schema, self.zero_threshold);
            zero_count += take_under(&mut negative, self.schema, self.zero_threshold);
        }
        Some(Self {
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count.checked_sub(zero_count)?,
            count: self.count.checked_sub(before.count)?,
            sum: self.sum.map(|sum| sum - before.sum.unwrap_or(0.0)),
            positive: subtract(&self.positive, &positive)?,
            negative: subtract(&self.negative, &negative)?,
        })
    }
}

/// Buckets at `by` schemas fewer: Prometheus bucket `i` is in bucket `ceil(i / 2^by)`, which
/// in OTLP's indexes (one less) is the OpenTelemetry rule `k >> by`.
fn downscale(buckets: &[(i32, u64)], by: u32) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = Vec::with_capacity(buckets.len());
    for &(index, count) in buckets {
        let wider = ((i64::from(index) - 1) >> by.min(63)) + 1;
        let wider = i32::try_from(wider).unwrap_or(i32::MAX);
        match out.last_mut() {
            Some((last, total)) if *last == wider => *total += count,
            _ => out.push((wider, count)),
        }
    }
    out
}

/// Removes the buckets (a prefix: the smallest magnitudes) that lie inside a zero bucket of
/// `zero_threshold` at `schema`, and returns their total. A widened zero bucket ends on a
/// bucket's upper bound; the tolerance covers how that bound was rounded, far below the
/// ratio between two bounds (2^(1/256) at the finest schema).
fn take_under(buckets: &mut Vec<(i32, u64)>, schema: i8, zero_threshold: f64) -> u64 {
    let inside = buckets.partition_point(|&(index, _)| {
        let upper = (f64::from(index) / f64::from(schema).exp2()).exp2();
        upper <= zero_threshold * (1.0 + 1e-9)
    });
    buckets.drain(..inside).map(|(_, count)| count).sum()
}

/// `current - before`, bucket by bucket, keeping the buckets that changed; `None` when a
/// bucket went down.
fn subtract(current: &[(i32, u64)], before: &[(i32, u64)]) -> Option<Vec<(i32, u64)>> {
    let mut out = Vec::with_capacity(current.len());
    let mut before = before.iter().peekable();
    for &(index, count) in current {
        let mut prior = 0;
        while let Some(&&(i, c)) = before.peek() {
            if i > index {
                break;
            }
            if i < index {
                // A bucket the histogram no longer has.
                return None;
            }
            prior = c;
            before.next();
        }
        let change = count.checked_sub(prior)?;
        if change > 0 {
            out.push((index, change));
        }
    }
    if before.next().is_some() {
        return None;
    }
    Some(out)
}

/// Populated buckets (by increasing Prometheus index) as OTLP's dense counts, from the
/// first populated bucket to the last. Prometheus bucket `i` is `(base^(i-1), base^i]` and
/// OTLP bucket `k` is `(base^k, base^(k+1)]`, so the offset is the first index less one.
fn dense(buckets: &[(i32, u64)]) -> Buckets {
    let (Some(&(first, _)), Some(&(last, _))) = (buckets.first(), buckets.last()) else {
        return Buckets::default();
    };
    let mut bucket_counts = vec![0; (i64::from(last) - i64::from(first)) as usize + 1];
    for &(index, count) in buckets {
        bucket_counts[(i64::from(index) - i64::from(first)) as usize] = count;
    }
    Buckets {
        offset: first.saturating_sub(1),
        bucket_counts,
    }
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
/// explicit-bucket histograms (bucket counts per bucket, not cumulative) and those with
/// native buckets (native or hybrid) exponential histograms (scale = schema, the buckets
/// dense from the first populated to the last), summaries from
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

    /// A native (or hybrid) histogram's point: its exponential buckets, their changes under
    /// delta temporality.
    fn exponential_point<'a>(
        &mut self,
        name: &str,
        labels: &[(&'a str, &'a str)],
        native: &NativeValue<'_>,
        sum: Option<f64>,
    ) -> ExponentialHistogramDataPoint {
        let current = Exponential::new(native, sum);
        let mut start = self.start;
        let mut change = None;
        let mut key = None;
        if self.current_delta {
            let k = self.series_key(name, labels.iter().copied());
            if let Some(Previous::Native(before)) = self.previous.series.get(&k) {
                change = current.since(before);
            }
            start = self.delta_start(&k);
            key = Some(k);
        }
        let shown = change.as_ref().unwrap_or(&current);
        let point = ExponentialHistogramDataPoint {
            attributes: attributes(labels.iter().copied()),
            start_time_unix_nano: start,
            time_unix_nano: self.now,
            count: shown.count,
            sum: shown.sum,
            scale: i32::from(shown.schema),
            zero_count: shown.zero_count,
            zero_threshold: shown.zero_threshold,
            positive: Some(dense(&shown.positive)),
            negative: Some(dense(&shown.negative)),
            ..Default::default()
        };
        if let Some(key) = key {
            self.next.insert(key, Previous::Native(Box::new(current)));
        }
        point
    }

    /// The current family's data, as explicit-bucket (`exponential` false) or exponential
    /// histogram points. The registry's histograms are one or the other for every series of
    /// a family; should a family hold both, the other kind goes to a second metric of the
    /// same name.
    fn histogram_data(&mut self, name: &str, exponential: bool) -> Option<&mut Data> {
        let other = match self.metrics.last()?.data.as_ref()? {
            Data::Histogram(h) if exponential => {
                Some((h.aggregation_temporality, h.data_points.is_empty()))
            }
            Data::ExponentialHistogram(h) if !exponential => {
                Some((h.aggregation_temporality, h.data_points.is_empty()))
            }
            _ => None,
        };
        let Some((temporality, empty)) = other else {
            return self.current_data();
        };
        let data = if exponential {
            Data::ExponentialHistogram(pb::ExponentialHistogram {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
            })
        } else {
            Data::Histogram(pb::Histogram {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
            })
        };
        let metric = self.metrics.last_mut()?;
        if empty {
            metric.data = Some(data);
        } else {
            // The metric built so far keeps the name; the new one gets it back after the
            // series, as the current metric does.
            metric.name = name.to_string();
            let description = metric.description.clone();
            self.metrics.push(pb::Metric {
                description,
                data: Some(data),
                ..Default::default()
            });
        }
        self.metrics.last_mut().and_then(|m| m.data.as_mut())
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
            name: [family.name, family.kind.text_suffix()].concat(),
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
                let mut point = self.number_point(&name, &pairs, *n, monotonic);
                if monotonic {
                    let int = !matches!(n, Number::Float(_));
                    point.exemplars = exemplars(series.exemplars, int);
                }
                match self.current_data() {
                    Some(Data::Sum(sum)) => sum.data_points.push(point),
                    Some(Data::Gauge(gauge)) => gauge.data_points.push(point),
                    _ => {}
                }
            }
            // A hybrid histogram's native buckets are the finer view of the same
            // observations: it is exported as an exponential histogram too.
            Value::Histogram(HistogramValue {
                native: Some(native),
                sum,
                ..
            }) => {
                let mut point = self.exponential_point(&name, &pairs, native, *sum);
                point.exemplars = exemplars(series.exemplars, false);
                if let Some(Data::ExponentialHistogram(h)) = self.histogram_data(&name, true) {
                    h.data_points.push(point);
                }
            }
            Value::Histogram(h) => {
                let mut point = self.histogram_point(&name, &pairs, h);
                point.exemplars = exemplars(series.exemplars, false);
                if let Some(Data::Histogram(histogram)) = self.histogram_data(&name, false) {
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
    fn counter_histogram_and_native_points_carry_their_exemplars() {
        use crate::kinds::{Exemplar, NativeHistogram};
        use pb::exemplar::Value as ExemplarValue;
        crate::kinds::exemplar::fix_exemplar_time(Some(1_700_000_000_123));
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let exemplar = Exemplar::new(&[("trace_id", trace), ("user", "u")]).unwrap();
        let registry = Registry::new();
        let counter = registry.int_counter(&Opts::new("c_total", "C")).unwrap();
        counter.inc_by_with_exemplar(3, &exemplar);
        let h = registry
            .histogram(&Opts::new("h", "H"), Some(&[1.0, 2.0]))
            .unwrap();
        h.observe_with_exemplar(1.5, &exemplar);
        h.observe(0.5);
        let opts = Opts::new("n", "N").with_native(NativeHistogram::new(1.1));
        let native = registry.histogram(&opts, Some(&[])).unwrap();
        native.observe_with_exemplar(0.25, &exemplar);
        registry.int_gauge(&Opts::new("g", "G")).unwrap().set(1);
        let (metrics, _) = encode(
            &registry,
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
        );
        let names: Vec<_> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["c_total", "g", "h", "n"]);
        let counter = &sum_points(&metrics[0])[0].exemplars;
        assert_eq!(counter.len(), 1);
        assert_eq!(counter[0].value, Some(ExemplarValue::AsInt(3)));
        assert_eq!(counter[0].time_unix_nano, 1_700_000_000_123_000_000);
        assert_eq!(counter[0].trace_id[..2], [0x4b, 0xf9]);
        assert_eq!(counter[0].filtered_attributes[0].key, "user");
        let gauge = match &metrics[1].data {
            Some(Data::Gauge(g)) => &g.data_points[0],
            other => panic!("{other:?}"),
        };
        assert!(gauge.exemplars.is_empty());
        let bucket = &histogram_points(&metrics[2])[0].exemplars;
        assert_eq!(bucket.len(), 1);
        assert_eq!(bucket[0].value, Some(ExemplarValue::AsDouble(1.5)));
        let native = &exponential(&metrics[3]).data_points[0].exemplars;
        assert_eq!(native.len(), 1);
        assert_eq!(native[0].value, Some(ExemplarValue::AsDouble(0.25)));
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

    /// A native histogram's value with the given buckets (Prometheus indexes); its count is
    /// the zero bucket and the buckets, plus `nan` observations.
    struct Native {
        schema: i8,
        zero_threshold: f64,
        zero_count: u64,
        nan: u64,
        positive: Vec<u64>,
        negative: Vec<u64>,
        /// Classic bounds and cumulative counts, for a hybrid histogram.
        classic: (Vec<f64>, Vec<u64>),
        sum: f64,
    }

    impl Native {
        fn new(schema: i8, zero_count: u64, positive: &[(i32, u64)]) -> Self {
            let mut words = Vec::new();
            BucketCounts::push_words(&mut words, positive.iter().copied());
            Self {
                schema,
                zero_threshold: 0.0,
                zero_count,
                nan: 0,
                positive: words,
                negative: Vec::new(),
                classic: (Vec::new(), Vec::new()),
                sum: 1.5,
            }
        }

        fn negative(mut self, negative: &[(i32, u64)]) -> Self {
            self.negative.clear();
            BucketCounts::push_words(&mut self.negative, negative.iter().copied());
            self
        }

        fn value(&self) -> HistogramValue<'_> {
            let positive = BucketCounts::from_words(&self.positive);
            let negative = BucketCounts::from_words(&self.negative);
            let count = self.zero_count + positive.total() + negative.total() + self.nan;
            HistogramValue {
                bounds: &self.classic.0,
                cumulative: &self.classic.1,
                sum: Some(self.sum),
                count,
                native: Some(NativeValue {
                    schema: self.schema,
                    zero_threshold: self.zero_threshold,
                    zero_count: self.zero_count,
                    count,
                    positive,
                    negative,
                }),
            }
        }
    }

    /// One histogram family `h` of the given series (labelled `s="0"`, `s="1"`, ..) encoded
    /// at `now`.
    fn encode_values(
        temporality: Temporality,
        now: u64,
        state: DeltaState,
        values: &[HistogramValue<'_>],
    ) -> (Vec<pb::Metric>, DeltaState) {
        let mut encoder = OtlpEncoder::with_previous(temporality, 100, now, state);
        encoder.family(&FamilyInfo {
            name: "h",
            help: Some("H"),
            kind: MetricKind::Histogram,
            observed: false,
        });
        for (i, value) in values.iter().enumerate() {
            let pairs = [("s".to_string(), i.to_string())];
            encoder.series(&Series {
                labels: crate::exposition::Labels::sorted(&pairs),
                value: Value::Histogram(*value),
                timestamp_ms: None,
                exemplars: &[],
            });
        }
        let (request, state) = encoder.into_parts(&[]);
        let metrics = request.resource_metrics[0].scope_metrics[0].metrics.clone();
        (metrics, state)
    }

    fn exponential(metric: &pb::Metric) -> &pb::ExponentialHistogram {
        match &metric.data {
            Some(Data::ExponentialHistogram(h)) => h,
            other => panic!("expected an exponential histogram, got {other:?}"),
        }
    }

    /// A side's offset and counts.
    fn side(buckets: Option<&Buckets>) -> (i32, Vec<u64>) {
        let buckets = buckets.expect("both sides are present");
        (buckets.offset, buckets.bucket_counts.clone())
    }

    #[test]
    fn native_buckets_become_an_exponential_histogram_one_index_lower() {
        let native = Native::new(3, 1, &[(0, 1), (8, 1), (13, 1)]);
        let (metrics, state) = encode_values(
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
            &[native.value()],
        );
        assert_eq!(state.len(), 0, "cumulative export remembers nothing");
        assert_eq!((metrics.len(), metrics[0].name.as_str()), (1, "h"));
        let h = exponential(&metrics[0]);
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let p = &h.data_points[0];
        assert_eq!(
            (p.scale, p.zero_count, p.count, p.sum),
            (3, 1, 4, Some(1.5))
        );
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (100, 1000));
        assert_eq!(p.attributes[0].key, "s");
        // Prometheus bucket 0 at schema 3 is (2^(-1/8), 1]: OTLP bucket -1.
        let mut counts = vec![0; 14];
        for k in [0, 8, 13] {
            counts[k] = 1;
        }
        assert_eq!(side(p.positive.as_ref()), (-1, counts));
        assert_eq!(side(p.negative.as_ref()), (0, vec![]));
    }

    #[test]
    fn negative_buckets_go_by_magnitude_and_nan_counts_in_no_bucket_nor_the_count() {
        let mut native = Native::new(0, 0, &[]).negative(&[(-2, 3), (0, 1)]);
        native.zero_threshold = 1e-3;
        native.nan = 2;
        let (metrics, _) = encode_values(
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
            &[native.value()],
        );
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!(side(p.negative.as_ref()), (-3, vec![3, 0, 1]));
        assert_eq!(side(p.positive.as_ref()), (0, vec![]));
        assert_eq!((p.zero_threshold, p.zero_count, p.count), (1e-3, 0, 4));
    }

    #[test]
    fn an_empty_native_histogram_has_its_scale_and_no_buckets() {
        let mut native = Native::new(-2, 0, &[]);
        native.sum = 0.0;
        let (metrics, _) = encode_values(
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
            &[native.value()],
        );
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!(
            (p.scale, p.count, p.zero_count, p.sum),
            (-2, 0, 0, Some(0.0))
        );
        assert_eq!(side(p.positive.as_ref()), (0, vec![]));
        assert_eq!(side(p.negative.as_ref()), (0, vec![]));
    }

    #[test]
    fn a_hybrid_histogram_is_exported_by_its_native_buckets() {
        let mut hybrid = Native::new(0, 0, &[(1, 2), (2, 1)]);
        hybrid.classic = (vec![1.0], vec![2, 3]);
        let (metrics, _) = encode_values(
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
            &[hybrid.value()],
        );
        assert_eq!(metrics.len(), 1);
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!((p.scale, p.count), (0, 3));
        assert_eq!(side(p.positive.as_ref()), (0, vec![2, 1]));
    }

    #[test]
    fn a_family_mixing_classic_and_native_series_is_two_metrics_of_its_name() {
        let native = Native::new(0, 1, &[(1, 1)]);
        let classic = HistogramValue {
            bounds: &[1.0],
            cumulative: &[1, 2],
            sum: Some(3.0),
            count: 2,
            native: None,
        };
        let (metrics, _) = encode_values(
            Temporality::Cumulative,
            1000,
            DeltaState::default(),
            &[native.value(), classic, native.value()],
        );
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["h", "h", "h"]);
        assert_eq!(exponential(&metrics[0]).data_points.len(), 1);
        assert_eq!(histogram_points(&metrics[1])[0].bucket_counts, [1, 1]);
        assert_eq!(exponential(&metrics[2]).data_points.len(), 1);
        assert!(metrics.iter().all(|m| m.description == "H"));
    }

    #[test]
    fn delta_native_points_report_the_buckets_that_changed() {
        let first = Native::new(3, 1, &[(0, 1), (8, 1)]).negative(&[(2, 1)]);
        let (metrics, state) = encode_values(
            Temporality::Delta,
            1000,
            DeltaState::default(),
            &[first.value()],
        );
        let h = exponential(&metrics[0]);
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Delta as i32
        );
        let p = &h.data_points[0];
        assert_eq!((p.start_time_unix_nano, p.count), (100, 4));
        assert_eq!(side(p.positive.as_ref()).0, -1);
        assert_eq!(state.len(), 1);

        let mut second = Native::new(3, 3, &[(0, 1), (8, 2), (13, 4)]).negative(&[(2, 1)]);
        second.sum = 10.0;
        let (metrics, state) = encode_values(Temporality::Delta, 2000, state, &[second.value()]);
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!(
            (
                p.start_time_unix_nano,
                p.time_unix_nano,
                p.count,
                p.zero_count
            ),
            (1000, 2000, 7, 2)
        );
        assert_eq!(p.sum, Some(8.5));
        assert_eq!(
            side(p.positive.as_ref()),
            (7, vec![1, 0, 0, 0, 0, 4]),
            "from the first bucket that changed to the last"
        );
        assert_eq!(side(p.negative.as_ref()), (0, vec![]));

        // Nothing observed since: an empty point.
        let (metrics, _) = encode_values(Temporality::Delta, 3000, state, &[second.value()]);
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!((p.count, p.zero_count, p.sum), (0, 0, Some(0.0)));
        assert_eq!(side(p.positive.as_ref()), (0, vec![]));
    }

    #[test]
    fn delta_across_a_schema_drop_merges_the_previous_buckets_first() {
        let first = Native::new(3, 0, &[(1, 2), (2, 1), (9, 1)]).negative(&[(-3, 1), (0, 1)]);
        let (_, state) = encode_values(
            Temporality::Delta,
            1000,
            DeltaState::default(),
            &[first.value()],
        );
        // At schema 2: Prometheus 1 and 2 are in 1, 9 in 5; -3 in -1, 0 in 0.
        let second = Native::new(2, 0, &[(1, 4), (5, 1), (7, 2)]).negative(&[(-1, 1), (0, 2)]);
        let (metrics, _) = encode_values(Temporality::Delta, 2000, state, &[second.value()]);
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!((p.scale, p.count, p.start_time_unix_nano), (2, 4, 1000));
        assert_eq!(side(p.positive.as_ref()), (0, vec![1, 0, 0, 0, 0, 0, 2]));
        assert_eq!(side(p.negative.as_ref()), (-1, vec![1]));
    }

    #[test]
    fn delta_across_a_wider_zero_bucket_counts_the_buckets_it_took_in_it() {
        let first = Native::new(0, 1, &[(-2, 1), (-1, 2), (1, 1)]);
        let (_, state) = encode_values(
            Temporality::Delta,
            1000,
            DeltaState::default(),
            &[first.value()],
        );
        // The zero bucket widened to the upper bound of bucket -1 (0.5): buckets -2 and -1
        // are in it now, with one new observation.
        let mut second = Native::new(0, 5, &[(1, 3)]);
        second.zero_threshold = 0.5;
        let (metrics, _) = encode_values(Temporality::Delta, 2000, state, &[second.value()]);
        let p = &exponential(&metrics[0]).data_points[0];
        assert_eq!((p.zero_threshold, p.zero_count, p.count), (0.5, 1, 3));
        assert_eq!(side(p.positive.as_ref()), (0, vec![2]));
    }

    #[test]
    fn a_native_series_that_went_down_starts_over() {
        let first = Native::new(1, 0, &[(1, 5), (4, 1)]);
        let cases = [
            Native::new(1, 0, &[(1, 2), (4, 1)]),
            // A bucket it had is gone.
            Native::new(1, 3, &[(1, 5)]),
            // A finer schema than before: created again with other settings.
            Native::new(2, 0, &[(1, 5), (7, 2)]),
        ];
        for (i, again) in cases.iter().enumerate() {
            let (_, state) = encode_values(
                Temporality::Delta,
                1000,
                DeltaState::default(),
                &[first.value()],
            );
            let (metrics, _) = encode_values(Temporality::Delta, 2000, state, &[again.value()]);
            let p = &exponential(&metrics[0]).data_points[0];
            let total = again.value().count;
            assert_eq!((p.count, p.sum), (total, Some(1.5)), "case {i}");
            assert_eq!(p.start_time_unix_nano, 1000, "case {i}");
            assert_eq!(p.scale, i32::from(again.schema), "case {i}");
        }
    }

    #[test]
    fn downscale_is_the_opentelemetry_rule_on_otlp_indexes() {
        let buckets: Vec<(i32, u64)> = (-9..=9).map(|i| (i, 1)).collect();
        for by in 0..4u32 {
            let merged = downscale(&buckets, by);
            for &(i, _) in &buckets {
                // Prometheus: ceil(i / 2^by); OTLP: (i - 1) >> by, one less.
                let expected = (f64::from(i) / f64::from(1 << by)).ceil() as i32;
                assert_eq!(((i - 1) >> by) + 1, expected);
                assert!(merged.iter().any(|&(m, _)| m == expected));
            }
            assert_eq!(merged.iter().map(|(_, c)| c).sum::<u64>(), 19);
            assert!(merged.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    /// A native histogram in the registry, past its bucket limit between collections: the
    /// zero bucket widens, then the resolution halves. Its delta points, each merged to the
    /// last scale and zero bucket, add up to its cumulative point.
    #[test]
    fn registry_native_deltas_add_up_across_a_wider_zero_bucket_and_a_schema_drop() {
        use std::collections::BTreeMap;

        let registry = Registry::new();
        let native = crate::NativeHistogram::new(1.1)
            .max_buckets(4)
            .max_zero_threshold(0.0625);
        let h = registry
            .histogram(&Opts::new("h", "H").with_native(native), Some(&[]))
            .unwrap();
        // Within the limit; then the zero bucket takes the buckets up to 2^-4 (at schema 3,
        // those of 0.05, 0.055 and 0.06); then the resolution halves to schema -2, where 2^-4
        // is still a bound.
        let rounds: [&[f64]; 3] = [
            &[0.0, 0.05, 1.0, 1.05],
            &[0.055, 0.06, 2.0, -1.0],
            &[3.0, 5.0, 9.0, 100.0, -0.5, 0.01],
        ];
        let mut state = DeltaState::default();
        let mut deltas = Vec::new();
        for (i, round) in rounds.iter().enumerate() {
            for v in *round {
                h.observe(*v);
            }
            let (metrics, next) =
                encode(&registry, Temporality::Delta, 1000 * (i as u64 + 1), state);
            state = next;
            deltas.push(exponential(&metrics[0]).data_points[0].clone());
        }
        let (metrics, _) = encode(
            &registry,
            Temporality::Cumulative,
            4000,
            DeltaState::default(),
        );
        let total = exponential(&metrics[0]).data_points[0].clone();
        assert_eq!(
            (deltas[0].scale, deltas[0].zero_threshold),
            (3, crate::NativeHistogram::DEFAULT_ZERO_THRESHOLD),
            "within the limit at first"
        );
        assert_eq!(
            (deltas[1].scale, deltas[1].zero_threshold),
            (3, 0.0625),
            "the zero bucket widened"
        );
        assert_eq!(
            (total.scale, total.zero_threshold),
            (-2, 0.0625),
            "the resolution halved"
        );
        assert_eq!((total.count, total.zero_count), (14, 5));

        let (mut count, mut zero_count, mut sum) = (0, 0, 0.0);
        let mut sides = [BTreeMap::new(), BTreeMap::new()];
        for d in &deltas {
            assert!(d.scale >= total.scale);
            let by = d.scale - total.scale;
            count += d.count;
            zero_count += d.zero_count;
            sum += d.sum.unwrap();
            for (buckets, side) in [&d.positive, &d.negative].into_iter().zip(&mut sides) {
                let buckets = buckets.as_ref().unwrap();
                for (j, c) in buckets.bucket_counts.iter().enumerate() {
                    let k = (buckets.offset + j as i32) >> by;
                    let upper = (f64::from(k + 1) / f64::from(total.scale).exp2()).exp2();
                    if upper <= total.zero_threshold * (1.0 + 1e-9) {
                        zero_count += c;
                    } else if *c > 0 {
                        *side.entry(k).or_insert(0) += c;
                    }
                }
            }
        }
        let as_map = |buckets: &Option<Buckets>| -> BTreeMap<i32, u64> {
            let buckets = buckets.as_ref().unwrap();
            (buckets.offset..)
                .zip(buckets.bucket_counts.iter().copied())
                .filter(|(_, c)| *c > 0)
                .collect()
        };
        assert_eq!((count, zero_count), (total.count, total.zero_count));
        assert!((sum - total.sum.unwrap()).abs() < 1e-9);
        assert_eq!(sides[0], as_map(&total.positive));
        assert_eq!(sides[1], as_map(&total.negative));
    }
}
