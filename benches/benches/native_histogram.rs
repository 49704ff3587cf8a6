//! Native (exponential) histograms, ours beside prometheus-client's: one thread observing, two
//! threads observing one histogram, and the protobuf page of 10,000 native series.
//!
//! Every histogram observes the same seeded latencies (`dynamo_benches::native::latencies`),
//! with the bucket factor 1.1 (schema 3) and a limit of 160 buckets on both sides.
//!
//! Run with `cargo bench -p dynamo-benches --bench native_histogram`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynamo_benches::native::{self, CYCLE, FACTOR, latencies};
use dynamo_exporter::{NativeHistogram, Opts, Registry};
use prometheus_client::encoding::prometheus_protobuf::prometheus_data_model::MetricFamily;

/// Observations by each thread in one batch of `observe_2_threads`.
const PER_THREAD: usize = 1_000_000;

/// Series on the protobuf page.
const SERIES: usize = 10_000;

fn native() -> NativeHistogram {
    NativeHistogram::new(FACTOR)
}

/// `observe` over the cycle of latencies, one call per iteration.
fn observe(c: &mut Criterion) {
    let values = latencies(CYCLE, 1);
    let mut group = c.benchmark_group("observe");
    let registry = Registry::new();
    let opts = Opts::new("latency_seconds", "Latency").with_native(native());
    let ours = registry.histogram(&opts, Some(&[])).unwrap();
    let mut at = 0;
    group.bench_function("ours_native", |b| {
        b.iter(|| {
            at = (at + 1) & (CYCLE - 1);
            black_box(&ours).observe(black_box(values[at]));
        })
    });
    let opts = Opts::new("classic_seconds", "Latency");
    let classic = registry.histogram(&opts, None).unwrap();
    group.bench_function("ours_classic", |b| {
        b.iter(|| {
            at = (at + 1) & (CYCLE - 1);
            black_box(&classic).observe(black_box(values[at]));
        })
    });
    let client = native::prometheus_client_histogram();
    group.bench_function("prometheus_client_native", |b| {
        b.iter(|| {
            at = (at + 1) & (CYCLE - 1);
            black_box(&client).observe(black_box(values[at]));
        })
    });
    group.finish();
}

/// The time of `iters` batches in which two threads each make `PER_THREAD` observations, from
/// a common start to the last thread's end.
fn two_threads(iters: u64, values: &[f64], observe: &(impl Fn(f64) + Sync)) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        for i in 0..PER_THREAD {
                            // The two threads go through the cycle half a cycle apart.
                            observe(values[(i + t * CYCLE / 2) & (CYCLE - 1)]);
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for thread in threads {
            thread.join().unwrap();
        }
        start.elapsed()
    })
}

/// Two threads observing one shared histogram without pause: the time of a batch of
/// `PER_THREAD` observations on each.
fn observe_2_threads(c: &mut Criterion) {
    let values = latencies(CYCLE, 2);
    let mut group = c.benchmark_group("observe_2_threads");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * PER_THREAD as u64));
    let registry = Registry::new();
    let opts = Opts::new("latency_seconds", "Latency").with_native(native());
    let ours = registry.histogram(&opts, Some(&[])).unwrap();
    group.bench_function("ours_native", |b| {
        b.iter_custom(|iters| two_threads(iters, &values, &|v| ours.observe(black_box(v))))
    });
    let client = native::prometheus_client_histogram();
    group.bench_function("prometheus_client_native", |b| {
        b.iter_custom(|iters| two_threads(iters, &values, &|v| client.observe(black_box(v))))
    });
    group.finish();
}

/// Each series of a protobuf page, by its first label's value: its schema, zero count and
/// populated positive buckets `(index, count)`.
type PageBuckets = BTreeMap<String, (i32, u64, Vec<(i32, i64)>)>;

/// The native buckets of every series of a protobuf page, decoded.
fn page_buckets(mut page: &[u8]) -> PageBuckets {
    use prost::Message;
    let mut series = BTreeMap::new();
    while !page.is_empty() {
        let family = MetricFamily::decode_length_delimited(&mut page).expect("a family");
        for metric in family.metric {
            let histogram = metric.histogram.expect("a histogram");
            let (mut index, mut count) = (0, 0);
            let mut deltas = histogram.positive_delta.iter();
            let mut buckets = Vec::new();
            for span in &histogram.positive_span {
                index += span.offset;
                for _ in 0..span.length {
                    count += deltas.next().expect("a delta per bucket");
                    if count != 0 {
                        buckets.push((index, count));
                    }
                    index += 1;
                }
            }
            let key = metric.label[0].value.clone();
            series.insert(key, (histogram.schema, histogram.zero_count, buckets));
        }
    }
    series
}

/// The protobuf page of 10,000 native-only series of one family with one label.
fn render_protobuf_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_protobuf_10k");
    group.sample_size(20);
    let ours = native::ours_page(SERIES);
    group.bench_function("ours", |b| b.iter(|| native::ours_protobuf(&ours)));
    let theirs = native::prometheus_client_page(SERIES);
    // Both pages hold the same series with the same native buckets.
    let their_buckets = page_buckets(&native::prometheus_client_protobuf(&theirs));
    assert_eq!(their_buckets.len(), SERIES);
    assert!(
        page_buckets(&native::ours_protobuf(&ours)) == their_buckets,
        "the two pages hold different buckets"
    );
    group.bench_function("prometheus_client", |b| {
        b.iter(|| native::prometheus_client_protobuf(&theirs))
    });
    group.finish();
}

criterion_group!(benches, observe, observe_2_threads, render_protobuf_10k);
criterion_main!(benches);
