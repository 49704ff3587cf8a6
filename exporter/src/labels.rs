//! The label layout of a metric: each series renders its labels once, into one string, and
//! that string also serves to match label values and to order series.
//!
//! Labels render sorted by name. When a metric's variable labels sit next to each other in
//! that order (the usual case), a series' text holds only its variable pairs, and the
//! constant pairs before and after them are rendered once for the whole metric. Otherwise the
//! series' text holds every pair.

use std::cmp::Ordering;

use crate::format::push_label_value;
use crate::vec::bytes_eq;

/// One label of a metric, in name order.
enum Entry {
    /// `piece_len` is the length of its rendered `name="value"`.
    Const {
        name: Box<str>,
        value: Box<str>,
        piece_len: usize,
    },
    Var {
        name: Box<str>,
        index: usize,
    },
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Self::Const { name, .. } | Self::Var { name, .. } => name,
        }
    }
}

/// The labels of a series, ready to write: `before` + `text` + `after`.
#[derive(Clone, Copy)]
pub(crate) struct LabelText<'a> {
    pub(crate) before: &'a str,
    pub(crate) text: &'a str,
    pub(crate) after: &'a str,
}

impl LabelText<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.before.is_empty() && self.text.is_empty() && self.after.is_empty()
    }

    pub(crate) fn push(&self, out: &mut String) {
        out.push_str(self.before);
        out.push_str(self.text);
        out.push_str(self.after);
    }
}

/// How the labels of one metric's series are laid out.
pub(crate) struct LabelLayout {
    entries: Box<[Entry]>,
    /// Constant pairs rendered before and after each series' text, with their commas.
    before: Box<str>,
    after: Box<str>,
    /// The constant pairs interleave with the variable ones, so each text holds them all.
    consts_in_text: bool,
    /// How to walk a series' text to check its values: one step per pair in the text.
    steps: Box<[Step]>,
}

/// One pair of a series' text, as [`LabelLayout::matches`] walks it.
#[derive(Clone, Copy)]
enum Step {
    /// A constant pair and its comma: skip this many bytes.
    Skip(usize),
    /// A variable pair: skip the name, `=` and the opening quote, then compare the value.
    Value { name_skip: usize, index: usize },
}

