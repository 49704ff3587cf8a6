//! Type-stable storage of series: slots that are reused, never freed.
//!
//! Every series lives in a [`Slot`] of a process-wide [`Pool`] of its cell type. A slot's
//! state word holds a generation and the id of the metric that owns it; a handle remembers the
//! state it was given and checks it on every update, so a handle to a removed series records
//! nothing, even after its slot serves another series. Slots are handed out again oldest-freed
//! first, so a freed slot stays unused for as long as possible.
//!
//! Pools are never freed and their memory is reused, so handles are plain references with no
//! reference count: copying one costs nothing and an update is one load, one compare and the
//! atomic operation itself. A pool holds at most as many slots as were ever live at once.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::exposition::Value;
use crate::storage::fingerprint::Fingerprint;

/// Slots per chunk of a pool; chunks are allocated as the pool grows.
pub(crate) const CHUNK_BITS: u32 = 10;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;

/// A fixed number of slots, allocated together.
pub type Chunk<C> = Box<[Slot<C>; CHUNK_LEN]>;

/// The atomic storage of one series of some metric type.
pub trait Cell: Send + Sync + Sized + 'static {
    /// What every series of one metric shares (histogram buckets); `()` for most kinds.
    type Config: Send + Sync + 'static;

    /// A zeroed cell.
    fn new(config: &Self::Config) -> Self;

    /// Sets the cell back to zero before its slot serves a new series.
    fn reset(&self);

    /// The cell's value; a histogram's cumulative counts go to `scratch`.
    fn value<'s>(&self, scratch: &'s mut Vec<u64>) -> Value<'s>;
}

/// Reading and ending series of a pool whose cell type the caller does not know.
pub(crate) trait Series: Send + Sync {
    /// The value of the series of `generation` in slot `index`, if it still lives there.
    fn read<'s>(&self, index: u32, generation: u32, scratch: &'s mut Vec<u64>)
    -> Option<Value<'s>>;

    /// True while the series of `generation` lives in slot `index`.
    fn is_live(&self, index: u32, generation: u32) -> bool;

    /// Ends the series of `generation` in slot `index`; see [`Pool::free`].
    fn end(&self, index: u32, generation: u32) -> bool;

    /// The pool itself, to be seen again as a pool of its cell type.
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<C: Cell> Series for Pool<C> {
    fn read<'s>(
        &self,
        index: u32,
        generation: u32,
        scratch: &'s mut Vec<u64>,
    ) -> Option<Value<'s>> {
        let slot = self.slot(index)?;
        if slot.generation() != generation {
            return None;
        }
        let value = slot.cell.value(scratch);
        (slot.generation() == generation).then_some(value)
    }

    fn is_live(&self, index: u32, generation: u32) -> bool {
        self.slot(index)
            .is_some_and(|s| s.generation() == generation)
    }

    fn end(&self, index: u32, generation: u32) -> bool {
        let Some(slot) = self.slot(index) else {
            return false;
        };
        let state = slot.state();
        (state >> 32) as u32 == generation && self.free(index, state)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A cell with its state: `generation << 32 | owner`. An odd generation is a live series.
pub struct Slot<C> {
    state: AtomicU64,
    fingerprint: [AtomicU64; 2],
    pub(crate) cell: C,
}

impl<C: Cell> Slot<C> {
    fn new(config: &C::Config) -> Self {
        Self {
            state: AtomicU64::new(0),
            fingerprint: [AtomicU64::new(0), AtomicU64::new(0)],
            cell: C::new(config),
        }
    }
}

impl<C> Slot<C> {
    /// The state word; a handle's expected state while its series lives.
    #[inline]
    pub(crate) fn state(&self) -> u64 {
        self.state.load(Ordering::Acquire)
    }

    /// True while the series `expect` names lives in this slot.
    #[inline]
    pub(crate) fn holds(&self, expect: u64) -> bool {
        self.state.load(Ordering::Relaxed) == expect
    }

    /// The state of the live series with this fingerprint owned by `owner`, if that is what
    /// the slot holds.
    ///
    /// The state is read first. A slot reused for another series after that read has a state
    /// other than the one returned, so a handle made from it records nothing: as if the
    /// lookup came just before the removal that freed the slot.
    #[inline(always)]
    pub(crate) fn live_state(&self, owner: u32, fingerprint: Fingerprint) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        let same = self.fingerprint[0].load(Ordering::Acquire) == fingerprint.lo
            && self.fingerprint[1].load(Ordering::Acquire) == fingerprint.hi
            && owner_of(state) == owner
            && state & LIVE_BIT != 0;
        same.then_some(state)
    }

    /// The generation part of the state: odd while a series lives, changed by every
    /// allocation and free of the slot.
    #[inline]
    pub(crate) fn generation(&self) -> u32 {
        (self.state.load(Ordering::Acquire) >> 32) as u32
    }

    /// The state word itself, to watch whether a series still lives.
    pub(crate) fn state_word(&self) -> &AtomicU64 {
        &self.state
    }

    /// The low half of the fingerprint of the series the slot holds (its index hash).
    pub(crate) fn hash(&self) -> u64 {
        self.fingerprint[0].load(Ordering::Acquire)
    }
}

