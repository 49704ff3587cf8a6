//! Histograms with fixed buckets chosen per metric when it is created.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

use crate::exposition::{BucketCounts, HistogramValue, NativeValue, Value};
use crate::kinds::exemplar::{Exemplar, ExemplarTable};
use crate::kinds::handle::{handle, sealed};
use crate::storage::atomics::{add_f64, add_f64_unshared, load_f64};
use crate::storage::catalog::CellType;
use crate::storage::mapped;
use crate::storage::pool::{Cell, Pool, SlotRef};
use native_counts::NativeCounts;
use settings::NativeLayout;
use crate::error::ExporterError;
use crate::kinds::table::MetricKind;

mod native;
mod native_counts;
mod settings;
mod timer;

pub use settings::NativeHistogram;
pub use timer::HistogramTimer;

/// The buckets used when none are given: `0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10`.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The most buckets a histogram may have (besides `+Inf`).
pub const MAX_BUCKETS: usize = 512;

/// Chunks of each bucket layout's pool: room for four million series per layout.
const LAYOUT_CHUNKS: usize = 1 << 12;

/// The buckets of a histogram: its classic upper bounds, without `+Inf`, and its native
/// layout if it has one.
pub struct Buckets {
    pub(crate) bounds: Box<[f64]>,
    /// At most 15 bounds and no native buckets: an observation searches `small` in line
    /// (tested first, as one byte).
    small_only: bool,
    /// The bounds of a layout of 16 to 31 bounds, padded with `+Inf` to 32.
    padded: Box<[f64]>,
    /// The bounds of a layout of at most 15, negated and padded with `-Inf` to 16 (see
    /// [`quartering`]), held in line so an observation reads them with no pointer in between.
    small: [[f64; 4]; 4],
    native: Option<NativeLayout>,
    /// False for a native-only histogram outside multiprocess mode: its count is that of its
    /// native buckets, and its one classic word (`+Inf`) is not kept. In multiprocess mode
    /// the word is kept, for the other processes that read it.
    classic: bool,
    /// Its cells live in files of the multiprocess directory, read by other processes.
    mapped: bool,
    /// The latest exemplar of each bucket of each series.
    exemplars: ExemplarTable,
}

impl Buckets {
    fn new(bounds: &[f64], native: Option<NativeLayout>) -> Self {
        let (small, padded) = match bounds.len() {
            0..16 => (in_fours(padded_to::<16>(bounds).map(|b| -b)), Box::default()),
            16..32 => ([[f64::NEG_INFINITY; 4]; 4], padded_to::<32>(bounds).into()),
            _ => ([[f64::NEG_INFINITY; 4]; 4], Box::default()),
        };
        Self {
            bounds: bounds.into(),
            small_only: native.is_none() && bounds.len() < 16,
            padded,
            small,
            native,
            classic: native.is_none() || !bounds.is_empty() || mapped::directory().is_some(),
            mapped: mapped::directory().is_some(),
            exemplars: ExemplarTable::new(),
        }
    }

    /// The bucket of `v`: the first whose bound is >= v; NaN goes to `+Inf`.
    #[inline(always)]
    #[allow(
        clippy::neg_cmp_op_on_partial_ord,
        reason = "`!(v <= b)` is true for NaN, which belongs in +Inf"
    )]
    fn bucket_of(&self, v: f64) -> usize {
        match self.bounds.len() {
            0..16 => quartering(&self.small, v),
            16..32 => match <&[f64; 32]>::try_from(&*self.padded) {
                Ok(padded) => halving(padded, v),
                Err(_) => unreachable!("a layout of 16 to 31 bounds is padded to 32"),
            },
            _ => self.bounds.partition_point(|b| !(v <= *b)),
        }
    }
}

/// Sixteen bounds in four groups of four.
fn in_fours(bounds: [f64; 16]) -> [[f64; 4]; 4] {
    std::array::from_fn(|group| std::array::from_fn(|i| bounds[4 * group + i]))
}

