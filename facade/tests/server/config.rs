//! The `DYN_SYSTEM_*` settings, read through an injected lookup, never the process
//! environment.

use std::collections::HashMap;

use crate::common;
use dynamo_runtime::{DistributedRuntime, HealthStatus, MetricsError, SystemServerConfig};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |var| vars.get(var).cloned()
}

fn config(vars: &[(&str, &str)]) -> Result<SystemServerConfig, MetricsError> {
    SystemServerConfig::from_lookup(lookup(vars))
}

fn port_of(value: &str) -> Result<Option<u16>, MetricsError> {
    config(&[("DYN_SYSTEM_PORT", value)]).map(|c| c.port())
}

fn assert_invalid_env(error: MetricsError, var: &str, value: &str) {
    let message = error.to_string();
    match error {
        MetricsError::InvalidEnv {
            var: v, value: val, ..
        } => {
            assert_eq!((v, val.as_str()), (var, value), "{message}");
            assert!(message.contains(var), "{message}");
            assert!(message.contains(value), "{message}");
        }
        other => panic!("expected InvalidEnv for {var}={value:?}, got {other:?}"),
    }
}

#[test]
fn defaults_keep_the_server_off() {
    let config = config(&[]).unwrap();
    assert_eq!(config, SystemServerConfig::default());
    assert_eq!(config.port(), None);
    assert_eq!(config.host(), "0.0.0.0");
    assert_eq!(config.health_path(), "/health");
    assert_eq!(config.live_path(), "/live");
    assert_eq!(config.starting_health(), HealthStatus::NotReady);
}

#[test]
fn port_values() {
    assert_eq!(port_of("").unwrap(), None);
    assert_eq!(port_of("  ").unwrap(), None);
    assert_eq!(port_of("-1").unwrap(), None);
    assert_eq!(port_of("-5").unwrap(), None);
    assert_eq!(port_of("0").unwrap(), Some(0));
    assert_eq!(port_of("8081").unwrap(), Some(8081));
    assert_eq!(port_of(" 9090 ").unwrap(), Some(9090));
    assert_eq!(port_of("65535").unwrap(), Some(65535));
}

#[test]
fn bad_port_values_name_the_variable_and_value() {
    for value in ["abc", "70000", "65536", "80a", "1.5", "-", "0x1f90"] {
        assert_invalid_env(port_of(value).unwrap_err(), "DYN_SYSTEM_PORT", value);
    }
}

#[test]
fn host_paths_and_starting_health() {
    let config = config(&[
        ("DYN_SYSTEM_HOST", "127.0.0.1"),
        ("DYN_SYSTEM_HEALTH_PATH", "/healthz"),
        ("DYN_SYSTEM_LIVE_PATH", "/livez"),
        ("DYN_SYSTEM_STARTING_HEALTH_STATUS", "ready"),
    ])
    .unwrap();
    assert_eq!(config.host(), "127.0.0.1");
    assert_eq!(config.health_path(), "/healthz");
    assert_eq!(config.live_path(), "/livez");
    assert_eq!(config.starting_health(), HealthStatus::Ready);
    let status = |value| {
        config_status(value)
            .map(|c| c.starting_health())
            .map_err(|e| e.to_string())
    };
    assert_eq!(status("notready"), Ok(HealthStatus::NotReady));
    assert_eq!(status("READY"), Ok(HealthStatus::Ready));
    assert_eq!(status(""), Ok(HealthStatus::NotReady));
}

fn config_status(value: &str) -> Result<SystemServerConfig, MetricsError> {
    config(&[("DYN_SYSTEM_STARTING_HEALTH_STATUS", value)])
}

#[test]
fn bad_paths_and_statuses_are_refused() {
    let cases = [
        ("DYN_SYSTEM_HEALTH_PATH", "health"),
        ("DYN_SYSTEM_HEALTH_PATH", "/metrics"),
        ("DYN_SYSTEM_HEALTH_PATH", "/a b"),
        ("DYN_SYSTEM_LIVE_PATH", "/x?y"),
        ("DYN_SYSTEM_LIVE_PATH", "/health"),
        ("DYN_SYSTEM_STARTING_HEALTH_STATUS", "healthy"),
    ];
    for (var, value) in cases {
        assert_invalid_env(config(&[(var, value)]).unwrap_err(), var, value);
    }
}

