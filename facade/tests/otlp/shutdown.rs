//! `shutdown()` sends a final export with the latest values, within the export timeout.

use std::time::{Duration, Instant};

use crate::common::otlp::{Answer, Receiver, number_in};
use dynamo_runtime::{DistributedRuntime, OtlpConfig};

fn runtime(config: OtlpConfig) -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .otlp(config)
        .build()
        .unwrap()
}

#[test]
fn shutdown_exports_the_latest_values_once_more() {
    let receiver = Receiver::accepting();
    let runtime = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_secs(3600)),
    );
    runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc_by(42);
    runtime.shutdown();
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one final export");
    let (jobs, _, _) = number_in(&received[0].request, "dynamo_component_jobs_total", &[]).unwrap();
    assert_eq!(jobs, 42.0);
    runtime.shutdown();
    assert_eq!(
        receiver.received().len(),
        1,
        "a second shutdown does nothing"
    );
}

#[test]
fn shutdown_waits_no_longer_than_the_export_timeout() {
    let receiver = Receiver::answering(|_| Answer::Slow(Duration::from_secs(5)));
    let runtime = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_secs(3600))
            .with_export_timeout(Duration::from_millis(300)),
    );
    let started = Instant::now();
    runtime.shutdown();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    receiver.wait_for_count(1);
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("dynamo_metrics_otlp_dropped_total{reason=\"shutdown\"} 1\n"),
        "{page}"
    );
}

#[test]
fn dropping_the_runtime_stops_export_at_once() {
    let receiver = Receiver::answering(|_| Answer::Slow(Duration::from_secs(5)));
    let runtime = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(20)),
    );
    receiver.wait_for_count(1);
    let started = Instant::now();
    drop(runtime);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        started.elapsed()
    );
}
