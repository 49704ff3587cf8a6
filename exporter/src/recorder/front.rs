//! The handles one thread's macro calls got last, in front of a shared [`HandleCache`].

use metrics::Key;

use super::Probed;
use super::cache::{HandleCache, same_key};

/// Entries of a [`ThreadHandles`]: a call's key picks one, and a key that picks a taken
/// entry replaces it.
const ENTRIES: usize = 32;

/// A small table, kept by one thread (in a `thread_local!`), of the handles its macro calls
/// got from [`HandleCache`]s: a repeated call finds its handle here with no shared map, pin
/// or lock. Each entry names the cache it came from, so a table serves any number of caches.
///
/// Nothing is allocated until the first call; the table then holds at most 32 handles, each
/// checked to be live before it is handed out.
///
/// ```
/// use dynamo_exporter::{HandleCache, Probed, ThreadHandles};
/// use metrics::Key;
///
/// let cache = HandleCache::new();
/// let mut front = ThreadHandles::new();
/// let key = Key::from_static_name("jobs_total");
/// let first = cache.get_through(&mut front, 1, &key, || Probed::always(7));
/// let again = cache.get_through(&mut front, 1, &key, || unreachable!());
/// assert_eq!((first, again), (7, 7));
/// ```
pub struct ThreadHandles<H> {
    entries: Option<Box<[Option<Entry<H>>; ENTRIES]>>,
}

struct Entry<H> {
    cache: u64,
    context: usize,
    key: Key,
    /// Where the key's name and labels are (address and length), kept apart from the key,
    /// whose accessors are calls: a macro's key is a `static` that the kept clone borrows, so
    /// a hit compares addresses, not text.
    name: *const str,
    labels: *const [metrics::Label],
    handle: Probed<H>,
}

// SAFETY: the two pointers are only compared, never read through; the key they point into
// is `Send` and `Sync`.
#[allow(unsafe_code)]
unsafe impl<H: Send> Send for Entry<H> {}
#[allow(unsafe_code)]
unsafe impl<H: Sync> Sync for Entry<H> {}

impl<H> Entry<H> {
    /// True when `key` equals the kept one (whose hash is known to be the same).
    #[inline]
    fn is_for(&self, key: &Key) -> bool {
        let same_place = std::ptr::eq(self.name, key.name())
            && std::ptr::eq(self.labels, key.labels().as_slice());
        same_place || same_key(&self.key, key)
    }
}

/// A table with every entry empty, made out of line (it is large to build on the stack).
#[cold]
#[inline(never)]
fn empty_entries<H>() -> Box<[Option<Entry<H>>; ENTRIES]> {
    let entries: Box<[Option<Entry<H>>]> = (0..ENTRIES).map(|_| None).collect();
    entries
        .try_into()
        .unwrap_or_else(|_| unreachable!("ENTRIES entries were made"))
}

impl<H> ThreadHandles<H> {
    /// An empty table.
    #[must_use]
    pub const fn new() -> Self {
        Self { entries: None }
    }
}

impl<H> Default for ThreadHandles<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H> std::fmt::Debug for ThreadHandles<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.entries.iter().flat_map(|e| e.iter()).flatten().count();
        f.debug_struct("ThreadHandles")
            .field("held", &held)
            .finish()
    }
}

impl<H: Clone + Send + Sync> HandleCache<Probed<H>> {
    /// The handle for `context` and `key` as [`Self::get_or_insert_with`] gives it (with
    /// [`Probed::is_live`] as the check), first looked up in this thread's `front`, and kept
    /// there.
    #[inline]
    pub fn get_through(
        &self,
        front: &mut ThreadHandles<H>,
        context: usize,
        key: &Key,
        make: impl FnOnce() -> Probed<H>,
    ) -> H {
        let entries = front.entries.get_or_insert_with(empty_entries);
        let entry = &mut entries[pick(context, key)];
        if let Some(kept) = entry {
            if kept.cache == self.id()
                && kept.context == context
                && kept.key.get_hash() == key.get_hash()
                && kept.is_for(key)
                && kept.handle.is_live()
            {
                return kept.handle.handle.clone();
            }
        }
        self.refill(entry, context, key, make)
    }

