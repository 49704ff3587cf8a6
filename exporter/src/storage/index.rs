//! The lock-free index of a vec: from the hash of label values to the slot of the series.
//!
//! An open-addressing table of 64-bit atomic words, each `entry << 16 | tag`, where the entry
//! is what the vec keeps for a series (the address of its slot, below 2^48) and the tag is the
//! top 15 bits of the hash (one wrong entry in 32,768 is looked at). A lookup reads words until
//! an empty one, and trusts nothing it reads but the entry: the slot's own state and
//! fingerprint confirm the series. Writers hold the vec's lock. A removed entry becomes a
//! tombstone, whose tag no hash has; when tombstones pile up the table is rebuilt in place,
//! and a lookup racing the rebuild may miss and take the writer's path, which finds the series
//! under the lock. A full table moves to one twice the size; smaller tables stay allocated (a
//! reader may still be probing one), at most as much again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

const EMPTY: u64 = 0;
const TOMBSTONE: u64 = u64::MAX;
const TAG_BITS: u32 = 16;
const ENTRY_MASK: u64 = (1 << (64 - TAG_BITS)) - 1;

/// The most slots a pool may have, so that a slot number fits in the 24 bits a slot keeps it
/// in.
pub(crate) const MAX_SLOTS: u32 = (1 << 24) - 2;
const FIRST_LEN: usize = 8;
const LEVELS: usize = 32;

pub(crate) struct Index {
    /// The tables, each with its mask (its length less one) in a word before its entries.
    levels: [OnceLock<Box<[AtomicU64]>>; LEVELS],
    /// The level of the current table, for writers.
    current: AtomicUsize,
    /// The mask word of the current table, for lookups: one load finds the table and its
    /// length together.
    head: AtomicPtr<AtomicU64>,
}

/// What the writers of an index count, kept under the vec's lock.
#[derive(Default)]
pub(crate) struct IndexCounts {
    live: usize,
    tombstones: usize,
}

/// The top 15 bits of a hash: a tombstone's tag (all 16 bits set) is none of them.
#[inline]
fn tag(hash: u64) -> u16 {
    (hash >> (64 - TAG_BITS + 1)) as u16
}

