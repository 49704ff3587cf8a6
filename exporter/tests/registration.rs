//! Registration rules: identity, family agreement, and refused metrics leaving no trace.

use dynamo_exporter::{ExporterError, MetricKind, Opts, Registry};

fn render_is_unchanged_by<T>(registry: &Registry, f: impl FnOnce(&Registry) -> T) -> T {
    let before = registry.render();
    let out = f(registry);
    assert_eq!(
        registry.render(),
        before,
        "a refused registration changed the scrape"
    );
    out
}

fn registry_with_one_counter() -> Registry {
    let registry = Registry::new();
    registry
        .int_counter(&Opts::new("c", "Help").with_const_labels(&[("k", "v")]))
        .unwrap()
        .inc();
    registry
}

#[test]
fn rejects_same_identity_twice() {
    let registry = registry_with_one_counter();
    let err = render_is_unchanged_by(&registry, |r| {
        r.int_counter(&Opts::new("c", "Help").with_const_labels(&[("k", "v")]))
            .unwrap_err()
    });
    assert_eq!(
        err,
        ExporterError::AlreadyRegistered {
            name: "c".into(),
            const_labels: vec![("k".into(), "v".into())]
        }
    );
    assert_eq!(
        err.to_string(),
        "metric \"c\" with constant labels [(\"k\", \"v\")] is already registered"
    );
    assert!(err.is_conflict());
}

#[test]
fn rejects_scalar_and_vec_of_same_identity() {
    let registry = registry_with_one_counter();
    let err = render_is_unchanged_by(&registry, |r| {
        r.int_counter_vec(
            &Opts::new("c", "Help").with_const_labels(&[("k", "v")]),
            &["x"],
        )
        .unwrap_err()
    });
    assert!(
        matches!(err, ExporterError::AlreadyRegistered { .. }),
        "{err}"
    );
}

#[test]
fn rejects_other_kind_in_family() {
    let registry = registry_with_one_counter();
    let err = render_is_unchanged_by(&registry, |r| r.gauge(&Opts::new("c", "Help")).unwrap_err());
    assert_eq!(
        err,
        ExporterError::KindConflict {
            name: "c".into(),
            existing: MetricKind::Counter,
            requested: MetricKind::Gauge
        }
    );
    assert_eq!(
        err.to_string(),
        "metric \"c\" is already registered as a counter, not a gauge"
    );
}

#[test]
fn rejects_other_help_in_family() {
    let registry = registry_with_one_counter();
    let err = render_is_unchanged_by(&registry, |r| {
        r.int_counter(&Opts::new("c", "Other")).unwrap_err()
    });
    assert_eq!(
        err.to_string(),
        "metric \"c\" is already registered with help \"Help\", not \"Other\""
    );
}

#[test]
fn rejects_labels_split_differently_within_a_family() {
    let registry = Registry::new();
    let _first = registry
        .int_counter_vec(
            &Opts::new("c", "C").with_const_labels(&[("a", "1")]),
            &["b"],
        )
        .unwrap();
    let err = render_is_unchanged_by(&registry, |r| {
        r.int_counter_vec(
            &Opts::new("c", "C").with_const_labels(&[("b", "2")]),
            &["a"],
        )
        .unwrap_err()
    });
    assert!(
        matches!(err, ExporterError::LabelSplitConflict { .. }),
        "{err}"
    );
}

#[test]
fn rejects_bad_names_labels_help_and_buckets() {
    let registry = registry_with_one_counter();
    let cases: Vec<(ExporterError, &str)> = vec![
        (
            registry.counter(&Opts::new("bad-name", "H")).unwrap_err(),
            "invalid metric name \"bad-name\": only ASCII letters, digits, '_' and ':' are allowed",
        ),
        (
            registry
                .counter(&Opts::new("x", "H").with_const_labels(&[("__x", "1")]))
                .unwrap_err(),
            "metric \"x\": invalid label name \"__x\": names starting with \"__\" are reserved",
        ),
        (
            registry
                .counter_vec(&Opts::new("x", "H"), &["a-b"])
                .unwrap_err(),
            "metric \"x\": invalid label name \"a-b\": only ASCII letters, digits and '_' are allowed",
        ),
        (
            registry
                .counter_vec(
                    &Opts::new("x", "H").with_const_labels(&[("a", "1")]),
                    &["a"],
                )
                .unwrap_err(),
            "metric \"x\": label \"a\" is given more than once",
        ),
        (
            registry.counter(&Opts::new("x", "")).unwrap_err(),
            "metric \"x\": help text must not be empty",
        ),
        (
            registry
                .histogram(&Opts::new("x", "H"), Some(&[1.0, 0.5]))
                .unwrap_err(),
            "metric \"x\": invalid buckets [1.0, 0.5]: bounds must be strictly increasing",
        ),
        (
            registry
                .histogram_vec(&Opts::new("x", "H"), &["le"], None)
                .unwrap_err(),
            "metric \"x\": invalid label name \"le\": \"le\" is reserved for histogram buckets",
        ),
    ];
    for (err, message) in cases {
        assert_eq!(err.to_string(), message);
        assert!(!err.is_conflict());
    }
    assert_eq!(
        registry.render(),
        concat!("# HELP c Help\n", "# TYPE c counter\n", "c{k=\"v\"} 1\n")
    );
}
