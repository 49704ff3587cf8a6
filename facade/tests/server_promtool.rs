//! `promtool check metrics` accepts a scrape of the examples' metrics, lint included.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{builder, example_metrics, prometheus_tool, scrape, serve, set_example_values};

#[test]
fn promtool_accepts_the_example_scrape() {
    let promtool = prometheus_tool("promtool");
    let (runtime, addr) = serve(builder());
    set_example_values(&example_metrics(&runtime, "callback"));
    let text = scrape(addr);
    assert!(
        text.contains("dynamo_component_worker_active_requests{"),
        "{text}"
    );

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    // promtool exits 3 for lint problems and 1 for parse errors.
    assert_eq!(
        output.status.code(),
        Some(0),
        "promtool check metrics:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
