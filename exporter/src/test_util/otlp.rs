//! Test OTLP receivers on a free loopback port, over HTTP ([`Receiver`]) and, with the
//! `otlp-grpc` feature, over gRPC ([`GrpcReceiver`], a tonic server), in the clear or over
//! TLS with a certificate the test gives ([`ServerTls`]), decoding requests with
//! `opentelemetry-proto`'s own types, and a common form of metrics to compare an export
//! with the scrape page (feature `otlp`). The protobuf types tests look into are re-exported
//! here, so test crates need no dependency of their own on them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::exposition::parse;
use crate::kinds::table::MetricKind;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use prost::Message;

/// The protobuf types a test reads an export's metrics with.
pub use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, metric::Data};

/// A TLS receiver's certificate chain and private key (PEM), and the CA (PEM) whose client
/// certificates it requires, if it requires one.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate, then the chain to its CA.
    pub certificate_pem: String,
    /// The server certificate's private key.
    pub key_pem: String,
    /// When given, connections without a client certificate issued by this CA are refused.
    pub client_ca_pem: Option<String>,
}

impl ServerTls {
    /// A `rustls` server configuration serving the certificate, with `alpn` offered.
    fn rustls_config(&self, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("the default TLS versions");
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.certificate_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("a PEM key");
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots
                        .add(certificate.expect("a PEM certificate"))
                        .expect("a CA certificate");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("a client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .expect("the certificate and its key");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 with an empty `ExportMetricsServiceResponse`.
    Ok,
    /// This status, with `Retry-After: secs` when given.
    Status(u16, Option<u64>),
    /// Waits this long, then answers 200 (a slow collector).
    Slow(Duration),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// The request path.
    pub path: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed when the exporter compresses).
    pub body: Vec<u8>,
    /// The decoded request.
    pub request: ExportMetricsServiceRequest,
}

impl Received {
    /// The header's value, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The collection time of the request (all its points share it).
    pub fn time(&self) -> u64 {
        self.points().map(|(_, _, time)| time).max().unwrap_or(0)
    }

    /// `(metric name, start, time)` of every number, histogram and summary point.
    pub fn points(&self) -> impl Iterator<Item = (String, u64, u64)> + '_ {
        metrics_of(&self.request).flat_map(|m| {
            let name = m.name.clone();
            let times: Vec<(u64, u64)> = match &m.data {
                Some(Data::Sum(s)) => s
                    .data_points
                    .iter()
                    .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                    .collect(),
                Some(Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                    .collect(),
                Some(Data::Histogram(h)) => h
                    .data_points
                    .iter()
                    .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                    .collect(),
                Some(Data::ExponentialHistogram(h)) => h
                    .data_points
                    .iter()
                    .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                    .collect(),
                Some(Data::Summary(s)) => s
                    .data_points
                    .iter()
                    .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                    .collect(),
                _ => Vec::new(),
            };
            times
                .into_iter()
                .map(move |(start, time)| (name.clone(), start, time))
        })
    }

    /// The resource's attributes, as strings.
    pub fn resource(&self) -> BTreeMap<String, String> {
        self.request.resource_metrics[0]
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes).into_iter().collect())
            .unwrap_or_default()
    }
}

/// Every metric of a request.
pub fn metrics_of(
    request: &ExportMetricsServiceRequest,
) -> impl Iterator<Item = &opentelemetry_proto::tonic::metrics::v1::Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
}

/// The requests a receiver got, and a way to wait for them.
#[derive(Default)]
struct Log {
    received: Mutex<Vec<Received>>,
    arrived: Condvar,
}

impl Log {
    /// Adds a request; returns its index.
    fn push(&self, request: Received) -> usize {
        let mut received = self.received.lock().unwrap();
        received.push(request);
        self.arrived.notify_all();
        received.len() - 1
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn wait_for(&self, what: &str, wanted: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut received = self.received.lock().unwrap();
        loop {
            if let Some(found) = received.iter().find(|r| wanted(r)) {
                return found.clone();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| {
                    panic!(
                        "no request {what} within 20 s ({} received)",
                        received.len()
                    )
                });
            received = self.arrived.wait_timeout(received, left).unwrap().0;
        }
    }

    fn wait_for_count(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut received = self.received.lock().unwrap();
        while received.len() < count {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| {
                    panic!(
                        "{count} requests expected within 20 s, got {}",
                        received.len()
                    )
                });
            received = self.arrived.wait_timeout(received, left).unwrap().0;
        }
        received.clone()
    }
}

