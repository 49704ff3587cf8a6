//! Integer counters and gauges stop at their type's limits rather than wrap, and an f64
//! counter keeps counting past 2^64 whole increments: no update makes a value jump back.

use std::sync::Arc;

use dynamo_exporter::{Opts, Registry, RegistryRecorder};

#[test]
fn an_int_counter_stops_at_u64_max() {
    let registry = Registry::new();
    let counter = registry.int_counter(&Opts::new("c_total", "C")).unwrap();
    counter.inc_by(u64::MAX - 1);
    counter.inc();
    assert_eq!(counter.get(), u64::MAX);
    counter.inc();
    assert_eq!(counter.get(), u64::MAX);
    counter.inc_by(u64::MAX);
    assert_eq!(counter.get(), u64::MAX);
    assert_eq!(
        registry.render(),
        "# HELP c_total C\n# TYPE c_total counter\nc_total 18446744073709551615\n"
    );
}

#[test]
fn an_int_gauge_stops_at_i64_max_and_min() {
    let registry = Registry::new();
    let gauge = registry.int_gauge(&Opts::new("g", "G")).unwrap();
    let after = |set: i64, update: &dyn Fn()| {
        gauge.set(set);
        update();
        gauge.get()
    };
    assert_eq!(after(i64::MAX, &|| gauge.inc()), i64::MAX);
    assert_eq!(after(i64::MAX - 1, &|| gauge.add(5)), i64::MAX);
    assert_eq!(after(1, &|| gauge.add(i64::MAX)), i64::MAX);
    assert_eq!(after(0, &|| gauge.sub(i64::MIN)), i64::MAX);
    assert_eq!(after(i64::MIN, &|| gauge.dec()), i64::MIN);
    assert_eq!(after(-2, &|| gauge.add(i64::MIN)), i64::MIN);
    assert_eq!(after(-1, &|| gauge.sub(i64::MAX)), i64::MIN);
    assert_eq!(after(i64::MIN + 1, &|| gauge.sub(2)), i64::MIN);
    // Within the limits, nothing changes.
    assert_eq!(after(-1, &|| gauge.sub(i64::MAX - 1)), i64::MIN + 1);
    assert_eq!(after(i64::MIN, &|| gauge.add(i64::MAX)), -1);
    assert_eq!(registry.render(), "# HELP g G\n# TYPE g gauge\ng -1\n");
}

#[test]
fn an_f64_counter_counts_past_2_to_the_64_whole_increments() {
    let registry = Arc::new(Registry::new());
    let counter = registry.counter(&Opts::new("c_total", "C")).unwrap();
    let step = 2f64.powi(52);
    for _ in 0..4096 {
        counter.inc_by(step);
    }
    assert_eq!(counter.get(), 2f64.powi(64));
    counter.inc();
    let recorder = RegistryRecorder::new(Arc::clone(&registry));
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("c_total").increment(u64::MAX);
        metrics::counter!("c_total").increment(u64::MAX);
    });
    assert_eq!(counter.get(), 3.0 * 2f64.powi(64));
    assert_eq!(
        registry.render(),
        "# HELP c_total C\n# TYPE c_total counter\nc_total 5.5340232221128655e19\n"
    );
}

#[test]
fn macro_updates_of_an_int_gauge_stop_at_its_limits() {
    let registry = Arc::new(Registry::new());
    let gauge = registry.int_gauge(&Opts::new("g", "G")).unwrap();
    let recorder = RegistryRecorder::new(Arc::clone(&registry));
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("g").decrement(1e300);
        assert_eq!(gauge.get(), i64::MIN);
        metrics::gauge!("g").decrement(1.0);
        assert_eq!(gauge.get(), i64::MIN);
        metrics::gauge!("g").set(0.0);
        metrics::gauge!("g").decrement(f64::NEG_INFINITY);
        assert_eq!(gauge.get(), i64::MAX);
    });
}
