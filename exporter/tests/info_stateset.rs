//! Infos and statesets: whole pages in every format, and refused input that leaves the
//! registry and its page as they were.

mod page;

use dynamo_exporter::exposition::{Filtered, Format, NameFilter};
use dynamo_exporter::test_util::assert_openmetrics_parses;
use dynamo_exporter::{ExporterError, MetricKind, Opts, Registry};
use page::{from_protobuf, from_text};

fn render(registry: &Registry, format: Format) -> Vec<u8> {
    format.render(|encoder| {
        registry.encode(&[], encoder);
    })
}

/// The registry's OpenMetrics page, once prometheus_client's parser has read it.
fn openmetrics(registry: &Registry) -> String {
    let page = String::from_utf8(render(registry, Format::OpenMetrics)).unwrap();
    assert_openmetrics_parses(&page);
    page
}

/// A registry with an info, an info vec, a stateset and a stateset vec, with values set.
fn registry() -> Registry {
    let registry = Registry::new();
    let opts = Opts::new("build", "Build metadata").with_const_labels(&[("service", "api")]);
    let build = registry.info(&opts).unwrap();
    build
        .info(&[("version", "1.2.3"), ("commit", "a\"b\\c\nd")])
        .unwrap();
    let models = registry
        .info_vec(&Opts::new("model", "Loaded models"), &["worker"])
        .unwrap();
    models
        .with_label_values(&["w2"])
        .info(&[("name", "llama")])
        .unwrap();
    models
        .with_label_values(&["w1"])
        .info(&[("name", "qwen")])
        .unwrap();
    let state = registry
        .state_set(
            &Opts::new("phase", "Phase"),
            &["starting", "running", "stopping"],
        )
        .unwrap();
    state.state("running").unwrap();
    let workers = registry
        .state_set_vec(
            &Opts::new("worker_state", "Worker state"),
            &["worker"],
            &["idle", "busy"],
        )
        .unwrap();
    workers.with_label_values(&["w1"]).state("busy").unwrap();
    registry
}

const TEXT_PAGE: &str = concat!(
    "# HELP build_info Build metadata\n",
    "# TYPE build_info gauge\n",
    "build_info{commit=\"a\\\"b\\\\c\\nd\",service=\"api\",version=\"1.2.3\"} 1\n",
    "# HELP model_info Loaded models\n",
    "# TYPE model_info gauge\n",
    "model_info{name=\"llama\",worker=\"w2\"} 1\n",
    "model_info{name=\"qwen\",worker=\"w1\"} 1\n",
    "# HELP phase Phase\n",
    "# TYPE phase gauge\n",
    "phase{phase=\"starting\"} 0\n",
    "phase{phase=\"running\"} 1\n",
    "phase{phase=\"stopping\"} 0\n",
    "# HELP worker_state Worker state\n",
    "# TYPE worker_state gauge\n",
    "worker_state{worker=\"w1\",worker_state=\"idle\"} 0\n",
    "worker_state{worker=\"w1\",worker_state=\"busy\"} 1\n",
);

#[test]
fn the_text_page_shows_infos_and_statesets_as_gauges() {
    assert_eq!(registry().render(), TEXT_PAGE);
}

#[test]
fn the_openmetrics_page_shows_them_as_info_and_stateset() {
    assert_eq!(
        openmetrics(&registry()),
        concat!(
            "# HELP build Build metadata\n",
            "# TYPE build info\n",
            "build_info{commit=\"a\\\"b\\\\c\\nd\",service=\"api\",version=\"1.2.3\"} 1\n",
            "# HELP model Loaded models\n",
            "# TYPE model info\n",
            "model_info{name=\"llama\",worker=\"w2\"} 1\n",
            "model_info{name=\"qwen\",worker=\"w1\"} 1\n",
            "# HELP phase Phase\n",
            "# TYPE phase stateset\n",
            "phase{phase=\"starting\"} 0\n",
            "phase{phase=\"running\"} 1\n",
            "phase{phase=\"stopping\"} 0\n",
            "# HELP worker_state Worker state\n",
            "# TYPE worker_state stateset\n",
            "worker_state{worker=\"w1\",worker_state=\"idle\"} 0\n",
            "worker_state{worker=\"w1\",worker_state=\"busy\"} 1\n",
            "# EOF\n",
        )
    );
}

