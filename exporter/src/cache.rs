//! A cache of the handles given to `metrics` macro calls.

use metrics::Key;

use crate::vec::table::Table;

/// The handles given out for macro calls, by an opaque context number (which recorder or
/// scope the call came through) and the caller's key.
///
/// A hit takes no lock and writes no shared memory, so a repeated `counter!(..)` costs a key
/// comparison and a handle clone. Entries are kept for the life of the cache.
///
/// ```
/// use dynamo_exporter::HandleCache;
/// use metrics::Key;
///
/// let cache = HandleCache::new();
/// let key = Key::from_static_name("jobs_total");
/// let first = cache.get_or_insert_with(1, &key, || 7);
/// let again = cache.get_or_insert_with(1, &key, || unreachable!());
/// assert_eq!((first, again), (7, 7));
/// ```
pub struct HandleCache<H> {
    table: Table<(usize, Key, H)>,
}

impl<H> std::fmt::Debug for HandleCache<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleCache").finish_non_exhaustive()
    }
}

impl<H: Clone> Default for HandleCache<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Clone> HandleCache<H> {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }

    /// The handle cached for `context` and `key`, made by `make` on the first call.
    #[inline]
    pub fn get_or_insert_with(&self, context: usize, key: &Key, make: impl FnOnce() -> H) -> H {
        let hash = mix(context, key.get_hash());
        let same = |(c, k, _): &(usize, Key, H)| *c == context && k == key;
        if let Some((_, _, handle)) = self.table.find(hash, same) {
            return handle.clone();
        }
        let (_, _, handle) = self.table.find_or_insert(
            hash,
            same,
            || (context, key.clone(), make()),
            |(c, k, _)| mix(*c, k.get_hash()),
        );
        handle.clone()
    }
}

fn mix(context: usize, key_hash: u64) -> u64 {
    key_hash
        ^ (context as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29)
}
