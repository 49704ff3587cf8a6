//! The 128-bit fingerprint of a series' label values, which identifies it in its vec.
//!
//! Two independent lanes of folded multiplies, each keyed by random numbers drawn per vec,
//! so the fingerprints of different label values collide with a chance near 2^-128 and cannot
//! be predicted from outside the process. Values are read eight bytes at a time; each value's
//! length is mixed in, so `["ab", "c"]` and `["a", "bc"]` differ.

use std::hash::{BuildHasher, RandomState};

const LO: u64 = 0x0101_0101_0101_0101;

/// The identity of a set of label values within one vec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// Also the hash that places the series in the vec's index.
    pub(crate) lo: u64,
    pub(crate) hi: u64,
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
            lo: fold(hi ^ self.lo_xor, lo ^ self.lo_mul),
            hi: fold(lo ^ self.hi_xor, hi ^ self.hi_mul),
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
    } else if len > 0 {
        // The first, middle and last bytes: all of them for up to three.
        u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16
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
        assert_ne!(fp(&["x"]), fp(&["x", ""]));
        assert_ne!(fp(&[""]), fp(&["\0"]));
        assert_eq!(fp(&["llama", "7b"]), fp(&["llama", "7b"]));
    }

    #[test]
    fn seeds_differ_between_vecs() {
        assert_ne!(
            Seed::random().fingerprint(&["x"]),
            Seed::random().fingerprint(&["x"])
        );
    }

    #[test]
    fn many_similar_values_do_not_collide() {
        let seed = Seed::random();
        let (mut lows, mut highs) = (HashSet::new(), HashSet::new());
        for i in 0..100_000u32 {
            let (a, b) = (format!("model-{}", i / 100), format!("worker-{}", i % 100));
            let fp = seed.fingerprint(&[a, b]);
            assert!(lows.insert(fp.lo), "low half repeats at {i}");
            assert!(highs.insert(fp.hi), "high half repeats at {i}");
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
