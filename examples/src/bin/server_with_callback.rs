//! Serves metrics that a callback updates just before each scrape.
//!
//! ```text
//! DYN_SYSTEM_PORT=8081 cargo run -p dynamo-examples --bin server_with_callback
//! curl localhost:8081/metrics
//! ```
//!
//! The same metrics as `server_with_loop`, which updates them from a thread instead. A
//! callback suits values that are cheap to read on demand; it runs on the server's side,
//! bounded in time, and an error it returns is logged and skipped. Ctrl-C or SIGTERM stops
//! it gracefully: scrapes in flight are answered, then it exits 0.

use std::sync::atomic::{AtomicU64, Ordering};

use dynamo_examples::{StopSignals, WorkerMetrics};
use dynamo_runtime::{DistributedRuntime, HealthStatus};

fn main() -> anyhow::Result<()> {
    let runtime = DistributedRuntime::new()?;
    let signals = StopSignals::install()?;
    let Some(address) = runtime.system_status_server_info() else {
        anyhow::bail!("set DYN_SYSTEM_PORT (for example DYN_SYSTEM_PORT=8081) to serve /metrics");
    };

    let metrics = runtime
        .namespace("example")
        .component("worker")
        .endpoint("generate")
        .metrics();
    let workers = WorkerMetrics::create(&metrics, "callback")?;

    // The server calls this just before each scrape of /metrics.
    let ticks = AtomicU64::new(0);
    metrics.register_callback(move || -> anyhow::Result<()> {
        workers.update(ticks.fetch_add(1, Ordering::Relaxed));
        Ok(())
    });

    runtime.set_health_status(HealthStatus::Ready);
    println!(
        "system status server listening on {address}: GET /metrics, /health, /live (Ctrl-C stops)"
    );
    // Nothing else to do: the server has its own thread. Wait for SIGINT or SIGTERM, then
    // stop the server: requests in flight are answered before it closes.
    let signal = signals.wait();
    eprintln!("{signal}: stopping");
    runtime.set_health_status(HealthStatus::NotReady);
    runtime.shutdown();
    Ok(())
}