#[test]
fn the_protobuf_page_holds_the_text_page_as_gauges() {
    let page = from_protobuf(&render(&registry(), Format::Protobuf));
    assert_eq!(page, from_text(TEXT_PAGE));
    assert_eq!(page.families["build_info"], MetricKind::Gauge);
    assert_eq!(page.families["phase"], MetricKind::Gauge);
}

#[test]
fn an_info_shows_before_its_first_pairs_and_each_call_replaces_the_last() {
    let registry = Registry::new();
    let build = registry.info(&Opts::new("build", "Build")).unwrap();
    assert_eq!(
        registry.render(),
        "# HELP build_info Build\n# TYPE build_info gauge\nbuild_info 1\n"
    );
    build.info(&[("version", "1")]).unwrap();
    build.info(&[("branch", "main")]).unwrap();
    assert_eq!(build.get(), [("branch".to_string(), "main".to_string())]);
    assert_eq!(
        registry.render(),
        "# HELP build_info Build\n# TYPE build_info gauge\nbuild_info{branch=\"main\"} 1\n"
    );
}

#[test]
fn bad_info_keys_are_refused_by_name_and_the_pairs_stay() {
    let registry = Registry::new();
    let opts = Opts::new("model", "Model").with_const_labels(&[("dynamo_namespace", "ns")]);
    let models = registry.info_vec(&opts, &["worker"]).unwrap();
    let model = models.with_label_values(&["w1"]);
    model.info(&[("name", "llama")]).unwrap();
    let before = registry.render();
    let refused = |pairs: &[(&str, &str)]| model.info(pairs).unwrap_err();
    for key in ["worker", "dynamo_namespace"] {
        match refused(&[(key, "x")]) {
            ExporterError::InvalidLabelName { metric, label, .. } => {
                assert_eq!((metric.as_str(), label.as_str()), ("model", key));
            }
            other => panic!("{other:?}"),
        }
    }
    for key in ["__name", "1st", "a-b", ""] {
        assert!(
            matches!(refused(&[(key, "x")]), ExporterError::InvalidLabelName { label, .. } if label == key)
        );
    }
    assert_eq!(
        refused(&[("a", "1"), ("a", "2")]),
        ExporterError::DuplicateLabel {
            metric: "model".into(),
            label: "a".into()
        }
    );
    assert_eq!(registry.render(), before);
    assert_eq!(model.get(), [("name".to_string(), "llama".to_string())]);
}

#[test]
fn an_unknown_state_is_refused_by_name_and_the_state_stays() {
    let registry = Registry::new();
    let phase = registry
        .state_set(&Opts::new("phase", "Phase"), &["starting", "running"])
        .unwrap();
    assert_eq!(phase.get(), "starting");
    let before = registry.render();
    let error = phase.state("sleeping").unwrap_err();
    assert_eq!(
        error,
        ExporterError::UnknownState {
            metric: "phase".into(),
            state: "sleeping".into(),
            states: vec!["starting".into(), "running".into()],
        }
    );
    assert!(error.to_string().contains("\"sleeping\""), "{error}");
    assert_eq!(phase.get(), "starting");
    assert_eq!(registry.render(), before);
}

