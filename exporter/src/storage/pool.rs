//! Type-stable storage of series: slots that are reused, never freed.
//!
//! Every series lives in a [`Slot`] of a process-wide [`Pool`] of its cell type. A slot's
//! state word holds a generation and the id of the metric that owns it; a handle remembers the
//! state it was given and checks it on every update, so a handle to a removed series records
//! nothing.
//!
//! A check and the update after it are two steps, so a slot must not serve a new series while
//! an update through a handle of the old one could sit between them: each slot counts the
//! handles ([`SlotRef`]s) that point to it, and a freed slot is handed out again only once
//! none does. The count moves when a handle is made, cloned or dropped, never on an update,
//! which stays one load, one compare and the atomic operation itself. Freed slots are handed
//! out again oldest-freed first.
//!
//! Pools are never freed and their memory is reused, so a handle is a plain reference. A pool
//! holds at most as many slots as were ever live or held at once.

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::exposition::Value;
use crate::kinds::{ExemplarTable, RecordedExemplar};
use crate::storage::catalog::{self, CellType};
use crate::storage::fingerprint::{DEAD, Fingerprint};
use crate::storage::mapped;

/// Slots per chunk of a pool; chunks are allocated as the pool grows.
pub(crate) const CHUNK_BITS: u32 = 10;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;

/// A fixed number of slots, allocated together (on the heap, or mapped from a file of the
/// multiprocess directory), for the life of the process.
pub type Chunk<C> = &'static [Slot<C>; CHUNK_LEN];

/// The atomic storage of one series of some metric type.
pub trait Cell: Send + Sync + Sized + 'static {
    /// What every series of one metric shares (histogram buckets); `()` for most kinds.
    type Config: Send + Sync + 'static;

    /// How another process reads cells of this type (see [`catalog`]).
    const CELL_TYPE: CellType;

    /// Words each cell keeps beside the slots of its chunk (a histogram's bucket counts).
    fn extra_words(_config: &Self::Config) -> usize {
        0
    }

    /// The bucket bounds another process needs to read the cell (a histogram's).
    fn bounds(_config: &Self::Config) -> &[f64] {
        &[]
    }

    /// A zeroed cell, with its `extra` words (as many as [`Cell::extra_words`] says).
    fn new(config: &Self::Config, extra: &'static [AtomicU64]) -> Self;

    /// Sets the cell back to zero before its slot serves a new series.
    fn reset(&self);

    /// The cell's value; a histogram's cumulative counts go to `scratch`.
    fn value<'s>(&self, scratch: &'s mut Vec<u64>) -> Value<'s>;

    /// Where the exemplars of a pool's series are kept, for cells that take them.
    fn exemplars(_config: &Self::Config) -> Option<&ExemplarTable> {
        None
    }
}

