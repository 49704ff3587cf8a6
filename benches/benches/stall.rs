//! A scrape never stalls writers: with a million series and four threads scraping the whole
//! runtime in a loop, how long creating a new series takes (p50, p99, max), and updating an
//! existing one. Five runs, each in this process one after the other.
//!
//! Run with `cargo bench -p dynamo-benches --bench stall` (`-- --series N` to change
//! the million).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dynamo_benches::{label_values, ours_endpoint};

const SCRAPERS: usize = 4;
const CREATIONS: usize = 20_000;
const RUNS: usize = 5;

/// The `p`-th percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(series: usize) -> (Vec<Duration>, Vec<Duration>, usize) {
    let (runtime, metrics) = ours_endpoint();
    let vec = metrics
        .create_intcountervec("requests_total", "Requests", &["model", "worker"], &[])
        .unwrap();
    for i in 0..series {
        vec.with_label_values(&label_values(i)).inc();
    }
    let stop = AtomicBool::new(false);
    let scrapes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..SCRAPERS {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let text = runtime.metrics().prometheus_expfmt().unwrap();
                    assert!(text.len() > series);
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Let every scraper get going before measuring.
        while scrapes.load(Ordering::Relaxed) < SCRAPERS {
            std::thread::yield_now();
        }
        let mut create = Vec::with_capacity(CREATIONS);
        let mut update = Vec::with_capacity(CREATIONS);
        for i in 0..CREATIONS {
            let values = [format!("new-model-{i}"), format!("new-worker-{i}")];
            let started = Instant::now();
            vec.with_label_values(&values).inc();
            create.push(started.elapsed());
            let existing = label_values(i * 37 % series);
            let started = Instant::now();
            vec.with_label_values(&existing).inc();
            update.push(started.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        create.sort();
        update.sort();
        (create, update, scrapes.load(Ordering::Relaxed))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let series = args
        .iter()
        .position(|a| a == "--series")
        .and_then(|p| args.get(p + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    println!("{series} series, {SCRAPERS} threads scraping the whole runtime in a loop");
    for run_number in 1..=RUNS {
        let (create, update, scrapes) = run(series);
        println!(
            "stall/run {run_number}: create p50 {:?} p99 {:?} max {:?}; update p50 {:?} p99 {:?}; {scrapes} scrapes meanwhile",
            percentile(&create, 0.5),
            percentile(&create, 0.99),
            create[create.len() - 1],
            percentile(&update, 0.5),
            percentile(&update, 0.99),
        );
    }
}