#[test]
fn build_reports_a_bad_port_from_the_environment() {
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(lookup(&[("DYN_SYSTEM_PORT", "abc")]))
        .build()
        .unwrap_err();
    assert_invalid_env(error, "DYN_SYSTEM_PORT", "abc");
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(lookup(&[("DYN_SYSTEM_PORT", "70000")]))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "DYN_SYSTEM_PORT=\"70000\" is invalid: expected a port from 0 (any free port) to 65535, \
         or a negative number to turn the system status server off"
    );
}

#[test]
fn build_starts_the_server_on_a_free_port_for_zero() {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(lookup(&[
            ("DYN_SYSTEM_PORT", "0"),
            ("DYN_SYSTEM_HOST", "127.0.0.1"),
        ]))
        .build()
        .unwrap();
    let addr = runtime.system_status_server_info().expect("serving");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    assert_eq!(common::get(addr, "/live").status, 200);
}

#[test]
fn build_leaves_the_server_off_for_negative_empty_or_unset_ports() {
    for vars in [
        &[("DYN_SYSTEM_PORT", "-5")][..],
        &[("DYN_SYSTEM_PORT", "")],
        &[],
    ] {
        let runtime = DistributedRuntime::builder()
            .global_recorder(false)
            .system_server_env(lookup(vars))
            .build()
            .unwrap();
        assert_eq!(runtime.system_status_server_info(), None, "{vars:?}");
    }
}

#[test]
fn the_builder_reads_no_environment_unless_asked() {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap();
    assert_eq!(runtime.system_status_server_info(), None);
}

#[test]
fn settings_in_code_win_over_the_environment() {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(lookup(&[
            ("DYN_SYSTEM_PORT", "-1"),
            ("DYN_SYSTEM_HEALTH_PATH", "/healthz"),
        ]))
        .system_port(Some(0))
        .system_host("127.0.0.1")
        .health_path("/ready")
        .build()
        .unwrap();
    let addr = runtime.system_status_server_info().expect("serving");
    assert_eq!(common::get(addr, "/ready").status, 503);
    assert_eq!(common::get(addr, "/healthz").status, 404);
}

fn assert_invalid_setting(error: MetricsError, setting: &str, value: &str) {
    let message = error.to_string();
    assert!(!message.contains("DYN_"), "names no variable: {message}");
    match error {
        MetricsError::InvalidSetting {
            setting: s,
            value: v,
            ..
        } => assert_eq!((s, v.as_str()), (setting, value), "{message}"),
        other => panic!("expected InvalidSetting for {setting}({value}), got {other:?}"),
    }
}

#[test]
fn bad_values_in_code_are_refused_at_build_naming_the_builder_method() {
    let error = common::builder().health_path("health").build().unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::health_path(\"health\") is invalid: it must start with '/'"
    );
    assert_invalid_setting(error, "RuntimeBuilder::health_path", "\"health\"");
    let error = common::builder().live_path("/health").build().unwrap_err();
    assert_invalid_setting(error, "RuntimeBuilder::live_path", "\"/health\"");
    let error = common::builder()
        .system_host("127.0.0.1:80")
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::system_host(\"127.0.0.1:80\") is invalid: it holds a port (:80); \
         give the host alone and set the port with RuntimeBuilder::system_port"
    );
    let zero = std::time::Duration::ZERO;
    let cases: [(MetricsError, &str, &str); 6] = [
        (
            common::builder()
                .header_read_timeout(zero)
                .build()
                .unwrap_err(),
            "RuntimeBuilder::header_read_timeout",
            "0ns",
        ),
        (
            common::builder().idle_timeout(zero).build().unwrap_err(),
            "RuntimeBuilder::idle_timeout",
            "0ns",
        ),
        (
            common::builder().write_timeout(zero).build().unwrap_err(),
            "RuntimeBuilder::write_timeout",
            "0ns",
        ),
        (
            common::builder().max_connections(0).build().unwrap_err(),
            "RuntimeBuilder::max_connections",
            "0",
        ),
        (
            common::builder()
                .max_pending_scrapes(0)
                .build()
                .unwrap_err(),
            "RuntimeBuilder::max_pending_scrapes",
            "0",
        ),
        (
            common::builder().callback_threads(0).build().unwrap_err(),
            "RuntimeBuilder::callback_threads",
            "0",
        ),
    ];
    for (error, setting, value) in cases {
        assert_invalid_setting(error, setting, value);
    }
}

