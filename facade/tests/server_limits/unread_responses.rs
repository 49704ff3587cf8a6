//! Clients that ask for a big page and never read it share one rendered body (memory does not
//! grow per client) and are closed once their writes have stalled for the write timeout.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{self, Bounds, assert_legit_clients_served, builder, serve, usage};

const SERIES: usize = 20_000;
const CLIENTS: usize = 40;
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// A client with a small receive buffer, so the server's writes stall soon.
fn stalled_client(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream = TcpStream::from(socket);
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

#[test]
fn unread_pages_share_one_body_and_stalled_writes_time_out() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder().write_timeout(WRITE_TIMEOUT).max_series(0));
    let big = runtime
        .metrics()
        .create_gaugevec("big", "A page of several megabytes", &["key"], &[])
        .unwrap();
    let padding = "x".repeat(400);
    for i in 0..SERIES {
        big.with_label_values(&[format!("{padding}{i}")]).set(1.0);
    }
    let page = common::scrape(addr).len();
    assert!(page > 8 << 20, "the page has {page} bytes");
    let baseline = usage();

    let started = Instant::now();
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| stalled_client(addr)).collect();
    // One rendered body, shared: far less than a page per client.
    let bounds = Bounds {
        fds: 2 * CLIENTS + 16,
        threads: 8,
        rss_bytes: 4 * page as u64 + (32 << 20),
    };
    for _ in 0..3 {
        assert_legit_clients_served(addr);
        baseline.assert_within(usage(), bounds, "clients not reading");
    }
    // Once the writes have stalled for the write timeout, the server closes its sockets.
    let server_closed = Bounds {
        fds: CLIENTS + 16,
        ..bounds
    };
    let deadline = started + WRITE_TIMEOUT + Duration::from_secs(5);
    while usage().fds > baseline.fds + server_closed.fds {
        assert!(
            Instant::now() < deadline,
            "the server still holds the stalled connections after {:?}",
            started.elapsed()
        );
        assert_legit_clients_served(addr);
    }
    assert!(started.elapsed() >= WRITE_TIMEOUT - Duration::from_millis(100));
    baseline.assert_within(usage(), server_closed, "stalled connections closed");
    drop(clients);
}
