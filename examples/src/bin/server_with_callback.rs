//! Serves metrics that a callback updates just before each scrape.
//!
//! ```text
//! DYN_SYSTEM_PORT=8081 cargo run -p dynamo-metrics-examples --bin server_with_callback
//! curl localhost:8081/metrics
//! ```
//!
//! The same metrics as `server_with_loop`, which updates them from a thread instead. A
//! callback suits values that are cheap to read on demand; it runs on the server's side,
//! bounded in time, and an error it returns is logged and skipped.

use std::sync::atomic::{AtomicU64, Ordering};

use dynamo_runtime::{DistributedRuntime, HealthStatus};

const WORKERS: u64 = 3;

fn main() -> anyhow::Result<()> {
    let runtime = DistributedRuntime::new()?;
    let Some(address) = runtime.system_status_server_info() else {
        anyhow::bail!("set DYN_SYSTEM_PORT (for example DYN_SYSTEM_PORT=8081) to serve /metrics");
    };

    let metrics = runtime
        .namespace("example")
        .component("worker")
        .endpoint("generate")
        .metrics();
    let total_slots =
        metrics.create_intgauge("total_slots", "Request slots of the worker pool", &[])?;
    let cache_usage = metrics.create_gauge(
        "kv_cache_usage_ratio",
        "Fraction of the KV cache in use, from 0 to 1",
        &[],
    )?;
    let active = metrics.create_gaugevec(
        "worker_active_requests",
        "Requests in flight on each worker",
        &["worker_id"],
        &[],
    )?;
    let updates = metrics.create_intcounter(
        "updates_total",
        "Times the metrics were updated",
        &[("update_method", "callback")],
    )?;

    let ticks = AtomicU64::new(0);
    metrics.register_callback(move || -> anyhow::Result<()> {
        let tick = ticks.fetch_add(1, Ordering::Relaxed);
        total_slots.set(64);
        cache_usage.set((tick % 100) as f64 / 100.0);
        for worker in 0..WORKERS {
            active
                .with_label_values(&[&worker.to_string()])
                .set(((tick + worker * 3) % 10) as f64);
        }
        updates.inc();
        Ok(())
    });

    runtime.set_health_status(HealthStatus::Ready);
    println!(
        "system status server listening on {address}: GET /metrics, /health, /live (Ctrl-C stops)"
    );
    // Nothing else to do: the server has its own thread. Park until the process is stopped.
    loop {
        std::thread::park();
    }
}
