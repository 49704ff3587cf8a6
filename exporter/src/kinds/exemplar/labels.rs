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
            let name = name.as_ref();
            if let Some(reason) = label_name_problem(name) {
                return Err(invalid(reason, name));
            }
            if labels[..at].iter().any(|(other, _)| other.as_ref() == name) {
                return Err(invalid("a label name is given more than once", name));
            }
            bytes += name.len() + value.as_ref().len();
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
        let mut sorted: Vec<(&str, &str)> = pairs.collect();
        sorted.sort_unstable();
        Ok(Self::packed(count, size, sorted.into_iter()))
    }

    /// The exemplar of `pairs`, sorted and checked, which pack into `size` bytes.
    fn packed<'a>(
        pairs: u8,
        size: usize,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let packed = if size <= INLINE {
            let mut bytes = [0; INLINE];
            pack(&mut bytes[..size], labels);
            let len = u8::try_from(size).unwrap_or_else(|_| unreachable!("at most INLINE"));
            Packed::Inline { len, bytes }
        } else {
            let mut bytes = vec![0; size];
            pack(&mut bytes, labels);
            Packed::Shared(bytes.into())
        };
        Self { pairs, packed }
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

/// Writes `labels` into `out`, which is their packed size.
fn pack<'a>(out: &mut [u8], labels: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut at = 0;
    for (name, value) in labels {
        // Lengths checked by `Exemplar::new`: a name of at most 128 ASCII characters, a
        // value of at most 128 characters.
        out[at] = name.len() as u8;
        out[at + 1..at + HEADER].copy_from_slice(&(value.len() as u16).to_le_bytes());
        at += HEADER;
        out[at..at + name.len()].copy_from_slice(name.as_bytes());
        at += name.len();
        out[at..at + value.len()].copy_from_slice(value.as_bytes());
        at += value.len();
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
