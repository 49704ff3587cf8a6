//! The labels of series: how a vec lays them out, and the keys that remember a series' label
//! values, render them and order series.
//!
//! A key is the text form of label pairs, `model="llama",size="7b"`, values escaped as the
//! text exposition format escapes them, so a scrape copies it as it is. A vec's keys hold its
//! variable pairs in name order; the keys of a group of scalars hold every pair. Keys compare
//! as their raw pairs do ([`cmp_keys`]): by name, then by unescaped value, a shorter value or
//! list of pairs first, which is the order the exposition format asks for.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::exposition::escape::{push_pair, unescape};

/// The labels of one metric: constant pairs and variable names, in the orders they are needed.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Constant labels, sorted by name.
    consts: Box<[(Box<str>, Box<str>)]>,
    /// Variable label names in declaration order.
    names: Box<[Box<str>]>,
    /// Declaration indexes of the variable labels, in name order.
    by_name: Box<[usize]>,
}

impl Layout {
    /// `consts` in any order; `names` in declaration order.
    pub(crate) fn new(mut consts: Vec<(Box<str>, Box<str>)>, names: Vec<Box<str>>) -> Self {
        consts.sort();
        let mut by_name: Vec<usize> = (0..names.len()).collect();
        by_name.sort_by(|a, b| names[*a].cmp(&names[*b]));
        Self {
            consts: consts.into(),
            names: names.into(),
            by_name: by_name.into(),
        }
    }

    /// Constant pairs, sorted by name.
    pub(crate) fn consts(&self) -> &[(Box<str>, Box<str>)] {
        &self.consts
    }

    /// Variable label names in declaration order.
    pub(crate) fn names(&self) -> &[Box<str>] {
        &self.names
    }

    /// The places (in declaration order) of the variable labels named in `labels`, each with
    /// its wanted value; `None` when one is not a variable label of the layout.
    pub(crate) fn places<'v>(&self, labels: &[(&str, &'v str)]) -> Option<Vec<(usize, &'v str)>> {
        labels
            .iter()
            .map(|(label, value)| {
                let at = self.names.iter().position(|n| &**n == *label)?;
                Some((at, *value))
            })
            .collect()
    }

    /// The key of a series with these values (declaration order): its variable pairs.
    pub(crate) fn key<V: AsRef<str>>(&self, values: &[V]) -> String {
        let capacity = self
            .by_name
            .iter()
            .map(|i| self.names[*i].len() + values[*i].as_ref().len() + 4)
            .sum();
        let mut key = String::with_capacity(capacity);
        for (n, i) in self.by_name.iter().enumerate() {
            if n > 0 {
                key.push(',');
            }
            push_pair(&mut key, &self.names[*i], values[*i].as_ref());
        }
        key
    }

    /// The values a key holds, unescaped, in declaration order.
    pub(crate) fn values<'a>(&self, key: &'a str) -> Vec<Cow<'a, str>> {
        let mut values = vec![Cow::Borrowed(""); self.names.len()];
        for (i, (_, value)) in self.by_name.iter().zip(KeyPairs::new(key)) {
            values[*i] = value;
        }
        values
    }

    /// Every label pair of the series with this key, sorted by name, values unescaped.
    pub(crate) fn pairs<'a>(&'a self, key: &'a str) -> Pairs<'a> {
        Pairs {
            consts: &self.consts,
            vars: KeyPairs::new(key).peekable(),
        }
    }

    /// Where the variable labels sit among the constant ones, in name order: `Some(n)` when
    /// they follow the first `n` constant pairs with no constant pair between them.
    pub(crate) fn contiguous_at(&self) -> Option<usize> {
        let (Some(first), Some(last)) = (self.by_name.first(), self.by_name.last()) else {
            return Some(self.consts.len());
        };
        let (first, last) = (&*self.names[*first], &*self.names[*last]);
        let before = self.consts.partition_point(|(k, _)| &**k < first);
        let after = self.consts.partition_point(|(k, _)| &**k < last);
        (before == after).then_some(before)
    }

    /// True when every `required` pair is among the constant labels.
    pub(crate) fn has_consts(&self, required: &[(&str, &str)]) -> bool {
        required.iter().all(|(k, v)| {
            self.consts
                .iter()
                .any(|(ck, cv)| &**ck == *k && &**cv == *v)
        })
    }
}

