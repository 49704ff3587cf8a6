//! The labels of series: how a vec lays them out, and the keys that remember a series' label
//! values and order series.
//!
//! A key is a sequence of strings, each written as its length in decimal, `:`, then its
//! bytes (`5:llama2:7b`). A vec's keys hold its variable values in label-name order; the keys
//! of a group of scalars hold every label name and value. Comparing two keys as sequences of
//! strings orders series by their label pairs, as the exposition format asks.

use std::cmp::Ordering;

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

    /// The key of a series with these values (declaration order).
    pub(crate) fn key<V: AsRef<str>>(&self, values: &[V]) -> String {
        let mut key = String::with_capacity(values.iter().map(|v| v.as_ref().len() + 3).sum());
        for i in &*self.by_name {
            push_part(&mut key, values[*i].as_ref());
        }
        key
    }

    /// The values a key holds, in declaration order.
    pub(crate) fn values<'a>(&self, key: &'a str) -> Vec<&'a str> {
        let mut values = vec![""; self.names.len()];
        for (i, value) in self.by_name.iter().zip(Parts::new(key)) {
            values[*i] = value;
        }
        values
    }

    /// Every label pair of the series with this key, sorted by name.
    pub(crate) fn pairs<'a>(&'a self, key: &'a str) -> Pairs<'a> {
        Pairs {
            consts: &self.consts,
            names: &self.by_name,
            all_names: &self.names,
            values: Parts::new(key),
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

    /// The variable label names in name order.
    pub(crate) fn names_by_name(&self) -> impl Iterator<Item = &str> {
        self.by_name.iter().map(|i| &*self.names[*i])
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
    names: &'a [usize],
    all_names: &'a [Box<str>],
    values: Parts<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let var = self.names.first().map(|i| &*self.all_names[*i]);
        match (self.consts.first(), var) {
            (Some((k, v)), Some(name)) if **k < *name => {
                self.consts = &self.consts[1..];
                Some((k, v))
            }
            (_, Some(name)) => {
                self.names = &self.names[1..];
                Some((name, self.values.next().unwrap_or_default()))
            }
            (Some((k, v)), None) => {
                self.consts = &self.consts[1..];
                Some((k, v))
            }
            (None, None) => None,
        }
    }
}

/// Appends one string to a key.
pub(crate) fn push_part(key: &mut String, part: &str) {
    key.push_str(itoa::Buffer::new().format(part.len()));
    key.push(':');
    key.push_str(part);
}

/// The key of a set of label pairs (sorted by name): name and value alternate.
pub(crate) fn pairs_key<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut key = String::new();
    for (name, value) in pairs {
        push_part(&mut key, name);
        push_part(&mut key, value);
    }
    key
}

/// The label pairs a key of [`pairs_key`] holds.
pub(crate) fn key_pairs(key: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut parts = Parts::new(key);
    std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
}

/// The strings of a key.
#[derive(Clone)]
pub(crate) struct Parts<'a> {
    rest: &'a str,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(key: &'a str) -> Self {
        Self { rest: key }
    }
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let colon = self.rest.find(':')?;
        let len: usize = self.rest[..colon].parse().ok()?;
        let start = colon + 1;
        let part = self.rest.get(start..start + len)?;
        self.rest = &self.rest[start + len..];
        Some(part)
    }
}

/// Orders two keys as sequences of strings.
pub(crate) fn cmp_keys(a: &str, b: &str) -> Ordering {
    Parts::new(a).cmp(Parts::new(b))
}

/// Orders two series by their label pairs, compared as sequences of `(name, value)`.
pub(crate) fn cmp_pairs<'a, 'b>(
    mut a: impl Iterator<Item = (&'a str, &'a str)>,
    mut b: impl Iterator<Item = (&'b str, &'b str)>,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ak, av)), Some((bk, bv))) => {
                let order = ak.cmp(bk).then_with(|| av.cmp(bv));
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
    fn keys_hold_values_in_name_order_and_give_them_back() {
        let l = layout(&[], &["size", "model"]);
        let key = l.key(&["7b", "llama"]);
        assert_eq!(key, "5:llama2:7b");
        assert_eq!(l.values(&key), ["7b", "llama"]);
    }

    #[test]
    fn pairs_merge_constants_and_variables_by_name() {
        let l = layout(&[("z", "2"), ("a", "1")], &["m", "k"]);
        let key = l.key(&["x", "y"]);
        let pairs: Vec<_> = l.pairs(&key).collect();
        assert_eq!(pairs, [("a", "1"), ("k", "y"), ("m", "x"), ("z", "2")]);
        assert_eq!(l.contiguous_at(), Some(1));
        let interleaved = layout(&[("b", "1")], &["a", "c"]);
        assert_eq!(interleaved.contiguous_at(), None);
        assert_eq!(layout(&[("b", "1")], &[]).contiguous_at(), Some(1));
    }

    #[test]
    fn pairs_keys_round_trip() {
        let key = pairs_key([("a", "1:2"), ("b", ""), ("c", "ü")]);
        let pairs: Vec<_> = key_pairs(&key).collect();
        assert_eq!(pairs, [("a", "1:2"), ("b", ""), ("c", "ü")]);
    }

    proptest! {
        #[test]
        fn keys_order_like_their_values(a in any::<Vec<String>>(), b in any::<Vec<String>>()) {
            let (mut ka, mut kb) = (String::new(), String::new());
            a.iter().for_each(|v| push_part(&mut ka, v));
            b.iter().for_each(|v| push_part(&mut kb, v));
            prop_assert_eq!(cmp_keys(&ka, &kb), a.cmp(&b));
            prop_assert_eq!(Parts::new(&ka).collect::<Vec<_>>(), a.iter().map(String::as_str).collect::<Vec<_>>());
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
