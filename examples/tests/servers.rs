//! The `server_with_loop` and `server_with_callback` examples, run as programs: each prints
//! its bound address, serves the same metrics (which promtool accepts), and refuses to start
//! without `DYN_SYSTEM_PORT`.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{TIMEOUT, get, start, value};

const LABELS: &str =
    r#"dynamo_component="worker",dynamo_endpoint="generate",dynamo_namespace="example""#;

fn updates_series(method: &str) -> String {
    format!(r#"dynamo_component_updates_total{{{LABELS},update_method="{method}"}} "#)
}

/// Scrapes until the example has updated its metrics once.
fn first_update(addr: SocketAddr, method: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        // The counter exists from the start; the first update makes it 1.
        if value(&body, &updates_series(method)).is_some_and(|n| n >= 1.0) {
            return body;
        }
        assert!(Instant::now() < deadline, "no update within {TIMEOUT:?}");
    }
}

fn assert_example_metrics(text: &str) {
    assert_eq!(
        value(text, &format!("dynamo_component_total_slots{{{LABELS}}} ")),
        Some(64.0),
        "{text}"
    );
    let ratio = value(
        text,
        &format!("dynamo_component_kv_cache_usage_ratio{{{LABELS}}} "),
    );
    assert!(ratio.is_some_and(|r| (0.0..=1.0).contains(&r)), "{text}");
    for worker in 0..3 {
        let series =
            format!(r#"dynamo_component_worker_active_requests{{{LABELS},worker_id="{worker}"}} "#);
        assert!(value(text, &series).is_some(), "no {series} in\n{text}");
    }
}

#[test]
fn server_with_callback_updates_once_per_scrape() {
    let example = start(env!("CARGO_BIN_EXE_server_with_callback"));
    let first = first_update(example.addr, "callback");
    assert_example_metrics(&first);
    assert_eq!(value(&first, &updates_series("callback")), Some(1.0));
    let (_, second) = get(example.addr, "/metrics");
    assert_eq!(value(&second, &updates_series("callback")), Some(2.0));
    assert_eq!(common::promtool_check(&second), Ok(Vec::new()));
    assert_eq!(get(example.addr, "/health").0, "HTTP/1.1 200 OK");
    assert_eq!(get(example.addr, "/live").0, "HTTP/1.1 200 OK");
}

#[test]
fn server_with_loop_serves_the_same_metrics() {
    let example = start(env!("CARGO_BIN_EXE_server_with_loop"));
    let text = first_update(example.addr, "loop");
    assert_example_metrics(&text);
    assert_eq!(common::promtool_check(&text), Ok(Vec::new()));
    assert_eq!(get(example.addr, "/health").0, "HTTP/1.1 200 OK");
}

#[test]
fn examples_say_how_to_turn_the_server_on() {
    for program in [
        env!("CARGO_BIN_EXE_server_with_loop"),
        env!("CARGO_BIN_EXE_server_with_callback"),
    ] {
        let output = Command::new(program)
            .env_remove("DYN_SYSTEM_PORT")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("DYN_SYSTEM_PORT"), "{stderr}");
    }
}
