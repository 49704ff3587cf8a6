//! OTLP export configured by the standard variables: endpoint, headers, compression and
//! resource attributes reach the collector; bad values are errors naming the variable.

use std::collections::BTreeMap;

use crate::common;
use crate::common::otlp::Receiver;
use dynamo_runtime::{DistributedRuntime, MetricsError, OtlpConfig};

fn with_env(vars: Vec<(&'static str, String)>) -> Result<DistributedRuntime, MetricsError> {
    DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(move |var| vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()))
        .build()
}

#[test]
fn endpoint_headers_compression_and_resource_come_from_the_variables() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = with_env(vec![
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        // Selects OTLP/HTTP, which appends `/v1/metrics` to the base.
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=s%3Dcret%2C1,x-tenant=team-a".into(),
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "50".into()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=test,service.name=overridden,k8s.pod.name=w%201".into(),
        ),
        ("OTEL_SERVICE_NAME", "worker".into()),
    ])
    .unwrap();
    runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc();
    let export = receiver.wait_for("with the counter", |r| {
        common::otlp::number_in(&r.request, "dynamo_component_jobs_total", &[]).is_some()
    });
    assert_eq!(export.path, "/v1/metrics");
    assert_eq!(
        export.header("content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(export.header("content-encoding"), Some("gzip"));
    assert_eq!(export.header("x-api-key"), Some("s=cret,1"));
    assert_eq!(export.header("x-tenant"), Some("team-a"));
    assert_eq!(&export.body[..2], [0x1f, 0x8b], "the body is gzip");
    let expected: BTreeMap<String, String> = [
        ("deployment.environment", "test"),
        ("k8s.pod.name", "w 1"),
        ("service.name", "worker"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.name", "dynamo-metrics"),
        ("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(export.resource(), expected);
    runtime.shutdown();
}

#[test]
fn the_service_name_defaults_to_unknown_service_and_the_executable() {
    let _beside = common::beside_others();
    let receiver = Receiver::accepting();
    let runtime = with_env(vec![
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "http/protobuf".into(),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", receiver.endpoint()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "50".into()),
    ])
    .unwrap();
    let export = receiver.wait_for("any", |_| true);
    let executable = std::env::current_exe().unwrap();
    let executable = executable.file_name().unwrap().to_string_lossy();
    assert_eq!(
        export.resource()["service.name"],
        format!("unknown_service:{executable}")
    );
    runtime.shutdown();
}

#[test]
fn bad_variables_are_errors_naming_them() {
    let _beside = common::beside_others();
    let cases = [
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "h2",
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"h2\" is invalid: expected `grpc` or `http/protobuf`",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "http/json",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=\"http/json\" is invalid: JSON bodies are not \
             supported: expected `grpc` or `http/protobuf`",
        ),
        (
            "OTEL_METRIC_EXPORT_TIMEOUT",
            "soon",
            "OTEL_METRIC_EXPORT_TIMEOUT=\"soon\" is invalid: expected a whole number of \
             milliseconds above zero",
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "both",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=\"both\" is invalid: expected \
             `cumulative`, `delta` or `lowmemory`",
        ),
    ];
    for (var, value, message) in cases {
        let error = with_env(vec![
            ("OTEL_METRICS_EXPORTER", "otlp".into()),
            (var, value.into()),
        ])
        .unwrap_err();
        assert!(
            matches!(&error, MetricsError::InvalidEnv { var: v, .. } if *v == var),
            "{error:?}"
        );
        assert_eq!(error.to_string(), message);
    }
    let error = with_env(vec![("OTEL_METRICS_EXPORTER", "zipkin".into())]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("OTEL_METRICS_EXPORTER=\"zipkin\" is invalid")
    );
}

#[test]
fn settings_given_in_code_are_checked_and_named() {
    let _beside = common::beside_others();
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .otlp(OtlpConfig::new().with_endpoint("collector:4318"))
        .build()
        .unwrap_err();
    assert!(
        matches!(error, MetricsError::InvalidSetting { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "OtlpConfig::with_endpoint(\"collector:4318\") is invalid: expected an http:// or https:// URL"
    );
}

#[test]
fn without_the_exporter_variable_nothing_is_exported_or_registered() {
    let _beside = common::beside_others();
    let runtime = with_env(vec![(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://127.0.0.1:1".into(),
    )])
    .unwrap();
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(!page.contains("dynamo_metrics_otlp_"), "{page}");
}
