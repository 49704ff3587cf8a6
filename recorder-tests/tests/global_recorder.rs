//! The process-wide recorder: macro calls reach the runtime of their scope, or the default
//! runtime, on the same text as metrics created through the API.
//!
//! This file is its own test binary with a single test, since it installs the global recorder
//! and relies on which runtime is the oldest alive.

use std::time::Duration;

use dynamo_runtime::DistributedRuntime;

fn runtime() -> DistributedRuntime {
    DistributedRuntime::builder()
        .process_metrics(false)
        .uptime_clock(|| Duration::from_secs(2))
        .build()
        .unwrap()
}

#[test]
fn macro_calls_land_in_the_right_runtime() {
    let first = runtime();
    let second = runtime();
    let endpoint = first.namespace("ns").component("comp").endpoint("ep");
    let api = endpoint
        .metrics()
        .create_intcounter("requests_total", "Total requests", &[("source", "api")])
        .unwrap();
    api.inc();

    // Scoped calls join the API family, with the endpoint's labels.
    endpoint.in_scope(|| {
        metrics::counter!("requests_total", "source" => "macro").increment(2);
        metrics::gauge!("queue_depth").set(3.0);
        metrics::histogram!("wait_seconds").record(0.3);
    });
    // A scope of the second runtime sends its calls there.
    second
        .namespace("other")
        .in_scope(|| metrics::counter!("jobs_total").increment(5));
    // Outside any scope, calls go to the oldest runtime alive, at the runtime level.
    metrics::describe_gauge!("workers", "Workers alive");
    metrics::gauge!("workers").set(4.0);
    // A kind conflict is refused, counted and recorded nowhere.
    endpoint.in_scope(|| metrics::gauge!("requests_total").set(100.0));

    let labels = "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";
    let expected = [
        "# HELP dynamo_component_queue_depth dynamo_component_queue_depth".to_string(),
        "# TYPE dynamo_component_queue_depth gauge".into(),
        format!("dynamo_component_queue_depth{{{labels}}} 3"),
        "# HELP dynamo_component_requests_total Total requests".into(),
        "# TYPE dynamo_component_requests_total counter".into(),
        format!("dynamo_component_requests_total{{{labels},source=\"api\"}} 1"),
        format!("dynamo_component_requests_total{{{labels},source=\"macro\"}} 2"),
        "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds".into(),
        "# TYPE dynamo_component_uptime_seconds gauge".into(),
        "dynamo_component_uptime_seconds 2".into(),
        "# HELP dynamo_component_wait_seconds dynamo_component_wait_seconds".into(),
        "# TYPE dynamo_component_wait_seconds histogram".into(),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.005\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.01\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.025\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.05\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.1\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.25\"}} 0"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"0.5\"}} 1"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"1\"}} 1"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"2.5\"}} 1"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"5\"}} 1"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"10\"}} 1"),
        format!("dynamo_component_wait_seconds_bucket{{{labels},le=\"+Inf\"}} 1"),
        format!("dynamo_component_wait_seconds_sum{{{labels}}} 0.3"),
        format!("dynamo_component_wait_seconds_count{{{labels}}} 1"),
        "# HELP dynamo_component_workers Workers alive".into(),
        "# TYPE dynamo_component_workers gauge".into(),
        "dynamo_component_workers 4".into(),
        "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit".into(),
        "# TYPE dynamo_metrics_callback_text_dropped_total counter".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0".into(),
        "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 0".into(),
        "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric".into(),
        "# TYPE dynamo_metrics_macro_rejections_total counter".into(),
        "dynamo_metrics_macro_rejections_total 1".into(),
    ]
    .map(|line| line + "\n")
    .concat();
    assert_eq!(first.metrics().prometheus_expfmt().unwrap(), expected);

    assert_eq!(
        second
            .namespace("other")
            .metrics()
            .prometheus_expfmt()
            .unwrap(),
        concat!(
            "# HELP dynamo_component_jobs_total dynamo_component_jobs_total\n",
            "# TYPE dynamo_component_jobs_total counter\n",
            "dynamo_component_jobs_total{dynamo_namespace=\"other\"} 5\n",
        )
    );

    // One call site in several scopes: each scope gets its own series, every time.
    for endpoint in ["a", "b", "a"] {
        let place = second.namespace("loop").component("c").endpoint(endpoint);
        place.in_scope(|| metrics::counter!("hits_total").increment(1));
    }
    assert_eq!(
        second
            .namespace("loop")
            .metrics()
            .prometheus_expfmt()
            .unwrap(),
        concat!(
            "# HELP dynamo_component_hits_total dynamo_component_hits_total\n",
            "# TYPE dynamo_component_hits_total counter\n",
            "dynamo_component_hits_total{dynamo_component=\"c\",dynamo_endpoint=\"a\",dynamo_namespace=\"loop\"} 2\n",
            "dynamo_component_hits_total{dynamo_component=\"c\",dynamo_endpoint=\"b\",dynamo_namespace=\"loop\"} 1\n",
        )
    );

    // When the default runtime is gone, the next oldest one takes unscoped calls.
    drop(endpoint);
    drop(api);
    drop(first);
    let third = runtime();
    metrics::counter!("after_drop_total").increment(1);
    assert!(
        second
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("\ndynamo_component_after_drop_total 1\n")
    );
    assert!(
        !third
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("after_drop_total")
    );

    // One call site in the scope of one runtime after another, each dropped before the next
    // is made (a new one may take the old one's addresses): every runtime counts its own
    // calls, and a call refused by one is recorded by the next.
    drop(second);
    drop(third);
    for round in 0..3 {
        let runtime = runtime();
        let place = runtime.namespace("again");
        let _gauge = (round == 0).then(|| {
            let metrics = place.metrics();
            metrics.create_intgauge("depth", "Depth", &[]).unwrap()
        });
        place.in_scope(|| {
            metrics::counter!("depth").increment(1);
            metrics::counter!("rounds_total").increment(1);
        });
        let page = place.metrics().prometheus_expfmt().unwrap();
        assert!(
            page.contains("\ndynamo_component_rounds_total{dynamo_namespace=\"again\"} 1\n"),
            "round {round}: {page}"
        );
        let depth = if round == 0 { "0" } else { "1" };
        assert!(
            page.contains(&format!(
                "\ndynamo_component_depth{{dynamo_namespace=\"again\"}} {depth}\n"
            )),
            "round {round}: {page}"
        );
    }
}
