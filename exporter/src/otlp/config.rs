//! OTLP export settings: the standard `OTEL_*` variables, or values given in code.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};

use super::resource;
use super::tls::{self, PemFile, TlsFiles};
use crate::settings::SettingError;
use crate::settings::SettingSource;
use crate::settings::{format_duration, parse_duration};

/// `OTEL_METRICS_EXPORTER`: `otlp` turns export on; `none` or `prometheus` (the scrape,
/// always on) leave it off. A comma-separated list may name several.
pub const EXPORTER_VAR: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_SDK_DISABLED`: `true` turns export off whatever else is set.
pub const SDK_DISABLED_VAR: &str = "OTEL_SDK_DISABLED";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; over HTTP `v1/metrics` is appended, over gRPC it
/// is used as it is.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`: the full URL, used as it is.
pub const METRICS_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` or `http/protobuf`; unset, gRPC (with the
/// `otlp-grpc` feature, else `http/protobuf`).
pub const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`: overrides [`PROTOCOL_VAR`] for metrics.
pub const METRICS_PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,key2=value2`, percent-encoded. Headers that
/// frame or describe the request (`Content-Length`, `Content-Type`, `Host`, ...) are refused.
pub const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_METRICS_HEADERS`: overrides [`HEADERS_VAR`] for metrics.
pub const METRICS_HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds one request may take (default 10000).
pub const TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`: overrides [`TIMEOUT_VAR`] for metrics.
pub const METRICS_TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or `none` (the default).
pub const COMPRESSION_VAR: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION`: overrides [`COMPRESSION_VAR`] for metrics.
pub const METRICS_COMPRESSION_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION";
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`: path of a PEM file of CA certificates trusted for the
/// collector's certificate over `https`, beside the system's roots. Read once, when the
/// settings are read.
pub const CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE`: overrides [`CERTIFICATE_VAR`] for metrics.
pub const METRICS_CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`: path of a PEM file of the client's certificate
/// (and the chain to its CA) for mutual TLS; needs [`CLIENT_KEY_VAR`].
pub const CLIENT_CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE`: overrides [`CLIENT_CERTIFICATE_VAR`] for
/// metrics.
pub const METRICS_CLIENT_CERTIFICATE_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_CLIENT_KEY`: path of a PEM file of the client certificate's private
/// key (PKCS#8, PKCS#1 or SEC1) for mutual TLS; needs [`CLIENT_CERTIFICATE_VAR`].
pub const CLIENT_KEY_VAR: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// `OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY`: overrides [`CLIENT_KEY_VAR`] for metrics.
pub const METRICS_CLIENT_KEY_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY";
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative` (default), `delta` or
/// `lowmemory`.
pub const TEMPORALITY_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// `OTEL_METRIC_EXPORT_INTERVAL`: milliseconds between two collections (default 60000).
pub const EXPORT_INTERVAL_VAR: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_METRIC_EXPORT_TIMEOUT`: milliseconds one export may take, retries included (default
/// 30000).
pub const EXPORT_TIMEOUT_VAR: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// `DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT`: how long the final export at shutdown may take, the
/// collection and the sending of what is queued together, whatever the collector does
/// (default `5s`; a duration such as `5s`, `500ms` or `1m`). OpenTelemetry defines no
/// variable for it.
pub const SHUTDOWN_TIMEOUT_VAR: &str = "DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key2=value2`, percent-encoded.
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Where requests go over OTLP/HTTP unless told otherwise.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318/v1/metrics";
/// Where requests go over OTLP/gRPC unless told otherwise.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Time one request may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between two collections unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Time one export (retries included) may take unless told otherwise.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the final export at shutdown may take unless told otherwise: well within the 30 s
/// Kubernetes gives a pod between SIGTERM and SIGKILL, beside the status server's own
/// shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest time one request may take: past it a collector is down, not slow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest time one export may take, retries included.
pub const MAX_EXPORT_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest time between two collections: a day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest time the final export at shutdown may take: past a minute, a pod's grace
/// period has usually ended and the process is killed anyway.
pub const MAX_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// Encoded requests waiting to be sent at most, unless told otherwise; past it the oldest is
/// dropped.
pub const DEFAULT_MAX_QUEUED_REQUESTS: usize = 4;

/// How counters and histograms are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Totals since the runtime started (the default).
    #[default]
    Cumulative,
    /// Changes since the previous export.
    Delta,
    /// Delta for counters and histograms the application updates; cumulative for counters
    /// read from callback text, which are observed totals (the specification's `lowmemory`).
    LowMemory,
}

impl Temporality {
    /// The word of the temporality variable.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cumulative => "cumulative",
            Self::Delta => "delta",
            Self::LowMemory => "lowmemory",
        }
    }

    /// Reads `cumulative`, `delta` or `lowmemory`, in any case.
    ///
    /// # Errors
    ///
    /// A message listing the accepted words.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Ok(Self::Cumulative),
            "delta" => Ok(Self::Delta),
            "lowmemory" => Ok(Self::LowMemory),
            _ => Err("expected `cumulative`, `delta` or `lowmemory`".into()),
        }
    }
}

impl fmt::Display for Temporality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How requests travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC: the `MetricsService/Export` call over HTTP/2 (feature `otlp-grpc`). The
    /// default when the feature is on, as in Dynamo.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, posted over HTTP/1.1. The default without the
    /// `otlp-grpc` feature, and OpenTelemetry's default.
    HttpProtobuf,
}

impl Default for Protocol {
    fn default() -> Self {
        if cfg!(feature = "otlp-grpc") {
            Self::Grpc
        } else {
            Self::HttpProtobuf
        }
    }
}

impl Protocol {
    /// The word of the protocol variables: `grpc` or `http/protobuf`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }

