//! The `Export` call's codec: the request goes out as the bytes the queue holds (already an
//! encoded `ExportMetricsServiceRequest`), the answer is decoded with prost. The generated
//! client's codec would need the request as a message: decoded from the queue, then encoded
//! again, which cost as much as the rest of an export.

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends encoded requests as they are; decodes `ExportMetricsServiceResponse`s.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = Bytes;
    type Decode = ExportMetricsServiceResponse;
    type Encoder = EncodedRequest;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        EncodedRequest
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
    }
}

/// Writes an already encoded request.
#[derive(Debug)]
pub(crate) struct EncodedRequest;

impl Encoder for EncodedRequest {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

/// Reads the collector's answer.
#[derive(Debug)]
pub(crate) struct ResponseDecoder;

impl Decoder for ResponseDecoder {
    type Item = ExportMetricsServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let response = ExportMetricsServiceResponse::decode(src.copy_to_bytes(src.remaining()))
            .map_err(|error| Status::internal(format!("cannot decode the answer: {error}")))?;
        Ok(Some(response))
    }
}
