//! An endpoint's request metrics: created once on first use with Dynamo's names and default
//! buckets, or before with options (constant labels, buckets); malformed options and metrics
//! that already hold one of their names are typed errors, while `track_request` reports the
//! failure once and counts nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::requests::{EP, FakeClock, Requests, endpoint, runtime_with_clock};
use dynamo_runtime::{DEFAULT_REQUEST_DURATION_BUCKETS, Endpoint, MetricsError};

fn scrape(endpoint: &Endpoint) -> String {
    endpoint.metrics().prometheus_expfmt().unwrap()
}

/// The registry's error behind a request metrics error.
fn source(error: &MetricsError) -> &MetricsError {
    match error {
        MetricsError::RequestMetrics { source, .. } => source,
        other => panic!("not a request metrics error: {other:?}"),
    }
}

#[test]
fn the_first_request_creates_the_metrics_with_buckets_from_5_ms_to_600_s() {
    let clock = FakeClock::default();
    let runtime = runtime_with_clock(&clock);
    let endpoint = endpoint(&runtime);
    assert_eq!(scrape(&endpoint), "");
    let request = endpoint.track_request();
    clock.advance_ms(45_000);
    drop(request);
    let text = scrape(&endpoint);
    assert_eq!(
        text,
        Requests {
            buckets: &DEFAULT_REQUEST_DURATION_BUCKETS,
            started: 1,
            durations: &[45.0],
            ..Requests::default()
        }
        .text()
    );
    let bounds: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_once("le=\""))
        .map(|(_, rest)| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(
        bounds,
        [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "20",
            "30", "60", "120", "300", "600", "+Inf"
        ]
    );
}

#[test]
fn options_add_constant_labels_and_buckets_to_every_request_metric() {
    let clock = FakeClock::default();
    let runtime = runtime_with_clock(&clock);
    let endpoint = endpoint(&runtime);
    let metrics = endpoint
        .request_metrics_options()
        .with_const_labels(&[("model", "llama-3-8b")])
        .with_duration_buckets(vec![1.0])
        .with_first_response_buckets(vec![0.5])
        .create()
        .unwrap();
    let labels = metrics.requests_total().const_labels();
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        labels,
        [
            ("dynamo_component", "comp"),
            ("dynamo_endpoint", "ep"),
            ("dynamo_namespace", "ns"),
            ("model", "llama-3-8b"),
        ]
    );
    let mut request = endpoint.track_request();
    clock.advance_ms(250);
    request.first_response();
    clock.advance_ms(1000);
    drop(request);
    let labels = format!("{EP},model=\"llama-3-8b\"");
    assert_eq!(
        scrape(&endpoint),
        Requests {
            labels: &labels,
            buckets: &[1.0],
            started: 1,
            durations: &[1.25],
            first_responses: Some((&[0.5], &[0.25])),
            ..Requests::default()
        }
        .text()
    );
    let error_line = "dynamo_component_errors_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",error_type=\"generate\",model=\"llama-3-8b\"} 1\n";
    endpoint.track_request().error("generate");
    assert!(scrape(&endpoint).contains(error_line));
}

#[test]
fn options_after_the_metrics_exist_are_refused() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    drop(endpoint.track_request());
    let error = endpoint
        .request_metrics_options()
        .with_const_labels(&[("model", "llama")])
        .create()
        .unwrap_err();
    assert!(matches!(error, MetricsError::RequestMetricsExist { .. }));
    assert_eq!(
        error.to_string(),
        "the request metrics of endpoint \"ns/comp/ep\" exist already: set their options before the first tracked request"
    );
    assert!(error.is_conflict());
    // Created with options, they cannot be created again either.
    let other = runtime.namespace("ns").component("comp").endpoint("other");
    other.request_metrics_options().create().unwrap();
    assert!(matches!(
        other.request_metrics_options().create(),
        Err(MetricsError::RequestMetricsExist { .. })
    ));
}

