//! `/metrics` in the OpenMetrics text format: offered when `DYN_SYSTEM_OPENMETRICS` or the
//! builder turns it on, never otherwise.

use std::net::SocketAddr;

use crate::common::{builder, request, serve};
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_runtime::{DistributedRuntime, RuntimeBuilder, SystemServerConfig};

/// What Prometheus sends without native histograms: OpenMetrics first.
const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

const HITS_OPENMETRICS: &str = concat!(
    "# HELP dynamo_component_hits Cache hits\n",
    "# TYPE dynamo_component_hits counter\n",
    "dynamo_component_hits_total{dynamo_component=\"cache\",dynamo_namespace=\"ns\"} 1\n",
    "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds\n",
    "# TYPE dynamo_component_uptime_seconds gauge\n",
    "dynamo_component_uptime_seconds 1.5\n",
    "# HELP dynamo_metrics_callback_text_dropped Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit\n",
    "# TYPE dynamo_metrics_callback_text_dropped counter\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0\n",
    "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 0\n",
    "# HELP dynamo_metrics_macro_rejections Metric macro calls refused because they broke a naming rule or conflicted with a registered metric\n",
    "# TYPE dynamo_metrics_macro_rejections counter\n",
    "dynamo_metrics_macro_rejections_total 0\n",
    "# EOF\n",
);

/// A runtime of `builder` serving one counted hit.
fn serve_a_hit(builder: RuntimeBuilder) -> (DistributedRuntime, SocketAddr) {
    let (runtime, addr) = serve(builder);
    runtime
        .namespace("ns")
        .component("cache")
        .metrics()
        .create_intcounter("hits_total", "Cache hits", &[])
        .unwrap()
        .inc();
    (runtime, addr)
}

/// The content type and body `/metrics` answers `accept` with.
fn scrape(addr: SocketAddr, accept: &str) -> (String, String) {
    let response = request(addr, "GET", "/metrics", &[("Accept", accept)]).unwrap();
    assert_eq!(response.status, 200, "{accept}");
    let content_type = response.header("content-type").unwrap_or("").to_string();
    (
        content_type,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

fn env(on: &'static str) -> RuntimeBuilder {
    builder().system_server_env(move |var| (var == "DYN_SYSTEM_OPENMETRICS").then(|| on.into()))
}

#[test]
fn turned_on_a_client_that_prefers_openmetrics_gets_it() {
    for turned_on in [env("true"), env("1"), builder().openmetrics(true)] {
        let (_runtime, addr) = serve_a_hit(turned_on);
        for accept in ["application/openmetrics-text;version=1.0.0", PROMETHEUS] {
            let (content_type, page) = scrape(addr, accept);
            assert_eq!(content_type, dynamo_exporter::OPENMETRICS_CONTENT_TYPE);
            assert_eq!(
                content_type,
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            );
            assert_eq!(page, HITS_OPENMETRICS, "{accept}");
            assert_eq!(
                assert_openmetrics_parses(&page),
                [
                    "dynamo_component_hits",
                    "dynamo_component_uptime_seconds",
                    "dynamo_metrics_callback_text_dropped",
                    "dynamo_metrics_macro_rejections",
                ]
            );
        }
        let (content_type, _) = scrape(addr, "text/plain;version=0.0.4");
        assert_eq!(content_type, dynamo_exporter::TEXT_CONTENT_TYPE);
    }
}

#[test]
fn turned_off_a_client_that_prefers_openmetrics_gets_the_text_format() {
    let off = [builder(), env("false"), env("true").openmetrics(false)];
    for turned_off in off {
        let (_runtime, addr) = serve_a_hit(turned_off);
        for accept in ["application/openmetrics-text;version=1.0.0", PROMETHEUS] {
            let (content_type, page) = scrape(addr, accept);
            assert_eq!(content_type, dynamo_exporter::TEXT_CONTENT_TYPE, "{accept}");
            assert!(!page.contains("# EOF"), "{page}");
            assert!(
                page.contains("# TYPE dynamo_component_hits_total counter\n"),
                "{page}"
            );
        }
        let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8";
        let (content_type, _) = scrape(addr, accept);
        assert_eq!(content_type, dynamo_exporter::PROTOBUF_CONTENT_TYPE);
    }
}

#[test]
fn the_setting_is_a_boolean_read_as_the_others_are() {
    let read = |value: &str| {
        let value = value.to_string();
        SystemServerConfig::from_lookup(move |var| {
            (var == "DYN_SYSTEM_OPENMETRICS").then(|| value.clone())
        })
    };
    assert!(!SystemServerConfig::default().openmetrics());
    for (value, on) in [
        ("true", true),
        ("ON", true),
        ("yes", true),
        ("0", false),
        ("off", false),
        ("", false),
    ] {
        assert_eq!(read(value).unwrap().openmetrics(), on, "{value:?}");
    }
    assert_eq!(
        read("maybe").unwrap_err().to_string(),
        "DYN_SYSTEM_OPENMETRICS=\"maybe\" is invalid: expected a boolean: true, false, 1, 0, on, \
         off, yes or no"
    );
}
