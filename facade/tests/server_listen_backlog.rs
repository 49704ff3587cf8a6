//! A burst of connections far past the connection cap waits in the listen backlog: every
//! handshake completes at once (none is dropped and retried a second later), and each queued
//! request is answered once the server has room.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{builder, get, read_response, serve};

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

#[test]
fn a_burst_past_the_cap_is_queued_and_then_served() {
    let (runtime, addr) = serve(builder().max_connections(1));

    // The one connection allowed serves a scrape that the callback holds.
    let (started_tx, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let first = Arc::new(AtomicBool::new(true));
    runtime
        .metrics()
        .register_callback(move || -> Result<(), String> {
            if first.swap(false, Ordering::SeqCst) {
                let _ = started_tx.send(());
                let _ = released
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
            }
            Ok(())
        });
    let in_flight = std::thread::spawn(move || get(addr, "/metrics"));
    started.recv_timeout(Duration::from_secs(10)).unwrap();

    let burst = BURST.min(kernel_backlog_cap());
    let mut queued = Vec::with_capacity(burst);
    for index in 0..burst {
        let started = Instant::now();
        let mut stream = TcpStream::connect_timeout(&addr, HANDSHAKE_LIMIT)
            .unwrap_or_else(|e| panic!("connection {index} of {burst} was not queued: {e}"));
        assert!(
            started.elapsed() < HANDSHAKE_LIMIT,
            "connection {index} took {:?}",
            started.elapsed()
        );
        write!(
            stream,
            "GET /live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        queued.push(stream);
    }

    release.send(()).unwrap();
    assert_eq!(in_flight.join().unwrap().status, 200);
    for (index, stream) in queued.iter_mut().enumerate() {
        let response = read_response(stream)
            .unwrap_or_else(|e| panic!("queued request {index} got no answer: {e}"));
        assert_eq!(response.status, 200, "queued request {index}");
    }
}
