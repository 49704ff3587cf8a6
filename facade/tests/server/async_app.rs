//! The server has a thread and a tokio runtime of its own: it starts, serves and stops the
//! same from inside an application's async runtime, even while that runtime is blocked.

use crate::common::{builder, get, scrape, serve};
use dynamo_runtime::{MetricsError, SettingSource};

#[tokio::test(flavor = "current_thread")]
async fn serves_while_the_application_runtime_is_blocked() {
    let (runtime, addr) = serve(builder());
    let requests = runtime
        .metrics()
        .create_intcounter("requests_total", "Requests", &[])
        .unwrap();
    requests.inc();
    // These blocking calls hold the application's only runtime thread; the server still
    // answers from its own.
    assert_eq!(get(addr, "/live").status, 200);
    assert!(scrape(addr).contains("dynamo_component_requests_total 1\n"));
    runtime.shutdown();
    assert_eq!(runtime.system_status_server_info(), None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_start_and_a_drop_inside_an_async_context_do_not_panic() {
    let (runtime, addr) = serve(builder());
    let port = addr.port();
    match builder().system_port(Some(port)).build() {
        Err(MetricsError::ServerStart {
            port: SettingSource::Code { setting, value },
            addr: tried,
            source,
        }) => {
            assert_eq!(setting, "RuntimeBuilder::system_port");
            assert_eq!(value, format!("Some({port})"));
            assert_eq!(tried, format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        Err(other) => panic!("expected ServerStart for port {port} in use, got {other:?}"),
        Ok(_) => panic!("a second runtime started on port {port}, which is in use"),
    }
    let answered = tokio::task::spawn_blocking(move || get(addr, "/metrics").status);
    assert_eq!(answered.await.unwrap(), 200);
    drop(runtime);
}