/// The bit of a state word that is set while a series lives (the low bit of its generation).
const LIVE_BIT: u64 = 1 << 32;

/// The owner id in a state word.
#[inline]
pub(crate) fn owner_of(state: u64) -> u32 {
    state as u32
}

/// A live series: its slot, its index in the pool and the state it was given.
pub struct SlotRef<C: 'static> {
    pub(crate) slot: &'static Slot<C>,
    pub(crate) index: u32,
    pub(crate) state: u64,
}

impl<C> Clone for SlotRef<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for SlotRef<C> {}

/// Every slot of one cell type (and, for histograms, one bucket layout).
pub struct Pool<C: Cell> {
    chunks: &'static [OnceLock<Chunk<C>>],
    config: C::Config,
    alloc: Mutex<Alloc>,
}

struct Alloc {
    /// Slots handed out at least once.
    next: u32,
    /// Freed slots, oldest first.
    free: VecDeque<u32>,
}

impl<C: Cell> Pool<C> {
    /// A pool over `chunks` (each entry one chunk of slots, allocated on first use).
    pub(crate) const fn new(chunks: &'static [OnceLock<Chunk<C>>], config: C::Config) -> Self {
        Self {
            chunks,
            config,
            alloc: Mutex::new(Alloc {
                next: 0,
                free: VecDeque::new(),
            }),
        }
    }

    /// A pool allocated for the life of the process, with room for `chunks` chunks.
    pub(crate) fn leak(chunks: usize, config: C::Config) -> &'static Self {
        let chunks: Vec<OnceLock<Chunk<C>>> = (0..chunks).map(|_| OnceLock::new()).collect();
        Box::leak(Box::new(Self::new(
            Box::leak(chunks.into_boxed_slice()),
            config,
        )))
    }

    /// The slot at `index`, if the pool has one there.
    #[inline]
    pub(crate) fn slot(&self, index: u32) -> Option<&Slot<C>> {
        let chunk = self.chunks.get((index >> CHUNK_BITS) as usize)?.get()?;
        Some(&chunk[(index & CHUNK_MASK) as usize])
    }

    fn new_chunk(&self) -> Chunk<C> {
        let slots: Box<[Slot<C>]> = (0..CHUNK_LEN).map(|_| Slot::new(&self.config)).collect();
        match slots.try_into() {
            Ok(chunk) => chunk,
            Err(_) => unreachable!("built with CHUNK_LEN slots"),
        }
    }

    /// A zeroed slot for a new series of `owner` with this fingerprint; `None` when the pool
    /// is full.
    pub(crate) fn alloc(&'static self, owner: u32, fingerprint: Fingerprint) -> Option<SlotRef<C>> {
        let _section = crate::fork::enter();
        let index = {
            let mut alloc = self.alloc.lock();
            match alloc.free.pop_front() {
                Some(index) => index,
                None => {
                    let index = alloc.next;
                    if index >= crate::storage::index::MAX_SLOTS {
                        return None;
                    }
                    let chunk = self.chunks.get((index >> CHUNK_BITS) as usize)?;
                    chunk.get_or_init(|| self.new_chunk());
                    alloc.next += 1;
                    index
                }
            }
        };
        let slot = self.slot(index)?;
        slot.cell.reset();
        slot.fingerprint[0].store(fingerprint.lo, Ordering::Release);
        slot.fingerprint[1].store(fingerprint.hi, Ordering::Release);
        let generation = ((slot.state.load(Ordering::Relaxed) >> 32) as u32).wrapping_add(1) | 1;
        let state = u64::from(generation) << 32 | u64::from(owner);
        slot.state.store(state, Ordering::Release);
        Some(SlotRef { slot, index, state })
    }

    /// Ends the series `state` names in slot `index`; its handles record nothing from now on.
    /// Returns false when the slot no longer held it.
    pub(crate) fn free(&self, index: u32, state: u64) -> bool {
        let _section = crate::fork::enter();
        let Some(slot) = self.slot(index) else {
            return false;
        };
        let freed =
            (state & !u64::from(u32::MAX)).wrapping_add(1 << 32) | u64::from(owner_of(state));
        if slot
            .state
            .compare_exchange(state, freed, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.alloc.lock().free.push_back(index);
        true
    }

    /// A handle's view of a series that never lives: any slot, with a state no slot has.
    /// Every update through it is dropped.
    pub(crate) fn noop(&'static self) -> SlotRef<C> {
        let chunk = self.chunks[0].get_or_init(|| self.new_chunk());
        SlotRef {
            slot: &chunk[0],
            index: u32::MAX,
            state: u64::MAX,
        }
    }

    /// Slots in use and slots allocated.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let alloc = self.alloc.lock();
        (alloc.next as usize - alloc.free.len(), alloc.next as usize)
    }
}

