//! OTLP/gRPC: the `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` call over
//! HTTP/2 (tonic's channel, rustls for `https`), sending the queued request's bytes as they
//! are ([`codec`]), and what a gRPC status means for the request.
//!
//! Retryable codes are those of the OTLP specification: `CANCELLED`, `DEADLINE_EXCEEDED`,
//! `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` when the
//! server says when to come back (a `google.rpc.RetryInfo` in `grpc-status-details-bin`).
//! A `RetryInfo` delay replaces the backoff.

mod codec;

use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, Uri};
use prost::Message;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

use super::client::{Outcome, error_chain};
use super::config::{Compression, Resolved};

/// The largest answer decoded (an `ExportMetricsServiceResponse` is a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The `type_url` of a `google.rpc.RetryInfo` in a status' details.
pub(crate) const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The path of the `Export` call.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The gRPC client of one exporter.
pub(crate) struct GrpcClient {
    client: Result<Grpc<Channel>, String>,
    endpoint: Uri,
    headers: HeaderMap,
    timeout: Duration,
}

impl GrpcClient {
    /// A client for `config`'s endpoint; it connects at the first call, and again after a
    /// connection fails. Must be called within a tokio runtime.
    pub(crate) fn new(config: &Resolved) -> Self {
        let mut headers = HeaderMap::with_capacity(config.headers.len());
        for (name, value) in &config.headers {
            headers.append(name.clone(), value.clone());
        }
        Self {
            client: channel(config).map(|channel| {
                let client = Grpc::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES);
                match config.compression {
                    Compression::Gzip => client.send_compressed(CompressionEncoding::Gzip),
                    Compression::None => client,
                }
            }),
            endpoint: config.endpoint.clone(),
            headers,
            timeout: config.timeout,
        }
    }

    /// Sends `body`, an encoded (uncompressed) `ExportMetricsServiceRequest`, bounded by the
    /// request timeout.
    pub(crate) async fn send(&self, body: Bytes) -> Outcome {
        let client = match &self.client {
            Ok(client) => client.clone(),
            Err(why) => return Outcome::Rejected { why: why.clone() },
        };
        // The metadata tonic writes itself (`te`, `content-type`, `grpc-*`) is removed from
        // what is given.
        let mut request = tonic::Request::from_parts(
            MetadataMap::from_headers(self.headers.clone()),
            tonic::Extensions::default(),
            body,
        );
        request.set_timeout(self.timeout);
        let mut client = client;
        let call = async move {
            client.ready().await.map_err(|error| {
                Status::unavailable(format!("the channel is not ready: {}", error_chain(&error)))
            })?;
            let path = PathAndQuery::from_static(EXPORT_PATH);
            client.unary(request, path, codec::ExportCodec).await
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => {
                let partial = response.into_inner().partial_success.unwrap_or_default();
                Outcome::Accepted {
                    rejected_points: partial.rejected_data_points,
                    message: partial.error_message,
                }
            }
            Ok(Err(status)) => classify(&status, &self.endpoint),
            Err(_) => Outcome::Retry {
                after: None,
                why: format!("no answer within {:?}", self.timeout),
            },
        }
    }
}

/// A lazily connecting channel to the endpoint, over TLS for `https`.
fn channel(config: &Resolved) -> Result<Channel, String> {
    let endpoint = Endpoint::from(config.endpoint.clone())
        .connect_timeout(config.timeout)
        .user_agent(concat!("dynamo-metrics/", env!("CARGO_PKG_VERSION")))
        .map_err(|error| format!("cannot set the user agent: {error}"))?;
    let endpoint = if config.endpoint.scheme_str() == Some("https") {
        // The system's roots, and beside them the certificates given to trust.
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some(trusted) = &config.tls.trusted {
            tls = tls.ca_certificate(Certificate::from_pem(trusted.pem()));
        }
        if let Some((certificate, key)) = &config.tls.client {
            tls = tls.identity(Identity::from_pem(certificate.pem(), key.pem()));
        }
        endpoint
            .tls_config(tls)
            .map_err(|error| format!("cannot set up TLS: {}", error_chain(&error)))?
    } else {
        endpoint
    };
    Ok(endpoint.connect_lazy())
}

/// What a gRPC status means for the request.
pub(crate) fn classify(status: &Status, endpoint: &Uri) -> Outcome {
    let delay = retry_delay(status.details());
    let why = if status.code() == Code::Unavailable && status.message().contains("connect") {
        format!("cannot reach {endpoint}: {}", error_chain(status))
    } else {
        format!("answered {:?}: {}", status.code(), status.message())
    };
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Outcome::Retry { after: delay, why },
        Code::ResourceExhausted if delay.is_some() => Outcome::Retry { after: delay, why },
        _ => Outcome::Rejected { why },
    }
}

/// `google.rpc.Status`, the message of `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub(crate) retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

/// The delay of a `RetryInfo` in a status' details, if there is one (a negative one is none).
pub(crate) fn retry_delay(details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|any| any.type_url == RETRY_INFO_TYPE)?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)))
}

/// Status details holding a `RetryInfo` of `delay`, as a server sends them.
#[cfg(any(test, feature = "test-util"))]
pub(crate) fn retry_details(code: Code, delay: Duration) -> Vec<u8> {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    RpcStatus {
        code: code as i32,
        message: String::new(),
        details: vec![ProtoAny {
            type_url: RETRY_INFO_TYPE.into(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Uri {
        Uri::from_static("http://c:4317")
    }

    #[test]
    fn classifies_statuses_as_the_specification_says() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert!(
                matches!(
                    classify(&Status::new(code, "x"), &endpoint()),
                    Outcome::Retry { after: None, .. }
                ),
                "{code:?} is retryable"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            assert!(
                matches!(
                    classify(&Status::new(code, "x"), &endpoint()),
                    Outcome::Rejected { .. }
                ),
                "{code:?} is permanent"
            );
        }
        let delay = Duration::from_millis(1500);
        for code in [Code::Unavailable, Code::ResourceExhausted] {
            let status =
                Status::with_details(code, "busy", Bytes::from(retry_details(code, delay)));
            assert_eq!(
                classify(&status, &endpoint()),
                Outcome::Retry {
                    after: Some(delay),
                    why: format!("answered {code:?}: busy"),
                }
            );
        }
    }

    #[test]
    fn reads_the_retry_delay_of_the_details() {
        let delay = Duration::new(2, 5);
        assert_eq!(
            retry_delay(&retry_details(Code::Unavailable, delay)),
            Some(delay)
        );
        assert_eq!(retry_delay(b""), None);
        assert_eq!(retry_delay(b"\xff\xff"), None);
        let other = RpcStatus {
            code: 14,
            message: String::new(),
            details: vec![ProtoAny {
                type_url: "type.googleapis.com/google.rpc.DebugInfo".into(),
                value: Vec::new(),
            }],
        };
        assert_eq!(retry_delay(&other.encode_to_vec()), None);
    }
}