struct State {
    log: Log,
    answer: Mutex<Box<dyn FnMut(usize) -> Answer + Send>>,
    stop: AtomicBool,
}

/// A receiver answering by a script: the request's index (from 0) to the answer.
pub struct Receiver {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// A receiver that accepts every request.
    pub fn accepting() -> Self {
        Self::answering(|_| Answer::Ok)
    }

    /// A receiver answering request `i` with `answer(i)`.
    pub fn answering(answer: impl FnMut(usize) -> Answer + Send + 'static) -> Self {
        Self::start(None, Box::new(answer))
    }

    /// A receiver over TLS (HTTP/1.1 inside) that accepts every request; its endpoint names
    /// `localhost`.
    pub fn accepting_tls(tls: &ServerTls) -> Self {
        Self::start(
            Some(tls.rustls_config(&[b"http/1.1"])),
            Box::new(|_| Answer::Ok),
        )
    }

    fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
        answer: Box<dyn FnMut(usize) -> Answer + Send>,
    ) -> Self {
        let secure = tls.is_some();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            log: Log::default(),
            answer: Mutex::new(answer),
            stop: AtomicBool::new(false),
        });
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let state = Arc::clone(&shared);
                match &tls {
                    None => std::thread::spawn(move || serve(stream, &state)),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(Arc::clone(config))
                        else {
                            continue;
                        };
                        std::thread::spawn(move || {
                            serve(rustls::StreamOwned::new(connection, stream), &state);
                        })
                    }
                };
            }
        });
        Self {
            addr,
            tls: secure,
            state,
            thread: Some(thread),
        }
    }

    /// The URL to export to: `http://127.0.0.1:<port>/v1/metrics`, or over TLS
    /// `https://localhost:<port>/v1/metrics`.
    pub fn endpoint(&self) -> String {
        format!("{}/v1/metrics", self.base())
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn base(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.log.received()
    }

    /// Waits (up to 20 s) for the first request that `wanted` accepts, and returns it.
    pub fn wait_for(&self, what: &str, wanted: impl Fn(&Received) -> bool) -> Received {
        self.state.log.wait_for(what, wanted)
    }

    /// Waits (up to 20 s) until `count` requests arrived.
    pub fn wait_for_count(&self, count: usize) -> Vec<Received> {
        self.state.log.wait_for_count(count)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one connection: keep-alive requests with a `Content-Length` body.
fn serve(stream: impl Read + Write, state: &State) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let gzip = headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip");
        let decoded = if gzip { gunzip(&body) } else { body.clone() };
        let request = ExportMetricsServiceRequest::decode(decoded.as_slice())
            .expect("the body is an ExportMetricsServiceRequest");
        let index = state.log.push(Received {
            at: Instant::now(),
            path,
            headers,
            body,
            request,
        });
        let answer = (state.answer.lock().unwrap())(index);
        let response = match answer {
            Answer::Ok => ok(),
            Answer::Slow(delay) => {
                std::thread::sleep(delay);
                ok()
            }
            Answer::Status(status, retry_after) => {
                let retry = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
                format!("HTTP/1.1 {status} Answer\r\nContent-Length: 4\r\n{retry}\r\nnope")
            }
        };
        let writer = reader.get_mut();
        if writer.write_all(response.as_bytes()).is_err() || writer.flush().is_err() {
            return;
        }
    }
}

#[cfg(feature = "otlp-grpc")]
pub use grpc::{Code, EXPORT_PATH, GrpcAnswer, GrpcReceiver};

