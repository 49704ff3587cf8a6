//! Serves metrics that a thread of the application updates once a second.
//!
//! ```text
//! DYN_SYSTEM_PORT=8081 cargo run -p dynamo-examples --bin server_with_loop
//! curl localhost:8081/metrics
//! ```
//!
//! The same metrics as `server_with_callback`, which updates them on each scrape instead.
//! Ctrl-C or SIGTERM stops it gracefully: the loop ends, scrapes in flight are answered, then
//! it exits 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

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
    let workers = WorkerMetrics::create(&metrics, "loop")?;

    // The application's own work goes on beside the server, which has its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let updater = thread::spawn(move || {
        for tick in 0u64.. {
            workers.update(tick);
            // Sleep a second, a little at a time, so a stop is seen at once.
            for _ in 0..20 {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
    });

    runtime.set_health_status(HealthStatus::Ready);
    println!(
        "system status server listening on {address}: GET /metrics, /health, /live (Ctrl-C stops)"
    );
    let signal = signals.wait();
    eprintln!("{signal}: stopping");
    runtime.set_health_status(HealthStatus::NotReady);
    stop.store(true, Ordering::Relaxed);
    updater
        .join()
        .map_err(|_| anyhow::anyhow!("the update loop panicked"))?;
    runtime.shutdown();
    Ok(())
}
