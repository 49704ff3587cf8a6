//! An append-only hash table whose lookups take no lock and write nothing.
//!
//! Entries are never removed. Each slot is a `OnceLock`, so a reader sees a slot either empty
//! or fully written; writers take a mutex. When the table fills, a table twice the size is
//! built beside it and published; older tables stay alive (readers may still be probing them),
//! which costs at most as many slots again as the current table has.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Enough levels for more entries than memory can hold.
const LEVELS: usize = 48;
const FIRST_CAPACITY: usize = 8;

type Slots<T> = Box<[OnceLock<T>]>;

pub(crate) struct Table<T> {
    levels: [OnceLock<Slots<T>>; LEVELS],
    /// The level lookups use; every entry is in it.
    current: AtomicUsize,
    /// Entries in the current level; held while inserting.
    len: Mutex<usize>,
}

impl<T: Clone> Table<T> {
    pub(crate) fn new() -> Self {
        let levels: [OnceLock<Slots<T>>; LEVELS] = std::array::from_fn(|_| OnceLock::new());
        let _ = levels[0].set(empty_slots(FIRST_CAPACITY));
        Self {
            levels,
            current: AtomicUsize::new(0),
            len: Mutex::new(0),
        }
    }

    fn current_slots(&self) -> &[OnceLock<T>] {
        let level = self.current.load(Ordering::Acquire);
        self.levels[level].get().map_or(&[], |slots| slots)
    }

    /// The entry with this hash for which `eq` holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, eq: impl Fn(&T) -> bool) -> Option<&T> {
        let slots = self.current_slots();
        let mask = slots.len().wrapping_sub(1);
        let mut i = hash as usize & mask;
        for _ in 0..slots.len() {
            match slots[i].get() {
                None => return None,
                Some(entry) if eq(entry) => return Some(entry),
                Some(_) => i = (i + 1) & mask,
            }
        }
        None
    }

    /// The entry for which `eq` holds, inserted from `make` if there is none. `hash_of`
    /// gives the hash of an entry, to move entries when the table grows.
    pub(crate) fn find_or_insert(
        &self,
        hash: u64,
        eq: impl Fn(&T) -> bool,
        make: impl FnOnce() -> T,
        hash_of: impl Fn(&T) -> u64,
    ) -> &T {
        // fork gate: the lock below must not be held by another thread when a process forks.
        let _section = crate::fork::enter();
        let mut len = self.len.lock();
        if let Some(found) = self.find(hash, &eq) {
            return found;
        }
        let mut level = self.current.load(Ordering::Acquire);
        let mut slots = self.current_slots();
        if (*len + 1) * 4 > slots.len() * 3 && level + 1 < LEVELS {
            let bigger = empty_slots(slots.len() * 2);
            for entry in slots.iter().filter_map(OnceLock::get) {
                place(&bigger, hash_of(entry), entry.clone());
            }
            level += 1;
            let _ = self.levels[level].set(bigger);
            self.current.store(level, Ordering::Release);
            slots = self.current_slots();
        }
        *len += 1;
        place(slots, hash, make())
    }
}

fn empty_slots<T>(capacity: usize) -> Slots<T> {
    (0..capacity).map(|_| OnceLock::new()).collect()
}

/// Puts `value` in the first free slot from its hash on, and returns it.
fn place<T>(slots: &[OnceLock<T>], hash: u64, value: T) -> &T {
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    let mut value = Some(value);
    loop {
        if slots[i].get().is_none() {
            if let Some(v) = value.take() {
                let _ = slots[i].set(v);
            }
            if let Some(placed) = slots[i].get() {
                return placed;
            }
        }
        i = (i + 1) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_inserted_entry_across_growth() {
        let table = Table::new();
        // Hashes that collide in small tables.
        for n in 0..1000u64 {
            let inserted = *table.find_or_insert(n % 7, |v: &u64| *v == n, || n, |v| v % 7);
            assert_eq!(inserted, n);
        }
        for n in 0..1000u64 {
            assert_eq!(table.find(n % 7, |v| *v == n), Some(&n));
        }
        assert_eq!(table.find(3, |v| *v == 5000), None);
        assert_eq!(*table.find_or_insert(0, |v| *v == 7, || 99, |v| v % 7), 7);
    }

    #[test]
    fn concurrent_inserts_and_finds_agree() {
        let table = Table::new();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let table = &table;
                s.spawn(move || {
                    for n in 0..2000u64 {
                        let key = n * 4 + t;
                        let hash = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        assert_eq!(
                            *table.find_or_insert(
                                hash,
                                |v: &u64| *v == key,
                                || key,
                                |v| v.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            ),
                            key
                        );
                        assert_eq!(table.find(hash, |v| *v == key), Some(&key));
                    }
                });
            }
        });
        assert_eq!(*table.len.lock(), 8000);
    }
}
