//! Native histograms through a registry: their text page, their counts, their errors.

use dynamo_exporter::{ExporterError, NativeHistogram, Opts, Registry};

#[test]
fn a_native_only_histogram_renders_its_count_and_sum_as_text() {
    let registry = Registry::new();
    let opts =
        Opts::new("ttft_seconds", "Time to first token").with_native(NativeHistogram::new(1.1));
    let native = registry.histogram(&opts, Some(&[])).unwrap();
    let itl = Opts {
        name: "itl_seconds",
        ..opts
    };
    let vec = registry.histogram_vec(&itl, &["model"], Some(&[])).unwrap();
    for v in [0.0, 1.0, 2.0, 3.0, f64::NAN] {
        native.observe(v);
    }
    vec.with_label_values(&["m"]).observe(0.25);
    assert_eq!((native.get_count(), native.get_sum().is_nan()), (5, true));
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP itl_seconds Time to first token\n",
            "# TYPE itl_seconds histogram\n",
            "itl_seconds_bucket{model=\"m\",le=\"+Inf\"} 1\n",
            "itl_seconds_sum{model=\"m\"} 0.25\n",
            "itl_seconds_count{model=\"m\"} 1\n",
            "# HELP ttft_seconds Time to first token\n",
            "# TYPE ttft_seconds histogram\n",
            "ttft_seconds_bucket{le=\"+Inf\"} 5\n",
            "ttft_seconds_sum NaN\n",
            "ttft_seconds_count 5\n",
        )
    );
}

#[test]
fn a_hybrid_histogram_keeps_its_classic_buckets_in_text() {
    let registry = Registry::new();
    let opts = Opts::new("latency_seconds", "Latency").with_native(NativeHistogram::new(1.1));
    let hybrid = registry.histogram(&opts, Some(&[0.5, 2.0])).unwrap();
    for v in [0.25, 1.0, 3.0] {
        hybrid.observe(v);
    }
    assert_eq!(hybrid.buckets(), &[0.5, 2.0]);
    assert_eq!(
        registry.render(),
        concat!(
            "# HELP latency_seconds Latency\n",
            "# TYPE latency_seconds histogram\n",
            "latency_seconds_bucket{le=\"0.5\"} 1\n",
            "latency_seconds_bucket{le=\"2\"} 2\n",
            "latency_seconds_bucket{le=\"+Inf\"} 3\n",
            "latency_seconds_sum 4.25\n",
            "latency_seconds_count 3\n",
        )
    );
}

#[test]
fn bad_native_settings_are_refused_by_name_and_leave_the_registry_intact() {
    let registry = Registry::new();
    registry
        .counter(&Opts::new("kept_total", "Kept"))
        .unwrap()
        .inc();
    let before = registry.render();
    let opts = Opts::new("h", "H").with_native(NativeHistogram::new(0.9));
    assert_eq!(
        registry.histogram(&opts, None).map(|_| ()),
        Err(ExporterError::InvalidNativeHistogram {
            metric: "h".into(),
            setting: "native_bucket_factor",
            value: 0.9,
            reason: "must be a finite number greater than 1",
        })
    );
    let opts = Opts::new("h", "H").with_native(NativeHistogram::new(1.1).max_buckets(0));
    let refused = registry.histogram_vec(&opts, &["a"], None).map(|_| ());
    assert!(
        matches!(&refused, Err(ExporterError::InvalidNativeHistogram { setting, .. }) if *setting == "native_max_buckets"),
        "{refused:?}"
    );
    assert_eq!(registry.render(), before);
    // The name is still free.
    let _free = registry.histogram(&Opts::new("h", "H"), None).unwrap();
}

#[test]
fn threads_observing_at_once_lose_nothing_of_the_count_or_the_sum() {
    let registry = Registry::new();
    let opts = Opts::new("h", "H").with_native(NativeHistogram::new(1.1));
    let native = registry.histogram(&opts, Some(&[])).unwrap();
    let hybrid = registry
        .histogram(
            &Opts {
                name: "hybrid",
                ..opts
            },
            Some(&[0.5]),
        )
        .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..50_000 {
                    // Exact in binary, so every order of additions gives the same sum.
                    native.observe(0.25);
                    hybrid.observe(0.75);
                }
            });
        }
    });
    assert_eq!((native.get_count(), native.get_sum()), (200_000, 50_000.0));
    assert_eq!((hybrid.get_count(), hybrid.get_sum()), (200_000, 150_000.0));
    let page = registry.render();
    assert!(page.contains("h_sum 50000\nh_count 200000\n"), "{page}");
    assert!(
        page.contains("hybrid_sum 150000\nhybrid_count 200000\n"),
        "{page}"
    );
}
