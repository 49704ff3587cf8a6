//! The Prometheus protobuf exposition format: each family one `io.prometheus.client.MetricFamily`
//! message (client_model's `metrics.proto`), preceded by its length as a varint. The wire
//! format is written here by hand: varints, little-endian doubles and length-delimited
//! submessages, nothing more.

use super::{BucketCounts, Encoder, FamilyInfo, HistogramValue, NativeValue, Series, Value};
use crate::kinds::RecordedExemplar;
use crate::kinds::table::MetricKind;

/// The `Content-Type` of the protobuf exposition format.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Field numbers of `metrics.proto`'s messages.
mod field {
    /// `MetricFamily.name`.
    pub const FAMILY_NAME: u32 = 1;
    /// `MetricFamily.help`.
    pub const FAMILY_HELP: u32 = 2;
    /// `MetricFamily.type`.
    pub const FAMILY_TYPE: u32 = 3;
    /// `MetricFamily.metric`.
    pub const FAMILY_METRIC: u32 = 4;
    /// `Metric.label`.
    pub const METRIC_LABEL: u32 = 1;
    /// `Metric.gauge`.
    pub const METRIC_GAUGE: u32 = 2;
    /// `Metric.counter`.
    pub const METRIC_COUNTER: u32 = 3;
    /// `Metric.summary`.
    pub const METRIC_SUMMARY: u32 = 4;
    /// `Metric.untyped`.
    pub const METRIC_UNTYPED: u32 = 5;
    /// `Metric.timestamp_ms`.
    pub const METRIC_TIMESTAMP_MS: u32 = 6;
    /// `Metric.histogram`.
    pub const METRIC_HISTOGRAM: u32 = 7;
    /// `LabelPair.name`.
    pub const LABEL_NAME: u32 = 1;
    /// `LabelPair.value`.
    pub const LABEL_VALUE: u32 = 2;
    /// `Counter.value`, `Gauge.value` and `Untyped.value`.
    pub const NUMBER_VALUE: u32 = 1;
    /// `Summary.sample_count` and `Histogram.sample_count`.
    pub const SAMPLE_COUNT: u32 = 1;
    /// `Summary.sample_sum` and `Histogram.sample_sum`.
    pub const SAMPLE_SUM: u32 = 2;
    /// `Summary.quantile`.
    pub const SUMMARY_QUANTILE: u32 = 3;
    /// `Quantile.quantile`.
    pub const QUANTILE_QUANTILE: u32 = 1;
    /// `Quantile.value`.
    pub const QUANTILE_VALUE: u32 = 2;
    /// `Histogram.bucket`.
    pub const HISTOGRAM_BUCKET: u32 = 3;
    /// `Bucket.cumulative_count`.
    pub const BUCKET_CUMULATIVE_COUNT: u32 = 1;
    /// `Bucket.upper_bound`.
    pub const BUCKET_UPPER_BOUND: u32 = 2;
    /// `Histogram.schema`.
    pub const HISTOGRAM_SCHEMA: u32 = 5;
    /// `Histogram.zero_threshold`.
    pub const HISTOGRAM_ZERO_THRESHOLD: u32 = 6;
    /// `Histogram.zero_count`.
    pub const HISTOGRAM_ZERO_COUNT: u32 = 7;
    /// `Histogram.negative_span`.
    pub const HISTOGRAM_NEGATIVE_SPAN: u32 = 9;
    /// `Histogram.negative_delta`.
    pub const HISTOGRAM_NEGATIVE_DELTA: u32 = 10;
    /// `Histogram.positive_span`.
    pub const HISTOGRAM_POSITIVE_SPAN: u32 = 12;
    /// `Histogram.positive_delta`.
    pub const HISTOGRAM_POSITIVE_DELTA: u32 = 13;
    /// `BucketSpan.offset`.
    pub const SPAN_OFFSET: u32 = 1;
    /// `BucketSpan.length`.
    pub const SPAN_LENGTH: u32 = 2;
    /// `Counter.exemplar`.
    pub const COUNTER_EXEMPLAR: u32 = 2;
    /// `Bucket.exemplar`.
    pub const BUCKET_EXEMPLAR: u32 = 3;
    /// `Histogram.exemplars`: a native histogram's.
    pub const HISTOGRAM_EXEMPLARS: u32 = 16;
    /// `Exemplar.label`.
    pub const EXEMPLAR_LABEL: u32 = 1;
    /// `Exemplar.value`.
    pub const EXEMPLAR_VALUE: u32 = 2;
    /// `Exemplar.timestamp`.
    pub const EXEMPLAR_TIMESTAMP: u32 = 3;
    /// `google.protobuf.Timestamp.seconds`.
    pub const TIMESTAMP_SECONDS: u32 = 1;
    /// `google.protobuf.Timestamp.nanos`.
    pub const TIMESTAMP_NANOS: u32 = 2;
}

/// Bytes left before a family's message for its length: the longest varint of a `u64`.
const LENGTH_GAP: usize = 10;

/// Wire type of varints.
const VARINT: u32 = 0;
/// Wire type of 64-bit fixed values (doubles).
const FIXED64: u32 = 1;
/// Wire type of length-delimited values (strings, submessages).
const LEN: u32 = 2;

/// Writes the protobuf format into a `Vec<u8>`: one length-delimited `MetricFamily` per family,
/// each written whole when the next family begins or the page is finished.
///
/// Counters, gauges and untyped samples carry their value as a double; histograms their
/// count, sum and cumulative buckets, one per bound (the `+Inf` bucket is left out, as
/// client_golang leaves it out: it is the count); summaries their quantiles, sum and count.
/// A histogram with native buckets carries their count as its count, and its schema, zero
/// bucket, spans and deltas as client_golang writes them.
/// A family keeps its name as given (a counter's `_total` included).
///
/// ```
/// use dynamo_exporter::exposition::{Encoder, ProtobufEncoder};
/// use dynamo_exporter::{Opts, Registry};
///
/// let registry = Registry::new();
/// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
/// let mut page = Vec::new();
/// let mut encoder = ProtobufEncoder::new(&mut page);
/// registry.encode(&[], &mut encoder);
/// encoder.finish();
/// assert_eq!(usize::from(page[0]), page.len() - 1);
/// ```
pub struct ProtobufEncoder<'a> {
    /// The page: finished families, then the current one's message after a gap its length
    /// is written into when it ends.
    out: &'a mut Vec<u8>,
    /// Where the current family's gap begins in `out`, once a family began.
    family: Option<usize>,
    /// Metrics in the current family.
    metrics: usize,
    /// The current family's type.
    kind: MetricKind,
    /// One metric's message, reused.
    metric: Vec<u8>,
    /// One metric's value message (a histogram's, a summary's), reused.
    value: Vec<u8>,
    /// The packed deltas of one sign of a native histogram, reused.
    deltas: Vec<u8>,
    /// One exemplar's message, reused.
    exemplar: Vec<u8>,
}