/// `bounds` (fewer than `N`) padded with `+Inf` to `N`.
fn padded_to<const N: usize>(bounds: &[f64]) -> [f64; N] {
    let mut out = [f64::INFINITY; N];
    out[..bounds.len()].copy_from_slice(bounds);
    out
}

/// How many of the first `N - 1` of the sorted, `+Inf`-padded `bounds` are below `v`, in
/// `log2(N)` steps without a branch: each step moves up by its size when the bound just
/// before it is below `v`. A NaN `v` is taken as `+Inf`, so it counts every bound and no
/// padding: the `+Inf` bucket.
#[inline(always)]
fn halving<const N: usize>(bounds: &[f64; N], v: f64) -> usize {
    let v = if v < f64::INFINITY { v } else { f64::INFINITY };
    let mut at = 0;
    let mut step = N / 2;
    while step > 0 {
        let below = bounds[(at + step - 1) % N] < v;
        at = if below { at + step } else { at };
        step /= 2;
    }
    at
}

/// How many of the at most 15 bounds `negated` holds (negated, sorted and padded with `-Inf`
/// to 16, in groups of four) are below `v`, in two steps of three independent compares where
/// [`halving`] takes four steps of one: the first finds the group `v` falls in (how many of
/// the last bounds of the first three groups are below it), the second how many of that
/// group's first three are. Each step waits for a load and a compare, so the answer comes in
/// half the time.
///
/// The bounds are kept negated because `b < v` is `-v < -b`, the compare whose answer x86-64
/// leaves in the carry flag: each one is added with a single `adc`. A NaN `v` is taken as
/// `+Inf`, like [`halving`] does.
#[inline(always)]
#[allow(
    clippy::neg_cmp_op_on_partial_ord,
    reason = "`!(a >= b)` is the compare that reads `b` from memory and answers in the carry flag"
)]
fn quartering(negated: &[[f64; 4]; 4], v: f64) -> usize {
    let minus_v = negated_with_nan_as_infinity(v);
    // `minus_v` is never NaN, so "not at least" is "less than".
    let below = |bound: &f64| usize::from(!(minus_v >= *bound));
    let group = below(&negated[0][3]) + below(&negated[1][3]) + below(&negated[2][3]);
    let [first, second, third, _] = &negated[group];
    4 * group + below(first) + below(second) + below(third)
}

/// `-v`, or `-Inf` for a NaN `v`: one `maxsd` on x86-64.
#[inline(always)]
#[allow(unsafe_code)]
fn negated_with_nan_as_infinity(v: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtsd_f64, _mm_max_sd, _mm_set_sd};
        // `maxsd` gives its second operand when either is NaN.
        // SAFETY: SSE2 is part of x86-64.
        unsafe { _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(-v), _mm_set_sd(f64::NEG_INFINITY))) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    if v < f64::INFINITY { -v } else { f64::NEG_INFINITY }
}

/// Counts `v` in `counts` and `sum` with atomic operations, for a layout of at most 15 bounds,
/// and gives its bucket.
#[inline(always)]
#[allow(unsafe_code)]
fn count_small(buckets: &Buckets, counts: &[AtomicU64], sum: &AtomicU64, v: f64) -> usize {
    let i = quartering(&buckets.small, v);
    // SAFETY: `i` is at most the number of bounds, and there are as many counts as the
    // cell's (one more than bounds, asserted when the cell was made).
    unsafe { counts.get_unchecked(i) }.fetch_add(1, Relaxed);
    add_f64(sum, v);
    i
}

/// The pool of each bucket layout, by the bits of its bounds and its native layout.
type Pools = HashMap<(Box<[u64]>, Option<[u64; 4]>), &'static Pool<HistogramCell>>;

/// One pool per bucket layout, kept for the life of the process (there are as many as
/// distinct layouts were used).
static POOLS: LazyLock<Mutex<Pools>> = LazyLock::new(Default::default);

