//! Gauges: one handle, [`GenericGauge`], over an f64 cell ([`Gauge`]) and an i64 cell
//! ([`IntGauge`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::exposition::{Number, Value};
use crate::kinds::handle::{handle, sealed};
use crate::storage::atomics::{add_f64, load_f64, store_f64};
use crate::storage::catalog::CellType;
use crate::storage::pool::{Cell, Pool, SlotRef, static_pool};
use crate::error::ExporterError;
use crate::kinds::NativeHistogram;
use crate::kinds::table::MetricKind;

/// A gauge: a number that goes up and down, `f64` ([`Gauge`]) or `i64` ([`IntGauge`]).
#[must_use]
pub struct GenericGauge<N: GaugeNumber> {
    series: SlotRef<N::Cell>,
}

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
pub type Gauge = GenericGauge<f64>;

/// An i64 value that goes up and down; `add` and `sub` stop at `i64::MAX` and `i64::MIN`
/// rather than wrap.
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
pub type IntGauge = GenericGauge<i64>;

/// The numbers a gauge holds: `f64` and `i64`.
pub trait GaugeNumber: private::GaugeNumber {}

impl GaugeNumber for f64 {}
impl GaugeNumber for i64 {}

mod private {
    use super::*;

    /// How a gauge of this number type stores its value.
    pub trait GaugeNumber: Copy + Send + Sync + 'static {
        type Cell: Cell<Config = ()>;
        /// The handle's name, for `Debug`.
        const HANDLE: &'static str;
        const ZERO: Self;
        const ONE: Self;
        fn pool() -> &'static Pool<Self::Cell>;
        fn set(cell: &Self::Cell, v: Self);
        fn add(cell: &Self::Cell, v: Self);
        fn sub(cell: &Self::Cell, v: Self);
        fn get(cell: &Self::Cell) -> Self;
    }

    impl GaugeNumber for f64 {
        type Cell = F64Gauge;
        const HANDLE: &'static str = "Gauge";
        const ZERO: Self = 0.0;
        const ONE: Self = 1.0;

        #[inline(always)]
        fn pool() -> &'static Pool<F64Gauge> {
            F64Gauge::pool()
        }

        #[inline(always)]
        fn set(cell: &F64Gauge, v: f64) {
            cell.set(v);
        }

        #[inline(always)]
        fn add(cell: &F64Gauge, v: f64) {
            cell.add(v);
        }

        #[inline(always)]
        fn sub(cell: &F64Gauge, v: f64) {
            cell.add(-v);
        }

        fn get(cell: &F64Gauge) -> f64 {
            cell.get()
        }
    }

    impl GaugeNumber for i64 {
        type Cell = I64Gauge;
        const HANDLE: &'static str = "IntGauge";
        const ZERO: Self = 0;
        const ONE: Self = 1;

        #[inline(always)]
        fn pool() -> &'static Pool<I64Gauge> {
            I64Gauge::pool()
        }

        #[inline(always)]
        fn set(cell: &I64Gauge, v: i64) {
            cell.set(v);
        }

        #[inline(always)]
        fn add(cell: &I64Gauge, v: i64) {
            cell.add(v);
        }

        #[inline(always)]
        fn sub(cell: &I64Gauge, v: i64) {
            cell.sub(v);
        }

        fn get(cell: &I64Gauge) -> i64 {
            cell.get()
        }
    }
}

handle! { impl[N: GaugeNumber] GenericGauge<N>, N::Cell, MetricKind::Gauge, N::HANDLE }

impl<N: GaugeNumber> sealed::Create for GenericGauge<N> {
    type Settings<'a> = ();

    fn pool(_: &str, _: Option<&NativeHistogram>, (): ()) -> Result<&'static Pool<N::Cell>, ExporterError> {
        Ok(N::pool())
    }
}

impl<N: GaugeNumber> GenericGauge<N> {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: N) {
        if let Some(cell) = self.cell() {
            N::set(cell, v);
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> N {
        self.cell().map_or(N::ZERO, N::get)
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(N::ONE);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.sub(N::ONE);
    }

    /// Adds `v`.
    #[inline]
    pub fn add(&self, v: N) {
        if let Some(cell) = self.cell() {
            N::add(cell, v);
        }
    }

    /// Subtracts `v`.
    #[inline]
    pub fn sub(&self, v: N) {
        if let Some(cell) = self.cell() {
            N::sub(cell, v);
        }
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: N::pool().noop(),
        }
    }
}

impl Gauge {
    /// Adds `v` (the same as [`Gauge::add`]).
    #[inline]
    pub fn inc_by(&self, v: f64) {
        self.add(v);
    }

    /// Subtracts `v` (the same as [`Gauge::sub`]).
    #[inline]
    pub fn dec_by(&self, v: f64) {
        self.sub(v);
    }
}

/// The cell of an f64 gauge.
#[repr(C)]
pub struct F64Gauge(AtomicU64);

impl Cell for F64Gauge {
    type Config = ();
    const CELL_TYPE: CellType = CellType::F64Gauge;

    fn new(_: &(), _: &'static [AtomicU64]) -> Self {
        Self(AtomicU64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Number(Number::Float(self.get()))
    }
}

static_pool!(F64Gauge, "f64_gauge", 1 << 14);

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
#[repr(C)]
pub struct I64Gauge(AtomicI64);

impl Cell for I64Gauge {
    type Config = ();
    const CELL_TYPE: CellType = CellType::I64Gauge;

    fn new(_: &(), _: &'static [AtomicU64]) -> Self {
        Self(AtomicI64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Number(Number::Int(self.get()))
    }
}

static_pool!(I64Gauge, "i64_gauge", 1 << 14);

impl I64Gauge {
    #[inline]
    pub(crate) fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }

    /// Adds `v`, stopping at `i64::MAX` or `i64::MIN`.
    #[inline]
    pub(crate) fn add(&self, v: i64) {
        let before = self.0.fetch_add(v, Relaxed);
        if before.checked_add(v).is_none() {
            self.saturate(v > 0);
        }
    }

    /// Subtracts `v`, stopping at `i64::MAX` or `i64::MIN`.
    #[inline]
    pub(crate) fn sub(&self, v: i64) {
        let before = self.0.fetch_sub(v, Relaxed);
        if before.checked_sub(v).is_none() {
            self.saturate(v < 0);
        }
    }

    /// Sets the value to its limit after an addition wrapped. A reader may see the wrapped
    /// value for the few instructions in between.
    #[cold]
    #[inline(never)]
    fn saturate(&self, upwards: bool) {
        self.0.store(if upwards { i64::MAX } else { i64::MIN }, Relaxed);
    }

    pub(crate) fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}
