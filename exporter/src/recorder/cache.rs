//! A cache of the handles given to `metrics` macro calls.

use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use metrics::Key;
use papaya::{Equivalent, HashMap};

/// Entries the cache holds before it starts over, so keys that are never used again (label
/// values that churn) cannot make it grow without end.
pub const DEFAULT_CACHE_CAPACITY: usize = 1 << 16;

/// The handles given out for macro calls, by an opaque context number (which recorder or
/// scope the call came through) and the caller's key.
///
/// A hit takes no lock. An entry that is no longer valid (its series was dropped) is replaced
/// on its next use; when the cache holds `capacity` entries it is emptied and fills again.
///
/// ```
/// use dynamo_exporter::HandleCache;
/// use metrics::Key;
///
/// let cache = HandleCache::new();
/// let key = Key::from_static_name("jobs_total");
/// let first = cache.get_or_insert_with(1, &key, |_| true, || 7);
/// let again = cache.get_or_insert_with(1, &key, |_| true, || unreachable!());
/// let stale = cache.get_or_insert_with(1, &key, |h| *h != 7, || 8);
/// assert_eq!((first, again, stale), (7, 7, 8));
/// ```
pub struct HandleCache<H> {
    map: HashMap<CacheKey, H, BuildHasherDefault<KeyHashMixer>>,
    capacity: usize,
    /// Names this cache among all made in the process, for the tables of threads.
    id: u64,
}

/// The number of the next cache made.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(PartialEq, Eq)]
struct CacheKey {
    context: usize,
    key: Key,
}

struct Query<'a> {
    context: usize,
    key: &'a Key,
}

impl Hash for CacheKey {
    fn hash<S: Hasher>(&self, state: &mut S) {
        state.write_usize(self.context);
        state.write_u64(self.key.get_hash());
    }
}

impl Hash for Query<'_> {
    fn hash<S: Hasher>(&self, state: &mut S) {
        state.write_usize(self.context);
        state.write_u64(self.key.get_hash());
    }
}

impl Equivalent<CacheKey> for Query<'_> {
    #[inline]
    fn equivalent(&self, other: &CacheKey) -> bool {
        self.context == other.context && same_key(self.key, &other.key)
    }
}

/// `a == b`, first by the addresses of their name and labels: a macro's key is a `static`
/// whose clone in the cache borrows the same name and label array, so a hit compares no text.
#[inline]
pub(super) fn same_key(a: &Key, b: &Key) -> bool {
    let same_place = std::ptr::eq(a.name(), b.name())
        && std::ptr::eq(a.labels().as_slice(), b.labels().as_slice());
    a.get_hash() == b.get_hash() && (same_place || a == b)
}

/// Mixes the words the cache keys write (the context and the key's own hash, already computed
/// by `metrics`) in one multiply each, where the default hasher would run SipHash over them.
#[derive(Default)]
struct KeyHashMixer(u64);

impl Hasher for KeyHashMixer {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.write_u64(u64::from(b)));
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

impl<H> std::fmt::Debug for HandleCache<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleCache")
            .field("len", &self.map.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<H: Clone + Send + Sync> Default for HandleCache<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Clone + Send + Sync> HandleCache<H> {
    /// An empty cache of [`DEFAULT_CACHE_CAPACITY`] entries.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// An empty cache that starts over once it holds `capacity` entries.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            map: HashMap::with_hasher(BuildHasherDefault::default()),
            capacity: capacity.max(1),
            id: NEXT_ID.fetch_add(1, Relaxed),
        }
    }

    /// The number naming this cache in the process.
    #[inline]
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// The handle cached for `context` and `key` while `valid` accepts it, else the one
    /// `make` gives, cached from now on.
    #[inline]
    pub fn get_or_insert_with(
        &self,
        context: usize,
        key: &Key,
        valid: impl Fn(&H) -> bool,
        make: impl FnOnce() -> H,
    ) -> H {
        let map = self.map.pin();
        if let Some(handle) = map.get(&Query { context, key }) {
            if valid(handle) {
                return handle.clone();
            }
        }
        self.insert(context, key, make())
    }

    #[cold]
    fn insert(&self, context: usize, key: &Key, handle: H) -> H {
        let map = self.map.pin();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(
            CacheKey {
                context,
                key: key.clone(),
            },
            handle.clone(),
        );
        handle
    }

    /// Entries cached now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_over_at_capacity() {
        let cache = HandleCache::with_capacity(100);
        for n in 0..1000u32 {
            let key = Key::from_parts("k", vec![metrics::Label::new("n", n.to_string())]);
            assert_eq!(cache.get_or_insert_with(0, &key, |_| true, || n), n);
        }
        assert!(cache.len() <= 100, "{} entries", cache.len());
    }

    #[test]
    fn an_equal_key_made_elsewhere_finds_the_same_handle() {
        static LABELS: [metrics::Label; 2] = [
            metrics::Label::from_static_parts("model", "llama"),
            metrics::Label::from_static_parts("size", "7b"),
        ];
        let cache = HandleCache::new();
        let static_key = Key::from_static_parts("k", &LABELS);
        assert_eq!(cache.get_or_insert_with(0, &static_key, |_| true, || 1), 1);
        let owned = |pairs: [(&str, &str); 2]| {
            let labels = pairs.map(|(k, v)| metrics::Label::new(k.to_owned(), v.to_owned()));
            Key::from_parts("k".to_owned(), labels.to_vec())
        };
        let same = owned([("model", "llama"), ("size", "7b")]);
        let reordered = owned([("size", "7b"), ("model", "llama")]);
        let other = owned([("model", "llama"), ("size", "70b")]);
        assert_eq!(cache.get_or_insert_with(0, &same, |_| true, || 2), 1);
        assert_eq!(cache.get_or_insert_with(0, &reordered, |_| true, || 3), 1);
        assert_eq!(cache.get_or_insert_with(0, &other, |_| true, || 4), 4);
    }

    #[test]
    fn contexts_keep_their_own_handles() {
        let cache = HandleCache::new();
        let key = Key::from_static_name("k");
        assert_eq!(cache.get_or_insert_with(1, &key, |_| true, || 1), 1);
        assert_eq!(cache.get_or_insert_with(2, &key, |_| true, || 2), 2);
        assert_eq!(cache.get_or_insert_with(1, &key, |_| true, || 3), 1);
    }
}
