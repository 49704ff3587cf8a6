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
        vars: &[("DYN_SYSTEM_HEADER_TIMEOUT_SECS", "3600")],
        var: "DYN_SYSTEM_HEADER_TIMEOUT_SECS",
        value: "3600",
        reason: "expected at most 300 seconds (5m)",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_IDLE_TIMEOUT_SECS", "18446744073709551615")],
        var: "DYN_SYSTEM_IDLE_TIMEOUT_SECS",
        value: "18446744073709551615",
        reason: "expected at most 3600 seconds (1h)",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_WRITE_TIMEOUT_SECS", "300.5")],
        var: "DYN_SYSTEM_WRITE_TIMEOUT_SECS",
        value: "300.5",
        reason: "expected at most 300 seconds (5m)",
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
        reason: "expected a whole number from 1 to 64",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_CALLBACK_THREADS", "18446744073709551615")],
        var: "DYN_SYSTEM_CALLBACK_THREADS",
        value: "18446744073709551615",
        reason: "expected a whole number from 1 to 64",
    },
    EnvCase {
        vars: &[("DYN_SYSTEM_CALLBACK_THREADS", "65")],
        var: "DYN_SYSTEM_CALLBACK_THREADS",
        value: "65",
        reason: "expected a whole number from 1 to 64",
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
        vars: &[("DYN_METRICS_IDLE_TIMEOUT", "200h")],
        var: "DYN_METRICS_IDLE_TIMEOUT",
        value: "200h",
        reason: "expected at most 168h (0 or off: never)",
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
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "h2c"),
        ],
        var: "OTEL_EXPORTER_OTLP_PROTOCOL",
        value: "h2c",
        reason: "expected `grpc` or `http/protobuf`",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"),
        ],
        var: "OTEL_EXPORTER_OTLP_ENDPOINT",
        value: "http://",
        reason: "the URL has no host",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://collector:99999/v1/metrics",
            ),
        ],
        var: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        value: "http://collector:99999/v1/metrics",
        reason: "the port must be from 1 to 65535",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:0"),
        ],
        var: "OTEL_EXPORTER_OTLP_ENDPOINT",
        value: "http://collector:0",
        reason: "the port must be from 1 to 65535",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "Content-Length=5"),
        ],
        var: "OTEL_EXPORTER_OTLP_HEADERS",
        value: "Content-Length=5",
        reason: "the header \"Content-Length\" cannot be set: the exporter writes the headers \
                 that frame and describe the request",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-key=1,transfer-encoding=chunked",
            ),
        ],
        var: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        value: "x-key=1,transfer-encoding=chunked",
        reason: "the header \"transfer-encoding\" cannot be set: the exporter writes the \
                 headers that frame and describe the request",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "3600000"),
        ],
        var: "OTEL_METRIC_EXPORT_TIMEOUT",
        value: "3600000",
        reason: "expected at most 300000 milliseconds (5m)",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "18446744073709551615"),
        ],
        var: "OTEL_METRIC_EXPORT_TIMEOUT",
        value: "18446744073709551615",
        reason: "expected at most 300000 milliseconds (5m)",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999999999999999"),
        ],
        var: "OTEL_EXPORTER_OTLP_TIMEOUT",
        value: "99999999999999999999999",
        reason: "expected at most 300000 milliseconds (5m)",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "300001"),
        ],
        var: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        value: "300001",
        reason: "expected at most 300000 milliseconds (5m)",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "86400001"),
        ],
        var: "OTEL_METRIC_EXPORT_INTERVAL",
        value: "86400001",
        reason: "expected at most 86400000 milliseconds (24h)",
    },
    EnvCase {
        vars: &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT", "2m"),
        ],
        var: "DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT",
        value: "2m",
        reason: "expected at most 1m",
    },
    EnvCase {
        vars: &[
            ("DYN_METRICS_NATIVE_HISTOGRAMS", "*"),
            ("DYN_METRICS_NATIVE_BUCKET_FACTOR", "1"),
        ],
        var: "DYN_METRICS_NATIVE_BUCKET_FACTOR",
        value: "1",
        reason: "expected a bucket factor: a number greater than 1, such as 1.1",
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
        } else if var.starts_with("DYN_METRICS_") && !var.starts_with("DYN_METRICS_OTLP_") {
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
            code().native_histograms(&["*"], dynamo_runtime::NativeHistogram::new(0.5)),
            "RuntimeBuilder::native_histograms",
            "0.5",
            "metric \"dynamo_component_*\": native_bucket_factor 0.5 must be a finite number \
             greater than 1",
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
            code().header_read_timeout(Duration::from_secs(301)),
            "RuntimeBuilder::header_read_timeout",
            "301s",
            "a timeout must be at most 5m",
        ),
        (
            code().idle_timeout(Duration::MAX),
            "RuntimeBuilder::idle_timeout",
            "18446744073709551615.999999999s",
            "a timeout must be at most 1h",
        ),
        (
            code().write_timeout(Duration::from_secs(3600)),
            "RuntimeBuilder::write_timeout",
            "3600s",
            "a timeout must be at most 5m",
        ),
        (
            code().callback_timeout(Duration::from_secs(3600)),
            "RuntimeBuilder::callback_timeout",
            "3600s",
            "a timeout must be at most 5m",
        ),
        (
            code().callback_timeout(Duration::ZERO),
            "RuntimeBuilder::callback_timeout",
            "0ns",
            "a timeout must be longer than zero",
        ),
        (
            code().series_idle_timeout(Some(Duration::from_secs(30 * 86400))),
            "RuntimeBuilder::series_idle_timeout",
            "Some(2592000s)",
            "expected at most 168h (None or zero: never)",
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
            "expected a whole number from 1 to 64",
        ),
        (
            code().callback_threads(65),
            "RuntimeBuilder::callback_threads",
            "65",
            "expected a whole number from 1 to 64",
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
        (
            code().otlp(OtlpConfig::new().with_endpoint("http://127.0.0.1:0/v1/metrics")),
            "OtlpConfig::with_endpoint",
            "\"http://127.0.0.1:0/v1/metrics\"",
            "the port must be from 1 to 65535",
        ),
        (
            code().otlp(OtlpConfig::new().with_header("Host", "collector")),
            "OtlpConfig::with_header",
            "(\"Host\", \"collector\")",
            "the header \"Host\" cannot be set: the exporter writes the headers that frame and \
             describe the request",
        ),
        (
            code().otlp(OtlpConfig::new().with_timeout(Duration::from_secs(3600))),
            "OtlpConfig::with_timeout",
            "3600s",
            "expected a duration of at most 5m",
        ),
        (
            code().otlp(OtlpConfig::new().with_export_timeout(Duration::MAX)),
            "OtlpConfig::with_export_timeout",
            "18446744073709551615.999999999s",
            "expected a duration of at most 5m",
        ),
        (
            code().otlp(OtlpConfig::new().with_interval(Duration::from_secs(86401))),
            "OtlpConfig::with_interval",
            "86401s",
            "expected a duration of at most 24h",
        ),
        (
            code().otlp(OtlpConfig::new().with_shutdown_timeout(Duration::from_secs(61))),
            "OtlpConfig::with_shutdown_timeout",
            "61s",
            "expected a duration of at most 1m",
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

#[test]
fn every_duration_at_its_maximum_is_accepted() {
    let server = SystemServerConfig::from_lookup(|var| {
        Some(
            match var {
                "DYN_SYSTEM_HEADER_TIMEOUT_SECS" => "300",
                "DYN_SYSTEM_IDLE_TIMEOUT_SECS" => "3600",
                "DYN_SYSTEM_WRITE_TIMEOUT_SECS" => "300",
                _ => return None,
            }
            .to_string(),
        )
    })
    .unwrap();
    assert_eq!(
        server.limits().header_read_timeout,
        Duration::from_secs(300)
    );
    assert_eq!(server.limits().idle_timeout, Duration::from_secs(3600));
    assert_eq!(server.limits().write_timeout, Duration::from_secs(300));
    let metrics = MetricsConfig::from_lookup(|var| {
        (var == "DYN_METRICS_IDLE_TIMEOUT").then(|| "168h".into())
    })
    .unwrap();
    assert_eq!(metrics.idle_timeout(), Some(Duration::from_secs(7 * 86400)));
    let otlp = OtlpConfig::from_lookup(|var| {
        Some(
            match var {
                "OTEL_METRICS_EXPORTER" => "otlp",
                "OTEL_EXPORTER_OTLP_TIMEOUT" => "300000",
                "OTEL_METRIC_EXPORT_TIMEOUT" => "300000",
                "OTEL_METRIC_EXPORT_INTERVAL" => "86400000",
                "DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT" => "60s",
                _ => return None,
            }
            .to_string(),
        )
    })
    .unwrap()
    .unwrap();
    assert_eq!(
        (
            otlp.timeout(),
            otlp.export_timeout(),
            otlp.interval(),
            otlp.shutdown_timeout()
        ),
        (
            Duration::from_secs(300),
            Duration::from_secs(300),
            Duration::from_secs(86400),
            Duration::from_secs(60)
        )
    );
    // Given in code, the same bounds hold; the exporter stops at once when dropped.
    let runtime = code()
        .header_read_timeout(Duration::from_secs(300))
        .idle_timeout(Duration::from_secs(3600))
        .write_timeout(Duration::from_secs(300))
        .callback_timeout(Duration::from_secs(300))
        .series_idle_timeout(Some(Duration::from_secs(7 * 86400)))
        .otlp(
            otlp.with_endpoint("http://127.0.0.1:9/v1/metrics")
                .with_shutdown_timeout(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    drop(runtime);
}

/// A child of this test binary runs `test` with `var` set to bytes that are not UTF-8 (a
/// test cannot change its own process' environment safely) and the `also` variables set, and
/// must pass.
fn run_with_non_utf8(test: &str, var: &str, value: &[u8], also: &[(&str, &str)]) {
    use std::os::unix::ffi::OsStrExt;
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, std::ffi::OsStr::from_bytes(value))
        .envs(also.iter().copied())
        .env("DYN_SETTINGS_TEST_CHILD", var)
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{test} with {var} not UTF-8 failed in the child:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The error every reader of the process environment gives for `var`, whose value is
/// `lossy` once its bytes that are not UTF-8 are replaced.
fn assert_not_utf8(error: &MetricsError, var: &str, lossy: &str) {
    assert!(
        matches!(
            error,
            MetricsError::InvalidEnv { var: v, value, reason }
                if *v == var && value == lossy && reason == "the value is not valid UTF-8"
        ),
        "{error:?}"
    );
}

#[test]
fn a_value_of_the_environment_that_is_not_utf8_is_an_error_naming_the_variable() {
    const TEST: &str =
        "a_value_of_the_environment_that_is_not_utf8_is_an_error_naming_the_variable";
    let Some(var) = std::env::var_os("DYN_SETTINGS_TEST_CHILD") else {
        for var in [
            "DYN_METRICS_CONST_LABELS",
            "DYN_SYSTEM_HOST",
            "DYN_SYSTEM_HEALTH_PATH",
        ] {
            run_with_non_utf8(TEST, var, b"team=infer\xff", &[]);
        }
        let otlp_on = [("OTEL_METRICS_EXPORTER", "otlp")];
        run_with_non_utf8(
            TEST,
            "OTEL_EXPORTER_OTLP_HEADERS",
            b"team=infer\xff",
            &otlp_on,
        );
        return;
    };
    let var = var.into_string().unwrap();
    let lossy = "team=infer\u{fffd}";
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .from_env()
        .build()
        .unwrap_err();
    assert_not_utf8(&error, &var, lossy);
    if var.starts_with("DYN_SYSTEM_") {
        assert_not_utf8(&SystemServerConfig::from_env().unwrap_err(), &var, lossy);
    }
    if var.starts_with("OTEL_") {
        let error = MetricsError::from(OtlpConfig::from_env().unwrap_err());
        assert_not_utf8(&error, &var, lossy);
    }
}