#[test]
fn bad_statesets_are_refused_at_creation_and_leave_nothing() {
    let registry = Registry::new();
    let _build = registry.info(&Opts::new("build", "Build")).unwrap();
    let before = registry.render();
    let opts = Opts::new("phase", "Phase");
    assert!(matches!(
        registry.state_set(&opts, &[]),
        Err(ExporterError::InvalidStates { metric, .. }) if metric == "phase"
    ));
    assert!(matches!(
        registry.state_set(&opts, &["a", "b", "a"]),
        Err(ExporterError::InvalidStates { .. })
    ));
    assert!(matches!(
        registry.state_set_vec(&opts, &["phase"], &["a"]),
        Err(ExporterError::InvalidLabelName { label, .. }) if label == "phase"
    ));
    assert!(matches!(
        registry.state_set(&Opts::new("ns:phase", "Phase"), &["a"]),
        Err(ExporterError::InvalidLabelName { label, .. }) if label == "ns:phase"
    ));
    assert!(matches!(
        registry.info_vec(&Opts::new("model", "Model"), &["bad-label"]),
        Err(ExporterError::InvalidLabelName { label, .. }) if label == "bad-label"
    ));
    assert!(matches!(
        registry.state_set(&Opts::new("build", "Build"), &["a"]),
        Err(ExporterError::KindConflict {
            existing: MetricKind::Info,
            ..
        })
    ));
    assert!(matches!(
        registry.gauge(&Opts::new("build", "Build")),
        Err(ExporterError::KindConflict { .. })
    ));
    assert_eq!(registry.render(), before);
    assert_eq!(registry.family_names(), ["build"]);
}

#[test]
fn unregistering_takes_them_off_the_page_and_the_name_is_free_again() {
    let registry = Registry::new();
    let build = registry.info(&Opts::new("build", "Build")).unwrap();
    let workers = registry
        .state_set_vec(
            &Opts::new("worker_state", "Worker state"),
            &["worker"],
            &["idle"],
        )
        .unwrap();
    let _w1 = workers.with_label_values(&["w1"]);
    registry.unregister(&build).unwrap();
    registry.unregister(&workers).unwrap();
    assert_eq!(registry.render(), "");
    assert!(registry.unregister(&build).is_err());
    let _gauge = registry.gauge(&Opts::new("build", "Build")).unwrap();
}

#[test]
fn vec_children_can_be_removed() {
    let registry = Registry::new();
    let workers = registry
        .state_set_vec(
            &Opts::new("worker_state", "Worker state"),
            &["worker"],
            &["idle"],
        )
        .unwrap();
    let _w1 = workers.with_label_values(&["w1"]);
    assert!(workers.get_metric_with_label_values(&["a", "b"]).is_err());
    workers.remove_label_values(&["w1"]).unwrap();
    assert!(matches!(
        workers.remove_label_values(&["w1"]),
        Err(ExporterError::NoSuchSeries { .. })
    ));
    assert_eq!(registry.render(), "");
}

#[test]
fn vec_children_are_removed_by_matching_labels_and_cleared() {
    let registry = Registry::new();
    let models = registry
        .info_vec(&Opts::new("model", "Models"), &["worker", "slot"])
        .unwrap();
    let states = registry
        .state_set_vec(&Opts::new("state", "State"), &["worker"], &["idle", "busy"])
        .unwrap();
    for (worker, slot) in [("w1", "0"), ("w1", "1"), ("w2", "0")] {
        let model = models.with_label_values(&[worker, slot]);
        model.info(&[("name", "llama")]).unwrap();
        states.with_label_values(&[worker]).state("busy").unwrap();
    }

    // A label the vec does not have matches nothing; the page stays as it was.
    let page = registry.render();
    assert_eq!(models.remove_matching(&[("model", "w1")]), 0);
    assert_eq!(registry.render(), page);

    assert_eq!(models.remove_matching(&[("worker", "w1")]), 2);
    assert_eq!(states.remove_matching(&[("worker", "w2")]), 1);
    assert_eq!(
        registry.render(),
        "# HELP model_info Models\n\
         # TYPE model_info gauge\n\
         model_info{name=\"llama\",slot=\"0\",worker=\"w2\"} 1\n\
         # HELP state State\n\
         # TYPE state gauge\n\
         state{state=\"idle\",worker=\"w1\"} 0\n\
         state{state=\"busy\",worker=\"w1\"} 1\n"
    );

    models.clear();
    states.clear();
    assert_eq!(registry.render(), "");
    // A cleared vec makes children again.
    models
        .with_label_values(&["w3", "0"])
        .info(&[("name", "qwen")])
        .unwrap();
    assert_eq!(
        registry.render(),
        "# HELP model_info Models\n\
         # TYPE model_info gauge\n\
         model_info{name=\"qwen\",slot=\"0\",worker=\"w3\"} 1\n"
    );
}