#[test]
fn malformed_options_register_nothing_and_can_be_corrected() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let refused = [
        (
            endpoint
                .request_metrics_options()
                .with_const_labels(&[("error_type", "x")]),
            "label \"error_type\" is given more than once",
        ),
        (
            endpoint
                .request_metrics_options()
                .with_const_labels(&[("le", "x")]),
            "invalid label name \"le\"",
        ),
        (
            endpoint
                .request_metrics_options()
                .with_const_labels(&[("dynamo_endpoint", "x")]),
            "label \"dynamo_endpoint\" is reserved for the runtime hierarchy",
        ),
        (
            endpoint
                .request_metrics_options()
                .with_duration_buckets(vec![1.0, 0.5]),
            "invalid buckets [1.0, 0.5]",
        ),
        (
            endpoint
                .request_metrics_options()
                .with_first_response_buckets(vec![f64::NAN]),
            "invalid buckets [NaN]",
        ),
    ];
    for (options, message) in refused {
        let error = options.create().unwrap_err();
        assert!(!error.is_conflict(), "{error}");
        assert!(
            error.to_string().starts_with(
                "cannot create the request metrics of endpoint \"ns/comp/ep\": metric \"dynamo_component_"
            ),
            "{error}"
        );
        assert!(source(&error).to_string().contains(message), "{error}");
        assert_eq!(
            scrape(&endpoint),
            "",
            "a refused option registered something"
        );
    }
    endpoint
        .request_metrics_options()
        .with_duration_buckets(vec![0.1, 1.0])
        .create()
        .unwrap();
    drop(endpoint.track_request());
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.0],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_metric_made_by_hand_under_a_request_metric_name_is_a_typed_error() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let by_hand = endpoint
        .metrics()
        .create_counter("requests_total", "Total requests", &[])
        .unwrap();
    by_hand.inc();
    let by_hand_text = concat!(
        "# HELP dynamo_component_requests_total Total requests\n",
        "# TYPE dynamo_component_requests_total counter\n",
        "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 1\n",
    );
    let message = "cannot create the request metrics of endpoint \"ns/comp/ep\": metric \
                   \"dynamo_component_requests_total\" is already registered with help \
                   \"Total requests\", not \"Total number of requests processed by work handler\"";
    for _ in 0..2 {
        let error = endpoint.try_track_request().unwrap_err();
        assert!(error.is_conflict());
        assert_eq!(error.to_string(), message);
        let error = endpoint.request_metrics().expect_err("the same refusal");
        assert!(
            matches!(&error, MetricsError::RequestMetrics { endpoint, .. } if endpoint == "ns/comp/ep"),
            "{error:?}"
        );
        assert_eq!(error.to_string(), message);
    }
    // The infallible form counts nothing, and leaves the hand-made metric alone.
    let mut guard = endpoint.track_request();
    guard.error("generate");
    drop(guard);
    assert_eq!(scrape(&endpoint), by_hand_text);
    // Options given now get the same error: the metrics were never created.
    let error = endpoint.request_metrics_options().create().unwrap_err();
    assert!(
        source(&error)
            .to_string()
            .contains("is already registered with help")
    );
}

#[test]
fn a_failure_is_reported_once_per_endpoint() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let _by_hand = endpoint
        .metrics()
        .create_intgauge("requests_total", "In flight, named badly", &[])
        .unwrap();
    let reports = AtomicUsize::new(0);
    let report = |error: &MetricsError| {
        assert!(error.is_conflict(), "{error}");
        reports.fetch_add(1, Ordering::SeqCst);
    };
    for _ in 0..3 {
        drop(endpoint.track_request_or_report(report));
        let same_place = runtime.namespace("ns").component("comp").endpoint("ep");
        drop(same_place.track_request_or_report(report));
    }
    assert_eq!(reports.load(Ordering::SeqCst), 1);
    assert!(matches!(
        source(&endpoint.try_track_request().unwrap_err()),
        MetricsError::Registry(_)
    ));
}

