//! The guide's Rust snippets, run as the `guide` example: its scrape holds exactly the expected
//! series, and promtool parses it.

mod common;

use std::process::Command;

use common::promtool_check;

fn guide_output() -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_guide"))
        .output()
        .expect("the guide example runs");
    assert!(
        output.status.success(),
        "guide failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn guide_scrape_holds_exactly_the_expected_series() {
    let ep = "dynamo_component=\"my_component\",dynamo_endpoint=\"my_endpoint\",dynamo_namespace=\"my_namespace\"";
    let other = "dynamo_component=\"my_component\",dynamo_endpoint=\"my_other_endpoint\",dynamo_namespace=\"my_namespace\"";
    let bucket = |labels: &str, le: &str, n: u32| {
        format!("dynamo_component_latency_seconds_bucket{{{labels},le=\"{le}\"}} {n}")
    };
    let expected = [
        "# HELP dynamo_component_active_connections Active connections".to_string(),
        "# TYPE dynamo_component_active_connections gauge".into(),
        format!("dynamo_component_active_connections{{{ep}}} 42"),
        "# HELP dynamo_component_gpu_memory_bytes GPU memory by device".into(),
        "# TYPE dynamo_component_gpu_memory_bytes gauge".into(),
        format!(
            "dynamo_component_gpu_memory_bytes{{{ep},gpu_id=\"0\",memory_type=\"allocated\"}} 8192"
        ),
        "# HELP dynamo_component_latency_seconds Request latency".into(),
        "# TYPE dynamo_component_latency_seconds histogram".into(),
        bucket(ep, "0.001", 0),
        bucket(ep, "0.01", 0),
        bucket(ep, "0.1", 1),
        bucket(ep, "1", 1),
        bucket(ep, "10", 1),
        bucket(ep, "+Inf", 1),
        format!("dynamo_component_latency_seconds_sum{{{ep}}} 0.023"),
        format!("dynamo_component_latency_seconds_count{{{ep}}} 1"),
        bucket(other, "0.001", 0),
        bucket(other, "0.01", 0),
        bucket(other, "0.1", 0),
        bucket(other, "1", 0),
        bucket(other, "10", 1),
        bucket(other, "+Inf", 1),
        format!("dynamo_component_latency_seconds_sum{{{other}}} 5"),
        format!("dynamo_component_latency_seconds_count{{{other}}} 1"),
        "# HELP dynamo_component_requests_by_model Requests by model".into(),
        "# TYPE dynamo_component_requests_by_model counter".into(),
        format!(
            "dynamo_component_requests_by_model{{{ep},model_size=\"7b\",model_type=\"llama\"}} 1"
        ),
        "# HELP dynamo_component_requests_total Total requests".into(),
        "# TYPE dynamo_component_requests_total counter".into(),
        format!("dynamo_component_requests_total{{{ep}}} 1"),
        format!("dynamo_component_requests_total{{{ep},env=\"prod\",region=\"us-west\"}} 2"),
    ]
    .map(|line| line + "\n")
    .concat();
    assert_eq!(guide_output(), expected);
}

#[test]
fn promtool_parses_the_guide_scrape() {
    // The guide's own counter name lacks the `_total` suffix: promtool parses the text and only
    // lints that name.
    assert_eq!(
        promtool_check(&guide_output()),
        Ok(vec![
            "dynamo_component_requests_by_model counter metrics should have \"_total\" suffix"
                .to_string()
        ])
    );
}
