//! The series of one group (a vec, or the scalars of a family that share a pool), kept in
//! label order for rendering without holding up writers.
//!
//! Series are kept as entries in sorted, immutable runs shared through `Arc`s, plus a small
//! unsorted head for the newest. A scrape takes a snapshot (the head sorted into a run, and
//! the list of runs) under the group's lock in bounded time, then renders from it without any
//! lock while writers go on. Removal only ends the series in its slot; entries of ended series
//! are dropped when runs are merged, outside the lock: after a scrape, by the scraping thread
//! (runs of similar size, so there are few of them), and by a removing thread once ended
//! series make up half the entries. Creating a series never merges.

use std::cmp::Ordering;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use crate::storage::labels::cmp_keys;

/// Entries the head holds before it is sorted into a run.
const HEAD_LIMIT: usize = 512;

/// One series: its slot, the generation of the slot it lives in, and where its key is.
///
/// A slot's generation changes each time it is handed out or freed, so it alone tells
/// whether the series still lives there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) generation: u32,
    pub(crate) slot: u32,
    key_at: u32,
    key_len: u32,
}

/// Entries sorted by key, with their keys.
#[derive(Debug, Default)]
pub(crate) struct Run {
    entries: Box<[Entry]>,
    keys: Box<str>,
}

impl Run {
    pub(crate) fn key(&self, entry: &Entry) -> &str {
        let at = entry.key_at as usize;
        &self.keys[at..at + entry.key_len as usize]
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// A run of `entries` whose keys are in `keys`, sorted here.
    fn sorted(mut entries: Vec<Entry>, keys: String) -> Self {
        entries.sort_by(|a, b| cmp_keys(key_in(&keys, a), key_in(&keys, b)));
        Self {
            entries: entries.into(),
            keys: keys.into(),
        }
    }
}

fn key_in<'a>(keys: &'a str, entry: &Entry) -> &'a str {
    let at = entry.key_at as usize;
    &keys[at..at + entry.key_len as usize]
}

/// The series of a group, under the group's lock.
#[derive(Debug, Default)]
pub(crate) struct Members {
    runs: Vec<Arc<Run>>,
    head: Vec<Entry>,
    head_keys: String,
    /// Series live, and entries of ended series not yet dropped.
    live: usize,
    ended: usize,
    /// A writer is merging runs outside the lock.
    merging: Arc<AtomicBool>,
}

/// Runs to merge outside the lock, then to install with [`Members::install`].
pub(crate) struct Merge {
    runs: Vec<Arc<Run>>,
    merging: Arc<AtomicBool>,
}

impl Members {
    /// Series live.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Adds a series; when the head is full it becomes a run.
    pub(crate) fn push(&mut self, slot: u32, state: u64, key: &str) {
        let entry = Entry {
            generation: (state >> 32) as u32,
            slot,
            key_at: self.head_keys.len() as u32,
            key_len: key.len() as u32,
        };
        self.head_keys.push_str(key);
        self.head.push(entry);
        self.live += 1;
        if self.head.len() >= HEAD_LIMIT {
            self.freeze();
        }
    }

    /// Counts a series ended; returns the runs to merge when ended entries make up half.
    pub(crate) fn ended(&mut self) -> Option<Merge> {
        self.live = self.live.saturating_sub(1);
        self.ended += 1;
        if self.ended <= self.live.max(HEAD_LIMIT) {
            return None;
        }
        self.freeze();
        self.claim(self.runs.clone())
    }

    /// Every series, sorted into runs: the head becomes a run.
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        self.freeze();
        Snapshot {
            runs: self.runs.clone(),
        }
    }

    /// Forgets every series.
    pub(crate) fn clear(&mut self) {
        self.runs.clear();
        self.head.clear();
        self.head_keys.clear();
        self.live = 0;
        self.ended = 0;
    }

    /// Replaces the runs `merge` was made of by `merged`, if they are all still here, in a
    /// row. `dropped` ended entries were left out.
    pub(crate) fn install(&mut self, merge: Merge, merged: Run, dropped: usize) {
        let Merge { runs, merging } = merge;
        merging.store(false, AtomicOrdering::Release);
        let Some(first) = runs.first() else {
            return;
        };
        let Some(at) = self.runs.iter().position(|r| Arc::ptr_eq(r, first)) else {
            return;
        };
        let in_place = self.runs.len() >= at + runs.len()
            && self.runs[at..at + runs.len()]
                .iter()
                .zip(&runs)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if in_place {
            self.runs
                .splice(at..at + runs.len(), std::iter::once(Arc::new(merged)));
            self.ended = self.ended.saturating_sub(dropped);
        }
    }

    fn freeze(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.head);
        let keys = std::mem::take(&mut self.head_keys);
        self.runs.push(Arc::new(Run::sorted(entries, keys)));
    }

    /// The trailing runs of similar size, if there are two or more: what a scrape merges
    /// once it has rendered.
    pub(crate) fn plan(&mut self) -> Option<Merge> {
        let n = self.runs.len();
        if n < 2 {
            return None;
        }
        let mut take = 1;
        let mut size = self.runs[n - 1].len();
        while take < n && self.runs[n - take - 1].len() <= 2 * size {
            size += self.runs[n - take - 1].len();
            take += 1;
        }
        (take > 1).then(|| self.claim(self.runs[n - take..].to_vec()))?
    }

    /// Claims the right to merge `runs`, unless another writer is merging.
    fn claim(&self, runs: Vec<Arc<Run>>) -> Option<Merge> {
        if runs.is_empty() || self.merging.swap(true, AtomicOrdering::AcqRel) {
            return None;
        }
        Some(Merge {
            runs,
            merging: Arc::clone(&self.merging),
        })
    }
}

