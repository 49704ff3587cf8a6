//! The Prometheus text exposition format, version 0.0.4: every line of it is written here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use super::parse::Family;
use super::{Encoder, ExtraLabels, FamilyInfo, Labels, LabelsRepr, Number, Value};
use crate::labels::Layout;

/// Writes the text format into a `String`.
///
/// ```
/// use dynamo_exporter::{Opts, Registry, TextEncoder};
///
/// let registry = Registry::new();
/// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
/// let mut text = String::new();
/// registry.encode(&[], &mut TextEncoder::new(&mut text));
/// assert_eq!(text, "# HELP jobs_total Jobs\n# TYPE jobs_total counter\njobs_total 1\n");
/// ```
pub struct TextEncoder<'a> {
    out: &'a mut String,
    name: String,
    /// The constant label text of each vec layout seen, by address.
    pieces: HashMap<usize, Rc<Pieces>>,
    /// The layout of the last series and its pieces, so a run of one vec's series looks
    /// nothing up.
    last: Option<(usize, Rc<Pieces>)>,
    /// The `le` values of each bucket layout seen, by the address of its bounds.
    les: HashMap<usize, Rc<[String]>>,
}

/// A vec's constant labels as text, before and after its variable labels; `None` when they
/// interleave, and each series writes every pair.
struct Pieces {
    around: Option<(String, String)>,
}

impl<'a> TextEncoder<'a> {
    /// An encoder that appends to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Self {
            out,
            name: String::new(),
            pieces: HashMap::new(),
            last: None,
            les: HashMap::new(),
        }
    }

    /// Appends `name`, `suffix` and `{labels}` (or nothing without labels), then a space.
    fn sample_start(&mut self, suffix: &str, labels: &Labels<'_>, le: Option<&str>) {
        self.out.push_str(&self.name);
        self.out.push_str(suffix);
        let start = self.out.len();
        self.out.push('{');
        let wrote = self.labels(labels);
        if let Some(le) = le {
            if wrote {
                self.out.push(',');
            }
            self.out.push_str("le=\"");
            self.out.push_str(le);
            self.out.push('"');
        } else if !wrote {
            self.out.truncate(start);
            self.out.push(' ');
            return;
        }
        self.out.push_str("} ");
    }

    /// Writes the label pairs, comma-separated; false when there are none.
    fn labels(&mut self, labels: &Labels<'_>) -> bool {
        match labels.repr {
            LabelsRepr::Vec { layout, key } => self.vec_labels(layout, key, labels),
            LabelsRepr::Pairs { key } if labels.extra.is_empty() => {
                // The key is the pairs' text already.
                self.out.push_str(key);
                !key.is_empty()
            }
            LabelsRepr::Pairs { .. } | LabelsRepr::Overflow { .. } => {
                push_pairs(self.out, labels.iter())
            }
        }
    }

    fn vec_labels(&mut self, layout: &Layout, key: &str, labels: &Labels<'_>) -> bool {
        let address = std::ptr::from_ref(layout) as usize;
        let pieces = match &self.last {
            Some((last, pieces)) if *last == address => Rc::clone(pieces),
            _ => {
                let pieces = Rc::clone(
                    self.pieces
                        .entry(address)
                        .or_insert_with(|| Rc::new(Pieces::of(layout, labels.extra))),
                );
                self.last = Some((address, Rc::clone(&pieces)));
                pieces
            }
        };
        let Some((before, after)) = &pieces.around else {
            return push_pairs(self.out, labels.iter());
        };
        // The key is the text of the variable pairs already.
        self.out.push_str(before);
        self.out.push_str(key);
        self.out.push_str(after);
        !(before.is_empty() && after.is_empty() && key.is_empty())
    }
}

