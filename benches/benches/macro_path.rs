//! The plain `metrics::counter!` path: through our runtime's recorder beside
//! `metrics-exporter-prometheus`'s.

use criterion::{Criterion, criterion_group, criterion_main};
use dynamo_runtime::DistributedRuntime;

fn counter_macro(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter_macro");
    // Our runtime installs the process-wide recorder; the call runs in an endpoint's scope.
    let runtime = DistributedRuntime::new().unwrap();
    let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
    group.bench_function("ours", |b| {
        endpoint.in_scope(|| {
            b.iter(|| metrics::counter!("requests_total", "model" => "llama").increment(1))
        })
    });
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    group.bench_function("metrics_exporter_prometheus", |b| {
        metrics::with_local_recorder(&recorder, || {
            b.iter(|| metrics::counter!("requests_total", "model" => "llama").increment(1))
        })
    });
    group.finish();
}

criterion_group!(benches, counter_macro);
criterion_main!(benches);