/// The label pairs of a vec's series, merged in name order.
pub(crate) struct Pairs<'a> {
    consts: &'a [(Box<str>, Box<str>)],
    vars: std::iter::Peekable<KeyPairs<'a>>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let var = self.vars.peek().map(|(name, _)| *name);
        match (self.consts.first(), var) {
            (Some((k, v)), Some(name)) if **k < *name => {
                self.consts = &self.consts[1..];
                Some((k, Cow::Borrowed(v)))
            }
            (_, Some(_)) => self.vars.next(),
            (Some((k, v)), None) => {
                self.consts = &self.consts[1..];
                Some((k, Cow::Borrowed(v)))
            }
            (None, None) => None,
        }
    }
}

/// The key of a set of label pairs (sorted by name).
pub(crate) fn pairs_key<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut key = String::new();
    for (n, (name, value)) in pairs.into_iter().enumerate() {
        if n > 0 {
            key.push(',');
        }
        push_pair(&mut key, name, value);
    }
    key
}

/// The pairs of a key, values unescaped.
#[derive(Clone)]
pub(crate) struct KeyPairs<'a> {
    rest: &'a str,
}

impl<'a> KeyPairs<'a> {
    pub(crate) fn new(key: &'a str) -> Self {
        Self { rest: key }
    }
}

impl<'a> Iterator for KeyPairs<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.strip_prefix(',').unwrap_or(self.rest);
        // A label name has no `=`: the first one ends it, and `"` follows.
        let at = rest.as_bytes().iter().position(|b| *b == b'=')?;
        let (name, after) = (&rest[..at], rest.get(at + 2..)?);
        let bytes = after.as_bytes();
        let mut end = 0;
        let mut escaped = false;
        while end < bytes.len() && bytes[end] != b'"' {
            if bytes[end] == b'\\' {
                escaped = true;
                end += 1;
            }
            end += 1;
        }
        let raw = after.get(..end)?;
        self.rest = after.get(end + 1..).unwrap_or_default();
        let value = if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        };
        Some((name, value))
    }
}

/// Orders two keys as their raw pairs: by name, then by unescaped value; a shorter name,
/// value or list of pairs first.
///
/// Keys are compared byte by byte up to their first difference; with no escape before it,
/// the bytes there decide (a closing `"` or `=` ends a value or name, so that key is first).
/// Otherwise the pairs are unescaped and compared.
pub(crate) fn cmp_keys(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let common = common_prefix(x, y);
    if common == x.len() || common == y.len() {
        return x.len().cmp(&y.len());
    }
    let seen = &x[..common];
    if seen.contains(&b'\\') || x[common] == b'\\' || y[common] == b'\\' {
        return cmp_pairs(KeyPairs::new(a), KeyPairs::new(b));
    }
    let in_value = seen.iter().filter(|b| **b == b'"').count() % 2 == 1;
    let end = if in_value { b'"' } else { b'=' };
    match (x[common] == end, y[common] == end) {
        (true, _) => Ordering::Less,
        (_, true) => Ordering::Greater,
        _ => x[common].cmp(&y[common]),
    }
}

