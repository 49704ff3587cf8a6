//! Gauges: `Gauge` (f64) and `IntGauge` (i64).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::counter::add_f64;
use crate::format::{push_f64, push_i64};
use crate::handle::handle;
use crate::histogram::Buckets;
use crate::labels::LabelText;
use crate::series::{Cell, push_sample_prefix};

/// The cell of an f64 gauge.
#[derive(Default)]
pub(crate) struct F64Gauge(pub(crate) AtomicU64);

impl Cell for F64Gauge {
    const KIND: MetricKind = MetricKind::Gauge;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_f64(out, f64::from_bits(self.0.load(Relaxed)));
        out.push('\n');
    }
}

/// The cell of an i64 gauge.
#[derive(Default)]
pub(crate) struct I64Gauge(pub(crate) AtomicI64);

impl Cell for I64Gauge {
    const KIND: MetricKind = MetricKind::Gauge;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_i64(out, self.0.load(Relaxed));
        out.push('\n');
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
    Gauge(F64Gauge)
}

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.0.cell.0.store(v.to_bits(), Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.cell.0.load(Relaxed))
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
        add_f64(&self.0.cell.0, v);
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
    IntGauge(I64Gauge)
}

impl IntGauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.cell.0.store(v, Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.0.cell.0.load(Relaxed)
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
        self.0.cell.0.fetch_add(v, Relaxed);
    }

    /// Subtracts `v` (wrapping on overflow).
    #[inline]
    pub fn sub(&self, v: i64) {
        self.0.cell.0.fetch_sub(v, Relaxed);
    }
}
