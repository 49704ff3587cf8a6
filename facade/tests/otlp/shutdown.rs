//! `shutdown()` sends a final export with the latest values, within the shutdown timeout
//! whatever the collector does.

use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::otlp::{Answer, Receiver, number_in};
use dynamo_runtime::{DistributedRuntime, OtlpConfig, Protocol};

fn runtime(config: OtlpConfig) -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .otlp(config)
        .build()
        .unwrap()
}

#[test]
fn shutdown_exports_the_latest_values_once_more() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
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
fn shutdown_waits_no_longer_than_the_shutdown_timeout() {
    let _beside = common::beside_others();
    let receiver = Receiver::answering(|_| Answer::Slow(Duration::from_secs(5)));
    let runtime = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_secs(3600))
            .with_shutdown_timeout(Duration::from_millis(300)),
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

/// A collector that accepts connections and never answers: each connection is read until the
/// exporter closes it (or for 20 s at most), and its arrival reported on the channel.
fn silent_collector() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
    let (arrived, connections) = mpsc::channel();
    std::thread::spawn(move || {
        // The final flush makes one connection; the thread ends once it is closed.
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = arrived.send(());
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    (endpoint, connections)
}

#[test]
fn shutdown_is_bounded_by_its_own_timeout_when_the_collector_never_answers() {
    let _beside = common::beside_others();
    let (endpoint, connections) = silent_collector();
    let bound = Duration::from_millis(300);
    let runtime = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(endpoint)
            .with_interval(Duration::from_secs(3600))
            .with_timeout(Duration::from_secs(10))
            .with_export_timeout(Duration::from_secs(10))
            .with_shutdown_timeout(bound),
    );
    runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc();
    let started = Instant::now();
    runtime.shutdown();
    let took = started.elapsed();
    assert!(
        took < bound + Duration::from_millis(500),
        "shutdown took {took:?}, its bound is {bound:?}"
    );
    connections
        .recv_timeout(Duration::from_secs(5))
        .expect("the final export reached the collector");
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("dynamo_metrics_otlp_dropped_total{reason=\"shutdown\"} 1\n"),
        "{page}"
    );
}

#[test]
fn dropping_the_runtime_stops_export_at_once() {
    let _beside = common::beside_others();
    let receiver = Receiver::answering(|_| Answer::Slow(Duration::from_secs(5)));
    let runtime = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
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
