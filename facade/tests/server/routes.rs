//! Every route of the system status server, with every method.

use crate::common::{self, builder, get, request, serve};
use dynamo_runtime::{DistributedRuntime, HealthStatus};

const HITS_SCRAPE: &str = concat!(
    "# HELP dynamo_component_hits_total Cache hits\n",
    "# TYPE dynamo_component_hits_total counter\n",
    "dynamo_component_hits_total{dynamo_component=\"cache\",dynamo_endpoint=\"get\",dynamo_namespace=\"ns\"} 1\n",
    "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds\n",
    "# TYPE dynamo_component_uptime_seconds gauge\n",
    "dynamo_component_uptime_seconds 1.5\n",
    "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit\n",
    "# TYPE dynamo_metrics_callback_text_dropped_total counter\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 0\n",
    "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they broke a naming rule or conflicted with a registered metric\n",
    "# TYPE dynamo_metrics_macro_rejections_total counter\n",
    "dynamo_metrics_macro_rejections_total 0\n",
);

/// Dynamo's readiness JSON with the test clock's 1.5 s of uptime and no endpoint.
const NOT_READY: &str =
    r#"{"status":"notready","uptime":{"secs":1,"nanos":500000000},"endpoints":{}}"#;
const READY: &str = r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{}}"#;

fn count_a_hit(runtime: &DistributedRuntime) {
    runtime
        .namespace("ns")
        .component("cache")
        .endpoint("get")
        .metrics()
        .create_intcounter("hits_total", "Cache hits", &[])
        .unwrap()
        .inc();
}

#[test]
fn metrics_serves_the_whole_runtime_as_text() {
    let (runtime, addr) = serve(builder());
    count_a_hit(&runtime);
    let response = get(addr, "/metrics");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some(dynamo_exporter::TEXT_CONTENT_TYPE)
    );
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(response.header("vary"), Some("Accept, Accept-Encoding"));
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.text(), HITS_SCRAPE);
}

#[test]
fn metrics_answers_the_text_format_whatever_the_client_accepts() {
    let (runtime, addr) = serve(builder());
    count_a_hit(&runtime);
    // Prometheus 2.42's header, a header naming no format offered, one refusing every format.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    for accept in [prometheus, "application/json", "text/plain;q=0"] {
        let response = request(addr, "GET", "/metrics", &[("Accept", accept)]).unwrap();
        assert_eq!(response.status, 200, "{accept}");
        assert_eq!(
            response.header("content-type"),
            Some(dynamo_exporter::TEXT_CONTENT_TYPE),
            "{accept}"
        );
        // Text and protobuf offered: the answer depends on `Accept`.
        assert_eq!(
            response.header("vary"),
            Some("Accept, Accept-Encoding"),
            "{accept}"
        );
        assert_eq!(response.text(), HITS_SCRAPE, "{accept}");
    }
}

#[test]
fn metrics_answers_protobuf_to_prometheus_with_native_histograms() {
    let (runtime, addr) = serve(builder());
    count_a_hit(&runtime);
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let response = request(addr, "GET", "/metrics", &[("Accept", accept)]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some(dynamo_exporter::PROTOBUF_CONTENT_TYPE)
    );
    assert_eq!(response.header("vary"), Some("Accept, Accept-Encoding"));
    // The first message is the first family: its length (a varint), then field 1, the name.
    let body = &response.body;
    let at = body.iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let len = body[..at]
        .iter()
        .rev()
        .fold(0usize, |len, b| (len << 7) | usize::from(b & 0x7f));
    let name = b"dynamo_component_hits_total";
    assert_eq!(body[at..at + 2], [0x0a, name.len() as u8]);
    assert_eq!(&body[at + 2..at + 2 + name.len()], name);
    // More families follow the first message.
    assert!(body.len() > at + len);
}

#[test]
fn metrics_ignores_the_query_string() {
    let (runtime, addr) = serve(builder());
    count_a_hit(&runtime);
    assert_eq!(common::get(addr, "/metrics?name=x").text(), HITS_SCRAPE);
}

#[test]
fn head_metrics_sends_the_headers_without_rendering() {
    let (runtime, addr) = serve(builder());
    count_a_hit(&runtime);
    let renders = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&renders);
    runtime
        .metrics()
        .register_callback(move || -> Result<(), String> {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
    let response = request(addr, "HEAD", "/metrics", &[]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some(dynamo_exporter::TEXT_CONTENT_TYPE)
    );
    assert_eq!(response.header("vary"), Some("Accept, Accept-Encoding"));
    // No render, so no length to give (RFC 9110 lets HEAD leave it out).
    assert_eq!(response.header("content-length"), None);
    assert!(response.body.is_empty());
    assert_eq!(renders.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(get(addr, "/metrics").status, 200);
    assert_eq!(renders.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn health_starts_not_ready_and_follows_the_application() {
    let (runtime, addr) = serve(builder());
    assert_eq!(runtime.health_status(), HealthStatus::NotReady);
    let response = get(addr, "/health");
    assert_eq!(response.status, 503);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.text(), NOT_READY);

    runtime.set_health_status(HealthStatus::Ready);
    let response = get(addr, "/health");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), READY);

    runtime.set_health_status(HealthStatus::NotReady);
    assert_eq!(get(addr, "/health").status, 503);
}

#[test]
fn health_can_start_ready() {
    let (runtime, addr) = serve(builder().starting_health(HealthStatus::Ready));
    assert_eq!(runtime.health_status(), HealthStatus::Ready);
    let response = get(addr, "/health");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), READY);
}

