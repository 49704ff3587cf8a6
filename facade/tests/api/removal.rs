//! Removing series and metrics at every hierarchy level: removed series leave the next scrape,
//! handles to them record nothing, and the same values or identity start again at zero.

use std::time::Duration;

use dynamo_runtime::{DistributedRuntime, ExporterError, Metrics, MetricsError};

fn runtime() -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .process_metrics(false)
        .uptime_clock(|| Duration::from_millis(1500))
        .build()
        .unwrap()
}

/// The levels of one runtime, with the label text their metrics carry.
fn levels(rt: &DistributedRuntime) -> Vec<(Metrics, &'static str)> {
    let ns = rt.namespace("ns");
    let comp = ns.component("comp");
    let ep = comp.endpoint("ep");
    vec![
        (rt.metrics(), ""),
        (ns.metrics(), "dynamo_namespace=\"ns\","),
        (
            comp.metrics(),
            "dynamo_component=\"comp\",dynamo_namespace=\"ns\",",
        ),
        (
            ep.metrics(),
            "dynamo_component=\"comp\",dynamo_endpoint=\"ep\",dynamo_namespace=\"ns\",",
        ),
    ]
}

/// The level's own text, without the runtime's built-in metrics.
fn own_text(metrics: &Metrics) -> String {
    metrics
        .prometheus_expfmt()
        .unwrap()
        .split_inclusive('\n')
        .filter(|line| !line.contains("dynamo_metrics_") && !line.contains("uptime_seconds"))
        .collect()
}

#[test]
fn removes_series_by_values_by_partial_match_and_all_at_every_level() {
    let rt = runtime();
    for (metrics, labels) in levels(&rt) {
        let adapters = metrics
            .create_intgaugevec(
                "lora_loaded",
                "Loaded adapters",
                &["worker", "adapter"],
                &[],
            )
            .unwrap();
        for (worker, adapter) in [("w1", "a"), ("w1", "b"), ("w2", "a"), ("w2", "c")] {
            adapters.with_label_values(&[worker, adapter]).set(1);
        }
        let kept = adapters.with_label_values(&["w2", "c"]);
        let removed = adapters.with_label_values(&["w1", "a"]);

        adapters.remove_label_values(&["w1", "a"]).unwrap();
        assert_eq!(
            adapters.remove_matching(&[("worker", "w2"), ("adapter", "a")]),
            1
        );
        assert_eq!(
            own_text(&metrics),
            format!(
                "# HELP dynamo_component_lora_loaded Loaded adapters\n\
                 # TYPE dynamo_component_lora_loaded gauge\n\
                 dynamo_component_lora_loaded{{adapter=\"b\",{labels}worker=\"w1\"}} 1\n\
                 dynamo_component_lora_loaded{{adapter=\"c\",{labels}worker=\"w2\"}} 1\n"
            )
        );
        // A handle to a removed series records nothing; a kept one goes on.
        removed.add(5);
        kept.add(1);
        assert_eq!((removed.get(), kept.get()), (0, 2));
        assert!(!removed.is_live() && kept.is_live());
        // The same values start a new series at zero.
        adapters.with_label_values(&["w1", "a"]).inc();
        assert_eq!(adapters.with_label_values(&["w1", "a"]).get(), 1);

        adapters.clear();
        assert_eq!(own_text(&metrics), "");
        assert_eq!(adapters.series_count(), 0);
        metrics.unregister(&adapters).unwrap();
    }
}

#[test]
fn remove_label_values_names_the_metric_and_the_values() {
    let rt = runtime();
    let vec = rt
        .namespace("ns")
        .metrics()
        .create_countervec("hits_total", "Hits", &["model"], &[])
        .unwrap();
    assert_eq!(
        vec.remove_label_values(&["llama"]).unwrap_err().to_string(),
        "metric \"dynamo_component_hits_total\" has no series with label values [\"llama\"]"
    );
    assert_eq!(
        vec.remove_label_values(&["llama", "7b"]).unwrap_err(),
        ExporterError::LabelValueCount {
            metric: "dynamo_component_hits_total".into(),
            expected: vec!["model".into()],
            got: 2,
        }
    );
    assert_eq!(vec.remove_matching(&[("size", "7b")]), 0, "no such label");
}

#[test]
fn unregister_takes_any_metric_out_and_lets_its_identity_be_created_again() {
    let rt = runtime();
    for (metrics, labels) in levels(&rt) {
        let scalar = metrics.create_counter("jobs_total", "Jobs", &[]).unwrap();
        let vec = metrics
            .create_histogramvec("wait_seconds", "Wait", &["queue"], &[], Some(vec![1.0]))
            .unwrap();
        scalar.inc();
        vec.with_label_values(&["a"]).observe(0.5);
        metrics.unregister(&scalar).unwrap();
        metrics.unregister(&vec).unwrap();
        assert_eq!(own_text(&metrics), "");
        scalar.inc();
        assert_eq!(scalar.get(), 0.0, "an unregistered handle records nothing");

        // Same name, another type and help: allowed now that the family is gone.
        let again = metrics
            .create_intgauge("jobs_total", "Jobs now", &[])
            .unwrap();
        again.set(3);
        let separator = if labels.is_empty() { "" } else { "{" };
        let close = if labels.is_empty() { "" } else { "}" };
        assert_eq!(
            own_text(&metrics),
            format!(
                "# HELP dynamo_component_jobs_total Jobs now\n\
                 # TYPE dynamo_component_jobs_total gauge\n\
                 dynamo_component_jobs_total{separator}{}{close} 3\n",
                labels.trim_end_matches(',')
            )
        );
        metrics.unregister(&again).unwrap();
    }
}

#[test]
fn unregister_refuses_metrics_of_other_levels_and_unknown_ones() {
    let rt = runtime();
    let ns = rt.namespace("ns");
    let in_ns = ns.metrics().create_intcounter("a_total", "A", &[]).unwrap();
    let error = ns
        .component("comp")
        .metrics()
        .unregister(&in_ns)
        .unwrap_err();
    assert!(
        matches!(&error, MetricsError::NotCreatedHere { metric, .. } if metric == "dynamo_component_a_total"),
        "{error}"
    );
    ns.metrics().unregister(&in_ns).unwrap();
    assert!(matches!(
        ns.metrics().unregister(&in_ns),
        Err(MetricsError::Registry(ExporterError::NotRegistered))
    ));
    let other = runtime();
    let elsewhere = other
        .metrics()
        .create_intcounter("b_total", "B", &[])
        .unwrap();
    assert!(matches!(
        rt.metrics().unregister(&elsewhere),
        Err(MetricsError::Registry(ExporterError::NotRegistered))
    ));
}
