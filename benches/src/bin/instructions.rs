//! Runs one hot path (or the render of a whole page) N times, for counting its instructions
//! under valgrind's callgrind (`benches/instructions.py` runs it at two N and prints the
//! difference per call): a count that does not depend on the host's load, beside the same call
//! on a peer (the `prometheus` crate, metrics-exporter-prometheus, prometheus-client).
//!
//! Usage: `instructions <case> <calls>`, cases as listed by `instructions --list`.

use std::hint::black_box;

use dynamo_benches::native::{self, CYCLE, FACTOR, latencies};
use dynamo_benches::ours_endpoint;

const CASES: [&str; 41] = [
    "counter_inc/ours",
    "counter_inc/prometheus",
    "counter_inc_exemplar/ours",
    "counter_inc_exemplar/prometheus_client",
    "counter_inc_by/ours_whole",
    "counter_inc_by/ours_fraction",
    "counter_inc_by/prometheus",
    "int_counter_inc/ours",
    "int_counter_inc/prometheus",
    "int_counter_inc_by/ours",
    "int_counter_inc_by/prometheus",
    "int_gauge_add/ours",
    "int_gauge_add/prometheus",
    "vec_lookup_inc/ours_int",
    "vec_lookup_inc/prometheus_int",
    "vec_lookup_inc/ours_f64",
    "vec_lookup_inc/prometheus_f64",
    "vec_lookup_inc_long/ours_int",
    "vec_lookup_inc_long/prometheus_int",
    "vec_lookup_inc_alternating/ours_int",
    "vec_lookup_inc_alternating/prometheus_int",
    "histogram_observe/ours",
    "histogram_observe/prometheus",
    "histogram_observe_exemplar/ours",
    "histogram_observe_exemplar/prometheus_client",
    "native_observe/ours_native",
    "native_observe/ours_classic",
    "native_observe/prometheus_client_native",
    "counter_macro/ours",
    "counter_macro/metrics_exporter_prometheus",
    "track_request/ours_untraced",
    "track_request/ours_traced",
    "render_10000_series/ours",
    "render_10000_series/prometheus_client",
    "render_10000_series/ours_openmetrics",
    "render_100000_series/ours",
    "render_100000_series/prometheus_client",
    "render_1000_histograms/ours",
    "render_1000_histograms/prometheus_client",
    "render_protobuf_1000_native/ours",
    "render_protobuf_1000_native/prometheus_client",
];

const LABELS: [&str; 2] = ["model", "size"];
const VALUES: [&str; 2] = ["llama", "7b"];
/// Values longer than a word: the vec identifies them by a hash rather than by themselves.
const LONG_VALUES: [&str; 2] = ["meta-llama-3.1-70b-instruct", "worker-17"];
/// Two series looked up in turn: a thread's parked hold is of the other series each time.
const TWO_SERIES: [[&str; 2]; 2] = [["llama", "7b"], ["mistral", "8x7b"]];

/// The exemplar of the exemplar cases: a trace and a span id.
fn exemplar() -> dynamo_runtime::Exemplar {
    dynamo_runtime::Exemplar::new(&[
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("span_id", "00f067aa0ba902b7"),
    ])
    .unwrap()
}

/// prometheus-client's exemplar labels, shared: each update clones a pointer (ours copy
/// their packed labels).
type PeerExemplar = std::sync::Arc<[(String, String)]>;

