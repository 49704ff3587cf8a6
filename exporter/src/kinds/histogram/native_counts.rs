//! The counts of one native histogram series: a zero bucket, a NaN count, and for each sign
//! the buckets of the current schema, in blocks allocated when first touched.
//!
//! An observation is lock-free: it reads the zero threshold, then its sign's current window
//! (the schema and the blocks it covers), finds its bucket from the float's bits
//! ([`native::bucket_index`]) and adds one to its 32-bit count. Only the first count of a
//! block, of a window too narrow for it, of a bucket past the limit, or a count reaching
//! `2^31` (which carries to a 64-bit count kept under the lock) takes the series' lock.
//!
//! The first thread to observe a series owns its sum and lane 0 (see [`NativeCounts::observe`]):
//! it alone writes them, so it adds with a plain load and store, and its observation takes no
//! atomic read-modify-write at all. Every other thread counts in the windows of a lane of its
//! own (shared by threads past the number of lanes) and adds to a stripe of the sum, so threads
//! observing the same values do not write the same cache lines; a read adds the lanes up as it
//! adds up generations.
//!
//! Nothing is moved once counted. Widening the zero bucket only raises the threshold: buckets
//! below it are read as zero counts. Halving the resolution starts new windows at the lower
//! schema beside the old ones, which keep their counts (and take those of observations that
//! were already on their way); a read folds every window into the current schema. A read
//! takes every count once and derives the total from them, so a scrape is never torn: its
//! count is the zero bucket, every bucket and the NaN observations. The lock it takes is the
//! one the rare paths above take; observations on the fast path never wait for it.
//!
//! Windows and blocks are freed only when the series' slot is reset for a new series, which
//! happens while no handle (hence no observation) and, by the lock, no read can reach them.

#![allow(unsafe_code)]

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64};

use parking_lot::Mutex;

use crate::kinds::histogram::native::{self, MIN_SCHEMA};
use crate::kinds::histogram::thread_token;
use crate::storage::atomics::{add_f64, add_f64_unshared, load_f64};
use crate::kinds::histogram::settings::NativeLayout;

/// Buckets per block: 16 counts of 32 bits, one cache line, and a word of marks.
const BLOCK_BITS: u32 = 4;
const BLOCK_LEN: usize = 1 << BLOCK_BITS;

/// What a bucket's 32-bit count carries to the counts kept under the lock when it reaches it:
/// the observation that takes a count to `2^31` moves `2^31` there, so a count never wraps
/// and a bucket costs 4 bytes.
const CARRY: u32 = 1 << 31;

/// The block pointers of a side's first window: 128 buckets, 16 octaves at schema 3, as much
/// as most latencies spread, so the window rarely grows.
const FIRST_WINDOW_BLOCKS: usize = 8;

/// The most blocks a window spans (4,096 buckets: 512 octaves at schema 3, 16 at schema 8).
/// A bucket farther from the others (an infinity, a value many decades away) is kept apart,
/// under the lock, so one outlier never costs a wide window.
const MAX_WINDOW_BLOCKS: usize = 256;

/// The counts of `BLOCK_LEN` consecutive buckets, and which of them were ever counted.
struct Block {
    counts: [AtomicU32; BLOCK_LEN],
    /// Bit `i` is set once bucket `i` got its first count, after that count: a read visits
    /// only the populated buckets.
    populated: AtomicU32,
}

impl Block {
    fn new() -> Self {
        Self {
            counts: [const { AtomicU32::new(0) }; BLOCK_LEN],
            populated: AtomicU32::new(0),
        }
    }

    /// Marks bucket `at` of the block populated.
    fn mark(&self, at: usize) {
        self.populated.fetch_or(1 << at, Release);
    }
}

/// One sign's buckets at one schema: `blocks[k]` holds the buckets of block number
/// `first + k` (bucket index `>> BLOCK_BITS`), null until first touched.
struct Window {
    schema: i8,
    first: i32,
    blocks: Box<[AtomicPtr<Block>]>,
}

impl Window {
    fn new(schema: i8, first: i32, len: usize) -> Self {
        Self {
            schema,
            first,
            blocks: (0..len).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect(),
        }
    }

    /// The slot of the block holding bucket `index`, if the window covers it.
    #[inline]
    fn slot(&self, index: i32) -> Option<&AtomicPtr<Block>> {
        let at = (index >> BLOCK_BITS).wrapping_sub(self.first);
        self.blocks.get(usize::try_from(at).ok()?)
    }

    /// `(index, count)` of every bucket counted, by increasing index.
    fn counts(&self, mut each: impl FnMut(i32, u64)) {
        for (k, slot) in self.blocks.iter().enumerate() {
            let Some(block) = published(slot.load(Acquire)) else {
                continue;
            };
            let base = (self.first + k as i32) << BLOCK_BITS;
            // The marks are set after the first counts: a bucket marked has its count.
            let mut marked = block.populated.load(Acquire);
            while marked != 0 {
                let at = marked.trailing_zeros();
                marked &= marked - 1;
                let count = block.counts[at as usize].load(Relaxed);
                each(base + at as i32, u64::from(count));
            }
        }
    }
}

