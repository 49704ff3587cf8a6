//! Temporality both ways: cumulative totals from the runtime's start, or changes since the
//! previous export; `lowmemory` keeps counters read from callback text cumulative.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common;
use crate::common::otlp::{AggregationTemporality, Data};
use crate::common::otlp::{Receiver, number_in};
use dynamo_runtime::{DistributedRuntime, OtlpConfig, Protocol, Temporality};

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn runtime(receiver: &Receiver, temporality: Temporality) -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .uptime_clock(|| common::UPTIME)
        .otlp(
            OtlpConfig::new()
                .with_protocol(Protocol::HttpProtobuf)
                .with_endpoint(receiver.endpoint())
                .with_interval(Duration::from_millis(30))
                .with_temporality(temporality),
        )
        .build()
        .unwrap()
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[test]
fn cumulative_totals_start_when_the_runtime_started() {
    let _beside = common::beside_others();
    let before = nanos(SystemTime::now() - common::UPTIME);
    let receiver = Receiver::accepting();
    let runtime = runtime(&receiver, Temporality::Cumulative);
    let after = nanos(SystemTime::now() - common::UPTIME);
    let counter = runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap();
    let gauge = runtime.metrics().create_gauge("load", "Load", &[]).unwrap();
    let mut starts = Vec::new();
    for total in 1..=3u64 {
        counter.inc();
        gauge.set(total as f64 / 2.0);
        let export = receiver.wait_for("with the new total", |r| {
            number_in(&r.request, "dynamo_component_jobs_total", &[]).map(|(v, _, _)| v)
                == Some(total as f64)
        });
        let (_, temporality, start) =
            number_in(&export.request, "dynamo_component_jobs_total", &[]).unwrap();
        assert_eq!(temporality, Some(CUMULATIVE));
        starts.push(start);
        assert!(start < export.time());
        let (load, gauge_temporality, _) =
            number_in(&export.request, "dynamo_component_load", &[]).unwrap();
        assert_eq!((load, gauge_temporality), (total as f64 / 2.0, None));
    }
    assert!(
        starts.iter().all(|s| *s == starts[0]),
        "one start: {starts:?}"
    );
    assert!(
        (before..=after).contains(&starts[0]),
        "the runtime's start: {starts:?}"
    );
    runtime.shutdown();
}

#[test]
fn delta_reports_changes_that_add_up_to_the_total() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = runtime(&receiver, Temporality::Delta);
    let counter = runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap();
    let histogram = runtime
        .metrics()
        .create_histogram("wait_seconds", "Wait", &[], Some(vec![1.0]))
        .unwrap();
    for round in 1..=4u64 {
        counter.inc_by(round);
        histogram.observe(round as f64 / 2.0);
        let seen = receiver.received().len();
        receiver.wait_for_count(seen + 1);
    }
    runtime.shutdown();
    let exports = receiver.received();
    let mut sum = 0.0;
    let mut previous_time = None;
    let (mut observations, mut buckets) = (0, vec![0u64, 0]);
    for export in &exports {
        let Some((change, temporality, start)) =
            number_in(&export.request, "dynamo_component_jobs_total", &[])
        else {
            continue;
        };
        assert_eq!(temporality, Some(DELTA));
        if let Some(previous) = previous_time {
            assert_eq!(
                start, previous,
                "a change starts where the previous one ended"
            );
        }
        previous_time = Some(export.time());
        sum += change;
        let histogram = common::otlp::metrics_of(&export.request)
            .find(|m| m.name == "dynamo_component_wait_seconds")
            .unwrap();
        let Some(Data::Histogram(h)) = &histogram.data else {
            panic!("a histogram")
        };
        assert_eq!(h.aggregation_temporality, DELTA);
        let point = &h.data_points[0];
        observations += point.count;
        for (total, change) in buckets.iter_mut().zip(&point.bucket_counts) {
            *total += change;
        }
    }
    assert_eq!(sum, 10.0, "changes add up to the total");
    assert_eq!((observations, buckets), (4, vec![2, 2]));
}

#[test]
fn lowmemory_keeps_text_counters_cumulative() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = runtime(&receiver, Temporality::LowMemory);
    runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc_by(5);
    runtime
        .metrics()
        .register_prometheus_expfmt_callback(|| -> Result<String, String> {
            Ok("# TYPE engine_tokens_total counter\nengine_tokens_total 9\n".into())
        });
    let export = receiver.wait_for("with the text counter", |r| {
        number_in(&r.request, "engine_tokens_total", &[]).is_some()
    });
    let (tokens, text_temporality, _) =
        number_in(&export.request, "engine_tokens_total", &[]).unwrap();
    assert_eq!((tokens, text_temporality), (9.0, Some(CUMULATIVE)));
    let (_, temporality, _) =
        number_in(&export.request, "dynamo_component_jobs_total", &[]).unwrap();
    assert_eq!(temporality, Some(DELTA));
    runtime.shutdown();
}
