//! Exemplars: label sets (a trace id, most often) attached to a counter's increment or a
//! histogram's observation, and the side storage that keeps the latest of each series (of each
//! bucket, for a histogram).
//!
//! The storage is reached only by the updates that carry an exemplar: a pool's table is
//! allocated on its first exemplar, and the cells, their layout and the updates without an
//! exemplar are untouched. Exemplars live in the memory of the process that recorded them;
//! in multiprocess mode, the series read from other processes' files have none.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::Duration;

mod labels;
mod try_lock;

use try_lock::TryLock;

pub use labels::{Exemplar, ExemplarNames, MAX_EXEMPLAR_RUNES};

/// An exemplar as a scrape sees it: the labels, the value it came with, when, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedExemplar {
    /// The classic bucket the value fell in (the `+Inf` bucket is the number of bounds); 0 on
    /// a counter and on a native-only histogram.
    pub bucket: usize,
    /// The labels.
    pub exemplar: Exemplar,
    /// The increment or observation.
    pub value: f64,
    /// When it was recorded: milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Bits of a slot index that pick its series within a leaf of a table, and a leaf within a
/// branch; the rest (at most `ROOT_BITS`) pick the branch.
const LEAF_BITS: u32 = 10;
const BRANCH_BITS: u32 = 7;
const ROOT_BITS: u32 = 7;

/// The exemplars of one pool's series, by slot index: a tree of three levels (a pool's
/// 2^24 slots at most), each part allocated on the first exemplar under it, so a record
/// reaches its series' entries with three loads and no lock or hash.
pub struct ExemplarTable {
    root: OnceLock<Box<[OnceLock<Branch>; 1 << ROOT_BITS]>>,
}

// A panic cannot leave a table half-updated: a record replaces a whole entry. Handles stay
// unwind safe, as they were before they could reach a table.
impl std::panic::RefUnwindSafe for ExemplarTable {}
impl std::panic::UnwindSafe for ExemplarTable {}

/// Leaves, by the middle bits of the slot index.
type Branch = Box<[OnceLock<Leaf>; 1 << BRANCH_BITS]>;

/// The entries of series, by the low bits of the slot index.
type Leaf = Box<[OnceLock<Box<[Entry]>>; 1 << LEAF_BITS]>;

/// The latest exemplar of one bucket of a series: a lock taken only by a record and a read
/// of that very bucket, and never waited for by a record.
type Entry = TryLock<Option<Kept>>;

/// An exemplar kept, with the state of the series it was recorded in (a slot reused by
/// another series shows none of the old one's).
struct Kept {
    state: u64,
    exemplar: Exemplar,
    value: f64,
    /// As the clock gave it; a read turns it into milliseconds.
    time: WallTime,
}

/// How often a read tries an entry that a record holds before leaving it out (a record
/// holds one for a few stores; after a fork, one held by a thread that is gone stays held).
const READ_TRIES: usize = 1 << 12;

impl ExemplarTable {
    /// An empty table; nothing is allocated until an exemplar is recorded.
    pub(crate) const fn new() -> Self {
        Self {
            root: OnceLock::new(),
        }
    }

    /// True once any exemplar was recorded in the table.
    pub(crate) fn is_used(&self) -> bool {
        self.root.get().is_some()
    }

    /// Keeps `exemplar` with `value` and the time `at` (since the Unix epoch; the wall clock's
    /// now when `None`) as the latest of `bucket` (of `buckets`) of the series of `state` in
    /// slot `index`. A record that finds the bucket's entry being written by another thread
    /// leaves it that one's (just as late).
    pub(crate) fn record(
        &self,
        index: u32,
        state: u64,
        (bucket, buckets): (usize, usize),
        exemplar: &Exemplar,
        value: f64,
        at: Option<Duration>,
    ) {
        let Some(series) = self.series(index) else {
            return;
        };
        let entries = init_once(series, || {
            (0..buckets).map(|_| TryLock::new(None)).collect()
        });
        let time = at.map_or_else(now, WallTime::since_epoch);
        let Some(mut entry) = entries.get(bucket).and_then(TryLock::try_lock) else {
            return;
        };
        match &mut *entry {
            Some(kept) => {
                kept.state = state;
                kept.value = value;
                kept.time = time;
                kept.exemplar.clone_from(exemplar);
            }
            empty => {
                *empty = Some(Kept {
                    state,
                    exemplar: exemplar.clone(),
                    value,
                    time,
                });
            }
        }
    }

    /// The entries of slot `index`, the parts above it allocated if missing; `None` for an
    /// index beyond any pool's.
    fn series(&self, index: u32) -> Option<&OnceLock<Box<[Entry]>>> {
        let (root, branch, leaf) = Self::path(index)?;
        // Arrays of fixed length, indexed by masked bits: no bounds check.
        let branches = init_once(&self.root, lazy_parts);
        let leaves = init_once(&branches[root], lazy_parts);
        Some(&init_once(&leaves[branch], lazy_parts)[leaf])
    }

