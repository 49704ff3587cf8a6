//! Serves a toy request handler, instrumented in one line, and sends it traffic itself.
//!
//! ```text
//! DYN_SYSTEM_PORT=8081 cargo run -p dynamo-examples --bin request_handler
//! curl -s localhost:8081/metrics | grep -v _bucket
//! ```
//!
//! The handler "generates" by reversing its prompt a few characters at a time. Every call of
//! it is one tracked request: `endpoint.track_request()` counts it and keeps it in
//! `inflight_requests` until it ends; the future wrapped by `instrument` ends it when the
//! reply is ready, observing its duration, or as cancelled when the caller gives up first.
//! The traffic: a request every 20 ms, one prompt in five empty (an error), one caller in
//! seven gives up after 2 ms (a cancellation).

use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, Endpoint, HealthStatus};

/// Why the toy handler refuses a prompt.
#[derive(Debug)]
struct EmptyPrompt;

/// The toy handler: the prompt reversed, 4 characters per 5 ms step.
async fn generate(prompt: String) -> Result<String, EmptyPrompt> {
    if prompt.is_empty() {
        return Err(EmptyPrompt);
    }
    for _ in prompt.as_bytes().chunks(4) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(prompt.chars().rev().collect())
}

/// Calls the handler every 20 ms, as clients would, without waiting for replies.
async fn traffic(endpoint: Endpoint) {
    let prompts = [
        "hello",
        "",
        "the quick brown fox",
        "dynamo",
        "metrics in one line",
    ];
    for i in 0usize.. {
        let prompt = prompts[i % prompts.len()].to_string();
        // The one line: this call of the handler is a tracked request from here on.
        let request = endpoint.track_request();
        // The rest is optional: bytes, and what counts as an error.
        request.request_bytes(prompt.len() as u64);
        let reply = request
            .instrument(generate(prompt))
            .errors_as("generate")
            .response_bytes_by(|reply| reply.as_ref().map_or(0, |text| text.len() as u64));
        let patience = if i % 7 == 6 {
            Duration::from_millis(2)
        } else {
            Duration::from_secs(10)
        };
        // A caller that gives up drops the request: it ends as cancelled.
        tokio::spawn(tokio::time::timeout(patience, reply));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn main() -> anyhow::Result<()> {
    let runtime = DistributedRuntime::new()?;
    let Some(address) = runtime.system_status_server_info() else {
        anyhow::bail!("set DYN_SYSTEM_PORT (for example DYN_SYSTEM_PORT=8081) to serve /metrics");
    };
    let endpoint = runtime
        .namespace("example")
        .component("llm")
        .endpoint("generate");
    // Optional: a label on every request metric of this endpoint, set before the first request.
    endpoint
        .request_metrics_options()
        .with_const_labels(&[("model", "toy-reverser")])
        .create()?;

    runtime.set_health_status(HealthStatus::Ready);
    println!(
        "system status server listening on {address}: GET /metrics, /health, /live (Ctrl-C stops)"
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?
        .block_on(traffic(endpoint));
    Ok(())
}
