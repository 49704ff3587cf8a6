//! A metric macro that reaches a series registered as another type (a `counter!` on the name
//! and labels of a gauge) is refused, and its error says so, naming the metric and both
//! types: not a bad name, not a conflict of a type with itself.
//!
//! Its own test binary: it installs the global recorder.

use std::time::Duration;

use dynamo_recorder_tests::logs::logged;
use dynamo_runtime::DistributedRuntime;

#[test]
fn a_macro_on_a_series_of_another_type_is_refused_naming_both_types() {
    let runtime = DistributedRuntime::builder()
        .process_metrics(false)
        .uptime_clock(|| Duration::from_secs(1))
        .build()
        .unwrap();
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    let metrics = endpoint.metrics();
    metrics
        .create_gauge("queue_depth", "Queue depth", &[])
        .unwrap()
        .set(3.0);
    metrics
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc();
    metrics
        .create_histogram("wait_seconds", "Waits", &[], Some(vec![1.0]))
        .unwrap()
        .observe(0.5);

    let ((), events) = logged(|| {
        endpoint.in_scope(|| {
            metrics::counter!("queue_depth").increment(1);
            metrics::histogram!("jobs_total").record(2.0);
            metrics::gauge!("wait_seconds").set(9.0);
        });
    });

    let labels =
        r#"[("dynamo_namespace", "ns"), ("dynamo_component", "comp"), ("dynamo_endpoint", "ep")]"#;
    let expected = [
        ("queue_depth", "gauge", "counter"),
        ("jobs_total", "counter", "histogram"),
        ("wait_seconds", "histogram", "gauge"),
    ];
    assert_eq!(events.len(), expected.len(), "{events:#?}");
    for (event, (name, registered, requested)) in events.iter().zip(expected) {
        let name = format!("dynamo_component_{name}");
        assert_eq!(event.level, tracing::Level::WARN);
        assert_eq!(event.field("metric"), Some(name.as_str()));
        assert_eq!(
            event.field("error"),
            Some(
                format!(
                    "metric {name:?} with labels {labels} is registered as a {registered}; a \
                     `{requested}!` macro call cannot record into it"
                )
                .as_str()
            ),
        );
    }

    // Nothing was recorded: the page is what the created metrics made it.
    let hierarchy = r#"dynamo_component="comp",dynamo_endpoint="ep",dynamo_namespace="ns""#;
    assert_eq!(
        metrics.prometheus_expfmt().unwrap(),
        [
            "# HELP dynamo_component_jobs_total Jobs".to_string(),
            "# TYPE dynamo_component_jobs_total counter".into(),
            format!("dynamo_component_jobs_total{{{hierarchy}}} 1"),
            "# HELP dynamo_component_queue_depth Queue depth".into(),
            "# TYPE dynamo_component_queue_depth gauge".into(),
            format!("dynamo_component_queue_depth{{{hierarchy}}} 3"),
            "# HELP dynamo_component_wait_seconds Waits".into(),
            "# TYPE dynamo_component_wait_seconds histogram".into(),
            format!("dynamo_component_wait_seconds_bucket{{{hierarchy},le=\"1\"}} 1"),
            format!("dynamo_component_wait_seconds_bucket{{{hierarchy},le=\"+Inf\"}} 1"),
            format!("dynamo_component_wait_seconds_sum{{{hierarchy}}} 0.5"),
            format!("dynamo_component_wait_seconds_count{{{hierarchy}}} 1"),
            String::new(),
        ]
        .join("\n")
    );
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(
        page.contains("\ndynamo_metrics_macro_rejections_total 3\n"),
        "{page}"
    );
}
