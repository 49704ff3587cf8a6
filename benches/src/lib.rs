//! The same metrics built with each library, so every benchmark measures like with like.
//!
//! Each scrape set-up has `series` series: half integer counters, half f64 gauges, each with
//! two variable labels and the three hierarchy labels as constant labels.

use dynamo_runtime::{DistributedRuntime, Metrics};

/// The hierarchy labels every library's metrics carry.
pub const HIERARCHY: [(&str, &str); 3] = [
    ("dynamo_namespace", "ns"),
    ("dynamo_component", "comp"),
    ("dynamo_endpoint", "ep"),
];

/// The two variable label values of series `i`.
#[must_use]
pub fn label_values(i: usize) -> [String; 2] {
    [format!("model-{}", i / 100), format!("worker-{}", i % 100)]
}

/// Ten histogram bounds.
pub const TEN_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 50.0];

/// A runtime for benchmarks (no global recorder, no bound on series) and its benchmark
/// endpoint's metrics.
pub fn ours_endpoint() -> (DistributedRuntime, Metrics) {
    let runtime = DistributedRuntime::builder()
        .global_recorder(false)
        .max_series(0)
        // The peers read no `/proc` figures on a render; neither do we here.
        .process_metrics(false)
        .build()
        .expect("runtime");
    let metrics = runtime
        .namespace("ns")
        .component("comp")
        .endpoint("ep")
        .metrics();
    (runtime, metrics)
}

/// Our runtime with `series` counter and gauge series; render with `prometheus_expfmt`.
pub fn ours_series(series: usize) -> DistributedRuntime {
    let (runtime, metrics) = ours_endpoint();
    fill(&metrics, series);
    runtime
}

/// Creates `series` series at `metrics`' level: half integer counters, half f64 gauges, with
/// the two variable labels of [`label_values`].
pub fn fill(metrics: &Metrics, series: usize) {
    let counters = metrics
        .create_intcountervec("requests_total", "Requests", &["model", "worker"], &[])
        .unwrap();
    let gauges = metrics
        .create_gaugevec("load", "Load", &["model", "worker"], &[])
        .unwrap();
    for i in 0..series {
        let values = label_values(i);
        if i % 2 == 0 {
            counters.with_label_values(&values).inc_by(i as u64);
        } else {
            gauges.with_label_values(&values).set(i as f64 * 0.5);
        }
    }
}

/// Our runtime with `count` histograms of ten buckets.
pub fn ours_histograms(count: usize) -> DistributedRuntime {
    let (runtime, metrics) = ours_endpoint();
    let histograms = metrics
        .create_histogramvec(
            "latency_seconds",
            "Latency",
            &["model", "worker"],
            &[],
            Some(TEN_BUCKETS.to_vec()),
        )
        .unwrap();
    for i in 0..count {
        histograms
            .with_label_values(&label_values(i))
            .observe(i as f64 * 0.01);
    }
    runtime
}

/// The same with the `prometheus` crate.
pub mod prometheus_crate {
    use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

    use super::{HIERARCHY, TEN_BUCKETS, label_values};

    fn opts(name: &str, help: &str) -> Opts {
        let mut opts = Opts::new(name, help);
        for (k, v) in HIERARCHY {
            opts = opts.const_label(k, v);
        }
        opts
    }

    /// A registry with `series` counter and gauge series.
    #[must_use]
    pub fn series(series: usize) -> Registry {
        let registry = Registry::new();
        let counters = IntCounterVec::new(
            opts("dynamo_component_requests_total", "Requests"),
            &["model", "worker"],
        )
        .unwrap();
        let gauges =
            GaugeVec::new(opts("dynamo_component_load", "Load"), &["model", "worker"]).unwrap();
        registry.register(Box::new(counters.clone())).unwrap();
        registry.register(Box::new(gauges.clone())).unwrap();
        for i in 0..series {
            let values = label_values(i);
            let values = [values[0].as_str(), values[1].as_str()];
            if i % 2 == 0 {
                counters.with_label_values(&values).inc_by(i as u64);
            } else {
                gauges.with_label_values(&values).set(i as f64 * 0.5);
            }
        }
        registry
    }

