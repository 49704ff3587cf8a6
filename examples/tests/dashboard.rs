//! The Grafana dashboard (`deploy/grafana/dynamo-worker.json`) and the recording rules
//! (`deploy/prometheus/rules.yml`), evaluated by a real Prometheus scraping the
//! `request_handler` example under its own traffic: every panel's queries and every recording
//! rule must return data with the labels the panel shows, and every metric a query names
//! must exist. A panel that would show nothing fails the test.
//!
//! Needs Debian's `prometheus` package; the test fails (it does not skip) without it.
//!
//! With `DYNAMO_DASHBOARD_DATA=<file>` set, the test also writes what each panel shows (range
//! queries over the run) to that file, after `DYNAMO_DASHBOARD_SECONDS` more seconds of
//! traffic (default 0): `deploy/grafana/plot.py` draws the pictures of
//! `docs/observability.md` from it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::prometheus::Prometheus;
use common::promql::{label_values_query, legend_labels, metric_names, substitute};
use common::{TIMEOUT, get, start, value};
use serde_json::{Value, json};

const DASHBOARD: &str = include_str!("../../deploy/grafana/dynamo-worker.json");
const PROMETHEUS_CONFIG: &str = include_str!("../../deploy/prometheus/prometheus.yml");
const RULES: &str = include_str!("../../deploy/prometheus/rules.yml");
const RULES_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/prometheus/rules.yml"
);

/// The job the rules and the dashboard select (as in `deploy/prometheus/prometheus.yml`).
const JOB: &str = "dynamo";
/// What `$__rate_interval` becomes: four scrape intervals of the test's Prometheus and more.
const RATE_INTERVAL: &str = "15s";
/// How long the queries get to return data, once Prometheus runs.
const DATA_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two rounds of queries while data is still missing.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The hierarchy labels of the `request_handler` example's endpoint.
const ENDPOINT: [(&str, &str); 3] = [
    ("dynamo_namespace", "example"),
    ("dynamo_component", "llm"),
    ("dynamo_endpoint", "generate"),
];
const HIERARCHY: [&str; 3] = ["dynamo_namespace", "dynamo_component", "dynamo_endpoint"];

/// A Prometheus scraping every second the targets of a file (file-based discovery, as the
/// shipped configuration does), evaluating the shipped rules every second.
fn prometheus_config() -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {RULES_PATH}\n\
         scrape_configs:\n  - job_name: {JOB}\n    file_sd_configs:\n      - files: ['{{dir}}/targets/*.json']\n        refresh_interval: 1s\n"
    )
}

/// The labels every series of a panel's queries must carry (besides those its legends show).
fn expected_labels(title: &str) -> Option<Vec<&'static str>> {
    let hierarchy = HIERARCHY.to_vec();
    let process = vec!["job", "instance"];
    Some(match title {
        "Request rate"
        | "Error ratio"
        | "Latency quantiles"
        | "Cancellations"
        | "Request and response bytes" => hierarchy,
        "Requests in flight" => [&hierarchy[..], &["instance"]].concat(),
        "Errors by type" => [&hierarchy[..], &["error_type"]].concat(),
        "CPU" | "Memory" | "Open file descriptors" | "Uptime" | "Threads" | "Scrape duration" => {
            process
        }
        "Series per metric" => vec!["__name__"],
        "Refused metrics" => vec!["instance"],
        _ => return None,
    })
}

/// One query of a panel.
#[derive(Debug, Clone)]
struct Target {
    expr: String,
    legend: String,
}

/// A panel that queries Prometheus.
#[derive(Debug, Clone)]
struct Panel {
    title: String,
    unit: String,
    targets: Vec<Target>,
}

fn dashboard(text: &str) -> Value {
    serde_json::from_str(text).expect("the dashboard is JSON")
}

