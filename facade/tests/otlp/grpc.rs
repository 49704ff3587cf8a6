//! OTLP over gRPC, the protocol used when none is named (as in Dynamo): Dynamo's variables
//! alone reach a tonic `MetricsService` with every family of the page; headers travel as
//! metadata; a receiver that is down, busy (`UNAVAILABLE` with a `RetryInfo` delay), refusing
//! or silent never hurts the application, shutdown stays within its timeout, and a partial
//! success still counts as exported.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::otlp::{self, Code, EXPORT_PATH, GrpcAnswer, GrpcReceiver};
use crate::faults::{assert_fault_bounded, assert_threads_end, eventually, runtime, sample};
use dynamo_runtime::{
    DistributedRuntime, EngineFilter, EngineSource, IntCounter, MetricsError, OtlpConfig,
};

fn with_env(vars: Vec<(&'static str, String)>) -> Result<DistributedRuntime, MetricsError> {
    DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(move |var| vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()))
        .build()
}

/// The names of the families of a page.
fn page_families(page: &str) -> BTreeSet<String> {
    otlp::from_page(page).into_keys().collect()
}

#[test]
fn dynamos_variables_alone_export_every_family_of_the_page_over_grpc() {
    let _beside = common::beside_others();
    let receiver = GrpcReceiver::accepting();
    let started = Instant::now();
    let runtime = with_env(vec![
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000".into()),
    ])
    .unwrap();
    let endpoint = runtime
        .namespace("ns")
        .component("vllm")
        .endpoint("generate");
    endpoint
        .metrics()
        .create_intcounter("requests_total", "Requests", &[])
        .unwrap()
        .inc();
    endpoint
        .metrics()
        .create_histogram("latency_seconds", "Latency", &[], None)
        .unwrap()
        .observe(0.2);
    runtime
        .metrics()
        .register_prometheus_expfmt_callback(|| -> Result<String, String> {
            Ok("# TYPE callback_queue gauge\ncallback_queue 4\n".into())
        });
    let engine = EngineSource::new(|| {
        Ok::<_, std::convert::Infallible>(
            "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 2\n".into(),
        )
    });
    endpoint
        .metrics()
        .register_engine_metrics(&engine, EngineFilter::new())
        .unwrap();

    let export = receiver.wait_for("with the families", |r| {
        otlp::metrics_of(&r.request).any(|m| m.name == "vllm:num_requests_running")
    });
    assert!(
        export.at - started < Duration::from_secs(5),
        "the first export came after {:?}",
        export.at - started
    );
    assert_eq!(export.path, EXPORT_PATH);
    let exported: BTreeSet<String> = otlp::metrics_of(&export.request)
        .map(|m| m.name.clone())
        .collect();
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert_eq!(exported, page_families(&page));
    for name in [
        "dynamo_component_requests_total",
        "dynamo_component_latency_seconds",
        "callback_queue",
        "vllm:num_requests_running",
        "dynamo_metrics_otlp_exported_total",
    ] {
        assert!(exported.contains(name), "{name} is exported: {exported:?}");
    }
    if cfg!(target_os = "linux") {
        assert!(
            exported.iter().any(|name| name.starts_with("process_")),
            "the process families are exported: {exported:?}"
        );
    }
    runtime.shutdown();
}

#[test]
fn the_general_endpoint_is_used_as_it_is_and_headers_travel_as_metadata() {
    let _beside = common::beside_others();
    let receiver = GrpcReceiver::accepting();
    let runtime = with_env(vec![
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s%3Dcret,Authorization=Bearer%20abc".into(),
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "50".into()),
        ("OTEL_SERVICE_NAME", "worker".into()),
    ])
    .unwrap();
    let export = receiver.wait_for("any", |_| true);
    assert_eq!(export.path, EXPORT_PATH);
    assert_eq!(export.header("x-api-key"), Some("s=cret"));
    assert_eq!(export.header("authorization"), Some("Bearer abc"));
    assert_eq!(export.header("grpc-encoding"), Some("gzip"));
    assert!(
        export
            .header("user-agent")
            .is_some_and(|agent| agent.starts_with("dynamo-metrics/")),
        "{:?}",
        export.header("user-agent")
    );
    assert_eq!(export.resource()["service.name"], "worker");
    runtime.shutdown();
}

/// Updates and scrapes for `duration`, each batch well under the exporter's timeouts.
fn app_keeps_working(runtime: &DistributedRuntime, counter: &IntCounter, duration: Duration) {
    let end = Instant::now() + duration;
    let mut scrapes = 0;
    while Instant::now() < end {
        let started = Instant::now();
        for _ in 0..10_000 {
            counter.inc();
        }
        let _ = runtime.metrics().prometheus_expfmt().unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "10,000 updates and a scrape took {took:?}"
        );
        scrapes += 1;
    }
    assert!(scrapes > 5, "the app kept scraping ({scrapes} scrapes)");
}

