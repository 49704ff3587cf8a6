//! The identity of a series' label values within its vec, and the hash that places it in the
//! vec's index.
//!
//! Label values of up to seven bytes, one or two of them, are their own identity: each value's
//! bytes fit in one word (xored with a key of the vec, so that vecs differ) and the lengths in
//! a byte, so two series of a vec are told apart exactly. Other
//! label sets are identified by a 128-bit fingerprint: two independent lanes of folded
//! multiplies, each keyed by random numbers drawn per vec, so the fingerprints of different
//! label values collide with a chance near 2^-128 and cannot be predicted from outside the
//! process. Values are read eight bytes at a time; each value's length is mixed in, so
//! `["ab", "c"]` and `["a", "bc"]` differ.

use std::hash::{BuildHasher, RandomState};

const LO: u64 = 0x0101_0101_0101_0101;

/// The identity of a set of label values within one vec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint {
    /// The values themselves (short values), or their 128-bit hash.
    pub(crate) words: [u64; 2],
    /// The values' lengths, four bits each (short values: the second's bits are all set for
    /// one value), or [`HASHED`].
    pub(crate) lens: u8,
}

/// The `lens` of a fingerprint that is a hash of the values.
pub(crate) const HASHED: u8 = u8::MAX;

/// A `lens` no fingerprint has: a freed slot's.
pub(crate) const DEAD: u8 = 0xfe;

/// The longest label value kept as its own identity (all ones, so that one test of the two
/// lengths or-ed together tells whether both are short).
const SHORT: usize = 7;

impl Fingerprint {
    /// The fingerprint of series no lookup finds (a scalar's, an overflow series').
    pub(crate) const NONE: Self = Self {
        words: [0, 0],
        lens: HASHED,
    };
}

/// The random keys of one vec's fingerprints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seed {
    lo_xor: u64,
    lo_mul: u64,
    hi_xor: u64,
    hi_mul: u64,
}

impl Seed {
    /// Keys drawn from the process's random source.
    pub(crate) fn random() -> Self {
        let state = RandomState::new();
        let draw = |n: u64| state.hash_one(n);
        Self {
            lo_xor: draw(1),
            lo_mul: draw(2) | 1,
            hi_xor: draw(3),
            hi_mul: draw(4) | 1,
        }
    }

    /// The fingerprint of `values`, in declaration order.
    #[inline(always)]
    pub(crate) fn fingerprint<V: AsRef<str>>(&self, values: &[V]) -> Fingerprint {
        match values {
            [a] if a.as_ref().len() <= SHORT => {
                let a = a.as_ref().as_bytes();
                Fingerprint {
                    words: [small_word(a) ^ self.lo_xor, self.hi_xor],
                    lens: 0xf0 | a.len() as u8,
                }
            }
            [a, b] if (a.as_ref().len() | b.as_ref().len()) <= SHORT => {
                let (a, b) = (a.as_ref().as_bytes(), b.as_ref().as_bytes());
                Fingerprint {
                    words: [small_word(a) ^ self.lo_xor, small_word(b) ^ self.hi_xor],
                    lens: (a.len() | b.len() << 4) as u8,
                }
            }
            _ => self.hashed(values),
        }
    }

    /// The hash that places a series in its vec's index: the fingerprint's first word when it
    /// is a hash, its two words folded when they are the values (the lengths are left out:
    /// values whose words agree and lengths differ are rare, and told apart by the
    /// fingerprint).
    #[inline(always)]
    pub(crate) fn hash(&self, fingerprint: Fingerprint) -> u64 {
        let [a, b] = fingerprint.words;
        if fingerprint.lens == HASHED {
            a
        } else {
            fold(a, b)
        }
    }

    /// The 128-bit hash of `values`.
    #[inline(always)]
    fn hashed<V: AsRef<str>>(&self, values: &[V]) -> Fingerprint {
        // Straight-line code for the usual label counts, a loop for the rest. Three
        // special cases at most: a compare or two, where four would make a jump table.
        let (lo, hi) = match values {
            [a] => self.combine(0, 0, a),
            [a, b] => {
                let (lo, hi) = self.combine(0, 0, a);
                self.combine(lo, hi, b)
            }
            [a, b, c] => {
                let (lo, hi) = self.combine(0, 0, a);
                let (lo, hi) = self.combine(lo, hi, b);
                self.combine(lo, hi, c)
            }
            _ => values
                .iter()
                .fold((0, 0), |(lo, hi), v| self.combine(lo, hi, v)),
        };
        Fingerprint {
            words: [
                fold(hi ^ self.lo_xor, lo ^ self.lo_mul),
                fold(lo ^ self.hi_xor, hi ^ self.hi_mul),
            ],
            lens: HASHED,
        }
    }

    /// Folds one more value into the two lanes.
    #[inline(always)]
    fn combine<V: AsRef<str>>(&self, lo: u64, hi: u64, value: &V) -> (u64, u64) {
        let product = self.value(value.as_ref().as_bytes());
        (
            lo.rotate_left(23) ^ product as u64,
            hi.rotate_left(29) ^ (product >> 64) as u64,
        )
    }

