//! The naming layer over `DebuggingRecorder`: names, sanitized labels and scope labels.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use dynamo_recorder_tests::{Seen, SeenValue, seen};
use dynamo_runtime::{DistributedRuntime, NamingLayer};
use metrics_util::debugging::{DebuggingRecorder, Snapshotter};
use metrics_util::layers::{Layer, Stack};

fn recorder() -> (impl metrics::Recorder, Snapshotter) {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    (NamingLayer::new().layer(debugging), snapshotter)
}

fn runtime() -> DistributedRuntime {
    DistributedRuntime::builder()
        .global_recorder(false)
        .build()
        .unwrap()
}

const ENDPOINT_LABELS: [(&str, &str); 3] = [
    ("dynamo_namespace", "ns"),
    ("dynamo_component", "comp"),
    ("dynamo_endpoint", "ep"),
];

#[test]
fn prefixes_and_sanitizes_names_outside_any_scope() {
    let (recorder, snapshotter) = recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("requests_total").increment(2);
        metrics::gauge!("queue-depth", "model-name" => "llama").set(4.0);
        metrics::histogram!("9lives").record(0.5);
    });
    assert_eq!(
        seen(&snapshotter),
        [
            Seen::new(
                "histogram",
                "dynamo_component__9lives",
                &[],
                SeenValue::Histogram(vec![0.5])
            ),
            Seen::new(
                "gauge",
                "dynamo_component_queue_depth",
                &[("model_name", "llama")],
                SeenValue::Gauge(4.0)
            ),
            Seen::new(
                "counter",
                "dynamo_component_requests_total",
                &[],
                SeenValue::Counter(2)
            ),
        ]
    );
}

#[test]
fn endpoint_scope_adds_hierarchy_labels() {
    let (recorder, snapshotter) = recorder();
    let rt = runtime();
    let endpoint = rt.namespace("ns").component("comp").endpoint("ep");
    metrics::with_local_recorder(&recorder, || {
        endpoint.in_scope(|| metrics::counter!("requests_total", "model" => "llama").increment(1));
        rt.namespace("ns")
            .component("comp")
            .in_scope(|| metrics::gauge!("load").set(0.5));
        metrics::counter!("outside_total").increment(1);
    });
    let mut endpoint_labels = ENDPOINT_LABELS.to_vec();
    endpoint_labels.push(("model", "llama"));
    assert_eq!(
        seen(&snapshotter),
        [
            Seen::new(
                "gauge",
                "dynamo_component_load",
                &[("dynamo_namespace", "ns"), ("dynamo_component", "comp")],
                SeenValue::Gauge(0.5)
            ),
            Seen::new(
                "counter",
                "dynamo_component_outside_total",
                &[],
                SeenValue::Counter(1)
            ),
            Seen::new(
                "counter",
                "dynamo_component_requests_total",
                &endpoint_labels,
                SeenValue::Counter(1)
            ),
        ]
    );
}

#[test]
fn nested_scopes_restore_the_outer_one() {
    let (recorder, snapshotter) = recorder();
    let rt = runtime();
    let ns = rt.namespace("ns");
    let endpoint = ns.component("comp").endpoint("ep");
    metrics::with_local_recorder(&recorder, || {
        ns.in_scope(|| {
            endpoint.in_scope(|| metrics::counter!("inner_total").increment(1));
            metrics::counter!("outer_total").increment(1);
        });
    });
    assert_eq!(
        seen(&snapshotter),
        [
            Seen::new(
                "counter",
                "dynamo_component_inner_total",
                &ENDPOINT_LABELS,
                SeenValue::Counter(1)
            ),
            Seen::new(
                "counter",
                "dynamo_component_outer_total",
                &[("dynamo_namespace", "ns")],
                SeenValue::Counter(1)
            ),
        ]
    );
}

/// A future that is pending once before it finishes, so the scope must hold across polls.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn instrumented_future_keeps_its_scope_across_polls() {
    let (recorder, snapshotter) = recorder();
    let rt = runtime();
    let endpoint = rt.namespace("ns").component("comp").endpoint("ep");
    let task = endpoint.instrument(async {
        metrics::counter!("before_total").increment(1);
        YieldOnce(false).await;
        metrics::counter!("after_total").increment(1);
    });
    metrics::with_local_recorder(&recorder, || {
        futures_executor::block_on(task);
        metrics::counter!("unscoped_total").increment(1);
    });
    assert_eq!(
        seen(&snapshotter),
        [
            Seen::new(
                "counter",
                "dynamo_component_after_total",
                &ENDPOINT_LABELS,
                SeenValue::Counter(1)
            ),
            Seen::new(
                "counter",
                "dynamo_component_before_total",
                &ENDPOINT_LABELS,
                SeenValue::Counter(1)
            ),
            Seen::new(
                "counter",
                "dynamo_component_unscoped_total",
                &[],
                SeenValue::Counter(1)
            ),
        ]
    );
}

#[test]
fn refuses_calls_it_cannot_save_and_counts_them() {
    let rt = runtime();
    let rejections = rt
        .metrics()
        .create_intcounter("test_rejections_total", "Refused calls", &[])
        .unwrap();
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let recorder =
        Stack::new(debugging).push(NamingLayer::new().with_rejection_counter(rejections.clone()));
    let endpoint = rt.namespace("ns").component("comp").endpoint("ep");
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("--").increment(1);
        metrics::counter!("reserved_total", "dynamo_namespace" => "spoof").increment(1);
        metrics::counter!("dup_total", "a-b" => "1", "a_b" => "2").increment(1);
        endpoint.in_scope(|| {
            metrics::counter!("hierarchy_total", "dynamo_endpoint" => "spoof").increment(1)
        });
        metrics::counter!("kept_total", "__x" => "1").increment(1);
    });
    assert_eq!(rejections.get(), 4);
    assert_eq!(
        seen(&snapshotter),
        [Seen::new(
            "counter",
            "dynamo_component_kept_total",
            &[("_x", "1")],
            SeenValue::Counter(1)
        )]
    );
}

#[test]
fn describe_goes_through_the_renamed_key() {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    let recorder = NamingLayer::new().layer(debugging);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("jobs_total", "Jobs done");
        metrics::counter!("jobs_total").increment(1);
    });
    let described: Vec<(String, Option<String>)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, description, _)| {
            (
                key.key().name().to_string(),
                description.map(|d| d.to_string()),
            )
        })
        .collect();
    assert_eq!(
        described,
        [(
            "dynamo_component_jobs_total".to_string(),
            Some("Jobs done".to_string())
        )]
    );
}
