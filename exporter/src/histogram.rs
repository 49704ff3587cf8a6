//! Histograms with fixed buckets chosen per metric when it is created.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::counter::add_f64;
use crate::format::{f64_text, push_f64, push_u64};
use crate::handle::handle;
use crate::labels::LabelText;
use crate::series::{Cell, push_sample_prefix};

/// The buckets used when none are given: `0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10`.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds of a histogram, with their `le` label values rendered once.
pub(crate) struct Buckets {
    bounds: Box<[f64]>,
    /// One per bound, then `+Inf`.
    le: Box<[Box<str>]>,
}

impl Buckets {
    /// `bounds` must already be checked: finite and strictly increasing.
    pub(crate) fn new(bounds: Vec<f64>) -> Self {
        let le = bounds
            .iter()
            .map(|b| f64_text(*b).into())
            .chain(["+Inf".into()])
            .collect();
        Self {
            bounds: bounds.into(),
            le,
        }
    }
}

/// The cell of a histogram: one count per bucket (not cumulative) and the sum.
///
/// The total count is the sum of the bucket counts, so `_count` always equals the `+Inf` bucket.
pub(crate) struct HistogramCell {
    buckets: Arc<Buckets>,
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl HistogramCell {
    #[inline]
    pub(crate) fn observe(&self, v: f64) {
        // The first bucket whose bound is >= v; NaN goes to +Inf.
        let i = self
            .buckets
            .bounds
            .partition_point(|b| *b < v || v.is_nan());
        self.counts[i].fetch_add(1, Relaxed);
        add_f64(&self.sum, v);
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }
}

impl Cell for HistogramCell {
    const KIND: MetricKind = MetricKind::Histogram;

    fn new(buckets: Option<&Arc<Buckets>>) -> Self {
        let buckets = buckets
            .cloned()
            .unwrap_or_else(|| Arc::new(Buckets::new(Vec::new())));
        let counts = (0..buckets.le.len()).map(|_| AtomicU64::new(0)).collect();
        Self {
            buckets,
            counts,
            sum: AtomicU64::new(0),
        }
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        let mut cumulative = 0;
        for (le, count) in self.buckets.le.iter().zip(self.counts.iter()) {
            cumulative += count.load(Relaxed);
            out.push_str(name);
            out.push_str("_bucket{");
            if !labels.is_empty() {
                labels.push(out);
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push_str("\"} ");
            push_u64(out, cumulative);
            out.push('\n');
        }
        push_sample_prefix(out, name, "_sum", labels);
        push_f64(out, f64::from_bits(self.sum.load(Relaxed)));
        out.push('\n');
        push_sample_prefix(out, name, "_count", labels);
        push_u64(out, cumulative);
        out.push('\n');
    }
}

handle! {
    /// Observations counted into fixed buckets.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let latency = registry
    ///     .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[0.1, 1.0]))
    ///     .unwrap();
    /// latency.observe(0.05);
    /// latency.observe(2.0);
    /// assert_eq!((latency.get_count(), latency.get_sum()), (2, 2.05));
    /// ```
    Histogram(HistogramCell)
}

impl Histogram {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.0.cell.observe(v);
    }

    /// How many observations were recorded.
    #[must_use]
    pub fn get_count(&self) -> u64 {
        self.0.cell.count()
    }

    /// The sum of all observations.
    #[must_use]
    pub fn get_sum(&self) -> f64 {
        f64::from_bits(self.0.cell.sum.load(Relaxed))
    }

    /// The upper bounds of the buckets, without `+Inf`.
    #[must_use]
    pub fn buckets(&self) -> &[f64] {
        &self.0.cell.buckets.bounds
    }
}
