//! Under load: two writers increment while several clients scrape for a few seconds. Every
//! scrape parses, no counter goes backwards, and the final scrape holds every increment.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{self, builder, gunzip, parse_exposition, request, scrape, serve, value_of};

const WRITERS: usize = 2;
const CLIENTS: usize = 4;
const WRITE_FOR: Duration = Duration::from_secs(3);
/// A cap on each writer's increments, so a fast machine still ends promptly.
const MAX_WRITES: u64 = 50_000_000;

/// The counter samples of one scrape, by series.
fn counters(text: &str) -> HashMap<String, f64> {
    let samples = parse_exposition(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    samples
        .into_iter()
        .filter(|s| s.name.ends_with("_total"))
        .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
        .collect()
}

#[test]
fn scrapes_stay_consistent_while_writers_increment() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder());
    let metrics = runtime.namespace("load").component("writers").metrics();
    let per_writer = metrics
        .create_intcountervec("writes_total", "Increments by writer", &["writer"], &[])
        .unwrap();
    let all = metrics
        .create_counter("all_writes_total", "Increments of every writer", &[])
        .unwrap();
    let writing = Arc::new(AtomicBool::new(true));

    let writers: Vec<_> = (0..WRITERS)
        .map(|id| {
            let child = per_writer.with_label_values(&[&id.to_string()]).clone();
            let all = all.clone();
            thread::spawn(move || {
                let deadline = Instant::now() + WRITE_FOR;
                let mut writes = 0u64;
                while writes < MAX_WRITES && (writes % 1024 != 0 || Instant::now() < deadline) {
                    child.inc();
                    all.inc();
                    writes += 1;
                }
                writes
            })
        })
        .collect();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let writing = Arc::clone(&writing);
            thread::spawn(move || {
                let mut last: HashMap<String, f64> = HashMap::new();
                let mut scrapes = 0u32;
                // At least one scrape, and at most a bounded number.
                while (scrapes == 0 || writing.load(Ordering::Acquire)) && scrapes < 100_000 {
                    let text = if id % 2 == 0 {
                        scrape(addr)
                    } else {
                        let response =
                            request(addr, "GET", "/metrics", &[("Accept-Encoding", "gzip")])
                                .unwrap();
                        assert_eq!(response.status, 200);
                        gunzip(&response.body)
                    };
                    let now = counters(&text);
                    for (series, value) in &now {
                        if let Some(before) = last.get(series) {
                            assert!(
                                value >= before,
                                "{series} went back from {before} to {value}"
                            );
                        }
                    }
                    last = now;
                    scrapes += 1;
                }
                scrapes
            })
        })
        .collect();

    let writes: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    writing.store(false, Ordering::Release);
    for client in clients {
        assert!(client.join().unwrap() > 0);
    }

    let samples = parse_exposition(&scrape(addr)).unwrap();
    for (id, count) in writes.iter().enumerate() {
        assert!(*count > 0);
        assert_eq!(
            value_of(
                &samples,
                "dynamo_component_writes_total",
                &[("writer", &id.to_string())]
            ),
            Some(*count as f64),
            "writer {id}"
        );
    }
    let total: u64 = writes.iter().sum();
    assert_eq!(
        value_of(&samples, "dynamo_component_all_writes_total", &[]),
        Some(total as f64)
    );
}