#[test]
fn a_name_filter_matches_an_info_by_family_and_sample_name() {
    let registry = registry();
    for name in ["build", "build_info"] {
        let filter = NameFilter::new([name]);
        let page = Format::Text.render(|encoder| {
            registry.encode(&[], &mut Filtered::new(encoder, &filter));
        });
        assert_eq!(
            String::from_utf8(page).unwrap(),
            TEXT_PAGE
                .lines()
                .take(3)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
            "{name}"
        );
    }
}

#[test]
fn required_constant_labels_select_series() {
    let registry = registry();
    let mut out = String::new();
    registry.render_into(&[("service", "api")], &mut out);
    assert_eq!(
        out,
        TEXT_PAGE
            .lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
}

#[cfg(feature = "otlp")]
#[test]
fn otlp_gets_them_as_gauges_of_integer_points() {
    use dynamo_exporter::otlp::{OtlpEncoder, Temporality};
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point::Value};

    let mut encoder = OtlpEncoder::new(Temporality::Cumulative, 1, 2);
    registry().encode(&[], &mut encoder);
    let request = encoder.into_request(&[]);
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    /// A point's attributes (values as their `Debug` text) and integer value.
    type Point = (Vec<(String, String)>, i64);
    let shown: Vec<(&str, Vec<Point>)> = metrics
        .iter()
        .map(|metric| {
            let Some(Data::Gauge(gauge)) = &metric.data else {
                panic!("{} is not a gauge", metric.name);
            };
            let points = gauge
                .data_points
                .iter()
                .map(|point| {
                    let labels = point
                        .attributes
                        .iter()
                        .map(|kv| {
                            let value =
                                format!("{:?}", kv.value.as_ref().unwrap().value.as_ref().unwrap());
                            (kv.key.clone(), value)
                        })
                        .collect();
                    let Some(Value::AsInt(value)) = point.value else {
                        panic!("{} has a float point", metric.name);
                    };
                    (labels, value)
                })
                .collect();
            (metric.name.as_str(), points)
        })
        .collect();
    let names: Vec<&str> = shown.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["build_info", "model_info", "phase", "worker_state"]);
    let phase: Vec<i64> = shown[2].1.iter().map(|(_, v)| *v).collect();
    assert_eq!(phase, [0, 1, 0]);
    assert_eq!(
        shown[2].1[1].0,
        [("phase".to_string(), "StringValue(\"running\")".to_string())]
    );
}

#[test]
fn an_info_and_a_family_of_its_sample_name_cannot_both_be_registered() {
    let registry = Registry::new();
    let _build = registry.info(&Opts::new("build", "Build")).unwrap();
    let _load = registry.gauge(&Opts::new("load_info", "Load")).unwrap();
    let before = registry.render();
    assert!(matches!(
        registry.gauge(&Opts::new("build_info", "Build")),
        Err(ExporterError::KindConflict { name, existing: MetricKind::Info, .. }) if name == "build_info"
    ));
    assert!(matches!(
        registry.info(&Opts::new("load", "Load")),
        Err(ExporterError::KindConflict { name, existing: MetricKind::Gauge, .. }) if name == "load_info"
    ));
    assert_eq!(registry.render(), before);
}

#[test]
fn the_states_of_one_child_stay_together_whatever_their_label_sorts_as() {
    let registry = Registry::new();
    let states = registry
        .state_set_vec(&Opts::new("a_state", "State"), &["worker"], &["up", "down"])
        .unwrap();
    states.with_label_values(&["w2"]).state("down").unwrap();
    let _w1 = states.with_label_values(&["w1"]);
    assert_eq!(
        openmetrics(&registry),
        concat!(
            "# HELP a_state State\n",
            "# TYPE a_state stateset\n",
            "a_state{a_state=\"up\",worker=\"w1\"} 1\n",
            "a_state{a_state=\"down\",worker=\"w1\"} 0\n",
            "a_state{a_state=\"up\",worker=\"w2\"} 0\n",
            "a_state{a_state=\"down\",worker=\"w2\"} 1\n",
            "# EOF\n",
        )
    );
}