/// The pool of histograms with these bounds (already checked: finite, strictly increasing)
/// and native layout.
pub(crate) fn pool(bounds: &[f64], native: Option<NativeLayout>) -> &'static Pool<HistogramCell> {
    let _section = crate::fork::enter();
    let bits: Box<[u64]> = bounds.iter().map(|b| b.to_bits()).collect();
    let mut pools = POOLS.lock();
    let number = pools.len();
    let key = (bits, native.as_ref().map(NativeLayout::key));
    pools.entry(key).or_insert_with(|| {
        let buckets: &'static Buckets = Box::leak(Box::new(Buckets::new(bounds, native)));
        Pool::leak(format!("histogram_{number}"), LAYOUT_CHUNKS, buckets)
    })
}

/// The pool of histograms with the default buckets, for metric macros.
pub(crate) fn default_pool() -> &'static Pool<HistogramCell> {
    pool(&DEFAULT_BUCKETS, None)
}

/// The pool of histograms with the default buckets and `native` ones, for metric macros;
/// the settings are checked for `metric`.
pub(crate) fn native_pool(
    metric: &str,
    native: &NativeHistogram,
) -> Result<&'static Pool<HistogramCell>, ExporterError> {
    Ok(pool(&DEFAULT_BUCKETS, Some(native.checked(metric)?)))
}

/// The cell of a histogram: one count per bucket (not cumulative), the sum, and the native
/// counts of a native histogram.
///
/// The total count is the sum of the bucket counts, so `_count` always equals the `+Inf` bucket.
///
/// The counts are the cell's extra words, kept beside the slots of its chunk, so another
/// process reading the chunk from the multiprocess directory finds them there. Native counts
/// live on the heap: they are this process's own.
#[repr(C)]
pub struct HistogramCell {
    buckets: &'static Buckets,
    /// The counts of each bucket: the owner's, or everyone's where no thread owns the series
    /// (multiprocess mode, more than 15 bounds, native buckets).
    counts: &'static [AtomicU64],
    sum: AtomicU64,
    native: Option<Box<NativeCounts>>,
    /// The thread that counts in `counts` and `sum` with plain loads and stores
    /// ([`thread_token`]); 0 before the first observation, and for ever where no thread owns
    /// the series.
    owner: AtomicU64,
    /// What the threads other than the owner count, made by the first of them.
    others: OnceLock<Box<Lane>>,
}