impl Merge {
    /// One run of the entries `keep` accepts, and how many it left out.
    pub(crate) fn merge(&self, keep: impl Fn(&Entry) -> bool) -> (Run, usize) {
        let total: usize = self.runs.iter().map(|r| r.len()).sum();
        let mut entries = Vec::with_capacity(total);
        let mut keys = String::new();
        let mut dropped = 0;
        for (run, entry) in Merged::new(&self.runs) {
            if !keep(entry) {
                dropped += 1;
                continue;
            }
            let key = run.key(entry);
            entries.push(Entry {
                key_at: keys.len() as u32,
                ..*entry
            });
            keys.push_str(key);
        }
        let run = Run {
            entries: entries.into(),
            keys: keys.into(),
        };
        (run, dropped)
    }
}

/// Every series of a group at one moment, in runs.
#[derive(Debug, Default, Clone)]
pub(crate) struct Snapshot {
    runs: Vec<Arc<Run>>,
}

impl Snapshot {
    /// Every entry in key order, with its run (for its key).
    pub(crate) fn iter(&self) -> Merged<'_> {
        Merged::new(&self.runs)
    }
}

/// The entries of sorted runs in key order.
pub(crate) struct Merged<'a> {
    /// For each run with entries left, its next position; kept as a heap by key.
    heap: Vec<(&'a Run, usize)>,
    /// The only run, when there is one: read in order, no heap needed.
    single: Option<(&'a Run, std::slice::Iter<'a, Entry>)>,
}

impl<'a> Merged<'a> {
    fn new(runs: &'a [Arc<Run>]) -> Self {
        let runs: Vec<&'a Run> = runs.iter().map(|r| &**r).filter(|r| r.len() > 0).collect();
        if let [run] = runs[..] {
            return Self {
                heap: Vec::new(),
                single: Some((run, run.entries.iter())),
            };
        }
        let mut merged = Self {
            heap: runs.into_iter().map(|r| (r, 0)).collect(),
            single: None,
        };
        for i in (0..merged.heap.len() / 2).rev() {
            merged.sift_down(i);
        }
        merged
    }

    fn key(&self, i: usize) -> &'a str {
        let (run, at) = self.heap[i];
        run.key(&run.entries[at])
    }

    fn less(&self, a: usize, b: usize) -> bool {
        cmp_keys(self.key(a), self.key(b)) == Ordering::Less
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < self.heap.len() && self.less(l, min) {
                min = l;
            }
            if r < self.heap.len() && self.less(r, min) {
                min = r;
            }
            if min == i {
                return;
            }
            self.heap.swap(i, min);
            i = min;
        }
    }
}

impl<'a> Iterator for Merged<'a> {
    type Item = (&'a Run, &'a Entry);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((run, entries)) = &mut self.single {
            return entries.next().map(|entry| (*run, entry));
        }
        let (run, at) = *self.heap.first()?;
        let item = (run, &run.entries[at]);
        if at + 1 < run.len() {
            self.heap[0].1 = at + 1;
        } else {
            self.heap.swap_remove(0);
        }
        if self.heap.len() > 1 {
            self.sift_down(0);
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::labels::pairs_key;

    fn key(n: u32) -> String {
        pairs_key([("n", format!("{n:05}").as_str())])
    }

    fn keys(snapshot: &Snapshot) -> Vec<u32> {
        snapshot.iter().map(|(_, e)| e.slot).collect()
    }

    fn run_merges(members: &mut Members, merge: Option<Merge>, keep: impl Fn(&Entry) -> bool) {
        if let Some(merge) = merge {
            let (run, dropped) = merge.merge(keep);
            members.install(merge, run, dropped);
        }
    }

    #[test]
    fn snapshots_list_series_in_key_order_across_runs() {
        let mut members = Members::default();
        for n in (0..2000u32).rev() {
            members.push(n, 1 << 32, &key(n));
        }
        let snapshot = members.snapshot();
        assert_eq!(keys(&snapshot), (0..2000).collect::<Vec<_>>());
        while let Some(merge) = members.plan() {
            run_merges(&mut members, Some(merge), |_| true);
        }
        assert!(members.runs.len() <= 2, "{} runs", members.runs.len());
        assert_eq!(keys(&members.snapshot()), (0..2000).collect::<Vec<_>>());
    }

    #[test]
    fn ended_entries_are_dropped_once_they_are_half() {
        let mut members = Members::default();
        for n in 0..4000u32 {
            members.push(n, 1 << 32, &key(n));
        }
        let ended = |e: &Entry| e.slot % 4 != 0;
        for _ in 0..3000 {
            let merge = members.ended();
            run_merges(&mut members, merge, |e| !ended(e));
        }
        let left = keys(&members.snapshot());
        assert_eq!(left, (0..4000).filter(|n| n % 4 == 0).collect::<Vec<_>>());
        assert_eq!(members.live(), 1000);
    }

    #[test]
    fn a_stale_merge_is_not_installed() {
        let mut members = Members::default();
        for n in 0..600u32 {
            members.push(n, 1 << 32, &key(n));
        }
        let merge = members.claim(members.runs.clone()).unwrap();
        members.clear();
        let (run, dropped) = merge.merge(|_| true);
        members.install(merge, run, dropped);
        assert!(keys(&members.snapshot()).is_empty());
    }
}
