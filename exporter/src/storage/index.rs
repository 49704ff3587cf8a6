//! The lock-free index of a vec: from the fingerprint of label values to the pool slot of the
//! series.
//!
//! An open-addressing table of 32-bit atomic words, each `tag << 24 | (slot + 1)`, where the
//! tag is the top byte of the fingerprint's low word (one wrong slot in 256 is looked at). Slot
//! numbers fit in 24 bits: a pool holds at most [`MAX_SLOTS`] series. A lookup reads words
//! until an empty one, and
//! trusts nothing it reads: the slot's own state and fingerprint confirm the series. Writers
//! hold the vec's lock. A removed entry becomes a tombstone; when tombstones pile up the table
//! is rebuilt in place, and a lookup racing the rebuild may miss and take the writer's path,
//! which finds the series under the lock. A full table moves to one twice the size; smaller
//! tables stay allocated (a reader may still be probing one), at most as much again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

const EMPTY: u32 = 0;
const TOMBSTONE: u32 = u32::MAX;
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;

/// The most slots a pool may have, so that a slot number fits in an index word (the last
/// number is the tombstone's).
pub(crate) const MAX_SLOTS: u32 = SLOT_MASK - 1;
const FIRST_LEN: usize = 8;
const LEVELS: usize = 32;

pub(crate) struct Index {
    /// The tables, each with its mask (its length less one) in a word before its entries.
    levels: [OnceLock<Box<[AtomicU32]>>; LEVELS],
    /// The level of the current table, for writers.
    current: AtomicUsize,
    /// The mask word of the current table, for lookups: one load finds the table and its
    /// length together.
    head: AtomicPtr<AtomicU32>,
}

/// What the writers of an index count, kept under the vec's lock.
#[derive(Default)]
pub(crate) struct IndexCounts {
    live: usize,
    tombstones: usize,
}

#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 56) as u32
}

/// The index word of `slot` under `hash`.
#[inline]
fn word(hash: u64, slot: u32) -> u32 {
    tag(hash) << SLOT_BITS | (slot.wrapping_add(1) & SLOT_MASK)
}

impl Index {
    pub(crate) fn new() -> Self {
        let first = empty(FIRST_LEN);
        let head = AtomicPtr::new(first.as_ptr().cast_mut());
        let levels = std::array::from_fn(|_| OnceLock::new());
        let index = Self {
            levels,
            current: AtomicUsize::new(0),
            head,
        };
        let _ = index.levels[0].set(first);
        index
    }

    /// The entries of the current table.
    #[inline]
    #[allow(unsafe_code)]
    fn table(&self) -> &[AtomicU32] {
        let head = self.head.load(Ordering::Acquire);
        // SAFETY: `head` points at the mask word of a table of `levels` (its box's memory,
        // which a move of the box leaves in place), freed only with the index; the entries,
        // mask + 1 of them, follow it.
        unsafe {
            let mask = (*head).load(Ordering::Relaxed) as usize;
            std::slice::from_raw_parts(head.add(1), mask + 1)
        }
    }

