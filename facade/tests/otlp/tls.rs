//! OTLP over TLS to receivers on loopback with certificates made for the test: the CA named
//! by `OTEL_EXPORTER_OTLP_CERTIFICATE` is trusted, without it the export fails (counted, the
//! application unaffected), a receiver asking for a client certificate gets the export only
//! with one; files that cannot be used are errors naming the variable and the path when the
//! runtime is built.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::common;
use crate::common::otlp::{self, Receiver, ServerTls};
use crate::faults::{eventually, sample};
use dynamo_runtime::{DistributedRuntime, MetricsError, OtlpConfig};

/// A CA, a server certificate for `localhost` and 127.0.0.1, a client certificate, all made
/// now; the files the settings name are in a temporary folder removed when dropped.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "OTLP test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: &[&str], usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let certificate = params.signed_by(&key, &ca).unwrap();
            (certificate.pem(), key.serialize_pem())
        };
        let (server_pem, server_key_pem) = leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_pem, client_key_pem) = leaf(&["worker"], ExtendedKeyUsagePurpose::ClientAuth);
        let other_key_pem = KeyPair::generate().unwrap().serialize_pem();
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in [
            ("ca.pem", ca.pem()),
            ("client.pem", client_pem),
            ("client-key.pem", client_key_pem),
            ("other-key.pem", other_key_pem),
            ("notes.txt", "not a certificate\n".to_string()),
        ] {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        Self {
            dir,
            ca_pem: ca.pem(),
            server_pem,
            server_key_pem,
        }
    }

    /// A file of the folder, as a setting's value.
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The server's TLS, asking for a client certificate of the CA when `mutual`.
    fn server(&self, mutual: bool) -> ServerTls {
        ServerTls {
            certificate_pem: self.server_pem.clone(),
            key_pem: self.server_key_pem.clone(),
            client_ca_pem: mutual.then(|| self.ca_pem.clone()),
        }
    }
}

fn with_env(vars: Vec<(&'static str, String)>) -> Result<DistributedRuntime, MetricsError> {
    DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(move |var| vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone()))
        .build()
}

fn with_config(config: OtlpConfig) -> Result<DistributedRuntime, MetricsError> {
    DistributedRuntime::builder()
        .global_recorder(false)
        .otlp(config)
        .build()
}

/// The variables of an export every 50 ms to `endpoint` over `protocol`, with `extra`.
fn export_vars(
    protocol: &str,
    endpoint: String,
    extra: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("OTEL_METRICS_EXPORTER", "otlp".to_string()),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", protocol.to_string()),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "50".to_string()),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "300".to_string()),
        ("DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT", "500ms".to_string()),
    ];
    vars.extend_from_slice(extra);
    vars
}

/// Waits for an export holding the runtime's counter and checks its metric names.
fn assert_arrives(received: impl Fn() -> Vec<otlp::Received>, runtime: DistributedRuntime) {
    runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap()
        .inc();
    eventually("an export with the counter", || {
        received()
            .iter()
            .any(|r| otlp::metrics_of(&r.request).any(|m| m.name == "dynamo_component_jobs_total"))
    });
    let export = received()
        .into_iter()
        .find(|r| otlp::metrics_of(&r.request).any(|m| m.name == "dynamo_component_jobs_total"))
        .unwrap();
    let names: Vec<String> = otlp::metrics_of(&export.request)
        .map(|m| m.name.clone())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "dynamo_metrics_otlp_exported_total"),
        "{names:?}"
    );
    assert_eq!(
        otlp::number_in(&export.request, "dynamo_component_jobs_total", &[]).map(|n| n.0),
        Some(1.0)
    );
    eventually("the export is counted", || {
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]) >= 1.0
    });
    runtime.shutdown();
}

