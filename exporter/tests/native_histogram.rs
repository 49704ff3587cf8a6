//! Native histograms through a registry: their text page, their counts, their errors.

use std::sync::Arc;

use dynamo_exporter::exposition::{Encoder, FamilyInfo, Series, Value};
use dynamo_exporter::{
    ExporterError, NamePattern, NativeHistogram, Opts, Registry, RegistryRecorder,
};

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

/// Schema, zero count, count and positive buckets of a native histogram series.
type Native = (i8, u64, u64, Vec<(i32, u64)>);

/// The native part of every histogram series of a page, by family name.
#[derive(Default)]
struct NativeParts {
    family: String,
    seen: Vec<(String, Option<Native>)>,
}

impl Encoder for NativeParts {
    fn content_type(&self) -> &'static str {
        "test"
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.family = family.name.to_string();
    }

    fn series(&mut self, series: &Series<'_>) {
        if let Value::Histogram(h) = series.value {
            let native = h.native.map(|n| {
                assert!(n.negative.is_empty());
                (n.schema, n.zero_count, n.count, n.positive.iter().collect())
            });
            self.seen.push((self.family.clone(), native));
        }
    }
}

fn native_parts(registry: &Registry) -> Vec<(String, Option<Native>)> {
    let mut parts = NativeParts::default();
    registry.encode(&[], &mut parts);
    parts.seen
}

#[test]
fn a_scrape_sees_client_golangs_reference_buckets() {
    let registry = Registry::new();
    let opts = Opts::new("h", "H").with_native(NativeHistogram::new(1.1));
    let native = registry.histogram(&opts, Some(&[])).unwrap();
    let hybrid = registry
        .histogram(
            &Opts {
                name: "hybrid",
                ..opts
            },
            None,
        )
        .unwrap();
    for v in [0.0, 1.0, 2.0, 3.0] {
        native.observe(v);
        hybrid.observe(v);
    }
    let reference = Some((3, 1, 4, vec![(0, 1), (8, 1), (13, 1)]));
    assert_eq!(
        native_parts(&registry),
        [
            ("h".to_string(), reference.clone()),
            ("hybrid".to_string(), reference)
        ]
    );
}

#[test]
fn macro_histograms_opt_in_by_name() {
    let registry = Arc::new(Registry::new());
    let recorder = RegistryRecorder::new(Arc::clone(&registry))
        .with_native_histograms(
            vec![NamePattern::new("ttft_*"), NamePattern::new("itl_seconds")],
            NativeHistogram::new(1.1),
        )
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for name in [
            "ttft_seconds",
            "itl_seconds",
            "itl_seconds_total",
            "other_seconds",
        ] {
            metrics::histogram!(name).record(2.0);
        }
    });
    let native = Some((3, 0, 1, vec![(8, 1)]));
    assert_eq!(
        native_parts(&registry),
        [
            ("itl_seconds".to_string(), native.clone()),
            ("itl_seconds_total".to_string(), None),
            ("other_seconds".to_string(), None),
            ("ttft_seconds".to_string(), native),
        ]
    );
    // The classic default buckets stay, so a text scraper sees what it saw before.
    assert!(
        registry
            .render()
            .contains("ttft_seconds_bucket{le=\"2.5\"} 1\n")
    );
    let refused = RegistryRecorder::new(registry)
        .with_native_histograms(vec![NamePattern::new("x")], NativeHistogram::new(f64::NAN));
    assert!(matches!(
        refused,
        Err(ExporterError::InvalidNativeHistogram {
            setting: "native_bucket_factor",
            ..
        })
    ));
}
