//! `/metrics?name[]=...`: only the named families, whole, from every source and in every
//! format; an unknown name gives an empty page, a query past the bounds a clear refusal.

mod page;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use dynamo_exporter::exposition::encode_parsed;
use dynamo_exporter::parse::parse;
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_exporter::{
    Health, Opts, PROTOBUF_CONTENT_TYPE, Registry, StatusServer, TEXT_CONTENT_TYPE,
};
use page::{from_protobuf, from_text};

/// The `Content-Type` of an OpenMetrics page.
const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What Prometheus sends for the protobuf format.
const PROTOBUF_ACCEPT: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// Text a callback (or an engine) hands over, parsed before each scrape.
const CALLBACK_TEXT: &str = concat!(
    "# HELP engine_rpc_seconds RPC latency\n",
    "# TYPE engine_rpc_seconds summary\n",
    "engine_rpc_seconds{quantile=\"0.5\"} 0.2\n",
    "engine_rpc_seconds_sum 3\n",
    "engine_rpc_seconds_count 10\n",
    "# TYPE engine_queue gauge\n",
    "engine_queue 4\n",
);

/// One response: status, `Content-Type`, body.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// `GET path` with `Accept: accept` (when given), on a connection of its own.
fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(accept) = accept {
        head.push_str(&format!("Accept: {accept}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let body = raw[end + 4..].to_vec();
    let status = head[9..12].parse().unwrap();
    let header = |wanted: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
    };
    let length: usize = header("content-length").unwrap().parse().unwrap();
    assert_eq!(body.len(), length, "{head}");
    Answer {
        status,
        content_type: header("content-type").unwrap(),
        body,
    }
}

/// A server whose page holds a counter vec, a gauge and a histogram of a registry, then the
/// families of [`CALLBACK_TEXT`].
fn serve() -> StatusServer {
    let registry = Arc::new(Registry::new());
    let requests = registry
        .int_counter_vec(&Opts::new("requests_total", "Requests"), &["path"])
        .unwrap();
    requests.with_label_values(&["/a"]).inc_by(3);
    requests.with_label_values(&["/b"]).inc();
    registry
        .gauge(&Opts::new("temperature", "Degrees"))
        .unwrap()
        .set(21.5);
    let latency = registry
        .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[0.1, 0.5]))
        .unwrap();
    for v in [0.05, 0.3, 7.0] {
        latency.observe(v);
    }
    StatusServer::builder(
        Arc::new(move |encoder| {
            registry.encode(&[], encoder);
            encode_parsed(&parse(CALLBACK_TEXT).unwrap(), encoder);
        }),
        Arc::new(|| Health {
            ready: true,
            uptime: Duration::ZERO,
            endpoints: vec![],
        }),
    )
    .formats(dynamo_exporter::Format::ALL)
    .start("127.0.0.1:0")
    .unwrap()
}

/// Asserts the whole page `path` serves, in text and (decoded) in protobuf.
fn assert_page(addr: SocketAddr, path: &str, expected: &str) {
    let text = get(addr, path, None);
    assert_eq!(text.status, 200, "{path}: {}", text.text());
    assert_eq!(text.content_type, TEXT_CONTENT_TYPE, "{path}");
    assert_eq!(text.text(), expected, "{path}");
    let protobuf = get(addr, path, Some(PROTOBUF_ACCEPT));
    assert_eq!(protobuf.status, 200, "{path}");
    assert_eq!(protobuf.content_type, PROTOBUF_CONTENT_TYPE, "{path}");
    assert_eq!(from_protobuf(&protobuf.body), from_text(expected), "{path}");
}

#[test]
fn several_names_serve_those_families_whole() {
    let server = serve();
    assert_page(
        server.local_addr(),
        "/metrics?name[]=requests_total&name[]=temperature",
        concat!(
            "# HELP requests_total Requests\n",
            "# TYPE requests_total counter\n",
            "requests_total{path=\"/a\"} 3\n",
            "requests_total{path=\"/b\"} 1\n",
            "# HELP temperature Degrees\n",
            "# TYPE temperature gauge\n",
            "temperature 21.5\n",
        ),
    );
    server.shutdown();
}

