//! Counters: one handle, [`GenericCounter`], over an f64 cell ([`Counter`]) and a u64 cell
//! ([`IntCounter`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::kinds::exemplar::{Exemplar, ExemplarTable};
use crate::kinds::NativeHistogram;
use crate::kinds::table::MetricKind;
use crate::exposition::{Number, Value};
use crate::error::ExporterError;
use crate::kinds::handle::{handle, sealed};
use crate::storage::atomics::{add_f64, load_f64};
use crate::storage::catalog::CellType;
use crate::storage::pool::{Cell, Pool, SlotRef, static_pool};

/// A counter: a number that only goes up, `f64` ([`Counter`]) or `u64` ([`IntCounter`]).
///
/// Handles are small copies of a reference to the series; they cost nothing to clone.
#[must_use]
pub struct GenericCounter<N: CounterNumber> {
    series: SlotRef<N::Cell>,
}

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
pub type Counter = GenericCounter<f64>;

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
pub type IntCounter = GenericCounter<u64>;

/// The numbers a counter holds: `f64` and `u64`.
pub trait CounterNumber: private::CounterNumber {}

impl CounterNumber for f64 {}
impl CounterNumber for u64 {}

mod private {
    use super::*;

    /// How a counter of this number type stores its value.
    pub trait CounterNumber: Copy + Send + Sync + 'static {
        type Cell: Cell<Config = ()>;
        /// The handle's name, for `Debug`.
        const HANDLE: &'static str;
        const ZERO: Self;
        fn pool() -> &'static Pool<Self::Cell>;
        /// The exemplars of the counters of this number type.
        fn exemplars() -> &'static ExemplarTable;
        /// False for what a counter cannot take: a negative or NaN increment.
        fn is_increment(self) -> bool;
        /// The value as a float, for messages.
        fn as_f64(self) -> f64;
        fn add_one(cell: &Self::Cell);
        fn add(cell: &Self::Cell, v: Self);
        fn get(cell: &Self::Cell) -> Self;
    }

    impl CounterNumber for f64 {
        type Cell = F64Counter;
        const HANDLE: &'static str = "Counter";
        const ZERO: Self = 0.0;

        #[inline(always)]
        fn pool() -> &'static Pool<F64Counter> {
            F64Counter::pool()
        }

        fn exemplars() -> &'static ExemplarTable {
            &F64_EXEMPLARS
        }

        #[inline(always)]
        fn is_increment(self) -> bool {
            self >= 0.0
        }

        fn as_f64(self) -> f64 {
            self
        }

        #[inline(always)]
        fn add_one(cell: &F64Counter) {
            cell.add_one();
        }

        #[inline(always)]
        fn add(cell: &F64Counter, v: f64) {
            cell.add(v);
        }

        fn get(cell: &F64Counter) -> f64 {
            cell.get()
        }
    }

    impl CounterNumber for u64 {
        type Cell = U64Counter;
        const HANDLE: &'static str = "IntCounter";
        const ZERO: Self = 0;

        #[inline(always)]
        fn pool() -> &'static Pool<U64Counter> {
            U64Counter::pool()
        }

        fn exemplars() -> &'static ExemplarTable {
            &U64_EXEMPLARS
        }

        #[inline(always)]
        fn is_increment(self) -> bool {
            true
        }

        fn as_f64(self) -> f64 {
            self as f64
        }

        #[inline(always)]
        fn add_one(cell: &U64Counter) {
            cell.add(1);
        }

        #[inline(always)]
        fn add(cell: &U64Counter, v: u64) {
            cell.add(v);
        }

        fn get(cell: &U64Counter) -> u64 {
            cell.get()
        }
    }
}

handle! { impl[N: CounterNumber] GenericCounter<N>, N::Cell, MetricKind::Counter, N::HANDLE }

impl<N: CounterNumber> sealed::Create for GenericCounter<N> {
    type Settings<'a> = ();

    fn pool(_: &str, _: Option<&NativeHistogram>, (): ()) -> Result<&'static Pool<N::Cell>, ExporterError> {
        Ok(N::pool())
    }
}

