//! Sending one encoded request: over OTLP/HTTP, hyper's pooled HTTP/1.1 client over TCP or
//! rustls; over OTLP/gRPC, the client of `super::grpc`. A timeout, and what the answer means
//! for the request (done, try again, give up).

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::config::{Compression, Protocol, Resolved};

/// The largest response body read (a collector's answer is a few bytes, or a short error).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted (2xx); `rejected_points` is the collector's count of refused data points in a
    /// partial success, with its message.
    Accepted {
        rejected_points: i64,
        message: String,
    },
    /// Worth trying again: 429, 502, 503, 504, a timeout or a connection error; `after` is
    /// the server's `Retry-After`, when it gave one.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Refused for good (400 and any other answer): sending it again would not help.
    Rejected { why: String },
}

/// The client of one exporter, for its protocol.
pub(crate) enum Client {
    /// OTLP/HTTP.
    Http(HttpClient),
    /// OTLP/gRPC.
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcClient),
}

impl Client {
    /// A client for `config`'s protocol and endpoint.
    pub(crate) fn new(config: &Resolved) -> Self {
        match config.protocol {
            Protocol::HttpProtobuf => Self::Http(HttpClient::new(config)),
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => Self::Grpc(super::grpc::GrpcClient::new(config)),
            // `OtlpConfig::resolve` refuses gRPC in a build without it.
            #[cfg(not(feature = "otlp-grpc"))]
            Protocol::Grpc => Self::Http(HttpClient::new(config)),
        }
    }

    /// Sends `body`, an encoded `ExportMetricsServiceRequest` (gzipped for OTLP/HTTP when
    /// compression is on), bounded by the request timeout.
    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        match self {
            Self::Http(client) => client.send(body).await,
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(client) => client.send(body).await,
        }
    }
}

/// The OTLP/HTTP client of one exporter.
pub(crate) struct HttpClient {
    inner: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    gzip: bool,
}

impl HttpClient {
    /// A client for `config`'s endpoint. HTTPS checks servers against the system's roots and
    /// the certificates given to trust, and presents the client certificate when one is
    /// given; without any root, HTTPS requests fail and are counted, plain HTTP still works.
    pub(crate) fn new(config: &Resolved) -> Self {
        let tls = super::tls::client_config(&config.tls);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build(connector);
        Self {
            inner,
            endpoint: config.endpoint.clone(),
            headers: config.headers.clone(),
            timeout: config.timeout,
            gzip: config.compression == Compression::Gzip,
        }
    }

    /// Posts `body` (already compressed when gzip is on), bounded by the request timeout.
    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        match tokio::time::timeout(self.timeout, self.attempt(body)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry {
                after: None,
                why: format!("no answer within {:?}", self.timeout),
            },
        }
    }

    async fn attempt(&self, body: Bytes) -> Outcome {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(
                USER_AGENT,
                concat!("dynamo-metrics/", env!("CARGO_PKG_VERSION")),
            );
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(error) => {
                return Outcome::Rejected {
                    why: format!("cannot build the request: {error}"),
                };
            }
        };
        let response = match self.inner.request(request).await {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Retry {
                    after: None,
                    why: format!("cannot reach {}: {}", self.endpoint, error_chain(&error)),
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_seconds);
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        classify(status, retry_after, &body)
    }
}

/// What an answer means for the request.
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Outcome {
    if status.is_success() {
        let partial = ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .unwrap_or_default();
        return Outcome::Accepted {
            rejected_points: partial.rejected_data_points,
            message: partial.error_message,
        };
    }
    let detail = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    let why = if detail.trim().is_empty() {
        format!("answered {status}")
    } else {
        format!("answered {status}: {}", detail.trim())
    };
    match status.as_u16() {
        429 | 502 | 503 | 504 => Outcome::Retry {
            after: retry_after,
            why,
        },
        _ => Outcome::Rejected { why },
    }
}

/// `Retry-After` as a number of seconds (its HTTP-date form falls back to the backoff).
pub(crate) fn retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An error and its sources, joined by `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_answers_as_the_specification_says() {
        for code in [429, 502, 503, 504] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(
                matches!(classify(status, None, b""), Outcome::Retry { .. }),
                "{code} is retryable"
            );
        }
        for code in [400, 401, 403, 404, 413, 500] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(
                matches!(classify(status, None, b""), Outcome::Rejected { .. }),
                "{code} is permanent"
            );
        }
        assert_eq!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(Duration::from_secs(3)),
                b"busy"
            ),
            Outcome::Retry {
                after: Some(Duration::from_secs(3)),
                why: "answered 503 Service Unavailable: busy".into()
            }
        );
        let partial = ExportMetricsServiceResponse {
            partial_success: Some(
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess {
                    rejected_data_points: 2,
                    error_message: "bad".into(),
                },
            ),
        };
        assert_eq!(
            classify(StatusCode::OK, None, &partial.encode_to_vec()),
            Outcome::Accepted {
                rejected_points: 2,
                message: "bad".into()
            }
        );
    }

    #[test]
    fn reads_retry_after_seconds() {
        assert_eq!(retry_after_seconds(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_seconds("-1"), None);
    }
}
