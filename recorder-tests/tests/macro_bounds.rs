//! The series `metrics` macros create under one name are bounded like a vec's, and can be
//! dropped once idle; a call that comes back after its series was dropped starts a new one.
//!
//! Its own test binary: it installs the global recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dynamo_runtime::DistributedRuntime;

/// The lines of `text` that belong to `family`.
fn family(text: &str, family: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            line.strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .unwrap_or(line)
                .starts_with(family)
        })
        .collect()
}

#[test]
fn macro_series_are_bounded_per_name_and_dropped_once_idle() {
    let now = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&now);
    let rt = DistributedRuntime::builder()
        .uptime_clock(move || Duration::from_secs(clock.load(Ordering::SeqCst)))
        .max_series(3)
        .series_idle_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    let ep = rt.namespace("ns").component("comp").endpoint("ep");
    let labels = "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";

    ep.in_scope(|| {
        for id in ["a", "b", "c", "d", "e"] {
            metrics::counter!("jobs_total", "id" => id).increment(1);
        }
    });
    let scrape = || rt.metrics().prometheus_expfmt().unwrap();
    assert_eq!(
        family(&scrape(), "dynamo_component_jobs_total"),
        format!(
            "# HELP dynamo_component_jobs_total dynamo_component_jobs_total\n\
             # TYPE dynamo_component_jobs_total counter\n\
             dynamo_component_jobs_total{{{labels},id=\"a\"}} 1\n\
             dynamo_component_jobs_total{{{labels},id=\"b\"}} 1\n\
             dynamo_component_jobs_total{{{labels},id=\"c\"}} 1\n\
             dynamo_component_jobs_total{{otel_metric_overflow=\"true\"}} 2\n"
        )
    );

    // Thirty seconds on, `a` changes; a minute after the first scrape, the others have been
    // unchanged for a minute and go. `a` goes once a minute passes without change.
    now.store(30, Ordering::SeqCst);
    ep.in_scope(|| metrics::counter!("jobs_total", "id" => "a").increment(1));
    assert!(scrape().contains("id=\"b\""), "not idle for a minute yet");
    now.store(61, Ordering::SeqCst);
    assert_eq!(
        family(&scrape(), "dynamo_component_jobs_total"),
        format!(
            "# HELP dynamo_component_jobs_total dynamo_component_jobs_total\n\
             # TYPE dynamo_component_jobs_total counter\n\
             dynamo_component_jobs_total{{{labels},id=\"a\"}} 2\n"
        )
    );
    // A call for a dropped series starts it again at zero, and there is room again.
    ep.in_scope(|| {
        metrics::counter!("jobs_total", "id" => "b").increment(4);
        metrics::counter!("jobs_total", "id" => "f").increment(1);
    });
    let text = scrape();
    assert!(
        text.contains(&format!("{{{labels},id=\"b\"}} 4\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{{{labels},id=\"f\"}} 1\n")),
        "{text}"
    );
    now.store(200, Ordering::SeqCst);
    scrape();
    assert_eq!(family(&scrape(), "dynamo_component_jobs_total"), "");
}