/// The exemplar of the exemplar cases, as prometheus-client takes it.
fn peer_exemplar() -> PeerExemplar {
    [
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("span_id", "00f067aa0ba902b7"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn count_request() {
    metrics::counter!("requests_total", "model" => "llama").increment(1);
}

/// Makes `calls` calls: the only function whose instructions are counted (callgrind's
/// `--toggle-collect` in `benches/instructions.py`), so the set-up stays out of the counts.
#[inline(never)]
fn measured(calls: u64, call: impl FnMut(u64)) {
    (0..calls).for_each(call);
}

/// The cases `render_<n>_series/<library>`: renders of a page of `n` series; false for the
/// other cases.
fn render_series(case: &str, calls: u64) -> bool {
    let Some((series, library)) = case
        .strip_prefix("render_")
        .and_then(|rest| rest.split_once("_series/"))
    else {
        return false;
    };
    let series = series.parse().expect("a number of series");
    match library {
        "ours" => {
            let runtime = dynamo_benches::ours_series(series);
            measured(calls, |_| {
                black_box(runtime.metrics().prometheus_expfmt().unwrap());
            });
        }
        "ours_openmetrics" => {
            let runtime = dynamo_benches::ours_series(series);
            measured(calls, |_| {
                black_box(dynamo_exporter::Format::OpenMetrics.render(|encoder| {
                    runtime.metrics().encode(encoder).unwrap();
                }));
            });
        }
        "prometheus_client" => {
            let registry = dynamo_benches::prometheus_client_crate::series(series);
            measured(calls, |_| {
                black_box(dynamo_benches::prometheus_client_crate::render(&registry));
            });
        }
        other => panic!("no library {other:?} renders series"),
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        println!("{}", CASES.join("\n"));
        return;
    }
    let [case, calls] = args.as_slice() else {
        panic!("usage: instructions <case> <calls> (cases: instructions --list)");
    };
    let calls: u64 = calls.parse().expect("a number of calls");
    if render_series(case, calls) {
        return;
    }
    let (_runtime, metrics) = ours_endpoint();
    let opts = || prometheus::Opts::new("requests_total", "Requests");
    match case.as_str() {
        "counter_inc/ours" => {
            let counter = metrics
                .create_counter("requests_total", "Requests", &[])
                .unwrap();
            measured(calls, |_| black_box(&counter).inc());
        }
        "counter_inc_exemplar/ours" => {
            let counter = metrics
                .create_counter("requests_total", "Requests", &[])
                .unwrap();
            let exemplar = exemplar();
            measured(calls, |_| {
                black_box(&counter).inc_by_with_exemplar(1.0, &exemplar)
            });
        }
        "counter_inc_exemplar/prometheus_client" => {
            let counter = prometheus_client::metrics::exemplar::CounterWithExemplar::<
                PeerExemplar,
                f64,
                std::sync::atomic::AtomicU64,
            >::default();
            let exemplar = peer_exemplar();
            measured(calls, |_| {
                let now = Some(std::time::SystemTime::now());
                black_box(&counter).inc_by(1.0, Some(exemplar.clone()), now);
            });
        }
        "counter_inc/prometheus" => {
            let counter = prometheus::Counter::with_opts(opts()).unwrap();
            measured(calls, |_| black_box(&counter).inc());
        }
        "counter_inc_by/ours_whole" | "counter_inc_by/ours_fraction" => {
            let counter = metrics.create_counter("bytes_total", "Bytes", &[]).unwrap();
            let v = if case.ends_with("whole") { 3.0 } else { 2.5 };
            measured(calls, |_| black_box(&counter).inc_by(black_box(v)));
        }
        "counter_inc_by/prometheus" => {
            let counter = prometheus::Counter::with_opts(opts()).unwrap();
            measured(calls, |_| black_box(&counter).inc_by(black_box(2.5)));
        }
        "int_counter_inc/ours" => {
            let counter = metrics
                .create_intcounter("requests_total", "Requests", &[])
                .unwrap();
            measured(calls, |_| black_box(&counter).inc());
        }
        "int_counter_inc/prometheus" => {
            let counter = prometheus::IntCounter::with_opts(opts()).unwrap();
            measured(calls, |_| black_box(&counter).inc());
        }
        "int_counter_inc_by/ours" => {
            let counter = metrics
                .create_intcounter("bytes_total", "Bytes", &[])
                .unwrap();
            measured(calls, |_| black_box(&counter).inc_by(black_box(3)));
        }
        "int_counter_inc_by/prometheus" => {
            let counter = prometheus::IntCounter::with_opts(opts()).unwrap();
            measured(calls, |_| black_box(&counter).inc_by(black_box(3)));
        }
        "int_gauge_add/ours" => {
            let gauge = metrics.create_intgauge("slots", "Slots", &[]).unwrap();
            measured(calls, |_| black_box(&gauge).add(black_box(3)));
        }
        "int_gauge_add/prometheus" => {
            let gauge = prometheus::IntGauge::with_opts(opts()).unwrap();
            measured(calls, |_| black_box(&gauge).add(black_box(3)));
        }
        "vec_lookup_inc/ours_int" => {
            let vec = metrics
                .create_intcountervec("requests_total", "Requests", &LABELS, &[])
                .unwrap();
            measured(calls, |_| vec.with_label_values(black_box(&VALUES)).inc());
        }
        "vec_lookup_inc/prometheus_int" => {
            let vec = prometheus::IntCounterVec::new(opts(), &LABELS).unwrap();
            measured(calls, |_| vec.with_label_values(black_box(&VALUES)).inc());
        }
        "vec_lookup_inc/ours_f64" => {
            let vec = metrics
                .create_countervec("requests_total", "Requests", &LABELS, &[])
                .unwrap();
            measured(calls, |_| vec.with_label_values(black_box(&VALUES)).inc());
        }
        "vec_lookup_inc/prometheus_f64" => {
            let vec = prometheus::CounterVec::new(opts(), &LABELS).unwrap();
            measured(calls, |_| vec.with_label_values(black_box(&VALUES)).inc());
        }
        "vec_lookup_inc_long/ours_int" => {
            let vec = metrics
                .create_intcountervec("requests_total", "Requests", &LABELS, &[])
                .unwrap();
            measured(calls, |_| {
                vec.with_label_values(black_box(&LONG_VALUES)).inc()
            });
        }
        "vec_lookup_inc_long/prometheus_int" => {
            let vec = prometheus::IntCounterVec::new(opts(), &LABELS).unwrap();
            measured(calls, |_| {
                vec.with_label_values(black_box(&LONG_VALUES)).inc()
            });
        }
        "vec_lookup_inc_alternating/ours_int" => {
            let vec = metrics
                .create_intcountervec("requests_total", "Requests", &LABELS, &[])
                .unwrap();
            measured(calls, |i| {
                vec.with_label_values(black_box(&TWO_SERIES[i as usize & 1]))
                    .inc()
            });
        }
        "vec_lookup_inc_alternating/prometheus_int" => {
            let vec = prometheus::IntCounterVec::new(opts(), &LABELS).unwrap();
            measured(calls, |i| {
                vec.with_label_values(black_box(&TWO_SERIES[i as usize & 1]))
                    .inc()
            });
        }
        "histogram_observe/ours" => {
            let histogram = metrics
                .create_histogram("latency_seconds", "Latency", &[], None)
                .unwrap();
            measured(calls, |_| black_box(&histogram).observe(black_box(0.3)));
        }
        "histogram_observe_exemplar/ours" => {
            let histogram = metrics
                .create_histogram("latency_seconds", "Latency", &[], None)
                .unwrap();
            let exemplar = exemplar();
            measured(calls, |_| {
                black_box(&histogram).observe_with_exemplar(black_box(0.3), &exemplar);
            });
        }
        "histogram_observe_exemplar/prometheus_client" => {
            let buckets = prometheus::DEFAULT_BUCKETS.iter().copied();
            let histogram = prometheus_client::metrics::exemplar::HistogramWithExemplars::<
                PeerExemplar,
            >::new(buckets);
            let exemplar = peer_exemplar();
            measured(calls, |_| {
                let now = Some(std::time::SystemTime::now());
                black_box(&histogram).observe(black_box(0.3), Some(exemplar.clone()), now);
            });
        }
        "histogram_observe/prometheus" => {
            let opts = prometheus::HistogramOpts::new("latency_seconds", "Latency");
            let histogram = prometheus::Histogram::with_opts(opts).unwrap();
            measured(calls, |_| black_box(&histogram).observe(black_box(0.3)));
        }
        "native_observe/ours_native" | "native_observe/ours_classic" => {
            // The same cycle of latencies as the `native_histogram` bench's `observe`.
            let values = latencies(CYCLE, 1);
            let registry = dynamo_exporter::Registry::new();
            let opts = dynamo_exporter::Opts::new("latency_seconds", "Latency");
            let histogram = if case.ends_with("native") {
                let native = dynamo_exporter::NativeHistogram::new(FACTOR);
                registry.histogram(&opts.with_native(native), Some(&[]))
            } else {
                registry.histogram(&opts, None)
            }
            .unwrap();
            measured(calls, |i| {
                black_box(&histogram).observe(black_box(values[i as usize & (CYCLE - 1)]));
            });
        }
        "native_observe/prometheus_client_native" => {
            let values = latencies(CYCLE, 1);
            let histogram = native::prometheus_client_histogram();
            measured(calls, |i| {
                black_box(&histogram).observe(black_box(values[i as usize & (CYCLE - 1)]));
            });
        }
        "counter_macro/ours" => {
            // The process-wide recorder of a default runtime, called in an endpoint's scope.
            let runtime = dynamo_runtime::DistributedRuntime::new().unwrap();
            let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
            endpoint.in_scope(|| measured(calls, |_| count_request()));
        }
        "track_request/ours_untraced" | "track_request/ours_traced" => {
            // A request tracked from start to end; traced, from its `traceparent` header as a
            // server receives it (parsed, and its ids kept as the exemplars of its count and
            // its duration).
            let (runtime, _) = ours_endpoint();
            let endpoint = runtime.namespace("ns").component("comp").endpoint("ep");
            endpoint.request_metrics().unwrap();
            let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            // The first request calibrates the clock, for a time rather than a count of
            // steps: before the counted calls.
            drop(endpoint.track_request());
            if case.ends_with("untraced") {
                measured(calls, |_| drop(black_box(&endpoint).track_request()));
            } else {
                measured(calls, |_| {
                    drop(black_box(&endpoint).track_request_traced(black_box(header)))
                });
            }
        }
        "counter_macro/metrics_exporter_prometheus" => {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            metrics::with_local_recorder(&recorder, || measured(calls, |_| count_request()));
        }
        "render_1000_histograms/ours" => {
            let runtime = dynamo_benches::ours_histograms(1_000);
            measured(calls, |_| {
                black_box(runtime.metrics().prometheus_expfmt().unwrap());
            });
        }
        "render_1000_histograms/prometheus_client" => {
            let registry = dynamo_benches::prometheus_client_crate::histograms(1_000);
            measured(calls, |_| {
                black_box(dynamo_benches::prometheus_client_crate::render(&registry));
            });
        }
        "render_protobuf_1000_native/ours" => {
            let registry = native::ours_page(1_000);
            measured(calls, |_| {
                black_box(native::ours_protobuf(&registry));
            });
        }
        "render_protobuf_1000_native/prometheus_client" => {
            let registry = native::prometheus_client_page(1_000);
            measured(calls, |_| {
                black_box(native::prometheus_client_protobuf(&registry));
            });
        }
        other => panic!("no case {other:?} (cases: instructions --list)"),
    }
}
