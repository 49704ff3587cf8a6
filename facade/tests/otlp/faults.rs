//! A collector that is down, slow, busy (503 with `Retry-After`) or refusing (400) never
//! hurts the application: updates and scrapes stay fast, the queue stays within its bound,
//! every drop is counted by reason, and the process' threads and resident memory stay
//! bounded while the fault lasts (those tests run alone in the binary: see
//! [`common::measured_alone`]).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::otlp::{Answer, Receiver};
use dynamo_runtime::{DistributedRuntime, IntCounter, OtlpConfig, Protocol};

const QUEUE: usize = 2;

/// A runtime exporting as `config` says, with a counter to update.
pub(crate) fn runtime(config: OtlpConfig) -> (DistributedRuntime, IntCounter) {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .uptime_clock(|| common::UPTIME)
        .otlp(config)
        .build()
        .unwrap();
    let counter = runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap();
    (runtime, counter)
}

/// A sample of the runtime's page.
pub(crate) fn sample(runtime: &DistributedRuntime, name: &str, labels: &[(&str, &str)]) -> f64 {
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    let samples = common::parse_exposition(&page).unwrap();
    common::value_of(&samples, name, labels).unwrap_or(0.0)
}

fn dropped(runtime: &DistributedRuntime, reason: &str) -> f64 {
    sample(
        runtime,
        "dynamo_metrics_otlp_dropped_total",
        &[("reason", reason)],
    )
}

/// Updates and scrapes for `duration`: each scrape and each batch of 10,000 increments
/// must stay well under the exporter's timeouts, and the queue within its bound.
fn app_keeps_working(runtime: &DistributedRuntime, counter: &IntCounter, duration: Duration) {
    let end = Instant::now() + duration;
    let mut scrapes = 0;
    while Instant::now() < end {
        let started = Instant::now();
        for _ in 0..10_000 {
            counter.inc();
        }
        let updates = started.elapsed();
        let started = Instant::now();
        let queued = sample(runtime, "dynamo_metrics_otlp_queued_requests", &[]);
        let scrape = started.elapsed();
        assert!(
            updates < Duration::from_millis(500),
            "10,000 updates took {updates:?}"
        );
        assert!(
            scrape < Duration::from_millis(500),
            "a scrape took {scrape:?}"
        );
        assert!(
            queued <= QUEUE as f64,
            "{queued} requests queued, bound {QUEUE}"
        );
        scrapes += 1;
    }
    assert!(scrapes > 5, "the app kept scraping ({scrapes} scrapes)");
}

/// What a fault may add to the process while it lasts, past its first attempts: two threads
/// (a connection's, a resolver's), eight descriptors, 16 MiB resident: a thread or a socket
/// left behind by each attempt, or each four-megabyte answer kept, goes past them.
pub(crate) const FAULT_BOUNDS: common::Bounds = common::Bounds {
    fds: 8,
    threads: 2,
    rss_bytes: 16 << 20,
};

/// Checks that the process grew within [`FAULT_BOUNDS`] since `before`, taken once the
/// fault's first attempts were made.
pub(crate) fn assert_fault_bounded(before: common::Usage, what: &str) {
    before.assert_within(common::usage(), FAULT_BOUNDS, what);
}

/// Waits until the process has at most one thread more than at `start`: what a test started
/// has ended.
pub(crate) fn assert_threads_end(start: common::Usage) {
    eventually("the test's threads end", || {
        common::usage().threads <= start.threads + 1
    });
}

/// Waits (polling the page, up to 20 s) until `check` holds.
pub(crate) fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what} within 20 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_collector_that_is_down_costs_the_app_nothing() {
    let _alone = common::measured_alone();
    let start = common::usage();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/metrics", closed.local_addr().unwrap());
    drop(closed);
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(endpoint)
            .with_interval(Duration::from_millis(20))
            .with_timeout(Duration::from_secs(2))
            .with_export_timeout(Duration::from_millis(300))
            .with_max_queued_requests(QUEUE),
    );
    eventually("a first failure dropped", || {
        dropped(&runtime, "retries_exhausted") >= 1.0
    });
    let before = common::usage();
    app_keeps_working(&runtime, &counter, Duration::from_millis(800));
    eventually("connection failures dropped", || {
        dropped(&runtime, "retries_exhausted") >= 3.0
    });
    assert_fault_bounded(before, "a collector down");
    assert_eq!(
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]),
        0.0
    );
    let started = Instant::now();
    runtime.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert_threads_end(start);
}

#[test]
fn a_slow_collector_fills_the_queue_and_the_oldest_requests_are_dropped() {
    let _alone = common::measured_alone();
    let start = common::usage();
    let receiver = Receiver::answering(|_| Answer::Slow(Duration::from_millis(1500)));
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(20))
            .with_timeout(Duration::from_millis(200))
            .with_export_timeout(Duration::from_millis(500))
            .with_max_queued_requests(QUEUE),
    );
    receiver.wait_for("a first request", |_| true);
    let before = common::usage();
    app_keeps_working(&runtime, &counter, Duration::from_millis(800));
    eventually("timeouts dropped", || {
        dropped(&runtime, "retries_exhausted") >= 1.0
    });
    eventually("queue overflow dropped", || {
        dropped(&runtime, "queue_full") >= 1.0
    });
    // The receiver's connection threads sleep through answers no one waits for: each
    // timed-out request leaves one for up to 1.5 s, four at most at 200 ms apart.
    let bounds = common::Bounds {
        threads: FAULT_BOUNDS.threads + 8,
        ..FAULT_BOUNDS
    };
    before.assert_within(common::usage(), bounds, "a slow collector");
    assert_eq!(
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]),
        0.0
    );
    runtime.shutdown();
    drop(receiver);
    assert_threads_end(start);
}

#[test]
fn a_busy_collector_is_retried_after_its_retry_after() {
    let _beside = common::beside_others();
    let receiver = Receiver::answering(|i| {
        if i == 0 {
            Answer::Status(503, Some(1))
        } else {
            Answer::Ok
        }
    });
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(50))
            .with_max_queued_requests(QUEUE),
    );
    app_keeps_working(&runtime, &counter, Duration::from_millis(300));
    let received = receiver.wait_for_count(2);
    assert_eq!(
        received[1].body, received[0].body,
        "the same request, sent again"
    );
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, Retry-After was 1 s"
    );
    eventually("the retry counted as exported", || {
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]) >= 1.0
    });
    assert_eq!(dropped(&runtime, "rejected"), 0.0);
    assert_eq!(dropped(&runtime, "retries_exhausted"), 0.0);
    runtime.shutdown();
}

#[test]
fn a_refused_request_is_dropped_without_retries() {
    let _beside = common::beside_others();
    let receiver = Receiver::answering(|_| Answer::Status(400, None));
    let (runtime, counter) = runtime(
        OtlpConfig::new()
            .with_protocol(Protocol::HttpProtobuf)
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(30))
            .with_max_queued_requests(QUEUE),
    );
    app_keeps_working(&runtime, &counter, Duration::from_millis(300));
    receiver.wait_for_count(3);
    eventually("refusals dropped", || dropped(&runtime, "rejected") >= 3.0);
    runtime.shutdown();
    let received = receiver.received();
    for (i, a) in received.iter().enumerate() {
        for b in &received[i + 1..] {
            assert_ne!(a.body, b.body, "a refused request is never sent again");
        }
    }
    let refused = dropped(&runtime, "rejected");
    assert_eq!(refused, received.len() as f64, "every refusal counted once");
}