impl Pieces {
    /// The pieces of a layout, the registry's `extra` labels among its constant ones where it
    /// has no label of the same name.
    fn of(layout: &Layout, extra: &ExtraLabels) -> Self {
        let mut consts: Vec<(Box<str>, Box<str>)> = layout.consts().to_vec();
        for (name, value) in extra {
            let taken =
                consts.iter().any(|(k, _)| k == name) || layout.names().iter().any(|n| n == name);
            if !taken {
                consts.push((name.clone(), value.clone()));
            }
        }
        consts.sort();
        let effective = Layout::new(consts, layout.names().to_vec());
        let Some(split) = effective.contiguous_at() else {
            return Self { around: None };
        };
        let has_vars = !layout.names().is_empty();
        let pairs = |range: &[(Box<str>, Box<str>)]| {
            let mut text = String::new();
            push_pairs(
                &mut text,
                range.iter().map(|(k, v)| (&**k, Cow::Borrowed(&**v))),
            );
            text
        };
        let (consts_before, consts_after) = effective.consts().split_at(split);
        let mut before = pairs(consts_before);
        let mut after = pairs(consts_after);
        if has_vars && !before.is_empty() {
            before.push(',');
        }
        if (has_vars || !before.is_empty()) && !after.is_empty() {
            after.insert(0, ',');
        }
        Self {
            around: Some((before, after)),
        }
    }
}

impl Encoder for TextEncoder<'_> {
    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.name.clear();
        self.name.push_str(family.name);
        self.out.push_str("# HELP ");
        self.out.push_str(family.name);
        self.out.push(' ');
        push_escaped(self.out, family.help, false);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(family.name);
        self.out.push(' ');
        self.out.push_str(family.kind.as_str());
        self.out.push('\n');
    }

    fn series(&mut self, labels: &Labels<'_>, value: &Value<'_>) {
        match value {
            Value::Counter(n) | Value::Gauge(n) => {
                self.sample_start("", labels, None);
                push_number(self.out, *n);
                self.out.push('\n');
            }
            Value::Histogram(h) => {
                let les = Rc::clone(
                    self.les
                        .entry(h.bounds.as_ptr() as usize)
                        .or_insert_with(|| le_values(h.bounds)),
                );
                for (le, count) in les.iter().zip(h.cumulative) {
                    self.sample_start("_bucket", labels, Some(le));
                    push_u64(self.out, *count);
                    self.out.push('\n');
                }
                self.sample_start("_sum", labels, None);
                push_f64(self.out, h.sum);
                self.out.push('\n');
                self.sample_start("_count", labels, None);
                push_u64(self.out, h.count());
                self.out.push('\n');
            }
        }
    }
}

/// Appends families that [`super::parse`] read, in the text format.
pub(crate) fn write_parsed(families: &[Family], out: &mut String) {
    for family in families {
        if let Some(help) = &family.help {
            out.push_str("# HELP ");
            out.push_str(&family.name);
            out.push(' ');
            push_escaped(out, help, false);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(&family.name);
        out.push(' ');
        out.push_str(family.kind.as_str());
        out.push('\n');
        for sample in &family.samples {
            out.push_str(&sample.name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (index, (name, value)) in sample.labels.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    push_escaped(out, value, true);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            push_f64(out, sample.value);
            if let Some(timestamp) = sample.timestamp_ms {
                out.push(' ');
                out.push_str(itoa::Buffer::new().format(timestamp));
            }
            out.push('\n');
        }
    }
}

/// The `le` label values of buckets with these bounds, `+Inf` last.
fn le_values(bounds: &[f64]) -> Rc<[String]> {
    bounds
        .iter()
        .map(|b| {
            let mut le = String::new();
            push_f64(&mut le, *b);
            le
        })
        .chain(std::iter::once("+Inf".to_string()))
        .collect()
}

/// Appends `name="value"` pairs separated by commas; false when there were none.
fn push_pairs<'a>(out: &mut String, pairs: impl Iterator<Item = (&'a str, Cow<'a, str>)>) -> bool {
    let mut any = false;
    for (name, value) in pairs {
        if any {
            out.push(',');
        }
        any = true;
        push_pair(out, name, &value);
    }
    any
}

pub(crate) fn push_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    push_escaped(out, value, true);
    out.push('"');
}