/// The panels with queries, rows' nested panels included, in the dashboard's order.
fn panels(dashboard: &Value) -> Vec<Panel> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .collect();
    while let Some(panel) = stack.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            stack.extend(nested.iter().rev());
        }
        let Some(targets) = panel["targets"].as_array() else {
            continue;
        };
        out.push(Panel {
            title: panel["title"].as_str().unwrap().to_string(),
            unit: panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            targets: targets
                .iter()
                .map(|t| Target {
                    expr: t["expr"]
                        .as_str()
                        .expect("a target has an expr")
                        .to_string(),
                    legend: t["legendFormat"].as_str().unwrap_or("").to_string(),
                })
                .collect(),
        });
    }
    out
}

/// The query variables, in order: (name, `label_values(...)` query).
fn variables(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let query = match &v["query"] {
                Value::String(query) => query.clone(),
                query => query["query"].as_str().unwrap().to_string(),
            };
            (v["name"].as_str().unwrap().to_string(), query)
        })
        .collect()
}

/// The record names of rules.yml, read line by line.
fn recording_rules() -> Vec<String> {
    RULES
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- record:"))
        .map(|name| name.trim().to_string())
        .collect()
}

/// Metrics Prometheus makes itself for each target, never on a page.
fn made_by_prometheus(name: &str) -> bool {
    name == "up" || name.starts_with("scrape_")
}

/// The metric family a sample name belongs to, for the names a page shows in `# TYPE`.
fn family(name: &str, page_families: &BTreeSet<String>) -> String {
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| page_families.contains(*base))
        .unwrap_or(name)
        .to_string()
}

/// Resolves the variables as Grafana would, each with the values the earlier ones allow.
fn resolve_variables(
    prometheus: &mut Prometheus,
    dashboard: &Value,
    failures: &mut Vec<String>,
) -> Vec<(String, Vec<String>)> {
    let mut resolved: Vec<(String, Vec<String>)> = Vec::new();
    for (name, query) in variables(dashboard) {
        let query = substitute(&query, RATE_INTERVAL, &resolved);
        let Some((selector, label)) = label_values_query(&query) else {
            failures.push(format!(
                "variable ${name}: not a label_values query: {query}"
            ));
            continue;
        };
        match prometheus.label_values(&label, selector.as_deref()) {
            Ok(values) if !values.is_empty() => resolved.push((name, values)),
            Ok(_) => failures.push(format!("variable ${name}: no values for {query}")),
            Err(e) => failures.push(format!("variable ${name}: {e}")),
        }
    }
    resolved
}

/// Every way a series fails its panel: missing labels, no number.
fn check_series(title: &str, target: &Target, series: &[Value], failures: &mut Vec<String>) {
    let mut wanted: BTreeSet<String> = legend_labels(&target.legend).into_iter().collect();
    wanted.extend(
        expected_labels(title)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string),
    );
    let mut finite = false;
    for item in series {
        let labels = item["metric"].as_object().cloned().unwrap_or_default();
        let missing: Vec<&String> = wanted.iter().filter(|l| !labels.contains_key(*l)).collect();
        if !missing.is_empty() {
            failures.push(format!(
                "panel {title:?}: a series of `{}` lacks the labels {missing:?}: {item}",
                target.expr
            ));
        }
        for (label, value) in ENDPOINT {
            if labels.get(label).is_some_and(|v| v != value) {
                failures.push(format!("panel {title:?}: {label} is not {value:?}: {item}"));
            }
        }
        let number: Option<f64> = item["value"][1].as_str().and_then(|v| v.parse().ok());
        finite |= number.is_some_and(f64::is_finite);
    }
    if !finite {
        failures.push(format!(
            "panel {title:?}: `{}` has no finite value: {series:?}",
            target.expr
        ));
    }
}