    /// The 128-bit product of a value's words with keys that depend on its length: for a
    /// value of one word, a one-to-one function of the word.
    #[inline(always)]
    fn value(&self, bytes: &[u8]) -> u128 {
        let len = bytes.len();
        if len <= 8 {
            // An odd key per length (`lo_mul` is odd): a one-to-one product for each length.
            let key = self.lo_mul ^ (len as u64) << 1;
            return u128::from(small_word(bytes) ^ self.lo_xor) * u128::from(key);
        }
        let key = self.lo_mul ^ (len as u64).wrapping_mul(LO);
        let mut state = self.hi_xor;
        let mut at = 0;
        while at + 8 < len {
            state = fold(state ^ word_at(bytes, at), key);
            at += 8;
        }
        u128::from(state ^ word_at(bytes, len - 8)) * u128::from(self.hi_mul)
    }
}

/// The high and low halves of a 128-bit product, xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

/// Up to eight bytes as one word; with the length known, distinct inputs give distinct words.
#[inline(always)]
fn small_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let hi = u32::from_le_bytes([
            bytes[len - 4],
            bytes[len - 3],
            bytes[len - 2],
            bytes[len - 1],
        ]);
        u64::from(lo) | u64::from(hi) << 32
    } else if len >= 2 {
        // The first two and the last two bytes: all of them for two or three.
        let lo = u16::from_le_bytes([bytes[0], bytes[1]]);
        let hi = u16::from_le_bytes([bytes[len - 2], bytes[len - 1]]);
        u64::from(lo) | u64::from(hi) << 16
    } else if len == 1 {
        u64::from(bytes[0])
    } else {
        0
    }
}

/// The eight bytes at `at`.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn lengths_and_order_separate_values() {
        let seed = Seed::random();
        let fp = |v: &[&str]| seed.fingerprint(v);
        assert_ne!(fp(&["ab", "c"]), fp(&["a", "bc"]));
        assert_ne!(fp(&["a", "b"]), fp(&["b", "a"]));
        assert_ne!(fp(&["x", ""]), fp(&["x", "\0"]));
        assert_ne!(fp(&["x"]), fp(&["x", ""]));
        assert_ne!(fp(&[""]), fp(&["\0"]));
        assert_ne!(fp(&["a-long-value", ""]), fp(&["a-long-value", "\0"]));
        assert_eq!(fp(&["llama", "7b"]), fp(&["llama", "7b"]));
    }

    #[test]
    fn seeds_differ_between_vecs() {
        let (one, other) = (Seed::random(), Seed::random());
        let long = ["a-long-value"];
        assert_ne!(one.fingerprint(&long), other.fingerprint(&long));
        let short = ["x"];
        assert_ne!(one.fingerprint(&short), other.fingerprint(&short));
        assert_ne!(
            one.hash(one.fingerprint(&short)),
            other.hash(other.fingerprint(&short))
        );
    }

    #[test]
    fn short_values_are_their_own_identity() {
        let seed = Seed::random();
        let fp = seed.fingerprint(&["llama", "7b"]);
        assert_eq!(fp.lens, 5 | 2 << 4);
        assert_eq!(seed.fingerprint(&["ab"]).lens, 0xf2);
        let keyed = [
            small_word(b"llama") ^ seed.lo_xor,
            small_word(b"7b") ^ seed.hi_xor,
        ];
        assert_eq!(fp.words, keyed);
        assert_eq!(seed.fingerprint(&["seven77"]).lens, 0xf7);
        assert_eq!(seed.fingerprint(&["eight888"]).lens, HASHED);
        assert_eq!(seed.fingerprint(&["seven77", "eight888"]).lens, HASHED);
        assert_eq!(seed.fingerprint(&["a", "b", "c"]).lens, HASHED);
    }

    #[test]
    fn many_similar_values_do_not_collide() {
        let seed = Seed::random();
        for (a, b) in [("model-", "worker-"), ("m", "w"), ("a-long-model-", "w")] {
            let (mut fingerprints, mut hashes) = (HashSet::new(), HashSet::new());
            for i in 0..100_000u32 {
                let values = [format!("{a}{}", i / 100), format!("{b}{}", i % 100)];
                let fp = seed.fingerprint(&values);
                assert!(fingerprints.insert(fp), "fingerprint repeats at {values:?}");
                hashes.insert(seed.hash(fp));
            }
            // Index hashes may collide (the fingerprint decides), but seldom.
            assert!(hashes.len() > 99_990, "{} distinct hashes", hashes.len());
        }
    }

    /// Every byte of a short value counts, whatever its length.
    #[test]
    fn short_words_are_one_to_one_per_length() {
        for len in 0..=8 {
            let mut words = HashSet::new();
            for at in 0..len {
                for byte in [0u8, 1, 0x80, 0xff] {
                    let mut value = vec![b'x'; len];
                    value[at] = byte;
                    words.insert((small_word(&value), value));
                }
            }
            let distinct: HashSet<u64> = words.iter().map(|(w, _)| *w).collect();
            let values: HashSet<&Vec<u8>> = words.iter().map(|(_, v)| v).collect();
            assert_eq!(distinct.len(), values.len(), "length {len}");
        }
    }

    proptest! {
        #[test]
        fn equal_values_give_equal_fingerprints(values in proptest::collection::vec(any::<String>(), 0..4)) {
            let seed = Seed::random();
            let copy = values.clone();
            prop_assert_eq!(seed.fingerprint(&values), seed.fingerprint(&copy));
        }

        #[test]
        fn different_values_give_different_fingerprints(
            a in proptest::collection::vec(any::<String>(), 2),
            b in proptest::collection::vec(any::<String>(), 2),
        ) {
            let seed = Seed::random();
            prop_assert_eq!(seed.fingerprint(&a) == seed.fingerprint(&b), a == b);
        }
    }
}