/// Reading and ending series of a pool whose cell type the caller does not know.
pub(crate) trait Series: Send + Sync {
    /// The value of the series of `generation` in slot `index`, if it still lives there.
    fn read<'s>(&self, index: u32, generation: u32, scratch: &'s mut Vec<u64>)
    -> Option<Value<'s>>;

    /// Appends the exemplars of the series of `generation` in slot `index`, if it has any.
    fn exemplars(&self, index: u32, generation: u32, out: &mut Vec<RecordedExemplar>);

    /// False while no series of the pool was given an exemplar: a page need not ask for the
    /// exemplars of each series.
    fn has_exemplars(&self) -> bool;

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

    fn exemplars(&self, index: u32, generation: u32, out: &mut Vec<RecordedExemplar>) {
        if let Some(table) = C::exemplars(&self.config) {
            table.read(index, generation, out);
        }
    }

    fn has_exemplars(&self) -> bool {
        C::exemplars(&self.config).is_some_and(ExemplarTable::is_used)
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
///
/// Its layout is fixed (`repr(C)`): another process reads slots from the multiprocess
/// directory's files.
#[repr(C)]
pub struct Slot<C> {
    state: AtomicU64,
    /// The handles that point to this slot, whatever series they were made for.
    handles: AtomicU32,
    /// The slot's number in its pool (the top 24 bits) and the lengths part of the
    /// fingerprint of its series (the low 8), in what would be padding.
    key: AtomicU32,
    fingerprint: [AtomicU64; 2],
    pub(crate) cell: C,
}

impl<C: Cell> Slot<C> {
    fn new(config: &C::Config, extra: &'static [AtomicU64]) -> Self {
        Self {
            state: AtomicU64::new(0),
            handles: AtomicU32::new(0),
            key: AtomicU32::new(0),
            fingerprint: [AtomicU64::new(0), AtomicU64::new(0)],
            cell: C::new(config, extra),
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

    /// The state of the series with this fingerprint, if that is what the slot holds.
    ///
    /// The owner is not compared: fingerprints are keyed per vec, so a slot that another
    /// metric took over (a lookup may read an index entry just before its removal) has
    /// another fingerprint, but for a chance near 2^-128. Nor is the state's live bit: a
    /// freed slot's lengths byte is [`DEAD`], which no fingerprint has.
    ///
    /// The state is read first. A slot freed or reused after that read has a state other
    /// than the one returned, so a handle made from it records nothing: as if the lookup came
    /// just before the removal that freed the slot. A free is seen by its lengths byte, which
    /// it writes after the state: a lookup between the two gets the ended state, whose
    /// updates go to a cell that nothing reads, again as if it came just before the removal.
    /// A reuse writes the new series' lengths byte after its state too (see [`Pool::alloc`]),
    /// so a lookup that reads the ended state and the new byte sees the new state when its
    /// hold checks again.
    #[inline(always)]
    pub(crate) fn live_state(&self, fingerprint: Fingerprint) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        let [a, b] = fingerprint.words;
        let same = self.fingerprint[0].load(Ordering::Acquire) == a
            && self.fingerprint[1].load(Ordering::Acquire) == b
            && self.key.load(Ordering::Acquire) as u8 == fingerprint.lens;
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

    /// The fingerprint of the series the slot holds.
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            words: [
                self.fingerprint[0].load(Ordering::Acquire),
                self.fingerprint[1].load(Ordering::Acquire),
            ],
            lens: self.key.load(Ordering::Acquire) as u8,
        }
    }

    /// The slot's number in its pool (set when it is first handed out).
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        self.key.load(Ordering::Relaxed) >> 8
    }

    /// The slot as a vec's index keeps it: its address, not zero and below 2^48.
    pub(crate) fn entry(&'static self) -> u64 {
        std::ptr::from_ref(self) as usize as u64
    }

    /// The slot an entry of [`Slot::entry`] names.
    ///
    /// # Safety
    ///
    /// `entry` came from [`Slot::entry`] of a slot of this cell type (slots are never freed).
    #[allow(unsafe_code)]
    #[inline(always)]
    pub(crate) unsafe fn from_entry(entry: u64) -> &'static Self {
        // SAFETY: the caller's promise; the address is that of a live, never freed slot.
        unsafe { &*(entry as usize as *const Self) }
    }
}

/// The owner id in a state word.
#[inline]
pub(crate) fn owner_of(state: u64) -> u32 {
    state as u32
}

/// A handle's hold on a series: its slot and the state it was given. While it exists, the
/// slot serves no other series.
pub struct SlotRef<C: 'static> {
    pub(crate) slot: &'static Slot<C>,
    pub(crate) state: u64,
}

/// The state of the no-op handle (no metric has the owner id `u32::MAX`).
const NOOP_STATE: u64 = u64::MAX;

/// The slot of the no-op handles of a pool, which no series is given.
const NOOP_SLOT: u32 = 0;

/// The index of the no-op handle.
const NOOP_INDEX: u32 = u32::MAX;

