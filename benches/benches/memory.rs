//! Resident memory per series: 100,000 series built by each library, each in a fresh child
//! process, measured as the growth of its resident set size. Then churn: 20 rounds of
//! creating 100,000 new series and removing them, with the resident set after each round.
//!
//! Run with `cargo bench -p dynamo-benches --bench memory`.

use std::process::Command;

use dynamo_benches::{ours_endpoint, ours_series, prometheus_client_crate, prometheus_crate};
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family;

const SERIES: usize = 100_000;
const ROUNDS: usize = 20;
const LIBRARIES: [&str; 3] = ["ours", "prometheus", "prometheus_client"];

/// The resident set size of this process in bytes, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn measure(library: &str) -> u64 {
    let before = resident_bytes();
    match library {
        "ours" => std::mem::forget(ours_series(SERIES)),
        "prometheus" => std::mem::forget(prometheus_crate::series(SERIES)),
        "prometheus_client" => std::mem::forget(prometheus_client_crate::series(SERIES)),
        other => panic!("unknown library {other}"),
    }
    resident_bytes() - before
}

/// Rounds of creating and removing `SERIES` series; prints the resident set after each.
fn churn(library: &str) {
    let rounds: Vec<u64> = match library {
        "ours" => {
            let (_runtime, metrics) = ours_endpoint();
            let vec = metrics
                .create_intcountervec("churn_total", "Churn", &["model", "worker"], &[])
                .unwrap();
            (0..ROUNDS)
                .map(|round| {
                    each_value(round, |v| vec.with_label_values(v).inc());
                    each_value(round, |v| vec.remove_label_values(v).unwrap());
                    resident_bytes()
                })
                .collect()
        }
        "prometheus" => {
            let vec = prometheus::IntCounterVec::new(
                prometheus::Opts::new("churn_total", "Churn"),
                &["model", "worker"],
            )
            .unwrap();
            (0..ROUNDS)
                .map(|round| {
                    each_value(round, |v| vec.with_label_values(v).inc());
                    each_value(round, |v| vec.remove_label_values(v).unwrap());
                    resident_bytes()
                })
                .collect()
        }
        "prometheus_client" => {
            let family = Family::<[(&'static str, String); 2], PcCounter>::default();
            (0..ROUNDS)
                .map(|round| {
                    each_value(round, |[a, b]| {
                        family
                            .get_or_create(&[("model", a.to_string()), ("worker", b.to_string())])
                            .inc();
                    });
                    each_value(round, |[a, b]| {
                        family.remove(&[("model", a.to_string()), ("worker", b.to_string())]);
                    });
                    resident_bytes()
                })
                .collect()
        }
        other => panic!("unknown library {other}"),
    };
    let text: Vec<String> = rounds.iter().map(u64::to_string).collect();
    println!("{}", text.join(" "));
}

/// Calls `f` with the label values of each series of round `round` (new ones every round),
/// written into the same two buffers, so the benchmark itself keeps no memory.
fn each_value(round: usize, mut f: impl FnMut(&[&str; 2])) {
    use std::fmt::Write;
    let (mut model, mut worker) = (String::new(), String::new());
    for i in 0..SERIES {
        model.clear();
        worker.clear();
        let _ = write!(model, "model-{}-r{round}", i / 100);
        let _ = write!(worker, "worker-{}", i % 100);
        f(&[model.as_str(), worker.as_str()]);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        println!("{}", measure(&args[pos + 1]));
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--churn") {
        churn(&args[pos + 1]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    println!("resident memory per series, {SERIES} series");
    for library in LIBRARIES {
        let output = Command::new(&args[0])
            .args(["--child", library])
            .output()
            .expect("child runs");
        let bytes: u64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("child prints bytes");
        println!(
            "memory_per_series/{library:<20} {:>8.1} bytes",
            bytes as f64 / SERIES as f64
        );
    }
    println!("resident memory through {ROUNDS} rounds of creating and removing {SERIES} series");
    for library in LIBRARIES {
        let output = Command::new(&args[0])
            .args(["--churn", library])
            .output()
            .expect("child runs");
        let rounds: Vec<u64> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(|n| n.parse().expect("child prints bytes"))
            .collect();
        let (first, last) = (rounds[0], rounds[rounds.len() - 1]);
        println!(
            "churn/{library:<20} round 1 {:>7.1} MiB, round {ROUNDS} {:>7.1} MiB, ratio {:.2}",
            first as f64 / 1048576.0,
            last as f64 / 1048576.0,
            last as f64 / first as f64
        );
    }
}
