//! Rendering the text exposition: 1k, 10k and 100k series, and 1,000 histograms; 100k series
//! in the text format beside OpenMetrics.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dynamo_benches::{ours_histograms, ours_series, prometheus_client_crate, prometheus_crate};
use dynamo_exporter::Format;

fn render_series(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_series");
    group.sample_size(20);
    for n in [1_000, 10_000, 100_000] {
        let ours = ours_series(n);
        group.bench_with_input(BenchmarkId::new("ours", n), &n, |b, _| {
            b.iter(|| ours.metrics().prometheus_expfmt().unwrap())
        });
        let prom = prometheus_crate::series(n);
        group.bench_with_input(BenchmarkId::new("prometheus", n), &n, |b, _| {
            b.iter(|| prometheus_crate::render(&prom))
        });
        let client = prometheus_client_crate::series(n);
        group.bench_with_input(BenchmarkId::new("prometheus_client", n), &n, |b, _| {
            b.iter(|| prometheus_client_crate::render(&client))
        });
    }
    group.finish();
}

fn render_histograms(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_1000_histograms");
    let ours = ours_histograms(1_000);
    group.bench_function("ours", |b| {
        b.iter(|| ours.metrics().prometheus_expfmt().unwrap())
    });
    let prom = prometheus_crate::histograms(1_000);
    group.bench_function("prometheus", |b| b.iter(|| prometheus_crate::render(&prom)));
    let client = prometheus_client_crate::histograms(1_000);
    group.bench_function("prometheus_client", |b| {
        b.iter(|| prometheus_client_crate::render(&client))
    });
    group.finish();
}

/// Our page of 100k series in the text format and in OpenMetrics.
fn render_formats(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_100k_formats");
    group.sample_size(20);
    let ours = ours_series(100_000);
    for format in [Format::Text, Format::OpenMetrics] {
        let name = format!("{format:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter(|| {
                format.render(|encoder| {
                    ours.metrics().encode(encoder).unwrap();
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render_series, render_histograms, render_formats);
criterion_main!(benches);