impl Window {
    /// Appends the `(index, count)` words of every bucket counted, by increasing index, and
    /// returns the total of their counts: each block's written straight into room made for
    /// all of its buckets.
    fn append_pairs(&self, out: &mut Vec<u64>) -> u64 {
        let mut total = 0;
        for (k, slot) in self.blocks.iter().enumerate() {
            let Some(block) = published(slot.load(Acquire)) else {
                continue;
            };
            let base = (self.first + k as i32) << BLOCK_BITS;
            let mut marked = block.populated.load(Acquire);
            out.reserve(2 * BLOCK_LEN);
            let room = &mut out.spare_capacity_mut()[..2 * BLOCK_LEN];
            let mut len = 0;
            while marked != 0 {
                let at = marked.trailing_zeros();
                marked &= marked - 1;
                let count = block.counts[at as usize].load(Relaxed);
                total += u64::from(count);
                // At most `BLOCK_LEN` marks: `len` stays within the room.
                room[len].write(i64::from(base + at as i32) as u64);
                room[len + 1].write(u64::from(count));
                len += 2;
            }
            // SAFETY: the `len` words past the length were written just above.
            unsafe { out.set_len(out.len() + len) };
        }
        total
    }

    /// The index of the window's first bucket.
    fn first_index(&self) -> i32 {
        self.first << BLOCK_BITS
    }
}

/// What a pointer stored in a window or a side points to.
///
/// Every non-null pointer stored there comes from `Box::into_raw`, and is freed only by
/// [`NativeCounts::reset`] (see the module's comment for why nothing can reach it then).
#[inline]
fn published<T>(pointer: *mut T) -> Option<&'static T> {
    // SAFETY: see above; null is `None`.
    unsafe { pointer.as_ref() }
}

/// The last bucket index at `schema` whose bucket lies wholly within `threshold` of zero
/// (`i32::MIN` for none).
fn last_within(threshold: f64, schema: i8) -> i32 {
    if threshold <= 0.0 {
        return i32::MIN;
    }
    let at = native::bucket_index(threshold, schema);
    if native::bucket_upper_bound(at, schema) <= threshold {
        at
    } else {
        at - 1
    }
}

/// The `(index, count)` words of one side appended to a buffer: a count for the index just
/// written is added to it; an index below the last one leaves the side to be sorted at the end.
struct SideOut<'o> {
    out: &'o mut Vec<u64>,
    start: usize,
    last: i32,
    sorted: bool,
}

impl<'o> SideOut<'o> {
    fn new(out: &'o mut Vec<u64>) -> Self {
        let start = out.len();
        Self {
            out,
            start,
            last: i32::MIN,
            sorted: true,
        }
    }

    fn push(&mut self, index: i32, count: u64) {
        if self.out.len() > self.start && index == self.last {
            *self.out.last_mut().expect("a pair") += count;
            return;
        }
        self.sorted &= self.out.len() == self.start || index > self.last;
        self.out.extend([i64::from(index) as u64, count]);
        self.last = index;
    }

    /// Sorts and merges the side if needed; returns how many pairs it has.
    fn finish(self) -> usize {
        if !self.sorted {
            let mut pairs: Vec<(i32, u64)> = self.out[self.start..]
                .chunks_exact(2)
                .map(|pair| (pair[0] as i64 as i32, pair[1]))
                .collect();
            pairs.sort_unstable_by_key(|(index, _)| *index);
            self.out.truncate(self.start);
            let mut merged = SideOut::new(self.out);
            for (index, count) in pairs {
                merged.push(index, count);
            }
            return merged.finish();
        }
        (self.out.len() - self.start) / 2
    }
}

/// The positive and negative side.
const SIDES: usize = 2;

/// Lanes of a histogram's buckets: lane 0 is its owner's (the first thread to observe it),
/// the others are shared by the other threads, each counting in the windows of its own lane
/// so two threads observing the same values do not write the same cache lines; a read adds
/// the lanes up.
const LANES: usize = 4;

/// Stripes of the sum for the threads that do not own it: each adds to a stripe of its own, on
/// its own cache line, rather than retry on one word (as Java's `LongAdder`).
const SUM_STRIPES: usize = 8;

/// One stripe of a sum: the bits of an f64, alone on its cache line.
#[repr(align(64))]
struct SumStripe(AtomicU64);

/// What the threads other than a series' owner write: their lanes (1 to `LANES - 1`) and the
/// stripes of the sum, made when the first of them observes.
struct Shared {
    lanes: [[AtomicPtr<Window>; SIDES]; LANES - 1],
    stripes: [SumStripe; SUM_STRIPES],
}

/// What observations write outside the blocks, on a cache line of its own so the owner's
/// additions to its sum never evict what other threads read to observe (the windows, the
/// threshold, the cell).
#[repr(align(64))]
struct Written {
    /// The owner's sum: the bits of an f64, written only by the owner.
    sum: AtomicU64,
    zero: AtomicU64,
    nan: AtomicU64,
    /// The buckets first touched since the populated buckets were last counted: at least as
    /// many as are populated (a count past the limit makes the slow path count them exactly).
    populated: AtomicU32,
}