    /// The first entry with this hash for which `confirm` (given the slot index) answers.
    ///
    /// The probe ends at an empty word: writers keep at least a quarter of the words empty,
    /// a rebuild in place only empties words, and a new table is full before it is read.
    #[inline]
    pub(crate) fn find<R>(&self, hash: u64, confirm: impl Fn(u32) -> Option<R>) -> Option<R> {
        let table = self.table();
        let mask = table.len().wrapping_sub(1);
        let mut at = hash as usize & mask;
        loop {
            let word = table.get(at)?.load(Ordering::Acquire);
            if word == EMPTY {
                return None;
            }
            // A tombstone whose tag matches is confirmed like an entry, and fails: it names
            // no slot any pool hands out, and `confirm` checks the series itself anyway.
            if word >> SLOT_BITS == tag(hash) {
                if let Some(found) = confirm((word & SLOT_MASK).wrapping_sub(1)) {
                    return Some(found);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds slot `slot` under `hash`. `hash_of` gives the hash of any slot, to move entries
    /// when the table is rebuilt.
    pub(crate) fn insert(
        &self,
        counts: &mut IndexCounts,
        hash: u64,
        slot: u32,
        hash_of: impl Fn(u32) -> u64,
    ) {
        let len = self.table().len();
        if (counts.live + counts.tombstones + 1) * 4 > len * 3 {
            let grow = (counts.live + 1) * 2 > len;
            self.rebuild(counts, grow, &hash_of);
        }
        place(self.table(), hash, slot);
        counts.live += 1;
    }

    /// Turns the entry of slot `slot` (placed under `hash`) into a tombstone. Returns false
    /// when there is none.
    pub(crate) fn remove(&self, counts: &mut IndexCounts, hash: u64, slot: u32) -> bool {
        let table = self.table();
        let mask = table.len() - 1;
        let mut at = hash as usize & mask;
        let entry = word(hash, slot);
        for _ in 0..table.len() {
            match table[at].load(Ordering::Acquire) {
                EMPTY => return false,
                w if w == entry => {
                    table[at].store(TOMBSTONE, Ordering::Release);
                    counts.live -= 1;
                    counts.tombstones += 1;
                    return true;
                }
                _ => at = (at + 1) & mask,
            }
        }
        false
    }

    /// Empties the index.
    pub(crate) fn clear(&self, counts: &mut IndexCounts) {
        for word in self.table() {
            word.store(EMPTY, Ordering::Release);
        }
        *counts = IndexCounts::default();
    }

    /// Every slot in the index.
    pub(crate) fn slots(&self) -> Vec<u32> {
        self.table()
            .iter()
            .map(|w| w.load(Ordering::Acquire))
            .filter(|w| *w != EMPTY && *w != TOMBSTONE)
            .map(|w| (w & SLOT_MASK).wrapping_sub(1))
            .collect()
    }

    /// Moves every entry into a table without tombstones: twice the size when `grow`, else
    /// the same table rebuilt in place.
    fn rebuild(&self, counts: &mut IndexCounts, grow: bool, hash_of: &impl Fn(u32) -> u64) {
        let live = self.slots();
        let level = self.current.load(Ordering::Acquire);
        if grow && level + 1 < LEVELS {
            let bigger = empty(self.table().len() * 2);
            for slot in &live {
                place(&bigger[1..], hash_of(*slot), *slot);
            }
            let head = bigger.as_ptr().cast_mut();
            if self.levels[level + 1].set(bigger).is_ok() {
                self.current.store(level + 1, Ordering::Release);
                self.head.store(head, Ordering::Release);
            }
        } else {
            let table = self.table();
            for word in table {
                word.store(EMPTY, Ordering::Release);
            }
            for slot in &live {
                place(table, hash_of(*slot), *slot);
            }
        }
        counts.live = live.len();
        counts.tombstones = 0;
    }
}

/// A table of `len` empty entries (a power of two), after its mask word.
fn empty(len: usize) -> Box<[AtomicU32]> {
    let mask = u32::try_from(len - 1).expect("an index table has fewer than 2^32 entries");
    std::iter::once(AtomicU32::new(mask))
        .chain((0..len).map(|_| AtomicU32::new(EMPTY)))
        .collect()
}

/// Writes the entry of `slot` into the first free word from `hash` on.
fn place(table: &[AtomicU32], hash: u64, slot: u32) {
    let mask = table.len() - 1;
    let mut at = hash as usize & mask;
    loop {
        let current = table[at].load(Ordering::Acquire);
        if current == EMPTY || current == TOMBSTONE {
            table[at].store(word(hash, slot), Ordering::Release);
            return;
        }
        at = (at + 1) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes that collide in small tables and share tags, to exercise probing.
    fn hash(slot: u32) -> u64 {
        u64::from(slot % 5) << 56 | u64::from(slot % 3)
    }

    fn find(index: &Index, slot: u32) -> Option<u32> {
        index.find(hash(slot), |s| (s == slot).then_some(s))
    }

    #[test]
    fn finds_inserted_slots_across_growth_and_removal() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        for slot in 0..1000 {
            index.insert(&mut counts, hash(slot), slot, hash);
        }
        assert!((0..1000).all(|s| find(&index, s) == Some(s)));
        assert_eq!(find(&index, 5000), None);
        for slot in (0..1000).step_by(2) {
            assert!(index.remove(&mut counts, hash(slot), slot));
        }
        assert!(!index.remove(&mut counts, hash(0), 0), "removed twice");
        assert!((0..1000).all(|s| (find(&index, s) == Some(s)) == (s % 2 == 1)));
        assert_eq!(counts.live, 500);
    }

    #[test]
    fn churn_reuses_the_table_instead_of_growing() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        for round in 0..50u32 {
            for n in 0..100 {
                let slot = round * 100 + n;
                index.insert(&mut counts, hash(slot), slot, hash);
            }
            for n in 0..100 {
                let slot = round * 100 + n;
                assert!(index.remove(&mut counts, hash(slot), slot));
            }
        }
        assert!(
            index.table().len() <= 256,
            "grew to {}",
            index.table().len()
        );
        assert!(index.slots().is_empty());
    }

    #[test]
    fn a_lookup_with_tag_zero_stops_at_an_empty_word() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        index.insert(&mut counts, 7, 1, |_| 7);
        assert_eq!(index.find(5, |_| None::<u32>), None);
        assert_eq!(index.find(7, Some), Some(1));
    }

    #[test]
    fn clear_empties_it() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        index.insert(&mut counts, hash(1), 1, hash);
        index.clear(&mut counts);
        assert_eq!(find(&index, 1), None);
        index.insert(&mut counts, hash(1), 1, hash);
        assert_eq!(find(&index, 1), Some(1));
    }
}
