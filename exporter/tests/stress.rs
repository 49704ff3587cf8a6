//! Threads updating, creating, removing and scraping one vec at once: no panic, no increment
//! lost on a series that was not removed, and removed series gone from the scrape.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dynamo_exporter::{Opts, Registry};

const WRITERS: u64 = 4;
const INCREMENTS: u64 = 20_000;
const CHURN_ROUNDS: usize = 200;
const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn concurrent_updates_removals_and_scrapes_lose_nothing_kept() {
    let registry = Registry::new();
    let vec = registry
        .int_counter_vec(&Opts::new("work_total", "Work"), &["kind", "id"])
        .unwrap();
    vec.set_max_series(0);
    let stop = AtomicBool::new(false);
    let scrapes = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        // Writers: each increments its own kept series, looking it up every time, and
        // creates and removes short-lived series of its own.
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let vec = vec.clone();
                s.spawn(move || {
                    let id = w.to_string();
                    for n in 0..INCREMENTS {
                        vec.with_label_values(&["kept", &id]).inc();
                        if n % 100 == 0 {
                            let temp = format!("{w}-{n}");
                            vec.with_label_values(&["temp", &temp]).inc();
                            vec.remove_label_values(&["temp", &temp]).unwrap();
                        }
                    }
                })
            })
            .collect();
        // A churner: creates and clears batches of series another kind.
        s.spawn(|| {
            for round in 0..CHURN_ROUNDS {
                for i in 0..50 {
                    vec.with_label_values(&["churn", &format!("{round}-{i}")])
                        .inc();
                }
                assert_eq!(vec.remove_matching(&[("kind", "churn")]), 50);
                assert!(started.elapsed() < LIMIT, "churn too slow");
            }
        });
        // Scrapers: every page is well formed while all this goes on.
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let text = registry.render();
                    for line in text.lines().filter(|l| !l.starts_with('#')) {
                        let value: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                        assert!(value <= WRITERS * INCREMENTS, "{line}");
                    }
                    scrapes.fetch_add(1, Ordering::Relaxed);
                    assert!(started.elapsed() < LIMIT, "scrapes too slow");
                }
            });
        }
        for writer in writers {
            writer.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(scrapes.load(Ordering::Relaxed) > 0);
    let mut expected = String::from("# HELP work_total Work\n# TYPE work_total counter\n");
    for w in 0..WRITERS {
        expected.push_str(&format!(
            "work_total{{id=\"{w}\",kind=\"kept\"}} {INCREMENTS}\n"
        ));
    }
    assert_eq!(registry.render(), expected);
    assert_eq!(vec.series_count(), WRITERS as usize);
}