#[cfg(feature = "otlp-grpc")]
mod grpc {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
        MetricsService, MetricsServiceServer,
    };
    use opentelemetry_proto::tonic::collector::metrics::v1::{
        ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    };
    use prost::Message;
    use tokio::sync::oneshot;
    use tonic::codec::CompressionEncoding;
    use tonic::transport::server::TcpIncoming;
    use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

    /// A gRPC status code, for [`GrpcAnswer::Status`].
    pub use tonic::Code;

    use super::{Log, Received, ServerTls};

    /// The path of the call a [`GrpcReceiver`] serves.
    pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    /// How a [`GrpcReceiver`] answers one call.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum GrpcAnswer {
        /// An empty `ExportMetricsServiceResponse`.
        Ok,
        /// A partial success refusing this many points, with a message.
        Partial(i64, String),
        /// This status, with a `google.rpc.RetryInfo` of the delay when given.
        Status(Code, Option<Duration>),
        /// Waits this long, then answers as [`GrpcAnswer::Ok`].
        Slow(Duration),
        /// Never answers.
        Never,
    }

    type Script = Arc<Mutex<Box<dyn FnMut(usize) -> GrpcAnswer + Send>>>;

    struct Service {
        log: Arc<Log>,
        answer: Script,
    }

    #[tonic::async_trait]
    impl MetricsService for Service {
        async fn export(
            &self,
            request: tonic::Request<ExportMetricsServiceRequest>,
        ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
            let headers = request
                .metadata()
                .clone()
                .into_headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let request = request.into_inner();
            let index = self.log.push(Received {
                at: Instant::now(),
                path: EXPORT_PATH.into(),
                headers,
                body: request.encode_to_vec(),
                request,
            });
            let answer = (self.answer.lock().unwrap())(index);
            let ok = |partial: Option<ExportMetricsPartialSuccess>| {
                Ok(tonic::Response::new(ExportMetricsServiceResponse {
                    partial_success: partial,
                }))
            };
            match answer {
                GrpcAnswer::Ok => ok(None),
                GrpcAnswer::Partial(rejected_data_points, error_message) => {
                    ok(Some(ExportMetricsPartialSuccess {
                        rejected_data_points,
                        error_message,
                    }))
                }
                GrpcAnswer::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    ok(None)
                }
                GrpcAnswer::Never => std::future::pending().await,
                GrpcAnswer::Status(code, None) => Err(tonic::Status::new(code, "test answer")),
                GrpcAnswer::Status(code, Some(delay)) => Err(tonic::Status::with_details(
                    code,
                    "test answer",
                    crate::otlp::grpc::retry_details(code, delay).into(),
                )),
            }
        }
    }

    /// A tonic gRPC `MetricsService` on a free loopback port (gzip accepted), answering by
    /// a script: the call's index (from 0) to the answer. The headers of a [`Received`] are
    /// the call's metadata; its body is the request encoded again, uncompressed.
    pub struct GrpcReceiver {
        addr: SocketAddr,
        tls: bool,
        log: Arc<Log>,
        stop: Option<oneshot::Sender<()>>,
        thread: Option<JoinHandle<()>>,
    }

    impl GrpcReceiver {
        /// A receiver that accepts every call.
        pub fn accepting() -> Self {
            Self::answering(|_| GrpcAnswer::Ok)
        }

        /// A receiver answering call `i` with `answer(i)`.
        pub fn answering(answer: impl FnMut(usize) -> GrpcAnswer + Send + 'static) -> Self {
            Self::start(None, Box::new(answer))
        }

        /// A receiver over TLS that accepts every call; its endpoint names `localhost`.
        pub fn accepting_tls(tls: &ServerTls) -> Self {
            Self::start(Some(tls.clone()), Box::new(|_| GrpcAnswer::Ok))
        }

        fn start(
            tls: Option<ServerTls>,
            answer: Box<dyn FnMut(usize) -> GrpcAnswer + Send>,
        ) -> Self {
            let secure = tls.is_some();
            let listener =
                std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let log = Arc::new(Log::default());
            let service = Service {
                log: Arc::clone(&log),
                answer: Arc::new(Mutex::new(answer)),
            };
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the receiver");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let mut builder = Server::builder();
                    if let Some(tls) = tls {
                        let mut config = ServerTlsConfig::new()
                            .identity(Identity::from_pem(tls.certificate_pem, tls.key_pem));
                        if let Some(ca) = tls.client_ca_pem {
                            config = config.client_ca_root(Certificate::from_pem(ca));
                        }
                        builder = builder.tls_config(config).expect("the server's TLS");
                    }
                    let server = builder
                        .add_service(
                            MetricsServiceServer::new(service)
                                .accept_compressed(CompressionEncoding::Gzip),
                        )
                        .serve_with_incoming(TcpIncoming::from(listener));
                    tokio::select! {
                        result = server => result.expect("the receiver serves"),
                        _ = stopped => {}
                    }
                });
                // Calls that never answer end with the runtime.
                runtime.shutdown_background();
            });
            Self {
                addr,
                tls: secure,
                log,
                stop: Some(stop),
                thread: Some(thread),
            }
        }

        /// The URL to export to: `http://127.0.0.1:<port>`, or over TLS
        /// `https://localhost:<port>`.
        pub fn endpoint(&self) -> String {
            if self.tls {
                format!("https://localhost:{}", self.addr.port())
            } else {
                format!("http://{}", self.addr)
            }
        }

        /// Every call so far.
        pub fn received(&self) -> Vec<Received> {
            self.log.received()
        }

        /// Waits (up to 20 s) for the first call that `wanted` accepts, and returns it.
        pub fn wait_for(&self, what: &str, wanted: impl Fn(&Received) -> bool) -> Received {
            self.log.wait_for(what, wanted)
        }

        /// Waits (up to 20 s) until `count` calls arrived.
        pub fn wait_for_count(&self, count: usize) -> Vec<Received> {
            self.log.wait_for_count(count)
        }
    }

    impl Drop for GrpcReceiver {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn ok() -> String {
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n".into()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

/// Now, in Unix nanoseconds.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Attributes as string pairs, in order.
pub fn attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => panic!("attribute {} is not a string: {other:?}", kv.key),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// A metric's kind, in the common form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic sum, or a counter on the page.
    Counter,
    /// A gauge, or a gauge or untyped family on the page.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// A summary.
    Summary,
}

/// A series' value in the common form.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// A counter's or gauge's value.
    Number(f64),
    /// Bounds, counts per bucket (the last one above every bound), sum and count.
    Histogram {
        /// Upper bounds, without `+Inf`.
        bounds: Vec<f64>,
        /// Counts per bucket.
        counts: Vec<u64>,
        /// The sum of observations.
        sum: f64,
        /// How many observations.
        count: u64,
    },
    /// Quantiles, sum and count.
    Summary {
        /// `(quantile, value)` pairs.
        quantiles: Vec<(f64, f64)>,
        /// The sum of observations.
        sum: f64,
        /// How many observations.
        count: u64,
    },
}

