//! A burst of connections far past the connection cap waits in the listen backlog: every
//! handshake completes at once (none is dropped and retried a second later), and each queued
//! request is answered once the server has room. Past the backlog, the kernel drops
//! handshakes until there is room again.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::{self, HeldScrape, builder, read_response, serve};

/// Four times the standard library's own backlog of 128, half of the server's.
const BURST: usize = 512;
/// Far longer than a loopback handshake, shorter than the one-second retry of a handshake
/// whose first packet the kernel dropped because the backlog was full.
const HANDSHAKE_LIMIT: Duration = Duration::from_millis(500);

/// The most connections the kernel lets any socket queue (`net.core.somaxconn`).
fn kernel_backlog_cap() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(BURST)
}

/// Connects within [`HANDSHAKE_LIMIT`] and sends `GET /live`, or gives the error.
fn queue_request(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, HANDSHAKE_LIMIT)?;
    write!(
        stream,
        "GET /live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    Ok(stream)
}

/// Reads the answer of every queued request: each must be `200`.
fn assert_all_served(queued: &mut [TcpStream]) {
    for (index, stream) in queued.iter_mut().enumerate() {
        let response = read_response(stream)
            .unwrap_or_else(|e| panic!("queued request {index} got no answer: {e}"));
        assert_eq!(response.status, 200, "queued request {index}");
    }
}

#[test]
fn a_burst_past_the_cap_is_queued_and_then_served() {
    let _alone = common::one_at_a_time();
    let (runtime, addr) = serve(builder().max_connections(1));
    let held = HeldScrape::start(&runtime, addr);

    let burst = BURST.min(kernel_backlog_cap());
    let mut queued = Vec::with_capacity(burst);
    for index in 0..burst {
        let started = Instant::now();
        let stream = queue_request(addr)
            .unwrap_or_else(|e| panic!("connection {index} of {burst} was not queued: {e}"));
        assert!(
            started.elapsed() < HANDSHAKE_LIMIT,
            "connection {index} took {:?}",
            started.elapsed()
        );
        queued.push(stream);
    }

    assert_eq!(held.finish().status, 200);
    assert_all_served(&mut queued);
}

#[test]
fn past_a_small_backlog_handshakes_wait_and_the_queued_are_served() {
    let _alone = common::one_at_a_time();
    const BACKLOG: usize = 8;
    let (runtime, addr) = serve(builder().max_connections(1).listen_backlog(BACKLOG));
    let held = HeldScrape::start(&runtime, addr);

    // The kernel queues the backlog (Linux one more); then a handshake is turned away.
    let mut queued = Vec::new();
    let refused = loop {
        match queue_request(addr) {
            Ok(stream) => queued.push(stream),
            Err(error) => break error,
        }
        assert!(
            queued.len() <= BACKLOG + 1,
            "{} connections queued with a backlog of {BACKLOG}",
            queued.len()
        );
    };
    // Dropped (the usual), or reset where the host aborts on a full queue.
    assert!(
        matches!(
            refused.kind(),
            ErrorKind::TimedOut | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
        ),
        "{refused}"
    );
    assert!(
        queued.len() >= BACKLOG,
        "only {} connections queued with a backlog of {BACKLOG}",
        queued.len()
    );

    assert_eq!(held.finish().status, 200);
    assert_all_served(&mut queued);
    // With room again, new connections get in.
    let mut after = vec![queue_request(addr).expect("a connection once there is room")];
    assert_all_served(&mut after);
}
