//! Exemplars on counters and histogram buckets: whole OpenMetrics pages, the protobuf page
//! decoded, the Prometheus text page without them, and refused exemplars changing nothing.
//!
//! Exemplars take the wall clock's time: pages are compared with each exemplar's timestamp,
//! once checked to fall within the test, written `T`.

use std::time::{SystemTime, UNIX_EPOCH};

use dynamo_exporter::exposition::Format;
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_exporter::{Exemplar, ExporterError, NativeHistogram, Opts, Registry};

/// The registry's page in `format`; an OpenMetrics page once prometheus_client's parser has
/// read it.
fn page(registry: &Registry, format: Format) -> String {
    let page = String::from_utf8(format.render(|encoder| {
        registry.encode(&[], encoder);
    }))
    .unwrap();
    if format == Format::OpenMetrics {
        assert_openmetrics_parses(&without_escaped_quotes_in_exemplars(&page));
    }
    page
}

/// `page` with each escaped `"` of its exemplars written `'`: prometheus_client's parser
/// refuses an exemplar whose label value holds one (`Invalid line`), though OpenMetrics
/// escapes `"` in exemplars' label values as in samples', where the parser reads it.
fn without_escaped_quotes_in_exemplars(page: &str) -> String {
    let mut out = String::new();
    for line in page.lines() {
        match line.split_once(" # {") {
            Some((sample, exemplar)) => {
                out.push_str(sample);
                out.push_str(" # {");
                let mut chars = exemplar.chars();
                while let Some(c) = chars.next() {
                    if c != '\\' {
                        out.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('"') => out.push('\''),
                        escaped => {
                            out.push('\\');
                            out.extend(escaped);
                        }
                    }
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An OpenMetrics page with each exemplar's timestamp, checked to lie in `since..=now`, as `T`.
fn timestamps_as_t(page: &str, since_ms: i64) -> String {
    let until_ms = now_ms();
    let mut out = String::new();
    for line in page.lines() {
        match line
            .contains(" # {")
            .then(|| line.rsplit_once(' '))
            .flatten()
        {
            Some((rest, seconds)) => {
                let ms = (seconds.parse::<f64>().unwrap() * 1000.0).round() as i64;
                assert!((since_ms..=until_ms).contains(&ms), "{line}");
                out.push_str(rest);
                out.push_str(" T");
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The time, in milliseconds, of exemplars recorded from `since_ms` to now: checked, then
/// `T_MS`.
fn checked_ms(ms: i64, since_ms: i64) -> i64 {
    assert!((since_ms..=now_ms()).contains(&ms), "{ms}");
    T_MS
}

/// What [`checked_ms`] gives.
const T_MS: i64 = -1;

fn exemplar(labels: &[(&str, &str)]) -> Exemplar {
    Exemplar::new(labels).unwrap()
}

#[test]
fn counters_and_buckets_carry_their_latest_exemplar_in_openmetrics() {
    let since = now_ms();
    let registry = Registry::new();
    let requests = registry
        .int_counter(&Opts::new("requests_total", "Requests"))
        .unwrap();
    requests.inc_by_with_exemplar(5, &exemplar(&[("trace_id", "old")]));
    requests.inc_by_with_exemplar(2, &exemplar(&[("trace_id", "abc"), ("span_id", "01")]));
    requests.inc();
    let bytes = registry
        .counter_vec(&Opts::new("bytes_total", "Bytes"), &["method"])
        .unwrap();
    bytes
        .with_label_values(&["get"])
        .inc_by_with_exemplar(1.5, &exemplar(&[("user", "a\"b\\c\nd")]));
    bytes.with_label_values(&["put"]).inc_by(3.0);
    let latency = registry
        .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[0.5, 1.0]))
        .unwrap();
    latency.observe_with_exemplar(0.25, &exemplar(&[("trace_id", "a")]));
    latency.observe(0.75);
    latency.observe_with_exemplar(4.0, &exemplar(&[("trace_id", "b")]));
    assert_eq!(
        timestamps_as_t(&page(&registry, Format::OpenMetrics), since),
        "# HELP bytes Bytes\n\
         # TYPE bytes counter\n\
         bytes_total{method=\"get\"} 1.5 # {user=\"a\\\"b\\\\c\\nd\"} 1.5 T\n\
         bytes_total{method=\"put\"} 3.0\n\
         # HELP latency_seconds Latency\n\
         # TYPE latency_seconds histogram\n\
         latency_seconds_bucket{le=\"0.5\"} 1 # {trace_id=\"a\"} 0.25 T\n\
         latency_seconds_bucket{le=\"1.0\"} 2\n\
         latency_seconds_bucket{le=\"+Inf\"} 3 # {trace_id=\"b\"} 4.0 T\n\
         latency_seconds_sum 5.0\n\
         latency_seconds_count 3\n\
         # HELP requests Requests\n\
         # TYPE requests counter\n\
         requests_total 8 # {span_id=\"01\",trace_id=\"abc\"} 2.0 T\n\
         # EOF\n"
    );
    // Never in the Prometheus text format.
    assert_eq!(
        page(&registry, Format::Text),
        "# HELP bytes_total Bytes\n\
         # TYPE bytes_total counter\n\
         bytes_total{method=\"get\"} 1.5\n\
         bytes_total{method=\"put\"} 3\n\
         # HELP latency_seconds Latency\n\
         # TYPE latency_seconds histogram\n\
         latency_seconds_bucket{le=\"0.5\"} 1\n\
         latency_seconds_bucket{le=\"1\"} 2\n\
         latency_seconds_bucket{le=\"+Inf\"} 3\n\
         latency_seconds_sum 5\n\
         latency_seconds_count 3\n\
         # HELP requests_total Requests\n\
         # TYPE requests_total counter\n\
         requests_total 8\n"
    );
}

#[test]
fn a_refused_exemplar_changes_nothing() {
    let registry = Registry::new();
    let counter = registry.int_counter(&Opts::new("c_total", "C")).unwrap();
    counter.inc();
    let before = page(&registry, Format::OpenMetrics);
    let name = "trace_id";
    let long = "x".repeat(129 - name.len());
    let too_long = Exemplar::new(&[(name, long.as_str())]).unwrap_err();
    assert_eq!(
        too_long.to_string(),
        format!(
            "invalid exemplar \"trace_id={long}\": its labels have 129 characters, more \
             than the 128 allowed"
        )
    );
    let fits = "x".repeat(128 - name.len());
    assert!(Exemplar::new(&[(name, fits.as_str())]).is_ok());
    assert_eq!(
        Exemplar::new(&[("trace-id", "x")]),
        Err(ExporterError::InvalidExemplar {
            reason: "label name \"trace-id\": only ASCII letters, digits and '_' are allowed"
                .into(),
            value: "trace-id".into(),
        })
    );
    assert_eq!(counter.get(), 1);
    assert_eq!(page(&registry, Format::OpenMetrics), before);
}

#[test]
fn a_removed_series_leaves_no_exemplar_to_the_next() {
    let registry = Registry::new();
    let vec = registry
        .int_counter_vec(&Opts::new("r_total", "R"), &["k"])
        .unwrap();
    vec.with_label_values(&["a"])
        .inc_by_with_exemplar(1, &exemplar(&[("trace_id", "gone")]));
    vec.remove_label_values(&["a"]).unwrap();
    vec.with_label_values(&["a"]).inc();
    let page = page(&registry, Format::OpenMetrics);
    assert!(!page.contains("gone"), "{page}");
    assert!(page.contains("r_total{k=\"a\"} 1\n"), "{page}");
}

/// A protobuf message's fields: number and value (a varint or fixed64, or bytes).
fn fields(mut bytes: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    fn varint(bytes: &mut &[u8]) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[0];
            *bytes = &bytes[1..];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes);
        let value = match key & 7 {
            0 => Ok(varint(&mut bytes)),
            1 => {
                let (fixed, rest) = bytes.split_at(8);
                bytes = rest;
                Ok(u64::from_le_bytes(fixed.try_into().unwrap()))
            }
            _ => {
                let len = varint(&mut bytes) as usize;
                let (inner, rest) = bytes.split_at(len);
                bytes = rest;
                Err(inner)
            }
        };
        out.push((key >> 3, value));
    }
    out
}

/// The `Exemplar` message: its labels, value and timestamp in milliseconds (checked to be
/// from `since_ms` on, then [`T_MS`]).
fn decoded_exemplar(message: &[u8], since_ms: i64) -> (Vec<(String, String)>, f64, i64) {
    let mut labels = Vec::new();
    let (mut value, mut ms) = (f64::NAN, 0);
    for (field, v) in fields(message) {
        match (field, v) {
            (1, Err(pair)) => {
                let pair = fields(pair);
                let text = |i: usize| String::from_utf8(pair[i].1.unwrap_err().to_vec()).unwrap();
                labels.push((text(0), text(1)));
            }
            (2, Ok(bits)) => value = f64::from_bits(bits),
            (3, Err(timestamp)) => {
                for (field, n) in fields(timestamp) {
                    let n = n.unwrap() as i64;
                    ms += if field == 1 { n * 1000 } else { n / 1_000_000 };
                }
            }
            other => panic!("Exemplar field {other:?}"),
        }
    }
    (labels, value, checked_ms(ms, since_ms))
}

/// The one metric of the one family of a protobuf page.
fn only_metric(body: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    let family = fields(&body[1..]);
    let metric = family.iter().find(|(f, _)| *f == 4).unwrap().1.unwrap_err();
    fields(metric)
}

#[test]
fn protobuf_carries_counter_bucket_and_native_exemplars() {
    let since = now_ms();
    let labels = |v: &str| vec![("trace_id".to_string(), v.to_string())];

    let registry = Registry::new();
    let counter = registry.counter(&Opts::new("c_total", "C")).unwrap();
    counter.inc_by_with_exemplar(0.5, &exemplar(&[("trace_id", "c")]));
    let body = Format::Protobuf.render(|e| {
        registry.encode(&[], e);
    });
    let metric = only_metric(&body);
    let counter_message = metric.iter().find(|(f, _)| *f == 3).unwrap().1.unwrap_err();
    let counter_fields = fields(counter_message);
    assert_eq!(counter_fields[0], (1, Ok(0.5f64.to_bits())));
    assert_eq!(counter_fields[1].0, 2, "Counter.exemplar");
    assert_eq!(
        decoded_exemplar(counter_fields[1].1.unwrap_err(), since),
        (labels("c"), 0.5, T_MS)
    );

    let registry = Registry::new();
    let h = registry
        .histogram(&Opts::new("h", "H"), Some(&[1.0, 2.0]))
        .unwrap();
    h.observe_with_exemplar(1.5, &exemplar(&[("trace_id", "mid")]));
    h.observe_with_exemplar(9.0, &exemplar(&[("trace_id", "inf")]));
    let body = Format::Protobuf.render(|e| {
        registry.encode(&[], e);
    });
    let metric = only_metric(&body);
    let histogram = fields(metric.iter().find(|(f, _)| *f == 7).unwrap().1.unwrap_err());
    let buckets: Vec<_> = histogram
        .iter()
        .filter(|(f, _)| *f == 3)
        .map(|(_, b)| {
            let bucket = fields(b.unwrap_err());
            let bound = f64::from_bits(bucket[1].1.unwrap());
            let exemplar = bucket.get(2).map(|(f, e)| {
                assert_eq!(*f, 3, "Bucket.exemplar");
                decoded_exemplar(e.unwrap_err(), since)
            });
            (bucket[0].1.unwrap(), bound, exemplar)
        })
        .collect();
    assert_eq!(
        buckets,
        [
            (0, 1.0, None),
            (1, 2.0, Some((labels("mid"), 1.5, T_MS))),
            (2, f64::INFINITY, Some((labels("inf"), 9.0, T_MS))),
        ]
    );

    let registry = Registry::new();
    let opts = Opts::new("n", "N").with_native(NativeHistogram::new(1.1));
    let native = registry.histogram(&opts, Some(&[])).unwrap();
    native.observe_with_exemplar(3.0, &exemplar(&[("trace_id", "first")]));
    native.observe_with_exemplar(0.1, &exemplar(&[("trace_id", "latest")]));
    let body = Format::Protobuf.render(|e| {
        registry.encode(&[], e);
    });
    let metric = only_metric(&body);
    let histogram = fields(metric.iter().find(|(f, _)| *f == 7).unwrap().1.unwrap_err());
    let exemplars: Vec<_> = histogram
        .iter()
        .filter(|(f, _)| *f == 16)
        .map(|(_, e)| decoded_exemplar(e.unwrap_err(), since))
        .collect();
    assert_eq!(exemplars, [(labels("latest"), 0.1, T_MS)]);
    assert!(histogram.iter().all(|(f, _)| *f != 3), "no classic bucket");
}
