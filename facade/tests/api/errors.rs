//! Every naming and registration rule refused at creation, with a message naming the value,
//! and the scrape left as it was.

use dynamo_runtime::{DistributedRuntime, Endpoint, MetricsError};

fn endpoint() -> Endpoint {
    let rt = DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap();
    let endpoint = rt.namespace("ns").component("comp").endpoint("ep");
    let existing = endpoint
        .metrics()
        .create_intcounter("requests_total", "Total requests", &[])
        .unwrap();
    existing.inc();
    endpoint
}

/// Checks that `create` fails with `message`, and that the endpoint's scrape is unchanged.
fn assert_refused<T: std::fmt::Debug>(
    create: impl FnOnce(&Endpoint) -> Result<T, MetricsError>,
    message: &str,
    conflict: bool,
) {
    let endpoint = endpoint();
    let before = endpoint.metrics().prometheus_expfmt().unwrap();
    let err = create(&endpoint).unwrap_err();
    assert_eq!(err.to_string(), message);
    assert_eq!(err.is_conflict(), conflict, "{err}");
    assert_eq!(endpoint.metrics().prometheus_expfmt().unwrap(), before);
}

#[test]
fn rejects_metric_name_that_sanitizes_to_nothing() {
    assert_refused(
        |e| e.metrics().create_counter("", "Help", &[]),
        "invalid metric name \"\": it is empty or only underscores once sanitized",
        false,
    );
    assert_refused(
        |e| e.metrics().create_gauge("-.-", "Help", &[]),
        "invalid metric name \"-.-\": it is empty or only underscores once sanitized",
        false,
    );
}

#[test]
fn rejects_hierarchy_name_that_sanitizes_to_nothing() {
    let rt = DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap();
    let component = rt.namespace("ns").component("--");
    let err = component
        .endpoint("ep")
        .metrics()
        .create_counter("x_total", "X", &[])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid component name \"--\": it is empty or only underscores once sanitized"
    );
    let err = rt.namespace("").metrics().prometheus_expfmt().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid namespace name \"\": it is empty or only underscores once sanitized"
    );
}

#[test]
fn rejects_empty_help() {
    assert_refused(
        |e| e.metrics().create_intgauge("g", "", &[]),
        "metric \"dynamo_component_g\": help text must not be empty",
        false,
    );
}

#[test]
fn rejects_invalid_label_names() {
    assert_refused(
        |e| {
            e.metrics()
                .create_counter("c_total", "C", &[("bad-label", "v")])
        },
        "metric \"dynamo_component_c_total\": invalid label name \"bad-label\": only ASCII letters, digits and '_' are allowed",
        false,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_countervec("c_total", "C", &["0day"], &[])
        },
        "metric \"dynamo_component_c_total\": invalid label name \"0day\": it starts with a digit",
        false,
    );
    assert_refused(
        |e| e.metrics().create_gaugevec("g", "G", &["__private"], &[]),
        "metric \"dynamo_component_g\": invalid label name \"__private\": names starting with \"__\" are reserved",
        false,
    );
    assert_refused(
        |e| e.metrics().create_gauge("g", "G", &[("", "v")]),
        "metric \"dynamo_component_g\": invalid label name \"\": it is empty",
        false,
    );
}

#[test]
fn rejects_le_on_histograms_only() {
    assert_refused(
        |e| e.metrics().create_histogram("h", "H", &[("le", "1")], None),
        "metric \"dynamo_component_h\": invalid label name \"le\": \"le\" is reserved for histogram buckets",
        false,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_histogramvec("h", "H", &["le"], &[], None)
        },
        "metric \"dynamo_component_h\": invalid label name \"le\": \"le\" is reserved for histogram buckets",
        false,
    );
    let endpoint = endpoint();
    assert!(
        endpoint
            .metrics()
            .create_gauge("g", "G", &[("le", "1")])
            .is_ok()
    );
}

#[test]
fn rejects_reserved_hierarchy_labels() {
    for label in ["dynamo_namespace", "dynamo_component", "dynamo_endpoint"] {
        let message = format!(
            "metric \"dynamo_component_c_total\": label \"{label}\" is reserved for the runtime hierarchy"
        );
        assert_refused(
            |e| e.metrics().create_counter("c_total", "C", &[(label, "x")]),
            &message,
            false,
        );
        assert_refused(
            |e| e.metrics().create_countervec("c_total", "C", &[label], &[]),
            &message,
            false,
        );
    }
    // The runtime level adds no hierarchy label, but the names stay reserved there too.
    let rt = DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap();
    let err = rt
        .metrics()
        .create_counter("c_total", "C", &[("dynamo_namespace", "x")])
        .unwrap_err();
    assert!(matches!(err, MetricsError::ReservedLabel { .. }), "{err}");
}

