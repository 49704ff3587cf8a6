//! Every way `RuntimeBuilder::build` refuses a setting names where the value came from: the
//! variable and its text when it was read from the environment (`InvalidEnv`), the builder
//! method and the value as Rust prints it when it was given in code (`InvalidSetting`, naming
//! no variable), and for a server that cannot listen, where its port was set.

use std::time::Duration;

use dynamo_runtime::{
    DistributedRuntime, MetricsConfig, MetricsError, OtlpConfig, RuntimeBuilder, SettingSource,
    SystemServerConfig,
};

fn env(vars: &'static [(&'static str, &'static str)]) -> RuntimeBuilder {
    DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(move |var| {
            vars.iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| (*value).to_string())
        })
}

fn code() -> RuntimeBuilder {
    DistributedRuntime::builder().global_recorder(false)
}

/// Variables with one set wrong, and what the error must say.
struct EnvCase {
    vars: &'static [(&'static str, &'static str)],
    var: &'static str,
    value: &'static str,
    reason: &'static str,
}

const FROM_THE_ENVIRONMENT: &[EnvCase] = &[
    EnvCase {
        vars: &[("DYN_SYSTEM_PORT", "abc")],
        var: "DYN_SYSTEM_PORT",
        value: "abc",
        reason: "expected a port from 0 (any free port) to 65535, or a negative number to turn \
                 the system status server off",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_HOST", "127.0.0.1:80")],
        var: "DYN_SYSTEM_HOST",
        value: "127.0.0.1:80",
        reason: "it holds a port (:80); give the host alone and set the port with DYN_SYSTEM_PORT",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_HEALTH_PATH", "health")],
        var: "DYN_SYSTEM_HEALTH_PATH",
        value: "health",
        reason: "it must start with '/'",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_LIVE_PATH", "/metrics")],
        var: "DYN_SYSTEM_LIVE_PATH",
        value: "/metrics",
        reason: "it is the metrics route",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_LIVE_PATH", "/health")],
        var: "DYN_SYSTEM_LIVE_PATH",
        value: "/health",
        reason: "it is the health path too",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_STARTING_HEALTH_STATUS", "up")],
        var: "DYN_SYSTEM_STARTING_HEALTH_STATUS",
        value: "up",
        reason: "expected `ready` or `notready` (in any case)",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_HEADER_TIMEOUT_SECS", "0")],
        var: "DYN_SYSTEM_HEADER_TIMEOUT_SECS",
        value: "0",
        reason: "expected a number of seconds above zero, such as 10 or 2.5",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_IDLE_TIMEOUT_SECS", "-5")],
        var: "DYN_SYSTEM_IDLE_TIMEOUT_SECS",
        value: "-5",
        reason: "expected a number of seconds above zero, such as 10 or 2.5",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_WRITE_TIMEOUT_SECS", "ten")],
        var: "DYN_SYSTEM_WRITE_TIMEOUT_SECS",
        value: "ten",
        reason: "expected a number of seconds above zero, such as 10 or 2.5",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_MAX_CONNECTIONS", "0")],
        var: "DYN_SYSTEM_MAX_CONNECTIONS",
        value: "0",
        reason: "expected a whole number above zero",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_MAX_PENDING_SCRAPES", "1.5")],
        var: "DYN_SYSTEM_MAX_PENDING_SCRAPES",
        value: "1.5",
        reason: "expected a whole number above zero",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_LISTEN_BACKLOG", "-1")],
        var: "DYN_SYSTEM_LISTEN_BACKLOG",
        value: "-1",
        reason: "expected a whole number above zero",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_CALLBACK_THREADS", "many")],
        var: "DYN_SYSTEM_CALLBACK_THREADS",
        value: "many",
        reason: "expected a whole number above zero",
    },
    EnvCase {
        vars: &[("DYN_METRICS_MAX_SERIES", "lots")],
        var: "DYN_METRICS_MAX_SERIES",
        value: "lots",
        reason: "expected a whole number of series (0 for no bound)",
    },
    EnvCase {
        vars: &[("DYN_METRICS_IDLE_TIMEOUT", "soon")],
        var: "DYN_METRICS_IDLE_TIMEOUT",
        value: "soon",
        reason: "expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)",
    },
    EnvCase {
        vars: &[("DYN_METRICS_CONST_LABELS", "dynamo_x=1")],
        var: "DYN_METRICS_CONST_LABELS",
        value: "dynamo_x=1",
        reason: "pair \"dynamo_x=1\": label names starting with `dynamo_` are reserved for the \
                 labels the library adds (such as `dynamo_namespace`)",
    },
    EnvCase {
        vars: &[("DYN_METRICS_PROCESS", "no")],
        var: "DYN_METRICS_PROCESS",
        value: "no",
        reason: "expected 1, true or on (show the process metrics) or 0, false or off",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
        var: "OTEL_EXPORTER_OTLP_PROTOCOL",
        value: "grpc",
        reason: "gRPC is not supported: use `http/protobuf`, the OTLP/HTTP port (4318)",
    },
];

