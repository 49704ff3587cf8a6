//! `endpoint.track_request_traced(traceparent)`: the request's trace and span ids go beside
//! its count and its duration as exemplars, on the OpenMetrics page only; a malformed
//! `traceparent` leaves them out and the request is counted all the same.

use crate::common::requests::{EP, FakeClock, Requests, endpoint, runtime_with_clock};
use crate::guard::tracked;
use dynamo_exporter::Format;
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_runtime::Endpoint;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const EXEMPLAR: &str =
    r#"# {span_id="00f067aa0ba902b7",trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#;

/// The OpenMetrics lines of the endpoint's page that carry exemplars, each exemplar's
/// timestamp (the wall clock's) written `T`, once prometheus_client's parser has read the page.
fn exemplar_lines(endpoint: &Endpoint) -> Vec<String> {
    let page = Format::OpenMetrics.render(|encoder| endpoint.metrics().encode(encoder).unwrap());
    let page = String::from_utf8(page).unwrap();
    assert_openmetrics_parses(&page);
    page.lines()
        .filter(|line| line.contains(" # {"))
        .map(|line| {
            let (rest, timestamp) = line.rsplit_once(' ').unwrap();
            assert!(timestamp.parse::<f64>().unwrap() > 1.7e9, "{line}");
            format!("{rest} T")
        })
        .collect()
}

#[test]
fn a_traced_request_puts_its_trace_beside_its_count_and_its_duration() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let request = endpoint.track_request_traced(TRACEPARENT);
    clock.advance_ms(250);
    drop(request);
    assert_eq!(
        exemplar_lines(&endpoint),
        [
            format!(
                r#"dynamo_component_request_duration_seconds_bucket{{{EP},le="1.0"}} 1 {EXEMPLAR} 0.25 T"#
            ),
            format!(r#"dynamo_component_requests_total{{{EP}}} 1 {EXEMPLAR} 1.0 T"#),
        ]
    );
    // The text page is a request's as ever.
    let done = Requests {
        started: 1,
        durations: &[0.25],
        ..Requests::default()
    };
    assert_eq!(endpoint.metrics().prometheus_expfmt().unwrap(), done.text());
}

#[test]
fn a_malformed_traceparent_is_left_out_and_the_request_counted() {
    let clock = FakeClock::default();
    let runtime = runtime_with_clock(&clock);
    let endpoint = endpoint(&runtime);
    drop(endpoint.track_request_traced("00-not-a-trace-01"));
    assert_eq!(exemplar_lines(&endpoint), Vec::<String>::new());
    let requests = endpoint.request_metrics().unwrap();
    assert_eq!(requests.requests_total().get(), 1);
}
