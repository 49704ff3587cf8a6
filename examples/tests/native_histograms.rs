//! Native histograms as a real Prometheus sees them: Debian's 2.42, started with
//! `--enable-feature=native-histograms`, scraping a runtime's `/metrics` over loopback (it
//! asks for the protobuf format, which carries the native buckets). The scrape succeeds, the
//! buckets come back exactly as observed, PromQL's histogram functions read them, the
//! quantiles of a large sample are within the bound the growth factor sets, and scrapes keep
//! succeeding while threads observe flat out.
//!
//! Needs Debian's `prometheus` package; the tests fail (they do not skip) without it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::prometheus::Prometheus;
use common::promql::percent_encode;
use common::{poll_until, serve_in_process};
use dynamo_runtime::NativeHistogram;
use serde_json::Value;

/// How long Prometheus gets to scrape what a test expects.
const DEADLINE: Duration = Duration::from_secs(30);
/// Prometheus' flag for ingesting native histograms (it then asks for the protobuf format).
const NATIVE_HISTOGRAMS: &str = "--enable-feature=native-histograms";
/// The job of the runtime's target.
const JOB: &str = "dynamo";
/// The growth factor of the tests' native histograms: schema 3, buckets `2^(1/8)` wide.
const FACTOR: f64 = 1.1;
/// The most a quantile read from one bucket of schema 3 can be off, relative to the value:
/// the bucket's width over its lower bound, `2^(1/8) - 1`, rounded down.
const NATIVE_QUANTILE_ERROR: f64 = 0.0905;

/// Prometheus' bucket bounds of schema 3 in `[0.5, 1)`, the doubles it computes every bound
/// from (`exponentialBounds` in its `model/histogram/generic.go`).
const SCHEMA_3_FRACTIONS: [f64; 8] = [
    0.5,
    0.5452538663326288,
    0.5946035575013605,
    0.6484197773255048,
    0.7071067811865475,
    0.7711054127039704,
    0.8408964152537144,
    0.9170040432046711,
];

/// The upper bound of bucket `index` at schema 3 as Prometheus computes it:
/// `2^(index/8)`, as a fraction of the table times a power of two.
fn schema_3_upper_bound(index: i32) -> f64 {
    let fraction = SCHEMA_3_FRACTIONS[(index & 7) as usize];
    fraction * 2f64.powi((index >> 3) + 1)
}

/// A Prometheus scraping `target` every second.
fn start_prometheus(target: SocketAddr) -> Prometheus {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: {JOB}\n    scrape_interval: 1s\n    \
         scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
    );
    Prometheus::start_with_flags(&config, &[], &[NATIVE_HISTOGRAMS])
}

/// The one number an instant query returns, once it returns one.
fn poll_number(prometheus: &mut Prometheus, expr: &str) -> f64 {
    poll_until(
        DEADLINE,
        format!("a number for {expr}"),
        || match prometheus.query(expr).ok()?.as_slice() {
            [sample] => number(&sample["value"][1]),
            _ => None,
        },
    )
}

/// A number as Prometheus writes one: a string.
fn number(value: &Value) -> Option<f64> {
    value.as_str()?.parse().ok()
}

/// The native histogram an instant query of `name` returns, once it returns one:
/// `{"count", "sum", "buckets": [[boundary rule, lower, upper, count], ...]}`.
fn poll_native(prometheus: &mut Prometheus, name: &str) -> Value {
    poll_until(
        DEADLINE,
        format!("a native histogram for {name}"),
        || match prometheus.query(name).ok()?.as_slice() {
            [sample] => sample.get("histogram").map(|h| h[1].clone()),
            _ => None,
        },
    )
}