/// The bucket counts and sum of the threads other than a histogram series' owner.
struct Lane {
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Lane {
    fn new(buckets: usize) -> Box<Self> {
        Box::new(Self {
            counts: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        })
    }
}

/// A number no other live thread has: the thread pointer (one instruction to read on x86-64
/// and AArch64 Linux, where a thread-local's address costs a call in a shared library), or the
/// address of one of this thread's thread-locals elsewhere. A thread that starts after another
/// ended may get the ended one's number, and with it the series it owned: its memory comes to
/// the new thread after the old one's last write.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn thread_token() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let pointer: u64;
        // SAFETY: the x86-64 TLS ABI keeps the thread pointer in the first word of the block
        // `fs` points to; reading it writes nothing.
        unsafe {
            std::arch::asm!(
                "mov {}, qword ptr fs:[0]",
                out(reg) pointer,
                options(pure, readonly, nostack, preserves_flags),
            );
        }
        pointer
    }
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    {
        let pointer: u64;
        // SAFETY: reads the thread pointer register; touches no memory.
        unsafe {
            std::arch::asm!(
                "mrs {}, tpidr_el0",
                out(reg) pointer,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        pointer
    }
    #[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), target_os = "linux")))]
    {
        thread_local! {
            static MARK: u8 = const { 0 };
        }
        MARK.with(|mark| std::ptr::from_ref(mark) as usize as u64)
    }
}

impl Cell for HistogramCell {
    type Config = &'static Buckets;
    const CELL_TYPE: CellType = CellType::Histogram;

    fn extra_words(buckets: &&'static Buckets) -> usize {
        buckets.bounds.len() + 1
    }

    fn bounds<'c>(buckets: &'c &'static Buckets) -> &'c [f64] {
        &buckets.bounds
    }

    fn new(buckets: &&'static Buckets, counts: &'static [AtomicU64]) -> Self {
        // `observe_classic` indexes the counts by a bucket without a check.
        assert_eq!(counts.len(), buckets.bounds.len() + 1, "one count per bucket");
        Self {
            buckets,
            counts,
            sum: AtomicU64::new(0),
            native: buckets.native.as_ref().map(|layout| {
                Box::new(NativeCounts::new(layout, buckets.classic, buckets.mapped))
            }),
            owner: AtomicU64::new(0),
            others: OnceLock::new(),
        }
    }

    fn reset(&self) {
        for count in self.counts {
            count.store(0, Relaxed);
        }
        self.sum.store(0, Relaxed);
        if let Some(native) = &self.native {
            native.reset();
        }
        // No handle to the slot exists while it is reset: no owner is between a load and
        // its store.
        self.owner.store(0, Relaxed);
        if let Some(others) = self.others.get() {
            for count in &others.counts {
                count.store(0, Relaxed);
            }
            others.sum.store(0, Relaxed);
        }
    }

    fn value<'s>(&self, scratch: &'s mut Vec<u64>) -> Value<'s> {
        scratch.clear();
        if self.buckets.classic {
            self.cumulative(scratch);
        }
        let Some(counts) = &self.native else {
            return Value::Histogram(HistogramValue {
                bounds: &self.buckets.bounds,
                count: scratch.last().copied().unwrap_or(0),
                cumulative: scratch,
                sum: Some(self.sum()),
                native: None,
            });
        };
        // The classic counts are read before the native ones, which an observation adds to
        // first, so the native count is at least the classic one.
        let classic_len = scratch.len();
        let read = counts.read(scratch);
        if !self.buckets.classic {
            scratch.push(read.count);
        }
        let (cumulative, native) = if self.buckets.classic {
            let (classic, native) = scratch.split_at(classic_len);
            (classic, native)
        } else {
            let (native, count) = scratch.split_at(scratch.len() - 1);
            (count, &native[classic_len..])
        };
        let (positive, negative) = native.split_at(read.lens[0] * 2);
        Value::Histogram(HistogramValue {
            bounds: &self.buckets.bounds,
            count: cumulative.last().copied().unwrap_or(0),
            cumulative,
            sum: Some(self.sum()),
            native: Some(NativeValue {
                schema: read.schema,
                zero_threshold: read.zero_threshold,
                zero_count: read.zero_count,
                count: read.count,
                positive: BucketCounts::from_words(positive),
                negative: BucketCounts::from_words(&negative[..read.lens[1] * 2]),
            }),
        })
    }

    fn exemplars<'c>(buckets: &'c &'static Buckets) -> Option<&'c ExemplarTable> {
        Some(&buckets.exemplars)
    }
}

impl HistogramCell {
    /// Where the sum is in the cell, for a reader of another process's file.
    pub(crate) const SUM_OFFSET: usize = std::mem::offset_of!(HistogramCell, sum);

    #[inline]
    pub(crate) fn observe(&self, v: f64) {
        self.observe_in_bucket(v);
    }