/// This thread's stripe of every sum it does not own, chosen once per thread in turn.
fn stripe_of_thread() -> usize {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Relaxed) as usize % SUM_STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

/// The counts of one native histogram series.
pub(crate) struct NativeCounts {
    /// The settings, those of the series' pool.
    layout: &'static NativeLayout,
    /// The histogram keeps classic counts too (hybrid, or in multiprocess mode).
    pub(crate) classic: bool,
    /// Its cell lives in a file of the multiprocess directory, whose sum other processes
    /// read: the sum is never striped.
    mapped: bool,
    /// The bits of the current zero threshold (it only grows).
    zero_threshold: AtomicU64,
    /// Each lane's current window of each sign (positive, then negative); null before its
    /// first bucket.
    lane_0: [AtomicPtr<Window>; SIDES],
    /// The token of the thread that owns the sum and lane 0 ([`thread_token`]); 0 before the
    /// first observation.
    owner: AtomicU64,
    /// The stripes of the sum, once a thread other than the owner observed; null before.
    shared: AtomicPtr<Shared>,
    owned: Mutex<Owned>,
    written: Written,
}

/// What the lock guards: the current schema and everything allocated, to read and to free.
struct Owned {
    schema: i8,
    /// Counts kept here rather than in a block: of buckets too far from their side's window,
    /// and what buckets carried past `2^31`, as `(side, schema, index, count)`.
    apart: Vec<(usize, i8, i32, u64)>,
    /// Every window published, with its side; `live` is false once a wider window of the same
    /// schema replaced it (the two share their blocks, so only the wider is read, and every
    /// block is in one live window).
    windows: Vec<Owner>,
}

impl Owned {
    /// Adds `count` to the bucket kept apart at `(side, schema, index)`; true when it is new.
    fn add_apart(&mut self, side: usize, schema: i8, index: i32, count: u64) -> bool {
        let key = (side, schema, index);
        match self.apart.iter_mut().find(|a| (a.0, a.1, a.2) == key) {
            Some(apart) => {
                apart.3 += count;
                false
            }
            None => {
                self.apart.push((side, schema, index, count));
                true
            }
        }
    }
}

struct Owner {
    side: usize,
    live: bool,
    window: *mut Window,
}

// SAFETY: the raw pointers are owned boxes, reached only under the lock or through atomics.
unsafe impl Send for Owned {}

// A panic cannot leave the counts half-changed: each change under the lock is one store.
impl std::panic::RefUnwindSafe for NativeCounts {}

/// A read of the counts, folded into the current schema.
pub(crate) struct NativeRead {
    pub(crate) schema: i8,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: u64,
    pub(crate) count: u64,
    /// How many `(index, count)` pairs of each side were written (positive, then negative).
    pub(crate) lens: [usize; SIDES],
}

impl NativeCounts {
    pub(crate) fn new(layout: &'static NativeLayout, classic: bool, mapped: bool) -> Self {
        Self {
            layout,
            classic,
            mapped,
            zero_threshold: AtomicU64::new(layout.zero_threshold.to_bits()),
            lane_0: [const { AtomicPtr::new(std::ptr::null_mut()) }; SIDES],
            owner: AtomicU64::new(0),
            shared: AtomicPtr::new(std::ptr::null_mut()),
            owned: Mutex::new(Owned {
                schema: layout.schema,
                apart: Vec::new(),
                windows: Vec::new(),
            }),
            written: Written {
                sum: AtomicU64::new(0),
                zero: AtomicU64::new(0),
                nan: AtomicU64::new(0),
                populated: AtomicU32::new(0),
            },
        }
    }

    /// Counts one observation, and adds it to `sum` (the cell's).
    ///
    /// The thread that owns the series adds to a sum of its own and counts in lane 0 with plain
    /// loads and stores: no other thread writes them. Any other thread counts in a lane of its own and
    /// adds to its stripe of the sum with atomic operations; so do all in multiprocess mode,
    /// where the sum must stay in the cell for other processes to read.
    #[inline]
    pub(crate) fn observe(&self, v: f64, sum: &AtomicU64) {
        if self.mapped {
            self.count::<false>(v, 0);
            return add_f64(sum, v);
        }
        let me = thread_token();
        let owner = self.owner.load(Relaxed);
        if owner == me
            || (owner == 0 && self.owner.compare_exchange(0, me, Relaxed, Relaxed).is_ok())
        {
            self.count::<true>(v, 0);
            add_f64_unshared(&self.written.sum, v);
        } else {
            self.observe_shared(v);
        }
    }

    /// An observation by a thread that does not own the series.
    #[inline(never)]
    fn observe_shared(&self, v: f64) {
        let stripe = stripe_of_thread();
        let shared = self.shared();
        self.count::<false>(v, 1 + stripe % (LANES - 1));
        add_f64(&shared.stripes[stripe].0, v);
    }

