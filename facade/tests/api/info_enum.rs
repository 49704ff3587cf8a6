//! Infos and enums at every hierarchy level: their pages, and info keys that would take a
//! hierarchy or variable label refused.

use dynamo_runtime::{DistributedRuntime, ExporterError, Metrics, MetricsError};

fn runtime() -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .build()
        .unwrap()
}

/// An info and an enum (with values) and their vecs, created at `metrics`.
fn create(metrics: &Metrics) {
    metrics
        .create_info("build", "Build", &[])
        .unwrap()
        .info(&[("version", "1.2")])
        .unwrap();
    metrics
        .create_infovec("model", "Model", &["worker"], &[])
        .unwrap()
        .with_label_values(&["w1"])
        .info(&[("name", "llama")])
        .unwrap();
    metrics
        .create_enum("phase", "Phase", &[], &["up", "down"])
        .unwrap()
        .state("down")
        .unwrap();
    let _w1 = metrics
        .create_enumvec("state", "State", &["worker"], &[], &["idle"])
        .unwrap()
        .with_label_values(&["w1"]);
}

#[test]
fn every_level_shows_its_infos_and_enums_with_its_labels() {
    let drt = runtime();
    let endpoint = drt.namespace("ns").component("comp").endpoint("ep");
    create(&endpoint.metrics());
    let labels = "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";
    // A state's label sorts among the hierarchy labels.
    let after = "dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\"";
    assert_eq!(
        endpoint.metrics().prometheus_expfmt().unwrap(),
        [
            "# HELP dynamo_component_build_info Build\n".to_string(),
            "# TYPE dynamo_component_build_info gauge\n".into(),
            format!("dynamo_component_build_info{{{labels},version=\"1.2\"}} 1\n"),
            "# HELP dynamo_component_model_info Model\n".into(),
            "# TYPE dynamo_component_model_info gauge\n".into(),
            format!("dynamo_component_model_info{{{labels},name=\"llama\",worker=\"w1\"}} 1\n"),
            "# HELP dynamo_component_phase Phase\n".into(),
            "# TYPE dynamo_component_phase gauge\n".into(),
            format!("dynamo_component_phase{{dynamo_component=\"comp\",dynamo_component_phase=\"up\",{after}}} 0\n"),
            format!("dynamo_component_phase{{dynamo_component=\"comp\",dynamo_component_phase=\"down\",{after}}} 1\n"),
            "# HELP dynamo_component_state State\n".into(),
            "# TYPE dynamo_component_state gauge\n".into(),
            format!("dynamo_component_state{{dynamo_component=\"comp\",dynamo_component_state=\"idle\",{after},worker=\"w1\"}} 1\n"),
        ]
        .concat()
    );
    for metrics in [
        drt.metrics(),
        drt.namespace("ns").metrics(),
        drt.namespace("ns").component("comp").metrics(),
    ] {
        create(&metrics);
    }
    let page = drt.metrics().prometheus_expfmt().unwrap();
    assert_eq!(
        page.matches("dynamo_component_phase=\"down\"").count(),
        4,
        "{page}"
    );
}

#[test]
fn info_keys_of_hierarchy_or_variable_labels_are_refused() {
    let drt = runtime();
    let metrics = drt.namespace("ns").metrics();
    let models = metrics
        .create_infovec("model", "Model", &["worker"], &[])
        .unwrap();
    let model = models.with_label_values(&["w1"]);
    model.info(&[("name", "llama")]).unwrap();
    let before = metrics.prometheus_expfmt().unwrap();
    for key in ["dynamo_namespace", "worker"] {
        assert!(matches!(
            model.info(&[(key, "x")]),
            Err(ExporterError::InvalidLabelName { label, .. }) if label == key
        ));
    }
    assert_eq!(metrics.prometheus_expfmt().unwrap(), before);
    assert!(matches!(
        metrics.create_enum("phase", "Phase", &[], &[]),
        Err(MetricsError::Registry(ExporterError::InvalidStates { .. }))
    ));
    assert!(matches!(
        metrics.create_infovec("m", "M", &["dynamo_namespace"], &[]),
        Err(MetricsError::ReservedLabel { .. })
    ));
    metrics.unregister(&models).unwrap();
    assert_eq!(metrics.prometheus_expfmt().unwrap(), "");
}
