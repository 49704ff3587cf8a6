//! The labels of an exemplar: checked once, then packed into one buffer, held in line when
//! small (a trace and a span id fit), so keeping one copies bytes rather than sharing a
//! reference count.

use std::sync::Arc;

use crate::error::ExporterError;
use crate::registry::validate::label_name_problem;

/// The most characters (names and values together) an exemplar's labels may have, as
/// OpenMetrics 1.0 allows.
pub const MAX_EXEMPLAR_RUNES: usize = 128;

/// Bytes of packed labels held in line: `trace_id` and `span_id` with their 32 and 16 hex
/// digits take 69.
const INLINE: usize = 86;

/// Labels out of name order are sorted on the stack up to this many, in a vector beyond.
const SORTED_ON_STACK: usize = 8;

/// Each pair's header in the packed form: the name's length (one byte: a name is ASCII, at
/// most 128 characters) and the value's (two bytes: at most 128 characters of four bytes).
const HEADER: usize = 3;

/// Labels to attach to an update, checked once when built: `trace_id`, `span_id`, ...
///
/// Labels of up to 86 bytes (with three bytes per pair) are held in line, so making, keeping
/// and cloning one allocates nothing; larger ones are shared.
///
/// ```
/// # use dynamo_exporter::{Exemplar, Opts, Registry};
/// let registry = Registry::new();
/// let requests = registry.int_counter(&Opts::new("requests_total", "Requests")).unwrap();
/// let exemplar = Exemplar::new(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]).unwrap();
/// requests.inc_by_with_exemplar(1, &exemplar);
/// assert_eq!(requests.get(), 1);
/// assert!(Exemplar::new(&[("trace id", "x")]).is_err());
/// ```
pub struct Exemplar {
    pairs: u8,
    packed: Packed,
}

impl Clone for Exemplar {
    fn clone(&self) -> Self {
        Self {
            pairs: self.pairs,
            packed: self.packed.clone(),
        }
    }

    /// Labels held in line are copied over the old ones in place.
    fn clone_from(&mut self, source: &Self) {
        self.pairs = source.pairs;
        match (&mut self.packed, &source.packed) {
            (
                Packed::Inline { len, bytes },
                Packed::Inline {
                    len: new_len,
                    bytes: new_bytes,
                },
            ) => {
                *len = *new_len;
                *bytes = *new_bytes;
            }
            (packed, source) => *packed = source.clone(),
        }
    }
}

/// Pairs sorted by name, each as its header, its name and its value.
#[derive(Clone)]
enum Packed {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

impl Packed {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Shared(bytes) => bytes,
        }
    }
}

impl PartialEq for Exemplar {
    fn eq(&self, other: &Self) -> bool {
        self.packed.as_bytes() == other.packed.as_bytes()
    }
}

impl Eq for Exemplar {}

impl Exemplar {
    /// An exemplar of these labels. Refused when a name is not a valid label name or is
    /// given twice, or when the names and values have more than [`MAX_EXEMPLAR_RUNES`]
    /// characters together.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(labels: &[(K, V)]) -> Result<Self, ExporterError> {
        let mut bytes = 0;
        for (at, (name, value)) in labels.iter().enumerate() {
            check_name(name.as_ref(), labels[..at].iter().map(|(n, _)| n.as_ref()))?;
            bytes += name.as_ref().len() + value.as_ref().len();
        }
        // A character takes one byte at least: they are counted only when the bytes are over.
        if bytes > MAX_EXEMPLAR_RUNES {
            too_many_characters(labels)?;
        }
        let pairs = labels.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
        let size = bytes + HEADER * labels.len();
        let count = u8::try_from(labels.len()).unwrap_or_else(|_| unreachable!("checked"));
        if labels.windows(2).all(|w| w[0].0.as_ref() < w[1].0.as_ref()) {
            return Ok(Self::packed(count, size, pairs));
        }
        // The names differ: their order is the pairs'. A few are sorted by place, on the stack.
        let by_name = |a: &usize, b: &usize| labels[*a].0.as_ref().cmp(labels[*b].0.as_ref());
        let pair = |at: &usize| (labels[*at].0.as_ref(), labels[*at].1.as_ref());
        if labels.len() <= SORTED_ON_STACK {
            let mut order = [0; SORTED_ON_STACK];
            let order = &mut order[..labels.len()];
            order.iter_mut().enumerate().for_each(|(at, o)| *o = at);
            order.sort_unstable_by(by_name);
            return Ok(Self::packed(count, size, order.iter().map(pair)));
        }
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_unstable_by(by_name);
        Ok(Self::packed(count, size, order.iter().map(pair)))
    }

    /// The exemplar of `pairs`, sorted and checked, which pack into `size` bytes.
    fn packed<'a>(
        pairs: u8,
        size: usize,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        if size <= INLINE {
            // Packed in place, where the caller keeps the exemplar.
            let len = u8::try_from(size).unwrap_or_else(|_| unreachable!("at most INLINE"));
            let mut exemplar = Self {
                pairs,
                packed: Packed::Inline {
                    len,
                    bytes: [0; INLINE],
                },
            };
            if let Packed::Inline { bytes, .. } = &mut exemplar.packed {
                pack(&mut bytes[..size], labels);
            }
            return exemplar;
        }
        let mut bytes = vec![0; size];
        pack(&mut bytes, labels);
        Self {
            pairs,
            packed: Packed::Shared(bytes.into()),
        }
    }

    /// The label pairs, sorted by name.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        Labels {
            rest: self.packed.as_bytes(),
            left: usize::from(self.pairs),
        }
    }
}

