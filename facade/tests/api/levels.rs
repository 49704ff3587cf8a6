//! Metrics created at every hierarchy level, and each level's exposition text.

use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, Metrics};

fn runtime() -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| Duration::from_millis(1500))
        .build()
        .unwrap()
}

/// Creates one metric of every kind and gives each a value.
fn create_every_kind(metrics: &Metrics) {
    metrics
        .create_counter("c_total", "F64 counter", &[])
        .unwrap()
        .inc_by(123.456789);
    metrics
        .create_intcounter("ic_total", "Int counter", &[])
        .unwrap()
        .inc_by(3);
    metrics
        .create_gauge("g", "F64 gauge", &[])
        .unwrap()
        .set(2.5);
    metrics
        .create_intgauge("ig", "Int gauge", &[])
        .unwrap()
        .set(-4);
    metrics
        .create_histogram("h", "Histogram", &[], Some(vec![1.0, 2.0]))
        .unwrap()
        .observe(1.5);
    let cv = metrics
        .create_countervec("cv_total", "F64 counters", &["k"], &[])
        .unwrap();
    cv.with_label_values(&["a"]).inc();
    let icv = metrics
        .create_intcountervec("icv_total", "Int counters", &["k"], &[])
        .unwrap();
    icv.with_label_values(&["a"]).inc_by(7);
    let gv = metrics
        .create_gaugevec("gv", "F64 gauges", &["k"], &[])
        .unwrap();
    gv.with_label_values(&["a"]).set(0.25);
    let igv = metrics
        .create_intgaugevec("igv", "Int gauges", &["k"], &[])
        .unwrap();
    igv.with_label_values(&["a"]).set(9);
    let hv = metrics
        .create_histogramvec("hv", "Histograms", &["k"], &[], Some(vec![1.0]))
        .unwrap();
    hv.with_label_values(&["a"]).observe(3.0);
}

/// The text [`create_every_kind`] renders, for a level whose label pairs are `labels`
/// (`a="x",b="y"`, or empty at the runtime level).
fn every_kind_text(labels: &str) -> String {
    let braces = |extra: &str| match (labels.is_empty(), extra.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("{{{extra}}}"),
        (false, true) => format!("{{{labels}}}"),
        (false, false) => format!("{{{labels},{extra}}}"),
    };
    // Hierarchy labels start with `dynamo_`, which sorts before `k` and `le`.
    let k = braces("k=\"a\"");
    let none = braces("");
    [
        "# HELP dynamo_component_c_total F64 counter".to_string(),
        "# TYPE dynamo_component_c_total counter".into(),
        format!("dynamo_component_c_total{none} 123.456789"),
        "# HELP dynamo_component_cv_total F64 counters".into(),
        "# TYPE dynamo_component_cv_total counter".into(),
        format!("dynamo_component_cv_total{k} 1"),
        "# HELP dynamo_component_g F64 gauge".into(),
        "# TYPE dynamo_component_g gauge".into(),
        format!("dynamo_component_g{none} 2.5"),
        "# HELP dynamo_component_gv F64 gauges".into(),
        "# TYPE dynamo_component_gv gauge".into(),
        format!("dynamo_component_gv{k} 0.25"),
        "# HELP dynamo_component_h Histogram".into(),
        "# TYPE dynamo_component_h histogram".into(),
        format!("dynamo_component_h_bucket{} 0", braces("le=\"1\"")),
        format!("dynamo_component_h_bucket{} 1", braces("le=\"2\"")),
        format!("dynamo_component_h_bucket{} 1", braces("le=\"+Inf\"")),
        format!("dynamo_component_h_sum{none} 1.5"),
        format!("dynamo_component_h_count{none} 1"),
        "# HELP dynamo_component_hv Histograms".into(),
        "# TYPE dynamo_component_hv histogram".into(),
        format!("dynamo_component_hv_bucket{} 0", braces("k=\"a\",le=\"1\"")),
        format!(
            "dynamo_component_hv_bucket{} 1",
            braces("k=\"a\",le=\"+Inf\"")
        ),
        format!("dynamo_component_hv_sum{k} 3"),
        format!("dynamo_component_hv_count{k} 1"),
        "# HELP dynamo_component_ic_total Int counter".into(),
        "# TYPE dynamo_component_ic_total counter".into(),
        format!("dynamo_component_ic_total{none} 3"),
        "# HELP dynamo_component_icv_total Int counters".into(),
        "# TYPE dynamo_component_icv_total counter".into(),
        format!("dynamo_component_icv_total{k} 7"),
        "# HELP dynamo_component_ig Int gauge".into(),
        "# TYPE dynamo_component_ig gauge".into(),
        format!("dynamo_component_ig{none} -4"),
        "# HELP dynamo_component_igv Int gauges".into(),
        "# TYPE dynamo_component_igv gauge".into(),
        format!("dynamo_component_igv{k} 9"),
    ]
    .iter()
    .map(|line| format!("{line}\n"))
    .collect()
}