    /// The place of slot `index` at each level.
    fn path(index: u32) -> Option<(usize, usize, usize)> {
        let root = (index >> (LEAF_BITS + BRANCH_BITS)) as usize;
        let branch = (index >> LEAF_BITS) as usize & ((1 << BRANCH_BITS) - 1);
        let leaf = index as usize & ((1 << LEAF_BITS) - 1);
        (root < 1 << ROOT_BITS).then_some((root, branch, leaf))
    }

    /// Appends the exemplars of the series of `generation` in slot `index`, by bucket.
    pub(crate) fn read(&self, index: u32, generation: u32, out: &mut Vec<RecordedExemplar>) {
        let Some((root, branch, leaf)) = Self::path(index) else {
            return;
        };
        let entries = self
            .root
            .get()
            .and_then(|branches| branches[root].get())
            .and_then(|leaves| leaves[branch].get())
            .and_then(|series| series[leaf].get());
        for (bucket, entry) in entries.into_iter().flat_map(|e| e.iter()).enumerate() {
            let Some(kept) = (0..READ_TRIES).find_map(|_| {
                let kept = entry.try_lock();
                if kept.is_none() {
                    std::hint::spin_loop();
                }
                kept
            }) else {
                continue;
            };
            if let Some(k) = kept
                .as_ref()
                .filter(|k| (k.state >> 32) as u32 == generation)
            {
                out.push(RecordedExemplar {
                    bucket,
                    exemplar: k.exemplar.clone(),
                    value: k.value,
                    timestamp_ms: k.time.millis(),
                });
            }
        }
    }
}

/// The value of `cell`, made by `make` if it has none yet. Made inside a fork section, so a
/// process forked meanwhile never inherits a cell left half made, which it would wait for
/// forever.
#[inline(always)]
fn init_once<T>(cell: &OnceLock<T>, make: impl FnOnce() -> T) -> &T {
    match cell.get() {
        Some(value) => value,
        None => init_in_section(cell, make),
    }
}

#[cold]
#[inline(never)]
fn init_in_section<T>(cell: &OnceLock<T>, make: impl FnOnce() -> T) -> &T {
    let _section = crate::fork::enter();
    cell.get_or_init(make)
}

/// `N` parts not yet allocated.
fn lazy_parts<T, const N: usize>() -> Box<[OnceLock<T>; N]> {
    let parts: Box<[OnceLock<T>]> = (0..N).map(|_| OnceLock::new()).collect();
    parts
        .try_into()
        .unwrap_or_else(|_| unreachable!("N parts were made"))
}

/// No fixed time: exemplars take the wall clock.
const WALL_CLOCK: i64 = i64::MIN;

/// The time exemplars are given instead of the wall clock's, for tests.
static FIXED_TIME_MS: AtomicI64 = AtomicI64::new(WALL_CLOCK);

/// Gives every exemplar recorded from now on the time `ms` (milliseconds since the Unix
/// epoch), or the wall clock's again with `None`: for tests of whole pages.
#[cfg(all(test, feature = "otlp"))]
pub(crate) fn fix_exemplar_time(ms: Option<i64>) {
    FIXED_TIME_MS.store(ms.unwrap_or(WALL_CLOCK), Relaxed);
}

/// A time since the Unix epoch as the clock gives it: seconds and nanoseconds, turned into
/// milliseconds only when read, off the path of a record.
#[derive(Clone, Copy)]
struct WallTime {
    seconds: i64,
    nanos: i64,
}

impl WallTime {
    fn from_millis(ms: i64) -> Self {
        Self {
            seconds: ms.div_euclid(1000),
            nanos: ms.rem_euclid(1000) * 1_000_000,
        }
    }

    /// A time since the Unix epoch the caller read.
    fn since_epoch(time: Duration) -> Self {
        Self {
            seconds: i64::try_from(time.as_secs()).unwrap_or(i64::MAX),
            nanos: i64::from(time.subsec_nanos()),
        }
    }

    fn millis(self) -> i64 {
        self.seconds * 1000 + self.nanos / 1_000_000
    }
}

/// The time now.
fn now() -> WallTime {
    let fixed = FIXED_TIME_MS.load(Relaxed);
    if fixed != WALL_CLOCK {
        return WallTime::from_millis(fixed);
    }
    wall_clock()
}