impl std::fmt::Debug for Exemplar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.labels()).finish()
    }
}

/// Label names checked once, for exemplars made again and again with new values (the trace
/// and span ids of each request): making one then checks only the values' length.
///
/// ```
/// # use dynamo_exporter::{Exemplar, ExemplarNames};
/// let names = ExemplarNames::new(&["trace_id", "span_id"]).unwrap();
/// let exemplar = names.exemplar(&["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"]).unwrap();
/// let same = Exemplar::new(&[
///     ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
///     ("span_id", "00f067aa0ba902b7"),
/// ]);
/// assert_eq!(exemplar, same.unwrap());
/// assert!(names.exemplar(&["only one value"]).is_err());
/// assert!(ExemplarNames::new(&["trace id"]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct ExemplarNames {
    /// The names sorted, each with the place of its value among the values given.
    sorted: Box<[(Box<str>, usize)]>,
    /// The names' bytes together (their characters: a name is ASCII).
    name_bytes: usize,
}

impl ExemplarNames {
    /// These names, checked as [`Exemplar::new`] checks them. Refused also when the names
    /// alone have more than [`MAX_EXEMPLAR_RUNES`] characters.
    pub fn new<N: AsRef<str>>(names: &[N]) -> Result<Self, ExporterError> {
        for (at, name) in names.iter().enumerate() {
            check_name(name.as_ref(), names[..at].iter().map(AsRef::as_ref))?;
        }
        let mut sorted: Vec<(Box<str>, usize)> = names
            .iter()
            .enumerate()
            .map(|(at, name)| (name.as_ref().into(), at))
            .collect();
        sorted.sort_unstable();
        let name_bytes = sorted.iter().map(|(name, _)| name.len()).sum();
        if name_bytes > MAX_EXEMPLAR_RUNES {
            let pairs: Vec<(&str, &str)> = sorted.iter().map(|(n, _)| (&**n, "")).collect();
            too_many_characters(&pairs)?;
        }
        Ok(Self {
            sorted: sorted.into(),
            name_bytes,
        })
    }

    /// The exemplar of these values, one for each name in the order the names were given.
    /// Refused when there are more or fewer values than names, or more than
    /// [`MAX_EXEMPLAR_RUNES`] characters in the names and values together.
    #[inline]
    pub fn exemplar<V: AsRef<str>>(&self, values: &[V]) -> Result<Exemplar, ExporterError> {
        if values.len() != self.sorted.len() {
            return Err(self.wrong_count(&values.iter().map(AsRef::as_ref).collect::<Vec<_>>()));
        }
        let bytes = self.name_bytes + values.iter().map(|v| v.as_ref().len()).sum::<usize>();
        let pairs = self
            .sorted
            .iter()
            .map(|(name, at)| (&**name, values[*at].as_ref()));
        if bytes > MAX_EXEMPLAR_RUNES {
            too_many_characters(&pairs.clone().collect::<Vec<_>>())?;
        }
        let count = u8::try_from(values.len()).unwrap_or_else(|_| unreachable!("checked"));
        Ok(Exemplar::packed(
            count,
            bytes + HEADER * values.len(),
            pairs,
        ))
    }

    #[cold]
    fn wrong_count(&self, values: &[&str]) -> ExporterError {
        ExporterError::InvalidExemplar {
            reason: format!(
                "{} values for {} label names",
                values.len(),
                self.sorted.len()
            ),
            value: values.join(","),
        }
    }
}