/// Checks that nothing arrives: the attempts fail, are counted as dropped once their
/// retries run out, and the application goes on updating and scraping.
fn assert_fails(received: impl Fn() -> Vec<otlp::Received>, runtime: DistributedRuntime) {
    let counter = runtime
        .metrics()
        .create_intcounter("jobs_total", "Jobs", &[])
        .unwrap();
    eventually("failed exports counted", || {
        counter.inc();
        sample(
            &runtime,
            "dynamo_metrics_otlp_dropped_total",
            &[("reason", "retries_exhausted")],
        ) >= 1.0
    });
    assert!(received().is_empty(), "nothing arrives over TLS");
    assert_eq!(
        sample(&runtime, "dynamo_metrics_otlp_exported_total", &[]),
        0.0
    );
    let page = runtime.metrics().prometheus_expfmt().unwrap();
    assert!(page.contains("dynamo_component_jobs_total"), "{page}");
    runtime.shutdown();
}

#[test]
fn otlp_http_over_tls_arrives_when_the_ca_is_trusted_and_fails_when_not() {
    let _beside = common::beside_others();
    let pki = Pki::new();
    let receiver = Receiver::accepting_tls(&pki.server(false));
    assert!(receiver.endpoint().starts_with("https://localhost:"));
    // The metrics variable wins over the general one, which names no file.
    let trusted = with_env(export_vars(
        "http/protobuf",
        receiver.endpoint(),
        &[
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", pki.path("ca.pem")),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("missing.pem")),
        ],
    ))
    .unwrap();
    assert_arrives(|| receiver.received(), trusted);

    let receiver = Receiver::accepting_tls(&pki.server(false));
    let untrusted = with_env(export_vars("http/protobuf", receiver.endpoint(), &[])).unwrap();
    assert_fails(|| receiver.received(), untrusted);
}

#[test]
fn otlp_http_presents_the_client_certificate_a_receiver_asks_for() {
    let _beside = common::beside_others();
    let pki = Pki::new();
    let ca = ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.pem"));
    let receiver = Receiver::accepting_tls(&pki.server(true));
    let with_client = with_env(export_vars(
        "http/protobuf",
        receiver.endpoint(),
        &[
            ca.clone(),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                pki.path("client.pem"),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client-key.pem")),
        ],
    ))
    .unwrap();
    assert_arrives(|| receiver.received(), with_client);

    let receiver = Receiver::accepting_tls(&pki.server(true));
    let without = with_env(export_vars("http/protobuf", receiver.endpoint(), &[ca])).unwrap();
    assert_fails(|| receiver.received(), without);
}

#[cfg(feature = "otlp-grpc")]
mod grpc {
    use super::*;
    use crate::common::otlp::GrpcReceiver;

    #[test]
    fn otlp_grpc_over_tls_arrives_when_the_ca_is_trusted_and_fails_when_not() {
        let _beside = common::beside_others();
        let pki = Pki::new();
        let receiver = GrpcReceiver::accepting_tls(&pki.server(false));
        assert!(receiver.endpoint().starts_with("https://localhost:"));
        let trusted = with_env(export_vars(
            "grpc",
            receiver.endpoint(),
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.pem"))],
        ))
        .unwrap();
        assert_arrives(|| receiver.received(), trusted);

        let receiver = GrpcReceiver::accepting_tls(&pki.server(false));
        let untrusted = with_env(export_vars("grpc", receiver.endpoint(), &[])).unwrap();
        assert_fails(|| receiver.received(), untrusted);
    }

    #[test]
    fn otlp_grpc_presents_the_client_certificate_a_receiver_asks_for() {
        let _beside = common::beside_others();
        let pki = Pki::new();
        let receiver = GrpcReceiver::accepting_tls(&pki.server(true));
        // Given in code, the same files.
        let config = OtlpConfig::new()
            .with_endpoint(receiver.endpoint())
            .with_interval(Duration::from_millis(50))
            .with_export_timeout(Duration::from_millis(300))
            .with_shutdown_timeout(Duration::from_millis(500))
            .with_certificate(pki.path("ca.pem"));
        let with_client = with_config(
            config
                .clone()
                .with_client_certificate(pki.path("client.pem"), pki.path("client-key.pem")),
        )
        .unwrap();
        assert_arrives(|| receiver.received(), with_client);

        let receiver = GrpcReceiver::accepting_tls(&pki.server(true));
        let without = with_config(config.with_endpoint(receiver.endpoint())).unwrap();
        assert_fails(|| receiver.received(), without);
    }
}

