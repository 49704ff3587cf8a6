//! Histogram timers: `start_timer` observes exactly once (on drop or stop) unless discarded,
//! `observe_closure_duration` observes even when the closure panics, and vec children time
//! like any histogram.
//!
//! Durations vary from run to run, so the buckets are chosen to make the placement certain
//! (every timed piece of work spins for at least 2 ms, above the `0.001` bucket and below
//! `3600`), and the `_sum` value is checked against bounds, then masked, before the whole text
//! is compared.

use std::time::{Duration, Instant};

use dynamo_exporter::{Histogram, Opts, Registry};

const BUCKETS: [f64; 2] = [0.001, 3600.0];

fn histogram(registry: &Registry) -> Histogram {
    registry
        .histogram(&Opts::new("work_seconds", "Work"), Some(&BUCKETS))
        .unwrap()
}

/// Spins (no sleep) until at least `wait` has passed.
fn spin_for(wait: Duration) {
    let start = Instant::now();
    while start.elapsed() < wait {
        std::hint::spin_loop();
    }
}

/// The render with every `_sum` value replaced by `SUM`, after checking it lies in
/// `[low, 3600)`.
fn render_masking_sums(registry: &Registry, low: f64) -> String {
    let text = registry.render();
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once("_sum") {
            Some((name, rest)) if !name.starts_with('#') => {
                let (labels, value) = rest.rsplit_once(' ').unwrap();
                let value: f64 = value.parse().unwrap();
                assert!((low..3600.0).contains(&value), "{line}");
                out.push_str(&format!("{name}_sum{labels} SUM\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The text of `work_seconds` with `fast` observations under 1 ms and `slow` ones above.
fn expected(labels: &str, fast: u64, slow: u64) -> String {
    let with = |le: &str| {
        if labels.is_empty() {
            format!("{{le=\"{le}\"}}")
        } else {
            format!("{{{labels},le=\"{le}\"}}")
        }
    };
    let plain = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let all = fast + slow;
    format!(
        "# HELP work_seconds Work\n\
         # TYPE work_seconds histogram\n\
         work_seconds_bucket{} {fast}\n\
         work_seconds_bucket{} {all}\n\
         work_seconds_bucket{} {all}\n\
         work_seconds_sum{plain} SUM\n\
         work_seconds_count{plain} {all}\n",
        with("0.001"),
        with("3600"),
        with("+Inf"),
    )
}

#[test]
fn a_dropped_timer_observes_the_time_once() {
    let registry = Registry::new();
    let work = histogram(&registry);
    {
        let _timer = work.start_timer();
        spin_for(Duration::from_millis(2));
    }
    assert_eq!(render_masking_sums(&registry, 0.002), expected("", 0, 1));
}

#[test]
fn observe_duration_observes_once_and_the_drop_adds_nothing() {
    let registry = Registry::new();
    let work = histogram(&registry);
    let timer = work.start_timer();
    spin_for(Duration::from_millis(2));
    timer.observe_duration();
    assert_eq!(work.get_count(), 1);
    assert_eq!(render_masking_sums(&registry, 0.002), expected("", 0, 1));
}

#[test]
fn stop_and_record_returns_the_seconds_it_observed() {
    let registry = Registry::new();
    let work = histogram(&registry);
    let timer = work.start_timer();
    spin_for(Duration::from_millis(2));
    let seconds = timer.stop_and_record();
    assert!(seconds >= 0.002, "{seconds}");
    assert_eq!(work.get_sum(), seconds);
    assert_eq!(work.get_count(), 1);
}

#[test]
fn stop_and_discard_observes_nothing() {
    let registry = Registry::new();
    let work = histogram(&registry);
    let timer = work.start_timer();
    spin_for(Duration::from_millis(2));
    let seconds = timer.stop_and_discard();
    assert!(seconds >= 0.002, "{seconds}");
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP work_seconds Work\n",
            "# TYPE work_seconds histogram\n",
            "work_seconds_bucket{le=\"0.001\"} 0\n",
            "work_seconds_bucket{le=\"3600\"} 0\n",
            "work_seconds_bucket{le=\"+Inf\"} 0\n",
            "work_seconds_sum 0\n",
            "work_seconds_count 0\n",
        )
    );
}

#[test]
fn observe_closure_duration_returns_the_closure_value_and_observes() {
    let registry = Registry::new();
    let work = histogram(&registry);
    let answer = work.observe_closure_duration(|| {
        spin_for(Duration::from_millis(2));
        42
    });
    assert_eq!(answer, 42);
    assert_eq!(render_masking_sums(&registry, 0.002), expected("", 0, 1));
}

#[test]
fn observe_closure_duration_observes_when_the_closure_panics() {
    let registry = Registry::new();
    let work = histogram(&registry);
    let caught = std::panic::catch_unwind(|| {
        work.observe_closure_duration(|| {
            spin_for(Duration::from_millis(2));
            panic!("the work failed")
        })
    });
    let payload = caught.expect_err("the work panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the work failed"));
    assert_eq!(render_masking_sums(&registry, 0.002), expected("", 0, 1));
}

#[test]
fn vec_children_have_timers() {
    let registry = Registry::new();
    let by_model = registry
        .histogram_vec(
            &Opts::new("work_seconds", "Work"),
            &["model"],
            Some(&BUCKETS),
        )
        .unwrap();
    let timer = by_model.with_label_values(&["llama"]).start_timer();
    spin_for(Duration::from_millis(2));
    timer.observe_duration();
    let dropped = by_model.with_label_values(&["llama"]).start_timer();
    spin_for(Duration::from_millis(2));
    drop(dropped);
    by_model
        .with_label_values(&["mistral"])
        .start_timer()
        .stop_and_discard();
    let mistral: String = expected("model=\"mistral\"", 0, 0)
        .lines()
        .skip(2) // the family header is written once
        .map(|line| format!("{line}\n"))
        .collect();
    // The series that was never observed has a sum of 0.
    assert_eq!(
        render_masking_sums(&registry, 0.0),
        expected("model=\"llama\"", 0, 2) + &mistral
    );
    assert!(by_model.with_label_values(&["llama"]).get_sum() >= 0.004);
}