    /// Reads `grpc` or `http/protobuf`, in any case (Dynamo reads `GRPC` too).
    ///
    /// # Errors
    ///
    /// A message listing the accepted words.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            "http/json" => {
                Err("JSON bodies are not supported: expected `grpc` or `http/protobuf`".into())
            }
            _ => Err("expected `grpc` or `http/protobuf`".into()),
        }
    }

    /// Where requests go unless an endpoint is given.
    #[must_use]
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => DEFAULT_GRPC_ENDPOINT,
            Self::HttpProtobuf => DEFAULT_ENDPOINT,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How request bodies are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Sent as they are (the default).
    #[default]
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
}

impl Compression {
    /// Reads `gzip` or `none`.
    ///
    /// # Errors
    ///
    /// A message listing the accepted words.
    pub fn parse(word: &str) -> Result<Self, String> {
        match word.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "gzip" => Ok(Self::Gzip),
            _ => Err("expected `gzip` or `none`".into()),
        }
    }
}

/// A setting that cannot be used: the crate's [`SettingError`], which this module once named
/// separately.
#[deprecated(note = "use dynamo_exporter::SettingError")]
pub type OtlpConfigError = SettingError;

/// Where and how to push metrics over OTLP: gRPC or HTTP with protobuf bodies.
///
/// [`OtlpConfig::from_lookup`] reads the standard `OTEL_*` variables; the `with_*` methods
/// set values in code. Values given in code are checked when the exporter starts.
///
/// ```
/// # fn main() -> Result<(), dynamo_exporter::SettingError> {
/// use std::time::Duration;
/// use dynamo_exporter::otlp::{OtlpConfig, Temporality};
///
/// let config = OtlpConfig::from_lookup(|var| match var {
///     "OTEL_METRICS_EXPORTER" => Some("otlp".into()),
///     "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".into()),
///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".into()),
///     "OTEL_METRIC_EXPORT_INTERVAL" => Some("15000".into()),
///     "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE" => Some("delta".into()),
///     "OTEL_RESOURCE_ATTRIBUTES" => Some("deployment.environment=prod,team=a%2Cb".into()),
///     _ => None,
/// })?
/// .expect("OTEL_METRICS_EXPORTER=otlp turns export on");
/// assert_eq!(config.endpoint(), "http://collector:4318/v1/metrics");
/// assert_eq!(config.interval(), Duration::from_secs(15));
/// assert_eq!(config.temporality(), Temporality::Delta);
/// assert_eq!(config.resource_attributes()[1], ("team".to_string(), "a,b".to_string()));
///
/// let off = OtlpConfig::from_lookup(|_| None)?;
/// assert!(off.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct OtlpConfig {
    protocol: Protocol,
    /// The full URL given (`with_endpoint`, the metrics variable), used as it is.
    endpoint: Option<String>,
    /// The base URL of the general variable, completed by the protocol's path rule.
    base_endpoint: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    interval: Duration,
    export_timeout: Duration,
    shutdown_timeout: Duration,
    compression: Compression,
    temporality: Temporality,
    service_name: Option<String>,
    resource_attributes: Vec<(String, String)>,
    max_queued_requests: usize,
    /// The trusted certificates' file as given, and what reading it gave.
    certificate: Option<(PathBuf, Result<PemFile, SettingError>)>,
    /// The client certificate's and key's files as given, and what reading them gave.
    client_certificate: Option<(PathBuf, PathBuf, Result<ClientPair, SettingError>)>,
}

/// A client certificate chain and its private key, read.
type ClientPair = (PemFile, PemFile);

impl Default for OtlpConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl OtlpConfig {
    /// The defaults: gRPC to `http://localhost:4317` (with the `otlp-grpc` feature, else
    /// OTLP/HTTP to `http://localhost:4318/v1/metrics`), a 10 s request timeout, a 60 s
    /// interval, a 30 s export timeout, a 5 s shutdown timeout, no compression, cumulative
    /// temporality.
    pub fn new() -> Self {
        Self {
            protocol: Protocol::default(),
            endpoint: None,
            base_endpoint: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_INTERVAL,
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            compression: Compression::None,
            temporality: Temporality::Cumulative,
            service_name: None,
            resource_attributes: Vec::new(),
            max_queued_requests: DEFAULT_MAX_QUEUED_REQUESTS,
            certificate: None,
            client_certificate: None,
        }
    }

    /// Reads the variables of the process environment; see [`OtlpConfig::from_lookup`].
    ///
    /// # Errors
    ///
    /// As [`OtlpConfig::from_lookup`].
    pub fn from_env() -> Result<Option<Self>, SettingError> {
        Self::from_vars(crate::settings::env_var)
    }

