//! Native histograms over OTLP: exponential histograms with the native buckets, over HTTP and
//! gRPC, cumulative or as changes that add up to the same buckets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common;
use crate::common::otlp::{self, AggregationTemporality, Data, Received};
use dynamo_runtime::{DistributedRuntime, NativeHistogram, OtlpConfig, Protocol, Temporality};

const NAME: &str = "dynamo_component_x";

/// What the exports of one native histogram series added up to.
#[derive(Debug, Default, PartialEq)]
struct Total {
    scale: i32,
    count: u64,
    zero_count: u64,
    sum: f64,
    /// Positive buckets by OTLP index.
    positive: BTreeMap<i32, u64>,
    /// Negative buckets by OTLP index.
    negative: BTreeMap<i32, u64>,
}

/// The exponential point of the histogram in an export, with its temporality and start.
fn point_in(export: &Received) -> Option<(i32, u64, Total)> {
    let metric = otlp::metrics_of(&export.request).find(|m| m.name == NAME)?;
    let Some(Data::ExponentialHistogram(h)) = &metric.data else {
        panic!("{NAME} is an exponential histogram: {:?}", metric.data);
    };
    assert_eq!(h.data_points.len(), 1, "one series");
    let p = &h.data_points[0];
    assert_eq!(
        otlp::attributes(&p.attributes),
        [("dynamo_namespace".to_string(), "ns".to_string())]
    );
    let side = |buckets: Option<(i32, &[u64])>| {
        let (offset, counts) = buckets.expect("both sides are sent");
        let mut out = BTreeMap::new();
        for (i, count) in counts.iter().enumerate() {
            if *count > 0 {
                out.insert(offset + i as i32, *count);
            }
        }
        out
    };
    let total = Total {
        scale: p.scale,
        count: p.count,
        zero_count: p.zero_count,
        sum: p.sum.expect("a sum"),
        positive: side(
            p.positive
                .as_ref()
                .map(|b| (b.offset, &b.bucket_counts[..])),
        ),
        negative: side(
            p.negative
                .as_ref()
                .map(|b| (b.offset, &b.bucket_counts[..])),
        ),
    };
    Some((h.aggregation_temporality, p.start_time_unix_nano, total))
}

/// The runtime exporting to `endpoint`, its histogram observed with 0, 1, 2 and 3.
fn observe(protocol: Protocol, endpoint: String, temporality: Temporality) -> DistributedRuntime {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .otlp(
            OtlpConfig::new()
                .with_protocol(protocol)
                .with_endpoint(endpoint)
                .with_interval(Duration::from_millis(30))
                .with_temporality(temporality),
        )
        .build()
        .unwrap();
    let histogram = runtime
        .namespace("ns")
        .metrics()
        .with_native_histograms(NativeHistogram::new(1.1))
        .create_histogram("x", "help", &[], Some(vec![]))
        .unwrap();
    for v in [0.0, 1.0, 2.0, 3.0] {
        histogram.observe(v);
    }
    runtime
}

/// What the exports added up to: the last cumulative point, or the changes added together.
fn added_up(exports: &[Received], temporality: Temporality) -> Total {
    let mut total = Total::default();
    let mut previous_time = None;
    for export in exports {
        let Some((aggregation, start, point)) = point_in(export) else {
            continue;
        };
        match temporality {
            Temporality::Cumulative => {
                assert_eq!(aggregation, AggregationTemporality::Cumulative as i32);
                total = point;
            }
            _ => {
                assert_eq!(aggregation, AggregationTemporality::Delta as i32);
                if let Some(previous) = previous_time {
                    assert_eq!(start, previous, "a change starts where the last ended");
                }
                previous_time = Some(export.time());
                total.scale = point.scale;
                total.count += point.count;
                total.zero_count += point.zero_count;
                total.sum += point.sum;
                for (k, c) in point.positive {
                    *total.positive.entry(k).or_default() += c;
                }
                for (k, c) in point.negative {
                    *total.negative.entry(k).or_default() += c;
                }
            }
        }
    }
    total
}

/// What the exports added up to once they held every observation (or more), waiting for
/// each next export until then.
fn wait_for_all(received: impl Fn(usize) -> Vec<Received>, temporality: Temporality) -> Total {
    let mut seen = 0;
    loop {
        let exports = received(seen + 1);
        let total = added_up(&exports, temporality);
        if total.count >= 4 {
            return total;
        }
        assert!(
            exports.len() < 500,
            "every observation is exported: {total:?}"
        );
        seen = exports.len();
    }
}

/// 0 in the zero bucket; 1, 2 and 3 at schema 3 in Prometheus buckets 0, 8 and 13, which
/// are OTLP buckets -1, 7 and 12.
fn expected() -> Total {
    Total {
        scale: 3,
        count: 4,
        zero_count: 1,
        sum: 6.0,
        positive: [(-1, 1), (7, 1), (12, 1)].into(),
        negative: BTreeMap::new(),
    }
}

#[test]
fn a_native_histogram_is_an_exponential_histogram_over_http_both_ways() {
    let _beside = common::beside_others();
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let receiver = otlp::Receiver::accepting();
        let runtime = observe(Protocol::HttpProtobuf, receiver.endpoint(), temporality);
        let total = wait_for_all(|n| receiver.wait_for_count(n), temporality);
        runtime.shutdown();
        assert_eq!(total, expected(), "{temporality:?}");
    }
}

#[cfg(feature = "otlp-grpc")]
#[test]
fn a_native_histogram_is_an_exponential_histogram_over_grpc_both_ways() {
    let _beside = common::beside_others();
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let receiver = otlp::GrpcReceiver::accepting();
        let runtime = observe(Protocol::Grpc, receiver.endpoint(), temporality);
        let total = wait_for_all(|n| receiver.wait_for_count(n), temporality);
        runtime.shutdown();
        assert_eq!(total, expected(), "{temporality:?}");
    }
}
