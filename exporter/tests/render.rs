//! The exposition text of every metric type, compared whole.

use dynamo_exporter::{Opts, Registry};

#[test]
fn renders_f64_counter_with_shortest_round_trip_value() {
    let registry = Registry::new();
    let counter = registry
        .counter(&Opts::new("bytes_total", "Bytes"))
        .unwrap();
    counter.inc_by(123.456789);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP bytes_total Bytes\n",
            "# TYPE bytes_total counter\n",
            "bytes_total 123.456789\n"
        )
    );
}

#[test]
fn renders_whole_values_without_fraction() {
    let registry = Registry::new();
    registry.gauge(&Opts::new("g", "G")).unwrap().set(50000.0);
    registry.int_gauge(&Opts::new("i", "I")).unwrap().set(-7);
    registry
        .int_counter(&Opts::new("u", "U"))
        .unwrap()
        .inc_by(u64::MAX);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP g G\n",
            "# TYPE g gauge\n",
            "g 50000\n",
            "# HELP i I\n",
            "# TYPE i gauge\n",
            "i -7\n",
            "# HELP u U\n",
            "# TYPE u counter\n",
            "u 18446744073709551615\n",
        )
    );
}

#[test]
fn renders_special_float_values() {
    let registry = Registry::new();
    let gauges = registry.gauge_vec(&Opts::new("g", "G"), &["v"]).unwrap();
    gauges.with_label_values(&["inf"]).set(f64::INFINITY);
    gauges.with_label_values(&["nan"]).set(f64::NAN);
    gauges.with_label_values(&["neg"]).set(f64::NEG_INFINITY);
    gauges.with_label_values(&["small"]).set(1e-7);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP g G\n",
            "# TYPE g gauge\n",
            "g{v=\"inf\"} +Inf\n",
            "g{v=\"nan\"} NaN\n",
            "g{v=\"neg\"} -Inf\n",
            "g{v=\"small\"} 1e-7\n",
        )
    );
}

#[test]
fn renders_default_bucket_histogram() {
    let registry = Registry::new();
    let h = registry.histogram(&Opts::new("h", "H"), None).unwrap();
    for v in [1.0, 2.5, 4.0] {
        h.observe(v);
    }
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP h H\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"0.005\"} 0\n",
            "h_bucket{le=\"0.01\"} 0\n",
            "h_bucket{le=\"0.025\"} 0\n",
            "h_bucket{le=\"0.05\"} 0\n",
            "h_bucket{le=\"0.1\"} 0\n",
            "h_bucket{le=\"0.25\"} 0\n",
            "h_bucket{le=\"0.5\"} 0\n",
            "h_bucket{le=\"1\"} 1\n",
            "h_bucket{le=\"2.5\"} 2\n",
            "h_bucket{le=\"5\"} 3\n",
            "h_bucket{le=\"10\"} 3\n",
            "h_bucket{le=\"+Inf\"} 3\n",
            "h_sum 7.5\n",
            "h_count 3\n",
        )
    );
    assert_eq!((h.get_count(), h.get_sum()), (3, 7.5));
}

#[test]
fn histogram_puts_le_last_and_nan_in_inf_bucket() {
    let registry = Registry::new();
    let h = registry
        .histogram_vec(
            &Opts::new("h", "H").with_const_labels(&[("z", "1")]),
            &["a"],
            Some(&[1.0, f64::INFINITY]),
        )
        .unwrap();
    let child = h.with_label_values(&["x"]);
    child.observe(1.0);
    child.observe(f64::NAN);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP h H\n",
            "# TYPE h histogram\n",
            "h_bucket{a=\"x\",z=\"1\",le=\"1\"} 1\n",
            "h_bucket{a=\"x\",z=\"1\",le=\"+Inf\"} 2\n",
            "h_sum{a=\"x\",z=\"1\"} NaN\n",
            "h_count{a=\"x\",z=\"1\"} 2\n",
        )
    );
}

#[test]
fn escapes_label_values_and_help() {
    let registry = Registry::new();
    let c = registry
        .int_counter_vec(&Opts::new("c", "Line one\nback\\slash \"quoted\""), &["v"])
        .unwrap();
    c.with_label_values(&["say \"hi\""]).inc();
    c.with_label_values(&["C:\\path"]).inc();
    c.with_label_values(&["two\nlines"]).inc();
    c.with_label_values(&[""]).inc();
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP c Line one\\nback\\\\slash \"quoted\"\n",
            "# TYPE c counter\n",
            "c{v=\"\"} 1\n",
            "c{v=\"C:\\\\path\"} 1\n",
            "c{v=\"say \\\"hi\\\"\"} 1\n",
            "c{v=\"two\\nlines\"} 1\n",
        )
    );
}