#[test]
fn renders_every_kind_at_endpoint_level() {
    let rt = runtime();
    let endpoint = rt.namespace("ns").component("comp").endpoint("ep");
    create_every_kind(&endpoint.metrics());
    let labels = "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";
    assert_eq!(
        endpoint.metrics().prometheus_expfmt().unwrap(),
        every_kind_text(labels)
    );
}

#[test]
fn renders_every_kind_at_component_level() {
    let rt = runtime();
    let component = rt.namespace("ns").component("comp");
    create_every_kind(&component.metrics());
    let labels = "dynamo_component=\"comp\",dynamo_namespace=\"ns\"";
    assert_eq!(
        component.metrics().prometheus_expfmt().unwrap(),
        every_kind_text(labels)
    );
}

#[test]
fn renders_every_kind_at_namespace_level() {
    let rt = runtime();
    let namespace = rt.namespace("ns");
    create_every_kind(&namespace.metrics());
    assert_eq!(
        namespace.metrics().prometheus_expfmt().unwrap(),
        every_kind_text("dynamo_namespace=\"ns\"")
    );
}

#[test]
fn renders_every_kind_at_runtime_level_with_builtin_metrics() {
    let rt = runtime();
    create_every_kind(&rt.metrics());
    // Families sort by name: `uptime_…` comes after `igv`, and the library's own
    // `dynamo_metrics_…` after every `dynamo_component_…`.
    let expected = every_kind_text("")
        + concat!(
            "# HELP dynamo_component_uptime_seconds Total uptime of the DistributedRuntime in seconds\n",
            "# TYPE dynamo_component_uptime_seconds gauge\n",
            "dynamo_component_uptime_seconds 1.5\n",
            "# HELP dynamo_metrics_callback_text_dropped_total Texts returned by exposition callbacks and left off the page, because a line did not parse, a family was already on the page, or the text was longer than the limit\n",
            "# TYPE dynamo_metrics_callback_text_dropped_total counter\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"conflict\"} 0\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"invalid\"} 0\n",
            "dynamo_metrics_callback_text_dropped_total{reason=\"too_large\"} 0\n",
            "# HELP dynamo_metrics_macro_rejections_total Metric macro calls refused because they ",
            "broke a naming rule or conflicted with a registered metric\n",
            "# TYPE dynamo_metrics_macro_rejections_total counter\n",
            "dynamo_metrics_macro_rejections_total 0\n",
        );
    assert_eq!(rt.metrics().prometheus_expfmt().unwrap(), expected);
}

#[test]
fn level_text_holds_own_and_descendant_metrics_only() {
    let rt = runtime();
    let ns = rt.namespace("ns");
    ns.metrics()
        .create_intgauge("level", "Level", &[])
        .unwrap()
        .set(1);
    ns.component("a")
        .metrics()
        .create_intgauge("level", "Level", &[])
        .unwrap()
        .set(2);
    ns.component("a")
        .endpoint("e")
        .metrics()
        .create_intgauge("level", "Level", &[])
        .unwrap()
        .set(3);
    ns.component("b")
        .metrics()
        .create_intgauge("level", "Level", &[])
        .unwrap()
        .set(4);
    rt.namespace("other")
        .metrics()
        .create_intgauge("level", "Level", &[])
        .unwrap()
        .set(5);
    assert_eq!(
        ns.component("a").metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_level Level\n",
            "# TYPE dynamo_component_level gauge\n",
            "dynamo_component_level{dynamo_component=\"a\",dynamo_endpoint=\"e\",dynamo_namespace=\"ns\"} 3\n",
            "dynamo_component_level{dynamo_component=\"a\",dynamo_namespace=\"ns\"} 2\n",
        )
    );
    assert_eq!(
        ns.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_level Level\n",
            "# TYPE dynamo_component_level gauge\n",
            "dynamo_component_level{dynamo_component=\"a\",dynamo_endpoint=\"e\",dynamo_namespace=\"ns\"} 3\n",
            "dynamo_component_level{dynamo_component=\"a\",dynamo_namespace=\"ns\"} 2\n",
            "dynamo_component_level{dynamo_component=\"b\",dynamo_namespace=\"ns\"} 4\n",
            "dynamo_component_level{dynamo_namespace=\"ns\"} 1\n",
        )
    );
}

#[test]
fn two_endpoints_sharing_a_name_render_one_family() {
    let rt = runtime();
    let component = rt.namespace("ns").component("comp");
    for (endpoint, n) in [("generate", 2), ("health", 1)] {
        let metrics = component.endpoint(endpoint).metrics();
        metrics
            .create_intcounter("requests_total", "Requests", &[])
            .unwrap()
            .inc_by(n);
    }
    assert_eq!(
        component.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_requests_total Requests\n",
            "# TYPE dynamo_component_requests_total counter\n",
            "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"generate\",dynamo_namespace=\"ns\"} 2\n",
            "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"health\",dynamo_namespace=\"ns\"} 1\n",
        )
    );
}

#[test]
fn two_handles_for_one_path_are_the_same_place() {
    let rt = runtime();
    let first = rt.namespace("ns").component("comp");
    first
        .metrics()
        .create_intcounter("x_total", "X", &[])
        .unwrap()
        .inc();
    let second = rt.namespace("ns").component("comp");
    assert_eq!(
        first.metrics().prometheus_expfmt().unwrap(),
        second.metrics().prometheus_expfmt().unwrap()
    );
    let err = second
        .metrics()
        .create_intcounter("x_total", "X", &[])
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
}

