//! `endpoint.track_request()`: every path that ends a guard (drop, `finish`, early return,
//! `?`, panic) ends the request exactly once, and the guard's counts land in the endpoint's
//! scrape. Durations come from a fake clock, so whole texts are compared.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::common::requests::{EP, FakeClock, Requests, endpoint, runtime_with_clock};
use dynamo_runtime::{DistributedRuntime, Endpoint, RequestGuard};

/// A runtime on `clock` and its endpoint, whose request metrics have the buckets 0.1 and 1.
pub(crate) fn tracked(clock: &FakeClock) -> (DistributedRuntime, Endpoint) {
    let runtime = runtime_with_clock(clock);
    let endpoint = endpoint(&runtime);
    endpoint
        .request_metrics_options()
        .with_duration_buckets(vec![0.1, 1.0])
        .create()
        .unwrap();
    (runtime, endpoint)
}

fn scrape(endpoint: &Endpoint) -> String {
    endpoint.metrics().prometheus_expfmt().unwrap()
}

#[test]
fn a_guard_counts_the_request_while_in_flight_and_ends_it_when_dropped() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let guard = endpoint.track_request();
    clock.advance_ms(250);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            inflight: 1,
            ..Requests::default()
        }
        .text()
    );
    drop(guard);
    clock.advance_ms(1000); // after the end: not part of the duration
    let expected = concat!(
        "# HELP dynamo_component_cancellation_total Total number of requests cancelled by work handler\n",
        "# TYPE dynamo_component_cancellation_total counter\n",
        "dynamo_component_cancellation_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0\n",
        "# HELP dynamo_component_inflight_requests Number of requests currently being processed by work handler\n",
        "# TYPE dynamo_component_inflight_requests gauge\n",
        "dynamo_component_inflight_requests{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0\n",
        "# HELP dynamo_component_request_bytes_total Total number of bytes received in requests by work handler\n",
        "# TYPE dynamo_component_request_bytes_total counter\n",
        "dynamo_component_request_bytes_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0\n",
        "# HELP dynamo_component_request_duration_seconds Time spent processing requests by work handler\n",
        "# TYPE dynamo_component_request_duration_seconds histogram\n",
        "dynamo_component_request_duration_seconds_bucket{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",le=\"0.1\"} 0\n",
        "dynamo_component_request_duration_seconds_bucket{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",le=\"1\"} 1\n",
        "dynamo_component_request_duration_seconds_bucket{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",le=\"+Inf\"} 1\n",
        "dynamo_component_request_duration_seconds_sum{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0.25\n",
        "dynamo_component_request_duration_seconds_count{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 1\n",
        "# HELP dynamo_component_requests_total Total number of requests processed by work handler\n",
        "# TYPE dynamo_component_requests_total counter\n",
        "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 1\n",
        "# HELP dynamo_component_response_bytes_total Total number of bytes sent in responses by work handler\n",
        "# TYPE dynamo_component_response_bytes_total counter\n",
        "dynamo_component_response_bytes_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 0\n",
    );
    assert_eq!(scrape(&endpoint), expected);
    // The helper the other tests use renders the same text.
    let helper = Requests {
        started: 1,
        durations: &[0.25],
        ..Requests::default()
    };
    assert_eq!(helper.text(), expected);
}

