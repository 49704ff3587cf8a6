//! `shutdown()` stops the server gracefully; metrics keep working. Dropping the runtime
//! stops it too.

mod common;

use std::net::{SocketAddr, TcpStream};

use common::{builder, scrape, serve};

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