    /// Counts one observation in `lane`; `EXCLUSIVE` when no other thread writes the lane.
    #[inline(always)]
    fn count<const EXCLUSIVE: bool>(&self, v: f64, lane: usize) {
        let magnitude = v.abs();
        let threshold = f64::from_bits(self.zero_threshold.load(Relaxed));
        if magnitude <= threshold || magnitude.is_nan() {
            let count = if v.is_nan() { &self.written.nan } else { &self.written.zero };
            count.fetch_add(1, Relaxed);
            return;
        }
        let side = usize::from(v.is_sign_negative());
        if let Some(window) = published(self.lane(lane)[side].load(Acquire)) {
            let index = native::bucket_index(magnitude, window.schema);
            let block = window.slot(index).and_then(|s| published(s.load(Acquire)));
            if let Some(block) = block {
                let at = index as usize & (BLOCK_LEN - 1);
                let count = &block.counts[at];
                let before = if EXCLUSIVE {
                    let before = count.load(Relaxed);
                    count.store(before + 1, Relaxed);
                    before
                } else {
                    count.fetch_add(1, Relaxed)
                };
                if before & (CARRY - 1) == 0 {
                    self.first_or_carry(before, (block, at), (side, window.schema, index));
                }
                return;
            }
        }
        self.observe_slow(magnitude, lane, side);
    }

    /// The windows of each sign in `lane` (lanes past 0 only once [`Self::shared`] made them).
    #[inline(always)]
    fn lane(&self, lane: usize) -> &[AtomicPtr<Window>; SIDES] {
        match lane {
            0 => &self.lane_0,
            _ => &self.shared().lanes[lane - 1],
        }
    }

    /// The current window pointer of every lane and sign.
    fn every_lane(&self) -> impl Iterator<Item = &AtomicPtr<Window>> {
        let shared = published(self.shared.load(Acquire));
        let others = shared.into_iter().flat_map(|shared| shared.lanes.iter().flatten());
        self.lane_0.iter().chain(others)
    }