    /// Reads the `OTEL_*` variables through `lookup`: `None` unless `OTEL_METRICS_EXPORTER`
    /// names `otlp` (and `OTEL_SDK_DISABLED` is not `true`). Unset and empty variables take
    /// their defaults; a metrics-specific variable wins over the general one.
    ///
    /// # Errors
    ///
    /// [`SettingError::InvalidEnv`] naming the variable and its value: an unknown
    /// exporter, a protocol other than `http/protobuf`, an endpoint that is not an `http` or
    /// `https` URL with a host (and a port from 1 to 65535 when it names one), a header or
    /// resource attribute list that is not `key=value,...`, a header that frames or
    /// describes the request, a timeout or interval that is not a whole number of
    /// milliseconds above zero or is past its maximum, a shutdown timeout that is not a
    /// duration above zero or is past its maximum, an unknown compression or temporality; a
    /// certificate or key file (named by its path) that cannot be read, is not PEM or holds no
    /// certificate or no private key; a client key without a client certificate or the
    /// reverse, or a key that does not go with the certificate.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, SettingError> {
        Self::from_vars(|var| Ok(lookup(var)))
    }

    /// As [`OtlpConfig::from_lookup`], through a lookup that may fail: the process
    /// environment read by [`crate::env_var`] refuses a value that is not UTF-8.
    ///
    /// # Errors
    ///
    /// As [`OtlpConfig::from_lookup`], and the lookup's own error.
    pub fn from_vars(
        lookup: impl Fn(&'static str) -> Result<Option<String>, SettingError>,
    ) -> Result<Option<Self>, SettingError> {
        let read = |var: &'static str| -> Result<Option<(&'static str, String)>, SettingError> {
            Ok(lookup(var)?
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
                .map(|value| (var, value)))
        };
        let either = |specific: &'static str, general: &'static str| match read(specific)? {
            Some(found) => Ok(Some(found)),
            None => read(general),
        };
        if let Some((var, value)) = read(SDK_DISABLED_VAR)? {
            match value.to_ascii_lowercase().as_str() {
                "true" => return Ok(None),
                "false" => {}
                _ => return Err(env(var, &value, "expected `true` or `false`")),
            }
        }
        let Some((var, value)) = read(EXPORTER_VAR)? else {
            return Ok(None);
        };
        if !exporters_include_otlp(&value).map_err(|reason| env(var, &value, reason))? {
            return Ok(None);
        }
        let mut config = Self::new();
        if let Some((var, value)) = either(METRICS_PROTOCOL_VAR, PROTOCOL_VAR)? {
            config.protocol = Protocol::parse(&value)
                .and_then(check_protocol_built)
                .map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(METRICS_ENDPOINT_VAR)? {
            check_endpoint(&value).map_err(|reason| env(var, &value, reason))?;
            config.endpoint = Some(value);
        } else if let Some((var, value)) = read(ENDPOINT_VAR)? {
            // The base is checked alone: `http://` would otherwise become `http://v1/metrics`.
            check_endpoint(&value).map_err(|reason| env(var, &value, reason))?;
            check_endpoint(&signal_endpoint(&value)).map_err(|reason| env(var, &value, reason))?;
            config.base_endpoint = Some(value);
        }
        if let Some((var, value)) = either(METRICS_HEADERS_VAR, HEADERS_VAR)? {
            let pairs = resource::parse_pairs(&value).map_err(|reason| env(var, &value, reason))?;
            for (name, header_value) in &pairs {
                check_header(name, header_value).map_err(|reason| env(var, &value, reason))?;
            }
            config.headers = pairs;
        }
        if let Some((var, value)) = either(METRICS_TIMEOUT_VAR, TIMEOUT_VAR)? {
            config.timeout =
                millis(&value, MAX_TIMEOUT).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = either(METRICS_COMPRESSION_VAR, COMPRESSION_VAR)? {
            config.compression =
                Compression::parse(&value).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(TEMPORALITY_VAR)? {
            config.temporality =
                Temporality::parse(&value).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(EXPORT_INTERVAL_VAR)? {
            config.interval =
                millis(&value, MAX_INTERVAL).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(EXPORT_TIMEOUT_VAR)? {
            config.export_timeout =
                millis(&value, MAX_EXPORT_TIMEOUT).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(SHUTDOWN_TIMEOUT_VAR)? {
            config.shutdown_timeout = duration(&value, MAX_SHUTDOWN_TIMEOUT)
                .map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((var, value)) = read(RESOURCE_ATTRIBUTES_VAR)? {
            config.resource_attributes =
                resource::parse_pairs(&value).map_err(|reason| env(var, &value, reason))?;
        }
        if let Some((_, value)) = read(SERVICE_NAME_VAR)? {
            config.service_name = Some(value);
        }
        if let Some((var, value)) = either(METRICS_CERTIFICATE_VAR, CERTIFICATE_VAR)? {
            let file = tls::read_certificates(Path::new(&value))
                .map_err(|reason| env(var, &value, reason))?;
            config.certificate = Some((PathBuf::from(value), Ok(file)));
        }
        let client_certificate = either(METRICS_CLIENT_CERTIFICATE_VAR, CLIENT_CERTIFICATE_VAR)?;
        let client_key = either(METRICS_CLIENT_KEY_VAR, CLIENT_KEY_VAR)?;
        match (client_certificate, client_key) {
            (None, None) => {}
            (Some((var, value)), None) => {
                return Err(env(
                    var,
                    &value,
                    format!(
                        "a client certificate needs its private key: set {CLIENT_KEY_VAR} (or \
                         {METRICS_CLIENT_KEY_VAR}) too"
                    ),
                ));
            }
            (None, Some((var, value))) => {
                return Err(env(
                    var,
                    &value,
                    format!(
                        "a client key needs its certificate: set {CLIENT_CERTIFICATE_VAR} (or \
                         {METRICS_CLIENT_CERTIFICATE_VAR}) too"
                    ),
                ));
            }
            (Some((cert_var, cert_path)), Some((key_var, key_path))) => {
                let certificate = tls::read_certificates(Path::new(&cert_path))
                    .map_err(|reason| env(cert_var, &cert_path, reason))?;
                let key = tls::read_private_key(Path::new(&key_path))
                    .map_err(|reason| env(key_var, &key_path, reason))?;
                tls::check_client_pair(&certificate, &key)
                    .map_err(|reason| env(key_var, &key_path, reason))?;
                config.client_certificate =
                    Some((cert_path.into(), key_path.into(), Ok((certificate, key))));
            }
        }
        Ok(Some(config))
    }

    /// How requests travel: gRPC or HTTP with protobuf bodies (default gRPC with the
    /// `otlp-grpc` feature, else HTTP).
    pub fn with_protocol(self, protocol: Protocol) -> Self {
        Self { protocol, ..self }
    }

    /// The full URL requests go to, used as it is (default `http://localhost:4317` over gRPC,
    /// `http://localhost:4318/v1/metrics` over HTTP). Over gRPC only the scheme, host and
    /// port count: the call's path is the service's.
    pub fn with_endpoint(self, endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            ..self
        }
    }

    /// Adds a header sent with every request (an API key, say). Headers that frame or
    /// describe the request (`Content-Length`, `Transfer-Encoding`, `Content-Type`,
    /// `Content-Encoding`, `Host`, `Connection` and the other hop-by-hop ones) are refused
    /// when the exporter starts.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Time one request may take (default 10 s).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// Time between two collections (default 60 s).
    pub fn with_interval(self, interval: Duration) -> Self {
        Self { interval, ..self }
    }

    /// Time one export may take, retries included (default 30 s).
    pub fn with_export_timeout(self, export_timeout: Duration) -> Self {
        Self {
            export_timeout,
            ..self
        }
    }

    /// Time the final export may take when the runtime shuts down: collecting once more and
    /// sending what is queued, whatever the collector does (default 5 s). What is not sent by
    /// then is dropped and counted.
    pub fn with_shutdown_timeout(self, shutdown_timeout: Duration) -> Self {
        Self {
            shutdown_timeout,
            ..self
        }
    }

    /// How request bodies are compressed (default none).
    pub fn with_compression(self, compression: Compression) -> Self {
        Self {
            compression,
            ..self
        }
    }

    /// How counters and histograms are reported (default cumulative).
    pub fn with_temporality(self, temporality: Temporality) -> Self {
        Self {
            temporality,
            ..self
        }
    }

    /// The `service.name` resource attribute (default `unknown_service:<executable>`).
    pub fn with_service_name(self, name: impl Into<String>) -> Self {
        Self {
            service_name: Some(name.into()),
            ..self
        }
    }

    /// Adds a resource attribute; a later one of the same key wins.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Encoded requests waiting to be sent at most (default 4); past it the oldest waiting
    /// request is dropped.
    pub fn with_max_queued_requests(self, max: usize) -> Self {
        Self {
            max_queued_requests: max,
            ..self
        }
    }

    /// Trusts the CA certificates of the PEM file at `path` for the collector's certificate
    /// over `https`, beside the system's roots. The file is read now, once; a file that
    /// cannot be read, is not PEM or holds no certificate is an error when the exporter
    /// starts.
    pub fn with_certificate(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let loaded = tls::read_certificates(&path)
            .map_err(|reason| code("OtlpConfig::with_certificate", &path, reason));
        Self {
            certificate: Some((path, loaded)),
            ..self
        }
    }

    /// Presents the certificate of the PEM file at `certificate` (the client's, then the
    /// chain to its CA), with the private key of the PEM file at `key`, when the collector
    /// asks for one (mutual TLS over `https`). The files are read now, once; files that
    /// cannot be read, are not PEM, hold no certificate or no key, or a key that does not go
    /// with the certificate are an error when the exporter starts.
    pub fn with_client_certificate(
        self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        let (certificate, key) = (certificate.into(), key.into());
        let error = |which: &str, reason: String| {
            code(
                "OtlpConfig::with_client_certificate",
                &(&certificate, &key),
                format!("{which}: {reason}"),
            )
        };
        let loaded = tls::read_certificates(&certificate)
            .map_err(|reason| error("the certificate file", reason))
            .and_then(|chain| {
                let private_key =
                    tls::read_private_key(&key).map_err(|reason| error("the key file", reason))?;
                tls::check_client_pair(&chain, &private_key)
                    .map_err(|reason| error("the key file", reason))?;
                Ok((chain, private_key))
            });
        Self {
            client_certificate: Some((certificate, key, loaded)),
            ..self
        }
    }

    /// How requests travel.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The URL requests go to: the one given, else the base of `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (with `v1/metrics` appended over HTTP), else the protocol's default.
    #[must_use]
    pub fn endpoint(&self) -> String {
        match (&self.endpoint, &self.base_endpoint) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(base)) => match self.protocol {
                Protocol::Grpc => base.clone(),
                Protocol::HttpProtobuf => signal_endpoint(base),
            },
            (None, None) => self.protocol.default_endpoint().into(),
        }
    }

    /// Headers sent with every request.
    #[must_use]
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Time one request may take.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Time between two collections.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Time one export may take, retries included.
    #[must_use]
    pub fn export_timeout(&self) -> Duration {
        self.export_timeout
    }

    /// Time the final export at shutdown may take.
    #[must_use]
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// How request bodies are compressed.
    #[must_use]
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// How counters and histograms are reported.
    #[must_use]
    pub fn temporality(&self) -> Temporality {
        self.temporality
    }

    /// The `service.name` given, if any.
    #[must_use]
    pub fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }

    /// Resource attributes given, in order.
    #[must_use]
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    /// Encoded requests waiting to be sent at most.
    #[must_use]
    pub fn max_queued_requests(&self) -> usize {
        self.max_queued_requests
    }

    /// The path of the file of CA certificates trusted beside the system's roots, if any.
    #[must_use]
    pub fn certificate(&self) -> Option<&Path> {
        self.certificate.as_ref().map(|(path, _)| path.as_path())
    }

    /// The paths of the client certificate's file and its key's file, if any.
    #[must_use]
    pub fn client_certificate(&self) -> Option<(&Path, &Path)> {
        self.client_certificate
            .as_ref()
            .map(|(certificate, key, _)| (certificate.as_path(), key.as_path()))
    }

    /// Checks every value and turns them into what the exporter uses.
    ///
    /// # Errors
    ///
    /// [`SettingError::InvalidSetting`] naming the `with_*` method: an endpoint that is
    /// not an `http` or `https` URL with a host (and a port from 1 to 65535 when it names
    /// one), a header that HTTP cannot carry or that frames or describes the request, a
    /// duration of zero or past its maximum, a queue bound of zero, a certificate or key file
    /// that could not be used when it was read.
    pub(crate) fn resolve(&self) -> Result<Resolved, SettingError> {
        let protocol = check_protocol_built(self.protocol)
            .map_err(|reason| code("OtlpConfig::with_protocol", &self.protocol, reason))?;
        let given = self.endpoint();
        let endpoint = check_endpoint(&given)
            .map_err(|reason| code("OtlpConfig::with_endpoint", &given, reason))?;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            headers.push(
                check_header(name, value)
                    .map_err(|reason| code("OtlpConfig::with_header", &(name, value), reason))?,
            );
        }
        let durations = [
            ("OtlpConfig::with_timeout", self.timeout, MAX_TIMEOUT),
            ("OtlpConfig::with_interval", self.interval, MAX_INTERVAL),
            (
                "OtlpConfig::with_export_timeout",
                self.export_timeout,
                MAX_EXPORT_TIMEOUT,
            ),
            (
                "OtlpConfig::with_shutdown_timeout",
                self.shutdown_timeout,
                MAX_SHUTDOWN_TIMEOUT,
            ),
        ];
        for (setting, duration, max) in durations {
            if duration.is_zero() {
                return Err(code(setting, &duration, "expected a duration above zero"));
            }
            if duration > max {
                let reason = format!("expected a duration of at most {}", format_duration(max));
                return Err(code(setting, &duration, reason));
            }
        }
        if self.max_queued_requests == 0 {
            return Err(code(
                "OtlpConfig::with_max_queued_requests",
                &self.max_queued_requests,
                "expected a whole number above zero",
            ));
        }
        let mut tls = TlsFiles::default();
        if let Some((_, loaded)) = &self.certificate {
            tls.trusted = Some(loaded.clone()?);
        }
        if let Some((_, _, loaded)) = &self.client_certificate {
            tls.client = Some(loaded.clone()?);
        }
        Ok(Resolved {
            protocol,
            endpoint,
            headers,
            timeout: self.timeout,
            interval: self.interval,
            export_timeout: self.export_timeout,
            shutdown_timeout: self.shutdown_timeout,
            compression: self.compression,
            temporality: self.temporality,
            resource: resource::attributes(self.service_name.as_deref(), &self.resource_attributes),
            max_queued_requests: self.max_queued_requests,
            tls,
        })
    }
}

/// Checked settings, as the exporter uses them.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: Uri,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) compression: Compression,
    pub(crate) temporality: Temporality,
    pub(crate) resource: Vec<(String, String)>,
    pub(crate) max_queued_requests: usize,
    pub(crate) tls: TlsFiles,
}