    #[cold]
    #[inline(never)]
    fn refill(
        &self,
        entry: &mut Option<Entry<H>>,
        context: usize,
        key: &Key,
        make: impl FnOnce() -> Probed<H>,
    ) -> H {
        let handle = self.get_or_insert_with(context, key, Probed::is_live, make);
        let given = handle.handle.clone();
        let key = key.clone();
        *entry = Some(Entry {
            cache: self.id(),
            context,
            name: key.name(),
            labels: key.labels().as_slice(),
            key,
            handle,
        });
        given
    }
}

/// The entry of `context` and `key`: the key's own hash (computed by `metrics`) mixed with
/// the context, top bits.
#[inline]
fn pick(context: usize, key: &Key) -> usize {
    let mixed =
        (key.get_hash() ^ (context as u64).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - ENTRIES.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::recorder::Liveness;

    #[test]
    fn caches_contexts_and_keys_keep_their_own_handles() {
        let (a, b) = (HandleCache::new(), HandleCache::new());
        let mut front = ThreadHandles::new();
        let key = Key::from_static_name("k");
        let other = Key::from_static_name("other");
        assert_eq!(a.get_through(&mut front, 1, &key, || Probed::always(1)), 1);
        assert_eq!(b.get_through(&mut front, 1, &key, || Probed::always(2)), 2);
        assert_eq!(a.get_through(&mut front, 2, &key, || Probed::always(3)), 3);
        assert_eq!(
            a.get_through(&mut front, 1, &other, || Probed::always(4)),
            4
        );
        assert_eq!(a.get_through(&mut front, 1, &key, || unreachable!()), 1);
        assert_eq!(b.get_through(&mut front, 1, &key, || unreachable!()), 2);
        assert_eq!(a.get_through(&mut front, 2, &key, || unreachable!()), 3);
    }

    #[test]
    fn an_equal_key_made_elsewhere_hits() {
        let cache = HandleCache::new();
        let mut front = ThreadHandles::new();
        let owned = || {
            Key::from_parts(
                "k".to_owned(),
                vec![metrics::Label::new("a", "1".to_owned())],
            )
        };
        assert_eq!(
            cache.get_through(&mut front, 0, &owned(), || Probed::always(1)),
            1
        );
        assert_eq!(
            cache.get_through(&mut front, 0, &owned(), || unreachable!()),
            1
        );
    }

    #[test]
    fn a_handle_whose_series_is_gone_is_replaced() {
        static STATE: AtomicU64 = AtomicU64::new(5);
        let cache = HandleCache::new();
        let mut front = ThreadHandles::new();
        let key = Key::from_static_name("k");
        let made = |n| Probed {
            handle: n,
            liveness: Liveness::Series(&STATE, STATE.load(Ordering::Relaxed)),
        };
        assert_eq!(cache.get_through(&mut front, 0, &key, || made(1)), 1);
        STATE.store(6, Ordering::Relaxed);
        assert_eq!(cache.get_through(&mut front, 0, &key, || made(2)), 2);
        assert_eq!(cache.get_through(&mut front, 0, &key, || unreachable!()), 2);
    }

    #[test]
    fn many_keys_fill_at_most_its_entries_and_all_still_answer() {
        let cache = HandleCache::new();
        let mut front = ThreadHandles::new();
        let key = |n: u32| Key::from_parts("k", vec![metrics::Label::new("n", n.to_string())]);
        for n in 0..200 {
            assert_eq!(
                cache.get_through(&mut front, 0, &key(n), || Probed::always(n)),
                n
            );
        }
        for n in 0..200 {
            assert_eq!(
                cache.get_through(&mut front, 0, &key(n), || unreachable!()),
                n
            );
        }
        let held = front
            .entries
            .iter()
            .flat_map(|e| e.iter())
            .flatten()
            .count();
        assert!((1..=ENTRIES).contains(&held), "{held}");
        assert_eq!(
            format!("{front:?}"),
            format!("ThreadHandles {{ held: {held} }}")
        );
        let empty = ThreadHandles::<u32>::new();
        assert_eq!(format!("{empty:?}"), "ThreadHandles { held: 0 }");
    }
}
