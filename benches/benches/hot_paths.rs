//! The update paths: a cached counter, a vec lookup, a histogram, and one counter shared by
//! two threads. Each group measures ours beside `prometheus` and `prometheus-client`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dynamo_benches::ours_endpoint;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;

fn counter_inc(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics
        .create_counter("requests_total", "Requests", &[])
        .unwrap();
    group.bench_function("ours", |b| b.iter(|| black_box(&ours).inc()));
    let prom = prometheus::Counter::new("requests_total", "Requests").unwrap();
    group.bench_function("prometheus", |b| b.iter(|| black_box(&prom).inc()));
    let client = PcCounter::<f64, AtomicU64>::default();
    group.bench_function("prometheus_client", |b| b.iter(|| black_box(&client).inc()));
    group.finish();
}

fn vec_lookup_inc(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_lookup_inc");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics
        .create_countervec("requests_total", "Requests", &["model", "size"], &[])
        .unwrap();
    group.bench_function("ours", |b| {
        b.iter(|| ours.with_label_values(black_box(&["llama", "7b"])).inc())
    });
    let prom = prometheus::CounterVec::new(
        prometheus::Opts::new("requests_total", "Requests"),
        &["model", "size"],
    )
    .unwrap();
    group.bench_function("prometheus", |b| {
        b.iter(|| prom.with_label_values(black_box(&["llama", "7b"])).inc())
    });
    let client = Family::<[(&str, &str); 2], PcCounter<f64, AtomicU64>>::default();
    let labels = [("model", "llama"), ("size", "7b")];
    group.bench_function("prometheus_client", |b| {
        b.iter(|| client.get_or_create(black_box(&labels)).inc())
    });
    group.finish();
}

fn histogram_observe(c: &mut Criterion) {
    let mut group = c.benchmark_group("histogram_observe");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics
        .create_histogram("latency_seconds", "Latency", &[], None)
        .unwrap();
    group.bench_function("ours", |b| {
        b.iter(|| black_box(&ours).observe(black_box(0.3)))
    });
    let prom = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
        "latency_seconds",
        "Latency",
    ))
    .unwrap();
    group.bench_function("prometheus", |b| {
        b.iter(|| black_box(&prom).observe(black_box(0.3)))
    });
    let client = PcHistogram::new(prometheus::DEFAULT_BUCKETS.iter().copied());
    group.bench_function("prometheus_client", |b| {
        b.iter(|| black_box(&client).observe(black_box(0.3)))
    });
    group.finish();
}

/// Times `iters` calls of `inc` while a second thread calls it without pause.
fn contended(iters: u64, inc: &(impl Fn() + Sync)) -> Duration {
    let stop = AtomicBool::new(false);
    let started = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            started.store(1, Ordering::Release);
            while !stop.load(Ordering::Relaxed) {
                inc();
            }
        });
        while started.load(Ordering::Acquire) == 0 {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        for _ in 0..iters {
            inc();
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn two_threads_one_counter(c: &mut Criterion) {
    let mut group = c.benchmark_group("two_threads_one_counter");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics
        .create_counter("requests_total", "Requests", &[])
        .unwrap();
    group.bench_function("ours", |b| {
        b.iter_custom(|iters| contended(iters, &|| ours.inc()))
    });
    let prom = prometheus::Counter::new("requests_total", "Requests").unwrap();
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| contended(iters, &|| prom.inc()))
    });
    let client = PcCounter::<f64, AtomicU64>::default();
    group.bench_function("prometheus_client", |b| {
        b.iter_custom(|iters| {
            contended(iters, &|| {
                client.inc();
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    counter_inc,
    vec_lookup_inc,
    histogram_observe,
    two_threads_one_counter
);
criterion_main!(benches);
