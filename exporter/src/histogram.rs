//! Histograms with fixed buckets chosen per metric when it is created.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::atomics::{add_f64, load_f64};
use crate::exposition::{HistogramValue, Value};
use crate::metric::handle;
use crate::pool::{Cell, Pool};
use crate::{ExporterError, MetricKind};

/// The buckets used when none are given: `0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10`.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The most buckets a histogram may have (besides `+Inf`).
pub const MAX_BUCKETS: usize = 512;

/// Chunks of each bucket layout's pool: room for four million series per layout.
const LAYOUT_CHUNKS: usize = 1 << 12;

/// The upper bounds of a histogram, without `+Inf`.
#[derive(Debug, PartialEq)]
pub struct Buckets {
    pub(crate) bounds: Box<[f64]>,
}

/// The pool of each bucket layout, by the bits of its bounds.
type Pools = HashMap<Box<[u64]>, &'static Pool<HistogramCell>>;

/// One pool per bucket layout, kept for the life of the process (there are as many as
/// distinct layouts were used).
static POOLS: LazyLock<Mutex<Pools>> = LazyLock::new(Default::default);

/// The pool of histograms with these bounds (already checked: finite, strictly increasing).
pub(crate) fn pool(bounds: &[f64]) -> &'static Pool<HistogramCell> {
    let _section = crate::fork::enter();
    let bits: Box<[u64]> = bounds.iter().map(|b| b.to_bits()).collect();
    let mut pools = POOLS.lock();
    pools.entry(bits).or_insert_with(|| {
        let buckets: &'static Buckets = Box::leak(Box::new(Buckets {
            bounds: bounds.into(),
        }));
        Pool::leak(LAYOUT_CHUNKS, buckets)
    })
}

/// The cell of a histogram: one count per bucket (not cumulative) and the sum.
///
/// The total count is the sum of the bucket counts, so `_count` always equals the `+Inf` bucket.
pub struct HistogramCell {
    buckets: &'static Buckets,
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Cell for HistogramCell {
    type Config = &'static Buckets;

    fn new(buckets: &&'static Buckets) -> Self {
        Self {
            buckets,
            counts: (0..=buckets.bounds.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum: AtomicU64::new(0),
        }
    }

    fn reset(&self) {
        for count in &*self.counts {
            count.store(0, Relaxed);
        }
        self.sum.store(0, Relaxed);
    }

    fn value<'s>(&self, scratch: &'s mut Vec<u64>) -> Value<'s> {
        self.cumulative(scratch);
        Value::Histogram(HistogramValue {
            bounds: &self.buckets.bounds,
            cumulative: scratch,
            sum: self.sum(),
        })
    }
}

impl HistogramCell {
    #[inline]
    pub(crate) fn observe(&self, v: f64) {
        // The first bucket whose bound is >= v; NaN goes to +Inf.
        let i = self
            .buckets
            .bounds
            .partition_point(|b| *b < v || v.is_nan());
        if let Some(count) = self.counts.get(i) {
            count.fetch_add(1, Relaxed);
        }
        add_f64(&self.sum, v);
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    pub(crate) fn sum(&self) -> f64 {
        load_f64(&self.sum)
    }

    pub(crate) fn bounds(&self) -> &'static [f64] {
        &self.buckets.bounds
    }

    /// Writes the cumulative bucket counts (the last is `+Inf`, the total count).
    pub(crate) fn cumulative(&self, out: &mut Vec<u64>) {
        out.clear();
        let mut total = 0;
        for count in &*self.counts {
            total += count.load(Relaxed);
            out.push(total);
        }
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
    Histogram(HistogramCell), MetricKind::Histogram, settings
}

impl crate::metric::sealed::Create for Histogram {
    /// The upper bounds of the buckets; `None` means [`DEFAULT_BUCKETS`].
    type Settings<'a> = Option<&'a [f64]>;

    fn pool(
        name: &str,
        buckets: Option<&[f64]>,
    ) -> Result<&'static Pool<HistogramCell>, ExporterError> {
        let bounds = crate::validate::buckets(name, buckets.unwrap_or(&DEFAULT_BUCKETS))?;
        Ok(pool(&bounds))
    }
}

impl Histogram {
    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        if let Some(cell) = self.cell() {
            cell.observe(v);
        }
    }

    /// How many observations were recorded; 0 once the series was removed.
    #[must_use]
    pub fn get_count(&self) -> u64 {
        self.cell().map_or(0, HistogramCell::count)
    }

    /// The sum of all observations; 0 once the series was removed.
    #[must_use]
    pub fn get_sum(&self) -> f64 {
        self.cell().map_or(0.0, HistogramCell::sum)
    }

    /// The upper bounds of the buckets, without `+Inf`.
    #[must_use]
    pub fn buckets(&self) -> &[f64] {
        self.series.slot.cell.bounds()
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: pool(&[]).noop(),
        }
    }
}
