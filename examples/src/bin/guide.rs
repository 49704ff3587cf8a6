//! The Rust snippets of the metrics developer guide, as written, in one program.
//!
//! Prints the scrape of the guide's endpoint: `cargo run -p dynamo-examples --bin guide`.

use dynamo_runtime::{DistributedRuntime, Endpoint};

#[rustfmt::skip]
fn main() -> anyhow::Result<()> {
    // "Creating Metrics"
    let runtime = DistributedRuntime::new()?;
    let endpoint = runtime.namespace("my_namespace").component("my_component").endpoint("my_endpoint");

    // Simple metrics
    let requests_total = endpoint.metrics().create_counter(
        "requests_total",
        "Total requests",
        &[]
    )?;

    let active_connections = endpoint.metrics().create_gauge(
        "active_connections",
        "Active connections",
        &[]
    )?;

    let latency = endpoint.metrics().create_histogram(
        "latency_seconds",
        "Request latency",
        &[],
        Some(vec![0.001, 0.01, 0.1, 1.0, 10.0])
    )?;

    // "Using Metrics"
    // Counters
    requests_total.inc();

    // Gauges
    active_connections.set(42.0);
    active_connections.inc();
    active_connections.dec();

    // Histograms
    latency.observe(0.023);  // 23ms

    // "Vector Metrics with Labels"
    // Create vector metrics with label names
    let requests_by_model = endpoint.metrics().create_countervec(
        "requests_by_model",
        "Requests by model",
        &["model_type", "model_size"],
        &[]
    )?;

    let memory_by_gpu = endpoint.metrics().create_gaugevec(
        "gpu_memory_bytes",
        "GPU memory by device",
        &["gpu_id", "memory_type"],
        &[]
    )?;

    // Use with specific label values
    requests_by_model.with_label_values(&["llama", "7b"]).inc();
    memory_by_gpu.with_label_values(&["0", "allocated"]).set(8192.0);

    // "Advanced Features": constant labels, a second series of `requests_total`.
    let counter = endpoint.metrics().create_counter(
        "requests_total",
        "Total requests",
        &[("region", "us-west"), ("env", "prod")]
    )?;
    counter.inc_by(2.0);

    // "Advanced Features": custom histogram buckets, on an endpoint of its own since the
    // snippet repeats the name `latency_seconds`.
    custom_buckets(&runtime.namespace("my_namespace").component("my_component").endpoint("my_other_endpoint"))?;

    print!("{}", runtime.namespace("my_namespace").metrics().prometheus_expfmt()?);
    Ok(())
}

#[rustfmt::skip]
fn custom_buckets(endpoint: &Endpoint) -> anyhow::Result<()> {
    let latency = endpoint.metrics().create_histogram(
        "latency_seconds",
        "Request latency",
        &[],
        Some(vec![0.001, 0.01, 0.1, 1.0, 10.0])
    )?;
    latency.observe(5.0);
    Ok(())
}