/// Evaluates every panel's queries; returns what is wrong (nothing when every query returns
/// data with its labels and names only metrics that exist).
fn check_panels(prometheus: &mut Prometheus, dashboard: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    let known: BTreeSet<String> = prometheus
        .label_values("__name__", None)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let variables = resolve_variables(prometheus, dashboard, &mut failures);
    for panel in panels(dashboard) {
        if expected_labels(&panel.title).is_none() {
            failures.push(format!(
                "panel {:?}: the test does not know which labels it shows",
                panel.title
            ));
        }
        for target in &panel.targets {
            for name in metric_names(&target.expr) {
                // A histogram's native form (its bare name, `x or x_bucket` in a query) is
                // known when Prometheus stores the classic one, as it does without native
                // histograms turned on.
                let native_of_known = known.contains(&format!("{name}_bucket"));
                if !known.contains(&name) && !native_of_known {
                    failures.push(format!(
                        "panel {:?} names metric {name}, which Prometheus does not have",
                        panel.title
                    ));
                }
            }
            let expr = substitute(&target.expr, RATE_INTERVAL, &variables);
            match prometheus.query(&expr) {
                Ok(series) if series.is_empty() => {
                    failures.push(format!("panel {:?}: no data for `{expr}`", panel.title))
                }
                Ok(series) => check_series(&panel.title, target, &series, &mut failures),
                Err(e) => failures.push(format!("panel {:?}: {e}", panel.title)),
            }
        }
    }
    failures
}

/// Every rule loaded and healthy, every recording rule returning the endpoint's series.
fn check_rules(prometheus: &mut Prometheus) -> Vec<String> {
    let mut failures = Vec::new();
    let groups = match prometheus.api("rules") {
        Ok(data) => data["groups"].as_array().cloned().unwrap_or_default(),
        Err(e) => return vec![e],
    };
    let mut loaded = Vec::new();
    for rule in groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
    {
        let name = rule["name"].as_str().unwrap_or_default().to_string();
        if rule["health"] != "ok" {
            failures.push(format!(
                "rule {name}: health {} {}",
                rule["health"], rule["lastError"]
            ));
        }
        if rule["type"] == "recording" {
            loaded.push(name);
        }
    }
    let records = recording_rules();
    if loaded != records {
        failures.push(format!(
            "recording rules loaded {loaded:?}, rules.yml has {records:?}"
        ));
    }
    for record in records {
        let Some(level) = record.split(':').next().filter(|l| *l == "dynamo_endpoint") else {
            failures.push(format!(
                "rule {record}: no label expectations for its level"
            ));
            continue;
        };
        let target = Target {
            expr: record.clone(),
            legend: HIERARCHY.map(|l| format!("{{{{{l}}}}}")).join(" "),
        };
        match prometheus.query(&record) {
            Ok(series) if series.len() == 1 => {
                check_series(&format!("rule {level}"), &target, &series, &mut failures)
            }
            Ok(series) => failures.push(format!(
                "rule {record}: one series expected (one endpoint), got {series:?}"
            )),
            Err(e) => failures.push(format!("rule {record}: {e}")),
        }
    }
    failures
}

