//! Process-wide constant labels on every series of the page: created metrics at every level,
//! `metrics` macro calls, the built-in metrics and the text of exposition callbacks, never over
//! a label a series has.
//!
//! The one test of its binary that installs the global recorder; its macro calls run in an
//! endpoint's scope, so they reach this test's runtime only.

use crate::common::{self, assert_promtool_accepts, scrape, serve};

#[test]
fn every_series_of_the_page_gets_the_labels_it_lacks() {
    let (runtime, addr) = serve(
        common::builder()
            .global_recorder(true)
            .system_server_env(|var| {
                (var == "DYN_METRICS_CONST_LABELS")
                    .then(|| r#"cluster=us-west,team=in"fer\,a\=b"#.to_string())
            })
            .const_labels(&[("region", "eu\\central\n")]),
    );
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    let metrics = endpoint.metrics();
    metrics
        .create_intcounter("plain_total", "Plain", &[])
        .unwrap()
        .inc();
    metrics
        .create_gauge("own_team", "Has its own team", &[("team", "mine")])
        .unwrap()
        .set(2.5);
    let by_cluster = metrics
        .create_intgaugevec("by_cluster", "Variable cluster", &["cluster"], &[])
        .unwrap();
    by_cluster.with_label_values(&["eu"]).set(3);
    by_cluster.with_label_values(&[""]).set(4);
    metrics
        .create_histogram("latency_seconds", "Latency", &[], Some(vec![0.5]))
        .unwrap()
        .observe(0.25);
    runtime
        .namespace("ns")
        .metrics()
        .create_intgauge("namespace_slots", "Namespace level", &[])
        .unwrap()
        .set(5);
    endpoint.in_scope(|| {
        metrics::counter!("macro_total").increment(6);
        metrics::gauge!("macro_level", "cluster" => "own").set(7.0);
    });
    runtime.metrics().register_prometheus_expfmt_callback(|| {
        Ok::<_, String>(
            concat!(
                "# HELP cb_requests_total From a callback\n",
                "# TYPE cb_requests_total counter\n",
                "cb_requests_total{path=\"/a\"} 8\n",
                "cb_requests_total{path=\"/b\",cluster=\"theirs\"} 9\n",
                "# HELP cb_wait_seconds Waits\n",
                "# TYPE cb_wait_seconds histogram\n",
                "cb_wait_seconds_bucket{le=\"1\"} 1\n",
                "cb_wait_seconds_bucket{le=\"+Inf\"} 2\n",
                "cb_wait_seconds_sum 3\n",
                "cb_wait_seconds_count 2\n",
            )
            .into(),
        )
    });

    let fleet = r#"cluster="us-west",region="eu\\central\n",team="in\"fer,a=b""#;
    let no_cluster = r#"region="eu\\central\n",team="in\"fer,a=b""#;
    let hierarchy = r#"dynamo_component="comp",dynamo_endpoint="ep",dynamo_namespace="ns""#;
    let expected = [
        "# HELP dynamo_component_by_cluster Variable cluster".to_string(),
        "# TYPE dynamo_component_by_cluster gauge".into(),
        format!("dynamo_component_by_cluster{{cluster=\"\",{hierarchy},{no_cluster}}} 4"),
        format!("dynamo_component_by_cluster{{cluster=\"eu\",{hierarchy},{no_cluster}}} 3"),
        "# HELP dynamo_component_latency_seconds Latency".into(),
        "# TYPE dynamo_component_latency_seconds histogram".into(),
        format!("dynamo_component_latency_seconds_bucket{{cluster=\"us-west\",{hierarchy},{no_cluster},le=\"0.5\"}} 1"),
        format!("dynamo_component_latency_seconds_bucket{{cluster=\"us-west\",{hierarchy},{no_cluster},le=\"+Inf\"}} 1"),
        format!("dynamo_component_latency_seconds_sum{{cluster=\"us-west\",{hierarchy},{no_cluster}}} 0.25"),
        format!("dynamo_component_latency_seconds_count{{cluster=\"us-west\",{hierarchy},{no_cluster}}} 1"),
        "# HELP dynamo_component_macro_level dynamo_component_macro_level".into(),
        "# TYPE dynamo_component_macro_level gauge".into(),
        format!("dynamo_component_macro_level{{cluster=\"own\",{hierarchy},{no_cluster}}} 7"),
        "# HELP dynamo_component_macro_total dynamo_component_macro_total".into(),
        "# TYPE dynamo_component_macro_total counter".into(),
        format!("dynamo_component_macro_total{{cluster=\"us-west\",{hierarchy},{no_cluster}}} 6"),
        "# HELP dynamo_component_namespace_slots Namespace level".into(),
        "# TYPE dynamo_component_namespace_slots gauge".into(),
        format!("dynamo_component_namespace_slots{{cluster=\"us-west\",dynamo_namespace=\"ns\",{no_cluster}}} 5"),
        "# HELP dynamo_component_own_team Has its own team".into(),
        "# TYPE dynamo_component_own_team gauge".into(),
        format!("dynamo_component_own_team{{cluster=\"us-west\",{hierarchy},region=\"eu\\\\central\\n\",team=\"mine\"}} 2.5"),
        "# HELP dynamo_component_plain_total Plain".into(),
        "# TYPE dynamo_component_plain_total counter".into(),
        format!("dynamo_component_plain_total{{cluster=\"us-west\",{hierarchy},{no_cluster}}} 1"),
        "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds".into(),
        "# TYPE dynamo_component_uptime_seconds gauge".into(),
        format!("dynamo_component_uptime_seconds{{{fleet}}} 1.5"),
        "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit".into(),
        "# TYPE dynamo_metrics_callback_text_dropped_total counter".into(),
        format!("dynamo_metrics_callback_text_dropped_total{{cluster=\"us-west\",reason=\"conflict\",{no_cluster}}} 0"),
        format!("dynamo_metrics_callback_text_dropped_total{{cluster=\"us-west\",reason=\"invalid\",{no_cluster}}} 0"),
        format!("dynamo_metrics_callback_text_dropped_total{{cluster=\"us-west\",reason=\"too_large\",{no_cluster}}} 0"),
        "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric".into(),
        "# TYPE dynamo_metrics_macro_rejections_total counter".into(),
        format!("dynamo_metrics_macro_rejections_total{{{fleet}}} 0"),
        // Callback text: labels sorted by name as every series', `le` last; series in label order.
        "# HELP cb_requests_total From a callback".into(),
        "# TYPE cb_requests_total counter".into(),
        format!("cb_requests_total{{cluster=\"theirs\",path=\"/b\",{no_cluster}}} 9"),
        format!("cb_requests_total{{cluster=\"us-west\",path=\"/a\",{no_cluster}}} 8"),
        "# HELP cb_wait_seconds Waits".into(),
        "# TYPE cb_wait_seconds histogram".into(),
        format!("cb_wait_seconds_bucket{{{fleet},le=\"1\"}} 1"),
        format!("cb_wait_seconds_bucket{{{fleet},le=\"+Inf\"}} 2"),
        format!("cb_wait_seconds_sum{{{fleet}}} 3"),
        format!("cb_wait_seconds_count{{{fleet}}} 2"),
    ]
    .map(|line| line + "\n")
    .concat();
    let page = scrape(addr);
    assert_eq!(page, expected);
    assert_promtool_accepts(&page);

    // A level's own text carries them too.
    let component = runtime
        .namespace("ns")
        .component("comp")
        .metrics()
        .prometheus_expfmt()
        .unwrap();
    let plain =
        format!("dynamo_component_plain_total{{cluster=\"us-west\",{hierarchy},{no_cluster}}} 1\n");
    assert!(component.contains(&plain), "{component}");
}
