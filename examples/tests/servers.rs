//! The `server_with_loop` and `server_with_callback` examples, run as programs: each prints
//! its bound address, serves the same metrics (which promtool accepts), refuses to start
//! without `DYN_SYSTEM_PORT`, and on SIGTERM or SIGINT answers the scrapes in flight and
//! exits 0.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::{Example, TIMEOUT, assert_promtool_accepts, get, poll_until, scrape, start, value};

const LABELS: &str =
    r#"dynamo_component="worker",dynamo_endpoint="generate",dynamo_namespace="example""#;

fn updates_series(method: &str) -> String {
    format!(r#"dynamo_component_updates_total{{{LABELS},update_method="{method}"}} "#)
}

/// Scrapes until the example has updated its metrics once.
fn first_update(addr: SocketAddr, method: &str) -> String {
    poll_until(TIMEOUT, format!("a first {method} update"), || {
        let body = scrape(addr);
        // The counter exists from the start; the first update makes it 1.
        value(&body, &updates_series(method))
            .is_some_and(|n| n >= 1.0)
            .then_some(body)
    })
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
    let second = scrape(example.addr);
    assert_eq!(value(&second, &updates_series("callback")), Some(2.0));
    assert_promtool_accepts(&second);
    assert_eq!(get(example.addr, "/health").status, 200);
    assert_eq!(get(example.addr, "/live").status, 200);
}

#[test]
fn server_with_loop_serves_the_same_metrics() {
    let example = start(env!("CARGO_BIN_EXE_server_with_loop"));
    let text = first_update(example.addr, "loop");
    assert_example_metrics(&text);
    assert_promtool_accepts(&text);
    assert_eq!(get(example.addr, "/health").status, 200);
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

/// `GET /metrics` on a fresh connection: `Ok` with the whole body when answered, `Err` when
/// the server refused or closed the connection before answering. A response cut short is a
/// test failure.
fn try_scrape(addr: SocketAddr) -> Result<String, std::io::Error> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if response.is_empty() {
        return Err(std::io::ErrorKind::ConnectionAborted.into());
    }
    let text = String::from_utf8(response).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("a length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "a response cut short");
    Ok(body.to_string())
}

/// Sends `signal` (`TERM`, `INT`) to the example and waits for it to exit.
fn stop_with(example: &mut Example, signal: &str) -> ExitStatus {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &example.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    poll_until(TIMEOUT, format!("an exit after SIG{signal}"), || {
        example.child.try_wait().unwrap()
    })
}

#[test]
fn examples_answer_scrapes_in_flight_and_exit_0_on_sigterm_and_sigint() {
    let cases = [
        (
            env!("CARGO_BIN_EXE_server_with_callback"),
            "callback",
            "TERM",
        ),
        (env!("CARGO_BIN_EXE_server_with_loop"), "loop", "INT"),
        (
            env!("CARGO_BIN_EXE_server_with_callback"),
            "callback",
            "INT",
        ),
        (env!("CARGO_BIN_EXE_server_with_loop"), "loop", "TERM"),
    ];
    for (program, method, signal) in cases {
        let mut example = start(program);
        let addr = example.addr;
        first_update(addr, method);
        // Scrapers keep scraping while the signal arrives: each scrape is answered whole, or
        // refused once the server has closed.
        let answered = Arc::new(AtomicUsize::new(0));
        let scrapers: Vec<_> = (0..3)
            .map(|_| {
                let answered = Arc::clone(&answered);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        match try_scrape(addr) {
                            Ok(body) => {
                                assert!(value(&body, &updates_series(method)).is_some(), "{body}");
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + TIMEOUT;
        while answered.load(Ordering::SeqCst) < 10 {
            assert!(Instant::now() < deadline, "the scrapers got no answers");
            std::thread::yield_now();
        }
        let status = stop_with(&mut example, signal);
        assert!(status.success(), "{program} on SIG{signal}: {status}");
        for scraper in scrapers {
            scraper.join().expect("every answered scrape was whole");
        }
    }
}