#[test]
fn sorts_families_by_name_and_series_by_label_pairs() {
    let registry = Registry::new();
    let b = registry
        .int_gauge_vec(&Opts::new("b", "B"), &["x", "y"])
        .unwrap();
    b.with_label_values(&["2", "a"]).set(1);
    b.with_label_values(&["10", "b"]).set(2);
    b.with_label_values(&["x!", "c"]).set(3);
    b.with_label_values(&["x", "d"]).set(4);
    registry.int_gauge(&Opts::new("a", "A")).unwrap().set(5);
    // Series with fewer labels sort by their pairs too: ("x","1") < ("y","0").
    registry
        .int_gauge(&Opts::new("b", "B").with_const_labels(&[("y", "0")]))
        .unwrap()
        .set(6);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP a A\n",
            "# TYPE a gauge\n",
            "a 5\n",
            "# HELP b B\n",
            "# TYPE b gauge\n",
            "b{x=\"10\",y=\"b\"} 2\n",
            "b{x=\"2\",y=\"a\"} 1\n",
            "b{x=\"x\",y=\"d\"} 4\n",
            "b{x=\"x!\",y=\"c\"} 3\n",
            "b{y=\"0\"} 6\n",
        )
    );
}

#[test]
fn series_added_after_a_render_are_merged_in_order() {
    let registry = Registry::new();
    let v = registry
        .int_counter_vec(&Opts::new("v", "V"), &["k"])
        .unwrap();
    v.with_label_values(&["b"]).inc();
    v.with_label_values(&["d"]).inc();
    let _ = registry.render();
    v.with_label_values(&["c"]).inc();
    v.with_label_values(&["a"]).inc();
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP v V\n",
            "# TYPE v counter\n",
            "v{k=\"a\"} 1\n",
            "v{k=\"b\"} 1\n",
            "v{k=\"c\"} 1\n",
            "v{k=\"d\"} 1\n",
        )
    );
}

#[test]
fn omits_families_without_series() {
    let registry = Registry::new();
    let _unused = registry
        .counter_vec(&Opts::new("empty", "Nothing yet"), &["k"])
        .unwrap();
    assert_eq!(registry.render(), "");
}

#[test]
fn renders_only_series_with_required_const_labels() {
    let registry = Registry::new();
    registry
        .int_gauge(&Opts::new("g", "G").with_const_labels(&[("ns", "a")]))
        .unwrap()
        .set(1);
    registry
        .int_gauge(&Opts::new("g", "G").with_const_labels(&[("ns", "b")]))
        .unwrap()
        .set(2);
    registry
        .int_gauge(&Opts::new("h", "H").with_const_labels(&[("ns", "b")]))
        .unwrap()
        .set(3);
    let mut out = String::new();
    registry.render_into(&[("ns", "a")], &mut out);
    assert_eq!(
        out,
        concat!("# HELP g G\n", "# TYPE g gauge\n", "g{ns=\"a\"} 1\n")
    );
}

#[test]
fn vec_lookup_returns_the_same_series() {
    let registry = Registry::new();
    let v = registry
        .counter_vec(&Opts::new("v", "V"), &["a", "b"])
        .unwrap();
    v.with_label_values(&["x", "y"]).inc();
    v.with_label_values(&[String::from("x"), String::from("y")])
        .inc_by(0.5);
    assert_eq!(v.with_label_values(&["x", "y"]).get(), 1.5);
    assert_eq!(v.with_label_values(&["y", "x"]).get(), 0.0);
}

#[test]
fn wrong_number_of_label_values_is_an_error_and_a_noop() {
    let registry = Registry::new();
    let v = registry
        .int_counter_vec(&Opts::new("v", "V"), &["a", "b"])
        .unwrap();
    let err = v.get_metric_with_label_values(&["x"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "metric \"v\" takes label values for [\"a\", \"b\"], got 1 value(s)"
    );
    v.with_label_values(&["x", "y", "z"]).inc();
    assert_eq!(registry.render(), "");
}

#[test]
fn int_and_float_metrics_share_a_family() {
    let registry = Registry::new();
    registry
        .int_counter(&Opts::new("c", "C").with_const_labels(&[("k", "i")]))
        .unwrap()
        .inc();
    registry
        .counter(&Opts::new("c", "C").with_const_labels(&[("k", "f")]))
        .unwrap()
        .inc_by(0.5);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP c C\n",
            "# TYPE c counter\n",
            "c{k=\"f\"} 0.5\n",
            "c{k=\"i\"} 1\n"
        )
    );
}

#[test]
fn negative_and_nan_counter_increments_are_ignored() {
    let registry = Registry::new();
    let c = registry.counter(&Opts::new("c", "C")).unwrap();
    c.inc_by(2.0);
    c.inc_by(-1.0);
    c.inc_by(f64::NAN);
    assert_eq!(c.get(), 2.0);
}

#[test]
fn counter_adds_whole_and_fractional_increments() {
    let registry = Registry::new();
    let c = registry.counter(&Opts::new("c", "C")).unwrap();
    c.inc();
    c.inc_by(0.25);
    c.inc_by(2.0);
    c.inc_by(1e300);
    c.inc_by(0.0);
    assert_eq!(c.get(), 3.25 + 1e300);
    let small = registry.counter(&Opts::new("s", "S")).unwrap();
    small.inc_by(0.1);
    small.inc();
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP c C\n",
            "# TYPE c counter\n",
            "c 1e300\n",
            "# HELP s S\n",
            "# TYPE s counter\n",
            "s 1.1\n",
        )
    );
}