#[test]
fn a_histogram_is_named_by_its_family_name_or_any_of_its_sample_names() {
    let server = serve();
    let histogram = concat!(
        "# HELP latency_seconds Latency\n",
        "# TYPE latency_seconds histogram\n",
        "latency_seconds_bucket{le=\"0.1\"} 1\n",
        "latency_seconds_bucket{le=\"0.5\"} 2\n",
        "latency_seconds_bucket{le=\"+Inf\"} 3\n",
        "latency_seconds_sum 7.35\n",
        "latency_seconds_count 3\n",
    );
    for query in [
        "name[]=latency_seconds",
        "name%5B%5D=latency_seconds_bucket",
        "name%5b%5d=latency_seconds_count&name[]=latency_seconds_sum",
    ] {
        assert_page(server.local_addr(), &format!("/metrics?{query}"), histogram);
    }
    server.shutdown();
}

#[test]
fn callback_families_are_filtered_as_the_registrys_are() {
    let server = serve();
    let addr = server.local_addr();
    assert_page(
        addr,
        "/metrics?name[]=engine_queue",
        "# TYPE engine_queue gauge\nengine_queue 4\n",
    );
    assert_page(
        addr,
        "/metrics?name[]=engine_rpc_seconds_sum&name[]=temperature",
        concat!(
            "# HELP temperature Degrees\n",
            "# TYPE temperature gauge\n",
            "temperature 21.5\n",
            "# HELP engine_rpc_seconds RPC latency\n",
            "# TYPE engine_rpc_seconds summary\n",
            "engine_rpc_seconds{quantile=\"0.5\"} 0.2\n",
            "engine_rpc_seconds_sum 3\n",
            "engine_rpc_seconds_count 10\n",
        ),
    );
    server.shutdown();
}

#[test]
fn the_openmetrics_page_is_filtered_as_the_others_are() {
    let server = serve();
    let accept = "application/openmetrics-text;version=1.0.0";
    let page = get(
        server.local_addr(),
        "/metrics?name[]=requests_total&name[]=engine_rpc_seconds_count",
        Some(accept),
    );
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type, OPENMETRICS_CONTENT_TYPE);
    assert_eq!(
        page.text(),
        concat!(
            "# HELP requests Requests\n",
            "# TYPE requests counter\n",
            "requests_total{path=\"/a\"} 3\n",
            "requests_total{path=\"/b\"} 1\n",
            "# HELP engine_rpc_seconds RPC latency\n",
            "# TYPE engine_rpc_seconds summary\n",
            "engine_rpc_seconds{quantile=\"0.5\"} 0.2\n",
            "engine_rpc_seconds_sum 3.0\n",
            "engine_rpc_seconds_count 10\n",
            "# EOF\n",
        )
    );
    assert_eq!(
        assert_openmetrics_parses(&page.text()),
        ["requests", "engine_rpc_seconds"]
    );
    let empty = get(server.local_addr(), "/metrics?name[]=nothing", Some(accept));
    assert_eq!(empty.text(), "# EOF\n");
    assert_openmetrics_parses(&empty.text());
    server.shutdown();
}

#[test]
fn an_unknown_or_empty_name_serves_an_empty_page() {
    let server = serve();
    for query in [
        "name[]=nothing",
        "name[]=",
        "name[]=requests",
        "name[]=%25zz",
    ] {
        assert_page(server.local_addr(), &format!("/metrics?{query}"), "");
    }
    server.shutdown();
}

#[test]
fn other_query_keys_are_ignored() {
    let server = serve();
    let addr = server.local_addr();
    let whole = get(addr, "/metrics", None).text();
    assert!(whole.contains("engine_queue 4\n"), "{whole}");
    assert_page(addr, "/metrics?name=up&names[]=up&x", &whole);
    server.shutdown();
}

#[test]
fn queries_past_the_bounds_are_refused_saying_why() {
    let server = serve();
    let addr = server.local_addr();
    let many = vec!["name[]=up"; 129].join("&");
    let long = format!("name[]={}", "a".repeat(8 * 1024));
    let cases = [
        (
            many.as_str(),
            400,
            "a request may have at most 128 name[] parameters\n",
        ),
        (long.as_str(), 414, "the query is longer than 8192 bytes\n"),
        (
            "name[]=%FF",
            400,
            "a name[] value is not UTF-8 once percent-decoded\n",
        ),
    ];
    for (query, status, message) in cases {
        let answer = get(addr, &format!("/metrics?{query}"), None);
        assert_eq!(answer.status, status, "{message}");
        assert_eq!(answer.content_type, "text/plain; charset=utf-8");
        assert_eq!(answer.text(), message);
    }
    let at_most = vec!["name[]=temperature"; 128].join("&");
    assert_page(
        addr,
        &format!("/metrics?{at_most}"),
        "# HELP temperature Degrees\n# TYPE temperature gauge\ntemperature 21.5\n",
    );
    server.shutdown();
}