impl<'a> ProtobufEncoder<'a> {
    /// An encoder that appends to `out`; call [`Encoder::finish`] to write the last family.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Self {
            out,
            family: None,
            metrics: 0,
            kind: MetricKind::Untyped,
            metric: Vec::new(),
            value: Vec::new(),
            deltas: Vec::new(),
            exemplar: Vec::new(),
        }
    }

    /// Ends the current family: its length written before it, in place of the gap (the
    /// message moves back by what the length does not fill), or, without metrics, the family
    /// taken off the page.
    fn flush(&mut self) {
        let Some(start) = self.family.take() else {
            return;
        };
        if self.metrics == 0 {
            self.out.truncate(start);
            return;
        }
        let body = start + LENGTH_GAP;
        // The length's varint fills the end of the gap.
        let length = (self.out.len() - body) as u64;
        let from = body - varint_size(length);
        let mut rest = length;
        for byte in &mut self.out[from..body] {
            *byte = (rest as u8 & 0x7f) | 0x80;
            rest >>= 7;
        }
        self.out[body - 1] &= 0x7f;
        self.out.copy_within(from.., start);
        self.out.truncate(self.out.len() - (from - start));
        self.metrics = 0;
    }
}

/// The `MetricType` value of a kind.
fn metric_type(kind: MetricKind) -> u64 {
    match kind.text_kind() {
        MetricKind::Counter => 0,
        MetricKind::Gauge => 1,
        MetricKind::Summary => 2,
        MetricKind::Untyped => 3,
        MetricKind::Histogram => 4,
        MetricKind::Info | MetricKind::StateSet => 1,
    }
}

impl Encoder for ProtobufEncoder<'_> {
    fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.flush();
        self.kind = family.kind;
        self.family = Some(self.out.len());
        self.out.extend_from_slice(&[0; LENGTH_GAP]);
        let name = [family.name, family.kind.text_suffix()].concat();
        push_bytes(self.out, field::FAMILY_NAME, name.as_bytes());
        if let Some(help) = family.help {
            push_bytes(self.out, field::FAMILY_HELP, help.as_bytes());
        }
        push_key(self.out, field::FAMILY_TYPE, VARINT);
        push_varint(self.out, metric_type(family.kind));
    }

    fn series(&mut self, series: &Series<'_>) {
        let metric = &mut self.metric;
        metric.clear();
        series.labels.for_each_pair(|name, value| {
            let size = field_size(name.len()) + field_size(value.len());
            push_key(metric, field::METRIC_LABEL, LEN);
            push_varint(metric, size as u64);
            push_bytes(metric, field::LABEL_NAME, name.as_bytes());
            push_bytes(metric, field::LABEL_VALUE, value.as_bytes());
        });
        let value = &mut self.value;
        value.clear();
        let value_field = match &series.value {
            Value::Number(n) => {
                push_double(value, field::NUMBER_VALUE, n.as_f64());
                if let (MetricKind::Counter, Some(e)) = (self.kind, series.exemplars.first()) {
                    push_exemplar(value, &mut self.exemplar, field::COUNTER_EXEMPLAR, e);
                }
                match self.kind {
                    MetricKind::Counter => field::METRIC_COUNTER,
                    MetricKind::Gauge | MetricKind::Info | MetricKind::StateSet => {
                        field::METRIC_GAUGE
                    }
                    MetricKind::Histogram | MetricKind::Summary | MetricKind::Untyped => {
                        field::METRIC_UNTYPED
                    }
                }
            }
            Value::Histogram(h) => {
                push_key(value, field::SAMPLE_COUNT, VARINT);
                push_varint(value, h.native.map_or(h.count, |native| native.count));
                if let Some(sum) = h.sum {
                    push_double(value, field::SAMPLE_SUM, sum);
                }
                // A native-only histogram's exemplars are the histogram's, not a bucket's.
                let native_only = h.native.is_some() && h.bounds.is_empty();
                let bucket_exemplars = if native_only { &[] } else { series.exemplars };
                if bucket_exemplars.is_empty() {
                    for (bound, count) in h.bounds.iter().zip(h.cumulative) {
                        if *bound == f64::INFINITY {
                            continue;
                        }
                        // A one-byte key and the count, then a key and eight bytes.
                        let size = 1 + varint_size(*count) + 9;
                        push_key(value, field::HISTOGRAM_BUCKET, LEN);
                        push_varint(value, size as u64);
                        push_key(value, field::BUCKET_CUMULATIVE_COUNT, VARINT);
                        push_varint(value, *count);
                        push_double(value, field::BUCKET_UPPER_BOUND, *bound);
                    }
                } else {
                    push_buckets_with_exemplars(value, &mut self.exemplar, h, bucket_exemplars);
                }
                if let Some(native) = &h.native {
                    push_native(value, &mut self.deltas, native);
                }
                if native_only {
                    for e in series.exemplars {
                        push_exemplar(value, &mut self.exemplar, field::HISTOGRAM_EXEMPLARS, e);
                    }
                }
                field::METRIC_HISTOGRAM
            }
            Value::Summary(s) => {
                if let Some(count) = s.count {
                    push_key(value, field::SAMPLE_COUNT, VARINT);
                    push_varint(value, count);
                }
                if let Some(sum) = s.sum {
                    push_double(value, field::SAMPLE_SUM, sum);
                }
                for (quantile, v) in s.quantiles {
                    push_key(value, field::SUMMARY_QUANTILE, LEN);
                    // Two doubles, each a one-byte key and eight bytes.
                    push_varint(value, 18);
                    push_double(value, field::QUANTILE_QUANTILE, *quantile);
                    push_double(value, field::QUANTILE_VALUE, *v);
                }
                field::METRIC_SUMMARY
            }
        };
        push_bytes(metric, value_field, value);
        if let Some(timestamp) = series.timestamp_ms {
            push_key(metric, field::METRIC_TIMESTAMP_MS, VARINT);
            // An int64 is written as its two's complement, as protobuf does.
            push_varint(metric, timestamp as u64);
        }
        push_bytes(self.out, field::FAMILY_METRIC, metric);
        self.metrics += 1;
    }

    fn finish(&mut self) {
        self.flush();
    }
}

