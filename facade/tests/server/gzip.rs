//! `/metrics` is gzipped when the request's `Accept-Encoding` accepts gzip.

use std::io::Read;
use std::net::SocketAddr;

use crate::common::{builder, gunzip, request, scrape, serve};
use dynamo_runtime::DistributedRuntime;

fn serve_with_metrics() -> (DistributedRuntime, SocketAddr) {
    let (runtime, addr) = serve(builder());
    let requests = runtime
        .namespace("ns")
        .metrics()
        .create_intcountervec("requests_total", "Requests", &["route"], &[])
        .unwrap();
    for route in 0..50 {
        requests
            .with_label_values(&[&format!("/route/{route}")])
            .inc();
    }
    (runtime, addr)
}

#[test]
fn gzip_is_sent_when_accepted() {
    let (_runtime, addr) = serve_with_metrics();
    let plain = scrape(addr);
    for accept in ["gzip", "gzip, deflate, br", "deflate;q=1, gzip;q=0.5", "*"] {
        let response = request(addr, "GET", "/metrics", &[("Accept-Encoding", accept)]).unwrap();
        assert_eq!(response.status, 200, "Accept-Encoding: {accept}");
        assert_eq!(
            response.header("content-encoding"),
            Some("gzip"),
            "{accept}"
        );
        assert_eq!(response.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(
            response.header("content-type"),
            Some(dynamo_exporter::TEXT_CONTENT_TYPE)
        );
        assert!(
            response.body.len() < plain.len(),
            "{accept}: not compressed"
        );
        assert_eq!(gunzip(&response.body), plain, "{accept}");
    }
}

#[test]
fn protobuf_is_gzipped_as_text_is() {
    let (_runtime, addr) = serve_with_metrics();
    let protobuf = [(
        "Accept",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
    )];
    let plain = request(addr, "GET", "/metrics", &protobuf).unwrap();
    assert_eq!(plain.header("content-encoding"), None);
    let response = request(
        addr,
        "GET",
        "/metrics",
        &[protobuf[0], ("Accept-Encoding", "gzip")],
    )
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(
        response.header("content-type"),
        Some(dynamo_exporter::PROTOBUF_CONTENT_TYPE)
    );
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&response.body[..])
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(body, plain.body);
}

#[test]
fn plain_text_is_sent_otherwise() {
    let (_runtime, addr) = serve_with_metrics();
    let plain = scrape(addr);
    for accept in [
        "identity",
        "gzip;q=0",
        "deflate, br",
        "*;q=0",
        "gzip;q=0, *",
        "",
    ] {
        let response = request(addr, "GET", "/metrics", &[("Accept-Encoding", accept)]).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-encoding"), None, "{accept:?}");
        assert_eq!(response.header("vary"), Some("Accept, Accept-Encoding"));
        assert_eq!(response.text(), plain, "{accept:?}");
    }
}

#[test]
fn head_reports_the_gzip_encoding() {
    let (_runtime, addr) = serve_with_metrics();
    let response = request(addr, "HEAD", "/metrics", &[("Accept-Encoding", "gzip")]).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert!(response.body.is_empty());
}