/// Appends `text` with `\` and newline escaped, and `"` too in a label value.
fn push_escaped(out: &mut String, text: &str, quote: bool) {
    let special = |b: u8| b == b'\\' || b == b'\n' || (quote && b == b'"');
    if !text.bytes().any(special) {
        out.push_str(text);
        return;
    }
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if special(b) {
            out.push_str(&text[start..i]);
            out.push_str(match b {
                b'\\' => "\\\\",
                b'\n' => "\\n",
                _ => "\\\"",
            });
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

fn push_number(out: &mut String, n: Number) {
    match n {
        Number::UInt(v) => push_u64(out, v),
        Number::Int(v) => out.push_str(itoa::Buffer::new().format(v)),
        Number::Float(v) => push_f64(out, v),
    }
}

/// Appends `v` in its shortest round-trip form: `50000`, `7.5`, `1e-7`, `+Inf`, `-Inf`, `NaN`.
fn push_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e18 {
        // Whole numbers print without a fraction; a whole f64 below 1e18 fits an i64 exactly.
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

fn push_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Formats `v` as the text format writes numbers.
#[cfg(test)]
fn f64_text(v: f64) -> String {
    let mut s = String::new();
    push_f64(&mut s, v);
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::labels::unescape;

    fn escaped_value(s: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, s, true);
        out
    }

    fn escaped_help(s: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, s, false);
        out
    }

    #[test]
    fn escapes_known_label_values() {
        let cases = [
            ("plain", "plain"),
            ("", ""),
            ("a\"b", "a\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("\\\"\n", "\\\\\\\"\\n"),
            ("ünïcødé ✓", "ünïcødé ✓"),
            ("tab\there", "tab\there"),
        ];
        for (input, expected) in cases {
            assert_eq!(escaped_value(input), expected, "escaping {input:?}");
        }
    }

    #[test]
    fn help_keeps_quotes_but_escapes_backslash_and_newline() {
        assert_eq!(escaped_help("say \"hi\"\\\n"), "say \"hi\"\\\\\\n");
    }

    #[test]
    fn formats_known_numbers() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (50000.0, "50000"),
            (7.5, "7.5"),
            (123.456789, "123.456789"),
            (0.005, "0.005"),
            (-2.5, "-2.5"),
            (1e-7, "1e-7"),
            (1e15, "1000000000000000"),
            (1e20, "1e20"),
            (1.5e300, "1.5e300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (input, expected) in cases {
            assert_eq!(f64_text(input), expected, "formatting {input:?}");
        }
    }

    proptest! {
        #[test]
        fn label_values_round_trip(s in any::<String>()) {
            let escaped = escaped_value(&s);
            prop_assert!(!escaped.contains('\n'));
            prop_assert_eq!(unescape(&escaped), s);
        }

        #[test]
        fn escaped_label_values_have_no_bare_quote(s in any::<String>()) {
            let escaped = escaped_value(&s);
            let mut backslashes = 0;
            for c in escaped.chars() {
                if c == '"' {
                    prop_assert!(backslashes % 2 == 1, "bare quote in {:?}", escaped);
                }
                backslashes = if c == '\\' { backslashes + 1 } else { 0 };
            }
        }

        #[test]
        fn help_has_no_raw_newline(s in any::<String>()) {
            prop_assert!(!escaped_help(&s).contains('\n'));
        }

        #[test]
        fn numbers_round_trip(v in any::<f64>()) {
            let text = f64_text(v);
            let parsed: f64 = match text.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                other => other.parse().unwrap(),
            };
            prop_assert!(parsed == v || (parsed.is_nan() && v.is_nan()), "{} -> {}", v, text);
        }
    }
}