/// Metrics by name: kind, help, and points by their sorted label pairs.
pub type Common = BTreeMap<String, (Kind, String, BTreeMap<Vec<(String, String)>, Point>)>;

/// An export in the common form; counters and histograms must be cumulative.
pub fn from_request(request: &ExportMetricsServiceRequest) -> Common {
    let mut out = Common::new();
    for metric in metrics_of(request) {
        let sorted = |kv: &[KeyValue]| {
            let mut pairs = attributes(kv);
            pairs.sort();
            pairs
        };
        let number = |v: &Option<number_data_point::Value>| match v {
            Some(number_data_point::Value::AsInt(i)) => *i as f64,
            Some(number_data_point::Value::AsDouble(d)) => *d,
            None => panic!("{} has a point without a value", metric.name),
        };
        let (kind, points): (Kind, BTreeMap<_, _>) = match &metric.data {
            Some(Data::Sum(sum)) => {
                assert!(sum.is_monotonic, "{} is monotonic", metric.name);
                assert_eq!(
                    sum.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32
                );
                (
                    Kind::Counter,
                    sum.data_points
                        .iter()
                        .map(|p| (sorted(&p.attributes), Point::Number(number(&p.value))))
                        .collect(),
                )
            }
            Some(Data::Gauge(gauge)) => (
                Kind::Gauge,
                gauge
                    .data_points
                    .iter()
                    .map(|p| (sorted(&p.attributes), Point::Number(number(&p.value))))
                    .collect(),
            ),
            Some(Data::Histogram(h)) => {
                assert_eq!(
                    h.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32
                );
                (
                    Kind::Histogram,
                    h.data_points
                        .iter()
                        .map(|p| {
                            (
                                sorted(&p.attributes),
                                Point::Histogram {
                                    bounds: p.explicit_bounds.clone(),
                                    counts: p.bucket_counts.clone(),
                                    sum: p.sum.unwrap_or(f64::NAN),
                                    count: p.count,
                                },
                            )
                        })
                        .collect(),
                )
            }
            Some(Data::Summary(s)) => (
                Kind::Summary,
                s.data_points
                    .iter()
                    .map(|p| {
                        (
                            sorted(&p.attributes),
                            Point::Summary {
                                quantiles: p
                                    .quantile_values
                                    .iter()
                                    .map(|q| (q.quantile, q.value))
                                    .collect(),
                                sum: p.sum,
                                count: p.count,
                            },
                        )
                    })
                    .collect(),
            ),
            other => panic!("{} has unexpected data {other:?}", metric.name),
        };
        out.insert(
            metric.name.clone(),
            (kind, metric.description.clone(), points),
        );
    }
    out
}