/// Writes `labels` into `out`, which is their packed size.
fn pack<'a>(mut out: &mut [u8], labels: impl Iterator<Item = (&'a str, &'a str)>) {
    for (name, value) in labels {
        // Lengths checked by the caller: a name of at most 128 ASCII characters, a value of
        // at most 128 characters.
        let (header, rest) = out.split_at_mut(HEADER);
        header[0] = name.len() as u8;
        header[1..].copy_from_slice(&(value.len() as u16).to_le_bytes());
        let (name_out, rest) = rest.split_at_mut(name.len());
        copy_short(name_out, name.as_bytes());
        let (value_out, rest) = rest.split_at_mut(value.len());
        copy_short(value_out, value.as_bytes());
        out = rest;
    }
}

/// Copies `from` into `out`, of the same length: up to 32 bytes as two copies of a fixed
/// length that overlap (a few moves, where a call of `memcpy` takes a few dozen
/// instructions), longer ones with `memcpy`.
#[inline(always)]
fn copy_short(out: &mut [u8], from: &[u8]) {
    let len = from.len();
    let out = &mut out[..len];
    match len {
        16..=32 => {
            out[..16].copy_from_slice(&from[..16]);
            out[len - 16..].copy_from_slice(&from[len - 16..]);
        }
        8..=15 => {
            out[..8].copy_from_slice(&from[..8]);
            out[len - 8..].copy_from_slice(&from[len - 8..]);
        }
        4..=7 => {
            out[..4].copy_from_slice(&from[..4]);
            out[len - 4..].copy_from_slice(&from[len - 4..]);
        }
        1..=3 => {
            out[0] = from[0];
            out[len / 2] = from[len / 2];
            out[len - 1] = from[len - 1];
        }
        _ => out.copy_from_slice(from),
    }
}