#[test]
fn limits_come_from_the_environment() {
    let config = config(&[
        ("DYN_SYSTEM_HEADER_TIMEOUT_SECS", "2.5"),
        ("DYN_SYSTEM_IDLE_TIMEOUT_SECS", "60"),
        ("DYN_SYSTEM_WRITE_TIMEOUT_SECS", "7"),
        ("DYN_SYSTEM_MAX_CONNECTIONS", "16"),
        ("DYN_SYSTEM_MAX_PENDING_SCRAPES", "4"),
        ("DYN_SYSTEM_LISTEN_BACKLOG", "32"),
        ("DYN_SYSTEM_CALLBACK_THREADS", "2"),
    ])
    .unwrap();
    let limits = config.limits();
    assert_eq!(
        limits.header_read_timeout,
        std::time::Duration::from_millis(2500)
    );
    assert_eq!(limits.idle_timeout, std::time::Duration::from_secs(60));
    assert_eq!(limits.write_timeout, std::time::Duration::from_secs(7));
    assert_eq!(limits.max_connections, 16);
    assert_eq!(limits.max_pending_scrapes, 4);
    assert_eq!(limits.listen_backlog, 32);
    assert_eq!(config.callback_threads(), 2);
    let defaults = SystemServerConfig::default();
    assert_eq!(defaults.limits(), dynamo_exporter::ServerLimits::default());
    assert_eq!(defaults.callback_threads(), 4);
}

#[test]
fn bad_limits_and_hosts_name_the_variable_and_value() {
    let cases = [
        ("DYN_SYSTEM_HEADER_TIMEOUT_SECS", "0"),
        ("DYN_SYSTEM_IDLE_TIMEOUT_SECS", "-5"),
        ("DYN_SYSTEM_WRITE_TIMEOUT_SECS", "ten"),
        ("DYN_SYSTEM_MAX_CONNECTIONS", "0"),
        ("DYN_SYSTEM_MAX_PENDING_SCRAPES", "1.5"),
        ("DYN_SYSTEM_LISTEN_BACKLOG", "0"),
        ("DYN_SYSTEM_CALLBACK_THREADS", "many"),
        ("DYN_SYSTEM_HOST", "127.0.0.1:80"),
        ("DYN_SYSTEM_HOST", "[::1]:9090"),
        ("DYN_SYSTEM_HOST", "not a host"),
    ];
    for (var, value) in cases {
        assert_invalid_env(config(&[(var, value)]).unwrap_err(), var, value);
    }
    assert_eq!(
        config(&[("DYN_SYSTEM_HOST", "127.0.0.1:80")])
            .unwrap_err()
            .to_string(),
        "DYN_SYSTEM_HOST=\"127.0.0.1:80\" is invalid: it holds a port (:80); give the host \
         alone and set the port with DYN_SYSTEM_PORT"
    );
}

#[test]
fn scoped_link_local_hosts_are_accepted() {
    let config = config(&[("DYN_SYSTEM_HOST", "fe80::1%lo")]).unwrap();
    assert_eq!(config.host(), "fe80::1%lo");
}

/// The reason of an `InvalidEnv` or `InvalidSetting`, with the variable or method it names.
fn named_reason(error: MetricsError) -> (String, String) {
    match error {
        MetricsError::InvalidEnv { var, reason, .. } => (var.to_string(), reason),
        MetricsError::InvalidSetting {
            setting, reason, ..
        } => (setting.to_string(), reason),
        other => panic!("expected InvalidEnv or InvalidSetting, got {other:?}"),
    }
}