/// The buckets of a native histogram as numbers: (boundary rule, lower, upper, count).
fn buckets(histogram: &Value) -> Vec<(u64, f64, f64, f64)> {
    histogram["buckets"]
        .as_array()
        .map(|buckets| {
            buckets
                .iter()
                .map(|b| {
                    let rule = b[0].as_u64().expect("a boundary rule");
                    let n = |i: usize| number(&b[i]).expect("a number");
                    (rule, n(1), n(2), n(3))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// client_golang's reference case (`TestNativeHistogram`, factor 1.1, observing 0, 1, 2 and
/// 3): the zero bucket and three buckets of schema 3, each holding one observation.
#[test]
fn prometheus_reads_the_native_buckets_exactly() {
    let (runtime, target) = serve_in_process();
    let histogram = runtime
        .namespace("test")
        .component("native")
        .endpoint("reference")
        .metrics()
        .with_native_histograms(NativeHistogram::new(FACTOR))
        .create_histogram("reference", "client_golang's case", &[], Some(vec![]))
        .unwrap();
    for v in [0.0, 1.0, 2.0, 3.0] {
        histogram.observe(v);
    }
    let mut prometheus = start_prometheus(target);
    prometheus.assert_target_up(DEADLINE);

    let name = "dynamo_component_reference";
    let native = poll_native(&mut prometheus, name);
    assert_eq!(number(&native["count"]), Some(4.0), "{native}");
    assert_eq!(number(&native["sum"]), Some(6.0), "{native}");
    // Rules: 3 is a closed interval (the zero bucket), 0 one open below.
    let zero_threshold = 2f64.powi(-128);
    let bucket = |index: i32| {
        (
            0,
            schema_3_upper_bound(index - 1),
            schema_3_upper_bound(index),
            1.0,
        )
    };
    assert_eq!(
        buckets(&native),
        [
            (3, -zero_threshold, zero_threshold, 1.0),
            bucket(0),
            bucket(8),
            bucket(13),
        ],
        "{native}"
    );
    // The bounds are 2^(i/8): (2^(-1/8), 1], (2^(7/8), 2], (2^(12/8), 2^(13/8)].
    assert_eq!((bucket(0).2, bucket(8).2), (1.0, 2.0));
    assert!((bucket(13).1 - 2f64.powf(1.5)).abs() < 1e-15);

    assert_eq!(
        poll_number(&mut prometheus, &format!("histogram_count({name})")),
        4.0
    );
    assert_eq!(
        poll_number(&mut prometheus, &format!("histogram_sum({name})")),
        6.0
    );
    // Prometheus 2.42's histogram_fraction takes the zero bucket of a histogram without
    // negative buckets to start at 0, and interpolates only in a bucket a bound falls
    // strictly inside: 0 and 2 are bucket bounds, so [0, 2] holds the zero bucket and the
    // buckets 0 and 8 whole, 3 of the 4 observations.
    assert_eq!(
        poll_number(
            &mut prometheus,
            &format!("histogram_fraction(0, 2, {name})")
        ),
        0.75
    );
    drop(prometheus);
    drop(runtime);
}

/// SplitMix64: a small seeded generator, the same numbers on every run.
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0, so that its logarithm is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal, by Box-Muller.
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// A latency in seconds: log-normal, median 0.2 s, sigma 1.
    fn latency(&mut self) -> f64 {
        0.2 * self.normal().exp()
    }
}

/// The quantiles of 100,000 log-normal latencies, read from a native histogram, are within
/// the error its bucket width allows; those of the classic default buckets are printed beside
/// them for comparison.
#[test]
fn native_quantiles_of_a_large_sample_are_within_the_bucket_width() {
    const SAMPLES: usize = 100_000;
    let (runtime, target) = serve_in_process();
    let metrics = runtime
        .namespace("test")
        .component("native")
        .endpoint("latency")
        .metrics();
    let native = metrics
        .with_native_histograms(NativeHistogram::new(FACTOR))
        .create_histogram("native_seconds", "Native only", &[], Some(vec![]))
        .unwrap();
    let classic = metrics
        .create_histogram("classic_seconds", "Default buckets", &[], None)
        .unwrap();
    let mut random = Random(20_260_101);
    let mut samples: Vec<f64> = (0..SAMPLES).map(|_| random.latency()).collect();
    for &v in &samples {
        native.observe(v);
        classic.observe(v);
    }
    samples.sort_by(f64::total_cmp);

    let mut prometheus = start_prometheus(target);
    prometheus.assert_target_up(DEADLINE);
    let native_name = "dynamo_component_native_seconds";
    let count = poll_number(&mut prometheus, &format!("histogram_count({native_name})"));
    assert_eq!(count, SAMPLES as f64);
    // The bound below holds at schema 3: the sample spans too few buckets for the resolution
    // to have been halved.
    let histogram = poll_native(&mut prometheus, native_name);
    let widths = buckets(&histogram);
    println!("{} native buckets", widths.len());
    for (_, lower, upper, _) in widths.into_iter().filter(|b| b.1 > 0.0) {
        assert!(
            (upper / lower - 2f64.powf(0.125)).abs() < 1e-12,
            "({lower}, {upper}]"
        );
    }

    let mut failures = Vec::new();
    println!("quantile      sample      native (error)      classic (error)");
    for q in [0.5, 0.9, 0.99, 0.999] {
        // The sample quantile Prometheus' rank (q times the count) falls on.
        let truth = samples[(q * SAMPLES as f64).ceil() as usize - 1];
        let native = poll_number(
            &mut prometheus,
            &format!("histogram_quantile({q}, {native_name})"),
        );
        let classic = poll_number(
            &mut prometheus,
            &format!("histogram_quantile({q}, dynamo_component_classic_seconds_bucket)"),
        );
        let native_error = (native - truth).abs() / truth;
        let classic_error = (classic - truth).abs() / truth;
        println!(
            "{q:<8} {truth:>11.6} {native:>11.6} ({:>6.3}%) {classic:>11.6} ({:>7.3}%)",
            native_error * 100.0,
            classic_error * 100.0
        );
        if native_error > NATIVE_QUANTILE_ERROR {
            failures.push(format!(
                "q {q}: native {native}, sample {truth}: off by {:.3}%",
                native_error * 100.0
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(prometheus);
    drop(runtime);
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// An instant query at `time` (Unix seconds): the one number it returns.
fn number_at(prometheus: &mut Prometheus, expr: &str, time: f64) -> f64 {
    let data = prometheus
        .api(&format!("query?query={}&time={time}", percent_encode(expr)))
        .unwrap();
    match data["result"].as_array().map(Vec::as_slice) {
        Some([sample]) => number(&sample["value"][1]).unwrap(),
        _ => panic!("{expr} at {time}: not one number: {data}"),
    }
}

/// The threads observing one native histogram as fast as they can, until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(histogram: &dynamo_exporter::Histogram, threads: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|seed| {
                let (histogram, stop) = (histogram.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut random = Random(seed);
                    let mut observed = 0;
                    while !stop.load(Ordering::Relaxed) {
                        histogram.observe(random.latency());
                        observed += 1;
                    }
                    observed
                })
            })
            .collect();
        Self { stop, threads }
    }

    /// Stops the threads; how many observations they made.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.into_iter().map(|t| t.join().unwrap()).sum()
    }
}

/// Two threads observe one native histogram flat out for a minute while Prometheus scrapes
/// every second: every scrape succeeds, every scraped histogram is whole (its count is its
/// buckets' counts together), and the last one counts every observation.
#[test]
fn every_scrape_succeeds_while_two_threads_observe_flat_out() {
    const LOAD: Duration = Duration::from_secs(60);
    let (runtime, target) = serve_in_process();
    let histogram = runtime
        .namespace("test")
        .component("native")
        .endpoint("load")
        .metrics()
        .with_native_histograms(NativeHistogram::new(FACTOR))
        .create_histogram("load_seconds", "Observed flat out", &[], Some(vec![]))
        .unwrap();
    let mut prometheus = start_prometheus(target);
    prometheus.assert_target_up(DEADLINE);

    let load = Load::start(&histogram, 2);
    let start = unix_now();
    let started = Instant::now();
    // The test's one timed wait: the minute of load, checking the target every second.
    while started.elapsed() < LOAD {
        std::thread::sleep(Duration::from_secs(1).min(LOAD.saturating_sub(started.elapsed())));
        let health = prometheus.target_health();
        assert_eq!(
            health,
            Some(("up".to_string(), String::new())),
            "after {:?} of load; prometheus log:\n{}",
            started.elapsed(),
            prometheus.log()
        );
    }
    let observed = load.stop();
    let end = unix_now();
    println!("{observed} observations in {LOAD:?}");

    // A scrape after the threads stopped counts every observation.
    let name = "dynamo_component_load_seconds";
    let last = poll_until(DEADLINE, "a scrape of the final count", || {
        let native = poll_native(&mut prometheus, name);
        (number(&native["count"]) == Some(observed as f64)).then_some(native)
    });
    let bucket_total: f64 = buckets(&last).iter().map(|b| b.3).sum();
    assert_eq!(bucket_total, observed as f64, "{last}");

    // Every scrape of the minute: up, with samples, none skipped.
    let window = format!("[{}ms]", ((end - start) * 1000.0) as u64);
    let scrapes = number_at(
        &mut prometheus,
        &format!("count_over_time(up{window})"),
        end,
    );
    let up = number_at(&mut prometheus, &format!("min_over_time(up{window})"), end);
    let samples = number_at(
        &mut prometheus,
        &format!("min_over_time(scrape_samples_scraped{window})"),
        end,
    );
    println!("{scrapes} scrapes in {:.1} s", end - start);
    assert_eq!(up, 1.0, "a scrape failed");
    assert!(samples > 0.0, "a scrape had no samples");
    assert!(
        scrapes >= (end - start).floor() - 1.0,
        "{scrapes} scrapes in {} s",
        end - start
    );

    // Every scraped histogram is whole, and none counts fewer than the one before.
    let data = prometheus
        .query_range(name, start, end, 1.0)
        .expect("the load's histograms");
    let points = data["result"][0]["histograms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(points.len() as f64 >= scrapes - 1.0, "{data}");
    let mut previous = 0.0;
    for point in &points {
        let histogram = &point[1];
        let count = number(&histogram["count"]).unwrap();
        let bucket_total: f64 = buckets(histogram).iter().map(|b| b.3).sum();
        assert_eq!(bucket_total, count, "a torn scrape: {histogram}");
        assert!(count >= previous, "the count went down: {histogram}");
        previous = count;
    }
    drop(prometheus);
    drop(runtime);
}
