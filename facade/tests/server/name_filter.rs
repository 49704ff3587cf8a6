//! `/metrics?name[]=...` on the runtime's server: a metric, a callback's text and the
//! library's own metrics are all filtered by family name.

use crate::common::{builder, get, scrape, serve};

const LABELS: &str = "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";

#[test]
fn metrics_callback_text_and_own_metrics_are_filtered_by_name() {
    let (runtime, addr) = serve(builder());
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    let metrics = endpoint.metrics();
    metrics
        .create_histogram("latency_seconds", "Latency", &[], Some(vec![0.5]))
        .unwrap()
        .observe(0.25);
    metrics
        .create_intgauge("slots", "Slots", &[])
        .unwrap()
        .set(8);
    let _handle = runtime.metrics().register_prometheus_expfmt_callback(|| {
        Ok::<_, String>(
            "# TYPE engine_queue gauge\nengine_queue 4\n# TYPE engine_up gauge\nengine_up 1\n"
                .to_string(),
        )
    });
    assert!(scrape(addr).contains("dynamo_component_slots{"));

    let cases = [
        (
            "name[]=engine_queue&name[]=dynamo_component_latency_seconds_count",
            format!(
                concat!(
                    "# HELP dynamo_component_latency_seconds Latency\n",
                    "# TYPE dynamo_component_latency_seconds histogram\n",
                    "dynamo_component_latency_seconds_bucket{{{l},le=\"0.5\"}} 1\n",
                    "dynamo_component_latency_seconds_bucket{{{l},le=\"+Inf\"}} 1\n",
                    "dynamo_component_latency_seconds_sum{{{l}}} 0.25\n",
                    "dynamo_component_latency_seconds_count{{{l}}} 1\n",
                    "# TYPE engine_queue gauge\n",
                    "engine_queue 4\n",
                ),
                l = LABELS
            ),
        ),
        (
            "name%5B%5D=dynamo_metrics_macro_rejections_total",
            concat!(
                "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric\n",
                "# TYPE dynamo_metrics_macro_rejections_total counter\n",
                "dynamo_metrics_macro_rejections_total 0\n",
            )
            .to_string(),
        ),
        ("name[]=no_such_family", String::new()),
    ];
    for (query, expected) in cases {
        let response = get(addr, &format!("/metrics?{query}"));
        assert_eq!(response.status, 200, "{query}");
        assert_eq!(response.text(), expected, "{query}");
    }
}
