//! Counters: `Counter` (f64) and `IntCounter` (u64).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::atomics::{add_f64, load_f64};
use crate::exposition::{Number, Value};
use crate::metric::handle;
use crate::pool::{Cell, static_pool};

/// Whole increments below this are exact in an f64, and go to the integer part.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

/// The cell of an f64 counter: whole increments in an integer (one atomic add, which never
/// retries under contention) and the rest in an f64.
pub struct F64Counter {
    whole: AtomicU64,
    fraction: AtomicU64,
}

impl Cell for F64Counter {
    type Config = ();

    fn new(_: &()) -> Self {
        Self {
            whole: AtomicU64::new(0),
            fraction: AtomicU64::new(0),
        }
    }

    fn reset(&self) {
        self.whole.store(0, Relaxed);
        self.fraction.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Counter(Number::Float(self.get()))
    }
}

static_pool!(F64Counter, 1 << 14);

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
        self.whole.load(Relaxed) as f64 + load_f64(&self.fraction)
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

/// The cell of a u64 counter.
pub struct U64Counter(AtomicU64);

impl Cell for U64Counter {
    type Config = ();

    fn new(_: &()) -> Self {
        Self(AtomicU64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Counter(Number::UInt(self.get()))
    }
}

static_pool!(U64Counter, 1 << 14);

impl U64Counter {
    #[inline]
    pub(crate) fn add(&self, v: u64) {
        self.0.fetch_add(v, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    pub(crate) fn raise_to(&self, v: u64) {
        self.0.fetch_max(v, Relaxed);
    }
}

handle! {
    /// A counter of f64 values that only goes up.
    ///
    /// Handles are small copies of a reference to the series; they cost nothing to clone.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let bytes = registry.counter(&Opts::new("bytes_total", "Bytes sent")).unwrap();
    /// bytes.inc_by(1.5);
    /// bytes.inc();
    /// assert_eq!(bytes.get(), 2.5);
    /// ```
    Counter(F64Counter), MetricKind::Counter
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        if let Some(cell) = self.cell() {
            cell.add_whole(1);
        }
    }

    /// Adds `v`. A negative or NaN `v` would break the counter's promise and is ignored.
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v >= 0.0 {
            if let Some(cell) = self.cell() {
                cell.add(v);
            }
        } else {
            tracing::warn!(metric = %self.name(), value = v, "ignored a negative or NaN counter increment");
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> f64 {
        self.cell().map_or(0.0, F64Counter::get)
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: F64Counter::pool().noop(),
        }
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
    IntCounter(U64Counter), MetricKind::Counter
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
        if let Some(cell) = self.cell() {
            cell.add(v);
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.cell().map_or(0, U64Counter::get)
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: U64Counter::pool().noop(),
        }
    }
}