/// Appends a histogram's classic buckets with their exemplars, and a `+Inf` bucket when it has
/// one (as client_golang does: the bucket is otherwise implied).
fn push_buckets_with_exemplars(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    h: &HistogramValue<'_>,
    exemplars: &[RecordedExemplar],
) {
    let mut bucket = Vec::new();
    let bounds = h.bounds.iter().copied().chain([f64::INFINITY]);
    for (at, (bound, count)) in bounds.zip(h.cumulative).enumerate() {
        let exemplar = exemplars.iter().find(|e| e.bucket == at);
        if bound == f64::INFINITY && exemplar.is_none() {
            continue;
        }
        bucket.clear();
        push_key(&mut bucket, field::BUCKET_CUMULATIVE_COUNT, VARINT);
        push_varint(&mut bucket, *count);
        push_double(&mut bucket, field::BUCKET_UPPER_BOUND, bound);
        if let Some(e) = exemplar {
            push_exemplar(&mut bucket, scratch, field::BUCKET_EXEMPLAR, e);
        }
        push_bytes(out, field::HISTOGRAM_BUCKET, &bucket);
    }
}

/// Appends `exemplar` as an `Exemplar` message in `field`, written first in `scratch`.
fn push_exemplar(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    field: u32,
    exemplar: &RecordedExemplar,
) {
    scratch.clear();
    for (name, value) in exemplar.exemplar.labels() {
        let size = field_size(name.len()) + field_size(value.len());
        push_key(scratch, field::EXEMPLAR_LABEL, LEN);
        push_varint(scratch, size as u64);
        push_bytes(scratch, field::LABEL_NAME, name.as_bytes());
        push_bytes(scratch, field::LABEL_VALUE, value.as_bytes());
    }
    push_double(scratch, field::EXEMPLAR_VALUE, exemplar.value);
    let seconds = exemplar.timestamp_ms.div_euclid(1000);
    let nanos = exemplar.timestamp_ms.rem_euclid(1000) * 1_000_000;
    let mut timestamp = Vec::with_capacity(16);
    push_key(&mut timestamp, field::TIMESTAMP_SECONDS, VARINT);
    push_varint(&mut timestamp, seconds as u64);
    if nanos != 0 {
        push_key(&mut timestamp, field::TIMESTAMP_NANOS, VARINT);
        push_varint(&mut timestamp, nanos as u64);
    }
    push_bytes(scratch, field::EXEMPLAR_TIMESTAMP, &timestamp);
    push_bytes(out, field, scratch);
}

/// Appends the native fields of a histogram: its schema, zero bucket, and the spans and deltas
/// of its negative and positive buckets.
///
/// A native histogram with no buckets, no zero bucket count and a zero threshold of 0 gets one
/// positive span of offset 0 and length 0, as client_golang gives it: without a span or a
/// zero threshold a scraper would take it for a classic histogram.
fn push_native(out: &mut Vec<u8>, deltas: &mut Vec<u8>, native: &NativeValue<'_>) {
    push_key(out, field::HISTOGRAM_SCHEMA, VARINT);
    push_varint(out, u64::from(zigzag32(i32::from(native.schema))));
    push_double(out, field::HISTOGRAM_ZERO_THRESHOLD, native.zero_threshold);
    push_key(out, field::HISTOGRAM_ZERO_COUNT, VARINT);
    push_varint(out, native.zero_count);
    push_buckets(
        out,
        deltas,
        (
            field::HISTOGRAM_NEGATIVE_SPAN,
            field::HISTOGRAM_NEGATIVE_DELTA,
        ),
        native.negative,
    );
    push_buckets(
        out,
        deltas,
        (
            field::HISTOGRAM_POSITIVE_SPAN,
            field::HISTOGRAM_POSITIVE_DELTA,
        ),
        native.positive,
    );
    if native.zero_threshold == 0.0
        && native.zero_count == 0
        && native.positive.is_empty()
        && native.negative.is_empty()
    {
        push_span(out, field::HISTOGRAM_POSITIVE_SPAN, 0, 0);
    }
}

/// Appends the buckets of one sign as `(span field, delta field)`, as client_golang's
/// `makeBuckets` builds them: spans of consecutive buckets, the first one's offset its first
/// index and each following one's the gap since the end of the one before; a gap of one or two
/// empty buckets does not begin a new span but is filled with buckets of count 0. The deltas,
/// packed, are each bucket's count less the count of the bucket before it in the sign (the
/// first one's less 0). No buckets write nothing.
fn push_buckets(
    out: &mut Vec<u8>,
    deltas: &mut Vec<u8>,
    (span_field, delta_field): (u32, u32),
    buckets: BucketCounts<'_>,
) {
    if buckets.is_empty() {
        return;
    }
    deltas.clear();
    // Most deltas and span fields take a byte or two.
    deltas.reserve(buckets.len() * 2);
    out.reserve(buckets.len() * 4);
    let mut previous = 0u64;
    let (mut offset, mut length) = (0i64, 0u32);
    let mut next = i64::MIN;
    for (index, count) in buckets.iter() {
        let index = i64::from(index);
        let gap = index.wrapping_sub(next);
        if (0..=2).contains(&gap) {
            // Counts of 0 fill a gap of one or two buckets; the delta to 0 is the count before.
            for _ in 0..gap {
                push_varint(deltas, zigzag64(0u64.wrapping_sub(previous) as i64));
                previous = 0;
            }
            length += gap as u32;
        } else {
            if next == i64::MIN {
                offset = index;
            } else {
                push_span(out, span_field, offset, length);
                offset = gap;
            }
            length = 0;
        }
        // Counts stay below 2^63: their difference as a two's complement is exact.
        push_varint(deltas, zigzag64(count.wrapping_sub(previous) as i64));
        previous = count;
        length += 1;
        next = index + 1;
    }
    push_span(out, span_field, offset, length);
    push_bytes(out, delta_field, deltas);
}

/// Appends a `BucketSpan`, both its fields written (as client_golang writes them).
#[inline(always)]
fn push_span(out: &mut Vec<u8>, field: u32, offset: i64, length: u32) {
    // Offsets are differences of two `i32` indexes of one sign's increasing buckets: as an
    // `sint32` they wrap as client_golang's do.
    let offset = u64::from(zigzag32(offset as i32));
    let length = u64::from(length);
    if offset < 0x80 && length < 0x80 && field < 16 {
        // The usual span: six bytes, each key and value one byte.
        out.extend_from_slice(&[
            (field << 3 | LEN) as u8,
            4,
            (field::SPAN_OFFSET << 3 | VARINT) as u8,
            offset as u8,
            (field::SPAN_LENGTH << 3 | VARINT) as u8,
            length as u8,
        ]);
    } else {
        push_long_span(out, field, offset, length);
    }
}

/// [`push_span`] for a span whose offset or length takes more than a byte.
#[cold]
#[inline(never)]
fn push_long_span(out: &mut Vec<u8>, field: u32, offset: u64, length: u64) {
    push_key(out, field, LEN);
    push_varint(out, (2 + varint_size(offset) + varint_size(length)) as u64);
    push_key(out, field::SPAN_OFFSET, VARINT);
    push_varint(out, offset);
    push_key(out, field::SPAN_LENGTH, VARINT);
    push_varint(out, length);
}

/// `value` zigzag-encoded, as an `sint32` is written.
fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