impl<C> SlotRef<C> {
    /// A hold on the series `state` names in `slot`, if it still lives there; `state` was
    /// read from the slot just before.
    ///
    /// The thread's parked hold on the slot, if it has one, has kept the slot from serving
    /// another series since before `state` was read: the series may have ended since (the
    /// handle then records nothing, as if the lookup came just before the removal), but no
    /// other has begun. Otherwise the count goes up before the state is checked again, so a
    /// slot freed and handed out meanwhile is seen.
    #[inline(always)]
    pub(crate) fn hold(slot: &'static Slot<C>, state: u64) -> Option<Self> {
        if parked::take(&slot.handles) {
            return Some(Self { slot, state });
        }
        Self::count(slot, state)
    }

    #[inline]
    fn count(slot: &'static Slot<C>, state: u64) -> Option<Self> {
        slot.handles.fetch_add(1, Ordering::SeqCst);
        if slot.state.load(Ordering::SeqCst) == state {
            Some(Self { slot, state })
        } else {
            parked::release(&slot.handles);
            None
        }
    }

    /// The slot's number in its pool.
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        if self.state == NOOP_STATE {
            NOOP_INDEX
        } else {
            self.slot.index()
        }
    }

    /// True while the series it was made for lives.
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.slot.holds(self.state)
    }
}

impl<C> Clone for SlotRef<C> {
    #[inline]
    fn clone(&self) -> Self {
        self.slot.handles.fetch_add(1, Ordering::Relaxed);
        Self { ..*self }
    }
}

impl<C> Drop for SlotRef<C> {
    #[inline]
    fn drop(&mut self) {
        parked::park(&self.slot.handles);
    }
}