/// The index word of `entry` under `hash`.
#[inline]
fn word(hash: u64, entry: u64) -> u64 {
    entry << TAG_BITS | u64::from(tag(hash))
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
    fn table(&self) -> &[AtomicU64] {
        let head = self.head.load(Ordering::Acquire);
        // SAFETY: `head` points at the mask word of a table of `levels` (its box's memory,
        // which a move of the box leaves in place), freed only with the index; the entries,
        // mask + 1 of them, follow it.
        unsafe {
            let mask = (*head).load(Ordering::Relaxed) as usize;
            std::slice::from_raw_parts(head.add(1), mask + 1)
        }
    }

    /// The first entry with this hash for which `confirm` answers.
    ///
    /// The probe ends at an empty word: writers keep at least a quarter of the words empty,
    /// a rebuild in place only empties words, and a new table is full before it is read.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn find<R>(&self, hash: u64, confirm: impl Fn(u64) -> Option<R>) -> Option<R> {
        let head = self.head.load(Ordering::Acquire);
        // SAFETY: as in `table`: `head` points at the mask word of a table that lives as long
        // as the index, followed by mask + 1 entries, and `at` is at most the mask.
        let mask = unsafe { (*head).load(Ordering::Relaxed) } as usize;
        let mut at = hash as usize & mask;
        loop {
            let word = unsafe { (*head.add(1 + at)).load(Ordering::Acquire) };
            if word == EMPTY {
                return None;
            }
            if word as u16 == tag(hash) {
                if let Some(found) = confirm(word >> TAG_BITS) {
                    return Some(found);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds `entry` (not zero, below 2^48) under `hash`. `hash_of` gives the hash of any
    /// entry, to move entries when the table is rebuilt.
    pub(crate) fn insert(
        &self,
        counts: &mut IndexCounts,
        hash: u64,
        entry: u64,
        hash_of: impl Fn(u64) -> u64,
    ) {
        assert!(
            entry != EMPTY && entry <= ENTRY_MASK,
            "an index entry is not zero and fits in 48 bits"
        );
        let len = self.table().len();
        if (counts.live + counts.tombstones + 1) * 4 > len * 3 {
            let grow = (counts.live + 1) * 2 > len;
            self.rebuild(counts, grow, &hash_of);
        }
        place(self.table(), hash, entry);
        counts.live += 1;
    }

    /// Turns `entry` (placed under `hash`) into a tombstone. Returns false when there is none.
    pub(crate) fn remove(&self, counts: &mut IndexCounts, hash: u64, entry: u64) -> bool {
        let table = self.table();
        let mask = table.len() - 1;
        let mut at = hash as usize & mask;
        let entry = word(hash, entry);
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

    /// Every entry in the index.
    pub(crate) fn entries(&self) -> Vec<u64> {
        self.table()
            .iter()
            .map(|w| w.load(Ordering::Acquire))
            .filter(|w| *w != EMPTY && *w != TOMBSTONE)
            .map(|w| w >> TAG_BITS)
            .collect()
    }

    /// Moves every entry into a table without tombstones: twice the size when `grow`, else
    /// the same table rebuilt in place.
    fn rebuild(&self, counts: &mut IndexCounts, grow: bool, hash_of: &impl Fn(u64) -> u64) {
        let live = self.entries();
        let level = self.current.load(Ordering::Acquire);
        if grow && level + 1 < LEVELS {
            let bigger = empty(self.table().len() * 2);
            for entry in &live {
                place(&bigger[1..], hash_of(*entry), *entry);
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
            for entry in &live {
                place(table, hash_of(*entry), *entry);
            }
        }
        counts.live = live.len();
        counts.tombstones = 0;
    }
}

/// A table of `len` empty entries (a power of two), after its mask word.
fn empty(len: usize) -> Box<[AtomicU64]> {
    std::iter::once(AtomicU64::new(len as u64 - 1))
        .chain((0..len).map(|_| AtomicU64::new(EMPTY)))
        .collect()
}

/// Writes `entry` into the first free word from `hash` on.
fn place(table: &[AtomicU64], hash: u64, entry: u64) {
    let mask = table.len() - 1;
    let mut at = hash as usize & mask;
    loop {
        let current = table[at].load(Ordering::Acquire);
        if current == EMPTY || current == TOMBSTONE {
            table[at].store(word(hash, entry), Ordering::Release);
            return;
        }
        at = (at + 1) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes that collide in small tables and share tags, to exercise probing.
    fn hash(entry: u64) -> u64 {
        ((entry % 5) << 56) | (entry % 3)
    }

    fn find(index: &Index, entry: u64) -> Option<u64> {
        index.find(hash(entry), |e| (e == entry).then_some(e))
    }

    #[test]
    fn finds_inserted_slots_across_growth_and_removal() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        for slot in 1..=1000 {
            index.insert(&mut counts, hash(slot), slot, hash);
        }
        assert!((1..=1000).all(|s| find(&index, s) == Some(s)));
        assert_eq!(find(&index, 5000), None);
        for slot in (1..=1000).step_by(2) {
            assert!(index.remove(&mut counts, hash(slot), slot));
        }
        assert!(!index.remove(&mut counts, hash(1), 1), "removed twice");
        assert!((1..=1000).all(|s| (find(&index, s) == Some(s)) == (s % 2 == 0)));
        assert_eq!(counts.live, 500);
    }

    #[test]
    fn churn_reuses_the_table_instead_of_growing() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        for round in 0..50u64 {
            for n in 0..100 {
                let slot = round * 100 + n + 1;
                index.insert(&mut counts, hash(slot), slot, hash);
            }
            for n in 0..100 {
                let slot = round * 100 + n + 1;
                assert!(index.remove(&mut counts, hash(slot), slot));
            }
        }
        assert!(
            index.table().len() <= 256,
            "grew to {}",
            index.table().len()
        );
        assert!(index.entries().is_empty());
    }

    #[test]
    fn a_lookup_with_tag_zero_stops_at_an_empty_word() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        index.insert(&mut counts, 7, 1, |_| 7);
        assert_eq!(index.find(5, |_| None::<u64>), None);
        assert_eq!(index.find(7, Some), Some(1));
    }

    #[test]
    fn a_tombstone_is_never_confirmed() {
        let index = Index::new();
        let mut counts = IndexCounts::default();
        index.insert(&mut counts, u64::MAX, 1, |_| u64::MAX);
        assert!(index.remove(&mut counts, u64::MAX, 1));
        let confirm = |e: u64| -> Option<u64> { panic!("{e:#x} confirmed") };
        assert_eq!(index.find(u64::MAX, confirm), None);
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
