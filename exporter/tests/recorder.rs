//! The `metrics` recorder over a registry: macro calls join registered metrics, and refused
//! calls are counted.

use std::sync::Arc;

use dynamo_exporter::{Opts, Registry, RegistryRecorder};

#[test]
fn macro_calls_reuse_a_registered_f64_counter_and_raise_it_to_absolute_values() {
    let registry = Arc::new(Registry::new());
    let counter = registry.counter(&Opts::new("c_total", "C")).unwrap();
    let recorder = RegistryRecorder::new(Arc::clone(&registry));
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("c_total").absolute(5);
        metrics::counter!("c_total").absolute(3);
        counter.inc_by(0.5);
        metrics::counter!("c_total").increment(1);
        metrics::counter!("c_total").absolute(7);
    });
    assert_eq!(counter.get(), 7.0);
    assert_eq!(
        registry.render(),
        "# HELP c_total C\n# TYPE c_total counter\nc_total 7\n"
    );
}

#[test]
fn refused_macro_calls_are_counted_and_record_nothing() {
    let registry = Arc::new(Registry::new());
    let refused = registry
        .int_counter(&Opts::new("refused_total", "Refused"))
        .unwrap();
    registry.gauge(&Opts::new("g", "G")).unwrap().set(1.0);
    let recorder =
        RegistryRecorder::new(Arc::clone(&registry)).with_rejection_counter(refused.clone());
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("g").increment(5);
        metrics::histogram!("bad-name").record(1.0);
        metrics::gauge!("g").set(2.0);
    });
    assert_eq!(refused.get(), 2);
    assert_eq!(
        registry.render(),
        "# HELP g G\n# TYPE g gauge\ng 2\n# HELP refused_total Refused\n# TYPE refused_total counter\nrefused_total 2\n"
    );
}
