//! Gauges: `Gauge` (f64) and `IntGauge` (i64).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::atomics::{add_f64, load_f64, store_f64};
use crate::exposition::{Number, Value};
use crate::metric::handle;
use crate::pool::{Cell, static_pool};

/// The cell of an f64 gauge.
pub struct F64Gauge(AtomicU64);

impl Cell for F64Gauge {
    type Config = ();

    fn new(_: &()) -> Self {
        Self(AtomicU64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Gauge(Number::Float(self.get()))
    }
}

static_pool!(F64Gauge, 1 << 14);

impl F64Gauge {
    #[inline]
    pub(crate) fn set(&self, v: f64) {
        store_f64(&self.0, v);
    }

    #[inline]
    pub(crate) fn add(&self, v: f64) {
        add_f64(&self.0, v);
    }

    pub(crate) fn get(&self) -> f64 {
        load_f64(&self.0)
    }
}

/// The cell of an i64 gauge.
pub struct I64Gauge(AtomicI64);

impl Cell for I64Gauge {
    type Config = ();

    fn new(_: &()) -> Self {
        Self(AtomicI64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Gauge(Number::Int(self.get()))
    }
}

static_pool!(I64Gauge, 1 << 14);

impl I64Gauge {
    #[inline]
    pub(crate) fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }

    #[inline]
    pub(crate) fn add(&self, v: i64) {
        self.0.fetch_add(v, Relaxed);
    }

    pub(crate) fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

handle! {
    /// An f64 value that goes up and down.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let load = registry.gauge(&Opts::new("load", "Current load")).unwrap();
    /// load.set(42.0);
    /// load.inc();
    /// load.sub(0.5);
    /// assert_eq!(load.get(), 42.5);
    /// ```
    Gauge(F64Gauge), MetricKind::Gauge
}

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        if let Some(cell) = self.cell() {
            cell.set(v);
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> f64 {
        self.cell().map_or(0.0, F64Gauge::get)
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Adds `v`.
    #[inline]
    pub fn add(&self, v: f64) {
        if let Some(cell) = self.cell() {
            cell.add(v);
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: f64) {
        self.add(-v);
    }

    /// Adds `v` (the same as [`Gauge::add`]).
    #[inline]
    pub fn inc_by(&self, v: f64) {
        self.add(v);
    }

    /// Subtracts `v` (the same as [`Gauge::sub`]).
    #[inline]
    pub fn dec_by(&self, v: f64) {
        self.add(-v);
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: F64Gauge::pool().noop(),
        }
    }
}

handle! {
    /// An i64 value that goes up and down.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let slots = registry.int_gauge(&Opts::new("slots", "Free slots")).unwrap();
    /// slots.set(8);
    /// slots.dec();
    /// slots.add(3);
    /// assert_eq!(slots.get(), 10);
    /// ```
    IntGauge(I64Gauge), MetricKind::Gauge
}

impl IntGauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        if let Some(cell) = self.cell() {
            cell.set(v);
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.cell().map_or(0, I64Gauge::get)
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `v` (wrapping on overflow).
    #[inline]
    pub fn add(&self, v: i64) {
        if let Some(cell) = self.cell() {
            cell.add(v);
        }
    }

    /// Subtracts `v` (wrapping on overflow).
    #[inline]
    pub fn sub(&self, v: i64) {
        self.add(v.wrapping_neg());
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: I64Gauge::pool().noop(),
        }
    }
}
