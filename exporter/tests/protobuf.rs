//! The protobuf format over HTTP: Prometheus' native-histogram `Accept` header gets delimited
//! `MetricFamily` messages that hold what the text page holds.

mod page;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use dynamo_exporter::{
    Health, Opts, PROTOBUF_CONTENT_TYPE, Registry, StatusServer, TEXT_CONTENT_TYPE,
};
use page::{from_protobuf, from_text};

/// The header of Prometheus 2.42 with native histograms on.
const PROMETHEUS_NATIVE_HISTOGRAMS: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `GET /metrics` with `headers`; the content type and body of a 200 answer.
fn get_metrics(addr: SocketAddr, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let body = raw[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    assert!(lines.next().unwrap().starts_with("HTTP/1.1 200 "), "{head}");
    let header = |wanted: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
    };
    let length: usize = header("content-length").unwrap().parse().unwrap();
    assert_eq!(body.len(), length);
    (header("content-type").unwrap(), body)
}

#[test]
fn prometheus_with_native_histograms_gets_the_text_page_as_protobuf() {
    let registry = Arc::new(Registry::new());
    registry.set_const_labels(&[("cluster", "eu")]).unwrap();
    let requests = registry
        .int_counter_vec(&Opts::new("requests_total", "Requests"), &["path"])
        .unwrap();
    requests.with_label_values(&["/a"]).inc_by(3);
    requests.with_label_values(&["quote \" new\nline ü"]).inc();
    registry
        .gauge(&Opts::new("temperature", "Degrees"))
        .unwrap()
        .set(21.5);
    let latency = registry
        .histogram_vec(
            &Opts::new("latency_seconds", "Latency"),
            &["op"],
            Some(&[0.1, 0.5, 2.5]),
        )
        .unwrap();
    for v in [0.05, 0.3, 0.3, 7.0] {
        latency.with_label_values(&["read"]).observe(v);
    }
    let scraped = Arc::clone(&registry);
    let server = StatusServer::builder(
        Arc::new(move |encoder| {
            scraped.encode(&[], encoder);
        }),
        Arc::new(|| Health {
            ready: true,
            uptime: Duration::ZERO,
            endpoints: vec![],
        }),
    )
    .start("127.0.0.1:0")
    .unwrap();
    // `start` returns once the listener is bound: a connection queues until it is served.
    let addr = server.local_addr();

    let (content_type, body) = get_metrics(addr, &[("Accept", PROMETHEUS_NATIVE_HISTOGRAMS)]);
    assert_eq!(content_type, PROTOBUF_CONTENT_TYPE);
    assert_eq!(
        content_type,
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    let protobuf = from_protobuf(&body);

    let (content_type, text) = get_metrics(addr, &[]);
    assert_eq!(content_type, TEXT_CONTENT_TYPE);
    let text = from_text(&String::from_utf8(text).unwrap());

    assert_eq!(protobuf, text);
    assert_eq!(
        protobuf.families.keys().collect::<Vec<_>>(),
        ["latency_seconds", "requests_total", "temperature"]
    );
    // Histogram samples: 3 finite buckets and +Inf, sum, count; 2 counters; 1 gauge.
    assert_eq!(protobuf.samples.len(), 6 + 2 + 1);

    for accept in ["*/*", "text/plain;version=0.0.4"] {
        let (content_type, _) = get_metrics(addr, &[("Accept", accept)]);
        assert_eq!(content_type, TEXT_CONTENT_TYPE, "{accept}");
    }
    server.shutdown();
}