#[test]
fn finish_ends_the_request_once_and_returns_its_duration() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let guard = endpoint.track_request();
    clock.advance_ms(500);
    assert_eq!(guard.elapsed().as_millis(), 500);
    assert_eq!(guard.finish().as_millis(), 500);
    clock.advance_ms(500);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.5],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn an_early_return_ends_the_request() {
    fn handle(endpoint: &Endpoint, clock: &FakeClock, request: &str) -> usize {
        let guard = endpoint.track_request();
        guard.request_bytes(request.len() as u64);
        clock.advance_ms(50);
        if request.is_empty() {
            return 0;
        }
        clock.advance_ms(200);
        guard.response_bytes(2);
        request.len()
    }
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    assert_eq!(handle(&endpoint, &clock, ""), 0);
    assert_eq!(handle(&endpoint, &clock, "abc"), 3);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.05, 0.25],
            request_bytes: 3,
            response_bytes: 2,
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_question_mark_ends_the_request_with_the_error_it_counted() {
    fn handle(endpoint: &Endpoint, clock: &FakeClock, request: &str) -> Result<u32, String> {
        let mut guard = endpoint.track_request();
        clock.advance_ms(125);
        let n: u32 = request
            .parse()
            .map_err(|e| format!("{e}"))
            .inspect_err(|_| guard.error("parse"))?;
        clock.advance_ms(125);
        Ok(n * 2)
    }
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    assert_eq!(handle(&endpoint, &clock, "21"), Ok(42));
    assert_eq!(
        handle(&endpoint, &clock, "x"),
        Err("invalid digit found in string".to_string())
    );
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.25, 0.125],
            errors: &[("parse", 1)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_panic_ends_the_request_with_a_panic_error() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _request = endpoint.track_request();
        clock.advance_ms(2000);
        panic!("the handler failed");
    }));
    let payload = caught.expect_err("the handler panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the handler failed"));
    // A thread that dies of a panic ends its request too.
    let handler = {
        let (endpoint, clock) = (endpoint.clone(), clock.clone());
        std::thread::spawn(move || {
            let _request = endpoint.track_request();
            clock.advance_ms(100);
            panic!("the handler failed on its thread");
        })
    };
    let payload = handler.join().expect_err("the handler's thread panics");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the handler failed on its thread")
    );
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[2.0, 0.1],
            errors: &[("panic", 2)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_panic_after_an_error_counts_only_that_error() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let mut request = endpoint.track_request();
        request.error("validation");
        panic!("after the error");
    }));
    let payload = caught.expect_err("the handler panics");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"after the error"));
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.0],
            errors: &[("validation", 1)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn each_error_call_counts_one_error_of_its_type() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut guard = endpoint.track_request();
    assert!(!guard.has_error());
    guard.error("publish_response");
    guard.error("publish_response");
    guard.error("generate");
    assert!(guard.has_error());
    drop(guard);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.0],
            errors: &[("generate", 1), ("publish_response", 2)],
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn cancelled_counts_the_request_once() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut guard = endpoint.track_request();
    guard.cancelled();
    guard.cancelled();
    assert!(guard.is_cancelled());
    clock.advance_ms(3000);
    drop(guard);
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[3.0],
            cancelled: 1,
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn first_response_observes_the_time_to_it_once() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut guard = endpoint.track_request();
    clock.advance_ms(50);
    guard.first_response();
    clock.advance_ms(200);
    guard.first_response();
    guard.finish();
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 1,
            durations: &[0.25],
            first_responses: Some((&dynamo_runtime::DEFAULT_REQUEST_DURATION_BUCKETS, &[0.05])),
            ..Requests::default()
        }
        .text()
    );
}

#[test]
fn a_noop_guard_counts_nothing() {
    let clock = FakeClock::default();
    let (_runtime, endpoint) = tracked(&clock);
    let mut guard = RequestGuard::noop();
    guard.error("generate");
    guard.cancelled();
    guard.first_response();
    guard.request_bytes(10);
    guard.response_bytes(10);
    assert!(!guard.has_error() && !guard.is_cancelled());
    clock.advance_ms(100);
    assert_eq!(guard.finish().as_millis(), 0);
    assert_eq!(scrape(&endpoint), Requests::default().text());
}

#[test]
fn guards_of_two_endpoints_count_apart_and_two_handles_of_one_endpoint_share() {
    let clock = FakeClock::default();
    let (runtime, endpoint) = tracked(&clock);
    let same = runtime.namespace("ns").component("comp").endpoint("ep");
    let other = runtime.namespace("ns").component("comp").endpoint("other");
    drop(endpoint.track_request());
    drop(same.track_request());
    drop(other.track_request());
    assert_eq!(
        scrape(&endpoint),
        Requests {
            started: 2,
            durations: &[0.0, 0.0],
            ..Requests::default()
        }
        .text()
    );
    assert_eq!(
        scrape(&other),
        Requests {
            labels: r#"dynamo_component="comp",dynamo_endpoint="other",dynamo_namespace="ns""#,
            buckets: &dynamo_runtime::DEFAULT_REQUEST_DURATION_BUCKETS,
            started: 1,
            durations: &[0.0],
            ..Requests::default()
        }
        .text()
    );
    assert!(EP.contains("dynamo_endpoint=\"ep\""));
}