    /// Records `v` and gives the classic bucket it fell in (0 without classic buckets), the
    /// bucket an exemplar of `v` belongs to.
    ///
    /// The thread that owns the series (the first to observe it, where a thread may own it)
    /// counts with plain loads and stores, no atomic operation: no other thread writes its
    /// counts and sum.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn observe_in_bucket(&self, v: f64) -> usize {
        if self.owner.load(Relaxed) == thread_token() {
            // Only a series with at most 15 bounds and no native buckets has an owner.
            let i = quartering(&self.buckets.small, v);
            // SAFETY: `i` is at most the number of bounds, and there is one count more than
            // bounds (asserted when the cell was made).
            let count = unsafe { self.counts.get_unchecked(i) };
            count.store(count.load(Relaxed).wrapping_add(1), Relaxed);
            add_f64_unshared(&self.sum, v);
            return i;
        }
        if self.buckets.small_only {
            if self.buckets.mapped {
                // Multiprocess mode: other processes read the cell, so every thread counts in
                // it with atomic operations and none owns it.
                return count_small(self.buckets, self.counts, &self.sum, v);
            }
            return self.observe_small_shared(v);
        }
        match &self.native {
            Some(native) => self.observe_native(native, v),
            None => {
                let bucket = self.observe_classic(v);
                add_f64(&self.sum, v);
                bucket
            }
        }
    }

    /// [`Self::observe_in_bucket`] of a series with at most 15 bounds and no native buckets,
    /// outside multiprocess mode, by a thread that does not own it: the first thread to
    /// observe it becomes its owner; the others count in a lane of their own.
    #[inline(never)]
    fn observe_small_shared(&self, v: f64) -> usize {
        if self.owner.load(Relaxed) == 0
            && (self.owner)
                .compare_exchange(0, thread_token(), Relaxed, Relaxed)
                .is_ok()
        {
            return self.observe_in_bucket(v);
        }
        let others = self.others.get_or_init(|| Lane::new(self.counts.len()));
        count_small(self.buckets, &others.counts, &others.sum, v)
    }

    /// [`Self::observe_in_bucket`] with native buckets: out of line, so the classic path
    /// saves no registers for it.
    #[inline(never)]
    fn observe_native(&self, native: &NativeCounts, v: f64) -> usize {
        // The native counts first: a scrape reads the classic ones first, so the native
        // count is at least the classic one.
        native.observe(v, &self.sum);
        if native.classic {
            self.observe_classic(v)
        } else {
            0
        }
    }

    /// Counts `v` in its classic bucket, and gives that bucket.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn observe_classic(&self, v: f64) -> usize {
        let i = self.buckets.bucket_of(v);
        // SAFETY: `i` is at most the number of bounds, and there is one count more than
        // bounds (asserted when the cell was made).
        unsafe { self.counts.get_unchecked(i) }.fetch_add(1, Relaxed);
        i
    }

    pub(crate) fn count(&self) -> u64 {
        match &self.native {
            Some(native) if !self.buckets.classic => {
                let _section = crate::fork::enter();
                native.read(&mut Vec::new()).count
            }
            _ => (0..self.counts.len()).map(|i| self.count_of(i)).sum(),
        }
    }

    /// The count of bucket `i`, the owner's and the other threads'.
    fn count_of(&self, i: usize) -> u64 {
        let others = self.others.get().map_or(0, |o| o.counts[i].load(Relaxed));
        self.counts[i].load(Relaxed) + others
    }

    pub(crate) fn sum(&self) -> f64 {
        let owner = load_f64(&self.sum);
        let sum = self.others.get().map_or(owner, |o| owner + load_f64(&o.sum));
        self.native.as_ref().map_or(sum, |native| native.sum(sum))
    }

    pub(crate) fn bounds(&self) -> &'static [f64] {
        &self.buckets.bounds
    }

    /// Writes the cumulative bucket counts (the last is `+Inf`, the total count).
    pub(crate) fn cumulative(&self, out: &mut Vec<u64>) {
        out.clear();
        let mut total = 0;
        match self.others.get() {
            None => out.extend(self.counts.iter().map(|count| {
                total += count.load(Relaxed);
                total
            })),
            Some(others) => {
                let both = self.counts.iter().zip(&others.counts);
                out.extend(both.map(|(owner, other)| {
                    total += owner.load(Relaxed) + other.load(Relaxed);
                    total
                }));
            }
        }
    }
}

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
#[must_use]
pub struct Histogram {
    series: SlotRef<HistogramCell>,
}