#[test]
fn a_conflict_on_a_later_metric_registers_none_of_them() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = endpoint(&runtime);
    let by_hand = endpoint
        .metrics()
        .create_intcountervec("errors_total", "Errors", &["kind"], &[])
        .unwrap();
    let error = endpoint
        .request_metrics_options()
        .with_duration_buckets(vec![0.1, 1.0])
        .create()
        .unwrap_err();
    assert!(error.is_conflict(), "{error}");
    assert!(
        error.to_string().contains(
            "metric \"dynamo_component_errors_total\" is already registered with help \"Errors\""
        ),
        "{error}"
    );
    by_hand.with_label_values(&["timeout"]).inc();
    drop(endpoint.track_request());
    // The metrics created before the conflict were unregistered again: only the one made by
    // hand is left, and nothing was counted.
    assert_eq!(
        scrape(&endpoint),
        concat!(
            "# HELP dynamo_component_errors_total Errors\n",
            "# TYPE dynamo_component_errors_total counter\n",
            "dynamo_component_errors_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",kind=\"timeout\"} 1\n",
        )
    );
}

#[test]
fn a_time_to_first_response_conflict_leaves_the_other_metrics_counting() {
    let clock = FakeClock::default();
    let runtime = runtime_with_clock(&clock);
    let endpoint = endpoint(&runtime);
    endpoint
        .metrics()
        .create_gauge("time_to_first_response_seconds", "Last TTFR", &[])
        .unwrap()
        .set(0.5);
    endpoint
        .request_metrics_options()
        .with_duration_buckets(vec![0.1, 1.0])
        .create()
        .unwrap();
    let mut request = endpoint.track_request();
    clock.advance_ms(50);
    request.first_response();
    drop(request);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.05],
            ..Requests::default()
        }
        .text()
            + concat!(
                "# HELP dynamo_component_time_to_first_response_seconds Last TTFR\n",
                "# TYPE dynamo_component_time_to_first_response_seconds gauge\n",
                "dynamo_component_time_to_first_response_seconds{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0.5\n",
            )
    );
}

#[test]
fn request_metrics_hands_out_the_handles() {
    let clock = FakeClock::default();
    let runtime = runtime_with_clock(&clock);
    let endpoint = endpoint(&runtime);
    let metrics = endpoint.request_metrics().unwrap();
    let mut first = metrics.track();
    let second = endpoint.track_request();
    first.request_bytes(3);
    second.response_bytes(5);
    first.cancelled();
    assert_eq!(metrics.requests_total().get(), 2);
    assert_eq!(metrics.inflight_requests().get(), 2);
    drop((first, second));
    assert_eq!(metrics.inflight_requests().get(), 0);
    assert_eq!(metrics.request_duration().get_count(), 2);
    assert_eq!(metrics.request_bytes_total().get(), 3);
    assert_eq!(metrics.response_bytes_total().get(), 5);
    assert_eq!(metrics.cancellation_total().get(), 1);
    assert_eq!(metrics.errors_total().variable_labels(), ["error_type"]);
    assert_eq!(
        metrics.request_duration().buckets(),
        DEFAULT_REQUEST_DURATION_BUCKETS
    );
}

#[test]
fn an_endpoint_with_an_unusable_name_cannot_track_requests() {
    let runtime = runtime_with_clock(&FakeClock::default());
    let endpoint = runtime.namespace("ns").component("comp").endpoint("--");
    let error = endpoint.try_track_request().unwrap_err();
    assert!(matches!(
        source(&error),
        MetricsError::InvalidHierarchyName {
            level: "endpoint",
            ..
        }
    ));
    drop(endpoint.track_request());
    // Only the runtime's own metrics: no request metric was registered anywhere.
    assert_eq!(
        runtime.metrics().prometheus_expfmt().unwrap(),
        concat!(
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
        )
    );
}