#[test]
fn sanitizes_hierarchy_names_into_label_values() {
    let rt = runtime();
    let endpoint = rt
        .namespace("test-namespace")
        .component("@@123")
        .endpoint("__test");
    let g = endpoint.metrics().create_intgauge("g", "G", &[]).unwrap();
    assert_eq!(
        g.const_labels(),
        owned(&[
            ("dynamo_component", "_123"),
            ("dynamo_endpoint", "test"),
            ("dynamo_namespace", "test_namespace")
        ])
    );
    assert_eq!(
        endpoint.hierarchy_labels(),
        [
            ("dynamo_namespace", "test_namespace"),
            ("dynamo_component", "_123"),
            ("dynamo_endpoint", "test")
        ]
    );
}

#[test]
fn sanitizes_metric_names() {
    let rt = runtime();
    let metrics = rt.namespace("ns").metrics();
    assert_eq!(
        metrics
            .create_intgauge("métrique", "M", &[])
            .unwrap()
            .name(),
        "dynamo_component_m_trique"
    );
    assert_eq!(
        metrics.create_intgauge("9lives", "L", &[]).unwrap().name(),
        "dynamo_component__9lives"
    );
}

#[test]
fn introspects_names_and_labels() {
    let rt = runtime();
    let endpoint = rt
        .namespace("my_namespace")
        .component("my_component")
        .endpoint("my_endpoint");
    let counter = endpoint
        .metrics()
        .create_intcounter(
            "requests_total",
            "Total requests",
            &[("region", "us-west"), ("env", "prod")],
        )
        .unwrap();
    assert_eq!(counter.name(), "dynamo_component_requests_total");
    assert_eq!(
        counter.const_labels(),
        owned(&[
            ("dynamo_component", "my_component"),
            ("dynamo_endpoint", "my_endpoint"),
            ("dynamo_namespace", "my_namespace"),
            ("env", "prod"),
            ("region", "us-west"),
        ])
    );
    let vec = endpoint
        .metrics()
        .create_gaugevec(
            "gpu_memory_bytes",
            "GPU memory",
            &["model_type", "model_size"],
            &[],
        )
        .unwrap();
    assert_eq!(vec.name(), "dynamo_component_gpu_memory_bytes");
    assert_eq!(vec.variable_labels(), ["model_type", "model_size"]);
    assert_eq!(vec.const_labels().len(), 3);
    let child = vec.with_label_values(&["llama", "7b"]);
    assert_eq!(child.name(), vec.name());
}

#[test]
fn gauge_and_histogram_operations() {
    let rt = runtime();
    let m = rt.namespace("ns").metrics();
    let g = m.create_gauge("g", "G", &[]).unwrap();
    g.set(1.0);
    g.inc();
    g.dec();
    g.add(2.5);
    g.sub(0.5);
    g.inc_by(1.0);
    g.dec_by(2.0);
    assert_eq!(g.get(), 2.0);
    let ig = m.create_intgauge("ig", "IG", &[]).unwrap();
    ig.set(10);
    ig.inc();
    ig.dec();
    ig.add(5);
    ig.sub(3);
    assert_eq!(ig.get(), 12);
    let h = m.create_histogram("h", "H", &[], None).unwrap();
    h.observe(0.5);
    h.observe(0.25);
    assert_eq!((h.get_count(), h.get_sum()), (2, 0.75));
    assert_eq!(h.buckets(), dynamo_runtime::DEFAULT_BUCKETS);
}

#[test]
fn callbacks_run_before_each_level_scrape() {
    let rt = runtime();
    let ns = rt.namespace("ns");
    let endpoint = ns.component("comp").endpoint("ep");
    let scrapes = endpoint
        .metrics()
        .create_intcounter("scrapes_total", "Scrapes", &[])
        .unwrap();
    let counted = scrapes.clone();
    endpoint
        .metrics()
        .register_callback(move || -> Result<(), String> {
            counted.inc();
            Ok(())
        });
    ns.metrics()
        .register_callback(|| Err::<(), _>("fails, and is skipped"));
    rt.namespace("other")
        .metrics()
        .register_callback(|| -> Result<(), String> { panic!("never runs for ns") });
    ns.metrics().register_prometheus_expfmt_callback(|| {
        Ok::<_, String>("# TYPE extra gauge\nextra 1".to_string())
    });
    assert_eq!(
        ns.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_scrapes_total Scrapes\n",
            "# TYPE dynamo_component_scrapes_total counter\n",
            "dynamo_component_scrapes_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 1\n",
            "# TYPE extra gauge\n",
            "extra 1\n",
        )
    );
    // The endpoint's scrape runs the endpoint's callback, not the namespace's text callback.
    assert_eq!(
        endpoint.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_scrapes_total Scrapes\n",
            "# TYPE dynamo_component_scrapes_total counter\n",
            "dynamo_component_scrapes_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 2\n",
        )
    );
}

/// Label pairs as handles report them.
fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
