//! `shutdown()` stops the server gracefully; metrics keep working. Dropping the runtime
//! stops it too.

use std::net::{SocketAddr, TcpStream};

use crate::common::{self, builder, scrape, serve};

fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, common::IO_TIMEOUT).is_err()
}

#[test]
fn shutdown_stops_serving_and_metrics_keep_working() {
    let (runtime, addr) = serve(builder());
    let counter = runtime
        .metrics()
        .create_intcounter("requests_total", "Requests", &[])
        .unwrap();
    counter.inc();
    assert!(scrape(addr).contains("dynamo_component_requests_total 1\n"));

    runtime.shutdown();
    assert_eq!(runtime.system_status_server_info(), None);
    assert!(refused(addr), "the server still accepts connections");

    counter.inc();
    assert_eq!(counter.get(), 2);
    assert!(
        runtime
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("dynamo_component_requests_total 2\n")
    );
    // A second shutdown does nothing.
    runtime.shutdown();
}

#[test]
fn shutdown_through_a_clone_stops_the_shared_server() {
    let (runtime, addr) = serve(builder());
    let clone = runtime.clone();
    clone.shutdown();
    assert_eq!(runtime.system_status_server_info(), None);
    assert!(refused(addr));
}

#[test]
fn dropping_the_last_handle_stops_the_server() {
    let (runtime, addr) = serve(builder());
    let endpoint = runtime.namespace("ns").component("c").endpoint("e");
    drop(runtime);
    // A hierarchy handle keeps the runtime, and so the server, alive.
    assert_eq!(common::get(addr, "/live").status, 200);
    drop(endpoint);
    assert!(refused(addr), "the server outlived its runtime");
}

#[test]
fn shutdown_closes_idle_keep_alive_connections_at_once() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    let (runtime, addr) = serve(builder());
    let mut stream = TcpStream::connect_timeout(&addr, common::IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    stream
        .write_all(b"GET /live HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));

    // The connection stays open and idle while the server shuts down.
    let started = Instant::now();
    runtime.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown waited {:?} for an idle connection",
        started.elapsed()
    );
    assert_eq!(
        stream.read(&mut buffer).unwrap_or(0),
        0,
        "the connection is closed"
    );
}

#[test]
fn shutdown_lets_a_scrape_in_flight_finish() {
    use std::sync::{Mutex, mpsc};
    use std::time::{Duration, Instant};

    let (runtime, addr) = serve(builder().callback_timeout(Duration::from_secs(60)));
    let (started_tx, started) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    runtime
        .metrics()
        .register_callback(move || -> Result<(), String> {
            let _ = started_tx.send(());
            let _ = released
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
            Ok(())
        });
    let scraper = std::thread::spawn(move || common::get(addr, "/metrics"));
    started.recv_timeout(Duration::from_secs(10)).unwrap();

    let stopping = runtime.clone();
    let stopper = std::thread::spawn(move || stopping.shutdown());
    // New connections are refused once shutdown has begun...
    let deadline = Instant::now() + Duration::from_secs(20);
    while !refused(addr) {
        assert!(Instant::now() < deadline, "the server kept accepting");
    }
    // ...while the scrape in flight still gets its answer.
    release.send(()).unwrap();
    let response = scraper.join().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.text().contains("dynamo_component_uptime_seconds"));
    stopper.join().unwrap();
    assert_eq!(runtime.system_status_server_info(), None);
}