/// A scrape page in the common form, read with `dynamo_exporter::parse`.
pub fn from_page(page: &str) -> Common {
    let mut out = Common::new();
    for family in parse::parse(page).expect("the page parses") {
        let kind = match family.kind {
            MetricKind::Counter => Kind::Counter,
            MetricKind::Histogram => Kind::Histogram,
            MetricKind::Summary => Kind::Summary,
            _ => Kind::Gauge,
        };
        let mut points: BTreeMap<Vec<(String, String)>, Point> = BTreeMap::new();
        for sample in &family.samples {
            let special = match kind {
                Kind::Histogram => "le",
                Kind::Summary => "quantile",
                _ => "",
            };
            let mut labels: Vec<(String, String)> = sample
                .labels
                .iter()
                .filter(|(k, _)| k != special)
                .cloned()
                .collect();
            labels.sort();
            let marker = sample
                .labels
                .iter()
                .find(|(k, _)| k == special)
                .map(|(_, v)| v.clone());
            match kind {
                Kind::Counter | Kind::Gauge => {
                    points.insert(labels, Point::Number(sample.value));
                }
                Kind::Histogram => {
                    let point = points.entry(labels).or_insert(Point::Histogram {
                        bounds: Vec::new(),
                        counts: Vec::new(),
                        sum: 0.0,
                        count: 0,
                    });
                    let Point::Histogram {
                        bounds,
                        counts,
                        sum,
                        count,
                    } = point
                    else {
                        unreachable!()
                    };
                    if sample.name.ends_with("_bucket") {
                        let le = marker.expect("a bucket has le");
                        // Cumulative on the page: kept as read, made per bucket below.
                        if le != "+Inf" {
                            bounds.push(le.parse().unwrap());
                        }
                        counts.push(sample.value as u64);
                    } else if sample.name.ends_with("_sum") {
                        *sum = sample.value;
                    } else {
                        *count = sample.value as u64;
                    }
                }
                Kind::Summary => {
                    let point = points.entry(labels).or_insert(Point::Summary {
                        quantiles: Vec::new(),
                        sum: 0.0,
                        count: 0,
                    });
                    let Point::Summary {
                        quantiles,
                        sum,
                        count,
                    } = point
                    else {
                        unreachable!()
                    };
                    if let Some(q) = marker {
                        quantiles.push((q.parse().unwrap(), sample.value));
                    } else if sample.name.ends_with("_sum") {
                        *sum = sample.value;
                    } else {
                        *count = sample.value as u64;
                    }
                }
            }
        }
        for point in points.values_mut() {
            if let Point::Histogram { counts, .. } = point {
                let cumulative = std::mem::take(counts);
                let mut below = 0;
                for c in cumulative {
                    counts.push(c - below);
                    below = c;
                }
            }
        }
        out.insert(
            family.name.clone(),
            (kind, family.help.clone().unwrap_or_default(), points),
        );
    }
    out
}

/// The value of a counter or gauge series in an export, with its temporality (`None` for
/// a gauge).
pub fn number_in(
    request: &ExportMetricsServiceRequest,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<(f64, Option<i32>, u64)> {
    let wanted: Vec<(String, String)> = {
        let mut pairs: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.sort();
        pairs
    };
    let metric = metrics_of(request).find(|m| m.name == name)?;
    let (points, temporality) = match &metric.data {
        Some(Data::Sum(s)) => (&s.data_points, Some(s.aggregation_temporality)),
        Some(Data::Gauge(g)) => (&g.data_points, None),
        _ => return None,
    };
    points.iter().find_map(|p| {
        let mut pairs = attributes(&p.attributes);
        pairs.sort();
        (pairs == wanted).then(|| {
            let v = match p.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => f64::NAN,
            };
            (v, temporality, p.start_time_unix_nano)
        })
    })
}
