//! Multiprocess mode when the directory is not as its writers left it: a catalog cut short, a
//! chunk file gone, thousands of processes that are gone. The page stays whole and valid.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dynamo_exporter::multiprocess;
use dynamo_exporter::{Opts, Registry, TextEncoder};

/// Above the largest pid Linux hands out (`pid_max` is at most 2^22): never a live process.
const FIRST_DEAD_PID: u32 = 1 << 22;

/// How long a scrape of a directory of 10,000 processes that are gone may take, each
/// scrape after the first (which reads every file once): in a debug build on a loaded host.
const SCRAPE_BOUND: Duration = Duration::from_secs(5);

fn page(registry: &Registry) -> String {
    let mut page = String::new();
    registry.encode(&[], &mut TextEncoder::new(&mut page));
    page
}

/// The ends of this process's file names, after `dynamo_<pid>`.
fn own_files(dir: &Path) -> Vec<String> {
    let me = format!("dynamo_{}", std::process::id());
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let rest = name.strip_prefix(&me)?;
            (rest.starts_with('_') || rest == ".catalog").then(|| rest.to_owned())
        })
        .collect()
}

/// Copies this process's files (`own`) as those of `pid`, a process that is gone.
fn copy_as(dir: &Path, own: &[String], pid: u32) -> Vec<PathBuf> {
    let me = format!("dynamo_{}", std::process::id());
    own.iter()
        .map(|rest| {
            let copy = dir.join(format!("dynamo_{pid}{rest}"));
            std::fs::copy(dir.join(format!("{me}{rest}")), &copy).unwrap();
            copy
        })
        .collect()
}

fn jobs(total: u64) -> String {
    format!(
        "# HELP jobs_total Jobs\n\
         # TYPE jobs_total counter\n\
         jobs_total{{queue=\"a\"}} {total}\n\
         jobs_total{{queue=\"b\"}} {}\n",
        total * 2
    )
}

#[test]
fn cut_missing_and_ten_thousand_gone_processes_leave_the_page_whole() {
    let dir = std::env::temp_dir().join(format!("dynamo-mp-faults-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    multiprocess::set_directory(&dir).unwrap();
    let registry = Registry::new();
    registry.join_multiprocess().unwrap();
    let jobs_total = registry
        .int_counter_vec(&Opts::new("jobs_total", "Jobs"), &["queue"])
        .unwrap();
    jobs_total.with_label_values(&["a"]).inc_by(1);
    jobs_total.with_label_values(&["b"]).inc_by(2);
    assert_eq!(page(&registry), jobs(1));
    let own = own_files(&dir);

    // A catalog cut inside its last record (a writer killed while appending it): the
    // records before it count, the one cut does not.
    let cut = copy_as(&dir, &own, FIRST_DEAD_PID);
    let catalog = cut
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "catalog"))
        .unwrap();
    let len = std::fs::metadata(catalog).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(catalog)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    assert_eq!(
        page(&registry),
        "# HELP jobs_total Jobs\n\
         # TYPE jobs_total counter\n\
         jobs_total{queue=\"a\"} 2\n\
         jobs_total{queue=\"b\"} 2\n"
    );
    std::fs::remove_file(catalog).unwrap();

    // A process whose chunk files are gone adds nothing, and breaks nothing.
    for file in copy_as(&dir, &own, FIRST_DEAD_PID + 1) {
        if file.extension().is_some_and(|e| e == "cells") {
            std::fs::remove_file(file).unwrap();
        }
    }
    assert_eq!(page(&registry), jobs(1));

    // 10,000 processes that are gone: each is read once, then kept.
    for i in 0..10_000 {
        copy_as(&dir, &own, FIRST_DEAD_PID + 2 + i);
    }
    assert_eq!(page(&registry), jobs(10_001));
    jobs_total.with_label_values(&["a"]).inc();
    let started = Instant::now();
    let text = page(&registry);
    let took = started.elapsed();
    assert!(took < SCRAPE_BOUND, "a scrape took {took:?}");
    assert!(text.contains("jobs_total{queue=\"a\"} 10002\n"), "{text}");

    // A help given by a `describe_*` macro after the metric's first use reaches the page.
    let registry = std::sync::Arc::new(registry);
    let recorder = dynamo_exporter::RegistryRecorder::new(std::sync::Arc::clone(&registry));
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("described_total").increment(1);
        metrics::describe_counter!("described_total", "Described later");
    });
    let text = page(&registry);
    assert!(
        text.contains("# HELP described_total Described later\n"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
