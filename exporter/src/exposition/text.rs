//! The Prometheus text exposition format, version 0.0.4: every line of it is written here.

use std::collections::HashMap;
use std::rc::Rc;

use super::escape::{push_escaped, push_f64, push_int};
use super::label_text::LabelText;
use super::{Encoder, FamilyInfo, Labels, Number, Series, Value};

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
    label_text: LabelText,
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

impl<'a> TextEncoder<'a> {
    /// An encoder that appends to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Self {
            out,
            name: String::new(),
            label_text: LabelText::default(),
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
        self.label_text.write(self.out, labels)
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