/// Defines `Cell::pool` for a cell type without configuration: one static pool of
/// `2^chunk_bits` chunks, which costs no memory until its chunks are used.
macro_rules! static_pool {
    ($cell:ty, $chunks:expr) => {
        impl $cell {
            /// The process-wide pool of this cell type.
            #[inline]
            pub(crate) fn pool() -> &'static $crate::storage::pool::Pool<$cell> {
                static CHUNKS: [std::sync::OnceLock<$crate::storage::pool::Chunk<$cell>>; $chunks] =
                    [const { std::sync::OnceLock::new() }; $chunks];
                static POOL: $crate::storage::pool::Pool<$cell> =
                    $crate::storage::pool::Pool::new(&CHUNKS, ());
                &POOL
            }
        }
    };
}

pub(crate) use static_pool;

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    struct TestCell(AtomicU64);

    impl Cell for TestCell {
        type Config = ();
        fn new(_: &()) -> Self {
            Self(AtomicU64::new(0))
        }
        fn reset(&self) {
            self.0.store(0, Ordering::Relaxed);
        }
        fn value<'s>(&self, _: &'s mut Vec<u64>) -> Value<'s> {
            Value::Number(crate::exposition::Number::UInt(
                self.0.load(Ordering::Relaxed),
            ))
        }
    }

    fn fp(n: u64) -> Fingerprint {
        Fingerprint { lo: n, hi: !n }
    }

    #[test]
    fn reuses_freed_slots_oldest_first_and_invalidates_old_states() {
        let pool = Pool::<TestCell>::leak(4, ());
        let a = pool.alloc(7, fp(1)).unwrap();
        let b = pool.alloc(7, fp(2)).unwrap();
        a.slot.cell.0.store(5, Ordering::Relaxed);
        assert!(a.slot.holds(a.state) && a.state & LIVE_BIT != 0);
        assert!(pool.free(a.index, a.state));
        assert!(!pool.free(a.index, a.state), "a second free is refused");
        assert!(!a.slot.holds(a.state));
        assert!(pool.free(b.index, b.state));
        let c = pool.alloc(9, fp(3)).unwrap();
        assert_eq!(c.index, a.index, "the oldest freed slot comes back first");
        assert_eq!(c.slot.cell.0.load(Ordering::Relaxed), 0, "reset on reuse");
        assert_ne!(c.state, a.state);
        assert_eq!(owner_of(c.state), 9);
        assert_eq!(c.slot.live_state(9, fp(3)), Some(c.state));
        assert_eq!(c.slot.live_state(7, fp(3)), None, "another owner");
        assert_eq!(c.slot.live_state(9, fp(1)), None, "another fingerprint");
        assert_eq!(pool.usage(), (1, 2));
    }

    #[test]
    fn grows_chunk_by_chunk_and_stops_when_full() {
        let pool = Pool::<TestCell>::leak(2, ());
        let all: Vec<_> = (0..2 * CHUNK_LEN as u64)
            .map(|n| pool.alloc(1, fp(n)).unwrap())
            .collect();
        assert_eq!(all.last().unwrap().index as usize, 2 * CHUNK_LEN - 1);
        assert!(pool.alloc(1, fp(0)).is_none(), "no room for a third chunk");
        assert!(pool.free(all[3].index, all[3].state));
        assert_eq!(pool.alloc(1, fp(0)).unwrap().index, 3);
    }
}