impl LabelLayout {
    /// `const_labels` sorted by name; `variable_names` in declaration order.
    pub(crate) fn new(const_labels: &[(Box<str>, Box<str>)], variable_names: &[Box<str>]) -> Self {
        let mut entries: Vec<Entry> = const_labels
            .iter()
            .map(|(name, value)| Entry::Const {
                name: name.clone(),
                value: value.clone(),
                piece_len: pairs_text(std::iter::once((&**name, &**value))).len(),
            })
            .chain(
                variable_names
                    .iter()
                    .enumerate()
                    .map(|(index, name)| Entry::Var {
                        name: name.clone(),
                        index,
                    }),
            )
            .collect();
        entries.sort_by(|a, b| a.name().cmp(b.name()));
        let var_positions: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Entry::Var { .. }))
            .map(|(i, _)| i)
            .collect();
        let contiguous = var_positions.windows(2).all(|w| w[1] == w[0] + 1);
        let mut layout = Self {
            entries: entries.into(),
            before: "".into(),
            after: "".into(),
            consts_in_text: !contiguous,
            steps: Box::new([]),
        };
        layout.steps = layout
            .entries
            .iter()
            .filter(|e| layout.in_text(e))
            .map(|e| match e {
                Entry::Const { piece_len, .. } => Step::Skip(piece_len + 1),
                Entry::Var { name, index } => Step::Value {
                    name_skip: name.len() + 2,
                    index: *index,
                },
            })
            .collect();
        if contiguous {
            let split = var_positions
                .first()
                .copied()
                .unwrap_or(layout.entries.len());
            let has_vars = !var_positions.is_empty();
            let mut before = pairs_text(layout.entries[..split].iter().filter_map(const_pair));
            let mut after = pairs_text(layout.entries[split..].iter().filter_map(const_pair));
            if has_vars && !before.is_empty() {
                before.push(',');
            }
            if (has_vars || !before.is_empty()) && !after.is_empty() {
                after.insert(0, ',');
            }
            layout.before = before.into();
            layout.after = after.into();
        }
        layout
    }

    fn in_text(&self, entry: &Entry) -> bool {
        self.consts_in_text || matches!(entry, Entry::Var { .. })
    }

    /// The text of a series with these variable values (declaration order).
    pub(crate) fn series_text<V: AsRef<str>>(&self, values: &[V]) -> Box<str> {
        pairs_text(
            self.entries
                .iter()
                .filter(|e| self.in_text(e))
                .map(|e| match e {
                    Entry::Const { name, value, .. } => (&**name, &**value),
                    Entry::Var { name, index } => (&**name, values[*index].as_ref()),
                }),
        )
        .into()
    }

    pub(crate) fn label_text<'a>(&'a self, text: &'a str) -> LabelText<'a> {
        LabelText {
            before: &self.before,
            text,
            after: &self.after,
        }
    }

    /// True when `text` was made from these variable values.
    #[inline]
    pub(crate) fn matches<V: AsRef<str>>(&self, text: &str, values: &[V], plain: bool) -> bool {
        let text = text.as_bytes();
        let mut at = 0;
        if plain {
            // No value needs escaping: each must stand in the text as is, then its quote.
            for step in &*self.steps {
                match *step {
                    Step::Skip(len) => at += len,
                    Step::Value { name_skip, index } => {
                        let raw = values[index].as_ref().as_bytes();
                        let start = at + name_skip;
                        let end = start + raw.len();
                        if text.get(end) != Some(&b'"') || !bytes_eq(&text[start..end], raw) {
                            return false;
                        }
                        at = end + 2;
                    }
                }
            }
            return true;
        }
        for step in &*self.steps {
            match *step {
                Step::Skip(len) => at += len,
                Step::Value { name_skip, index } => {
                    let start = at + name_skip;
                    let rest = text.get(start..).unwrap_or_default();
                    match escaped_len_if_equal(rest, values[index].as_ref()) {
                        Some(len) => at = start + len + 2,
                        None => return false,
                    }
                }
            }
        }
        true
    }

    /// Every label of the series with this text, with its value, in name order.
    fn pairs<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (&'a Entry, Value<'a>)> {
        let mut cursor = 0;
        self.entries.iter().map(move |entry| match entry {
            Entry::Const { value, .. } if !self.consts_in_text => (entry, Value::Raw(value)),
            _ => {
                let (value, next) = next_value(text, cursor, entry.name().len());
                cursor = next;
                (entry, Value::Escaped(value))
            }
        })
    }

    /// Orders two series (possibly of different metrics) by their label pairs, compared as
    /// sequences of `(name, value)`.
    pub(crate) fn cmp_series(a: &Self, a_text: &str, b: &Self, b_text: &str) -> Ordering {
        let (mut a, mut b) = (a.pairs(a_text), b.pairs(b_text));
        loop {
            let ((a_entry, a_value), (b_entry, b_value)) = match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => (x, y),
            };
            let order = a_entry
                .name()
                .cmp(b_entry.name())
                .then_with(|| a_value.bytes().cmp(b_value.bytes()));
            if order != Ordering::Equal {
                return order;
            }
        }
    }
}

fn const_pair(entry: &Entry) -> Option<(&str, &str)> {
    match entry {
        Entry::Const { name, value, .. } => Some((name, value)),
        Entry::Var { .. } => None,
    }
}

/// `a="x",b="y"`, values escaped.
fn pairs_text<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        push_label_value(&mut out, value);
        out.push('"');
    }
    out
}

/// The escaped value of the pair at `start` (whose name is `name_len` bytes), and where the
/// next pair starts.
fn next_value(text: &str, start: usize, name_len: usize) -> (&str, usize) {
    let bytes = text.as_bytes();
    let from = start + name_len + 2;
    let mut i = from;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    let value = &text[from..i.min(text.len())];
    (value, i + 2)
}

/// When `text` starts with the escaped form of `raw` followed by its closing quote, the
/// length of that escaped form.
#[inline]
fn escaped_len_if_equal(text: &[u8], raw: &str) -> Option<usize> {
    let raw = raw.as_bytes();
    let len = raw.len();
    if !raw.iter().any(|&b| matches!(b, b'\\' | b'"' | b'\n')) {
        let stored = text.get(..len)?;
        return (text.get(len) == Some(&b'"') && bytes_eq(stored, raw)).then_some(len);
    }
    escaped_len_if_equal_slow(text, raw)
}

