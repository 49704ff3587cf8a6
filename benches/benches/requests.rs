//! Request tracking beside the same bookkeeping written by hand: the guard of
//! `endpoint.track_request()`, a tracked future, and histogram timers, each next to the
//! updates it makes (ours, and the `prometheus` crate's) on the same kinds of metric.
//!
//! Every request does what the guard does: count it, add it to the requests in flight, read
//! the clock at its start and end, take it out of flight and observe its duration in a
//! histogram of Dynamo's 17 request buckets.

use std::future::{Future, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dynamo_benches::ours_endpoint;
use dynamo_runtime::{DEFAULT_REQUEST_DURATION_BUCKETS, DistributedRuntime, Endpoint};

fn endpoint() -> (DistributedRuntime, Endpoint) {
    let (runtime, _) = ours_endpoint();
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    endpoint.request_metrics().expect("request metrics");
    (runtime, endpoint)
}

fn request_guard(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_guard");
    let (_runtime, endpoint) = endpoint();
    group.bench_function("ours_guard", |b| {
        b.iter(|| drop(black_box(&endpoint).track_request()))
    });
    // A request that came with a `traceparent` header: parsed, its ids kept as the exemplars
    // of its count and its duration.
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    group.bench_function("ours_guard_traced", |b| {
        b.iter(|| drop(black_box(&endpoint).track_request_traced(black_box(header))))
    });
    let metrics = endpoint.request_metrics().unwrap();
    group.bench_function("ours_guard_from_request_metrics", |b| {
        b.iter(|| drop(black_box(&metrics).track()))
    });

    let (_other, hand) = ours_endpoint();
    let requests = hand.create_intcounter("requests_total", "R", &[]).unwrap();
    let inflight = hand.create_intgauge("inflight_requests", "I", &[]).unwrap();
    let duration = hand
        .create_histogram(
            "request_duration_seconds",
            "D",
            &[],
            Some(DEFAULT_REQUEST_DURATION_BUCKETS.to_vec()),
        )
        .unwrap();
    group.bench_function("ours_hand_written", |b| {
        b.iter(|| {
            black_box(&requests).inc();
            black_box(&inflight).inc();
            let start = Instant::now();
            black_box(&inflight).dec();
            black_box(&duration).observe(start.elapsed().as_secs_f64());
        })
    });

    // The same, reading the clock the guard reads: what remains is the guard's own work.
    let clock = quanta::Clock::new();
    group.bench_function("ours_hand_written_same_clock", |b| {
        b.iter(|| {
            black_box(&requests).inc();
            black_box(&inflight).inc();
            let start = clock.raw();
            black_box(&inflight).dec();
            let nanos = clock.delta_as_nanos(start, clock.raw());
            black_box(&duration).observe(Duration::from_nanos(nanos).as_secs_f64());
        })
    });

    let requests = prometheus::IntCounter::new("requests_total", "R").unwrap();
    let inflight = prometheus::IntGauge::new("inflight_requests", "I").unwrap();
    let duration = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("request_duration_seconds", "D")
            .buckets(DEFAULT_REQUEST_DURATION_BUCKETS.to_vec()),
    )
    .unwrap();
    group.bench_function("prometheus_hand_written", |b| {
        b.iter(|| {
            black_box(&requests).inc();
            black_box(&inflight).inc();
            let start = Instant::now();
            black_box(&inflight).dec();
            black_box(&duration).observe(start.elapsed().as_secs_f64());
        })
    });
    group.finish();
}

fn tracked_future(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracked_future");
    let (_runtime, endpoint) = endpoint();
    let mut cx = Context::from_waker(Waker::noop());
    group.bench_function("ours_instrument_request", |b| {
        b.iter(|| {
            let future = pin!(black_box(&endpoint).instrument_request(ready(1u32)));
            black_box(future.poll(&mut cx))
        })
    });
    group.bench_function("ours_guard_around_the_future", |b| {
        b.iter(|| {
            let _request = black_box(&endpoint).track_request();
            let future = pin!(ready(1u32));
            black_box(future.poll(&mut cx))
        })
    });
    group.finish();
}

fn histogram_timer(c: &mut Criterion) {
    let mut group = c.benchmark_group("histogram_timer");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics
        .create_histogram("latency_seconds", "Latency", &[], None)
        .unwrap();
    group.bench_function("ours_start_timer", |b| {
        b.iter(|| drop(black_box(&ours).start_timer()))
    });
    group.bench_function("ours_hand_written", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(&ours).observe(start.elapsed().as_secs_f64());
        })
    });
    let prom = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
        "latency_seconds",
        "Latency",
    ))
    .unwrap();
    group.bench_function("prometheus_start_timer", |b| {
        b.iter(|| drop(black_box(&prom).start_timer()))
    });
    group.finish();
}

/// The clock the guard reads (the time-stamp counter, through `quanta`) beside
/// `Instant::now()`, which the hand-written updates read.
fn clock_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_read");
    group.bench_function("std_instant_now", |b| b.iter(|| black_box(Instant::now())));
    let clock = quanta::Clock::new();
    group.bench_function("quanta_raw", |b| b.iter(|| black_box(clock.raw())));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = request_guard, tracked_future, histogram_timer, clock_read
}
criterion_main!(benches);
