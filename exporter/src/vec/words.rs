//! Word-at-a-time helpers for the vec lookup: hashing label values while finding out whether
//! any needs escaping, and comparing short byte strings, without a byte loop.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Reads up to eight bytes of `bytes` as one word; shorter inputs read overlapping or
/// repeated bytes of themselves (never bytes from outside).
#[inline]
fn small_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if len >= 4 {
        let lo = u32::from_le_bytes(bytes[..4].try_into().unwrap_or_default());
        let hi = u32::from_le_bytes(bytes[len - 4..].try_into().unwrap_or_default());
        u64::from(lo) | u64::from(hi) << 32
    } else {
        match *bytes {
            [] => 0,
            [a] => u64::from(a),
            [a, b] => u64::from(a) | u64::from(b) << 8,
            [a, b, c, ..] => u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16,
        }
    }
}

#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
}

/// True when some byte of `word` equals `byte`.
#[inline]
fn has_byte(word: u64, byte: u8) -> bool {
    let x = word ^ (LO * u64::from(byte));
    x.wrapping_sub(LO) & !x & HI != 0
}

/// True when some byte of `word` must be escaped in a label value.
#[inline]
fn needs_escape(word: u64) -> bool {
    has_byte(word, b'"') | has_byte(word, b'\\') | has_byte(word, b'\n')
}

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

/// The hash of `values` under `seed`, and whether none of them holds a byte that escaping
/// changes. Each value is hashed on its own (so their multiplications overlap) and the results
/// are folded together in order.
#[inline]
pub(crate) fn hash_values<V: AsRef<str>>(seed: u64, values: &[V]) -> (u64, bool) {
    let mut folded = 0u64;
    let mut plain = true;
    for value in values {
        let (hash, value_plain) = hash_value(seed, value.as_ref().as_bytes());
        folded = folded.rotate_left(23) ^ hash;
        plain &= value_plain;
    }
    (mix(folded ^ seed, MUL), plain)
}

#[inline]
fn hash_value(seed: u64, bytes: &[u8]) -> (u64, bool) {
    let len = bytes.len();
    let length_key = MUL ^ (len as u64).wrapping_mul(LO);
    if len <= 8 {
        let word = small_word(bytes);
        return (mix(word ^ seed, length_key), !needs_escape(word));
    }
    let mut hash = seed;
    let mut plain = true;
    let mut at = 0;
    while at + 8 < len {
        let word = word_at(bytes, at);
        plain &= !needs_escape(word);
        hash = mix(hash ^ word, length_key);
        at += 8;
    }
    let last = word_at(bytes, len - 8);
    plain &= !needs_escape(last);
    (mix(hash ^ last, length_key), plain)
}

/// `a == b`, for the short strings label values usually are.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len > 16 {
        return a == b;
    }
    if len > 8 {
        return word_at(a, 0) == word_at(b, 0) && word_at(a, len - 8) == word_at(b, len - 8);
    }
    small_word(a) == small_word(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn needs_escape_slow(s: &str) -> bool {
        s.bytes().any(|b| matches!(b, b'"' | b'\\' | b'\n'))
    }

    #[test]
    fn tells_plain_values_from_ones_to_escape() {
        for (values, plain) in [
            (vec!["llama", "7b"], true),
            (vec!["", "x"], true),
            (vec!["a\"b"], false),
            (vec!["long value without specials"], true),
            (vec!["long value with a backslash \\ here"], false),
            (vec!["newline at the end of a long one\n"], false),
        ] {
            assert_eq!(hash_values(7, &values).1, plain, "{values:?}");
        }
    }

    #[test]
    fn lengths_separate_values() {
        assert_ne!(
            hash_values(1, &["ab", "c"]).0,
            hash_values(1, &["a", "bc"]).0
        );
        assert_ne!(hash_values(1, &["x"]).0, hash_values(2, &["x"]).0);
    }

    proptest! {
        #[test]
        fn plain_flag_matches_a_byte_scan(values in proptest::collection::vec(any::<String>(), 0..4)) {
            let slow = !values.iter().any(|v| needs_escape_slow(v));
            prop_assert_eq!(hash_values(3, &values).1, slow);
        }

        #[test]
        fn equal_values_hash_alike(values in proptest::collection::vec(any::<String>(), 0..4), seed in any::<u64>()) {
            let copy: Vec<String> = values.clone();
            prop_assert_eq!(hash_values(seed, &values), hash_values(seed, &copy));
        }

        #[test]
        fn bytes_eq_is_equality(a in proptest::collection::vec(any::<u8>(), 0..40), b in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(bytes_eq(&a, &b), a == b);
            prop_assert!(bytes_eq(&a, &a.clone()));
        }
    }
}