    /// The lanes and stripes of the threads other than the owner, made first if needed.
    fn shared(&self) -> &'static Shared {
        if let Some(shared) = published(self.shared.load(Acquire)) {
            return shared;
        }
        let _section = crate::fork::enter();
        let _owned = self.owned.lock();
        match published(self.shared.load(Acquire)) {
            Some(shared) => shared,
            None => {
                let shared = Box::into_raw(Box::new(Shared {
                    lanes: [const { [const { AtomicPtr::new(std::ptr::null_mut()) }; SIDES] };
                        LANES - 1],
                    stripes: [const { SumStripe(AtomicU64::new(0)) }; SUM_STRIPES],
                }));
                self.shared.store(shared, Release);
                published(shared).expect("just allocated")
            }
        }
    }

    /// What the owner's sum and the stripes hold, added to `sum` (the cell's).
    pub(crate) fn sum(&self, sum: f64) -> f64 {
        let sum = sum + load_f64(&self.written.sum);
        match published(self.shared.load(Acquire)) {
            Some(shared) => (shared.stripes.iter()).fold(sum, |total, s| total + load_f64(&s.0)),
            None => sum,
        }
    }

    /// A bucket got its first count (`before` is 0), or reached [`CARRY`]: past the limit,
    /// the buckets are counted exactly and reduced if they really are too many; a carry
    /// moves to the counts kept apart, under the lock that reads take.
    #[cold]
    fn first_or_carry(
        &self,
        before: u32,
        (block, at): (&Block, usize),
        (side, schema, index): (usize, i8, i32),
    ) {
        if before == 0 {
            block.mark(at);
            if self.written.populated.fetch_add(1, Relaxed) < self.layout.max_buckets {
                return;
            }
        }
        let _section = crate::fork::enter();
        let mut owned = self.owned.lock();
        if before == 0 {
            self.limit(&mut owned);
        } else {
            owned.add_apart(side, schema, index, u64::from(CARRY));
            block.counts[at].fetch_sub(CARRY, Relaxed);
        }
    }

    /// An observation whose block or window does not exist yet, under the lock.
    #[cold]
    fn observe_slow(&self, magnitude: f64, lane: usize, side: usize) {
        let _section = crate::fork::enter();
        let mut owned = self.owned.lock();
        // The threshold may have grown since it was read.
        if magnitude <= f64::from_bits(self.zero_threshold.load(Relaxed)) {
            self.written.zero.fetch_add(1, Relaxed);
            return;
        }
        let schema = owned.schema;
        let index = native::bucket_index(magnitude, schema);
        let Some(window) = self.window_for(&mut owned, lane, side, index) else {
            if owned.add_apart(side, schema, index, 1)
                && self.written.populated.fetch_add(1, Relaxed) >= self.layout.max_buckets
            {
                self.limit(&mut owned);
            }
            return;
        };
        let slot = window.slot(index).expect("the window covers the index");
        let block = match published(slot.load(Acquire)) {
            Some(block) => block,
            None => {
                let block = Box::into_raw(Box::new(Block::new()));
                slot.store(block, Release);
                published(block).expect("just allocated")
            }
        };
        let at = index as usize & (BLOCK_LEN - 1);
        let count = &block.counts[at];
        let before = count.fetch_add(1, Relaxed);
        if before == CARRY {
            owned.add_apart(side, schema, index, u64::from(CARRY));
            count.fetch_sub(CARRY, Relaxed);
        } else if before == 0 {
            block.mark(at);
            if self.written.populated.fetch_add(1, Relaxed) >= self.layout.max_buckets {
                self.limit(&mut owned);
            }
        }
    }

    /// The current window of `side` in `lane`, covering bucket `index` at the current schema:
    /// the one published, a wider one sharing its blocks, or a new one; `None` when the bucket
    /// is too far from the window's to share one.
    fn window_for(
        &self,
        owned: &mut Owned,
        lane: usize,
        side: usize,
        index: i32,
    ) -> Option<&'static Window> {
        let block = index >> BLOCK_BITS;
        let current = published(self.lane(lane)[side].load(Acquire));
        let (first, len, old) = match current {
            Some(window) => {
                if window.slot(index).is_some() {
                    return Some(window);
                }
                let last = window.first + window.blocks.len() as i32 - 1;
                let (lo, hi) = (window.first.min(block), last.max(block));
                let span = (hi - lo + 1) as usize;
                if span > MAX_WINDOW_BLOCKS {
                    return None;
                }
                let len = span.max(window.blocks.len() * 2).min(MAX_WINDOW_BLOCKS);
                // The room to spare goes the way the window grew.
                let first = if block < window.first {
                    lo - (len - span) as i32
                } else {
                    lo
                };
                (first, len, Some(window))
            }
            // The first window, centred on the first bucket.
            None => (block - (FIRST_WINDOW_BLOCKS / 2) as i32, FIRST_WINDOW_BLOCKS, None),
        };
        let wider = Window::new(owned.schema, first, len);
        if let Some(old) = old {
            for (k, slot) in old.blocks.iter().enumerate() {
                let at = (old.first + k as i32 - first) as usize;
                wider.blocks[at].store(slot.load(Acquire), Relaxed);
            }
            let replaced = old as *const Window;
            for owner in &mut owned.windows {
                if std::ptr::eq(owner.window, replaced) {
                    owner.live = false;
                }
            }
        }
        let wider = Box::into_raw(Box::new(wider));
        owned.windows.push(Owner {
            side,
            live: true,
            window: wider,
        });
        self.lane(lane)[side].store(wider, Release);
        published(wider)
    }

    /// Keeps the populated buckets within the limit: counts them exactly and, while they are
    /// too many, widens the zero bucket by its nearest bucket (up to the largest threshold
    /// allowed) or else halves the resolution, as client_golang does (which takes one such
    /// step per observation; here they are taken at once).
    fn limit(&self, owned: &mut Owned) {
        let mut buckets = Vec::new();
        loop {
            buckets.clear();
            let lens = self.fold(owned, &mut buckets).lens;
            let populated = (lens[0] + lens[1]) as u32;
            self.written.populated.store(populated, Relaxed);
            if populated <= self.layout.max_buckets {
                return;
            }
            let (positive, negative) = buckets.split_at(lens[0] * 2);
            let nearest = [positive.first(), negative.first()]
                .into_iter()
                .flatten()
                .map(|index| *index as i64 as i32)
                .min();
            if nearest.is_some_and(|index| self.widen_zero_bucket(index, owned.schema)) {
                continue;
            }
            if owned.schema == MIN_SCHEMA {
                return;
            }
            owned.schema -= 1;
            // The next observation of each side starts a window at the new schema; the old
            // windows keep their counts, read folded into it.
            for side in self.every_lane() {
                side.store(std::ptr::null_mut(), Release);
            }
        }
    }

    /// Widens the zero bucket to the end of bucket `nearest` (the populated bucket nearest
    /// zero), if the largest threshold allowed reaches it.
    fn widen_zero_bucket(&self, nearest: i32, schema: i8) -> bool {
        let threshold = f64::from_bits(self.zero_threshold.load(Relaxed));
        let wider = native::bucket_upper_bound(nearest, schema);
        let allowed = self.layout.max_zero_threshold;
        let widens = threshold < allowed && wider <= allowed;
        if widens {
            self.zero_threshold.store(wider.to_bits(), Relaxed);
        }
        widens
    }

    /// Every count folded into the current schema, buckets under the zero threshold into the
    /// zero bucket: `(index, count)` words of the positive side then the negative side
    /// appended to `out` (as [`crate::exposition::BucketCounts`] reads them).
    fn fold(&self, owned: &Owned, out: &mut Vec<u64>) -> NativeRead {
        let schema = owned.schema;
        let threshold = f64::from_bits(self.zero_threshold.load(Relaxed));
        let nan = self.written.nan.load(Relaxed);
        let zero_counted = self.written.zero.load(Relaxed);
        let mut zero = zero_counted;
        // Whether a bucket belongs to the zero bucket is decided at the schema it was counted
        // at: the threshold only grows, so a count once read as zero stays zero, even where a
        // coarser bucket now straddles the threshold.
        let below = |from: i8| last_within(threshold, from);
        // Bucket i at a finer schema lies within bucket ceil(i / 2^shift).
        let coarser = |index: i32, from: i8| {
            let shift = (from - schema) as u32;
            (index + (1 << shift) - 1) >> shift
        };
        let mut lens = [0; SIDES];
        let mut total = 0;
        for (side, len) in lens.iter_mut().enumerate() {
            let mut live = owned.windows.iter().filter(|o| o.side == side && o.live);
            if let (Some(only), None) = (live.next(), live.next()) {
                let window = published(only.window).expect("owned");
                let alone = owned.apart.iter().all(|a| a.0 != side);
                if alone && window.schema == schema && below(schema) < window.first_index() {
                    // The usual read: one window at the current schema, nothing within the
                    // zero bucket, nothing apart; its pairs are in order.
                    let start = out.len();
                    total += window.append_pairs(out);
                    *len = (out.len() - start) / 2;
                    continue;
                }
            }
            // The pairs go straight to `out`, in order as one window gives them; several
            // windows (after a halving) or counts kept apart are sorted after.
            let mut side_out = SideOut::new(out);
            for owner in owned.windows.iter().filter(|o| o.side == side && o.live) {
                let window = published(owner.window).expect("owned");
                let within = below(window.schema);
                window.counts(|index, count| {
                    total += count;
                    if index <= within {
                        zero += count;
                    } else {
                        side_out.push(coarser(index, window.schema), count);
                    }
                });
            }
            for &(_, from, index, count) in owned.apart.iter().filter(|a| a.0 == side) {
                total += count;
                if index <= below(from) {
                    zero += count;
                } else {
                    side_out.push(coarser(index, from), count);
                }
            }
            *len = side_out.finish();
        }
        NativeRead {
            schema,
            zero_threshold: threshold,
            zero_count: zero,
            count: zero_counted + total + nan,
            lens,
        }
    }

    /// Reads the counts, folded into the current schema: the pairs of each side are appended
    /// to `out`.
    pub(crate) fn read(&self, out: &mut Vec<u64>) -> NativeRead {
        let _section = crate::fork::enter();
        let owned = self.owned.lock();
        self.fold(&owned, out)
    }

    /// Zero and the initial schema and threshold again, for a new series; frees every window
    /// and block.
    pub(crate) fn reset(&self) {
        let _section = crate::fork::enter();
        let mut owned = self.owned.lock();
        for side in self.every_lane() {
            side.store(std::ptr::null_mut(), Release);
        }
        for owner in owned.windows.drain(..) {
            // SAFETY: allocated by `Box::into_raw` and unreachable now (see the module); each
            // block is in exactly one live window.
            let window = unsafe { Box::from_raw(owner.window) };
            if owner.live {
                for slot in &window.blocks {
                    let block = slot.load(Acquire);
                    if !block.is_null() {
                        // SAFETY: as above.
                        drop(unsafe { Box::from_raw(block) });
                    }
                }
            }
        }
        owned.schema = self.layout.schema;
        owned.apart.clear();
        if let Some(shared) = published(self.shared.load(Acquire)) {
            for stripe in &shared.stripes {
                stripe.0.store(0, Relaxed);
            }
        }
        self.zero_threshold
            .store(self.layout.zero_threshold.to_bits(), Relaxed);
        self.written.zero.store(0, Relaxed);
        self.written.nan.store(0, Relaxed);
        self.written.populated.store(0, Relaxed);
        self.owner.store(0, Relaxed);
        self.written.sum.store(0, Relaxed);
    }
}