impl<N: CounterNumber> GenericCounter<N> {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        if let Some(cell) = self.cell() {
            N::add_one(cell);
        }
    }

    /// Adds `v`. A negative or NaN `v` would break the counter's promise and is ignored (and
    /// logged); a `u64` counter stops at `u64::MAX` rather than wrap.
    #[inline]
    pub fn inc_by(&self, v: N) {
        if v.is_increment() {
            if let Some(cell) = self.cell() {
                N::add(cell, v);
            }
        } else {
            ignored(&self.series.state, v.as_f64());
        }
    }

    /// Adds `v` as [`Self::inc_by`] does, and keeps `exemplar` with `v` and the time as the
    /// series' latest exemplar. Updates without an exemplar never reach the exemplar storage.
    ///
    /// ```
    /// # use dynamo_exporter::{Exemplar, Opts, Registry};
    /// let registry = Registry::new();
    /// let bytes = registry.counter(&Opts::new("bytes_total", "Bytes")).unwrap();
    /// let exemplar = Exemplar::new(&[("trace_id", "abc")]).unwrap();
    /// bytes.inc_by_with_exemplar(1.5, &exemplar);
    /// assert_eq!(bytes.get(), 1.5);
    /// ```
    pub fn inc_by_with_exemplar(&self, v: N, exemplar: &Exemplar) {
        self.add_with_exemplar_or_now(v, exemplar, None);
    }

    /// [`Self::inc_by_with_exemplar`], with the time of the exemplar read by the caller
    /// (a request's start, say; as the time since the Unix epoch) where the wall clock's now
    /// would be read.
    ///
    /// ```
    /// # use dynamo_exporter::{Exemplar, Opts, Registry};
    /// # use std::time::{SystemTime, UNIX_EPOCH};
    /// let registry = Registry::new();
    /// let requests = registry.int_counter(&Opts::new("requests_total", "Requests")).unwrap();
    /// let exemplar = Exemplar::new(&[("trace_id", "abc")]).unwrap();
    /// requests.inc_by_with_exemplar_at(1, &exemplar, SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    /// assert_eq!(requests.get(), 1);
    /// ```
    pub fn inc_by_with_exemplar_at(&self, v: N, exemplar: &Exemplar, since_epoch: Duration) {
        self.add_with_exemplar_or_now(v, exemplar, Some(since_epoch));
    }

    #[inline]
    fn add_with_exemplar_or_now(&self, v: N, exemplar: &Exemplar, at: Option<Duration>) {
        if !v.is_increment() {
            ignored(&self.series.state, v.as_f64());
            return;
        }
        if let Some(cell) = self.cell() {
            N::add(cell, v);
            let series = &self.series;
            let (index, state) = (series.index(), series.state);
            N::exemplars().record(index, state, (0, 1), exemplar, v.as_f64(), at);
        }
    }

    /// The current value; 0 once the series was removed.
    #[must_use]
    pub fn get(&self) -> N {
        self.cell().map_or(N::ZERO, N::get)
    }

    /// A handle that records nothing and belongs to no registry.
    pub fn noop() -> Self {
        Self {
            series: N::pool().noop(),
        }
    }
}

/// Logs an increment a counter cannot take (negative or NaN), naming the counter by the owner
/// in its series' state; out of line, and given the state by reference, so the increments a
/// counter takes carry none of it.
#[cold]
#[inline(never)]
fn ignored(state: &u64, value: f64) {
    let metric = crate::storage::directory::Core::find(crate::storage::pool::owner_of(*state))
        .map(|core| core.name.to_string())
        .unwrap_or_default();
    tracing::warn!(%metric, value, "ignored a negative or NaN counter increment");
}

/// The cell of an f64 counter: whole increments in an integer (one atomic add, which never
/// retries under contention) and the rest in an f64.
#[repr(C)]
pub struct F64Counter {
    whole: AtomicU64,
    fraction: AtomicU64,
}

impl Cell for F64Counter {
    type Config = ();
    const CELL_TYPE: CellType = CellType::F64Counter;

    fn new(_: &(), _: &'static [AtomicU64]) -> Self {
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
        Value::Number(Number::Float(self.get()))
    }

    fn exemplars(_: &()) -> Option<&ExemplarTable> {
        Some(&F64_EXEMPLARS)
    }
}

/// The exemplars of f64 counters.
static F64_EXEMPLARS: ExemplarTable = ExemplarTable::new();

impl F64Counter {
    /// The value of a cell read as words (whole part, then the fraction's bits) from
    /// another process's file.
    pub(crate) fn from_words(words: &[u64]) -> f64 {
        let cell = Self {
            whole: AtomicU64::new(words.first().copied().unwrap_or(0)),
            fraction: AtomicU64::new(words.get(1).copied().unwrap_or(0)),
        };
        cell.get()
    }
}

static_pool!(F64Counter, "f64_counter", 1 << 14);

