//! An OTLP export carries what the scrape page shows at the same moment: every family
//! (created, macro, built-in, self-metrics, callback text), with the same names, kinds,
//! help, label pairs as attributes, bounds and values.
//!
//! The one test of its binary that installs the process-wide recorder, for the macro calls; they
//! run in an endpoint's scope, so they reach this test's runtime only.

use std::time::Duration;

use crate::common;
use crate::common::otlp::{self, Kind, Receiver};
use dynamo_runtime::{DistributedRuntime, OtlpConfig, Protocol};

#[test]
fn an_export_equals_the_scrape_page_of_the_same_moment() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = DistributedRuntime::builder()
        .uptime_clock(|| common::UPTIME)
        // The process metrics move between the page and the export.
        .process_metrics(false)
        .otlp(
            OtlpConfig::new()
                .with_protocol(Protocol::HttpProtobuf)
                .with_endpoint(receiver.endpoint())
                .with_interval(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let endpoint = runtime
        .namespace("ns")
        .component("llm")
        .endpoint("generate");
    let metrics = endpoint.metrics();
    metrics
        .create_counter("float_total", "Floats", &[])
        .unwrap()
        .inc_by(2.5);
    metrics
        .create_intcounter("requests_total", "Requests", &[("region", "eu")])
        .unwrap()
        .inc_by(7);
    metrics
        .create_gauge("load", "Load", &[])
        .unwrap()
        .set(-0.25);
    metrics
        .create_intgauge("slots", "Slots", &[])
        .unwrap()
        .set(-3);
    let latency = metrics
        .create_histogram("latency_seconds", "Latency", &[], Some(vec![0.1, 1.0]))
        .unwrap();
    for v in [0.05, 0.5, 0.7, 3.0] {
        latency.observe(v);
    }
    let by_model = metrics
        .create_countervec("by_model_total", "By model", &["model"], &[])
        .unwrap();
    by_model.with_label_values(&["llama \"3\""]).inc();
    by_model.with_label_values(&["mistral\nnext"]).inc_by(4.0);
    runtime
        .metrics()
        .create_histogramvec("sizes", "Sizes", &["kind"], &[], Some(vec![10.0]))
        .unwrap()
        .with_label_values(&["a"])
        .observe(20.0);
    endpoint.in_scope(|| metrics::counter!("macro_calls_total").increment(3));
    runtime
        .metrics()
        .register_prometheus_expfmt_callback(|| -> Result<String, String> {
            Ok(concat!(
                "# HELP engine_tokens_total Tokens\n",
                "# TYPE engine_tokens_total counter\n",
                "engine_tokens_total{model=\"m\"} 12\n",
                "# TYPE engine_queue gauge\n",
                "engine_queue 4\n",
                "engine_untyped 1.5\n",
                "# TYPE engine_latency histogram\n",
                "engine_latency_bucket{le=\"0.5\"} 2\n",
                "engine_latency_bucket{le=\"+Inf\"} 5\n",
                "engine_latency_sum 9\n",
                "engine_latency_count 5\n",
                "# TYPE engine_ttft summary\n",
                "engine_ttft{quantile=\"0.9\"} 0.2\n",
                "engine_ttft_sum 3\n",
                "engine_ttft_count 10\n",
            )
            .to_string())
        });

    let page = runtime.metrics().prometheus_expfmt().unwrap();
    let after = otlp::unix_nanos_now();
    let export = receiver.wait_for("collected after the page", |r| r.time() >= after);

    let otlp_families = otlp::from_request(&export.request);
    let page_families = otlp::from_page(&page);
    // The exporter's own counters move between the page and the export.
    let moving = |name: &str| name.starts_with("dynamo_metrics_otlp_");
    let strip = |c: &otlp::Common| -> otlp::Common {
        c.iter()
            .filter(|(n, _)| !moving(n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    };
    assert_eq!(strip(&otlp_families), strip(&page_families));
    for name in [
        "dynamo_component_float_total",
        "dynamo_component_macro_calls_total",
        "dynamo_component_uptime_seconds",
        "dynamo_metrics_callback_text_dropped_total",
        "engine_ttft",
        "engine_latency",
    ] {
        assert!(otlp_families.contains_key(name), "{name} is exported");
    }
    for (name, kind) in [
        ("dynamo_metrics_otlp_exported_total", Kind::Counter),
        ("dynamo_metrics_otlp_queued_requests", Kind::Gauge),
    ] {
        assert_eq!(otlp_families[name].0, kind, "{name}");
        assert_eq!(page_families[name].0, kind, "{name}");
    }
    runtime.shutdown();
}
