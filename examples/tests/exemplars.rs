//! Exemplars as a real Prometheus sees them: Debian's 2.42, started with
//! `--enable-feature=exemplar-storage`, scraping over loopback a runtime that serves
//! OpenMetrics (Prometheus asks for it first). The exemplars set through the API, and those
//! request tracking attaches from a `traceparent`, come back from `/api/v1/query_exemplars`
//! with their labels, values and timestamps, and the target stays up.
//!
//! Needs Debian's `prometheus` package; the tests fail (they do not skip) without it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::prometheus::Prometheus;
use common::promql::percent_encode;
use common::{poll_until, request, serve_in_process_with};
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_runtime::Exemplar;
use serde_json::Value;

/// The `Accept` header of Prometheus 2.42 without native histograms: OpenMetrics first.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// How long Prometheus gets to scrape what a test expects.
const DEADLINE: Duration = Duration::from_secs(30);

/// A Prometheus storing exemplars, scraping `target` every second.
fn start_prometheus(target: SocketAddr) -> Prometheus {
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         storage:\n  exemplars:\n    max_exemplars: 1000\n\
         scrape_configs:\n  - job_name: dynamo\n    scrape_interval: 1s\n    \
         scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
    );
    Prometheus::start_with_flags(&config, &[], &["--enable-feature=exemplar-storage"])
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// One exemplar as the query API gives it: its series' labels, its labels, value, timestamp.
#[derive(Debug)]
struct Stored {
    series: Value,
    labels: Value,
    value: f64,
    timestamp: f64,
}

/// The exemplars Prometheus stored for `selector` in the last minute, once it has some.
fn poll_exemplars(prometheus: &mut Prometheus, selector: &str) -> Vec<Stored> {
    poll_until(DEADLINE, format!("exemplars of {selector}"), || {
        let (start, end) = (now() - 60.0, now() + 60.0);
        let path = format!(
            "query_exemplars?query={}&start={start}&end={end}",
            percent_encode(selector)
        );
        let data = prometheus.api(&path).ok()?;
        let stored: Vec<Stored> = data
            .as_array()?
            .iter()
            .flat_map(|series| {
                let exemplars = series["exemplars"].as_array().cloned().unwrap_or_default();
                exemplars.into_iter().map(move |exemplar| Stored {
                    series: series["seriesLabels"].clone(),
                    labels: exemplar["labels"].clone(),
                    value: exemplar["value"]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN),
                    timestamp: exemplar["timestamp"].as_f64().unwrap_or(f64::NAN),
                })
            })
            .collect();
        (!stored.is_empty()).then_some(stored)
    })
}

#[test]
fn exemplars_set_through_the_api_and_by_request_tracking_come_back_from_the_query_api() {
    let (runtime, target) = serve_in_process_with(|builder| builder.openmetrics(true));
    let metrics = runtime
        .namespace("ns")
        .component("comp")
        .endpoint("ep")
        .metrics();
    let jobs = metrics
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap();
    let latency = metrics
        .create_histogram("latency_seconds", "Latency", &[], Some(vec![0.1, 0.5, 1.0]))
        .unwrap();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let exemplar = Exemplar::new(&[("trace_id", trace), ("span_id", "00f067aa0ba902b7")]).unwrap();
    let before = now();
    jobs.inc_by_with_exemplar(3, &exemplar);
    latency.observe_with_exemplar(0.3, &exemplar);
    // A request tracked with the trace of another caller.
    let caller = "0af7651916cd43dd8448eb211c80319c";
    let traced = runtime.namespace("ns").component("comp").endpoint("traced");
    drop(traced.track_request_traced(&format!("00-{caller}-b7ad6b7169203331-01")));
    let after = now();

    // The page Prometheus gets, exemplars included, reads in prometheus_client's parser too.
    let response = request(target, "GET", "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]).unwrap();
    assert_eq!(
        response.header("content-type"),
        Some(dynamo_exporter::OPENMETRICS_CONTENT_TYPE)
    );
    let page = response.text();
    assert!(page.contains(&format!("trace_id=\"{trace}\"")), "{page}");
    let families = assert_openmetrics_parses(&page);
    for family in ["dynamo_component_jobs", "dynamo_component_latency_seconds"] {
        assert!(families.iter().any(|name| name == family), "{families:?}");
    }

    let mut prometheus = start_prometheus(target);
    prometheus.assert_target_up(DEADLINE);
    let expected_labels = serde_json::json!({"trace_id": trace, "span_id": "00f067aa0ba902b7"});

    let counted = poll_exemplars(&mut prometheus, "dynamo_component_jobs_total");
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0].labels, expected_labels);
    assert_eq!(counted[0].value, 3.0);
    assert_eq!(counted[0].series["__name__"], "dynamo_component_jobs_total");
    // Prometheus keeps the exemplar's timestamp to the millisecond.
    let within = |t: f64| t >= (before * 1000.0).floor() / 1000.0 && t <= after + 0.001;
    assert!(
        within(counted[0].timestamp),
        "{counted:?} not in {before}..{after}"
    );

    let observed = poll_exemplars(&mut prometheus, "dynamo_component_latency_seconds_bucket");
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert_eq!(observed[0].labels, expected_labels);
    assert_eq!(observed[0].value, 0.3);
    assert_eq!(observed[0].series["le"], "0.5");
    assert!(within(observed[0].timestamp), "{observed:?}");

    let caller_labels = serde_json::json!({"trace_id": caller, "span_id": "b7ad6b7169203331"});
    let requested = poll_exemplars(&mut prometheus, "dynamo_component_requests_total");
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0].labels, caller_labels);
    assert_eq!(requested[0].value, 1.0);
    assert_eq!(requested[0].series["dynamo_endpoint"], "traced");
    assert!(within(requested[0].timestamp), "{requested:?}");
    let timed = poll_exemplars(
        &mut prometheus,
        "dynamo_component_request_duration_seconds_bucket",
    );
    assert_eq!(timed.len(), 1, "{timed:?}");
    assert_eq!(timed[0].labels, caller_labels);

    assert_eq!(
        prometheus.target_health(),
        Some(("up".to_string(), String::new()))
    );
}
