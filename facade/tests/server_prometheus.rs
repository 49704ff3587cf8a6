//! A real Prometheus scrapes the examples' metrics, and PromQL over the `dynamo_*` labels
//! sees the values set.
//!
//! Needs Debian's `prometheus` package; the test fails (it does not skip) without it.

mod common;

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{builder, example_metrics, request, serve, set_example_values};
use dynamo_exporter::test_util::prometheus_tool;

/// How long Prometheus gets to start, scrape and answer.
const DEADLINE: Duration = Duration::from_secs(90);
/// The pause between two polls of Prometheus' API.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// Kills and reaps Prometheus when the test ends, however it ends.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Self {
        // A free port for Prometheus itself: bound, read, released.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: dynamo\n    scrape_interval: 1s\n    \
                 scrape_timeout: 1s\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(prometheus_tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Self { child, addr }
    }

    /// The value of the one sample `query` returns, once it returns one.
    fn query_until_present(&mut self, query: &str, log: &Path) -> f64 {
        let path = format!("/api/v1/query?query={}", percent_encode(query));
        let deadline = Instant::now() + DEADLINE;
        let mut last = String::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "prometheus exited ({status}):\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Ok(response) = request(self.addr, "GET", &path, &[]) {
                last = response.text();
                if let Some(value) = single_value(&last) {
                    return value;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no result for {query:?} within {DEADLINE:?}; last answer: {last}\nprometheus log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(POLL_EVERY);
        }
    }
}

/// Encodes everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of a vector result holding exactly one sample:
/// `..."result":[{"metric":{...},"value":[<time>,"<value>"]}]...`.
fn single_value(json: &str) -> Option<f64> {
    if !json.contains(r#""status":"success""#) {
        return None;
    }
    let (_, after) = json.split_once(r#""value":["#)?;
    if after.contains(r#""value":["#) {
        return None;
    }
    let (_, value) = after.split_once(",\"")?;
    let (value, _) = value.split_once('"')?;
    value.parse().ok()
}

#[test]
fn prometheus_scrapes_the_example_metrics() {
    let (runtime, target) = serve(builder());
    set_example_values(&example_metrics(&runtime, "callback"));

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("prometheus.log");
    let mut prometheus = Prometheus::start(dir.path(), target);

    assert_eq!(
        prometheus.query_until_present(r#"up{job="dynamo"} == 1"#, &log),
        1.0,
        "the target is up"
    );
    let endpoint =
        r#"dynamo_namespace="example",dynamo_component="worker",dynamo_endpoint="generate""#;
    let expected = [
        (
            format!("sum(dynamo_component_worker_active_requests{{{endpoint}}})"),
            15.0,
        ),
        (
            format!(r#"sum(dynamo_component_worker_active_requests{{{endpoint},worker_id="2"}})"#),
            7.0,
        ),
        (
            format!("sum(dynamo_component_total_slots{{{endpoint}}})"),
            64.0,
        ),
        (
            format!("sum(dynamo_component_kv_cache_usage_ratio{{{endpoint}}})"),
            0.25,
        ),
        (
            format!(
                r#"sum(dynamo_component_updates_total{{{endpoint},update_method="callback"}})"#
            ),
            4.0,
        ),
        (
            r#"count(count by (dynamo_namespace) (dynamo_component_total_slots))"#.to_string(),
            1.0,
        ),
    ];
    for (query, value) in expected {
        assert_eq!(
            prometheus.query_until_present(&query, &log),
            value,
            "{query}"
        );
    }
    drop(prometheus);
    drop(runtime);
}

#[test]
fn single_value_reads_one_sample_only() {
    assert_eq!(
        single_value(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.5,"15"]}]}}"#
        ),
        Some(15.0)
    );
    assert_eq!(
        single_value(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#),
        None
    );
    assert_eq!(
        percent_encode(r#"up{a="b"} == 1"#),
        "up%7Ba%3D%22b%22%7D%20%3D%3D%201"
    );
}