    /// A registry with `count` histograms of ten buckets.
    #[must_use]
    pub fn histograms(count: usize) -> Registry {
        let registry = Registry::new();
        let opts = HistogramOpts::from(opts("dynamo_component_latency_seconds", "Latency"))
            .buckets(TEN_BUCKETS.to_vec());
        let histograms = HistogramVec::new(opts, &["model", "worker"]).unwrap();
        registry.register(Box::new(histograms.clone())).unwrap();
        for i in 0..count {
            let values = label_values(i);
            histograms
                .with_label_values(&[values[0].as_str(), values[1].as_str()])
                .observe(i as f64 * 0.01);
        }
        registry
    }

    /// The text exposition of `registry`.
    #[must_use]
    pub fn render(registry: &Registry) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap()
    }
}

/// The same with the `prometheus-client` crate.
pub mod prometheus_client_crate {
    use std::borrow::Cow;
    use std::sync::atomic::AtomicU64;

    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    use super::{HIERARCHY, TEN_BUCKETS, label_values};

    /// The variable labels of a series.
    pub type Labels = [(&'static str, String); 2];

    fn labels(i: usize) -> Labels {
        let [model, worker] = label_values(i);
        [("model", model), ("worker", worker)]
    }

    fn registry() -> Registry {
        Registry::with_prefix_and_labels(
            "dynamo_component",
            HIERARCHY
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v))),
        )
    }

    /// A registry with `series` counter and gauge series.
    #[must_use]
    pub fn series(series: usize) -> Registry {
        let mut registry = registry();
        let counters = Family::<Labels, Counter>::default();
        let gauges = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        registry.register("requests", "Requests", counters.clone());
        registry.register("load", "Load", gauges.clone());
        for i in 0..series {
            if i % 2 == 0 {
                counters.get_or_create(&labels(i)).inc_by(i as u64);
            } else {
                gauges.get_or_create(&labels(i)).set(i as f64 * 0.5);
            }
        }
        registry
    }

    /// A registry with `count` histograms of ten buckets.
    #[must_use]
    pub fn histograms(count: usize) -> Registry {
        let mut registry = registry();
        let histograms =
            Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(TEN_BUCKETS));
        registry.register("latency_seconds", "Latency", histograms.clone());
        for i in 0..count {
            histograms
                .get_or_create(&labels(i))
                .observe(i as f64 * 0.01);
        }
        registry
    }

    /// The text exposition of `registry`.
    #[must_use]
    pub fn render(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }
}

/// Native histogram set-ups, the same values for every library.
pub mod native {
    /// How many values a latency cycle holds.
    pub const CYCLE: usize = 4096;

    /// The bucket factor of every native histogram measured: schema 3, buckets about 9% wide.
    pub const FACTOR: f64 = 1.1;

    /// The smallest and largest latency: four decades apart.
    const SPREAD: (f64, f64) = (5e-4, 5.0);