#[test]
fn a_receiver_that_is_down_costs_the_app_nothing() {
    let _alone = common::measured_alone();
    let start = common::usage();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(endpoint)
            .with_interval(Duration::from_millis(50))
            .with_export_timeout(Duration::from_millis(300))
            .with_max_queued_requests(2),
    );
    let exhausted = |runtime: &DistributedRuntime| {
        sample(
            runtime,
            "dynamo_metrics_otlp_dropped_total",
            &[("reason", "retries_exhausted")],
        )
    };
    eventually("a first export runs out of retries", || {
        exhausted(&runtime) >= 1.0
    });
    let before = common::usage();
    app_keeps_working(&runtime, &counter, Duration::from_secs(1));
    eventually("more exports run out of retries", || {
        exhausted(&runtime) >= 3.0
    });
    assert_fault_bounded(before, "a receiver down");
    let started = Instant::now();
    runtime.shutdown();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_threads_end(start);
}

#[test]
fn unavailable_is_retried_after_the_servers_retry_delay() {
    let _beside = common::beside_others();
    let delay = Duration::from_millis(700);
    let receiver = GrpcReceiver::answering(move |i| {
        if i == 0 {
            GrpcAnswer::Status(Code::Unavailable, Some(delay))
        } else {
            GrpcAnswer::Ok
        }
    });
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            // One collection in the test's time: the second call is the retry.
            .with_interval(Duration::from_secs(600))
            .with_export_timeout(Duration::from_secs(10)),
    );
    counter.inc();
    // The final export of shutdown sends the one collection; it may take the retry.
    let shutdown = std::thread::spawn(move || runtime.shutdown());
    let calls = receiver.wait_for_count(2);
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= delay,
        "retried after {waited:?}, the server asked for {delay:?}"
    );
    assert!(
        waited < Duration::from_secs(1) + delay,
        "retried after {waited:?}, not the backoff's"
    );
    assert_eq!(calls[0].request, calls[1].request, "the same request again");
    shutdown.join().unwrap();
}

#[test]
fn resource_exhausted_without_a_delay_is_dropped_at_once() {
    let _beside = common::beside_others();
    let receiver = GrpcReceiver::answering(|_| GrpcAnswer::Status(Code::ResourceExhausted, None));
    let (runtime, _counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(50)),
    );
    eventually("a refusal is counted", || {
        sample(
            &runtime,
            "dynamo_metrics_otlp_dropped_total",
            &[("reason", "rejected")],
        ) >= 1.0
    });
    runtime.shutdown();
}

#[test]
fn shutdown_is_bounded_by_its_timeout_when_the_receiver_never_answers() {
    let _alone = common::measured_alone();
    let start = common::usage();
    let receiver = GrpcReceiver::answering(|_| GrpcAnswer::Never);
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(100))
            .with_timeout(Duration::from_secs(60))
            .with_export_timeout(Duration::from_secs(120))
            .with_shutdown_timeout(Duration::from_millis(500))
            .with_max_queued_requests(2),
    );
    receiver.wait_for("any", |_| true);
    let before = common::usage();
    app_keeps_working(&runtime, &counter, Duration::from_millis(500));
    // Collections every 100 ms pile up behind the call that never ends: the queue's bound
    // drops them, and nothing else grows.
    eventually("collections dropped from the full queue", || {
        sample(
            &runtime,
            "dynamo_metrics_otlp_dropped_total",
            &[("reason", "queue_full")],
        ) >= 3.0
    });
    assert_fault_bounded(before, "a receiver that never answers");
    let started = Instant::now();
    runtime.shutdown();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "shutdown took {took:?} with a 500 ms timeout"
    );
    drop(receiver);
    assert_threads_end(start);
}

#[test]
fn a_partial_success_counts_as_exported() {
    let _beside = common::beside_others();
    let receiver = GrpcReceiver::answering(|_| GrpcAnswer::Partial(2, "two bad points".into()));
    let (runtime, _counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(50)),
    );
    receiver.wait_for_count(2);
    eventually("an export is counted", || {
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]) >= 1.0
    });
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        !page.contains("dynamo_metrics_otlp_dropped_total{"),
        "nothing is dropped: {page}"
    );
    runtime.shutdown();
}

#[test]
fn a_four_megabyte_response_costs_the_app_nothing_and_ends_within_bounds() {
    let _alone = common::measured_alone();
    let start = common::usage();
    // A partial success whose message alone is 4 MiB: past what a gRPC client decodes by
    // default, so the answer cannot be read.
    let message = "x".repeat(4 << 20);
    let receiver = GrpcReceiver::answering(move |_| GrpcAnswer::Partial(1, message.clone()));
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(50))
            .with_export_timeout(Duration::from_secs(1))
            .with_shutdown_timeout(Duration::from_millis(500))
            .with_max_queued_requests(2),
    );
    receiver.wait_for_count(3);
    let before = common::usage();
    app_keeps_working(&runtime, &counter, Duration::from_secs(1));
    let calls = receiver.received().len();
    eventually("more four-megabyte answers", || {
        receiver.received().len() >= calls + 10
    });
    assert_fault_bounded(before, "four-megabyte answers");
    // An answer that cannot be read is a failed attempt: retried, then dropped, never counted
    // as exported.
    eventually("retries run out", || {
        sample(
            &runtime,
            "dynamo_metrics_otlp_dropped_total",
            &[("reason", "retries_exhausted")],
        ) >= 1.0
    });
    assert_eq!(
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]),
        0.0
    );
    let started = Instant::now();
    runtime.shutdown();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    drop(receiver);
    assert_threads_end(start);
}
