//! Past the connection cap, a new connection takes the place of the oldest one not serving a
//! request: idle and silent connections cannot lock legitimate clients out, descriptors stay
//! bounded, and a scrape in flight is never the one closed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{
    self, Bounds, HeldScrape, IO_TIMEOUT, assert_legit_clients_served, builder, get, serve,
    silent_connections, usage,
};

const CAP: usize = 16;
const ATTACKERS: usize = 300;

/// Opens a keep-alive connection and makes one request on it, leaving it idle.
fn idle_keep_alive(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(stream, "GET /live HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    stream
}

#[test]
fn connections_past_the_cap_replace_idle_ones_and_spare_scrapes_in_flight() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder().max_connections(CAP));

    // 1. A scrape in flight (its callback holds it) while CAP + 100 connections arrive.
    let held = HeldScrape::start(&runtime, addr);
    let crowd = silent_connections(addr, CAP + 100);
    for path in ["/live", "/health"] {
        let started = Instant::now();
        let status = get(addr, path).status;
        assert!(status == 200 || status == 503, "{path}: {status}");
        assert!(
            started.elapsed() < common::LEGIT_LIMIT,
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let response = held.finish();
    assert_eq!(response.status, 200, "the scrape in flight was answered");
    assert!(response.text().contains("dynamo_component_uptime_seconds"));
    drop(crowd);

    // 2. Idle keep-alive connections, then many silent ones: legitimate clients still get in,
    //    and the server holds at most CAP connections.
    let baseline = usage();
    let mut attackers: Vec<TcpStream> = (0..CAP).map(|_| idle_keep_alive(addr)).collect();
    attackers.extend(silent_connections(addr, ATTACKERS));
    // The test holds every client socket; the server holds at most CAP of its own.
    let bounds = Bounds {
        fds: attackers.len() + CAP + 16,
        threads: 8,
        rss_bytes: 32 << 20,
    };
    let since = Instant::now();
    for _ in 0..3 {
        assert_legit_clients_served(addr);
        baseline.assert_within(usage(), bounds, "past the cap");
    }
    let closed =
        common::wait_until_closed(&mut attackers, since, since + Duration::from_secs(1), || {});
    let open = closed.iter().filter(|c| c.is_none()).count();
    assert!(
        open <= CAP,
        "{open} attacking connections still open with a cap of {CAP}"
    );
}