/// The hold a thread last dropped, kept for its next lookup of the same series: a handle
/// looked up, updated and dropped again and again (`vec.with_label_values(..).inc()`) then
/// costs no atomic operation besides the update's. A parked hold is a hold like any other: the
/// slot it counts in is not reused until it is released, by the thread's next drop of
/// another series' handle or at the thread's exit.
///
/// The thread's cell has no destructor, so reaching it is one load (a thread-local with a
/// destructor is checked for being alive on every use). A second thread-local, made on the
/// thread's first park, releases the parked hold at the thread's exit.
mod parked {
    use std::cell::Cell;
    use std::ptr;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Marks of the cell besides a parked hold (null: nothing parked yet on this thread, its
    /// exit guard not made): nothing parked now, and the thread's exit guard gone. Neither is
    /// the address of a count (counts are aligned to four bytes).
    const EMPTY: *const AtomicU32 = ptr::without_provenance(1);
    const GONE: *const AtomicU32 = ptr::without_provenance(2);

    thread_local! {
        static PARKED: Cell<*const AtomicU32> = const { Cell::new(ptr::null()) };
        static EXIT: ExitGuard = const { ExitGuard };
    }

    /// Releases the thread's parked hold when the thread ends.
    struct ExitGuard;

    impl Drop for ExitGuard {
        fn drop(&mut self) {
            let parked = PARKED.with(|cell| cell.replace(GONE));
            if is_hold(parked) {
                // SAFETY: a hold's pointer is to a slot's count, which is never freed.
                #[allow(unsafe_code)]
                release(unsafe { &*parked });
            }
        }
    }

    fn is_hold(parked: *const AtomicU32) -> bool {
        !parked.is_null() && parked != EMPTY && parked != GONE
    }

    /// Takes the thread's parked hold if it counts in `handles`.
    #[inline(always)]
    pub(super) fn take(handles: &'static AtomicU32) -> bool {
        PARKED.with(|cell| {
            let mine = ptr::eq(cell.get(), handles);
            if mine {
                cell.set(EMPTY);
            }
            mine
        })
    }

    /// Parks a hold that counts in `handles`, releasing the one parked before.
    #[inline(always)]
    pub(super) fn park(handles: &'static AtomicU32) {
        let before = PARKED.with(|cell| cell.replace(handles));
        if before != EMPTY {
            park_slow(before, handles);
        }
    }

    /// A hold parked before, the thread's first park, or a park after the thread's exit guard
    /// is gone.
    #[cold]
    #[inline(never)]
    fn park_slow(before: *const AtomicU32, handles: &'static AtomicU32) {
        if is_hold(before) {
            // SAFETY: a hold's pointer is to a slot's count, which is never freed.
            #[allow(unsafe_code)]
            release(unsafe { &*before });
        } else if before.is_null() && EXIT.try_with(|_| ()).is_ok() {
            // The first park: the exit guard now exists and will release the hold.
        } else {
            // The thread is ending: nothing would release a parked hold.
            PARKED.with(|cell| cell.set(GONE));
            release(handles);
        }
    }

    /// Release: the updates made through a handle come before its slot's reuse.
    #[inline]
    pub(super) fn release(handles: &AtomicU32) {
        handles.fetch_sub(1, Ordering::Release);
    }
}

/// Every slot of one cell type (and, for histograms, one bucket layout).
pub struct Pool<C: Cell> {
    /// Its name among the pools of the process (in the multiprocess directory's files).
    name: &'static str,
    chunks: &'static [OnceLock<Chunk<C>>],
    config: C::Config,
    alloc: Mutex<Alloc>,
    /// Whether the catalog has the pool yet.
    cataloged: std::sync::atomic::AtomicBool,
}

struct Alloc {
    /// Slots handed out at least once.
    next: u32,
    /// Freed slots, oldest first.
    free: VecDeque<u32>,
}

impl<C: Cell> Pool<C> {
    /// A pool over `chunks` (each entry one chunk of slots, allocated on first use).
    pub(crate) const fn new(
        name: &'static str,
        chunks: &'static [OnceLock<Chunk<C>>],
        config: C::Config,
    ) -> Self {
        Self {
            name,
            chunks,
            config,
            alloc: Mutex::new(Alloc {
                next: NOOP_SLOT + 1,
                free: VecDeque::new(),
            }),
            cataloged: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A pool allocated for the life of the process, with room for `chunks` chunks.
    pub(crate) fn leak(name: String, chunks: usize, config: C::Config) -> &'static Self {
        let chunks: Vec<OnceLock<Chunk<C>>> = (0..chunks).map(|_| OnceLock::new()).collect();
        Box::leak(Box::new(Self::new(
            Box::leak(name.into_boxed_str()),
            Box::leak(chunks.into_boxed_slice()),
            config,
        )))
    }

    /// Its name among the pools of the process.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The slot at `index`, if the pool has one there.
    #[inline]
    pub(crate) fn slot(&self, index: u32) -> Option<&Slot<C>> {
        let chunk = self.chunks.get((index >> CHUNK_BITS) as usize)?.get()?;
        Some(&chunk[(index & CHUNK_MASK) as usize])
    }

    /// Chunk `number`: its slots, then the cells' extra words, in one piece of memory.
    #[allow(unsafe_code)]
    fn new_chunk(&self, number: usize) -> Chunk<C> {
        const { assert!(std::mem::align_of::<Slot<C>>() <= 8) };
        let extra = C::extra_words(&self.config);
        let slots_len = CHUNK_LEN * std::mem::size_of::<Slot<C>>();
        let len = slots_len + CHUNK_LEN * extra * 8;
        let (base, mapped) = mapped::chunk_memory(len, self.name, number as u32, reset_chunk::<C>);
        // SAFETY: `base` is zeroed memory of `len` bytes, aligned to 8, never freed; slots are
        // written in place before the chunk is seen, each with its own extra words.
        unsafe {
            let extras = base.add(slots_len).cast::<AtomicU64>();
            let slots = base.cast::<Slot<C>>();
            for i in 0..CHUNK_LEN {
                let words = std::slice::from_raw_parts(extras.add(i * extra), extra);
                slots.add(i).write(Slot::new(&self.config, words));
            }
            if mapped {
                if !self.cataloged.swap(true, Ordering::Relaxed) {
                    catalog::pool(
                        self.name,
                        C::CELL_TYPE,
                        std::mem::size_of::<Slot<C>>(),
                        extra,
                        C::bounds(&self.config),
                    );
                }
                catalog::chunk(self.name, number as u32);
            }
            &*base.cast::<[Slot<C>; CHUNK_LEN]>()
        }
    }

    /// A zeroed slot for a new series of `owner` with this fingerprint; `None` when the pool
    /// is full.
    pub(crate) fn alloc(&'static self, owner: u32, fingerprint: Fingerprint) -> Option<SlotRef<C>> {
        let _section = crate::fork::enter();
        let index = {
            let mut alloc = self.alloc.lock();
            match self.unheld_free_slot(&mut alloc) {
                Some(index) => index,
                None => {
                    let index = alloc.next;
                    if index >= crate::storage::index::MAX_SLOTS {
                        return None;
                    }
                    let number = (index >> CHUNK_BITS) as usize;
                    let chunk = self.chunks.get(number)?;
                    chunk.get_or_init(|| self.new_chunk(number));
                    alloc.next += 1;
                    index
                }
            }
        };
        let slot = self.slot(index)?;
        if slot.state.load(Ordering::Relaxed) != 0 && mapped::directory().is_some() {
            catalog::ended(self.name, index, 0);
        }
        slot.cell.reset();
        slot.fingerprint[0].store(fingerprint.words[0], Ordering::Release);
        slot.fingerprint[1].store(fingerprint.words[1], Ordering::Release);
        let generation = ((slot.state.load(Ordering::Relaxed) >> 32) as u32).wrapping_add(1) | 1;
        let state = u64::from(generation) << 32 | u64::from(owner);
        slot.handles.fetch_add(1, Ordering::Relaxed);
        slot.state.store(state, Ordering::Release);
        // The lengths byte last, after the state: a lookup that reads the old (ended) state
        // and then this byte is sure to see the new state when it checks again after taking
        // its hold (`SlotRef::hold`), and lets go; with the byte first, it could see the old
        // state twice and count into the new series.
        slot.key
            .store(index << 8 | u32::from(fingerprint.lens), Ordering::Release);
        Some(SlotRef { slot, state })
    }

    /// The oldest freed slot no handle points to, if one is at hand. Held slots go to the back
    /// of the queue; a few are looked at before the pool grows, all of them when it cannot.
    fn unheld_free_slot(&self, alloc: &mut Alloc) -> Option<u32> {
        const LOOK_AT: usize = 4;
        let capacity =
            (self.chunks.len() << CHUNK_BITS).min(crate::storage::index::MAX_SLOTS as usize);
        let full = alloc.next as usize >= capacity;
        let tries = if full {
            alloc.free.len()
        } else {
            alloc.free.len().min(LOOK_AT)
        };
        for _ in 0..tries {
            let index = alloc.free.pop_front()?;
            let held = self
                .slot(index)
                .is_some_and(|slot| slot.handles.load(Ordering::SeqCst) != 0);
            if !held {
                return Some(index);
            }
            alloc.free.push_back(index);
        }
        None
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
            .compare_exchange(state, freed, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // Lookups of its fingerprint stop finding it (see `Slot::live_state`).
        slot.key
            .store(index << 8 | u32::from(DEAD), Ordering::Release);
        if mapped::directory().is_some() {
            catalog::ended(self.name, index, state);
        }
        self.alloc.lock().free.push_back(index);
        true
    }

    /// A handle's view of a series that never lives: the slot no series is given, with a
    /// state no slot has. Every update through it is dropped; it holds its slot as any handle
    /// does, so that a handle's copy and drop need not ask which kind it is.
    pub(crate) fn noop(&'static self) -> SlotRef<C> {
        let _section = crate::fork::enter();
        let chunk = self.chunks[0].get_or_init(|| self.new_chunk(0));
        let slot = &chunk[NOOP_SLOT as usize];
        slot.handles.fetch_add(1, Ordering::Relaxed);
        SlotRef {
            slot,
            state: NOOP_STATE,
        }
    }

    /// Slots in use and slots allocated.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let _section = crate::fork::enter();
        let alloc = self.alloc.lock();
        let handed_out = (alloc.next - NOOP_SLOT - 1) as usize;
        (handed_out - alloc.free.len(), handed_out)
    }
}

/// Sets every cell of the chunk at `address` back to zero (for a forked child's copy).
///
/// # Safety
///
/// `address` must be a chunk of `Slot<C>`s.
#[allow(unsafe_code)]
unsafe fn reset_chunk<C: Cell>(address: usize) {
    // SAFETY: the caller's promise.
    let chunk = unsafe { &*(address as *const [Slot<C>; CHUNK_LEN]) };
    for slot in chunk {
        slot.cell.reset();
    }
}

/// Defines `Cell::pool` for a cell type without configuration: one static pool of
/// `2^chunk_bits` chunks, which costs no memory until its chunks are used.
macro_rules! static_pool {
    ($cell:ty, $name:literal, $chunks:expr) => {
        impl $cell {
            /// The process-wide pool of this cell type.
            #[inline]
            pub(crate) fn pool() -> &'static $crate::storage::pool::Pool<$cell> {
                static CHUNKS: [std::sync::OnceLock<$crate::storage::pool::Chunk<$cell>>; $chunks] =
                    [const { std::sync::OnceLock::new() }; $chunks];
                static POOL: $crate::storage::pool::Pool<$cell> =
                    $crate::storage::pool::Pool::new($name, &CHUNKS, ());
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
        const CELL_TYPE: CellType = CellType::U64Counter;
        fn new(_: &(), _: &'static [AtomicU64]) -> Self {
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
        Fingerprint {
            words: [n, !n],
            lens: 0,
        }
    }

    /// Drops handles on a thread that then ends, so no hold stays parked.
    fn release<T: Send + 'static>(handles: T) {
        std::thread::spawn(move || drop(handles)).join().unwrap();
    }

    #[test]
    fn reuses_freed_slots_oldest_first_and_invalidates_old_states() {
        let pool = Pool::<TestCell>::leak("test".into(), 4, ());
        let a = pool.alloc(7, fp(1)).unwrap();
        let b = pool.alloc(7, fp(2)).unwrap();
        a.slot.cell.0.store(5, Ordering::Relaxed);
        // The live bit: the low bit of the generation.
        assert!(a.slot.holds(a.state) && a.state & 1 << 32 != 0);
        assert!(pool.free(a.index(), a.state));
        assert!(!pool.free(a.index(), a.state), "a second free is refused");
        assert!(!a.slot.holds(a.state));
        assert!(pool.free(b.index(), b.state));
        let (a_index, a_state) = (a.index(), a.state);
        release((a, b));
        let c = pool.alloc(9, fp(3)).unwrap();
        assert_eq!(c.index(), a_index, "the oldest freed slot comes back first");
        assert_eq!(c.slot.cell.0.load(Ordering::Relaxed), 0, "reset on reuse");
        assert_ne!(c.state, a_state);
        assert_eq!(owner_of(c.state), 9);
        assert_eq!(c.slot.live_state(fp(3)), Some(c.state));
        assert_eq!(c.slot.live_state(fp(1)), None, "another fingerprint");
        assert_eq!(pool.usage(), (1, 2));
        assert!(pool.free(c.index(), c.state));
        assert_eq!(c.slot.live_state(fp(3)), None, "a freed slot");
    }

    #[test]
    fn a_freed_slot_is_not_handed_out_while_a_handle_points_to_it() {
        let pool = Pool::<TestCell>::leak("test".into(), 4, ());
        let held = pool.alloc(7, fp(1)).unwrap();
        let clone = held.clone();
        assert!(pool.free(held.index(), held.state));
        release(held);
        let other = pool.alloc(7, fp(2)).unwrap();
        assert_ne!(
            other.index(),
            clone.index(),
            "a clone still points to the freed slot"
        );
        assert!(!clone.is_live());
        let lookup = SlotRef::hold(clone.slot, clone.state);
        assert!(lookup.is_none(), "no new hold on a removed series");
        let index = clone.index();
        release(clone);
        let again = pool.alloc(7, fp(3)).unwrap();
        assert_eq!(again.index(), index, "handed out once unheld");
        assert_eq!(pool.slot(index).unwrap().handles.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_pool_looks_at_every_freed_slot() {
        let pool = Pool::<TestCell>::leak("test".into(), 1, ());
        // One slot of the chunk is the no-op handles'.
        let mut all: Vec<_> = (1..CHUNK_LEN as u64)
            .map(|n| pool.alloc(1, fp(n)).unwrap())
            .collect();
        for series in &all {
            assert!(pool.free(series.index(), series.state));
        }
        let last = all.pop().unwrap();
        let index = last.index();
        release(last);
        assert_eq!(
            pool.alloc(1, fp(0)).unwrap().index(),
            index,
            "the one unheld slot"
        );
        assert!(pool.alloc(1, fp(0)).is_none(), "every other slot is held");
    }

    #[test]
    fn no_op_handles_have_a_slot_no_series_gets() {
        let pool = Pool::<TestCell>::leak("test".into(), 1, ());
        let noop = pool.noop();
        let series = pool.alloc(1, fp(1)).unwrap();
        assert!(std::ptr::eq(noop.slot, pool.slot(NOOP_SLOT).unwrap()));
        assert!(!std::ptr::eq(noop.slot, series.slot));
        assert_eq!((noop.index(), series.index()), (NOOP_INDEX, 1));
        assert!(!noop.is_live() && !noop.clone().is_live());
        assert_eq!(pool.usage(), (1, 1));
    }

    #[test]
    fn a_dropped_hold_is_parked_for_the_next_lookup_of_its_series() {
        let pool = Pool::<TestCell>::leak("test".into(), 1, ());
        let (a, b) = (pool.alloc(1, fp(1)).unwrap(), pool.alloc(1, fp(2)).unwrap());
        let handles = |r: &SlotRef<TestCell>| r.slot.handles.load(Ordering::Relaxed);
        let (a_again, b_again) = (a.clone(), b.clone());
        drop(a);
        assert_eq!(handles(&a_again), 2, "parked, still counted");
        let looked_up = SlotRef::hold(a_again.slot, a_again.state).unwrap();
        assert_eq!(handles(&a_again), 2, "taken back without a count");
        drop(looked_up);
        drop(b);
        assert_eq!(handles(&a_again), 1, "released when another is parked");
        assert_eq!(handles(&b_again), 2);
        release((a_again, b_again));
        std::thread::spawn(move || {
            let parked_here = pool.alloc(1, fp(3)).unwrap();
            let slot = parked_here.slot;
            drop(parked_here);
            assert_eq!(slot.handles.load(Ordering::Relaxed), 1);
        })
        .join()
        .unwrap();
        assert!(
            pool.slot(3)
                .is_some_and(|s| s.handles.load(Ordering::Relaxed) == 0),
            "released at the thread's exit"
        );
    }

    #[test]
    fn grows_chunk_by_chunk_and_stops_when_full() {
        let pool = Pool::<TestCell>::leak("test".into(), 2, ());
        let mut all: Vec<_> = (1..2 * CHUNK_LEN as u64)
            .map(|n| pool.alloc(1, fp(n)).unwrap())
            .collect();
        assert_eq!(all.last().unwrap().index() as usize, 2 * CHUNK_LEN - 1);
        assert!(pool.alloc(1, fp(0)).is_none(), "no room for a third chunk");
        let third = all.swap_remove(2);
        assert_eq!(third.index(), 3);
        assert!(pool.free(third.index(), third.state));
        release(third);
        assert_eq!(pool.alloc(1, fp(0)).unwrap().index(), 3);
    }
}
