//! Canary health checks: an idle endpoint is probed with its payload, a failing or hanging
//! probe turns it not ready, a successful request turns it ready again, and a busy endpoint
//! is never probed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use crate::common::{self, get, parse_exposition, serve, value_of};
use dynamo_runtime::{
    DistributedRuntime, Endpoint, HealthCheckConfig, HealthStatus, MetricsError, RuntimeBuilder,
    SystemServerConfig,
};

const WAIT: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(300);

const READY: &str =
    r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"ready"}}"#;
const NOT_READY: &str = r#"{"status":"notready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"notready"}}"#;

/// A ready runtime whose endpoints are probed after `WAIT`, each probe allowed `TIMEOUT`.
fn checked() -> RuntimeBuilder {
    common::builder()
        .starting_health(HealthStatus::Ready)
        .health_check_enabled(true)
        .canary_wait_time(WAIT)
        .health_check_request_timeout(TIMEOUT)
}

fn generate(runtime: &DistributedRuntime) -> Endpoint {
    runtime
        .namespace("ns")
        .component("worker")
        .endpoint("generate")
}

/// Polls `/health` until it answers `status` with `body`; the time that took.
fn await_health(addr: SocketAddr, status: u16, body: &str) -> Duration {
    let start = Instant::now();
    loop {
        let response = get(addr, "/health");
        if (response.status, response.text().as_str()) == (status, body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "/health still answers {} {}",
            response.status,
            response.text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `dynamo_metrics_health_checks_total{endpoint="generate", result}`.
fn probes(runtime: &DistributedRuntime, result: &str) -> f64 {
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    let samples = parse_exposition(&page).unwrap();
    value_of(
        &samples,
        "dynamo_metrics_health_checks_total",
        &[("endpoint", "generate"), ("result", result)],
    )
    .unwrap_or_else(|| panic!("no {result} series on the page:\n{page}"))
}

#[test]
fn an_idle_endpoint_is_probed_with_its_payload_outside_its_request_metrics() {
    let (runtime, addr) = serve(checked());
    let endpoint = generate(&runtime);
    let (sent, payloads) = mpsc::channel();
    let inside = endpoint.clone();
    endpoint
        .register_health_check(
            move |payload: &'static str| {
                // A request the handler tracks is the canary's, not the endpoint's.
                inside.track_request().finish();
                let sent = sent.clone();
                async move {
                    let _ = sent.send(payload);
                    Ok::<_, std::io::Error>("pong")
                }
            },
            r#"{"prompt":"ping","max_tokens":1}"#,
        )
        .unwrap();
    let payload = payloads.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(payload, r#"{"prompt":"ping","max_tokens":1}"#);
    await_health(addr, 200, READY);
    assert!(probes(&runtime, "success") >= 1.0);
    assert_eq!(probes(&runtime, "error"), 0.0);
    let requests = endpoint.request_metrics().unwrap();
    assert_eq!(requests.requests_total().get(), 0);
}

#[test]
fn registering_makes_the_endpoint_not_ready_until_a_request_succeeds() {
    let (runtime, addr) = serve(checked().canary_wait_time(Duration::from_secs(3600)));
    let endpoint = generate(&runtime);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    endpoint
        .register_health_check(
            move |()| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::io::Error>(()) }
            },
            (),
        )
        .unwrap();
    assert_eq!(get(addr, "/health").text(), NOT_READY);
    let mut failed = endpoint.track_request();
    failed.error("overloaded");
    drop(failed);
    assert_eq!(
        get(addr, "/health").text(),
        NOT_READY,
        "an error is no success"
    );
    endpoint.track_request().finish();
    await_health(addr, 200, READY);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never idle long enough");
}

#[test]
fn a_hanging_probe_turns_the_endpoint_not_ready_until_the_next_successful_request() {
    let (runtime, addr) = serve(checked());
    let endpoint = generate(&runtime);
    let hang = Arc::new(AtomicBool::new(false));
    let (release, released) = mpsc::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(released));
    let hangs = Arc::clone(&hang);
    endpoint
        .register_blocking_health_check(
            move |()| {
                if hangs.load(Ordering::SeqCst) {
                    let _ = released.lock().unwrap().recv();
                }
                Ok::<_, std::io::Error>(())
            },
            (),
        )
        .unwrap();
    await_health(addr, 200, READY);
    hang.store(true, Ordering::SeqCst);
    let took = await_health(addr, 503, NOT_READY);
    assert!(took <= WAIT + TIMEOUT + Duration::from_secs(1), "{took:?}");
    assert_eq!(probes(&runtime, "timeout"), 1.0);
    // The hung probe still runs, so no other starts: only the request can make it ready.
    endpoint.track_request().finish();
    await_health(addr, 200, READY);
    assert_eq!(probes(&runtime, "timeout"), 1.0);
    release.send(()).unwrap();
}

