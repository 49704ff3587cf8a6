//! The server examples' metrics (`WorkerMetrics`, the one definition both examples use),
//! served from the test's own process: the whole page (with the runtime's own metrics), which
//! promtool accepts, and what a real Prometheus scraping it answers to PromQL over the
//! `dynamo_*` labels.
//!
//! Needs Debian's `prometheus` package; the tests fail (they do not skip) without it.

mod common;

use std::time::Duration;

use common::prometheus::Prometheus;
use common::{assert_promtool_accepts, poll_until, scrape, serve_in_process};
use dynamo_examples::WorkerMetrics;

/// The update whose values the tests set: 25 % of the cache, workers 0, 1 and 2 with 5, 8
/// and 1 requests.
const TICK: u64 = 25;

/// How long Prometheus gets to scrape and answer.
const DEADLINE: Duration = Duration::from_secs(90);

#[test]
fn the_examples_metrics_scrape_as_expected_and_pass_promtool() {
    let (runtime, addr) = serve_in_process();
    let metrics = runtime
        .namespace("example")
        .component("worker")
        .endpoint("generate")
        .metrics();
    WorkerMetrics::create(&metrics, "callback")
        .unwrap()
        .update(TICK);
    let labels =
        r#"dynamo_component="worker",dynamo_endpoint="generate",dynamo_namespace="example""#;
    let expected = [
        "# HELP dynamo_component_kv_cache_usage_ratio Fraction of the KV cache in use, from 0 to 1"
            .to_string(),
        "# TYPE dynamo_component_kv_cache_usage_ratio gauge".into(),
        format!("dynamo_component_kv_cache_usage_ratio{{{labels}}} 0.25"),
        "# HELP dynamo_component_total_slots Request slots of the worker pool".into(),
        "# TYPE dynamo_component_total_slots gauge".into(),
        format!("dynamo_component_total_slots{{{labels}}} 64"),
        "# HELP dynamo_component_updates_total Times the metrics were updated".into(),
        "# TYPE dynamo_component_updates_total counter".into(),
        format!("dynamo_component_updates_total{{{labels},update_method=\"callback\"}} 1"),
        "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds".into(),
        "# TYPE dynamo_component_uptime_seconds gauge".into(),
        "dynamo_component_uptime_seconds 1.5".into(),
        "# HELP dynamo_component_worker_active_requests Requests in flight on each worker".into(),
        "# TYPE dynamo_component_worker_active_requests gauge".into(),
        format!("dynamo_component_worker_active_requests{{{labels},worker_id=\"0\"}} 5"),
        format!("dynamo_component_worker_active_requests{{{labels},worker_id=\"1\"}} 8"),
        format!("dynamo_component_worker_active_requests{{{labels},worker_id=\"2\"}} 1"),
        "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit".into(),
        "# TYPE dynamo_metrics_callback_text_dropped_total counter".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 0".into(),
        "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric".into(),
        "# TYPE dynamo_metrics_macro_rejections_total counter".into(),
        "dynamo_metrics_macro_rejections_total 0".into(),
    ]
    .map(|line| line + "\n")
    .concat();
    let text = scrape(addr);
    assert_eq!(text, expected);
    assert_promtool_accepts(&text);
}

#[test]
fn prometheus_scrapes_the_examples_metrics() {
    let (runtime, target) = serve_in_process();
    let metrics = runtime
        .namespace("example")
        .component("worker")
        .endpoint("generate")
        .metrics();
    WorkerMetrics::create(&metrics, "callback")
        .unwrap()
        .update(TICK);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: dynamo\n    scrape_interval: 1s\n    \
         scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
    );
    let mut prometheus = Prometheus::start(&config, &[]);

    let endpoint =
        r#"dynamo_namespace="example",dynamo_component="worker",dynamo_endpoint="generate""#;
    let expected = [
        (r#"up{job="dynamo"}"#.to_string(), 1.0),
        (
            format!("sum(dynamo_component_worker_active_requests{{{endpoint}}})"),
            14.0,
        ),
        (
            format!(r#"sum(dynamo_component_worker_active_requests{{{endpoint},worker_id="1"}})"#),
            8.0,
        ),
        (
            format!("sum(dynamo_component_total_slots{{{endpoint}}})"),
            64.0,
        ),
        (
            format!("sum(dynamo_component_kv_cache_usage_ratio{{{endpoint}}})"),
            0.25,
        ),
        (
            format!(
                r#"sum(dynamo_component_updates_total{{{endpoint},update_method="callback"}})"#
            ),
            1.0,
        ),
        (
            "count(count by (dynamo_namespace) (dynamo_component_total_slots))".to_string(),
            1.0,
        ),
    ];
    for (query, value) in expected {
        let got = poll_until(DEADLINE, format!("a sample for {query}"), || {
            let result = prometheus.query(&query).ok()?;
            match result.as_slice() {
                [sample] => sample["value"][1].as_str()?.parse::<f64>().ok(),
                _ => None,
            }
        });
        assert_eq!(got, value, "{query}\nprometheus log:\n{}", prometheus.log());
    }
    drop(prometheus);
    drop(runtime);
}
