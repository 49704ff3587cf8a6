//! `DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS` and `DYN_SYSTEM_ENABLED`, as Dynamo's operator sets
//! them: the listed endpoints alone decide `/health`.

use crate::common::{self, get, serve};
use dynamo_runtime::{DistributedRuntime, HealthStatus, MetricsError, RuntimeBuilder};

/// The operator's environment, on a free port of loopback.
const OPERATOR: &[(&str, &str)] = &[
    ("DYN_SYSTEM_ENABLED", "true"),
    ("DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", r#"["generate"]"#),
    ("DYN_SYSTEM_PORT", "0"),
    ("DYN_SYSTEM_HOST", "127.0.0.1"),
];

const GENERATE_NOT_READY: &str = r#"{"status":"notready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"notready"}}"#;
const GENERATE_READY: &str =
    r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"ready"}}"#;

/// A runtime reading `vars` as its environment, with the test clock and no port in code.
fn with_env(vars: &'static [(&'static str, &'static str)]) -> RuntimeBuilder {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| common::UPTIME)
        .system_server_env(move |var| {
            vars.iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| (*value).to_string())
        })
}

fn assert_health(addr: std::net::SocketAddr, status: u16, body: &str) {
    let response = get(addr, "/health");
    assert_eq!((response.status, response.text().as_str()), (status, body));
}

#[test]
fn the_listed_endpoint_decides_health_under_the_operators_environment() {
    let (runtime, addr) = serve(with_env(OPERATOR));
    assert_health(addr, 503, GENERATE_NOT_READY);
    let generate = runtime
        .namespace("ns")
        .component("worker")
        .endpoint("generate");
    generate.set_health_status(HealthStatus::NotReady);
    assert_health(addr, 503, GENERATE_NOT_READY);
    generate.set_health_status(HealthStatus::Ready);
    assert_health(addr, 200, GENERATE_READY);
    // The runtime's own readiness is not consulted while a list decides.
    assert_eq!(runtime.health_status(), HealthStatus::NotReady);
    generate.set_health_status(HealthStatus::NotReady);
    assert_health(addr, 503, GENERATE_NOT_READY);
}

#[test]
fn unlisted_endpoints_are_shown_but_do_not_decide() {
    let (runtime, addr) = serve(with_env(OPERATOR));
    let worker = runtime.namespace("ns").component("worker");
    worker
        .endpoint("clear_kv_blocks")
        .set_health_status(HealthStatus::NotReady);
    worker
        .endpoint("generate")
        .set_health_status(HealthStatus::Ready);
    assert_health(
        addr,
        200,
        r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"clear_kv_blocks":"notready","generate":"ready"}}"#,
    );
}

#[test]
fn the_builder_option_does_the_same_and_wins_over_the_environment() {
    let (runtime, addr) = serve(with_env(OPERATOR).use_endpoint_health_status(["generate-v2"]));
    assert_health(
        addr,
        503,
        r#"{"status":"notready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate_v2":"notready"}}"#,
    );
    let endpoint = runtime
        .namespace("ns")
        .component("worker")
        .endpoint("generate-v2");
    endpoint.set_health_status(HealthStatus::Ready);
    assert_health(
        addr,
        200,
        r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate_v2":"ready"}}"#,
    );
    let (_runtime, addr) = serve(common::builder().use_endpoint_health_status(["generate"]));
    assert_health(addr, 503, GENERATE_NOT_READY);
}

#[test]
fn an_empty_list_leaves_the_runtime_to_decide() {
    let (runtime, addr) = serve(with_env(&[
        ("DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[]"),
        ("DYN_SYSTEM_PORT", "0"),
        ("DYN_SYSTEM_HOST", "127.0.0.1"),
    ]));
    let empty_ready = r#"{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{}}"#;
    runtime.set_health_status(HealthStatus::Ready);
    assert_health(addr, 200, empty_ready);
}

#[test]
fn system_enabled_false_does_not_turn_the_server_off_as_in_dynamo() {
    let (_runtime, addr) = serve(with_env(&[
        ("DYN_SYSTEM_ENABLED", "false"),
        ("DYN_SYSTEM_PORT", "0"),
        ("DYN_SYSTEM_HOST", "127.0.0.1"),
    ]));
    assert_eq!(get(addr, "/live").status, 200);
    let runtime = with_env(&[("DYN_SYSTEM_ENABLED", "true")]).build().unwrap();
    assert_eq!(
        runtime.system_status_server_info(),
        None,
        "no port, no server"
    );
}

#[test]
fn malformed_values_are_errors_naming_the_variable() {
    let cases: [(&'static [(&'static str, &'static str)], &str); 6] = [
        (
            &[("DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "generate")],
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS=\"generate\" is invalid: expected a JSON list \
             of endpoint names, such as [\"generate\"]",
        ),
        (
            &[("DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", "[generate]")],
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS=\"[generate]\" is invalid: expected a JSON \
             list of endpoint names, such as [\"generate\"]",
        ),
        (
            &[(
                "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS",
                r#"["generate", 7]"#,
            )],
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS=\"[\\\"generate\\\", 7]\" is invalid: \
             expected a JSON list of endpoint names, such as [\"generate\"]",
        ),
        (
            &[("DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", r#"["-"]"#)],
            "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS=\"[\\\"-\\\"]\" is invalid: endpoint name \
             \"-\" is empty or only underscores once sanitized",
        ),
        (
            &[("DYN_SYSTEM_ENABLED", "maybe")],
            "DYN_SYSTEM_ENABLED=\"maybe\" is invalid: expected a boolean: true, false, 1, 0, on, \
             off, yes or no",
        ),
        (
            &[("DYN_SYSTEM_ENABLED", "2")],
            "DYN_SYSTEM_ENABLED=\"2\" is invalid: expected a boolean: true, false, 1, 0, on, off, \
             yes or no",
        ),
    ];
    for (vars, message) in cases {
        let error = with_env(vars).build().unwrap_err();
        assert_eq!(error.to_string(), message);
        let (var, value) = vars[0];
        match error {
            MetricsError::InvalidEnv {
                var: v, value: val, ..
            } => {
                assert_eq!((v, val.as_str()), (var, value));
            }
            other => panic!("expected InvalidEnv for {var}, got {other:?}"),
        }
    }
}

#[test]
fn a_name_in_code_that_sanitizes_to_nothing_names_the_builder_method() {
    let error = common::builder()
        .use_endpoint_health_status(["generate", "__"])
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::use_endpoint_health_status([\"generate\", \"__\"]) is invalid: \
         endpoint name \"__\" is empty or only underscores once sanitized"
    );
    assert!(matches!(error, MetricsError::InvalidSetting { .. }));
}