/// `value` zigzag-encoded, as an `sint64` is written.
fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Appends a field's key: its number and wire type.
fn push_key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    push_varint(out, u64::from((field << 3) | wire_type));
}

/// Appends `value` as a base-128 varint.
#[inline(always)]
fn push_varint(out: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        out.push(value as u8);
    } else {
        push_long_varint(out, value);
    }
}

/// Appends `value`, at least 128, as a base-128 varint: gathered on the stack, then appended
/// at once.
#[inline(never)]
fn push_long_varint(out: &mut Vec<u8>, mut value: u64) {
    let mut bytes = [0; 10];
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    out.extend_from_slice(&bytes[..=len]);
}

/// The bytes of `value` as a varint.
fn varint_size(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// The bytes of a length-delimited field of `len` bytes (its number below 16: a one-byte key).
fn field_size(len: usize) -> usize {
    1 + varint_size(len as u64) + len
}

/// Appends a length-delimited field (a string, or a submessage already written).
fn push_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    push_key(out, field, LEN);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a double field.
fn push_double(out: &mut Vec<u8>, field: u32, value: f64) {
    push_key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse::parse;
    use crate::exposition::{Format, HistogramValue, Labels, encode_parsed};
    use crate::{Opts, Registry};

    /// One field's value as the wire carries it.
    enum Wire<'a> {
        Varint(u64),
        Fixed64(u64),
        Bytes(&'a [u8]),
    }

    impl<'a> Wire<'a> {
        /// The value of a varint field.
        fn varint(&self) -> u64 {
            match self {
                Wire::Varint(v) => *v,
                _ => panic!("not a varint"),
            }
        }

        /// The value of a double field.
        fn double(&self) -> f64 {
            match self {
                Wire::Fixed64(v) => f64::from_bits(*v),
                _ => panic!("not a double"),
            }
        }

        /// The bytes of a length-delimited field.
        fn bytes(&self) -> &'a [u8] {
            match self {
                Wire::Bytes(b) => b,
                _ => panic!("not length-delimited"),
            }
        }

        /// A length-delimited field as UTF-8.
        fn string(&self) -> String {
            String::from_utf8(self.bytes().to_vec()).expect("UTF-8")
        }
    }

    /// Reads a varint off the front of `bytes`.
    fn read_varint(bytes: &mut &[u8]) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (byte, rest) = bytes.split_first().expect("a varint's byte");
            *bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("a varint longer than ten bytes");
    }

    /// Every field of one message, in order.
    fn fields(mut bytes: &[u8]) -> Vec<(u32, Wire<'_>)> {
        let mut fields = Vec::new();
        while !bytes.is_empty() {
            let key = read_varint(&mut bytes);
            let number = u32::try_from(key >> 3).unwrap();
            let value = match key & 7 {
                0 => Wire::Varint(read_varint(&mut bytes)),
                1 => {
                    let (fixed, rest) = bytes.split_at(8);
                    bytes = rest;
                    Wire::Fixed64(u64::from_le_bytes(fixed.try_into().unwrap()))
                }
                2 => {
                    let len = usize::try_from(read_varint(&mut bytes)).unwrap();
                    let (inner, rest) = bytes.split_at(len);
                    bytes = rest;
                    Wire::Bytes(inner)
                }
                other => panic!("wire type {other}"),
            };
            fields.push((number, value));
        }
        fields
    }

    /// A decoded `MetricFamily`.
    #[derive(Debug, Default, PartialEq)]
    struct Family {
        name: String,
        help: Option<String>,
        kind: Option<u64>,
        metrics: Vec<Metric>,
    }

    /// A decoded `Metric`: its labels and whichever value it carries.
    #[derive(Debug, Default, PartialEq)]
    struct Metric {
        labels: Vec<(String, String)>,
        counter: Option<f64>,
        gauge: Option<f64>,
        untyped: Option<f64>,
        histogram: Option<Histogram>,
        summary: Option<Summary>,
        timestamp_ms: Option<i64>,
    }

    /// A decoded `Histogram`: buckets as `(cumulative_count, upper_bound)`, spans as
    /// `(offset, length)`.
    #[derive(Debug, Default, PartialEq)]
    struct Histogram {
        count: Option<u64>,
        sum: Option<f64>,
        buckets: Vec<(u64, f64)>,
        schema: Option<i32>,
        zero_threshold: Option<f64>,
        zero_count: Option<u64>,
        negative_spans: Vec<(i32, u32)>,
        negative_deltas: Vec<i64>,
        positive_spans: Vec<(i32, u32)>,
        positive_deltas: Vec<i64>,
    }

    /// An `sint32` or `sint64` from its zigzag encoding.
    fn unzigzag(value: u64) -> i64 {
        (value >> 1) as i64 ^ -((value & 1) as i64)
    }

    /// A `BucketSpan` as `(offset, length)`; panics on a field it does not have.
    fn span(bytes: &[u8]) -> (i32, u32) {
        let mut span = (0, 0);
        for (number, v) in fields(bytes) {
            match number {
                1 => span.0 = i32::try_from(unzigzag(v.varint())).unwrap(),
                2 => span.1 = u32::try_from(v.varint()).unwrap(),
                other => panic!("BucketSpan field {other}"),
            }
        }
        span
    }

    /// Packed `sint64`s.
    fn packed_sint64(mut bytes: &[u8]) -> Vec<i64> {
        let mut values = Vec::new();
        while !bytes.is_empty() {
            values.push(unzigzag(read_varint(&mut bytes)));
        }
        values
    }

    /// A decoded `Summary`: quantiles as `(quantile, value)`.
    #[derive(Debug, Default, PartialEq)]
    struct Summary {
        count: Option<u64>,
        sum: Option<f64>,
        quantiles: Vec<(f64, f64)>,
    }

    /// The families of a page of length-delimited `MetricFamily` messages; panics on a field
    /// `metrics.proto` does not have where it is.
    fn decode(mut page: &[u8]) -> Vec<Family> {
        let mut families = Vec::new();
        while !page.is_empty() {
            let len = usize::try_from(read_varint(&mut page)).unwrap();
            let (message, rest) = page.split_at(len);
            page = rest;
            let mut family = Family::default();
            for (number, value) in fields(message) {
                match number {
                    1 => family.name = value.string(),
                    2 => family.help = Some(value.string()),
                    3 => family.kind = Some(value.varint()),
                    4 => family.metrics.push(metric(value.bytes())),
                    other => panic!("MetricFamily field {other}"),
                }
            }
            families.push(family);
        }
        families
    }

    /// Decodes one `Metric`; panics on a field `metrics.proto` does not have where it is.
    fn metric(bytes: &[u8]) -> Metric {
        let mut metric = Metric::default();
        let number = |bytes| {
            let mut value = None;
            for (number, v) in fields(bytes) {
                assert_eq!(number, 1, "a number's field");
                value = Some(v.double());
            }
            value
        };
        for (field, value) in fields(bytes) {
            match field {
                1 => {
                    let mut pair = (String::new(), String::new());
                    for (number, v) in fields(value.bytes()) {
                        match number {
                            1 => pair.0 = v.string(),
                            2 => pair.1 = v.string(),
                            other => panic!("LabelPair field {other}"),
                        }
                    }
                    metric.labels.push(pair);
                }
                2 => metric.gauge = number(value.bytes()),
                3 => metric.counter = number(value.bytes()),
                4 => {
                    let mut summary = Summary::default();
                    for (number, v) in fields(value.bytes()) {
                        match number {
                            1 => summary.count = Some(v.varint()),
                            2 => summary.sum = Some(v.double()),
                            3 => {
                                let mut quantile = (f64::NAN, f64::NAN);
                                for (number, v) in fields(v.bytes()) {
                                    match number {
                                        1 => quantile.0 = v.double(),
                                        2 => quantile.1 = v.double(),
                                        other => panic!("Quantile field {other}"),
                                    }
                                }
                                summary.quantiles.push(quantile);
                            }
                            other => panic!("Summary field {other}"),
                        }
                    }
                    metric.summary = Some(summary);
                }
                5 => metric.untyped = number(value.bytes()),
                6 => metric.timestamp_ms = Some(value.varint() as i64),
                7 => {
                    let mut histogram = Histogram::default();
                    for (number, v) in fields(value.bytes()) {
                        match number {
                            1 => histogram.count = Some(v.varint()),
                            2 => histogram.sum = Some(v.double()),
                            3 => {
                                let mut bucket = (0, f64::NAN);
                                for (number, v) in fields(v.bytes()) {
                                    match number {
                                        1 => bucket.0 = v.varint(),
                                        2 => bucket.1 = v.double(),
                                        other => panic!("Bucket field {other}"),
                                    }
                                }
                                histogram.buckets.push(bucket);
                            }
                            5 => {
                                let schema = i32::try_from(unzigzag(v.varint())).unwrap();
                                histogram.schema = Some(schema);
                            }
                            6 => histogram.zero_threshold = Some(v.double()),
                            7 => histogram.zero_count = Some(v.varint()),
                            9 => histogram.negative_spans.push(span(v.bytes())),
                            10 => histogram.negative_deltas.extend(packed_sint64(v.bytes())),
                            12 => histogram.positive_spans.push(span(v.bytes())),
                            13 => histogram.positive_deltas.extend(packed_sint64(v.bytes())),
                            other => panic!("Histogram field {other}"),
                        }
                    }
                    metric.histogram = Some(histogram);
                }
                other => panic!("Metric field {other}"),
            }
        }
        metric
    }

    /// The registry's page in the protobuf format.
    fn page_of(registry: &Registry) -> Vec<u8> {
        Format::Protobuf.render(|encoder| {
            registry.encode(&[], encoder);
        })
    }

    /// Owned label pairs.
    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn varints_take_as_many_bytes_as_their_seven_bit_groups() {
        for (value, bytes) in [
            (0u64, &[0u8][..]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (
                u64::MAX,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            push_varint(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(varint_size(value), bytes.len(), "{value}");
            assert_eq!(read_varint(&mut &out[..]), value);
        }
    }

    #[test]
    fn counters_and_gauges_carry_their_labels_and_values() {
        let registry = Registry::new();
        let requests = registry
            .int_counter_vec(&Opts::new("requests_total", "Requests"), &["path"])
            .unwrap();
        requests.with_label_values(&["/a"]).inc_by(3);
        requests
            .with_label_values(&["say \"hi\"\nüber \\ 日本"])
            .inc();
        registry
            .gauge(&Opts::new("temperature", "Degrees"))
            .unwrap()
            .set(-1.5);
        registry
            .int_gauge(&Opts::new("queue", "Queued").with_const_labels(&[("tier", "l1")]))
            .unwrap()
            .set(-7);
        let families = decode(&page_of(&registry));
        assert_eq!(
            families,
            vec![
                Family {
                    name: "queue".into(),
                    help: Some("Queued".into()),
                    kind: Some(1),
                    metrics: vec![Metric {
                        labels: pairs(&[("tier", "l1")]),
                        gauge: Some(-7.0),
                        ..Metric::default()
                    }],
                },
                Family {
                    name: "requests_total".into(),
                    help: Some("Requests".into()),
                    kind: Some(0),
                    metrics: vec![
                        Metric {
                            labels: pairs(&[("path", "/a")]),
                            counter: Some(3.0),
                            ..Metric::default()
                        },
                        Metric {
                            labels: pairs(&[("path", "say \"hi\"\nüber \\ 日本")]),
                            counter: Some(1.0),
                            ..Metric::default()
                        },
                    ],
                },
                Family {
                    name: "temperature".into(),
                    help: Some("Degrees".into()),
                    kind: Some(1),
                    metrics: vec![Metric {
                        gauge: Some(-1.5),
                        ..Metric::default()
                    }],
                },
            ]
        );
    }

    #[test]
    fn histograms_carry_cumulative_finite_buckets_count_and_sum() {
        let registry = Registry::new();
        let latency = registry
            .histogram_vec(
                &Opts::new("latency_seconds", "Latency"),
                &["op"],
                Some(&[0.1, 1.0]),
            )
            .unwrap();
        let read = latency.with_label_values(&["read"]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            read.observe(v);
        }
        latency.with_label_values(&["write"]).observe(0.01);
        let families = decode(&page_of(&registry));
        let histogram = |count, sum, buckets: &[(u64, f64)]| Histogram {
            count: Some(count),
            sum: Some(sum),
            buckets: buckets.to_vec(),
            ..Histogram::default()
        };
        assert_eq!(
            families,
            vec![Family {
                name: "latency_seconds".into(),
                help: Some("Latency".into()),
                kind: Some(4),
                metrics: vec![
                    Metric {
                        labels: pairs(&[("op", "read")]),
                        histogram: Some(histogram(4, 4.25, &[(1, 0.1), (3, 1.0)])),
                        ..Metric::default()
                    },
                    Metric {
                        labels: pairs(&[("op", "write")]),
                        histogram: Some(histogram(1, 0.01, &[(1, 0.1), (1, 1.0)])),
                        ..Metric::default()
                    },
                ],
            }]
        );
    }

    #[test]
    fn summaries_untyped_samples_and_timestamps_from_text() {
        let text = concat!(
            "# TYPE legacy untyped\n",
            "legacy{a=\"x\"} -3 1700000000000\n",
            "legacy{a=\"y\"} 2.5 -5\n",
            "# HELP rpc_seconds RPC latency\n",
            "# TYPE rpc_seconds summary\n",
            "rpc_seconds{quantile=\"0.5\"} 0.25\n",
            "rpc_seconds{quantile=\"0.9\"} 1.5\n",
            "rpc_seconds_sum 12.5\n",
            "rpc_seconds_count 40\n",
            "# TYPE bare summary\n",
            "bare{quantile=\"0.99\"} 7\n",
        );
        let families = parse(text).unwrap();
        let page = Format::Protobuf.render(|encoder| encode_parsed(&families, encoder));
        let decoded = decode(&page);
        let by_name = |name: &str| decoded.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            *by_name("legacy"),
            Family {
                name: "legacy".into(),
                help: None,
                kind: Some(3),
                metrics: vec![
                    Metric {
                        labels: pairs(&[("a", "x")]),
                        untyped: Some(-3.0),
                        timestamp_ms: Some(1_700_000_000_000),
                        ..Metric::default()
                    },
                    Metric {
                        labels: pairs(&[("a", "y")]),
                        untyped: Some(2.5),
                        timestamp_ms: Some(-5),
                        ..Metric::default()
                    },
                ],
            }
        );
        assert_eq!(
            *by_name("rpc_seconds"),
            Family {
                name: "rpc_seconds".into(),
                help: Some("RPC latency".into()),
                kind: Some(2),
                metrics: vec![Metric {
                    summary: Some(Summary {
                        count: Some(40),
                        sum: Some(12.5),
                        quantiles: vec![(0.5, 0.25), (0.9, 1.5)],
                    }),
                    ..Metric::default()
                }],
            }
        );
        assert_eq!(
            by_name("bare").metrics,
            vec![Metric {
                summary: Some(Summary {
                    count: None,
                    sum: None,
                    quantiles: vec![(0.99, 7.0)],
                }),
                ..Metric::default()
            }]
        );
    }

    #[test]
    fn a_registry_s_constant_labels_join_every_series_in_order() {
        let registry = Registry::new();
        registry
            .set_const_labels(&[("cluster", "us-west"), ("zone", "a\"b")])
            .unwrap();
        let jobs = registry
            .int_counter_vec(&Opts::new("jobs_total", "Jobs"), &["queue", "zone"])
            .unwrap();
        jobs.with_label_values(&["q", "own"]).inc();
        let families = decode(&page_of(&registry));
        assert_eq!(
            families[0].metrics[0].labels,
            pairs(&[("cluster", "us-west"), ("queue", "q"), ("zone", "own")])
        );
        registry
            .histogram(&Opts::new("h", "H"), Some(&[1.0]))
            .unwrap()
            .observe(2.0);
        let families = decode(&page_of(&registry));
        assert_eq!(families[0].name, "h");
        assert_eq!(
            families[0].metrics[0].labels,
            pairs(&[("cluster", "us-west"), ("zone", "a\"b")])
        );
        assert_eq!(
            families[0].metrics[0].histogram,
            Some(Histogram {
                count: Some(1),
                sum: Some(2.0),
                buckets: vec![(0, 1.0)],
                ..Histogram::default()
            })
        );
    }

    #[test]
    fn long_families_get_multi_byte_lengths_and_empty_ones_are_left_out() {
        let registry = Registry::new();
        let many = registry
            .int_gauge_vec(&Opts::new("many", "Many series"), &["id"])
            .unwrap();
        for id in 0..200 {
            many.with_label_values(&[id.to_string()]).set(id);
        }
        let page = page_of(&registry);
        assert!(page[0] & 0x80 != 0, "a length of more than one byte");
        let families = decode(&page);
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].metrics.len(), 200);
        assert!(
            families[0]
                .metrics
                .iter()
                .all(|m| m.gauge == m.labels[0].1.parse().ok())
        );

        let mut out = Vec::new();
        let mut encoder = ProtobufEncoder::new(&mut out);
        encoder.family(&FamilyInfo {
            name: "nothing",
            help: Some("No series"),
            kind: MetricKind::Gauge,
            observed: false,
        });
        encoder.finish();
        assert!(out.is_empty());
        assert_eq!(Format::Protobuf.render(|_| {}), Vec::<u8>::new());
    }

    /// Bucket words of `(index, count)` pairs, as `BucketCounts::from_words` reads them.
    fn words(buckets: &[(i32, u64)]) -> Vec<u64> {
        let mut words = Vec::new();
        BucketCounts::push_words(&mut words, buckets.iter().copied());
        words
    }

    /// A native histogram's value at schema 3 with client_golang's default zero threshold
    /// (2^-128), no classic buckets, and a count of the zero bucket and every bucket.
    fn native<'a>(zero_count: u64, positive: &'a [u64], negative: &'a [u64]) -> NativeValue<'a> {
        let (positive, negative) = (
            BucketCounts::from_words(positive),
            BucketCounts::from_words(negative),
        );
        NativeValue {
            schema: 3,
            zero_threshold: 2f64.powi(-128),
            zero_count,
            count: zero_count + positive.total() + negative.total(),
            positive,
            negative,
        }
    }

    /// A page of one family, `h`, with one series of this histogram value.
    fn page_with(value: HistogramValue<'_>) -> Vec<u8> {
        Format::Protobuf.render(|encoder| {
            encoder.family(&FamilyInfo {
                name: "h",
                help: None,
                kind: MetricKind::Histogram,
                observed: false,
            });
            encoder.series(&Series {
                labels: Labels::sorted(&[]),
                value: Value::Histogram(value),
                timestamp_ms: None,
                exemplars: &[],
            });
        })
    }

    /// A native-only histogram's value: no bounds, its `+Inf` bucket the native count.
    fn native_only<'a>(native: NativeValue<'a>, sum: f64, inf: &'a [u64]) -> HistogramValue<'a> {
        HistogramValue {
            bounds: &[],
            cumulative: inf,
            sum: Some(sum),
            count: native.count,
            native: Some(native),
        }
    }

    /// The `Histogram` message of the page's only metric, as bytes.
    fn histogram_bytes(page: &[u8]) -> Vec<u8> {
        let mut page = page;
        let len = usize::try_from(read_varint(&mut page)).unwrap();
        assert_eq!(len, page.len(), "one family");
        let metrics: Vec<_> = fields(page).into_iter().filter(|(n, _)| *n == 4).collect();
        assert_eq!(metrics.len(), 1, "one metric");
        let values: Vec<_> = fields(metrics[0].1.bytes())
            .into_iter()
            .filter(|(n, _)| *n == 7)
            .collect();
        assert_eq!(values.len(), 1, "one histogram");
        values[0].1.bytes().to_vec()
    }

    /// The page's only histogram, decoded.
    fn histogram_of(page: &[u8]) -> Histogram {
        let mut families = decode(page);
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].metrics.len(), 1);
        families[0]
            .metrics
            .remove(0)
            .histogram
            .expect("a histogram")
    }

    /// A double field's bytes: a one-byte key and eight little-endian bytes.
    fn double_bytes(key: u8, value: f64) -> Vec<u8> {
        let mut out = vec![key];
        out.extend_from_slice(&value.to_le_bytes());
        out
    }

    #[test]
    fn client_golang_s_schema_3_case_is_written_byte_for_byte() {
        // client_golang's TestNativeHistogram, "factor 1.1 results in schema 3": 0, 1, 2 and
        // 3 observed; 0 in the zero bucket, the others in buckets 0, 8 and 13.
        let positive = words(&[(0, 1), (8, 1), (13, 1)]);
        let value = native_only(native(1, &positive, &[]), 6.0, &[4]);
        let page = page_with(value);
        assert_eq!(
            histogram_of(&page),
            Histogram {
                count: Some(4),
                sum: Some(6.0),
                schema: Some(3),
                zero_threshold: Some(2.938735877055719e-39),
                zero_count: Some(1),
                positive_spans: vec![(0, 1), (7, 1), (4, 1)],
                positive_deltas: vec![1, 0, 0],
                ..Histogram::default()
            }
        );
        let expected = [
            &[0x08, 4][..],           // sample_count 4
            &double_bytes(0x11, 6.0), // sample_sum
            &[0x28, 6],               // schema 3, zigzag
            &double_bytes(0x31, 2f64.powi(-128)),
            &[0x38, 1],                    // zero_count
            &[0x62, 4, 0x08, 0, 0x10, 1],  // positive_span {0, 1}
            &[0x62, 4, 0x08, 14, 0x10, 1], // positive_span {7, 1}
            &[0x62, 4, 0x08, 8, 0x10, 1],  // positive_span {4, 1}
            &[0x6a, 3, 2, 0, 0],           // positive_delta 1, 0, 0, packed
        ]
        .concat();
        assert_eq!(histogram_bytes(&page), expected);
    }

    #[test]
    fn gaps_of_one_or_two_buckets_are_filled_and_longer_ones_begin_a_span() {
        // client_golang's "factor 1.2 results in schema 2": buckets 0, 2 and 4, each gap
        // one bucket, make one span with empty buckets between.
        let positive = words(&[(0, 1), (2, 2), (4, 2)]);
        let h = histogram_of(&page_with(native_only(
            native(1, &positive, &[]),
            7.4,
            &[6],
        )));
        assert_eq!(h.positive_spans, vec![(0, 5)]);
        assert_eq!(h.positive_deltas, vec![1, -1, 2, -2, 2]);
        assert_eq!(h.count, Some(6));

        // A gap of two is filled; a gap of three begins a span whose offset is the gap.
        let positive = words(&[(5, 3), (8, 1), (12, 4), (13, 4)]);
        let h = histogram_of(&page_with(native_only(
            native(0, &positive, &[]),
            1.0,
            &[12],
        )));
        assert_eq!(h.positive_spans, vec![(5, 4), (3, 2)]);
        assert_eq!(h.positive_deltas, vec![3, -3, 0, 1, 3, 0]);
        assert!(h.negative_spans.is_empty() && h.negative_deltas.is_empty());

        // client_golang's "factor 4 results in schema -1": a first span at a negative index,
        // a negative schema.
        let positive = words(&[(-2, 2), (-1, 2), (0, 2), (1, 4), (2, 3), (3, 1)]);
        let mut value = native(0, &positive, &[]);
        value.schema = -1;
        let page = page_with(native_only(value, 63.2581251, &[14]));
        let h = histogram_of(&page);
        assert_eq!(h.schema, Some(-1));
        assert_eq!(h.count, Some(14));
        assert_eq!(h.positive_spans, vec![(-2, 6)]);
        assert_eq!(h.positive_deltas, vec![2, 0, 0, 2, -1, -2]);
        let bytes = histogram_bytes(&page);
        assert!(
            bytes.windows(2).any(|w| w == [0x28, 1]),
            "schema -1 as zigzag 1"
        );
        assert!(
            bytes.ends_with(&[0x62, 4, 0x08, 3, 0x10, 6, 0x6a, 6, 4, 0, 0, 4, 1, 3]),
            "{bytes:x?}"
        );
    }

    #[test]
    fn negative_buckets_have_spans_and_deltas_of_their_own() {
        // The deltas start again from 0 for each sign; offsets and counts of several bytes.
        let negative = words(&[(-5, 3), (-4, 1), (10, 2), (1000, 300)]);
        let positive = words(&[(-1, 7)]);
        let value = native(2, &positive, &negative);
        assert_eq!(value.count, 315);
        let page = page_with(native_only(value, -12.5, &[315]));
        assert_eq!(
            histogram_of(&page),
            Histogram {
                count: Some(315),
                sum: Some(-12.5),
                schema: Some(3),
                zero_threshold: Some(2f64.powi(-128)),
                zero_count: Some(2),
                negative_spans: vec![(-5, 2), (13, 1), (989, 1)],
                negative_deltas: vec![3, -2, 1, 298],
                positive_spans: vec![(-1, 1)],
                positive_deltas: vec![7],
                ..Histogram::default()
            }
        );
        let bytes = histogram_bytes(&page);
        let tail = [
            &[0x4a, 4, 0x08, 9, 0x10, 2][..],      // negative_span {-5, 2}
            &[0x4a, 4, 0x08, 26, 0x10, 1],         // negative_span {13, 1}
            &[0x4a, 5, 0x08, 0xba, 0x0f, 0x10, 1], // negative_span {989, 1}
            &[0x52, 5, 6, 3, 2, 0xd4, 0x04],       // negative_delta 3, -2, 1, 298
            &[0x62, 4, 0x08, 1, 0x10, 1],          // positive_span {-1, 1}
            &[0x6a, 1, 14],                        // positive_delta 7
        ]
        .concat();
        assert!(bytes.ends_with(&tail), "{bytes:x?}");
    }

    #[test]
    fn an_empty_native_histogram_with_a_zero_threshold_of_0_gets_a_span_of_length_0() {
        let mut value = native(0, &[], &[]);
        value.zero_threshold = 0.0;
        let page = page_with(native_only(value, 0.0, &[0]));
        assert_eq!(
            histogram_of(&page),
            Histogram {
                count: Some(0),
                sum: Some(0.0),
                schema: Some(3),
                zero_threshold: Some(0.0),
                zero_count: Some(0),
                positive_spans: vec![(0, 0)],
                ..Histogram::default()
            }
        );
        let expected = [
            &[0x08, 0][..],
            &double_bytes(0x11, 0.0),
            &[0x28, 6],
            &double_bytes(0x31, 0.0),
            &[0x38, 0],
            &[0x62, 4, 0x08, 0, 0x10, 0],
        ]
        .concat();
        assert_eq!(histogram_bytes(&page), expected);

        // Not without a zero threshold of 0, nor with anything observed.
        let empty = native(0, &[], &[]);
        let h = histogram_of(&page_with(native_only(empty, 0.0, &[0])));
        assert_eq!(h.zero_threshold, Some(2f64.powi(-128)));
        assert!(h.positive_spans.is_empty() && h.negative_spans.is_empty());
        let mut zeros = native(3, &[], &[]);
        zeros.zero_threshold = 0.0;
        let h = histogram_of(&page_with(native_only(zeros, 0.0, &[3])));
        assert_eq!((h.count, h.zero_count), (Some(3), Some(3)));
        assert!(h.positive_spans.is_empty() && h.negative_spans.is_empty());
        let negative = words(&[(2, 1)]);
        let mut negatives = native(0, &[], &negative);
        negatives.zero_threshold = 0.0;
        let h = histogram_of(&page_with(native_only(negatives, -1.0, &[1])));
        assert_eq!(h.negative_spans, vec![(2, 1)]);
        assert!(h.positive_spans.is_empty() && h.positive_deltas.is_empty());
    }

    #[test]
    fn a_hybrid_histogram_has_classic_buckets_and_the_native_count() {
        // One NaN observed: in the classic `+Inf` bucket and the native count, in no bucket.
        let positive = words(&[(0, 1), (8, 2)]);
        let mut value = native(1, &positive, &[]);
        value.count += 1;
        let hybrid = HistogramValue {
            bounds: &[1.0, 2.0, f64::INFINITY],
            cumulative: &[2, 3, 4, 5],
            sum: Some(f64::NAN),
            count: 5,
            native: Some(value),
        };
        let page = page_with(hybrid);
        let h = histogram_of(&page);
        assert_eq!(h.count, Some(5));
        assert!(h.sum.unwrap().is_nan());
        assert_eq!(h.buckets, vec![(2, 1.0), (3, 2.0)]);
        assert_eq!(h.schema, Some(3));
        assert_eq!(h.zero_count, Some(1));
        assert_eq!(h.positive_spans, vec![(0, 1), (7, 1)]);
        assert_eq!(h.positive_deltas, vec![1, 1]);

        // The count written is the native one, whatever the classic count says.
        let value = native(1, &positive, &[]);
        let page = page_with(HistogramValue {
            bounds: &[1.0],
            cumulative: &[2, 9],
            sum: Some(3.0),
            count: 9,
            native: Some(value),
        });
        let bytes = histogram_bytes(&page);
        let classic = [
            &[0x08, 4][..],
            &double_bytes(0x11, 3.0),
            &[0x1a, 11, 0x08, 2],
            &double_bytes(0x11, 1.0),
        ]
        .concat();
        assert!(bytes.starts_with(&classic), "{bytes:x?}");
        assert_eq!(bytes[classic.len()], 0x28, "the native fields follow");
    }

    #[test]
    fn a_registry_s_native_histograms_count_nan_observations_in_no_bucket() {
        let registry = Registry::new();
        let native = crate::NativeHistogram::new(1.1);
        let opts = Opts::new("ttft_seconds", "TTFT").with_native(native);
        let ttft = registry.histogram(&opts, Some(&[])).unwrap();
        for v in [0.0, 1.0, 2.0, 3.0, f64::NAN] {
            ttft.observe(v);
        }
        let opts = Opts::new("itl_seconds", "ITL").with_native(native);
        let itl = registry.histogram(&opts, Some(&[0.5, 2.0])).unwrap();
        for v in [-2.0, 0.25, 1.0, 1.0, 4.0] {
            itl.observe(v);
        }
        let families = decode(&page_of(&registry));
        let names: Vec<_> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["itl_seconds", "ttft_seconds"]);

        let hybrid = families[0].metrics[0].histogram.as_ref().unwrap();
        assert_eq!(hybrid.count, Some(5));
        assert_eq!(hybrid.sum, Some(4.25));
        assert_eq!(hybrid.buckets, vec![(2, 0.5), (4, 2.0)]);
        assert_eq!((hybrid.schema, hybrid.zero_count), (Some(3), Some(0)));
        // -2 in bucket 8; 0.25 in -16, 1 (twice) in 0, 4 in 16.
        assert_eq!(hybrid.negative_spans, vec![(8, 1)]);
        assert_eq!(hybrid.negative_deltas, vec![1]);
        assert_eq!(hybrid.positive_spans, vec![(-16, 1), (15, 1), (15, 1)]);
        assert_eq!(hybrid.positive_deltas, vec![1, 1, -1]);

        let ttft = families[1].metrics[0].histogram.as_ref().unwrap();
        assert_eq!(ttft.count, Some(5), "the NaN observation counts");
        assert!(ttft.sum.unwrap().is_nan());
        assert!(ttft.buckets.is_empty());
        assert_eq!(ttft.schema, Some(3));
        assert_eq!(ttft.zero_threshold, Some(2f64.powi(-128)));
        assert_eq!(ttft.zero_count, Some(1));
        assert_eq!(ttft.positive_spans, vec![(0, 1), (7, 1), (4, 1)]);
        assert_eq!(ttft.positive_deltas, vec![1, 0, 0]);
        assert!(ttft.negative_spans.is_empty() && ttft.negative_deltas.is_empty());
    }

    #[test]
    fn spans_and_deltas_give_back_every_populated_bucket() {
        // A fixed pseudo-random walk of indexes and counts, decoded back.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut buckets = Vec::new();
            let mut index = i32::try_from(next() % 40).unwrap() - 20;
            for _ in 0..next() % 12 {
                buckets.push((index, 1 + next() % 1000));
                index += 1 + i32::try_from(next() % 6).unwrap();
            }
            let positive = words(&buckets);
            let value = native(0, &positive, &positive);
            let h = histogram_of(&page_with(native_only(value, 0.0, &[value.count])));
            for (spans, deltas) in [
                (&h.positive_spans, &h.positive_deltas),
                (&h.negative_spans, &h.negative_deltas),
            ] {
                let mut decoded = Vec::new();
                let (mut at, mut count, mut deltas) = (0i32, 0i64, deltas.iter());
                for (n, &(offset, length)) in spans.iter().enumerate() {
                    assert!(length > 0, "{buckets:?}");
                    assert!(n == 0 || offset > 2, "{buckets:?}: {spans:?}");
                    at += offset;
                    for _ in 0..length {
                        count += deltas.next().expect("a delta per bucket");
                        if count != 0 {
                            decoded.push((at, u64::try_from(count).unwrap()));
                        }
                        at += 1;
                    }
                }
                assert_eq!(deltas.next(), None);
                assert_eq!(decoded, buckets);
            }
        }
    }

    #[test]
    fn the_format_names_its_content_type() {
        assert_eq!(Format::Protobuf.content_type(), CONTENT_TYPE);
        assert_eq!(
            ProtobufEncoder::new(&mut Vec::new()).content_type(),
            CONTENT_TYPE
        );
    }
}