#[test]
fn a_bad_value_of_the_environment_names_the_variable() {
    for EnvCase {
        vars,
        var,
        value,
        reason,
    } in FROM_THE_ENVIRONMENT
    {
        let error = env(vars).build().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("{var}={value:?} is invalid: {reason}")
        );
        assert!(
            matches!(
                &error,
                MetricsError::InvalidEnv { var: v, value: val, reason: r }
                    if v == var && val == value && r == reason
            ),
            "{error:?}"
        );
        // The configs read alone report the same.
        let lookup = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_string())
        };
        let alone = if var.starts_with("DYN_SYSTEM_") {
            SystemServerConfig::from_lookup(lookup).err()
        } else if var.starts_with("DYN_METRICS_") {
            MetricsConfig::from_lookup(lookup).err()
        } else {
            OtlpConfig::from_lookup(lookup)
                .err()
                .map(MetricsError::from)
        };
        assert_eq!(
            alone.map(|e| e.to_string()),
            Some(error.to_string()),
            "{var}"
        );
    }
}

#[test]
fn a_bad_value_given_in_code_names_the_builder_method_and_no_variable() {
    let zero = Duration::ZERO;
    let cases: Vec<(RuntimeBuilder, &str, &str, &str)> = vec![
        (
            code().system_host("127.0.0.1:80"),
            "RuntimeBuilder::system_host",
            "\"127.0.0.1:80\"",
            "it holds a port (:80); give the host alone and set the port with \
             RuntimeBuilder::system_port",
        ),
        (
            code().health_path("health"),
            "RuntimeBuilder::health_path",
            "\"health\"",
            "it must start with '/'",
        ),
        (
            code().live_path("/metrics"),
            "RuntimeBuilder::live_path",
            "\"/metrics\"",
            "it is the metrics route",
        ),
        (
            code().live_path("/health"),
            "RuntimeBuilder::live_path",
            "\"/health\"",
            "it is the health path too",
        ),
        (
            code().header_read_timeout(zero),
            "RuntimeBuilder::header_read_timeout",
            "0ns",
            "a timeout must be longer than zero",
        ),
        (
            code().idle_timeout(zero),
            "RuntimeBuilder::idle_timeout",
            "0ns",
            "a timeout must be longer than zero",
        ),
        (
            code().write_timeout(zero),
            "RuntimeBuilder::write_timeout",
            "0ns",
            "a timeout must be longer than zero",
        ),
        (
            code().max_connections(0),
            "RuntimeBuilder::max_connections",
            "0",
            "expected a whole number above zero",
        ),
        (
            code().max_pending_scrapes(0),
            "RuntimeBuilder::max_pending_scrapes",
            "0",
            "expected a whole number above zero",
        ),
        (
            code().listen_backlog(0),
            "RuntimeBuilder::listen_backlog",
            "0",
            "expected a whole number above zero",
        ),
        (
            code().callback_threads(0),
            "RuntimeBuilder::callback_threads",
            "0",
            "expected a whole number above zero",
        ),
        (
            code().const_labels(&[("dynamo_x", "1")]),
            "RuntimeBuilder::const_labels",
            "[(\"dynamo_x\", \"1\")]",
            "pair \"dynamo_x=1\": label names starting with `dynamo_` are reserved for the \
             labels the library adds (such as `dynamo_namespace`)",
        ),
        (
            code().otlp(OtlpConfig::new().with_endpoint("collector:4318")),
            "OtlpConfig::with_endpoint",
            "\"collector:4318\"",
            "expected an http:// or https:// URL",
        ),
        (
            code().otlp(OtlpConfig::new().with_interval(zero)),
            "OtlpConfig::with_interval",
            "0ns",
            "expected a duration above zero",
        ),
    ];
    for (builder, setting, value, reason) in cases {
        let error = builder.build().unwrap_err();
        let message = error.to_string();
        assert_eq!(message, format!("{setting}({value}) is invalid: {reason}"));
        assert!(!message.contains("DYN_"), "{message}");
        assert!(!message.contains("OTEL_"), "{message}");
        assert!(
            matches!(
                &error,
                MetricsError::InvalidSetting { setting: s, value: v, reason: r }
                    if s == &setting && v == value && r == reason
            ),
            "{error:?}"
        );
    }
}

#[test]
fn a_bad_value_given_in_code_is_named_even_beside_good_values_of_the_environment() {
    let error = env(&[
        ("DYN_SYSTEM_PORT", "0"),
        ("DYN_SYSTEM_HOST", "127.0.0.1"),
        ("DYN_SYSTEM_LIVE_PATH", "/alive"),
    ])
    .health_path("/alive")
    .build()
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::health_path(\"/alive\") is invalid: it is the live path too"
    );
    // A bad variable is reported even when code sets the same setting: it is read first.
    let error = env(&[("DYN_SYSTEM_PORT", "abc")])
        .system_port(Some(0))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            MetricsError::InvalidEnv {
                var: "DYN_SYSTEM_PORT",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_server_that_cannot_listen_names_where_its_port_was_set() {
    // A zone naming no interface fails before any socket is bound.
    let host = "fe80::1%nosuchif0";
    let error = code()
        .system_host(host)
        .system_port(Some(0))
        .build()
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "cannot start the system status server on [fe80::1%nosuchif0]:0 \
             (RuntimeBuilder::system_port(Some(0))): "
        ),
        "{message}"
    );
    assert!(!message.contains("DYN_"), "{message}");
    assert!(
        matches!(
            &error,
            MetricsError::ServerStart {
                port: SettingSource::Code { setting: "RuntimeBuilder::system_port", value },
                ..
            } if value == "Some(0)"
        ),
        "{error:?}"
    );
    let error = env(&[
        ("DYN_SYSTEM_PORT", "0"),
        ("DYN_SYSTEM_HOST", "fe80::1%nosuchif0"),
    ])
    .build()
    .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "cannot start the system status server on [fe80::1%nosuchif0]:0 \
             (DYN_SYSTEM_PORT=0): "
        ),
        "{error}"
    );
}
