//! A large page read slowly keeps its connection while new connections press on the cap: a
//! response still being written is not idle, so it is never the one closed to make room.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{self, builder, get, serve, silent_connections};

const CAP: usize = 8;
const SERIES: usize = 10_000;
/// Bytes of label value per series: the page is about 21 MB.
const PADDING: usize = 2_100;
/// How fast the slow client reads, in bytes per second.
const READ_RATE: f64 = 5.0 * 1024.0 * 1024.0;
const SILENT: usize = 300;

/// Asks for the page on a connection with a small receive buffer (so the server's writes
/// wait for the reader) and reads it at [`READ_RATE`]; says on `started` when the first bytes
/// have come. Returns every byte received until the server closed.
fn slow_read(addr: SocketAddr, started: mpsc::Sender<()>) -> Vec<u8> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let begun = Instant::now();
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = stream
            .read(&mut chunk)
            .expect("the page is read to its end");
        if read == 0 {
            return raw;
        }
        if raw.is_empty() {
            let _ = started.send(());
        }
        raw.extend_from_slice(&chunk[..read]);
        let due = Duration::from_secs_f64(raw.len() as f64 / READ_RATE);
        if let Some(ahead) = due.checked_sub(begun.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

#[test]
fn a_page_still_being_sent_is_not_evicted_for_new_connections() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder().max_connections(CAP).max_series(0));
    let big = runtime
        .metrics()
        .create_gaugevec("big", "A page of about twenty megabytes", &["key"], &[])
        .unwrap();
    let padding = "x".repeat(PADDING);
    for i in 0..SERIES {
        big.with_label_values(&[format!("{padding}{i}")]).set(1.0);
    }
    let expected = common::scrape(addr);
    assert!(
        expected.len() > 20 << 20,
        "the page has {} bytes",
        expected.len()
    );

    let (started_tx, started) = mpsc::channel();
    let reader = std::thread::spawn(move || slow_read(addr, started_tx));
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    // The page is handed over and being written: far more connections than the cap arrive,
    // and the server keeps answering by closing silent ones.
    let crowd = silent_connections(addr, SILENT);
    assert_eq!(get(addr, "/live").status, 200);

    let raw = reader.join().unwrap();
    let response = dynamo_exporter::test_util::parse_response(&raw, false)
        .unwrap_or_else(|e| panic!("the slow reader got a broken page: {e}"));
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), expected.len(), "the whole page");
    assert!(response.text() == expected, "the page intact");
    drop(crowd);
}