/// The pairs of a packed buffer.
struct Labels<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let [name_len, v0, v1, rest @ ..] = self.rest else {
            return None;
        };
        let (name, rest) = rest.split_at(usize::from(*name_len));
        let (value, rest) = rest.split_at(usize::from(u16::from_le_bytes([*v0, *v1])));
        self.rest = rest;
        self.left -= 1;
        // Whole `str`s when packed, cut where they began and ended.
        let text = |bytes| std::str::from_utf8(bytes).unwrap_or_default();
        Some((text(name), text(value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Labels<'_> {}

/// Refuses `labels` when their names and values have more than [`MAX_EXEMPLAR_RUNES`]
/// characters together.
#[cold]
fn too_many_characters<K: AsRef<str>, V: AsRef<str>>(
    labels: &[(K, V)],
) -> Result<(), ExporterError> {
    let runes: usize = labels
        .iter()
        .map(|(k, v)| k.as_ref().chars().count() + v.as_ref().chars().count())
        .sum();
    if runes <= MAX_EXEMPLAR_RUNES {
        return Ok(());
    }
    let text = labels
        .iter()
        .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    Err(ExporterError::InvalidExemplar {
        reason: format!(
            "its labels have {runes} characters, more than the {MAX_EXEMPLAR_RUNES} allowed"
        ),
        value: text,
    })
}

/// Refuses `name` when it is not a valid label name or is one of the `earlier` names.
fn check_name<'a>(
    name: &str,
    mut earlier: impl Iterator<Item = &'a str>,
) -> Result<(), ExporterError> {
    if let Some(reason) = label_name_problem(name) {
        return Err(invalid(reason, name));
    }
    if earlier.any(|other| other == name) {
        return Err(invalid("a label name is given more than once", name));
    }
    Ok(())
}

fn invalid(reason: &str, name: &str) -> ExporterError {
    ExporterError::InvalidExemplar {
        reason: format!("label name {name:?}: {reason}"),
        value: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked_and_sorted() {
        let exemplar = Exemplar::new(&[("trace_id", "abc"), ("span_id", "01")]).unwrap();
        let labels: Vec<_> = exemplar.labels().collect();
        assert_eq!(labels, [("span_id", "01"), ("trace_id", "abc")]);
        assert_eq!(exemplar.labels().len(), 2);
        assert_eq!(
            exemplar,
            Exemplar::new(&[("span_id", "01"), ("trace_id", "abc")]).unwrap()
        );
        assert_ne!(
            exemplar,
            Exemplar::new(&[("span_id", "01"), ("trace_id", "abd")]).unwrap()
        );
        assert_eq!(
            format!("{exemplar:?}"),
            r#"{"span_id": "01", "trace_id": "abc"}"#
        );
        let empty = Exemplar::new::<&str, &str>(&[]).unwrap();
        assert_eq!(empty.labels().len(), 0);
    }

    #[test]
    fn small_labels_are_held_in_line_and_large_ones_shared_with_the_same_text() {
        let trace = Exemplar::new(&[
            ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("span_id", "00f067aa0ba902b7"),
        ])
        .unwrap();
        assert!(matches!(trace.packed, Packed::Inline { len: 69, .. }));
        let long = "é".repeat(60);
        let large = Exemplar::new(&[("z", long.as_str()), ("a", "ü"), ("m", "")]).unwrap();
        assert!(matches!(large.packed, Packed::Shared(_)));
        let labels: Vec<_> = large.labels().collect();
        assert_eq!(labels, [("a", "ü"), ("m", ""), ("z", long.as_str())]);
        let clone = large.clone();
        assert_eq!(clone.labels().collect::<Vec<_>>(), labels);
    }

    #[test]
    fn at_most_128_characters_counted_as_characters() {
        let name = "trace_id";
        let fits = "é".repeat(MAX_EXEMPLAR_RUNES - name.len());
        let kept = Exemplar::new(&[(name, fits.as_str())]).unwrap();
        assert_eq!(kept.labels().next(), Some((name, fits.as_str())));
        let over = format!("{fits}x");
        let error = Exemplar::new(&[(name, over.as_str())]).unwrap_err();
        assert!(matches!(
            &error,
            ExporterError::InvalidExemplar { value, .. } if value.contains(&over)
        ));
        assert!(error.to_string().contains("129 characters"), "{error}");
        let ascii_over = "x".repeat(MAX_EXEMPLAR_RUNES - name.len() + 1);
        assert!(Exemplar::new(&[(name, ascii_over.as_str())]).is_err());
    }

    #[test]
    fn labels_in_any_order_pack_as_the_sorted_ones_do() {
        // Eight are sorted on the stack, nine in a vector.
        for count in [3, 8, 9] {
            let names: Vec<String> = (0..count).map(|n| format!("l{n}")).collect();
            let sorted: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            let reversed: Vec<(&str, &str)> = sorted.iter().rev().copied().collect();
            let exemplar = Exemplar::new(&reversed).unwrap();
            assert_eq!(exemplar, Exemplar::new(&sorted).unwrap(), "{count} labels");
            assert_eq!(exemplar.labels().collect::<Vec<_>>(), sorted);
        }
    }

    #[test]
    fn names_checked_once_make_the_exemplars_new_makes() {
        let names = ExemplarNames::new(&["trace_id", "span_id", "host"]).unwrap();
        let made = names.exemplar(&["abc", "01", "h"]).unwrap();
        let expected = Exemplar::new(&[("trace_id", "abc"), ("span_id", "01"), ("host", "h")]);
        assert_eq!(made, expected.unwrap());
        assert_eq!(
            made.labels().collect::<Vec<_>>(),
            [("host", "h"), ("span_id", "01"), ("trace_id", "abc")]
        );
        let error = names.exemplar(&["abc", "01"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"invalid exemplar "abc,01": 2 values for 3 label names"#
        );
        let over = "x".repeat(MAX_EXEMPLAR_RUNES);
        let error = names.exemplar(&[over.as_str(), "", ""]).unwrap_err();
        assert!(error.to_string().contains("147 characters"), "{error}");
        let fits = "x".repeat(MAX_EXEMPLAR_RUNES - "trace_idspan_idhost".len());
        assert!(names.exemplar(&[fits.as_str(), "", ""]).is_ok());
        let long_name = format!("{over}x");
        for bad in [&["a-b"][..], &["a", "a"], &[long_name.as_str()]] {
            assert!(ExemplarNames::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn short_copies_copy_every_length() {
        let from: Vec<u8> = (1..=40).collect();
        for len in 0..=40 {
            let mut out = vec![0; len];
            copy_short(&mut out, &from[..len]);
            assert_eq!(out, from[..len], "{len} bytes");
        }
    }

    #[test]
    fn bad_names_are_named() {
        for name in ["", "1a", "a-b", "__x"] {
            match Exemplar::new(&[(name, "v")]) {
                Err(ExporterError::InvalidExemplar { value, .. }) => assert_eq!(value, name),
                other => panic!("{name:?}: {other:?}"),
            }
        }
        assert!(Exemplar::new(&[("a", "1"), ("a", "2")]).is_err());
        assert!(Exemplar::new(&[("b", "1"), ("a", "2"), ("b", "3")]).is_err());
    }
}
