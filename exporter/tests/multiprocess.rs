//! Multiprocess mode: the metrics of spawned, forked and killed processes on one page.
//!
//! The test binary is its own child: `child` does nothing unless `MULTIPROCESS_CHILD` names
//! what the spawned process should do.
#![allow(unsafe_code)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use dynamo_exporter::multiprocess::{self, GaugeMode};
use dynamo_exporter::{NativeHistogram, Opts, Registry, TextEncoder, fork};

/// The same metrics in every process.
struct Metrics {
    jobs: dynamo_exporter::IntCounterVec,
    seconds: dynamo_exporter::Counter,
    running: dynamo_exporter::IntGauge,
    cache: dynamo_exporter::Gauge,
    peak: dynamo_exporter::Gauge,
    latency: dynamo_exporter::HistogramVec,
    /// Native only: its native buckets stay in each process, its count and sum merge.
    ttft: dynamo_exporter::Histogram,
}

fn metrics(dir: &Path) -> (Registry, Metrics) {
    multiprocess::set_directory(dir).unwrap();
    let registry = Registry::new();
    registry.join_multiprocess().unwrap();
    // Infos and statesets are not kept in the directory: refused, with nothing registered.
    assert!(matches!(
        registry.info(&Opts::new("build", "Build")),
        Err(dynamo_exporter::ExporterError::NotMultiprocess { metric, .. }) if metric == "build"
    ));
    assert!(matches!(
        registry.state_set(&Opts::new("phase", "Phase"), &["up"]),
        Err(dynamo_exporter::ExporterError::NotMultiprocess { .. })
    ));
    assert!(registry.family_names().is_empty());
    let metrics = Metrics {
        jobs: registry
            .int_counter_vec(&Opts::new("jobs_total", "Jobs \"done\""), &["worker"])
            .unwrap(),
        seconds: registry
            .counter(&Opts::new("busy_seconds_total", "Busy"))
            .unwrap(),
        running: registry
            .int_gauge(&Opts::new("running", "Running"))
            .unwrap(),
        cache: registry
            .gauge(&Opts::new("cache", "Cache").with_multiprocess_mode(GaugeMode::All))
            .unwrap(),
        peak: registry
            .gauge(&Opts::new("peak", "Peak").with_multiprocess_mode(GaugeMode::Max))
            .unwrap(),
        latency: registry
            .histogram_vec(
                &Opts::new("latency_seconds", "Latency"),
                &["route"],
                Some(&[0.1, 1.0]),
            )
            .unwrap(),
        ttft: registry
            .histogram(
                &Opts::new("ttft_seconds", "TTFT").with_native(NativeHistogram::new(1.1)),
                Some(&[]),
            )
            .unwrap(),
    };
    (registry, metrics)
}

fn spawn(dir: &Path, role: &str, index: u32) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("MULTIPROCESS_CHILD", role)
        .env("MULTIPROCESS_INDEX", index.to_string())
        .env(multiprocess::DIRECTORY_VARIABLE, dir)
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A spawned process: `done` records and exits; `killed` records, says so, then counts
/// on until it is killed, in the middle of an update.
#[test]
fn child() {
    let Ok(role) = std::env::var("MULTIPROCESS_CHILD") else {
        return;
    };
    let index: u32 = std::env::var("MULTIPROCESS_INDEX")
        .unwrap()
        .parse()
        .unwrap();
    let dir = std::env::var(multiprocess::DIRECTORY_VARIABLE).unwrap();
    let (_registry, m) = metrics(Path::new(&dir));
    let jobs = m.jobs.with_label_values(&["spawned"]);
    for _ in 0..1000 {
        jobs.inc();
    }
    m.seconds.inc_by(0.25);
    m.running.set(2);
    m.peak.set(f64::from(index));
    m.latency.with_label_values(&["/a"]).observe(0.5);
    m.ttft.observe(0.5);
    if role == "killed" {
        println!("recorded");
        let spinning = m.jobs.with_label_values(&["spinning"]);
        loop {
            spinning.inc();
        }
    }
}

fn scrape(registry: &Registry) -> String {
    let mut page = String::new();
    registry.encode(&[], &mut TextEncoder::new(&mut page));
    page
}