#[test]
fn route_paths_get_the_same_checks_from_the_environment_and_from_code() {
    type SetPath = fn(dynamo_runtime::RuntimeBuilder, &str) -> dynamo_runtime::RuntimeBuilder;
    let routes: [(&str, &str, SetPath); 2] = [
        (
            "DYN_SYSTEM_HEALTH_PATH",
            "RuntimeBuilder::health_path",
            |b, p| b.health_path(p),
        ),
        (
            "DYN_SYSTEM_LIVE_PATH",
            "RuntimeBuilder::live_path",
            |b, p| b.live_path(p),
        ),
    ];
    let cases = [
        ("health", "it must start with '/'"),
        (
            "/a b",
            "it may hold only visible ASCII characters, without '?' or '#'",
        ),
        (
            "/x?y",
            "it may hold only visible ASCII characters, without '?' or '#'",
        ),
        (
            "/x#y",
            "it may hold only visible ASCII characters, without '?' or '#'",
        ),
        (
            "/é",
            "it may hold only visible ASCII characters, without '?' or '#'",
        ),
        ("/metrics", "it is the metrics route"),
    ];
    for (var, method, set_path) in routes {
        for (path, reason) in cases {
            let from_env = config(&[(var, path)]).unwrap_err();
            assert_eq!(
                from_env.to_string(),
                format!("{var}={path:?} is invalid: {reason}")
            );
            assert_eq!(
                named_reason(from_env),
                (var.to_string(), reason.to_string())
            );
            let from_code = set_path(common::builder(), path).build().unwrap_err();
            assert_eq!(
                from_code.to_string(),
                format!("{method}({path:?}) is invalid: {reason}")
            );
            assert_eq!(
                named_reason(from_code),
                (method.to_string(), reason.to_string())
            );
        }
    }
}

#[test]
fn two_routes_on_one_path_name_the_setting_that_put_the_second_there() {
    let message = |error: MetricsError| error.to_string();
    // From the environment alone, against the other route's default.
    assert_eq!(
        message(config(&[("DYN_SYSTEM_HEALTH_PATH", "/live")]).unwrap_err()),
        "DYN_SYSTEM_HEALTH_PATH=\"/live\" is invalid: it is the live path too"
    );
    assert_eq!(
        message(config(&[("DYN_SYSTEM_LIVE_PATH", "/health")]).unwrap_err()),
        "DYN_SYSTEM_LIVE_PATH=\"/health\" is invalid: it is the health path too"
    );
    // Both from the environment: the route declared later is named.
    assert_eq!(
        message(
            config(&[
                ("DYN_SYSTEM_HEALTH_PATH", "/probe"),
                ("DYN_SYSTEM_LIVE_PATH", "/probe"),
            ])
            .unwrap_err()
        ),
        "DYN_SYSTEM_LIVE_PATH=\"/probe\" is invalid: it is the health path too"
    );
    // Code against the environment or a default: the builder method is named.
    let with_env = |vars: &[(&str, &str)]| common::builder().system_server_env(lookup(vars));
    assert_eq!(
        message(
            with_env(&[("DYN_SYSTEM_LIVE_PATH", "/probe")])
                .health_path("/probe")
                .build()
                .unwrap_err()
        ),
        "RuntimeBuilder::health_path(\"/probe\") is invalid: it is the live path too"
    );
    assert_eq!(
        message(common::builder().health_path("/live").build().unwrap_err()),
        "RuntimeBuilder::health_path(\"/live\") is invalid: it is the live path too"
    );
    assert_eq!(
        message(
            common::builder()
                .health_path("/probe")
                .live_path("/probe")
                .build()
                .unwrap_err()
        ),
        "RuntimeBuilder::live_path(\"/probe\") is invalid: it is the health path too"
    );
}

#[test]
fn a_clash_in_the_environment_is_settled_by_a_path_given_in_code() {
    let (_runtime, addr) = common::serve(
        common::builder()
            .system_server_env(lookup(&[
                ("DYN_SYSTEM_HEALTH_PATH", "/probe"),
                ("DYN_SYSTEM_LIVE_PATH", "/probe"),
            ]))
            .live_path("/alive"),
    );
    assert_eq!(common::get(addr, "/probe").status, 503);
    assert_eq!(common::get(addr, "/alive").status, 200);
    assert_eq!(common::get(addr, "/live").status, 404);
}
