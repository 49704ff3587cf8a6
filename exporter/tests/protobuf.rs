//! The protobuf format over HTTP: Prometheus' native-histogram `Accept` header gets delimited
//! `MetricFamily` messages that hold what the text page holds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use dynamo_exporter::parse::parse;
use dynamo_exporter::{
    Health, MetricKind, Opts, PROTOBUF_CONTENT_TYPE, Registry, StatusServer, TEXT_CONTENT_TYPE,
};

/// The header of Prometheus 2.42 with native histograms on.
const PROMETHEUS_NATIVE_HISTOGRAMS: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// One sample as a page shows it: family, sample name, labels but `le` and `quantile` (sorted),
/// and the bound or quantile those name.
type SampleKey = (String, String, Vec<(String, String)>, Option<u64>);

/// A page's families (name to type) and samples.
#[derive(Debug, PartialEq)]
struct Page {
    families: BTreeMap<String, MetricKind>,
    samples: BTreeMap<SampleKey, f64>,
}

/// `GET /metrics` with `headers`; the content type and body of a 200 answer.
fn get_metrics(addr: SocketAddr, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let body = raw[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    assert!(lines.next().unwrap().starts_with("HTTP/1.1 200 "), "{head}");
    let header = |wanted: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
    };
    let length: usize = header("content-length").unwrap().parse().unwrap();
    assert_eq!(body.len(), length);
    (header("content-type").unwrap(), body)
}

/// The page a text body shows.
fn from_text(text: &str) -> Page {
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
fn from_protobuf(mut body: &[u8]) -> Page {
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

#[test]
fn prometheus_with_native_histograms_gets_the_text_page_as_protobuf() {
    let registry = Arc::new(Registry::new());
    registry.set_const_labels(&[("cluster", "eu")]).unwrap();
    let requests = registry
        .int_counter_vec(&Opts::new("requests_total", "Requests"), &["path"])
        .unwrap();
    requests.with_label_values(&["/a"]).inc_by(3);
    requests.with_label_values(&["quote \" new\nline ü"]).inc();
    registry
        .gauge(&Opts::new("temperature", "Degrees"))
        .unwrap()
        .set(21.5);
    let latency = registry
        .histogram_vec(
            &Opts::new("latency_seconds", "Latency"),
            &["op"],
            Some(&[0.1, 0.5, 2.5]),
        )
        .unwrap();
    for v in [0.05, 0.3, 0.3, 7.0] {
        latency.with_label_values(&["read"]).observe(v);
    }
    let scraped = Arc::clone(&registry);
    let server = StatusServer::builder(
        Arc::new(move |encoder| {
            scraped.encode(&[], encoder);
        }),
        Arc::new(|| Health {
            ready: true,
            uptime: Duration::ZERO,
            endpoints: vec![],
        }),
    )
    .start("127.0.0.1:0")
    .unwrap();
    // `start` returns once the listener is bound: a connection queues until it is served.
    let addr = server.local_addr();

    let (content_type, body) = get_metrics(addr, &[("Accept", PROMETHEUS_NATIVE_HISTOGRAMS)]);
    assert_eq!(content_type, PROTOBUF_CONTENT_TYPE);
    assert_eq!(
        content_type,
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    let protobuf = from_protobuf(&body);

    let (content_type, text) = get_metrics(addr, &[]);
    assert_eq!(content_type, TEXT_CONTENT_TYPE);
    let text = from_text(&String::from_utf8(text).unwrap());

    assert_eq!(protobuf, text);
    assert_eq!(
        protobuf.families.keys().collect::<Vec<_>>(),
        ["latency_seconds", "requests_total", "temperature"]
    );
    // Histogram samples: 3 finite buckets and +Inf, sum, count; 2 counters; 1 gauge.
    assert_eq!(protobuf.samples.len(), 6 + 2 + 1);

    for accept in ["*/*", "text/plain;version=0.0.4"] {
        let (content_type, _) = get_metrics(addr, &[("Accept", accept)]);
        assert_eq!(content_type, TEXT_CONTENT_TYPE, "{accept}");
    }
    server.shutdown();
}
