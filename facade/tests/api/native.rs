//! Native histograms through the runtime: created at a level, by request tracking, and by
//! `histogram!` macros that opt in by name, seen through a level's `encode`.

use dynamo_exporter::test_util::{HistogramParts, NativeSummary};
use dynamo_runtime::{DistributedRuntime, Metrics, NativeHistogram};

fn histograms(metrics: &Metrics) -> Vec<(String, Option<NativeSummary>)> {
    let mut found = HistogramParts::default();
    metrics.encode(&mut found).unwrap();
    found.seen
}

#[test]
fn a_level_creates_native_and_hybrid_histograms() {
    let drt = DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap();
    let metrics = drt.namespace("ns").metrics();
    let native = metrics.with_native_histograms(NativeHistogram::new(1.1));
    let only = native
        .create_histogram("ttft_seconds", "TTFT", &[], Some(vec![]))
        .unwrap();
    let hybrid = native
        .create_histogram("e2e_seconds", "E2E", &[], None)
        .unwrap();
    let classic = metrics
        .create_histogram("queue_seconds", "Queue", &[], None)
        .unwrap();
    for v in [0.0, 1.0, 2.0, 3.0] {
        only.observe(v);
        hybrid.observe(v);
        classic.observe(v);
    }
    let reference = Some((3, 1, 4, vec![(0, 1), (8, 1), (13, 1)]));
    assert_eq!(
        histograms(&metrics),
        [
            (
                "dynamo_component_e2e_seconds".to_string(),
                reference.clone()
            ),
            ("dynamo_component_queue_seconds".to_string(), None),
            ("dynamo_component_ttft_seconds".to_string(), reference),
        ]
    );
}

/// The one test of its binary that installs the global recorder; its macro calls run in the
/// runtime's scope, so they reach this test's runtime only.
#[test]
fn request_metrics_and_macros_opt_in() {
    let drt = DistributedRuntime::builder()
        .global_recorder(true)
        .system_server_env(|var| match var {
            "DYN_METRICS_NATIVE_HISTOGRAMS" => Some("ttft_*, itl_seconds".into()),
            "DYN_METRICS_NATIVE_BUCKET_FACTOR" => Some("1.5".into()),
            _ => None,
        })
        .build()
        .unwrap();
    let endpoint = drt.namespace("ns").component("c").endpoint("e");
    endpoint
        .request_metrics_options()
        .with_native_histograms(NativeHistogram::new(1.1))
        .create()
        .unwrap();
    drop(endpoint.track_request());
    drt.in_scope(|| {
        for name in ["ttft_seconds", "itl_seconds", "other_seconds"] {
            metrics::histogram!(name).record(2.0);
        }
    });
    let seen = histograms(&drt.metrics());
    let native = |name: &str| {
        let full = format!("dynamo_component_{name}");
        let found = seen.iter().find(|(family, _)| *family == full);
        found
            .unwrap_or_else(|| panic!("{full} in {seen:?}"))
            .1
            .clone()
    };
    // 1.5 is schema 1 (buckets growing by the square root of 2): 2.0 ends bucket 2.
    assert_eq!(native("ttft_seconds"), Some((1, 0, 1, vec![(2, 1)])));
    assert_eq!(native("itl_seconds"), Some((1, 0, 1, vec![(2, 1)])));
    assert_eq!(native("other_seconds"), None);
    let duration = native("request_duration_seconds").expect("native request durations");
    assert_eq!((duration.0, duration.2), (3, 1));
}
