//! Resident memory per series: 100,000 series built by each library, each in a fresh child
//! process, measured as the growth of its resident set size.
//!
//! Run with `cargo bench -p dynamo-metrics-benches --bench memory`.

use std::process::Command;

use dynamo_metrics_benches::{ours_series, prometheus_client_crate, prometheus_crate};

const SERIES: usize = 100_000;
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        println!("{}", measure(&args[pos + 1]));
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
}