fn escaped_len_if_equal_slow(text: &[u8], raw: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &b in raw {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => std::slice::from_ref(&b),
        };
        if text.get(at..at + escaped.len()) != Some(escaped) {
            return None;
        }
        at += escaped.len();
    }
    (text.get(at) == Some(&b'"')).then_some(at)
}

/// A label value as stored: raw, or escaped inside a series' text.
enum Value<'a> {
    Raw(&'a str),
    Escaped(&'a str),
}

impl<'a> Value<'a> {
    /// The raw bytes of the value.
    fn bytes(&self) -> Unescape<'a> {
        match self {
            Self::Raw(s) => Unescape {
                bytes: s.as_bytes(),
                escaped: false,
            },
            Self::Escaped(s) => Unescape {
                bytes: s.as_bytes(),
                escaped: true,
            },
        }
    }
}

/// The bytes of a label value, unescaping `\\`, `\"` and `\n` when it is escaped.
struct Unescape<'a> {
    bytes: &'a [u8],
    escaped: bool,
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        if self.escaped && first == b'\\' {
            if let Some((&second, rest)) = rest.split_first() {
                self.bytes = rest;
                return Some(if second == b'n' { b'\n' } else { second });
            }
        }
        self.bytes = rest;
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout(consts: &[(&str, &str)], vars: &[&str]) -> LabelLayout {
        let mut consts: Vec<(Box<str>, Box<str>)> = consts
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        consts.sort();
        let vars: Vec<Box<str>> = vars.iter().map(|v| (*v).into()).collect();
        LabelLayout::new(&consts, &vars)
    }

    fn full(layout: &LabelLayout, values: &[&str]) -> String {
        let text = layout.series_text(values);
        let mut out = String::new();
        layout.label_text(&text).push(&mut out);
        out
    }

    #[test]
    fn renders_constants_around_contiguous_variables() {
        let l = layout(&[("a", "1"), ("z", "2")], &["m", "k"]);
        assert!(!l.consts_in_text);
        assert_eq!(full(&l, &["x", "y"]), "a=\"1\",k=\"y\",m=\"x\",z=\"2\"");
        assert_eq!(&*l.series_text(&["x", "y"]), "k=\"y\",m=\"x\"");
    }

    #[test]
    fn renders_interleaved_labels_in_the_text() {
        let l = layout(&[("b", "1")], &["a", "c"]);
        assert!(l.consts_in_text);
        assert_eq!(full(&l, &["x", "y"]), "a=\"x\",b=\"1\",c=\"y\"");
    }

    #[test]
    fn renders_constant_only_and_empty_layouts() {
        assert_eq!(
            full(&layout(&[("a", "1"), ("b", "2")], &[]), &[]),
            "a=\"1\",b=\"2\""
        );
        assert_eq!(full(&layout(&[], &[]), &[]), "");
        assert_eq!(full(&layout(&[], &["v"]), &[""]), "v=\"\"");
    }

    proptest! {
        #[test]
        fn text_matches_exactly_its_own_values(
            a in any::<String>(), b in any::<String>(), c in any::<String>(), d in any::<String>(),
        ) {
            let l = layout(&[("k", "q\"\\\n")], &["m", "a"]);
            let text = l.series_text(&[&a, &b]);
            let plain = |vs: &[&String]| !vs.iter().any(|v| v.bytes().any(|b| matches!(b, b'"' | b'\\' | b'\n')));
            prop_assert!(l.matches(&text, &[&a, &b], plain(&[&a, &b])));
            prop_assert!(l.matches(&text, &[&a, &b], false));
            prop_assert_eq!(l.matches(&text, &[&c, &d], plain(&[&c, &d])), a == c && b == d);
            prop_assert_eq!(l.matches(&text, &[&c, &d], false), a == c && b == d);
        }

        #[test]
        fn orders_like_the_raw_pairs(a in any::<String>(), b in any::<String>(), c in any::<String>(), d in any::<String>()) {
            let l = layout(&[("b", "const")], &["a", "c"]);
            let (x, y) = (l.series_text(&[&a, &b]), l.series_text(&[&c, &d]));
            let expected = [("a", a.as_str()), ("b", "const"), ("c", b.as_str())]
                .cmp(&[("a", c.as_str()), ("b", "const"), ("c", d.as_str())]);
            prop_assert_eq!(LabelLayout::cmp_series(&l, &x, &l, &y), expected);
        }
    }
}