handle! { impl[] Histogram, HistogramCell, MetricKind::Histogram, "Histogram" }

impl sealed::Create for Histogram {
    /// The upper bounds of the buckets; `None` means [`DEFAULT_BUCKETS`].
    type Settings<'a> = Option<&'a [f64]>;

    fn pool(
        name: &str,
        native: Option<&NativeHistogram>,
        buckets: Option<&[f64]>,
    ) -> Result<&'static Pool<HistogramCell>, ExporterError> {
        let bounds = checked_bounds(name, buckets.unwrap_or(&DEFAULT_BUCKETS))?;
        let native = native.map(|n| n.checked(name)).transpose()?;
        Ok(pool(&bounds, native))
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

    /// Records `v` as [`Self::observe`] does, and keeps `exemplar` with `v` and the time as
    /// the latest exemplar of the bucket `v` falls in (of the series, for a histogram with
    /// native buckets only). Observations without an exemplar never reach the exemplar
    /// storage.
    ///
    /// ```
    /// # use dynamo_exporter::{Exemplar, Opts, Registry};
    /// let registry = Registry::new();
    /// let latency = registry
    ///     .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[0.1, 1.0]))
    ///     .unwrap();
    /// let exemplar = Exemplar::new(&[("trace_id", "abc")]).unwrap();
    /// latency.observe_with_exemplar(0.05, &exemplar);
    /// assert_eq!(latency.get_count(), 1);
    /// ```
    pub fn observe_with_exemplar(&self, v: f64, exemplar: &Exemplar) {
        self.observe_with_exemplar_or_now(v, exemplar, None);
    }

    /// [`Self::observe_with_exemplar`], with the time of the exemplar read by the caller
    /// (the end of the request it timed, say; as the time since the Unix epoch) where the wall
    /// clock's now would be read.
    ///
    /// ```
    /// # use dynamo_exporter::{Exemplar, Opts, Registry};
    /// # use std::time::{SystemTime, UNIX_EPOCH};
    /// let registry = Registry::new();
    /// let latency = registry
    ///     .histogram(&Opts::new("latency_seconds", "Latency"), Some(&[0.1, 1.0]))
    ///     .unwrap();
    /// let exemplar = Exemplar::new(&[("trace_id", "abc")]).unwrap();
    /// latency.observe_with_exemplar_at(0.05, &exemplar, SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    /// assert_eq!(latency.get_count(), 1);
    /// ```
    pub fn observe_with_exemplar_at(&self, v: f64, exemplar: &Exemplar, since_epoch: Duration) {
        self.observe_with_exemplar_or_now(v, exemplar, Some(since_epoch));
    }

    #[inline]
    fn observe_with_exemplar_or_now(&self, v: f64, exemplar: &Exemplar, at: Option<Duration>) {
        if let Some(cell) = self.cell() {
            let bucket = (cell.observe_in_bucket(v), cell.buckets.bounds.len() + 1);
            let series = &self.series;
            cell.buckets
                .exemplars
                .record(series.index(), series.state, bucket, exemplar, v, at);
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
            series: pool(&[], None).noop(),
        }
    }
}

