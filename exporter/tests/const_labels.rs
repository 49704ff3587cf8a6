//! Labels the registry adds to every series at scrape time, never over a series' own.

use dynamo_exporter::{ExporterError, Opts, Registry};

#[test]
fn every_kind_of_series_gets_the_labels_it_lacks() {
    let registry = Registry::new();
    registry
        .set_const_labels(&[("cluster", "us-west"), ("team", "in\"fer")])
        .unwrap();
    registry
        .int_counter(&Opts::new("scalar_total", "S").with_const_labels(&[("team", "own")]))
        .unwrap()
        .inc();
    let contiguous = registry
        .gauge_vec(
            &Opts::new("vec", "V").with_const_labels(&[("a", "1")]),
            &["model"],
        )
        .unwrap();
    contiguous.with_label_values(&["llama"]).set(2.0);
    let interleaved = registry
        .int_gauge_vec(&Opts::new("mixed", "M"), &["zone", "az"])
        .unwrap();
    interleaved.with_label_values(&["z1", "b"]).set(3);
    let histogram = registry
        .histogram(&Opts::new("h", "H"), Some(&[1.0]))
        .unwrap();
    histogram.observe(0.5);
    let bounded = registry
        .int_counter_vec(&Opts::new("b", "B"), &["id"])
        .unwrap();
    bounded.set_max_series(1);
    bounded.with_label_values(&["1"]).inc();
    bounded.with_label_values(&["2"]).inc();
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP b B\n",
            "# TYPE b counter\n",
            "b{cluster=\"us-west\",id=\"1\",team=\"in\\\"fer\"} 1\n",
            "b{cluster=\"us-west\",otel_metric_overflow=\"true\",team=\"in\\\"fer\"} 1\n",
            "# HELP h H\n",
            "# TYPE h histogram\n",
            "h_bucket{cluster=\"us-west\",team=\"in\\\"fer\",le=\"1\"} 1\n",
            "h_bucket{cluster=\"us-west\",team=\"in\\\"fer\",le=\"+Inf\"} 1\n",
            "h_sum{cluster=\"us-west\",team=\"in\\\"fer\"} 0.5\n",
            "h_count{cluster=\"us-west\",team=\"in\\\"fer\"} 1\n",
            "# HELP mixed M\n",
            "# TYPE mixed gauge\n",
            "mixed{az=\"b\",cluster=\"us-west\",team=\"in\\\"fer\",zone=\"z1\"} 3\n",
            "# HELP scalar_total S\n",
            "# TYPE scalar_total counter\n",
            "scalar_total{cluster=\"us-west\",team=\"own\"} 1\n",
            "# HELP vec V\n",
            "# TYPE vec gauge\n",
            "vec{a=\"1\",cluster=\"us-west\",model=\"llama\",team=\"in\\\"fer\"} 2\n",
        )
    );
}

#[test]
fn a_variable_label_of_the_same_name_wins() {
    let registry = Registry::new();
    registry.set_const_labels(&[("model", "default")]).unwrap();
    let vec = registry
        .int_counter_vec(&Opts::new("c", "C"), &["model"])
        .unwrap();
    vec.with_label_values(&["llama"]).inc();
    assert_eq!(
        registry.render(),
        "# HELP c C\n# TYPE c counter\nc{model=\"llama\"} 1\n"
    );
}

#[test]
fn names_that_would_break_a_family_are_refused() {
    let registry = Registry::new();
    for bad in ["le", "quantile", "__x", "9a", "otel_metric_overflow", "a-b"] {
        let error = registry.set_const_labels(&[(bad, "v")]).unwrap_err();
        assert!(
            matches!(&error, ExporterError::InvalidLabelName { label, .. } if label == bad),
            "{bad}: {error}"
        );
    }
    assert!(matches!(
        registry.set_const_labels(&[("a", "1"), ("a", "2")]),
        Err(ExporterError::DuplicateLabel { .. })
    ));
    assert!(registry.const_labels().is_empty(), "nothing was kept");
}
