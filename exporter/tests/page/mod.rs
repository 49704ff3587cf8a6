//! A page as a set of samples, read from the text format or from delimited protobuf
//! `MetricFamily` messages, so the two formats' pages compare with `assert_eq!`.

use std::collections::BTreeMap;

use dynamo_exporter::MetricKind;
use dynamo_exporter::parse::parse;

/// One sample as a page shows it: family, sample name, labels but `le` and `quantile` (sorted),
/// and the bound or quantile those name.
pub type SampleKey = (String, String, Vec<(String, String)>, Option<u64>);

/// A page's families (name to type) and samples.
#[derive(Debug, PartialEq)]
pub struct Page {
    /// Each family's name and type.
    pub families: BTreeMap<String, MetricKind>,
    /// Each sample's value.
    pub samples: BTreeMap<SampleKey, f64>,
}

/// The page a text body shows.
pub fn from_text(text: &str) -> Page {
    let mut page = Page {
        families: BTreeMap::new(),
        samples: BTreeMap::new(),
    };
    for family in parse(text).unwrap() {
        page.families.insert(family.name.clone(), family.kind);
        for sample in family.samples {
            let mut labels = Vec::new();
            let mut bound = None;
            for (name, value) in sample.labels {
                let special = match family.kind {
                    MetricKind::Histogram => name == "le",
                    MetricKind::Summary => name == "quantile",
                    _ => false,
                };
                if special {
                    bound = Some(value.parse::<f64>().unwrap().to_bits());
                } else {
                    labels.push((name, value));
                }
            }
            labels.sort();
            let key = (family.name.clone(), sample.name, labels, bound);
            page.samples.insert(key, sample.value);
        }
    }
    page
}

/// Reads a varint off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = bytes.split_first().unwrap();
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("a varint of more than ten bytes");
}

/// A field's value: a varint or the bits of a fixed64 as a number, or bytes.
enum Field<'a> {
    Number(u64),
    Bytes(&'a [u8]),
}

/// The fields of one message, in order.
fn fields(mut bytes: &[u8]) -> Vec<(u64, Field<'_>)> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let value = match key & 7 {
            0 => Field::Number(varint(&mut bytes)),
            1 => {
                let (fixed, rest) = bytes.split_at(8);
                bytes = rest;
                Field::Number(u64::from_le_bytes(fixed.try_into().unwrap()))
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)).unwrap();
                let (inner, rest) = bytes.split_at(len);
                bytes = rest;
                Field::Bytes(inner)
            }
            other => panic!("wire type {other}"),
        };
        fields.push((key >> 3, value));
    }
    fields
}

/// The value of a varint or fixed64 field.
fn number(field: &Field<'_>) -> u64 {
    match field {
        Field::Number(n) => *n,
        Field::Bytes(_) => panic!("bytes where a number belongs"),
    }
}

/// The bytes of a length-delimited field.
fn bytes<'a>(field: &Field<'a>) -> &'a [u8] {
    match field {
        Field::Bytes(b) => b,
        Field::Number(_) => panic!("a number where bytes belong"),
    }
}

/// A length-delimited field as UTF-8.
fn string(field: &Field<'_>) -> String {
    String::from_utf8(bytes(field).to_vec()).unwrap()
}

/// The page a body of delimited `MetricFamily` messages shows, written out as the text
/// format would write it (`_bucket`, `_sum`, `_count`, the `+Inf` bucket from the count).
pub fn from_protobuf(mut body: &[u8]) -> Page {
    let mut page = Page {
        families: BTreeMap::new(),
        samples: BTreeMap::new(),
    };
    while !body.is_empty() {
        let len = usize::try_from(varint(&mut body)).unwrap();
        let (message, rest) = body.split_at(len);
        body = rest;
        let mut name = String::new();
        let mut kind = None;
        let mut metrics = Vec::new();
        for (number_of, value) in fields(message) {
            match number_of {
                1 => name = string(&value),
                2 => {}
                3 => {
                    kind = Some(match number(&value) {
                        0 => MetricKind::Counter,
                        1 => MetricKind::Gauge,
                        2 => MetricKind::Summary,
                        3 => MetricKind::Untyped,
                        4 => MetricKind::Histogram,
                        other => panic!("type {other}"),
                    });
                }
                4 => metrics.push(bytes(&value)),
                other => panic!("MetricFamily field {other}"),
            }
        }
        page.families.insert(name.clone(), kind.unwrap());
        for metric in metrics {
            let mut labels = Vec::new();
            let mut samples = Vec::new();
            for (field, value) in fields(metric) {
                match field {
                    1 => {
                        let pair = fields(bytes(&value));
                        labels.push((string(&pair[0].1), string(&pair[1].1)));
                    }
                    2 | 3 | 5 => {
                        let value = fields(bytes(&value));
                        samples.push((String::new(), None, f64::from_bits(number(&value[0].1))));
                    }
                    4 | 7 => {
                        let mut count = None;
                        for (field_of, v) in fields(bytes(&value)) {
                            match (field_of, field) {
                                (1, _) => count = Some(number(&v) as f64),
                                (2, _) => {
                                    samples.push(("_sum".into(), None, f64::from_bits(number(&v))))
                                }
                                (3, 7) => {
                                    let bucket = fields(bytes(&v));
                                    let bound = f64::from_bits(number(&bucket[1].1));
                                    let cumulative = number(&bucket[0].1) as f64;
                                    samples.push(("_bucket".into(), Some(bound), cumulative));
                                }
                                (3, _) => {
                                    let quantile = fields(bytes(&v));
                                    let q = f64::from_bits(number(&quantile[0].1));
                                    samples.push((
                                        String::new(),
                                        Some(q),
                                        f64::from_bits(number(&quantile[1].1)),
                                    ));
                                }
                                other => panic!("field {other:?}"),
                            }
                        }
                        let count = count.unwrap();
                        if field == 7 {
                            samples.push(("_bucket".into(), Some(f64::INFINITY), count));
                        }
                        samples.push(("_count".into(), None, count));
                    }
                    other => panic!("Metric field {other}"),
                }
            }
            labels.sort();
            for (suffix, bound, value) in samples {
                let key = (
                    name.clone(),
                    format!("{name}{suffix}"),
                    labels.clone(),
                    bound.map(f64::to_bits),
                );
                page.samples.insert(key, value);
            }
        }
    }
    page
}