/// The error of building a runtime whose export settings add `extra`.
fn error_with(extra: &[(&'static str, String)]) -> String {
    let vars = export_vars(
        "http/protobuf",
        "https://localhost:4318/v1/metrics".into(),
        extra,
    );
    match with_env(vars) {
        Ok(_) => panic!("{extra:?} is refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn files_that_cannot_be_used_are_errors_naming_the_variable_and_the_path() {
    let _beside = common::beside_others();
    let pki = Pki::new();
    // The variables, then the variable and the path the error names, and its reason.
    type Case = (
        Vec<(&'static str, String)>,
        &'static str,
        String,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("missing.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            pki.path("missing.pem"),
            "cannot read the file: No such file or directory",
        ),
        (
            vec![(
                "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
                pki.path("notes.txt"),
            )],
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            pki.path("notes.txt"),
            "the file is not PEM",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("other-key.pem"))],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            pki.path("other-key.pem"),
            "the file holds no certificate",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client-key.pem"))],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            pki.path("client-key.pem"),
            "a client key needs its certificate: set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        ),
        (
            vec![(
                "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
                pki.path("client.pem"),
            )],
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
            pki.path("client.pem"),
            "a client certificate needs its private key",
        ),
        (
            vec![
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    pki.path("missing.pem"),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client-key.pem")),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            pki.path("missing.pem"),
            "cannot read the file",
        ),
        (
            vec![
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    pki.path("client.pem"),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client.pem")),
            ],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            pki.path("client.pem"),
            "the file holds no private key",
        ),
        (
            vec![
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    pki.path("client.pem"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
                    pki.path("other-key.pem"),
                ),
            ],
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
            pki.path("other-key.pem"),
            "the key cannot be used with the client certificate",
        ),
    ];
    for (extra, var, path, reason) in cases {
        let error = error_with(&extra);
        assert!(
            error.starts_with(&format!("{var}={path:?} is invalid: ")),
            "{extra:?}: {error}"
        );
        assert!(error.contains(reason), "{extra:?}: {error}");
    }
}

/// The error of building a runtime exporting as `config` says.
fn error_of(config: OtlpConfig) -> String {
    match with_config(config) {
        Ok(_) => panic!("the settings are refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn files_given_in_code_are_read_at_once_and_refused_when_the_runtime_is_built() {
    let _beside = common::beside_others();
    let pki = Pki::new();
    let missing = pki.path("missing.pem");
    let config = OtlpConfig::new()
        .with_endpoint("https://localhost:4317")
        .with_certificate(&missing);
    assert_eq!(config.certificate(), Some(Path::new(&missing)));
    let text = error_of(config);
    assert!(
        text.starts_with(&format!(
            "OtlpConfig::with_certificate({missing:?}) is invalid: cannot read the file"
        )),
        "{text}"
    );

    // Read once: a file removed after the setting was given is not read again.
    let copy: PathBuf = pki.dir.path().join("copy.pem");
    std::fs::copy(pki.path("ca.pem"), &copy).unwrap();
    let config = OtlpConfig::new()
        .with_endpoint("https://localhost:4317")
        .with_shutdown_timeout(Duration::from_millis(200))
        .with_certificate(&copy)
        .with_client_certificate(pki.path("client.pem"), pki.path("client-key.pem"));
    std::fs::remove_file(&copy).unwrap();
    with_config(config).unwrap().shutdown();

    let text = error_of(
        OtlpConfig::new()
            .with_client_certificate(pki.path("client.pem"), pki.path("other-key.pem")),
    );
    assert!(
        text.starts_with("OtlpConfig::with_client_certificate((")
            && text.contains(&pki.path("other-key.pem"))
            && text.contains("the key file: the key cannot be used with the client certificate"),
        "{text}"
    );
}
