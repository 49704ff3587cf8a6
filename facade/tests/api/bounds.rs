//! How many series a metric may hold: the default, the setting, a vec's own bound, and the
//! overflow series new label sets fold into past it, at every level.

use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, ExporterError, MAX_BUCKETS, Metrics, MetricsError};

fn builder() -> dynamo_runtime::RuntimeBuilder {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| Duration::from_millis(1500))
}

fn with_env(vars: &'static [(&'static str, &'static str)]) -> dynamo_runtime::RuntimeBuilder {
    builder().system_server_env(move |name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| (*value).to_string())
    })
}

fn levels(rt: &DistributedRuntime) -> Vec<(Metrics, &'static str)> {
    let ns = rt.namespace("ns");
    let ep = ns.component("comp").endpoint("ep");
    vec![
        (rt.metrics(), ""),
        (ns.metrics(), "dynamo_namespace=\"ns\","),
        (
            ep.metrics(),
            "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",",
        ),
    ]
}

/// The lines of `text` that belong to `family` (its HELP, TYPE and samples).
fn family(text: &str, family: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            line.strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
                .unwrap_or(line)
                .starts_with(family)
        })
        .collect()
}

#[test]
fn past_the_bound_new_label_sets_share_one_marked_series_at_every_level() {
    let rt = with_env(&[("DYN_METRICS_MAX_SERIES", "2")])
        .build()
        .unwrap();
    for (metrics, labels) in levels(&rt) {
        let by_worker = metrics
            .create_intcountervec("served_total", "Served", &["worker"], &[])
            .unwrap();
        assert_eq!(by_worker.max_series(), 2);
        for worker in ["w1", "w2", "w3", "w4", "w1"] {
            by_worker.with_label_values(&[worker]).inc();
        }
        let text = metrics.prometheus_expfmt().unwrap();
        let braces = if labels.is_empty() { "" } else { labels };
        assert_eq!(
            family(&text, "dynamo_component_served_total"),
            format!(
                "# HELP dynamo_component_served_total Served\n\
                 # TYPE dynamo_component_served_total counter\n\
                 dynamo_component_served_total{{{braces}otel_metric_overflow=\"true\"}} 2\n\
                 dynamo_component_served_total{{{labels}worker=\"w1\"}} 2\n\
                 dynamo_component_served_total{{{labels}worker=\"w2\"}} 1\n"
            )
        );
        // Removing a series makes room for a new one.
        by_worker.remove_label_values(&["w2"]).unwrap();
        by_worker.with_label_values(&["w5"]).inc();
        assert!(
            metrics
                .prometheus_expfmt()
                .unwrap()
                .contains(&format!("{{{labels}worker=\"w5\"}} 1\n"))
        );
        metrics.unregister(&by_worker).unwrap();
    }
    // Each folded lookup is counted by metric, at the runtime level.
    assert_eq!(
        family(
            &rt.metrics().prometheus_expfmt().unwrap(),
            "dynamo_metrics_series_overflow_total"
        ),
        concat!(
            "# HELP dynamo_metrics_series_overflow_total New label sets folded into a metric's overflow series because the metric reached its series bound\n",
            "# TYPE dynamo_metrics_series_overflow_total counter\n",
            "dynamo_metrics_series_overflow_total{metric=\"dynamo_component_served_total\"} 6\n",
        )
    );
}

#[test]
fn the_bound_is_ten_thousand_unless_set_and_a_vec_can_have_its_own() {
    let rt = builder().build().unwrap();
    let vec = rt.metrics().create_gaugevec("g", "G", &["k"], &[]).unwrap();
    assert_eq!(vec.max_series(), 10_000);
    for i in 0..10_001 {
        vec.with_label_values(&[i.to_string()]).set(1.0);
    }
    assert_eq!(vec.series_count(), 10_000);
    vec.set_max_series(0);
    vec.with_label_values(&["more"]).set(1.0);
    assert_eq!(vec.series_count(), 10_001, "0 means no bound");

    let rt = builder().max_series(1).build().unwrap();
    let vec = rt.metrics().create_gaugevec("g", "G", &["k"], &[]).unwrap();
    assert_eq!(vec.max_series(), 1);
    let unbounded = with_env(&[("DYN_METRICS_MAX_SERIES", "0")])
        .build()
        .unwrap();
    let vec = unbounded
        .metrics()
        .create_gaugevec("g", "G", &["k"], &[])
        .unwrap();
    assert_eq!(vec.max_series(), 0);
}

#[test]
fn bad_bounds_and_idle_timeouts_are_clear_errors_naming_the_variable() {
    let cases: [(&'static [(&'static str, &'static str)], &str); 3] = [
        (
            &[("DYN_METRICS_MAX_SERIES", "-5")],
            "DYN_METRICS_MAX_SERIES=\"-5\" is invalid: expected a whole number of series (0 for no bound)",
        ),
        (
            &[("DYN_METRICS_MAX_SERIES", "1e6")],
            "DYN_METRICS_MAX_SERIES=\"1e6\" is invalid: expected a whole number of series (0 for no bound)",
        ),
        (
            &[("DYN_METRICS_IDLE_TIMEOUT", "5 minutes")],
            "DYN_METRICS_IDLE_TIMEOUT=\"5 minutes\" is invalid: expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)",
        ),
    ];
    for (env, message) in cases {
        let error = with_env(env).build().unwrap_err();
        assert!(matches!(error, MetricsError::InvalidEnv { .. }), "{error}");
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn histograms_may_have_at_most_the_bucket_limit() {
    let rt = builder().build().unwrap();
    let metrics = rt.metrics();
    let too_many: Vec<f64> = (0..=MAX_BUCKETS).map(|i| i as f64).collect();
    let error = metrics
        .create_histogram("h", "H", &[], Some(too_many.clone()))
        .unwrap_err();
    assert!(matches!(
        &error,
        MetricsError::Registry(ExporterError::TooManyBuckets {
            count: 513,
            max: 512,
            ..
        })
    ));
    assert_eq!(
        error.to_string(),
        "metric \"dynamo_component_h\": 513 buckets is more than the 512 a histogram may have"
    );
    let error = metrics
        .create_histogramvec("hv", "H", &["k"], &[], Some(too_many))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "metric \"dynamo_component_hv\": 513 buckets is more than the 512 a histogram may have"
    );
    let at_the_limit = metrics
        .create_histogram("h", "H", &[], Some(too_many_minus_one()))
        .unwrap();
    assert_eq!(at_the_limit.buckets().len(), MAX_BUCKETS);
}

fn too_many_minus_one() -> Vec<f64> {
    (0..MAX_BUCKETS).map(|i| i as f64).collect()
}
