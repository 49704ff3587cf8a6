//! The Prometheus text exposition format, version 0.0.4: every line of it is written here.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use super::escape::{push_escaped, push_f64, push_int, push_pairs};
use super::{Encoder, ExtraLabels, FamilyInfo, Labels, LabelsRepr, Number, Series, Value};
use crate::storage::labels::Layout;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    /// The `le` pairs of each bucket layout seen, by the address of its bounds.
    les: HashMap<usize, Rc<Les>>,
    /// The layout of the last histogram and its pairs.
    last_les: Option<(usize, Rc<Les>)>,
}

/// The `le` pairs of a bucket layout (`le="0.5"`), with the bounds they were written from: an
/// address can be reused by other bounds, for histograms read from text.
struct Les {
    bounds: Box<[f64]>,
    pairs: Box<[String]>,
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
            last_les: None,
        }
    }

    /// Appends `name`, `suffix` and `{labels}` (or nothing without labels), then a space. A
    /// bucket's `le` or a quantile's `quantile` pair comes last, already text (`le="0.5"`).
    fn sample_start(&mut self, suffix: &str, labels: &Labels<'_>, last: Option<&str>) {
        self.out.push_str(&self.name);
        self.out.push_str(suffix);
        let start = self.out.len();
        self.out.push('{');
        let wrote = self.labels(labels);
        if let Some(pair) = last {
            if wrote {
                self.out.push(',');
            }
            self.out.push_str(pair);
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
            LabelsRepr::Pairs { .. }
            | LabelsRepr::Overflow { .. }
            | LabelsRepr::Owned(_)
            | LabelsRepr::OwnedWith { .. } => push_pairs(self.out, labels.iter()),
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
    fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        // An info `build` is the gauge `build_info`; a stateset, a gauge of its name.
        self.name.clear();
        self.name.push_str(family.name);
        self.name.push_str(family.kind.text_suffix());
        if let Some(help) = family.help {
            self.out.push_str("# HELP ");
            self.out.push_str(&self.name);
            self.out.push(' ');
            push_escaped(self.out, help, false);
            self.out.push('\n');
        }
        self.out.push_str("# TYPE ");
        self.out.push_str(&self.name);
        self.out.push(' ');
        self.out.push_str(family.kind.text_kind().as_str());
        self.out.push('\n');
    }

    fn series(&mut self, series: &Series<'_>) {
        let labels = &series.labels;
        let timestamp = series.timestamp_ms;
        match &series.value {
            Value::Number(n) => {
                self.sample_start("", labels, None);
                push_number(self.out, *n);
                self.end_line(timestamp);
            }
            Value::Histogram(h) => {
                let les = self.les(h.bounds);
                for (le, count) in les.pairs.iter().zip(h.cumulative) {
                    self.sample_start("_bucket", labels, Some(le));
                    push_int(self.out, *count);
                    self.end_line(timestamp);
                }
                if let Some(sum) = h.sum {
                    self.sample_start("_sum", labels, None);
                    push_f64(self.out, sum);
                    self.end_line(timestamp);
                }
                self.sample_start("_count", labels, None);
                push_int(self.out, h.count);
                self.end_line(timestamp);
            }
            Value::Summary(s) => {
                let mut quantile = String::new();
                for (q, v) in s.quantiles {
                    quantile.clear();
                    quantile.push_str("quantile=\"");
                    push_f64(&mut quantile, *q);
                    quantile.push('"');
                    self.sample_start("", labels, Some(&quantile));
                    push_f64(self.out, *v);
                    self.end_line(timestamp);
                }
                if let Some(sum) = s.sum {
                    self.sample_start("_sum", labels, None);
                    push_f64(self.out, sum);
                    self.end_line(timestamp);
                }
                if let Some(count) = s.count {
                    self.sample_start("_count", labels, None);
                    push_int(self.out, count);
                    self.end_line(timestamp);
                }
            }
        }
    }
}

impl TextEncoder<'_> {
    /// Ends a sample line, with its timestamp if it has one.
    fn end_line(&mut self, timestamp_ms: Option<i64>) {
        if let Some(timestamp) = timestamp_ms {
            self.out.push(' ');
            push_int(self.out, timestamp);
        }
        self.out.push('\n');
    }

    /// The `le` pairs of buckets with these bounds, `+Inf` last, written once per layout; a run
    /// of series of one layout finds them without a lookup.
    fn les(&mut self, bounds: &[f64]) -> Rc<Les> {
        let address = bounds.as_ptr() as usize;
        if let Some((last, les)) = &self.last_les {
            if *last == address && *les.bounds == *bounds {
                return Rc::clone(les);
            }
        }
        let les = match self.les.get(&address) {
            Some(les) if *les.bounds == *bounds => Rc::clone(les),
            _ => {
                let les = Rc::new(Les {
                    bounds: bounds.into(),
                    pairs: le_pairs(bounds),
                });
                self.les.insert(address, Rc::clone(&les));
                les
            }
        };
        self.last_les = Some((address, Rc::clone(&les)));
        les
    }
}

fn push_number(out: &mut String, n: Number) {
    match n {
        Number::UInt(v) => push_int(out, v),
        Number::Int(v) => push_int(out, v),
        Number::Float(v) => push_f64(out, v),
    }
}

/// The `le` pairs of buckets with these bounds, `+Inf` last.
fn le_pairs(bounds: &[f64]) -> Box<[String]> {
    bounds
        .iter()
        .map(|b| {
            let mut le = String::from("le=\"");
            push_f64(&mut le, *b);
            le.push('"');
            le
        })
        .chain(std::iter::once("le=\"+Inf\"".to_string()))
        .collect()
}