fn env(var: &'static str, value: &str, reason: impl Into<String>) -> SettingError {
    SettingSource::env(var, value).invalid(reason)
}

fn code(setting: &'static str, value: &dyn fmt::Debug, reason: impl Into<String>) -> SettingError {
    SettingSource::code(setting, value).invalid(reason)
}

/// True when the comma-separated list names `otlp`.
fn exporters_include_otlp(list: &str) -> Result<bool, String> {
    let mut otlp = false;
    for name in list.split(',').map(str::trim) {
        match name {
            "otlp" => otlp = true,
            "none" | "prometheus" | "" => {}
            other => {
                return Err(format!(
                    "unknown metrics exporter {other:?}: expected `otlp`, `prometheus` (the \
                     scrape page, always served) or `none`"
                ));
            }
        }
    }
    Ok(otlp)
}

/// The protocol, when this build can speak it.
fn check_protocol_built(protocol: Protocol) -> Result<Protocol, String> {
    if protocol == Protocol::Grpc && !cfg!(feature = "otlp-grpc") {
        return Err(
            "gRPC is not built in (the `otlp-grpc` feature): use `http/protobuf`, the \
                    OTLP/HTTP port (4318)"
                .into(),
        );
    }
    Ok(protocol)
}

/// `base` with `v1/metrics` appended after one `/`.
fn signal_endpoint(base: &str) -> String {
    if base.ends_with('/') {
        format!("{base}v1/metrics")
    } else {
        format!("{base}/v1/metrics")
    }
}