#[test]
fn a_failing_probe_turns_the_endpoint_not_ready() {
    let (runtime, addr) = serve(checked());
    let endpoint = generate(&runtime);
    endpoint
        .register_health_check(|()| async { Err::<(), _>("the engine is gone") }, ())
        .unwrap();
    let start = Instant::now();
    while probes(&runtime, "error") < 1.0 {
        assert!(start.elapsed() < Duration::from_secs(10), "never probed");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(get(addr, "/health").text(), NOT_READY);
    assert_eq!(probes(&runtime, "success"), 0.0);
    // A successful request makes it ready until the next failed probe.
    endpoint.track_request().finish();
    await_health(addr, 200, READY);
}

#[test]
fn a_busy_endpoint_is_never_probed() {
    let (runtime, addr) = serve(checked());
    let endpoint = generate(&runtime);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    endpoint
        .register_health_check(
            move |()| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::io::Error>(()) }
            },
            (),
        )
        .unwrap();
    // Requests succeed every 20 ms for five canary waits.
    let busy_until = Instant::now() + WAIT * 5;
    while Instant::now() < busy_until {
        endpoint.track_request().finish();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(probes(&runtime, "success"), 0.0);
    await_health(addr, 200, READY);
    // Once idle, it is probed.
    let start = Instant::now();
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never probed once idle"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn with_health_checks_off_registering_marks_the_endpoint_served() {
    let (runtime, addr) = serve(
        common::builder()
            .use_endpoint_health_status(["generate"])
            .canary_wait_time(WAIT),
    );
    await_health(addr, 503, NOT_READY);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    generate(&runtime)
        .register_health_check(
            move |()| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, std::io::Error>(()) }
            },
            (),
        )
        .unwrap();
    assert_eq!(get(addr, "/health").text(), READY);
    assert!(
        !runtime
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("health_checks"),
        "no probe, no counter"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn settings_come_from_the_environment_and_bad_ones_name_their_variable() {
    let config = SystemServerConfig::from_lookup(|var| match var {
        "DYN_HEALTH_CHECK_ENABLED" => Some("true".into()),
        "DYN_CANARY_WAIT_TIME" => Some("0.2".into()),
        "DYN_HEALTH_CHECK_REQUEST_TIMEOUT" => Some("1.5".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        config.health_checks(),
        HealthCheckConfig {
            enabled: true,
            canary_wait_time: Duration::from_millis(200),
            request_timeout: Duration::from_millis(1500),
        }
    );
    assert_eq!(
        SystemServerConfig::default().health_checks(),
        HealthCheckConfig {
            enabled: false,
            canary_wait_time: Duration::from_secs(10),
            request_timeout: Duration::from_secs(3),
        }
    );
    let at_most = SystemServerConfig::from_lookup(|var| match var {
        "DYN_CANARY_WAIT_TIME" => Some("3600".into()),
        "DYN_HEALTH_CHECK_REQUEST_TIMEOUT" => Some("300".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        (
            at_most.health_checks().canary_wait_time,
            at_most.health_checks().request_timeout
        ),
        (Duration::from_secs(3600), Duration::from_secs(300))
    );
    let cases = [
        (
            "DYN_HEALTH_CHECK_ENABLED",
            "sometimes",
            "expected a boolean: true, false, 1, 0, on, off, yes or no",
        ),
        (
            "DYN_CANARY_WAIT_TIME",
            "0",
            "expected a number of seconds above zero, such as 10 or 2.5",
        ),
        (
            "DYN_CANARY_WAIT_TIME",
            "3601",
            "expected at most 3600 seconds (1h)",
        ),
        (
            "DYN_HEALTH_CHECK_REQUEST_TIMEOUT",
            "3s",
            "expected a number of seconds above zero, such as 10 or 2.5",
        ),
        (
            "DYN_HEALTH_CHECK_REQUEST_TIMEOUT",
            "301",
            "expected at most 300 seconds (5m)",
        ),
    ];
    for (var, value, reason) in cases {
        let error =
            SystemServerConfig::from_lookup(|v| (v == var).then(|| value.to_string())).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{var}={value:?} is invalid: {reason}")
        );
        assert!(
            matches!(error, MetricsError::InvalidEnv { .. }),
            "{error:?}"
        );
    }
}

#[test]
fn durations_in_code_are_accepted_up_to_their_maximum() {
    let runtime = common::builder()
        .health_check_enabled(true)
        .canary_wait_time(Duration::from_secs(3600))
        .health_check_request_timeout(Duration::from_secs(300))
        .build();
    assert!(runtime.is_ok(), "{runtime:?}");
}

#[test]
fn bad_durations_in_code_name_the_builder_method() {
    let error = common::builder()
        .canary_wait_time(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::canary_wait_time(0ns) is invalid: a timeout must be longer than zero"
    );
    let error = common::builder()
        .health_check_request_timeout(Duration::from_secs(301))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::health_check_request_timeout(301s) is invalid: a timeout must be at \
         most 5m"
    );
}
