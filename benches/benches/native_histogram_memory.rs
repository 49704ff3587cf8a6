//! Heap bytes per populated bucket of a native histogram series, ours beside
//! prometheus-client's: the bytes a series' observations add, counted by a global allocator
//! that keeps the live total of what was asked for, divided by the buckets the observations
//! populate at schema 3.
//!
//! What one series holds before any observation is shown beside: the average over 4,096 new
//! series, which includes the labels and the map entry of each.
//!
//! Two data sets of 100,000 observations: log-normal latencies over four decades (about 100
//! buckets), and values spread evenly over 20 octaves (160 buckets, the default limit).
//!
//! Run with `cargo bench -p dynamo-benches --bench native_histogram_memory`.

// A global allocator is an unsafe trait; this one only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use dynamo_benches::native::{FACTOR, latencies, populated_buckets, wide};
use dynamo_exporter::{NativeHistogram, Opts, Registry};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram as PcHistogram, NativeHistogramConfig};

/// The system allocator, keeping the live total of the sizes asked for (not what the
/// allocator rounds them up to).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const OBSERVATIONS: usize = 100_000;

fn live() -> isize {
    LIVE.load(Relaxed)
}

/// Series made to measure what one costs before any observation.
const EMPTY_SERIES: usize = 4096;

/// The live heap bytes of a series before any observation (the average over
/// `EMPTY_SERIES` new series, so that storage allocated for many series at once counts its
/// share) and what observing `values` adds to one series. The set-up shared by every series
/// (registry, pools) is made by a first series, before either.
fn measure<S>(
    create: impl Fn(&str) -> S,
    observe: impl Fn(&S, f64),
    values: &[f64],
) -> (f64, isize) {
    let warm = create("warm");
    values.iter().take(1000).for_each(|&v| observe(&warm, v));
    let before = live();
    let empty: Vec<S> = (0..EMPTY_SERIES)
        .map(|i| create(&format!("empty-{i}")))
        .collect();
    let per_series = (live() - before) as f64 / EMPTY_SERIES as f64;
    let series = create("measured");
    let created = live();
    values.iter().for_each(|&v| observe(&series, v));
    let observed = live();
    std::mem::forget((warm, empty, series));
    (per_series, observed - created)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sets = [
        ("log-normal, 4 decades", latencies(OBSERVATIONS, 4)),
        ("even, 20 octaves", wide(OBSERVATIONS, 5)),
    ];
    println!(
        "heap bytes of one native histogram series (factor {FACTOR}, schema 3) \
         after {OBSERVATIONS} observations"
    );
    for (name, values) in &sets {
        let buckets = populated_buckets(values);
        let registry = Registry::new();
        let opts =
            Opts::new("latency_seconds", "Latency").with_native(NativeHistogram::new(FACTOR));
        let vec = registry
            .histogram_vec(&opts, &["worker"], Some(&[]))
            .unwrap();
        let ours = measure(|w| vec.with_label_values(&[w]), |s, v| s.observe(v), values);
        let family =
            Family::<[(&'static str, String); 1], PcHistogram>::new_with_constructor(|| {
                PcHistogram::new_native(
                    NativeHistogramConfig::new(FACTOR)
                        .max_buckets(NativeHistogram::DEFAULT_MAX_BUCKETS as usize),
                )
            });
        let client = measure(
            |w| family.get_or_create(&[("worker", w.to_string())]).clone(),
            |s, v| s.observe(v),
            values,
        );
        for (library, (series, added)) in [("ours", ours), ("prometheus_client", client)] {
            println!(
                "native_memory/{library:<18} {name:<22} buckets {buckets:>4}  \
                 series {series:>6.1} bytes  observations add {added:>6} bytes  \
                 {:>6.2} bytes per bucket  {:>6.2} with the series",
                added as f64 / buckets as f64,
                (series + added as f64) / buckets as f64,
            );
        }
    }
}