/// An `http` or `https` URL with a host, and a port from 1 to 65535 when it names one.
fn check_endpoint(endpoint: &str) -> Result<Uri, String> {
    const EXPECTED: &str = "expected an http:// or https:// URL";
    const NO_HOST: &str = "the URL has no host";
    let after_scheme = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    if after_scheme.is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':', '?', '#'])) {
        return Err(NO_HOST.into());
    }
    let uri: Uri = endpoint.parse().map_err(|_| EXPECTED)?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(EXPECTED.into());
    }
    let Some(authority) = uri.authority() else {
        return Err(NO_HOST.into());
    };
    if authority.host().is_empty() {
        return Err(NO_HOST.into());
    }
    // A port the URL names must be one a connection can use: not 0, not past 65535, not
    // empty (`host:`).
    let has_port = authority
        .as_str()
        .rsplit_once(':')
        .is_some_and(|(_, after)| !after.contains(']'));
    if has_port && authority.port_u16().is_none_or(|port| port == 0) {
        return Err("the port must be from 1 to 65535".into());
    }
    Ok(uri)
}

/// Headers the exporter writes itself, or that frame the request or its connection: given
/// again they would send two lengths or two types, or change how the body is read.
const RESERVED_HEADERS: [&str; 12] = [
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn check_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
    // `HeaderName` is lowercase.
    if RESERVED_HEADERS.contains(&header_name.as_str()) {
        return Err(format!(
            "the header {name:?} cannot be set: the exporter writes the headers that frame and \
             describe the request"
        ));
    }
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of header {name:?} holds characters HTTP cannot carry"))?;
    Ok((header_name, header_value))
}

