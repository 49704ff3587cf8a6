//! The standard `process_*` metrics: present on the runtime's page by default, plausible
//! against what `/proc` says in the test itself, valid for promtool, and absent when off.
//! (Elsewhere than Linux the runtime reads no figures, so the page has no process metrics.)

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Sample, assert_promtool_accepts, parse_exposition, scrape, serve, usage, value_of};
use dynamo_runtime::{DistributedRuntime, RuntimeBuilder};

const NAMES: [(&str, &str, &str); 7] = [
    (
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    ),
    (
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
    ),
    (
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    ),
    (
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
    (
        "process_threads",
        "gauge",
        "Number of OS threads in the process.",
    ),
    (
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    ),
];

fn runtime(builder: RuntimeBuilder) -> DistributedRuntime {
    builder
        .global_recorder(false)
        .build()
        .expect("the runtime starts")
}

fn page(runtime: &DistributedRuntime) -> String {
    runtime.metrics().prometheus_expfmt().unwrap()
}

fn samples(runtime: &DistributedRuntime) -> Vec<Sample> {
    parse_exposition(&page(runtime)).expect("the page parses")
}

fn value(samples: &[Sample], name: &str) -> f64 {
    value_of(samples, name, &[]).unwrap_or_else(|| panic!("no {name} in {samples:?}"))
}

/// The soft limit on open files, from `/proc/self/limits`.
fn soft_fd_limit() -> f64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a Max open files line");
    let soft = line["Max open files".len()..]
        .split_whitespace()
        .next()
        .unwrap();
    if soft == "unlimited" {
        f64::INFINITY
    } else {
        soft.parse().unwrap()
    }
}

/// Asserts that `shown` equals `now`, read before and after it: other tests of this binary run
/// on other threads and open descriptors and threads meanwhile, so readings that moved are
/// taken again, until the deadline.
fn assert_steady_equal(what: &str, now: impl Fn() -> usize, shown: impl Fn() -> f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = now();
        let measured = shown();
        let after = now();
        if before == after && measured == before as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the page shows {measured}, the process has {before} then {after}"
        );
    }
}

#[test]
fn every_process_metric_is_on_the_runtime_page_with_the_standard_help() {
    let runtime = runtime(DistributedRuntime::builder());
    let text = page(&runtime);
    for (name, kind, help) in NAMES {
        assert!(text.contains(&format!("# HELP {name} {help}\n")), "{text}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{text}");
        assert!(text.contains(&format!("\n{name} ")), "{text}");
    }
    assert_promtool_accepts(&text);
    let below = runtime
        .namespace("ns")
        .metrics()
        .prometheus_expfmt()
        .unwrap();
    assert!(
        !below.contains("process_"),
        "only the runtime level shows them: {below}"
    );
}

#[test]
fn figures_agree_with_proc_self() {
    let runtime = runtime(DistributedRuntime::builder());
    let samples = samples(&runtime);
    let rss = usage().rss_bytes as f64;
    let resident = value(&samples, "process_resident_memory_bytes");
    assert!(
        (resident - rss).abs() <= rss * 0.1,
        "resident {resident} bytes, VmRSS {rss} bytes"
    );
    assert!(value(&samples, "process_virtual_memory_bytes") >= resident);
    assert_eq!(value(&samples, "process_max_fds"), soft_fd_limit());

    // Each count includes the descriptor its reader holds open: `/proc/self/fd` in the test,
    // `/proc/self` in the scrape.
    assert_steady_equal(
        "process_open_fds",
        || usage().fds,
        || value(&self::samples(&runtime), "process_open_fds"),
    );
    assert_steady_equal(
        "process_threads",
        || usage().threads,
        || value(&self::samples(&runtime), "process_threads"),
    );

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = value(&samples, "process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "started at {start}, now {now}"
    );
}

/// How far sums of floating-point differences may stray from the readings they add up.
const EPSILON: f64 = 1e-9;

/// User and system CPU seconds of this process, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which ends with the last `)`: utime and stime are
    // the 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn cpu_seconds_never_go_down_and_follow_proc_self_stat() {
    let runtime = runtime(DistributedRuntime::builder());
    let mut last = 0.0;
    for _ in 0..3 {
        // Work until the kernel has counted a tenth of a second more (however busy the
        // machine is), then scrape between two readings of our own.
        let goal = cpu_seconds() + 0.1;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut spins = 0u64;
        while cpu_seconds() < goal {
            for _ in 0..100_000 {
                spins = std::hint::black_box(spins.wrapping_add(1));
            }
            assert!(Instant::now() < deadline, "the CPU time never grew");
        }
        let before = cpu_seconds();
        let shown = value(&samples(&runtime), "process_cpu_seconds_total");
        let after = cpu_seconds();
        // The counter adds up differences of readings: equal to them up to rounding.
        assert!(
            before - EPSILON <= shown && shown <= after + EPSILON,
            "shown {shown}, /proc/self/stat {before} then {after}"
        );
        assert!(
            shown >= last + 0.1 - EPSILON,
            "CPU seconds went from {last} to {shown}"
        );
        last = shown;
    }
}

#[test]
fn are_absent_when_turned_off_in_code_or_by_the_variable() {
    let off = runtime(DistributedRuntime::builder().process_metrics(false));
    assert!(!page(&off).contains("process_"), "{}", page(&off));
    for value in ["0", "false", "off", "OFF"] {
        let env = runtime(DistributedRuntime::builder().system_server_env(move |var| {
            (var == "DYN_METRICS_PROCESS").then(|| value.to_string())
        }));
        assert!(!page(&env).contains("process_"), "{value}: {}", page(&env));
    }
    let code_wins = runtime(
        DistributedRuntime::builder()
            .system_server_env(|var| (var == "DYN_METRICS_PROCESS").then(|| "0".to_string()))
            .process_metrics(true),
    );
    assert!(page(&code_wins).contains("process_cpu_seconds_total"));
    let error = DistributedRuntime::builder()
        .system_server_env(|var| (var == "DYN_METRICS_PROCESS").then(|| "maybe".to_string()))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "DYN_METRICS_PROCESS=\"maybe\" is invalid: expected 1, true or on (show the process \
         metrics) or 0, false or off"
    );
}

#[test]
fn are_served_on_metrics_with_the_constant_labels_and_pass_promtool() {
    let (_runtime, addr) = serve(
        common::builder()
            .process_metrics(true)
            .const_labels(&[("cluster", "us-west")]),
    );
    let text = scrape(addr);
    let samples = parse_exposition(&text).unwrap();
    for (name, _, _) in NAMES {
        let sample = samples
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        assert_eq!(
            sample.labels,
            [("cluster".to_string(), "us-west".to_string())]
        );
    }
    assert_promtool_accepts(&text);
}
