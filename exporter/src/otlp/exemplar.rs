//! Exemplars as OTLP writes them: a `trace_id` or `span_id` label in hex becomes the
//! exemplar's trace or span id bytes, every other label a filtered attribute.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, exemplar};

use crate::kinds::RecordedExemplar;

/// Bytes of a trace id.
const TRACE_ID_BYTES: usize = 16;
/// Bytes of a span id.
const SPAN_ID_BYTES: usize = 8;

/// The OTLP exemplars of a series; `int` for an integer counter's, whose whole values are
/// written as integers.
pub(super) fn exemplars(recorded: &[RecordedExemplar], int: bool) -> Vec<Exemplar> {
    recorded.iter().map(|e| one(e, int)).collect()
}

fn one(recorded: &RecordedExemplar, int: bool) -> Exemplar {
    let mut out = Exemplar {
        time_unix_nano: u64::try_from(recorded.timestamp_ms).unwrap_or(0) * 1_000_000,
        value: Some(value(recorded.value, int)),
        ..Default::default()
    };
    for (name, text) in recorded.exemplar.labels() {
        let id = match name {
            "trace_id" => hex(text, TRACE_ID_BYTES).map(|bytes| out.trace_id = bytes),
            "span_id" => hex(text, SPAN_ID_BYTES).map(|bytes| out.span_id = bytes),
            _ => None,
        };
        if id.is_none() {
            out.filtered_attributes.push(KeyValue {
                key: name.to_string(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(text.to_string())),
                }),
                ..Default::default()
            });
        }
    }
    out
}

fn value(v: f64, int: bool) -> exemplar::Value {
    // Below 2^63 and whole: exact as an i64.
    if int && (0.0..9.223_372_036_854_776e18).contains(&v) && v.fract() == 0.0 {
        exemplar::Value::AsInt(v as i64)
    } else {
        exemplar::Value::AsDouble(v)
    }
}

/// The bytes of `text` when it is `len` bytes in hex (either case), not all zero (an invalid
/// id for OpenTelemetry).
fn hex(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != len * 2 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..len)
        .map(|i| u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect();
    bytes.filter(|b| b.iter().any(|x| *x != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Exemplar as Labels;

    fn recorded(labels: &[(&str, &str)], value: f64) -> RecordedExemplar {
        RecordedExemplar {
            bucket: 0,
            exemplar: Labels::new(labels).unwrap(),
            value,
            timestamp_ms: 1_700_000_000_123,
        }
    }

    #[test]
    fn hex_ids_become_bytes_and_other_labels_attributes() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let e = one(
            &recorded(
                &[
                    ("trace_id", trace),
                    ("span_id", "00f067aa0ba902b7"),
                    ("user", "u1"),
                ],
                2.0,
            ),
            true,
        );
        assert_eq!(e.trace_id.len(), 16);
        assert_eq!(e.trace_id[0], 0x4b);
        assert_eq!(e.span_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        assert_eq!(e.time_unix_nano, 1_700_000_000_123_000_000);
        assert_eq!(e.value, Some(exemplar::Value::AsInt(2)));
        let keys: Vec<_> = e
            .filtered_attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(keys, ["user"]);
    }

    #[test]
    fn ids_not_in_hex_stay_attributes_and_floats_stay_floats() {
        let e = one(&recorded(&[("trace_id", "abc")], 0.25), false);
        assert!(e.trace_id.is_empty());
        assert_eq!(e.filtered_attributes.len(), 1);
        assert_eq!(e.value, Some(exemplar::Value::AsDouble(0.25)));
        let zero = "0".repeat(32);
        assert!(
            one(&recorded(&[("trace_id", &zero)], 1.0), true)
                .trace_id
                .is_empty()
        );
        let e = one(&recorded(&[], 3.0), false);
        assert_eq!(e.value, Some(exemplar::Value::AsDouble(3.0)));
    }
}
