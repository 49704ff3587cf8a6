//! The `request_handler` example, run as a program: the traffic it sends itself shows on
//! `/metrics` as Dynamo's request series (requests, errors, cancellations, durations, bytes),
//! with the endpoint's labels and its `model` label, in a page promtool accepts.

mod common;

use std::process::{Command, Stdio};

use common::{TIMEOUT, assert_promtool_accepts, get, poll_until, scrape, start, value};

const LABELS: &str = r#"dynamo_component="llm",dynamo_endpoint="generate",dynamo_namespace="example",model="toy-reverser""#;

/// The value of `dynamo_component_<name>{LABELS}`.
fn request_series(text: &str, name: &str) -> Option<f64> {
    value(text, &format!("dynamo_component_{name}{{{LABELS}}} "))
}

fn errors(text: &str) -> Option<f64> {
    let labels = LABELS.replace(",model=", ",error_type=\"generate\",model=");
    value(text, &format!("dynamo_component_errors_total{{{labels}}} "))
}

/// Scrapes until the traffic has produced an error, a cancellation and ten requests. Polls
/// the program's own traffic (the server answers from the first scrape).
fn scrape_after_some_traffic(example: &common::Example) -> String {
    poll_until(
        TIMEOUT,
        "ten requests, an error and a cancellation on the page",
        || {
            let text = scrape(example.addr);
            let enough = request_series(&text, "requests_total").is_some_and(|n| n >= 10.0)
                && errors(&text).is_some_and(|n| n >= 1.0)
                && request_series(&text, "cancellation_total").is_some_and(|n| n >= 1.0);
            enough.then_some(text)
        },
    )
}

#[test]
fn request_handler_serves_the_request_series_of_its_traffic() {
    let example = start(env!("CARGO_BIN_EXE_request_handler"));
    let text = scrape_after_some_traffic(&example);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        families,
        [
            "dynamo_component_cancellation_total counter",
            "dynamo_component_errors_total counter",
            "dynamo_component_inflight_requests gauge",
            "dynamo_component_request_bytes_total counter",
            "dynamo_component_request_duration_seconds histogram",
            "dynamo_component_requests_total counter",
            "dynamo_component_response_bytes_total counter",
            "dynamo_component_uptime_seconds gauge",
            "dynamo_metrics_callback_text_dropped_total counter",
            "dynamo_metrics_macro_rejections_total counter",
            "process_cpu_seconds_total counter",
            "process_max_fds gauge",
            "process_open_fds gauge",
            "process_resident_memory_bytes gauge",
            "process_start_time_seconds gauge",
            "process_threads gauge",
            "process_virtual_memory_bytes gauge",
        ]
    );
    let started = request_series(&text, "requests_total").unwrap();
    let inflight = request_series(&text, "inflight_requests").unwrap();
    let ended = request_series(&text, "request_duration_seconds_count").unwrap();
    assert!((0.0..=started).contains(&inflight), "{text}");
    assert!(
        ended <= started && ended >= started - inflight - 1.0,
        "{text}"
    );
    assert!(request_series(&text, "request_bytes_total").unwrap() > 0.0);
    assert!(request_series(&text, "response_bytes_total").unwrap() > 0.0);
    let bucket = |le: &str| {
        let series =
            format!("dynamo_component_request_duration_seconds_bucket{{{LABELS},le=\"{le}\"}} ");
        value(&text, &series)
    };
    assert_eq!(bucket("600"), Some(ended), "{text}");
    assert_eq!(bucket("+Inf"), Some(ended), "{text}");
    assert!(bucket("0.005").is_some(), "{text}");
    assert_promtool_accepts(&text);
    assert_eq!(get(example.addr, "/health").status, 200);
}

#[test]
fn request_handler_says_how_to_turn_the_server_on() {
    let output = Command::new(env!("CARGO_BIN_EXE_request_handler"))
        .env_remove("DYN_SYSTEM_PORT")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DYN_SYSTEM_PORT"), "{stderr}");
}
