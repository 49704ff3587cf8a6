//! Handles held across a series' removal: whatever they record afterwards goes nowhere, never
//! into the series created next, even when that series takes the removed one's slot while an
//! update through the old handle is half done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dynamo_exporter::{Opts, Registry};

/// How long the loop of removals and creations runs.
const RUN: Duration = Duration::from_secs(10);
/// Threads updating through handles that are removed under them.
const WRITERS: usize = 2;
/// Fresh series alive at once: each is checked some creations after it was made, so a stray
/// update that was half done when it was created has landed by then.
const FRESH_ALIVE: usize = 8;

#[test]
fn updates_through_removed_handles_never_reach_the_series_that_reuses_the_slot() {
    let registry = Registry::new();
    let ints = registry
        .int_counter_vec(&Opts::new("int_total", "Int"), &["series"])
        .unwrap();
    let floats = registry
        .counter_vec(&Opts::new("float_total", "Float"), &["series"])
        .unwrap();
    let stop = AtomicBool::new(false);
    let mut misplaced = Vec::new();
    let mut cycles = 0u64;
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let int = ints.with_label_values(&["held"]);
                    let float = floats.with_label_values(&["held"]);
                    for _ in 0..1000 {
                        int.inc();
                        float.inc_by(0.5);
                    }
                }
            });
        }
        let started = Instant::now();
        let mut fresh = std::collections::VecDeque::new();
        while started.elapsed() < RUN {
            ints.remove_label_values(&["held"]).ok();
            floats.remove_label_values(&["held"]).ok();
            let name = format!("fresh-{cycles}");
            fresh.push_back((
                name.clone(),
                ints.with_label_values(&[&name]),
                floats.with_label_values(&[&name]),
            ));
            if fresh.len() > FRESH_ALIVE {
                let (name, int, float) = fresh.pop_front().unwrap();
                if int.get() != 0 || float.get() != 0.0 {
                    misplaced.push((name.clone(), int.get(), float.get()));
                }
                ints.remove_label_values(&[&name]).unwrap();
                floats.remove_label_values(&[&name]).unwrap();
            }
            cycles += 1;
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(cycles > 1000, "only {cycles} cycles ran");
    assert_eq!(
        misplaced,
        Vec::<(String, u64, f64)>::new(),
        "updates through removed handles landed in later series ({cycles} cycles)"
    );
}
