//! Counters: `Counter` (f64) and `IntCounter` (u64).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::format::{push_f64, push_u64};
use crate::handle::handle;
use crate::histogram::Buckets;
use crate::labels::LabelText;
use crate::series::{Cell, push_sample_prefix};

/// Adds `v` to an f64 stored as bits.
#[inline]
pub(crate) fn add_f64(bits: &AtomicU64, v: f64) {
    let mut current = bits.load(Relaxed);
    loop {
        let next = (f64::from_bits(current) + v).to_bits();
        match bits.compare_exchange_weak(current, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// Whole increments below this are exact in an f64, and go to the integer part.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

/// The cell of an f64 counter: whole increments in an integer (one atomic add, which never
/// retries under contention) and the rest in an f64.
#[derive(Default)]
pub(crate) struct F64Counter {
    whole: AtomicU64,
    fraction: AtomicU64,
}

impl F64Counter {
    #[inline]
    pub(crate) fn add_whole(&self, v: u64) {
        self.whole.fetch_add(v, Relaxed);
    }

    /// Adds `v`, which must not be negative or NaN.
    #[inline]
    pub(crate) fn add(&self, v: f64) {
        if v.fract() == 0.0 && v < EXACT_WHOLE {
            self.add_whole(v as u64);
        } else {
            add_f64(&self.fraction, v);
        }
    }

    pub(crate) fn get(&self) -> f64 {
        self.whole.load(Relaxed) as f64 + f64::from_bits(self.fraction.load(Relaxed))
    }

    /// Raises the value to `target` if it is below. Two racing calls cannot both add their
    /// difference: the fraction is swapped only if nothing changed since it was read.
    pub(crate) fn raise_to(&self, target: f64) {
        loop {
            let fraction = self.fraction.load(Relaxed);
            let whole = self.whole.load(Relaxed) as f64;
            if whole + f64::from_bits(fraction) >= target {
                return;
            }
            let raised = (target - whole).to_bits();
            if self
                .fraction
                .compare_exchange_weak(fraction, raised, Relaxed, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl Cell for F64Counter {
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_f64(out, self.get());
        out.push('\n');
    }
}

/// The cell of a u64 counter.
#[derive(Default)]
pub(crate) struct U64Counter(pub(crate) AtomicU64);

impl Cell for U64Counter {
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_u64(out, self.0.load(Relaxed));
        out.push('\n');
    }
}

handle! {
    /// A counter of f64 values that only goes up.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let bytes = registry.counter(&Opts::new("bytes_total", "Bytes sent")).unwrap();
    /// bytes.inc_by(1.5);
    /// bytes.inc();
    /// assert_eq!(bytes.get(), 2.5);
    /// ```
    Counter(F64Counter)
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.cell.add_whole(1);
    }

    /// Adds `v`. A negative or NaN `v` would break the counter's promise and is ignored.
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v >= 0.0 {
            self.0.cell.add(v);
        } else {
            tracing::warn!(
                metric = self.name(),
                value = v,
                "ignored a negative or NaN counter increment"
            );
        }
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        self.0.cell.get()
    }
}

handle! {
    /// A counter of u64 values that only goes up.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let requests = registry.int_counter(&Opts::new("requests_total", "Requests")).unwrap();
    /// requests.inc();
    /// requests.inc_by(2);
    /// assert_eq!(requests.get(), 3);
    /// ```
    IntCounter(U64Counter)
}

impl IntCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `v` (wrapping past `u64::MAX`).
    #[inline]
    pub fn inc_by(&self, v: u64) {
        self.0.cell.0.fetch_add(v, Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.cell.0.load(Relaxed)
    }
}