#[test]
fn rejects_duplicate_label_names() {
    let message = "metric \"dynamo_component_c_total\": label \"a\" is given more than once";
    assert_refused(
        |e| {
            e.metrics()
                .create_counter("c_total", "C", &[("a", "1"), ("a", "2")])
        },
        message,
        false,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_countervec("c_total", "C", &["a", "a"], &[])
        },
        message,
        false,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_countervec("c_total", "C", &["a"], &[("a", "1")])
        },
        message,
        false,
    );
}

#[test]
fn rejects_bad_buckets() {
    assert_refused(
        |e| {
            e.metrics()
                .create_histogram("h", "H", &[], Some(vec![1.0, 1.0]))
        },
        "metric \"dynamo_component_h\": invalid buckets [1.0, 1.0]: bounds must be strictly increasing",
        false,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_histogramvec("h", "H", &["k"], &[], Some(vec![f64::NAN]))
        },
        "metric \"dynamo_component_h\": invalid buckets [NaN]: bounds must be finite (only a trailing +Inf is allowed)",
        false,
    );
    let endpoint = endpoint();
    let h = endpoint
        .metrics()
        .create_histogram("h", "H", &[], Some(vec![1.0, f64::INFINITY]))
        .unwrap();
    assert_eq!(h.buckets(), [1.0]);
}

#[test]
fn rejects_second_metric_with_same_identity() {
    let message = concat!(
        "metric \"dynamo_component_requests_total\" with constant labels ",
        "[(\"dynamo_component\", \"comp\"), (\"dynamo_endpoint\", \"ep\"), (\"dynamo_namespace\", \"ns\")] ",
        "is already registered"
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_intcounter("requests_total", "Total requests", &[])
        },
        message,
        true,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_counter("requests_total", "Total requests", &[])
        },
        message,
        true,
    );
    // A scalar and a vec of the same identity conflict.
    assert_refused(
        |e| {
            e.metrics()
                .create_intcountervec("requests_total", "Total requests", &["model"], &[])
        },
        message,
        true,
    );
}

#[test]
fn rejects_other_kind_or_help_in_family() {
    assert_refused(
        |e| {
            e.metrics()
                .create_gauge("requests_total", "Total requests", &[("region", "eu")])
        },
        "metric \"dynamo_component_requests_total\" is already registered as a counter, not a gauge",
        true,
    );
    assert_refused(
        |e| {
            e.metrics()
                .create_intcounter("requests_total", "Other help", &[("region", "eu")])
        },
        "metric \"dynamo_component_requests_total\" is already registered with help \"Total requests\", not \"Other help\"",
        true,
    );
}

#[test]
fn same_name_with_other_identity_joins_the_family() {
    let endpoint = endpoint();
    let c = endpoint
        .metrics()
        .create_intcounter(
            "requests_total",
            "Total requests",
            &[("region", "us-west"), ("env", "prod")],
        )
        .unwrap();
    c.inc_by(2);
    assert_eq!(
        endpoint.metrics().prometheus_expfmt().unwrap(),
        concat!(
            "# HELP dynamo_component_requests_total Total requests\n",
            "# TYPE dynamo_component_requests_total counter\n",
            "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"} 1\n",
            "dynamo_component_requests_total{dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",env=\"prod\",region=\"us-west\"} 2\n",
        )
    );
}

#[test]
fn wrong_label_value_count_is_an_error_and_a_noop() {
    let endpoint = endpoint();
    let v = endpoint
        .metrics()
        .create_countervec(
            "by_model_total",
            "By model",
            &["model_type", "model_size"],
            &[],
        )
        .unwrap();
    let err = v.get_metric_with_label_values(&["llama"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "metric \"dynamo_component_by_model_total\" takes label values for [\"model_type\", \"model_size\"], got 1 value(s)"
    );
    v.with_label_values(&["llama"]).inc();
    assert!(
        !endpoint
            .metrics()
            .prometheus_expfmt()
            .unwrap()
            .contains("by_model")
    );
}

#[test]
fn errors_work_with_question_mark_in_anyhow_functions() {
    fn create(endpoint: &Endpoint) -> anyhow::Result<()> {
        let _counter = endpoint.metrics().create_counter("", "Help", &[])?;
        Ok(())
    }
    let err = create(&endpoint()).unwrap_err();
    assert!(err.downcast_ref::<MetricsError>().is_some());
}