/// Scrapes the example until its traffic shows on the page (a request, an error and a
/// cancellation); returns the families of the page.
fn families_once_busy(example: &common::Example) -> BTreeSet<String> {
    let labels = r#"dynamo_component="llm",dynamo_endpoint="generate",dynamo_namespace="example",model="toy-reverser""#;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = get(example.addr, "/metrics").text();
        let busy = value(
            &text,
            &format!("dynamo_component_cancellation_total{{{labels}}} "),
        )
        .is_some_and(|n| n >= 1.0)
            && text.contains("dynamo_component_errors_total{");
        if busy {
            return text
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect();
        }
        assert!(Instant::now() < deadline, "no traffic on the page:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Writes what each panel and recording rule showed over the run, for `plot.py`.
fn write_plot_data(prometheus: &mut Prometheus, dashboard: &Value, start: f64, path: &str) {
    let mut failures = Vec::new();
    let variables = resolve_variables(prometheus, dashboard, &mut failures);
    let end = unix_now();
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        let targets: Vec<Value> = panel
            .targets
            .iter()
            .map(|t| {
                let expr = substitute(&t.expr, RATE_INTERVAL, &variables);
                let data = prometheus.query_range(&expr, start, end, 1.0).unwrap();
                json!({"expr": expr, "legend": t.legend, "result": data["result"]})
            })
            .collect();
        out.push(json!({"title": panel.title, "unit": panel.unit, "targets": targets}));
    }
    let rules: BTreeMap<String, Value> = recording_rules()
        .into_iter()
        .map(|r| {
            let data = prometheus.query_range(&r, start, end, 1.0).unwrap();
            (r, data["result"].clone())
        })
        .collect();
    let data = json!({"rate_interval": RATE_INTERVAL, "start": start, "end": end, "panels": out, "rules": rules});
    std::fs::write(path, serde_json::to_string_pretty(&data).unwrap()).unwrap();
}

#[test]
fn every_panel_and_recording_rule_returns_data_from_a_real_prometheus() {
    let dashboard = dashboard(DASHBOARD);
    let example = start(env!("CARGO_BIN_EXE_request_handler"));

    // The page first: a metric the dashboard needs and the page lacks is named at once.
    let on_page = families_once_busy(&example);
    let missing: BTreeSet<String> = panels(&dashboard)
        .iter()
        .flat_map(|p| p.targets.iter().flat_map(|t| metric_names(&t.expr)))
        .filter(|name| !made_by_prometheus(name) && !name.contains(':'))
        .map(|name| family(&name, &on_page))
        .filter(|name| !on_page.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "the request_handler example's /metrics page lacks {missing:?}, which the dashboard's \
         panels query{}",
        if missing.iter().any(|m| m.starts_with("process_")) {
            ": the process metrics (process_cpu_seconds_total, process_resident_memory_bytes, \
             ...) are served by the runtime unless DYN_METRICS_PROCESS=0; without them the \
             CPU, Memory, Open file descriptors and Threads panels show nothing"
        } else {
            ""
        }
    );

    let targets = format!(
        r#"[{{"targets": ["{}"], "labels": {{"pool": "test"}}}}]"#,
        example.addr
    );
    let mut prometheus =
        Prometheus::start(&prometheus_config(), &[("targets/workers.json", targets)]);
    let start_time = unix_now();
    let deadline = Instant::now() + DATA_TIMEOUT;
    let failures = loop {
        let mut failures = check_rules(&mut prometheus);
        failures.extend(check_panels(&mut prometheus, &dashboard));
        if failures.is_empty() || Instant::now() > deadline {
            break failures;
        }
        std::thread::sleep(POLL_EVERY);
    };
    assert!(
        failures.is_empty(),
        "after {DATA_TIMEOUT:?}:\n{}\nprometheus log:\n{}",
        failures.join("\n"),
        prometheus.log()
    );

    // The check fails a panel whose query names a metric that does not exist: each panel in
    // turn, in a copy of the dashboard where its first metric is renamed. (The series table
    // names no metric: it counts every `dynamo_*` and `process_*` family.)
    for panel in panels(&dashboard) {
        let Some(name) = metric_names(&panel.targets[0].expr).into_iter().next() else {
            assert_eq!(panel.title, "Series per metric");
            continue;
        };
        let broken = rename_in_panel(&dashboard, &panel.title, &name, &format!("{name}_renamed"));
        let failures = check_panels(&mut prometheus, &broken);
        let expected = format!(
            "panel {:?} names metric {name}_renamed, which Prometheus does not have",
            panel.title
        );
        assert!(
            failures.contains(&expected),
            "renaming {name} in panel {:?} went unnoticed: {failures:?}",
            panel.title
        );
    }

    if let Ok(path) = std::env::var("DYNAMO_DASHBOARD_DATA") {
        let seconds: u64 = std::env::var("DYNAMO_DASHBOARD_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        std::thread::sleep(Duration::from_secs(seconds));
        write_plot_data(&mut prometheus, &dashboard, start_time, &path);
    }
}

/// A copy of `dashboard` in which the panel titled `title` names `to` for `from`.
fn rename_in_panel(dashboard: &Value, title: &str, from: &str, to: &str) -> Value {
    let mut copy = dashboard.clone();
    let mut stack: Vec<&mut Value> = copy["panels"].as_array_mut().unwrap().iter_mut().collect();
    let mut renamed = 0;
    while let Some(panel) = stack.pop() {
        if panel["title"] == title {
            if let Some(targets) = panel["targets"].as_array_mut() {
                for target in targets {
                    let expr = target["expr"].as_str().unwrap().replace(from, to);
                    target["expr"] = Value::String(expr);
                    renamed += 1;
                }
            }
        }
        if let Some(nested) = panel.get_mut("panels").and_then(Value::as_array_mut) {
            stack.extend(nested.iter_mut());
        }
    }
    assert!(renamed > 0, "no panel {title:?}");
    copy
}

#[test]
fn dashboard_is_importable_and_templated_by_namespace_component_endpoint_and_instance() {
    let dashboard = dashboard(DASHBOARD);
    assert_eq!(dashboard["uid"], "dynamo-worker");
    assert_eq!(dashboard["title"], "Dynamo worker");
    let names: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "datasource",
            "namespace",
            "component",
            "endpoint",
            "instance"
        ]
    );
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "ids are unique");
        let grid = &panel["gridPos"];
        assert!(grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24);
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
            for target in panel["targets"].as_array().unwrap() {
                assert_eq!(target["datasource"]["uid"], "${datasource}");
            }
        }
    }
    let titles: Vec<String> = panels(&dashboard).into_iter().map(|p| p.title).collect();
    for wanted in [
        "Request rate",
        "Error ratio",
        "Latency quantiles",
        "Requests in flight",
        "CPU",
        "Memory",
        "Uptime",
        "Series per metric",
    ] {
        assert!(titles.iter().any(|t| t == wanted), "no panel {wanted:?}");
    }
    // Every selector of a worker's series is filtered by the variables of its level.
    for panel in panels(&dashboard) {
        for target in &panel.targets {
            assert!(
                target.expr.contains(r#"instance=~"$instance""#),
                "{}",
                target.expr
            );
            if target.expr.contains("dynamo_component_") && !target.expr.contains("uptime") {
                for variable in ["namespace", "component", "endpoint"] {
                    let filter = format!(r#"dynamo_{variable}=~"${variable}""#);
                    assert!(target.expr.contains(&filter), "{}", target.expr);
                }
            }
        }
    }
    // The shipped scrape configuration names the job the dashboard and rules select.
    assert!(PROMETHEUS_CONFIG.contains(&format!("job_name: {JOB}\n")));
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = |expr: &str| metric_names(expr).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (le, dynamo_endpoint) (rate(dynamo_component_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))"#
        ),
        ["dynamo_component_request_duration_seconds_bucket"]
    );
    assert_eq!(
        names("(errors or requests * 0) / on (a, b) group_left (c) requests offset 1h > bool 0.5"),
        ["errors", "requests"]
    );
    assert_eq!(
        names(r#"sort_desc(count by (__name__) ({job="dynamo", __name__=~"dynamo_.+"}))"#),
        Vec::<String>::new()
    );
    assert_eq!(
        names("dynamo_endpoint:requests:rate5m > 0.1 and up == 0"),
        ["dynamo_endpoint:requests:rate5m", "up"]
    );
    assert_eq!(
        names("sum(rate(a_total[5m])) without (instance) / 2e3"),
        ["a_total"]
    );
}

#[test]
fn variables_are_substituted_as_grafana_does() {
    let variables = vec![
        ("instance".to_string(), vec!["127.0.0.1:8081".to_string()]),
        (
            "endpoint".to_string(),
            vec!["generate".to_string(), "embed".to_string()],
        ),
    ];
    assert_eq!(
        substitute(
            r#"rate(x{instance=~"$instance", dynamo_endpoint=~"${endpoint}"}[$__rate_interval])"#,
            "15s",
            &variables
        ),
        r#"rate(x{instance=~"127\\.0\\.0\\.1:8081", dynamo_endpoint=~"generate|embed"}[15s])"#
    );
    assert_eq!(
        label_values_query(r#"label_values(up{job="dynamo"}, instance)"#),
        Some((
            Some(r#"up{job="dynamo"}"#.to_string()),
            "instance".to_string()
        ))
    );
    assert_eq!(
        label_values_query("label_values(dynamo_namespace)"),
        Some((None, "dynamo_namespace".to_string()))
    );
    assert_eq!(
        legend_labels("p95 {{dynamo_endpoint}} on {{ instance }}"),
        ["dynamo_endpoint", "instance"]
    );
}