/// The length of the longest common prefix of `x` and `y`, eight bytes at a time.
fn common_prefix(x: &[u8], y: &[u8]) -> usize {
    let len = x.len().min(y.len());
    let mut at = 0;
    while at + 8 <= len {
        let (p, q) = (word(&x[at..at + 8]), word(&y[at..at + 8]));
        if p != q {
            return at + ((p ^ q).trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + x[at..len]
        .iter()
        .zip(&y[at..len])
        .take_while(|(p, q)| p == q)
        .count()
}

fn word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Orders two series by their label pairs, compared as sequences of `(name, value)`.
pub(crate) fn cmp_pairs<'a, 'b>(
    mut a: impl Iterator<Item = (&'a str, Cow<'a, str>)>,
    mut b: impl Iterator<Item = (&'b str, Cow<'b, str>)>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ak, av)), Some((bk, bv))) => {
                let order = ak.cmp(bk).then_with(|| av.cmp(&bv));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn layout(consts: &[(&str, &str)], names: &[&str]) -> Layout {
        Layout::new(
            consts
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            names.iter().map(|n| (*n).into()).collect(),
        )
    }

    #[test]
    fn keys_are_the_variable_pairs_in_name_order_and_give_the_values_back() {
        let l = layout(&[], &["size", "model"]);
        let key = l.key(&["7b", "lla\"ma"]);
        assert_eq!(key, "model=\"lla\\\"ma\",size=\"7b\"");
        assert_eq!(l.values(&key), ["7b", "lla\"ma"]);
    }

    #[test]
    fn pairs_merge_constants_and_variables_by_name() {
        let l = layout(&[("z", "2"), ("a", "1")], &["m", "k"]);
        let key = l.key(&["x", "y"]);
        let pairs: Vec<(&str, String)> = l.pairs(&key).map(|(k, v)| (k, v.into_owned())).collect();
        let expected = [("a", "1"), ("k", "y"), ("m", "x"), ("z", "2")];
        assert_eq!(pairs, expected.map(|(k, v)| (k, v.to_string())));
        assert_eq!(l.contiguous_at(), Some(1));
        let interleaved = layout(&[("b", "1")], &["a", "c"]);
        assert_eq!(interleaved.contiguous_at(), None);
        assert_eq!(layout(&[("b", "1")], &[]).contiguous_at(), Some(1));
    }

    #[test]
    fn pairs_keys_round_trip() {
        let key = pairs_key([("a", "1:2"), ("b", ""), ("c", "ü\\\n\"")]);
        let pairs: Vec<(&str, String)> = KeyPairs::new(&key)
            .map(|(k, v)| (k, v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "1:2".to_string()),
                ("b", String::new()),
                ("c", "ü\\\n\"".to_string())
            ]
        );
    }

    #[test]
    fn keys_order_like_their_raw_pairs_in_known_cases() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let key = |pairs: Pairs<'_>| pairs_key(pairs.iter().copied());
        let cases: [(Pairs<'_>, Pairs<'_>); 6] = [
            (&[("a", "x")], &[("a", "x y")]),
            (&[("a", "x")], &[("a0", "x")]),
            (&[("a", "x")], &[("a", "x"), ("b", "y")]),
            (&[("a", "\n")], &[("a", "!")]),
            (&[("a", "\"")], &[("a", "\\")]),
            (&[("a", "a\\")], &[("a", "a\\b")]),
        ];
        for (less, more) in cases {
            assert_eq!(
                cmp_keys(&key(less), &key(more)),
                Ordering::Less,
                "{less:?} < {more:?}"
            );
            assert_eq!(cmp_keys(&key(more), &key(less)), Ordering::Greater);
        }
    }

    fn label_name() -> impl Strategy<Value = String> {
        "[a-c][a-c0-9_]{0,3}"
    }

    fn label_value() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[ -~\n\\\\\"]{0,6}"]
    }

    proptest! {
        #[test]
        fn common_prefixes_are_found(x in proptest::collection::vec(0u8..3, 0..40), y in proptest::collection::vec(0u8..3, 0..40)) {
            let slow = x.iter().zip(&y).take_while(|(p, q)| p == q).count();
            prop_assert_eq!(common_prefix(&x, &y), slow);
        }

        #[test]
        fn keys_order_like_their_raw_pairs(
            a in proptest::collection::btree_map(label_name(), label_value(), 0..4),
            b in proptest::collection::btree_map(label_name(), label_value(), 0..4),
        ) {
            let (ka, kb) = (pairs_key(a.iter().map(|(k, v)| (k.as_str(), v.as_str()))), pairs_key(b.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
            let raw = a.iter().cmp(b.iter());
            prop_assert_eq!(cmp_keys(&ka, &kb), raw);
            let back: Vec<(String, String)> = KeyPairs::new(&ka).map(|(k, v)| (k.to_string(), v.into_owned())).collect();
            prop_assert_eq!(back, a.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn pairs_order_like_raw_pairs(a in any::<String>(), b in any::<String>(), c in any::<String>(), d in any::<String>()) {
            let l = layout(&[("b", "const")], &["a", "c"]);
            let (x, y) = (l.key(&[&a, &b]), l.key(&[&c, &d]));
            let expected = [("a", a.as_str()), ("b", "const"), ("c", b.as_str())]
                .cmp(&[("a", c.as_str()), ("b", "const"), ("c", d.as_str())]);
            prop_assert_eq!(cmp_pairs(l.pairs(&x), l.pairs(&y)), expected);
        }
    }
}