#[test]
fn head_health_answers_like_get() {
    let (_runtime, addr) = serve(builder());
    let response = request(addr, "HEAD", "/health", &[]).unwrap();
    assert_eq!(response.status, 503);
    assert!(response.body.is_empty());
}

#[test]
fn live_answers_200_whatever_the_readiness_with_the_health_body() {
    let (runtime, addr) = serve(builder());
    for (status, body) in [
        (HealthStatus::NotReady, NOT_READY),
        (HealthStatus::Ready, READY),
    ] {
        runtime.set_health_status(status);
        let response = get(addr, "/live");
        assert_eq!(response.status, 200, "with readiness {status}");
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.text(), body);
    }
    let response = request(addr, "HEAD", "/live", &[]).unwrap();
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
}

#[test]
fn health_and_live_move_to_custom_paths() {
    let (_runtime, addr) = serve(
        builder()
            .health_path("/ready/check")
            .live_path("/livez")
            .starting_health(HealthStatus::Ready),
    );
    assert_eq!(get(addr, "/ready/check").status, 200);
    assert_eq!(get(addr, "/livez").status, 200);
    assert_eq!(get(addr, "/health").status, 404);
    assert_eq!(get(addr, "/live").status, 404);
    assert_eq!(get(addr, "/metrics").status, 200);
}

#[test]
fn custom_paths_come_from_the_environment_too() {
    let (_runtime, addr) = serve(builder().system_server_env(|var| match var {
        "DYN_SYSTEM_HEALTH_PATH" => Some("/healthz".into()),
        "DYN_SYSTEM_LIVE_PATH" => Some("/livez".into()),
        _ => None,
    }));
    assert_eq!(get(addr, "/healthz").status, 503);
    assert_eq!(get(addr, "/livez").status, 200);
    assert_eq!(get(addr, "/health").status, 404);
}

#[test]
fn unknown_paths_answer_404() {
    let (_runtime, addr) = serve(builder());
    for path in [
        "/",
        "/metric",
        "/metrics/",
        "/healthz",
        "/live/x",
        "/%2Fmetrics",
    ] {
        let response = get(addr, path);
        assert_eq!(response.status, 404, "GET {path}");
        assert_eq!(response.text(), "Route not found");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    assert_eq!(request(addr, "POST", "/nowhere", &[]).unwrap().status, 404);
}

#[test]
fn other_methods_answer_405() {
    let (_runtime, addr) = serve(builder());
    for path in ["/metrics", "/health", "/live"] {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let response = request(addr, method, path, &[("Content-Length", "0")]).unwrap();
            assert_eq!(response.status, 405, "{method} {path}");
            assert_eq!(
                response.header("allow"),
                Some("GET, HEAD"),
                "{method} {path}"
            );
        }
    }
}

#[test]
fn uptime_follows_the_runtime_clock() {
    let (_runtime, addr) = serve(builder().uptime_clock(|| std::time::Duration::from_secs(7)));
    assert_eq!(
        get(addr, "/live").text(),
        r#"{"status":"notready","uptime":{"secs":7,"nanos":0},"endpoints":{}}"#
    );
}

#[test]
fn endpoints_report_their_readiness_in_dynamos_shape() {
    let (runtime, addr) = serve(builder().starting_health(HealthStatus::Ready));
    let worker = runtime.namespace("ns").component("worker");
    let generate = worker.endpoint("generate");
    let clear = worker.endpoint("clear_kv_blocks");
    assert_eq!(generate.health_status(), None);
    generate.set_health_status(HealthStatus::NotReady);
    clear.set_health_status(HealthStatus::Ready);
    assert_eq!(generate.health_status(), Some(HealthStatus::NotReady));
    let not_ready = concat!(
        r#"{"status":"notready","uptime":{"secs":1,"nanos":500000000},"#,
        r#""endpoints":{"clear_kv_blocks":"ready","generate":"notready"}}"#
    );
    let response = get(addr, "/health");
    assert_eq!(
        (response.status, response.text().as_str()),
        (503, not_ready)
    );
    // Liveness stays shallow: 200, with the same body.
    let response = get(addr, "/live");
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, not_ready)
    );

    generate.set_health_status(HealthStatus::Ready);
    let response = get(addr, "/health");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        concat!(
            r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"#,
            r#""endpoints":{"clear_kv_blocks":"ready","generate":"ready"}}"#
        )
    );
    // The runtime's own readiness still counts.
    runtime.set_health_status(HealthStatus::NotReady);
    assert_eq!(get(addr, "/health").status, 503);
}