/// The wall clock's time, read as `SystemTime::now` reads it but without its conversions.
#[cfg(unix)]
#[allow(unsafe_code)]
#[allow(
    clippy::useless_conversion,
    reason = "`time_t` and `c_long` are narrower than `i64` on 32-bit targets"
)]
fn wall_clock() -> WallTime {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes the `timespec` it is given, nothing else.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } != 0 {
        return WallTime::from_millis(0);
    }
    WallTime {
        seconds: i64::from(now.tv_sec),
        nanos: i64::from(now.tv_nsec),
    }
}

/// The wall clock's time.
#[cfg(not(unix))]
fn wall_clock() -> WallTime {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    WallTime {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i64::from(since.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_keeps_the_latest_per_bucket_of_the_live_series() {
        let table = ExemplarTable::new();
        let mut out = Vec::new();
        table.read(3, 1, &mut out);
        assert!(out.is_empty());
        let a = Exemplar::new(&[("trace_id", "a")]).unwrap();
        let b = Exemplar::new(&[("trace_id", "b")]).unwrap();
        let state = 1 << 32 | 7;
        table.record(3, state, (1, 3), &a, 0.5, None);
        table.record(3, state, (1, 3), &b, 0.7, None);
        table.record(3, state, (2, 3), &a, 9.0, None);
        table.read(3, 1, &mut out);
        let seen: Vec<_> = out.iter().map(|e| (e.bucket, e.value)).collect();
        assert_eq!(seen, [(1, 0.7), (2, 9.0)]);
        assert_eq!(out[0].exemplar, b);
        out.clear();
        table.read(3, 3, &mut out);
        assert!(out.is_empty(), "another series of the slot has none");
        table.record(3, 3 << 32 | 7, (0, 3), &a, 0.1, None);
        table.read(3, 3, &mut out);
        assert_eq!(out.len(), 1, "the old series' exemplars are gone");
    }

    #[test]
    fn slots_far_apart_and_threads_at_once_keep_their_own() {
        let table = ExemplarTable::new();
        let slots = [0, 1023, 1024, 5 << 10 | 7, 1 << 17, (1 << 24) - 1];
        std::thread::scope(|scope| {
            for (n, &slot) in slots.iter().enumerate() {
                let table = &table;
                scope.spawn(move || {
                    let exemplar = Exemplar::new(&[("n", n.to_string())]).unwrap();
                    for k in 0..1000 {
                        table.record(slot, 1 << 32, (k % 2, 2), &exemplar, k as f64, None);
                    }
                });
            }
        });
        for (n, &slot) in slots.iter().enumerate() {
            let mut out = Vec::new();
            table.read(slot, 1, &mut out);
            let seen: Vec<_> = out.iter().map(|e| (e.bucket, e.value)).collect();
            assert_eq!(seen, [(0, 998.0), (1, 999.0)], "slot {slot}");
            let labels: Vec<_> = out[0].exemplar.labels().collect();
            assert_eq!(labels, [("n", n.to_string().as_str())]);
        }
        let beyond = 1 << 24;
        table.record(beyond, 1 << 32, (0, 1), &exemplar_of("x"), 1.0, None);
        let mut out = Vec::new();
        table.read(beyond, 1, &mut out);
        assert!(out.is_empty(), "no pool has slot {beyond}");
    }

    #[test]
    fn a_time_given_is_kept_to_the_millisecond_it_falls_in() {
        let table = ExemplarTable::new();
        for (at, ms) in [
            (
                Duration::from_micros(1_700_000_000_123_999),
                1_700_000_000_123,
            ),
            (Duration::ZERO, 0),
        ] {
            table.record(1, 1 << 32, (0, 1), &exemplar_of("a"), 1.0, Some(at));
            let mut out = Vec::new();
            table.read(1, 1, &mut out);
            assert_eq!(out[0].timestamp_ms, ms, "{at:?}");
        }
    }

    fn exemplar_of(trace: &str) -> Exemplar {
        Exemplar::new(&[("trace_id", trace)]).unwrap()
    }

    #[test]
    fn an_entry_held_elsewhere_is_neither_waited_for_nor_read() {
        let table = ExemplarTable::new();
        let state = 1 << 32;
        table.record(5, state, (0, 1), &exemplar_of("kept"), 1.0, None);
        let entries = table.series(5).and_then(OnceLock::get).expect("recorded");
        let held = entries[0].try_lock().expect("free");
        // A record gives up at once, and a read leaves the entry out after its tries.
        table.record(5, state, (0, 1), &exemplar_of("dropped"), 2.0, None);
        let mut out = Vec::new();
        table.read(5, 1, &mut out);
        assert!(out.is_empty(), "{out:?}");
        drop(held);
        table.read(5, 1, &mut out);
        let seen: Vec<_> = out.iter().map(|e| e.value).collect();
        assert_eq!(seen, [1.0]);
        assert_eq!(out[0].exemplar, exemplar_of("kept"));
    }
}
