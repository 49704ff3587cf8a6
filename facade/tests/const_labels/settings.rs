//! `DYN_METRICS_CONST_LABELS` and `RuntimeBuilder::const_labels`: how the list is read, and a
//! clear error for each malformed value, naming the variable (or the builder method) and the
//! pair.

use dynamo_runtime::{DistributedRuntime, MetricsError, RuntimeBuilder};

fn with_env(value: &str) -> RuntimeBuilder {
    let value = value.to_string();
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .system_server_env(move |var| (var == "DYN_METRICS_CONST_LABELS").then(|| value.clone()))
}

/// The page of a runtime-level gauge `g` set to 1.
fn page_of(builder: RuntimeBuilder) -> String {
    let runtime = builder.build().expect("the runtime starts");
    let only_g = |line: &&str| line.contains("dynamo_component_g");
    runtime
        .metrics()
        .create_intgauge("g", "G", &[])
        .unwrap()
        .set(1);
    let text = runtime.metrics().prometheus_expfmt().unwrap();
    text.lines().filter(only_g).collect::<Vec<_>>().join("\n")
}

#[test]
fn reads_pairs_escapes_and_any_utf8_from_the_variable() {
    assert_eq!(
        page_of(with_env(
            r" cluster =us west, team=a\,b\=c\\d ,region=Zürich 🚀,empty="
        )),
        concat!(
            "# HELP dynamo_component_g G\n",
            "# TYPE dynamo_component_g gauge\n",
            "dynamo_component_g{cluster=\"us west\",empty=\"\",region=\"Zürich 🚀\",",
            "team=\"a,b=c\\\\d \"} 1",
        )
    );
    assert_eq!(
        page_of(with_env("   ")),
        "# HELP dynamo_component_g G\n# TYPE dynamo_component_g gauge\ndynamo_component_g 1",
        "a blank variable adds nothing"
    );
}

#[test]
fn labels_given_in_code_join_those_of_the_variable_and_win_on_the_same_name() {
    assert_eq!(
        page_of(with_env("cluster=env,team=env").const_labels(&[("team", "code"), ("model", "m")])),
        concat!(
            "# HELP dynamo_component_g G\n",
            "# TYPE dynamo_component_g gauge\n",
            "dynamo_component_g{cluster=\"env\",model=\"m\",team=\"code\"} 1",
        )
    );
}

#[test]
fn each_malformed_variable_is_an_error_naming_the_variable_and_the_pair() {
    let cases = [
        ("cluster=a,=b", "pair \"=b\": the label name is empty"),
        (
            "cluster",
            "pair \"cluster\": expected name=value (write a literal `=` in a value as `\\=`)",
        ),
        (
            "cluster=a,,team=b",
            "pair \"\": expected name=value (write a literal `=` in a value as `\\=`)",
        ),
        (
            "9lives=a",
            "pair \"9lives=a\": invalid label name \"9lives\": it starts with a digit",
        ),
        (
            "team-name=a",
            "pair \"team-name=a\": invalid label name \"team-name\": only ASCII letters, digits and '_' are allowed",
        ),
        (
            "__name__=a",
            "pair \"__name__=a\": invalid label name \"__name__\": names starting with \"__\" are reserved",
        ),
        (
            "le=1",
            "pair \"le=1\": invalid label name \"le\": \"le\" is reserved for histogram buckets",
        ),
        (
            "quantile=1",
            "pair \"quantile=1\": invalid label name \"quantile\": \"quantile\" is reserved for summary quantiles",
        ),
        (
            "dynamo_namespace=x",
            "pair \"dynamo_namespace=x\": label names starting with `dynamo_` are reserved for the labels the library adds (such as `dynamo_namespace`)",
        ),
        (
            "dynamo_cluster=x",
            "pair \"dynamo_cluster=x\": label names starting with `dynamo_` are reserved for the labels the library adds (such as `dynamo_namespace`)",
        ),
        (
            "team=a,cluster=b,team=c",
            "pair \"team=c\": the label \"team\" is given more than once",
        ),
        (
            r"team=a\",
            "pair \"team=a\\\\\": a dangling `\\` at the end (write a literal `\\` as `\\\\`)",
        ),
        (
            r"team=a\tb",
            "pair \"team=a\\\\tb\": `\\t` is not an escape: only `\\,`, `\\=` and `\\\\` are (write a literal `\\` as `\\\\`)",
        ),
    ];
    for (value, reason) in cases {
        let error = with_env(value).build().unwrap_err();
        assert!(
            matches!(&error, MetricsError::InvalidEnv { var: "DYN_METRICS_CONST_LABELS", value: v, .. } if v == value),
            "{value:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("DYN_METRICS_CONST_LABELS={value:?} is invalid: {reason}"),
            "{value:?}"
        );
    }
}

#[test]
fn malformed_labels_given_in_code_name_the_builder_method() {
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .const_labels(&[("cluster", "a"), ("dynamo_endpoint", "b")])
        .build()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            MetricsError::InvalidSetting {
                setting: "RuntimeBuilder::const_labels",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "RuntimeBuilder::const_labels([(\"cluster\", \"a\"), (\"dynamo_endpoint\", \"b\")]) is invalid: \
         pair \"dynamo_endpoint=b\": label names starting with `dynamo_` are reserved for the labels \
         the library adds (such as `dynamo_namespace`)"
    );
    for bad in [
        &[("", "x")][..],
        &[("a b", "x")],
        &[("x", "1"), ("x", "2")],
        &[("le", "1")],
    ] {
        assert!(
            matches!(
                DistributedRuntime::builder()
                    .global_recorder(false)
                    .const_labels(bad)
                    .build(),
                Err(MetricsError::InvalidSetting { .. })
            ),
            "{bad:?}"
        );
    }
}