/// Checks bucket bounds and returns them without a trailing `+Inf`.
fn checked_bounds(metric: &str, given: &[f64]) -> Result<Vec<f64>, ExporterError> {
    let bounds = match given.split_last() {
        Some((last, rest)) if *last == f64::INFINITY => rest,
        _ => given,
    };
    if bounds.len() > MAX_BUCKETS {
        return Err(ExporterError::TooManyBuckets {
            metric: metric.into(),
            count: bounds.len(),
            max: MAX_BUCKETS,
        });
    }
    let reason = if bounds.iter().any(|b| !b.is_finite()) {
        Some("bounds must be finite (only a trailing +Inf is allowed)")
    } else if bounds.windows(2).any(|w| w[0] >= w[1]) {
        Some("bounds must be strictly increasing")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ExporterError::InvalidBuckets {
            metric: metric.into(),
            buckets: given.to_vec(),
            reason,
        }),
        None => Ok(bounds.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::registry::{Opts, Registry};
    use crate::test_util::HistogramParts;

    #[test]
    fn the_owner_and_the_other_threads_count_exactly_together() {
        let registry = Registry::new();
        let opts = Opts::new("latency_seconds", "Latency");
        // Bounds of this test only: the pool of the layout is this test's.
        let bounds = [1.0, 2.0, 1e300];
        let vec = registry.histogram_vec(&opts, &["kind"], Some(&bounds)).unwrap();
        let shared = vec.with_label_values(&["shared"]);
        shared.observe(0.5);
        let cell = shared.cell().unwrap();
        assert_eq!(cell.owner.load(Relaxed), thread_token(), "the first observer owns it");
        // Joined threads (not scoped ones, which may end after the scope): their parked
        // holds are released by then.
        let others: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| shared.observe(1.5)))
            })
            .collect();
        (0..10_000).for_each(|_| shared.observe(3.0));
        others.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(shared.get_count(), 50_001);
        assert_eq!(shared.get_sum(), 0.5 + 40_000.0 * 1.5 + 30_000.0);
        let mut cumulative = Vec::new();
        cell.cumulative(&mut cumulative);
        assert_eq!(cumulative, [1, 40_001, 50_001, 50_001]);
        assert!(cell.others.get().is_some(), "the other threads have a lane");

        // A series made again in the same slot starts from nothing, owner and lane included.
        let slot = std::ptr::from_ref(cell) as usize;
        // On a thread that ends, so that no hold on the slot stays parked.
        let removing = vec.clone();
        std::thread::spawn(move || {
            removing.remove_label_values(&["shared"]).unwrap();
            drop(shared);
        })
        .join()
        .unwrap();
        std::thread::spawn(move || {
            let again = vec.with_label_values(&["shared"]);
            let cell = again.cell().unwrap();
            assert_eq!(std::ptr::from_ref(cell) as usize, slot, "the slot is reused");
            assert_eq!((again.get_count(), again.get_sum()), (0, 0.0));
            assert_eq!(cell.owner.load(Relaxed), 0);
            assert!(cell.others.get().unwrap().counts.iter().all(|c| c.load(Relaxed) == 0));
            again.observe(2.0);
            assert_eq!((again.get_count(), again.get_sum()), (1, 2.0));
            assert_eq!(cell.owner.load(Relaxed), thread_token());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_scrape_sees_client_golangs_reference_buckets() {
        let registry = Registry::new();
        let opts = Opts::new("h", "H").with_native(NativeHistogram::new(1.1));
        let native = registry.histogram(&opts, Some(&[])).unwrap();
        let hybrid_opts = Opts {
            name: "hybrid",
            ..opts
        };
        let hybrid = registry.histogram(&hybrid_opts, None).unwrap();
        for v in [0.0, 1.0, 2.0, 3.0] {
            native.observe(v);
            hybrid.observe(v);
        }
        let mut parts = HistogramParts::default();
        registry.encode(&[], &mut parts);
        let reference = Some((3, 1, 4, vec![(0, 1), (8, 1), (13, 1)]));
        assert_eq!(
            parts.seen,
            [("h".into(), reference.clone()), ("hybrid".into(), reference)]
        );
    }

    /// The bucket by the definition: the first bound >= v; NaN past every bound.
    fn by_definition(bounds: &[f64], v: f64) -> usize {
        bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())
    }

    #[test]
    fn an_observation_counts_in_the_bucket_of_its_value_at_every_layout_size() {
        for len in [0, 1, 11, 15, 16, 31, 32, 40] {
            let bounds: Vec<f64> = (0..len).map(|i| f64::from(i) - 3.0).collect();
            let buckets: &'static Buckets = Box::leak(Box::new(Buckets::new(&bounds, None)));
            let words: Vec<AtomicU64> = (0..=len).map(|_| AtomicU64::new(0)).collect();
            let counts: &'static [AtomicU64] = Box::leak(words.into_boxed_slice());
            let cell = HistogramCell::new(&buckets, counts);
            let values = [f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -3.0, 0.5, 9.0];
            for v in values {
                let before: Vec<u64> = counts.iter().map(|c| c.load(Relaxed)).collect();
                let bucket = cell.observe_in_bucket(v);
                assert_eq!(bucket, by_definition(&bounds, v), "{len} bounds, value {v}");
                let added: Vec<usize> = (0..counts.len())
                    .filter(|&i| counts[i].load(Relaxed) != before[i])
                    .collect();
                assert_eq!(added, [bucket], "{len} bounds, value {v}");
            }
        }
    }

    #[test]
    fn every_layout_size_finds_the_bucket_of_bounds_and_specials() {
        for len in 0..=70 {
            let bounds: Vec<f64> = (0..len).map(|i| f64::from(i) * 0.5 - 3.0).collect();
            let buckets = Buckets::new(&bounds, None);
            let mut values = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e300];
            for b in &bounds {
                values.extend([*b, b - 0.25, b + 0.25, b - 1e-12, b + 1e-12]);
            }
            for v in values {
                assert_eq!(
                    buckets.bucket_of(v),
                    by_definition(&bounds, v),
                    "{len} bounds, value {v}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn the_bucket_is_the_first_bound_not_below(
            mut bounds in proptest::collection::vec(-1e6f64..1e6, 0..40),
            v in proptest::num::f64::ANY,
        ) {
            bounds.sort_by(f64::total_cmp);
            bounds.dedup();
            prop_assert_eq!(Buckets::new(&bounds, None).bucket_of(v), by_definition(&bounds, v));
        }
    }

    #[test]
    fn drops_trailing_infinity_and_checks_order() {
        assert_eq!(checked_bounds("h", &[1.0, 2.0, f64::INFINITY]), Ok(vec![1.0, 2.0]));
        assert_eq!(checked_bounds("h", &[]), Ok(vec![]));
        let increasing = "bounds must be strictly increasing";
        let finite = "bounds must be finite (only a trailing +Inf is allowed)";
        let cases: [(&[f64], &str); 5] = [
            (&[2.0, 1.0], increasing),
            (&[1.0, 1.0], increasing),
            (&[f64::NAN], finite),
            (&[f64::NEG_INFINITY, 1.0], finite),
            (&[1.0, f64::INFINITY, f64::INFINITY], finite),
        ];
        for (given, reason) in cases {
            match checked_bounds("h", given) {
                Err(ExporterError::InvalidBuckets {
                    metric,
                    buckets,
                    reason: said,
                }) => {
                    assert_eq!(metric, "h", "{given:?}");
                    // NaN != NaN, so the bounds are compared by their bits.
                    let bits = |b: &[f64]| b.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&buckets), bits(given), "{given:?}");
                    assert_eq!(said, reason, "{given:?}");
                }
                other => panic!("{given:?}: {other:?}"),
            }
        }
        assert_eq!(
            checked_bounds("h", &[2.0, 1.0]).unwrap_err().to_string(),
            "metric \"h\": invalid buckets [2.0, 1.0]: bounds must be strictly increasing"
        );
        let many: Vec<f64> = (0..=MAX_BUCKETS).map(|i| i as f64).collect();
        assert_eq!(
            checked_bounds("h", &many),
            Err(ExporterError::TooManyBuckets {
                metric: "h".into(),
                count: MAX_BUCKETS + 1,
                max: MAX_BUCKETS
            })
        );
        assert_eq!(
            checked_bounds("h", &many[..MAX_BUCKETS]).map(|b| b.len()),
            Ok(MAX_BUCKETS)
        );
    }
}
