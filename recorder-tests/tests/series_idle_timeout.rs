//! `RuntimeBuilder::series_idle_timeout` says one of three things: nothing (the environment's
//! `DYN_METRICS_IDLE_TIMEOUT` holds), never (`None` or zero, over the environment), or a
//! timeout (over the environment).
//!
//! Its own test binary: it installs the global recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, RuntimeBuilder};

/// Whether a macro series left unchanged for two minutes is still on the page.
fn kept_after_two_idle_minutes(builder: RuntimeBuilder) -> bool {
    let now = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&now);
    let runtime = builder
        .process_metrics(false)
        .uptime_clock(move || Duration::from_secs(clock.load(Ordering::SeqCst)))
        .build()
        .unwrap();
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    endpoint.in_scope(|| metrics::counter!("jobs_total").increment(1));
    let scrape = || endpoint.metrics().prometheus_expfmt().unwrap();
    assert!(scrape().contains("dynamo_component_jobs_total{"));
    now.store(120, Ordering::SeqCst);
    scrape().contains("dynamo_component_jobs_total{")
}

fn env(timeout: &'static str) -> RuntimeBuilder {
    DistributedRuntime::builder()
        .system_server_env(move |var| (var == "DYN_METRICS_IDLE_TIMEOUT").then(|| timeout.into()))
}

#[test]
fn the_builder_setting_is_unset_never_or_a_timeout() {
    let minute = Some(Duration::from_secs(60));
    // Unset in code: the environment's timeout, or none.
    assert!(!kept_after_two_idle_minutes(env("60s")));
    assert!(kept_after_two_idle_minutes(env("off")));
    assert!(kept_after_two_idle_minutes(DistributedRuntime::builder()));
    // Never, over the environment's timeout.
    assert!(kept_after_two_idle_minutes(
        env("60s").series_idle_timeout(None)
    ));
    assert!(kept_after_two_idle_minutes(
        env("60s").series_idle_timeout(Some(Duration::ZERO))
    ));
    // A timeout, over the environment's none.
    assert!(!kept_after_two_idle_minutes(
        env("off").series_idle_timeout(minute)
    ));
    assert!(!kept_after_two_idle_minutes(
        DistributedRuntime::builder().series_idle_timeout(minute)
    ));
    // A longer timeout, over the environment's shorter one.
    assert!(kept_after_two_idle_minutes(
        env("60s").series_idle_timeout(Some(Duration::from_secs(600)))
    ));
}