    /// A seeded xorshift generator.
    fn generator(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed.max(1);
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// `n` seeded latencies in seconds, log-normal around 50 ms (one decade each side within
    /// about 1.7 standard deviations), clamped to four decades: at schema 3 at most 107
    /// buckets, within every library's default limit.
    #[must_use]
    pub fn latencies(n: usize, seed: u64) -> Vec<f64> {
        let mut next = generator(seed);
        let mut uniform = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
        (0..n)
            .map(|_| {
                // Box-Muller: a standard normal from two uniforms.
                let (u, v) = (1.0 - uniform(), uniform());
                let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                (0.05 * (1.35 * z).exp()).clamp(SPREAD.0, SPREAD.1)
            })
            .collect()
    }

    /// `n` seeded values spread evenly in log over 20 octaves, `(2^-14, 2^6]`: at schema 3
    /// they populate 160 buckets, the default limit.
    #[must_use]
    pub fn wide(n: usize, seed: u64) -> Vec<f64> {
        let mut next = generator(seed);
        (0..n)
            .map(|_| {
                let octaves = (next() >> 11) as f64 / (1u64 << 53) as f64 * 20.0;
                // 1 - fraction keeps the top of the range and never reaches its bottom.
                2f64.powf(6.0 - octaves)
                    .max(f64::from_bits(0x3f10_0000_0000_0001))
            })
            .collect()
    }

    /// How many distinct buckets `values` populate at schema 3, by the definition (bucket `i`
    /// holds `(2^((i-1)/8), 2^(i/8)]`) computed with `log2`, not with either library's code.
    #[must_use]
    pub fn populated_buckets(values: &[f64]) -> usize {
        let mut indexes: Vec<i64> = values
            .iter()
            .map(|v| (v.log2() * 8.0).ceil() as i64)
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes.len()
    }

    /// Observations in each series of a native page.
    const OBSERVATIONS_PER_SERIES: usize = 20;

    /// The observations of series `i` of a native page: `OBSERVATIONS_PER_SERIES` consecutive
    /// latencies of the cycle, from a place of its own.
    fn series_values(values: &[f64], i: usize) -> impl Iterator<Item = f64> + '_ {
        (0..OBSERVATIONS_PER_SERIES).map(move |k| values[(i * 7 + k) & (CYCLE - 1)])
    }

    /// Our registry with one native-only histogram family of `series` series, one label
    /// (`worker`), each series with its own observations.
    #[must_use]
    pub fn ours_page(series: usize) -> dynamo_exporter::Registry {
        use dynamo_exporter::{NativeHistogram, Opts, Registry};
        let values = latencies(CYCLE, 3);
        let registry = Registry::new();
        let opts =
            Opts::new("latency_seconds", "Latency").with_native(NativeHistogram::new(FACTOR));
        let family = registry
            .histogram_vec(&opts, &["worker"], Some(&[]))
            .unwrap();
        for i in 0..series {
            let series = family.with_label_values(&[format!("worker-{i}")]);
            series_values(&values, i).for_each(|v| series.observe(v));
        }
        registry
    }

    /// Our protobuf page of a registry.
    #[must_use]
    pub fn ours_protobuf(registry: &dynamo_exporter::Registry) -> Vec<u8> {
        dynamo_exporter::Format::Protobuf.render(|encoder| {
            registry.encode(&[], encoder);
        })
    }

    /// prometheus-client's native histogram with the same settings as ours.
    #[must_use]
    pub fn prometheus_client_histogram() -> prometheus_client::metrics::histogram::Histogram {
        use prometheus_client::metrics::histogram::{Histogram, NativeHistogramConfig};
        let max_buckets = dynamo_exporter::NativeHistogram::DEFAULT_MAX_BUCKETS as usize;
        Histogram::new_native(NativeHistogramConfig::new(FACTOR).max_buckets(max_buckets))
    }

    /// prometheus-client's registry with the same series and observations as [`ours_page`].
    #[must_use]
    pub fn prometheus_client_page(series: usize) -> prometheus_client::registry::Registry {
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::histogram::Histogram;
        let values = latencies(CYCLE, 3);
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<[(&'static str, String); 1], Histogram>::new_with_constructor(
            prometheus_client_histogram,
        );
        registry.register("latency_seconds", "Latency", family.clone());
        for i in 0..series {
            let series = family.get_or_create(&[("worker", format!("worker-{i}"))]);
            series_values(&values, i).for_each(|v| series.observe(v));
        }
        registry
    }

    /// prometheus-client's protobuf page of a registry.
    #[must_use]
    pub fn prometheus_client_protobuf(registry: &prometheus_client::registry::Registry) -> Vec<u8> {
        prometheus_client::encoding::prometheus_protobuf::encode_to_vec(registry).unwrap()
    }
}