/// A duration above zero and at most `max` as the `DYN_*` variables write it (`5s`,
/// `500ms`).
fn duration(value: &str, max: Duration) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration above zero, such as 5s, 500ms or 1m";
    match parse_duration(value) {
        Ok(duration) if duration > max => Err(format!("expected at most {}", format_duration(max))),
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(EXPECTED.into()),
    }
}

/// A whole number of milliseconds above zero and at most `max`.
fn millis(value: &str, max: Duration) -> Result<Duration, String> {
    let expected = "expected a whole number of milliseconds above zero";
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected.into());
    }
    let too_long = || {
        format!(
            "expected at most {} milliseconds ({})",
            max.as_millis(),
            format_duration(max)
        )
    };
    match value.parse::<u64>() {
        Ok(0) => Err(expected.into()),
        Ok(ms) if u128::from(ms) <= max.as_millis() => Ok(Duration::from_millis(ms)),
        // Digits only: a number past u64 is too long as well.
        Ok(_) | Err(_) => Err(too_long()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(&str, &str)> = pairs.to_vec();
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        }
    }

    fn on(pairs: &[(&'static str, &'static str)]) -> Result<OtlpConfig, SettingError> {
        let mut all = vec![(EXPORTER_VAR, "otlp")];
        all.extend_from_slice(pairs);
        OtlpConfig::from_lookup(lookup(&all)).map(|c| c.expect("export is on"))
    }

    fn error_of(pairs: &[(&'static str, &'static str)]) -> String {
        on(pairs).unwrap_err().to_string()
    }

    #[test]
    fn export_is_on_only_when_the_exporter_names_otlp() {
        assert_eq!(OtlpConfig::from_lookup(lookup(&[])), Ok(None));
        for off in ["none", "prometheus", " "] {
            assert_eq!(
                OtlpConfig::from_lookup(lookup(&[(EXPORTER_VAR, off)])),
                Ok(None),
                "{off}"
            );
        }
        for on in ["otlp", "prometheus,otlp", " otlp "] {
            assert!(
                OtlpConfig::from_lookup(lookup(&[(EXPORTER_VAR, on)]))
                    .unwrap()
                    .is_some(),
                "{on}"
            );
        }
        let disabled = lookup(&[(EXPORTER_VAR, "otlp"), (SDK_DISABLED_VAR, "true")]);
        assert_eq!(OtlpConfig::from_lookup(disabled), Ok(None));
        assert_eq!(
            OtlpConfig::from_lookup(lookup(&[(EXPORTER_VAR, "console")]))
                .unwrap_err()
                .to_string(),
            "OTEL_METRICS_EXPORTER=\"console\" is invalid: unknown metrics exporter \"console\": \
             expected `otlp`, `prometheus` (the scrape page, always served) or `none`"
        );
    }

    #[test]
    fn defaults_follow_the_specification() {
        let config = on(&[]).unwrap();
        assert_eq!(config, OtlpConfig::new());
        // gRPC unless told otherwise, as in Dynamo (OpenTelemetry's default is HTTP).
        #[cfg(feature = "otlp-grpc")]
        {
            assert_eq!(config.protocol(), Protocol::Grpc);
            assert_eq!(config.endpoint(), "http://localhost:4317");
        }
        #[cfg(not(feature = "otlp-grpc"))]
        assert_eq!(config.protocol(), Protocol::HttpProtobuf);
        let http = on(&[(PROTOCOL_VAR, "http/protobuf")]).unwrap();
        assert_eq!(http.protocol(), Protocol::HttpProtobuf);
        assert_eq!(http.endpoint(), "http://localhost:4318/v1/metrics");
        assert_eq!(
            OtlpConfig::new()
                .with_protocol(Protocol::HttpProtobuf)
                .endpoint(),
            "http://localhost:4318/v1/metrics"
        );
        assert_eq!(config.timeout(), Duration::from_secs(10));
        assert_eq!(config.interval(), Duration::from_secs(60));
        assert_eq!(config.export_timeout(), Duration::from_secs(30));
        assert_eq!(config.shutdown_timeout(), Duration::from_secs(5));
        assert_eq!(config.temporality(), Temporality::Cumulative);
        assert_eq!(config.compression(), Compression::None);
    }

    #[test]
    fn resolves_endpoints_as_the_specification_says() {
        let cases: [(&[(&'static str, &'static str)], &str); 5] = [
            (
                &[(ENDPOINT_VAR, "http://c:4318")],
                "http://c:4318/v1/metrics",
            ),
            (
                &[(ENDPOINT_VAR, "http://c:4318/")],
                "http://c:4318/v1/metrics",
            ),
            (
                &[(ENDPOINT_VAR, "https://c/otlp")],
                "https://c/otlp/v1/metrics",
            ),
            (
                &[(METRICS_ENDPOINT_VAR, "http://c:9/custom")],
                "http://c:9/custom",
            ),
            (
                &[
                    (ENDPOINT_VAR, "http://a"),
                    (METRICS_ENDPOINT_VAR, "http://b/m"),
                ],
                "http://b/m",
            ),
        ];
        for (vars, expected) in cases {
            let mut vars = vars.to_vec();
            vars.push((PROTOCOL_VAR, "http/protobuf"));
            assert_eq!(on(&vars).unwrap().endpoint(), expected, "{vars:?}");
        }
    }

    #[test]
    fn reads_the_protocol_the_metrics_variable_first() {
        let cases: [(&[(&'static str, &'static str)], Protocol); 4] = [
            (&[(PROTOCOL_VAR, "http/protobuf")], Protocol::HttpProtobuf),
            (
                &[(METRICS_PROTOCOL_VAR, " http/protobuf ")],
                Protocol::HttpProtobuf,
            ),
            (
                &[
                    (PROTOCOL_VAR, "http/protobuf"),
                    (METRICS_PROTOCOL_VAR, "grpc"),
                ],
                Protocol::Grpc,
            ),
            (
                &[
                    (PROTOCOL_VAR, "grpc"),
                    (METRICS_PROTOCOL_VAR, "http/protobuf"),
                ],
                Protocol::HttpProtobuf,
            ),
        ];
        for (vars, expected) in cases {
            match on(vars) {
                Ok(config) => assert_eq!(config.protocol(), expected, "{vars:?}"),
                // A build without gRPC refuses it, naming the variable.
                Err(error) => assert!(
                    !cfg!(feature = "otlp-grpc")
                        && expected == Protocol::Grpc
                        && error.to_string().contains("gRPC is not built in"),
                    "{vars:?}: {error}"
                ),
            }
        }
    }

    #[cfg(feature = "otlp-grpc")]
    #[test]
    fn grpc_endpoints_are_used_as_they_are() {
        let cases: [(&[(&'static str, &'static str)], &str); 4] = [
            (&[], "http://localhost:4317"),
            (&[(ENDPOINT_VAR, "http://c:4317")], "http://c:4317"),
            (&[(ENDPOINT_VAR, "https://c:4317/")], "https://c:4317/"),
            (
                &[
                    (ENDPOINT_VAR, "http://a"),
                    (METRICS_ENDPOINT_VAR, "http://b:1"),
                ],
                "http://b:1",
            ),
        ];
        for (vars, expected) in cases {
            let config = on(vars).unwrap();
            assert_eq!(config.protocol(), Protocol::Grpc);
            assert_eq!(config.endpoint(), expected, "{vars:?}");
            assert!(config.resolve().is_ok(), "{vars:?}");
        }
        // The general variable's base follows a protocol set later in code.
        let config = on(&[(ENDPOINT_VAR, "http://c:4318")]).unwrap();
        assert_eq!(
            config.with_protocol(Protocol::HttpProtobuf).endpoint(),
            "http://c:4318/v1/metrics"
        );
    }

    #[test]
    fn endpoints_need_a_scheme_a_host_and_a_port_from_1_to_65535() {
        let cases: [(&'static str, &'static str, &str); 9] = [
            (ENDPOINT_VAR, "http://", "the URL has no host"),
            (METRICS_ENDPOINT_VAR, "http://", "the URL has no host"),
            (
                METRICS_ENDPOINT_VAR,
                "http:///v1/metrics",
                "the URL has no host",
            ),
            (ENDPOINT_VAR, "http://:4318", "the URL has no host"),
            (
                METRICS_ENDPOINT_VAR,
                "http://c:99999/v1/metrics",
                "the port must be from 1 to 65535",
            ),
            (
                ENDPOINT_VAR,
                "http://c:0",
                "the port must be from 1 to 65535",
            ),
            (
                ENDPOINT_VAR,
                "https://c:/x",
                "the port must be from 1 to 65535",
            ),
            (
                ENDPOINT_VAR,
                "http://c:4318x",
                "the port must be from 1 to 65535",
            ),
            (
                ENDPOINT_VAR,
                "c:4318",
                "expected an http:// or https:// URL",
            ),
        ];
        for (var, value, reason) in cases {
            assert_eq!(
                on(&[(var, value)]).unwrap_err(),
                SettingSource::env(var, value).invalid(reason),
                "{var}={value}"
            );
        }
        for good in [
            "http://c:1/v1/metrics",
            "https://c:65535/v1/metrics",
            "http://[::1]:4318/v1/metrics",
            "https://collector.example/otlp/v1/metrics",
        ] {
            assert_eq!(
                on(&[(METRICS_ENDPOINT_VAR, good)]).unwrap().endpoint(),
                good
            );
            assert!(
                OtlpConfig::new().with_endpoint(good).resolve().is_ok(),
                "{good}"
            );
        }
        assert_eq!(
            OtlpConfig::new()
                .with_endpoint("http://c:0/v1/metrics")
                .resolve()
                .unwrap_err(),
            SettingSource::code("OtlpConfig::with_endpoint", &"http://c:0/v1/metrics")
                .invalid("the port must be from 1 to 65535")
        );
    }

    #[test]
    fn specific_variables_win_over_general_ones() {
        let config = on(&[
            (TIMEOUT_VAR, "100"),
            (METRICS_TIMEOUT_VAR, "200"),
            (HEADERS_VAR, "a=1"),
            (METRICS_HEADERS_VAR, "b=2"),
            (COMPRESSION_VAR, "none"),
            (METRICS_COMPRESSION_VAR, "gzip"),
        ])
        .unwrap();
        assert_eq!(config.timeout(), Duration::from_millis(200));
        assert_eq!(config.headers(), [("b".to_string(), "2".to_string())]);
        assert_eq!(config.compression(), Compression::Gzip);
    }

    #[test]
    fn reads_the_shutdown_timeout_as_a_duration() {
        for (value, expected) in [
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("1m", Duration::from_secs(60)),
            ("3", Duration::from_secs(3)),
        ] {
            let config = on(&[(SHUTDOWN_TIMEOUT_VAR, value)]).unwrap();
            assert_eq!(config.shutdown_timeout(), expected, "{value}");
        }
        for bad in ["0", "0ms", "soon", "-1s"] {
            assert_eq!(
                error_of(&[(SHUTDOWN_TIMEOUT_VAR, bad)]),
                format!(
                    "DYN_METRICS_OTLP_SHUTDOWN_TIMEOUT={bad:?} is invalid: expected a duration \
                     above zero, such as 5s, 500ms or 1m"
                )
            );
        }
    }

    #[test]
    fn reads_headers_percent_decoded() {
        let config = on(&[(
            HEADERS_VAR,
            "Authorization=Bearer%20abc%3D%3D, x-tenant = team-a ",
        )])
        .unwrap();
        assert_eq!(
            config.headers(),
            [
                ("Authorization".to_string(), "Bearer abc==".to_string()),
                ("x-tenant".to_string(), "team-a".to_string()),
            ]
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases: [(&[(&'static str, &'static str)], &str); 10] = [
            (
                &[(PROTOCOL_VAR, "grpcs")],
                "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpcs\" is invalid: expected `grpc` or \
                 `http/protobuf`",
            ),
            (
                &[(METRICS_PROTOCOL_VAR, "http/json")],
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=\"http/json\" is invalid: JSON bodies are \
                 not supported: expected `grpc` or `http/protobuf`",
            ),
            (
                &[(ENDPOINT_VAR, "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT=\"collector:4318\" is invalid: expected an http:// \
                 or https:// URL",
            ),
            (
                &[(METRICS_ENDPOINT_VAR, "ftp://c/x")],
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=\"ftp://c/x\" is invalid: expected an \
                 http:// or https:// URL",
            ),
            (
                &[(HEADERS_VAR, "novalue")],
                "OTEL_EXPORTER_OTLP_HEADERS=\"novalue\" is invalid: expected key=value pairs \
                 separated by commas, found \"novalue\"",
            ),
            (
                &[(HEADERS_VAR, "bad name=1")],
                "OTEL_EXPORTER_OTLP_HEADERS=\"bad name=1\" is invalid: \"bad name\" is not a \
                 valid HTTP header name",
            ),
            (
                &[(TIMEOUT_VAR, "1.5")],
                "OTEL_EXPORTER_OTLP_TIMEOUT=\"1.5\" is invalid: expected a whole number of \
                 milliseconds above zero",
            ),
            (
                &[(EXPORT_INTERVAL_VAR, "0")],
                "OTEL_METRIC_EXPORT_INTERVAL=\"0\" is invalid: expected a whole number of \
                 milliseconds above zero",
            ),
            (
                &[(TEMPORALITY_VAR, "sometimes")],
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=\"sometimes\" is invalid: \
                 expected `cumulative`, `delta` or `lowmemory`",
            ),
            (
                &[(RESOURCE_ATTRIBUTES_VAR, "a=%zz")],
                "OTEL_RESOURCE_ATTRIBUTES=\"a=%zz\" is invalid: \"%zz\" is not percent-encoded \
                 UTF-8",
            ),
        ];
        for (vars, expected) in cases {
            assert_eq!(error_of(vars), expected, "{vars:?}");
        }
    }

    #[test]
    fn headers_that_frame_or_describe_the_request_are_refused_in_any_case() {
        let refused = [
            "Content-Length",
            "transfer-encoding",
            "CONTENT-TYPE",
            "Content-Encoding",
            "Host",
            "connection",
            "Keep-Alive",
            "Proxy-Connection",
            "TE",
            "Trailer",
            "Upgrade",
            "Expect",
        ];
        for name in refused {
            let reason = format!(
                "the header {name:?} cannot be set: the exporter writes the headers that frame \
                 and describe the request"
            );
            let value = format!("x-tenant=a,{name}=5");
            let vars = [
                (EXPORTER_VAR, "otlp".to_string()),
                (HEADERS_VAR, value.clone()),
            ];
            let error = OtlpConfig::from_lookup(|var| {
                vars.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone())
            })
            .unwrap_err();
            assert_eq!(
                error,
                SettingSource::env(HEADERS_VAR, &value).invalid(reason.clone()),
                "{name}"
            );
            let error = OtlpConfig::new()
                .with_header(name, "5")
                .resolve()
                .unwrap_err();
            assert_eq!(
                error,
                SettingSource::code("OtlpConfig::with_header", &(name, "5")).invalid(reason),
                "{name}"
            );
        }
        // Other headers, the user agent and authorization among them, are sent as given.
        let config = on(&[(
            METRICS_HEADERS_VAR,
            "Authorization=Bearer%20x,User-Agent=worker/1,x-content-length=5",
        )])
        .unwrap();
        assert_eq!(config.headers().len(), 3);
        assert!(config.resolve().is_ok());
    }

    #[test]
    fn values_given_in_code_are_checked_when_resolved() {
        let cases = [
            (
                OtlpConfig::new().with_endpoint("localhost:4318"),
                "OtlpConfig::with_endpoint(\"localhost:4318\") is invalid: expected an http:// \
                 or https:// URL",
            ),
            (
                OtlpConfig::new().with_header("x", "a\nb"),
                "OtlpConfig::with_header((\"x\", \"a\\nb\")) is invalid: the value of header \
                 \"x\" holds characters HTTP cannot carry",
            ),
            (
                OtlpConfig::new().with_interval(Duration::ZERO),
                "OtlpConfig::with_interval(0ns) is invalid: expected a duration above zero",
            ),
            (
                OtlpConfig::new().with_max_queued_requests(0),
                "OtlpConfig::with_max_queued_requests(0) is invalid: expected a whole number \
                 above zero",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(config.resolve().unwrap_err().to_string(), expected);
        }
        assert!(OtlpConfig::new().resolve().is_ok());
    }
}