/// `v` as an integer when it is whole, not negative and below 2^53 (so exact in an f64),
/// read from its bits: `fract`, or a round trip through an integer, is a call into libm on
/// x86-64. Such increments go to the integer part of a counter.
#[inline]
fn exact_whole(v: f64) -> Option<u64> {
    const FRACTION_BITS: u32 = 52;
    const EXPONENT_BIAS: u64 = 1023;
    let bits = v.to_bits();
    if bits == 0 {
        return Some(0);
    }
    // The sign bit, when set, makes the exponent too large: negatives are never whole here.
    let exponent = (bits >> FRACTION_BITS).wrapping_sub(EXPONENT_BIAS);
    if exponent > u64::from(FRACTION_BITS) {
        // Below 1 (the subtraction wrapped), from 2^53 on, negative, infinite or NaN.
        return None;
    }
    let below_point = FRACTION_BITS - exponent as u32;
    let significand = (bits & ((1 << FRACTION_BITS) - 1)) | (1 << FRACTION_BITS);
    (significand & ((1 << below_point) - 1) == 0).then_some(significand >> below_point)
}

impl F64Counter {
    /// Adds one. The integer part cannot wrap this way: from the most [`Self::add_whole`]
    /// leaves it, 2^63 more increments would be needed.
    #[inline]
    pub(crate) fn add_one(&self) {
        self.whole.fetch_add(1, Relaxed);
    }

    /// Adds a whole `v` below 2^53. Once the integer part has reached 2^63, increments go to
    /// the float part instead, so the integer part stays below 2^63 plus what the increments
    /// racing the one that crossed add: it never wraps.
    #[inline]
    pub(crate) fn add_whole(&self, v: u64) {
        let before = self.whole.fetch_add(v, Relaxed);
        if before >> 63 != 0 {
            self.move_to_fraction(v);
        }
    }

    /// Adds any whole `v`: below 2^53 to the integer part, above to the float part.
    pub(crate) fn add_u64(&self, v: u64) {
        if v < 1 << 53 {
            self.add_whole(v);
        } else {
            add_f64(&self.fraction, v as f64);
        }
    }

    #[cold]
    #[inline(never)]
    fn move_to_fraction(&self, v: u64) {
        self.whole.fetch_sub(v, Relaxed);
        add_f64(&self.fraction, v as f64);
    }

    /// Adds `v`, which must not be negative or NaN.
    #[inline]
    pub(crate) fn add(&self, v: f64) {
        match exact_whole(v) {
            Some(whole) => self.add_whole(whole),
            None => add_f64(&self.fraction, v),
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
#[repr(C)]
pub struct U64Counter(AtomicU64);

impl Cell for U64Counter {
    type Config = ();
    const CELL_TYPE: CellType = CellType::U64Counter;

    fn new(_: &(), _: &'static [AtomicU64]) -> Self {
        Self(AtomicU64::new(0))
    }

    fn reset(&self) {
        self.0.store(0, Relaxed);
    }

    fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
        Value::Number(Number::UInt(self.get()))
    }

    fn exemplars(_: &()) -> Option<&ExemplarTable> {
        Some(&U64_EXEMPLARS)
    }
}

/// The exemplars of u64 counters.
static U64_EXEMPLARS: ExemplarTable = ExemplarTable::new();

static_pool!(U64Counter, "u64_counter", 1 << 14);

impl U64Counter {
    /// Adds `v`, stopping at `u64::MAX`.
    #[inline]
    pub(crate) fn add(&self, v: u64) {
        let before = self.0.fetch_add(v, Relaxed);
        if before.checked_add(v).is_none() {
            self.saturate();
        }
    }

    /// Sets the value to `u64::MAX` after an addition wrapped. A reader may see the wrapped
    /// value for the few instructions in between.
    #[cold]
    #[inline(never)]
    fn saturate(&self) {
        self.0.store(u64::MAX, Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    pub(crate) fn raise_to(&self, v: u64) {
        self.0.fetch_max(v, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0;

    /// What [`exact_whole`] must agree with.
    fn by_fract(v: f64) -> Option<u64> {
        (v.is_sign_positive() && v.fract() == 0.0 && v < EXACT_WHOLE).then_some(v as u64)
    }

    #[test]
    fn whole_values_are_told_from_their_bits() {
        let edges = [
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            2.0,
            3.0,
            1e15 + 0.5,
            EXACT_WHOLE - 1.0,
            EXACT_WHOLE,
            EXACT_WHOLE * 2.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            -1.0,
            -2.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        for v in edges {
            assert_eq!(exact_whole(v), by_fract(v), "{v:?}");
        }
        assert_eq!(exact_whole(7.0), Some(7));
        assert_eq!(exact_whole(EXACT_WHOLE - 1.0), Some((1 << 53) - 1));
    }

    proptest! {
        #[test]
        fn any_float_agrees_with_fract(v in any::<f64>()) {
            prop_assert_eq!(exact_whole(v), by_fract(v));
        }

        #[test]
        fn any_whole_number_is_whole(n in 0u64..(1 << 53)) {
            prop_assert_eq!(exact_whole(n as f64), Some(n));
        }
    }
}