/// The count of the killed child's spinning series on a page.
fn spinning(page: &str) -> u64 {
    let line = page
        .lines()
        .find(|l| l.contains("worker=\"spinning\""))
        .unwrap_or("x 0");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn one_page_for_spawned_forked_and_killed_processes() {
    let dir = std::env::temp_dir().join(format!("dynamo-mp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (registry, m) = metrics(&dir);
    m.jobs.with_label_values(&["parent"]).inc_by(5);
    m.running.set(1);
    m.cache.set(3.5);
    m.peak.set(1.5);
    m.latency.with_label_values(&["/a"]).observe(0.0625);
    m.ttft.observe(0.25);

    // Every process that made the `all` gauge shows in it, with its pid.
    let mut pids = vec![std::process::id()];
    for index in 0..3 {
        let mut child = spawn(&dir, "done", index);
        pids.push(child.id());
        assert!(child.wait().unwrap().success());
    }

    // Forked children record through the handles they inherit, into files of their own.
    for _ in 0..2 {
        assert!(fork::prepare());
        // SAFETY: the child only records through inherited handles and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            fork::after_in_child();
            m.jobs.with_label_values(&["parent"]).inc_by(100);
            m.running.inc();
            m.latency.with_label_values(&["/b"]).observe(2.0);
            m.ttft.observe(1.0);
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        fork::after_in_parent();
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0);
        pids.push(pid as u32);
    }

    // A child killed while it runs: its counters stay, its live gauge goes.
    let mut killed = spawn(&dir, "killed", 9);
    pids.push(killed.id());
    let mut out = BufReader::new(killed.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("recorded") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let counted = loop {
        let page = scrape(&registry);
        assert!(page.contains("running 3\n"), "{page}");
        let counted = spinning(&page);
        if counted > 0 || std::time::Instant::now() > deadline {
            break counted;
        }
    };
    killed.kill().unwrap();
    killed.wait().unwrap();

    // Whatever the killed child counted stays, however far it got.
    let page = scrape(&registry);
    assert!(spinning(&page) >= counted && counted > 0, "{page}");
    let page: String = page
        .lines()
        .filter(|line| !line.contains("spinning"))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut cache: Vec<(String, &str)> = pids.iter().map(|p| (p.to_string(), "0")).collect();
    cache[0].1 = "3.5";
    cache.sort();
    let cache: String = cache
        .iter()
        .map(|(pid, v)| format!("cache{{pid=\"{pid}\"}} {v}\n"))
        .collect();
    let expected = format!(
        "# HELP busy_seconds_total Busy\n\
         # TYPE busy_seconds_total counter\n\
         busy_seconds_total 1\n\
         # HELP cache Cache\n\
         # TYPE cache gauge\n\
         {cache}\
         # HELP jobs_total Jobs \"done\"\n\
         # TYPE jobs_total counter\n\
         jobs_total{{worker=\"parent\"}} 205\n\
         jobs_total{{worker=\"spawned\"}} 4000\n\
         # HELP latency_seconds Latency\n\
         # TYPE latency_seconds histogram\n\
         latency_seconds_bucket{{route=\"/a\",le=\"0.1\"}} 1\n\
         latency_seconds_bucket{{route=\"/a\",le=\"1\"}} 5\n\
         latency_seconds_bucket{{route=\"/a\",le=\"+Inf\"}} 5\n\
         latency_seconds_sum{{route=\"/a\"}} 2.0625\n\
         latency_seconds_count{{route=\"/a\"}} 5\n\
         latency_seconds_bucket{{route=\"/b\",le=\"0.1\"}} 0\n\
         latency_seconds_bucket{{route=\"/b\",le=\"1\"}} 0\n\
         latency_seconds_bucket{{route=\"/b\",le=\"+Inf\"}} 2\n\
         latency_seconds_sum{{route=\"/b\"}} 4\n\
         latency_seconds_count{{route=\"/b\"}} 2\n\
         # HELP peak Peak\n\
         # TYPE peak gauge\n\
         peak 9\n\
         # HELP running Running\n\
         # TYPE running gauge\n\
         running 1\n\
         # HELP ttft_seconds TTFT\n\
         # TYPE ttft_seconds histogram\n\
         ttft_seconds_bucket{{le=\"+Inf\"}} 7\n\
         ttft_seconds_sum 4.25\n\
         ttft_seconds_count 7\n"
    );
    assert_eq!(page, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