impl Drop for NativeCounts {
    fn drop(&mut self) {
        self.reset();
        let shared = self.shared.swap(std::ptr::null_mut(), Acquire);
        if !shared.is_null() {
            // SAFETY: allocated by `Box::into_raw`; nothing else reaches a dropped cell.
            drop(unsafe { Box::from_raw(shared) });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kinds::histogram::native::{Bucket, classify};
    use crate::kinds::histogram::settings::NativeHistogram;

    fn counts(settings: NativeHistogram) -> NativeCounts {
        let layout = Box::leak(Box::new(settings.checked("h").unwrap()));
        NativeCounts::new(layout, false, false)
    }

    impl NativeCounts {
        /// Counts an observation, its sum left aside.
        fn observe_alone(&self, v: f64) {
            self.observe(v, &AtomicU64::new(0));
        }
    }

    /// What a read says: schema, threshold, zero count, count, and each side's buckets.
    type Seen = (i8, f64, u64, u64, Vec<(i32, u64)>, Vec<(i32, u64)>);

    fn seen(counts: &NativeCounts) -> Seen {
        let mut words = vec![7, 7];
        let read = counts.read(&mut words);
        let pairs = |words: &[u64]| {
            crate::exposition::BucketCounts::from_words(words)
                .iter()
                .collect::<Vec<_>>()
        };
        let (positive, negative) = words[2..].split_at(read.lens[0] * 2);
        assert_eq!(negative.len(), read.lens[1] * 2);
        (
            read.schema,
            read.zero_threshold,
            read.zero_count,
            read.count,
            pairs(positive),
            pairs(negative),
        )
    }

    /// The same values filed one by one by `classify`, at a schema and threshold.
    fn by_classify(values: &[f64], schema: i8, threshold: f64) -> Seen {
        let (mut positive, mut negative) = (BTreeMap::new(), BTreeMap::new());
        let mut zero = 0;
        for &v in values {
            match classify(v, schema, threshold) {
                Bucket::Zero => zero += 1,
                Bucket::Positive(i) => *positive.entry(i).or_insert(0) += 1,
                Bucket::Negative(i) => *negative.entry(i).or_insert(0) += 1,
                Bucket::NaN => {}
            }
        }
        let list = |m: BTreeMap<i32, u64>| m.into_iter().collect::<Vec<_>>();
        let count = values.len() as u64;
        (schema, threshold, zero, count, list(positive), list(negative))
    }

    /// Seeded values over every kind of double: spread latencies, both signs, zeros, NaN,
    /// infinities, subnormals, extremes.
    fn values(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| match next() % 16 {
                0 => f64::NAN,
                1 => [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY][(next() % 4) as usize],
                2 => f64::from_bits(next() % (1 << 52)),
                3 => f64::from_bits(next() >> 1),
                4 => -f64::from_bits(next() >> 1),
                5 => f64::MAX,
                _ => {
                    let exponent = (next() % 40) as i32 - 20;
                    let v = (1.0 + (next() % 1000) as f64 / 1000.0) * 2f64.powi(exponent);
                    if next() % 4 == 0 { -v } else { v }
                }
            })
            .collect()
    }

    #[test]
    fn client_golangs_reference_case() {
        let counts = counts(NativeHistogram::new(1.1));
        for v in [0.0, 1.0, 2.0, 3.0] {
            counts.observe_alone(v);
        }
        let threshold = 2f64.powi(-128);
        assert_eq!(
            seen(&counts),
            (3, threshold, 1, 4, vec![(0, 1), (8, 1), (13, 1)], vec![])
        );
    }

    #[test]
    fn every_observation_lands_where_classify_files_it() {
        for (seed, threshold) in [(1, 2f64.powi(-128)), (2, 0.0), (3, 0.3), (4, 1e-310)] {
            let values = values(seed, 20_000);
            let settings = NativeHistogram::new(1.1)
                .max_buckets(u32::MAX)
                .zero_threshold(threshold);
            let counts = counts(settings);
            for &v in &values {
                counts.observe_alone(v);
            }
            assert_eq!(seen(&counts), by_classify(&values, 3, threshold), "seed {seed}");
        }
    }

    #[test]
    fn past_the_limit_the_resolution_halves_and_nothing_is_lost() {
        // Within 2^-60..2^60, which schema -4 holds in 16 buckets a side.
        let values: Vec<f64> = values(5, 20_000)
            .into_iter()
            .filter(|v| v.is_nan() || (v.abs() > 1e-18 && v.abs() < 1e18))
            .collect();
        let counts = counts(NativeHistogram::new(1.0001).max_buckets(50));
        for &v in &values {
            counts.observe_alone(v);
        }
        let got = seen(&counts);
        assert!(got.4.len() + got.5.len() <= 50, "{} buckets", got.4.len() + got.5.len());
        assert!(got.0 < 8, "schema {}", got.0);
        // Halving only merges buckets: the result is the values filed at the final schema.
        assert_eq!(got, by_classify(&values, got.0, got.1));
    }

    #[test]
    fn the_zero_bucket_widens_first_up_to_its_maximum() {
        let settings = NativeHistogram::new(1.1)
            .max_buckets(3)
            .max_zero_threshold(0.01);
        let counts = counts(settings);
        for v in [0.001, 0.002, 0.004, 1.0, 2.0, 4.0] {
            counts.observe_alone(v);
        }
        let got = seen(&counts);
        // The three small buckets went to the zero bucket, each widening it to its end;
        // 4.0's bucket then made four buckets again with no widening left: the resolution
        // halved until three buckets remained.
        assert!(got.1 >= 0.004 && got.1 <= 0.01, "threshold {}", got.1);
        assert_eq!(got.2, 3);
        assert_eq!(got, by_classify(&[0.001, 0.002, 0.004, 1.0, 2.0, 4.0], got.0, got.1));
        assert!(got.4.len() <= 3);
    }

    #[test]
    fn a_count_once_in_the_zero_bucket_stays_there_when_the_resolution_halves() {
        let settings = NativeHistogram::new(1.1)
            .max_buckets(4)
            .max_zero_threshold(0.3);
        let counts = counts(settings);
        let mut last_zero = 0;
        let batches: [&[f64]; 3] = [
            &[0.0, 0.1, 1.0, 1.05],
            &[0.12, 0.2, 2.0, -1.0],
            &[3.0, 5.0, 9.0, 100.0, -0.5, 0.01],
        ];
        for batch in batches {
            for v in batch {
                counts.observe_alone(*v);
            }
            let (_, _, zero, ..) = seen(&counts);
            assert!(zero >= last_zero, "the zero count went from {last_zero} to {zero}");
            last_zero = zero;
        }
        let (schema, threshold, zero, count, ..) = seen(&counts);
        assert!(schema < 3 && threshold > 0.2 && threshold <= 0.3, "{schema} {threshold}");
        // 0, 0.1, 0.12, 0.2 and 0.01 are within the widened zero bucket.
        assert_eq!((zero, count), (5, 14));
    }

    #[test]
    fn an_outlier_far_from_the_window_is_counted_apart() {
        let counts = counts(NativeHistogram::new(1.0001).max_buckets(u32::MAX));
        let values = [1.0, 1.001, f64::INFINITY, 1e-30, 1.0, f64::INFINITY, -1e300];
        for v in values {
            counts.observe_alone(v);
        }
        assert_eq!(seen(&counts), by_classify(&values, 8, 2f64.powi(-128)));
        let owned = counts.owned.lock();
        assert_eq!(owned.apart.len(), 2, "{:?}", owned.apart);
        let widest = owned.windows.iter().map(|o| {
            published(o.window).expect("owned").blocks.len()
        });
        assert!(widest.max() <= Some(MAX_WINDOW_BLOCKS));
    }

    #[test]
    fn a_count_reaching_two_to_the_31_carries_and_never_wraps() {
        let counts = counts(NativeHistogram::new(1.1));
        counts.observe_alone(2.0);
        let window = published(counts.lane_0[0].load(Acquire)).unwrap();
        let block = published(window.slot(8).unwrap().load(Acquire)).unwrap();
        // As if 2^31 - 1 observations had been counted.
        block.counts[8 % BLOCK_LEN].store(CARRY - 1, Relaxed);
        for _ in 0..3 {
            counts.observe_alone(2.0);
        }
        let total = u64::from(CARRY) + 2;
        assert_eq!(seen(&counts), (3, 2f64.powi(-128), 0, total, vec![(8, total)], vec![]));
        assert_eq!(block.counts[8 % BLOCK_LEN].load(Relaxed), 2);
        assert_eq!(counts.owned.lock().apart, [(0, 3, 8, u64::from(CARRY))]);
    }

    #[test]
    fn threads_other_than_the_owner_count_in_lanes_of_their_own() {
        let counts = counts(NativeHistogram::new(1.01).max_buckets(40));
        let within = |v: &f64| v.is_nan() || (v.abs() > 1e-18 && v.abs() < 1e18);
        let per_thread: Vec<Vec<f64>> = (0..4)
            .map(|t| values(20 + t, 20_000).into_iter().filter(within).collect())
            .collect();
        std::thread::scope(|scope| {
            for values in &per_thread {
                let counts = &counts;
                scope.spawn(move || values.iter().for_each(|v| counts.observe_alone(*v)));
            }
        });
        let lanes_used = (0..LANES)
            .filter(|&lane| {
                counts.owned.lock().windows.iter().any(|o| {
                    let window = published(o.window).expect("owned");
                    (0..SIDES).any(|side| {
                        std::ptr::eq(counts.lane(lane)[side].load(Acquire), window)
                    })
                })
            })
            .count();
        assert!(lanes_used > 1, "{lanes_used} lanes");
        assert_ne!(counts.owner.load(Relaxed), 0);
        let all: Vec<f64> = per_thread.concat();
        let got = seen(&counts);
        assert!(got.4.len() + got.5.len() <= 40);
        assert_eq!(got, by_classify(&all, got.0, got.1));
    }

    #[test]
    fn reset_starts_again_at_the_settings() {
        let settings = NativeHistogram::new(1.1).max_buckets(2);
        let counts = counts(settings);
        for v in [1.0, 10.0, 100.0, 1000.0, -5.0, f64::NAN] {
            counts.observe_alone(v);
        }
        assert!(seen(&counts).0 < 3);
        counts.reset();
        assert_eq!(seen(&counts), (3, 2f64.powi(-128), 0, 0, vec![], vec![]));
        counts.observe_alone(2.0);
        assert_eq!(seen(&counts), (3, 2f64.powi(-128), 0, 1, vec![(8, 1)], vec![]));
    }

    #[test]
    fn reads_beside_observing_threads_are_never_torn_and_lose_nothing() {
        let counts = counts(NativeHistogram::new(1.01).max_buckets(20));
        let within = |v: &f64| v.is_nan() || (v.abs() > 1e-18 && v.abs() < 1e18);
        let per_thread: Vec<Vec<f64>> = (0..4)
            .map(|t| values(10 + t, 20_000).into_iter().filter(within).collect())
            .collect();
        std::thread::scope(|scope| {
            for values in &per_thread {
                let counts = &counts;
                scope.spawn(move || values.iter().for_each(|v| counts.observe_alone(*v)));
            }
            let mut last = 0;
            for _ in 0..200 {
                let (_, _, _, count, positive, negative) = seen(&counts);
                for side in [&positive, &negative] {
                    let ordered = side.windows(2).all(|w| w[0].0 < w[1].0);
                    assert!(ordered && side.iter().all(|(_, c)| *c > 0), "{side:?}");
                }
                assert!(count >= last, "the count went back from {last} to {count}");
                last = count;
            }
        });
        let all: Vec<f64> = per_thread.concat();
        let got = seen(&counts);
        assert_eq!(got, by_classify(&all, got.0, got.1));
    }
}
