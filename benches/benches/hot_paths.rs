//! The update paths: a cached counter (by one and by a float), a vec lookup, a histogram,
//! updates with an exemplar, and one counter shared by two threads. Each group measures ours
//! beside `prometheus` and `prometheus-client`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dynamo_benches::{label_values, ours_endpoint};
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

/// A float counter's `inc_by`: ours keeps whole increments in an integer and the rest in a
/// float, so both kinds of increment are measured; the peers add any float the same way.
fn counter_inc_by(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_inc_by");
    let (_runtime, metrics) = ours_endpoint();
    let ours = metrics.create_counter("bytes_total", "Bytes", &[]).unwrap();
    group.bench_function("ours_whole", |b| {
        b.iter(|| black_box(&ours).inc_by(black_box(3.0)))
    });
    group.bench_function("ours_fraction", |b| {
        b.iter(|| black_box(&ours).inc_by(black_box(2.5)))
    });
    let prom = prometheus::Counter::new("bytes_total", "Bytes").unwrap();
    group.bench_function("prometheus", |b| {
        b.iter(|| black_box(&prom).inc_by(black_box(2.5)))
    });
    let client = PcCounter::<f64, AtomicU64>::default();
    group.bench_function("prometheus_client", |b| {
        b.iter(|| black_box(&client).inc_by(black_box(2.5)))
    });
    group.finish();
}

fn vec_lookup_inc(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_lookup_inc");
    let (_runtime, metrics) = ours_endpoint();
    let labels = ["model", "size"];
    let values = ["llama", "7b"];
    let ours = metrics
        .create_countervec("requests_total", "Requests", &labels, &[])
        .unwrap();
    group.bench_function("ours_f64", |b| {
        b.iter(|| ours.with_label_values(black_box(&values)).inc())
    });
    let ours_int = metrics
        .create_intcountervec("int_requests_total", "Requests", &labels, &[])
        .unwrap();
    group.bench_function("ours_int", |b| {
        b.iter(|| ours_int.with_label_values(black_box(&values)).inc())
    });
    let opts = prometheus::Opts::new("requests_total", "Requests");
    let prom = prometheus::CounterVec::new(opts.clone(), &labels).unwrap();
    group.bench_function("prometheus_f64", |b| {
        b.iter(|| prom.with_label_values(black_box(&values)).inc())
    });
    let prom_int = prometheus::IntCounterVec::new(opts, &labels).unwrap();
    group.bench_function("prometheus_int", |b| {
        b.iter(|| prom_int.with_label_values(black_box(&values)).inc())
    });
    let client = Family::<[(&str, &str); 2], PcCounter<f64, AtomicU64>>::default();
    let pairs = [("model", "llama"), ("size", "7b")];
    group.bench_function("prometheus_client_f64", |b| {
        b.iter(|| client.get_or_create(black_box(&pairs)).inc())
    });
    let client_int = Family::<[(&str, &str); 2], PcCounter<u64, AtomicU64>>::default();
    group.bench_function("prometheus_client_int", |b| {
        b.iter(|| client_int.get_or_create(black_box(&pairs)).inc())
    });
    group.finish();
}

/// Lookups that go round a thousand series, so that each finds a series the previous one
/// did not: the table, the slots and the strings are not all in the nearest cache.
fn vec_lookup_inc_1000_series(c: &mut Criterion) {
    let mut group = c.benchmark_group("vec_lookup_inc_1000_series");
    let (_runtime, metrics) = ours_endpoint();
    let values: Vec<[String; 2]> = (0..1000).map(label_values).collect();
    let labels = ["model", "worker"];
    let ours = metrics
        .create_intcountervec("requests_total", "Requests", &labels, &[])
        .unwrap();
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests"),
        &labels,
    )
    .unwrap();
    for v in &values {
        ours.with_label_values(v).inc();
        prom.with_label_values(&[&v[0], &v[1]]).inc();
    }
    let mut at = 0;
    group.bench_function("ours_int", |b| {
        b.iter(|| {
            at = (at + 1) % values.len();
            ours.with_label_values(black_box(&values[at])).inc()
        })
    });
    group.bench_function("prometheus_int", |b| {
        b.iter(|| {
            at = (at + 1) % values.len();
            let v = &values[at];
            prom.with_label_values(black_box(&[v[0].as_str(), v[1].as_str()]))
                .inc()
        })
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

/// The host's price of one uncontended atomic add beside a plain add to memory, so a reader
/// can tell which kind of machine the other figures come from: where an atomic costs many
/// plain instructions, paths with fewer atomics gain more than their instruction counts say.
fn host_atomic_add(c: &mut Criterion) {
    let mut group = c.benchmark_group("host");
    let word = AtomicU64::new(0);
    group.bench_function("atomic_add", |b| {
        b.iter(|| black_box(&word).fetch_add(1, Ordering::Relaxed))
    });
    let mut plain = 0u64;
    group.bench_function("plain_add", |b| {
        b.iter(|| {
            let place = black_box(&mut plain);
            *place = place.wrapping_add(1);
        })
    });
    group.finish();
}

/// A counter's increment and a histogram's observation, each keeping a trace and a span id
/// as the exemplar, with the wall clock's time: ours and prometheus-client's (whose labels
/// are shared, so each update clones a pointer).
fn update_with_exemplar(c: &mut Criterion) {
    type PeerExemplar = std::sync::Arc<[(String, String)]>;
    let labels = [
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("span_id", "00f067aa0ba902b7"),
    ];
    let mut group = c.benchmark_group("update_with_exemplar");
    let (_runtime, metrics) = ours_endpoint();
    let exemplar = dynamo_runtime::Exemplar::new(&labels).unwrap();
    let counter = metrics
        .create_counter("requests_total", "Requests", &[])
        .unwrap();
    group.bench_function("ours_counter", |b| {
        b.iter(|| black_box(&counter).inc_by_with_exemplar(1.0, &exemplar))
    });
    let histogram = metrics
        .create_histogram("latency_seconds", "Latency", &[], None)
        .unwrap();
    group.bench_function("ours_histogram", |b| {
        b.iter(|| black_box(&histogram).observe_with_exemplar(black_box(0.3), &exemplar))
    });
    let peer: PeerExemplar = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let counter = prometheus_client::metrics::exemplar::CounterWithExemplar::<
        PeerExemplar,
        f64,
        std::sync::atomic::AtomicU64,
    >::default();
    group.bench_function("prometheus_client_counter", |b| {
        b.iter(|| {
            let now = Some(std::time::SystemTime::now());
            black_box(&counter).inc_by(1.0, Some(peer.clone()), now)
        })
    });
    let histogram =
        prometheus_client::metrics::exemplar::HistogramWithExemplars::<PeerExemplar>::new(
            prometheus::DEFAULT_BUCKETS.iter().copied(),
        );
    group.bench_function("prometheus_client_histogram", |b| {
        b.iter(|| {
            let now = Some(std::time::SystemTime::now());
            black_box(&histogram).observe(black_box(0.3), Some(peer.clone()), now)
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    host_atomic_add,
    counter_inc,
    counter_inc_by,
    vec_lookup_inc,
    vec_lookup_inc_1000_series,
    histogram_observe,
    update_with_exemplar,
    two_threads_one_counter
);
criterion_main!(benches);
