//! The OpenMetrics 1.0 text format: every line of it is written here.
//!
//! It differs from the Prometheus text format in what a scraper can tell from it: a counter
//! family is named without `_total` while its samples carry it, a family of no type is
//! `unknown`, floats (bucket bounds and quantiles above all) take one canonical form
//! (`1.0`, `1e+06`), help escapes `"` as label values do, timestamps are in seconds, and the
//! page ends with `# EOF`. Sums and counts are counters in OpenMetrics, so a sum that is not
//! one (negative or NaN, or a histogram's with negative bucket bounds) is left out, and a
//! histogram's count with it.
//!
//! OpenMetrics counts `<name>_created` part of the counter, histogram or summary `<name>`.
//! The Python client writes it in the Prometheus text format as a gauge family of its own
//! beside each of them, and engine text brings those here; a gauge named so is left out when
//! its family is on the page, where a scraper would refuse the page for two families of one
//! name.

mod number;

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use super::escape::{push_escaped, push_int, push_pairs};
use super::label_text::LabelText;
use super::{Encoder, FamilyInfo, HistogramValue, Number, Series, SummaryValue, Value};
use crate::kinds::RecordedExemplar;
use crate::kinds::table::MetricKind;
use number::{push_float, push_seconds};

/// The `Content-Type` of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The suffix of a counter's samples.
const TOTAL: &str = "_total";

/// The suffix of the time a counter, histogram or summary was created.
const CREATED: &str = "_created";

/// What an info's sample name adds to its family's.
const INFO: &str = "_info";

/// Writes the OpenMetrics 1.0 text format into a `String`.
///
/// ```
/// use dynamo_exporter::exposition::{Encoder, OpenMetricsEncoder};
/// use dynamo_exporter::{Opts, Registry};
///
/// let registry = Registry::new();
/// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
/// let mut page = String::new();
/// let mut encoder = OpenMetricsEncoder::new(&mut page);
/// registry.encode(&[], &mut encoder);
/// encoder.finish();
/// assert_eq!(page, "# HELP jobs Jobs\n# TYPE jobs counter\njobs_total 1\n# EOF\n");
/// ```
pub struct OpenMetricsEncoder<'a> {
    out: &'a mut String,
    /// The family's name as its samples begin: a counter's with `_total`.
    sample_name: String,
    /// The label pairs of the current series, written once for all its samples.
    labels: String,
    label_text: LabelText,
    /// The names of the counter, histogram and summary families written: those that own a
    /// `_created` sample.
    owners: HashSet<String>,
    /// Gauge families named `<name>_created`: where each is written in `out`, and `<name>`.
    created: Vec<(Range<usize>, String)>,
    /// The current family is a counter or a histogram: its samples may carry exemplars.
    exemplars_allowed: bool,
}

impl<'a> OpenMetricsEncoder<'a> {
    /// An encoder that appends to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Self {
            out,
            sample_name: String::new(),
            labels: String::new(),
            label_text: LabelText::default(),
            owners: HashSet::new(),
            created: Vec::new(),
            exemplars_allowed: false,
        }
    }

    /// Writes one sample line: the name and `suffix`, the series' labels and `last` (a
    /// bucket's `le` or a quantile's `quantile` pair, already text), then `value` and the
    /// timestamp.
    fn sample(
        &mut self,
        suffix: &str,
        last: Option<&str>,
        value: impl FnOnce(&mut String),
        timestamp_ms: Option<i64>,
    ) {
        self.sample_with_exemplar(suffix, last, value, timestamp_ms, None);
    }

    /// Writes one sample line as [`Self::sample`] does, with `exemplar` after the value if
    /// there is one.
    fn sample_with_exemplar(
        &mut self,
        suffix: &str,
        last: Option<&str>,
        value: impl FnOnce(&mut String),
        timestamp_ms: Option<i64>,
        exemplar: Option<&RecordedExemplar>,
    ) {
        self.out.push_str(&self.sample_name);
        self.out.push_str(suffix);
        match (self.labels.is_empty(), last) {
            (true, None) => {}
            (true, Some(pair)) => {
                self.out.push('{');
                self.out.push_str(pair);
                self.out.push('}');
            }
            (false, last) => {
                self.out.push('{');
                self.out.push_str(&self.labels);
                if let Some(pair) = last {
                    self.out.push(',');
                    self.out.push_str(pair);
                }
                self.out.push('}');
            }
        }
        self.out.push(' ');
        value(self.out);
        if let Some(timestamp) = timestamp_ms {
            self.out.push(' ');
            push_seconds(self.out, timestamp);
        }
        if let Some(exemplar) = exemplar {
            push_exemplar(self.out, exemplar);
        }
        self.out.push('\n');
    }

    fn histogram(
        &mut self,
        h: &HistogramValue<'_>,
        timestamp_ms: Option<i64>,
        exemplars: &[RecordedExemplar],
    ) {
        let mut le = String::new();
        let bounds = h.bounds.iter().copied().chain([f64::INFINITY]);
        for (bucket, (bound, count)) in bounds.zip(h.cumulative).enumerate() {
            le.clear();
            le.push_str("le=\"");
            push_float(&mut le, bound);
            le.push('"');
            self.sample_with_exemplar(
                "_bucket",
                Some(&le),
                |out| push_int(out, *count),
                timestamp_ms,
                exemplars.iter().find(|e| e.bucket == bucket),
            );
        }
        let negative_bounds = h.bounds.first().is_some_and(|b| *b < 0.0);
        let Some(sum) = h.sum.filter(|sum| is_counter(*sum) && !negative_bounds) else {
            return;
        };
        self.sample("_sum", None, |out| push_float(out, sum), timestamp_ms);
        self.sample("_count", None, |out| push_int(out, h.count), timestamp_ms);
    }

    /// Ends the range of the `_created` gauge family being written, if one is.
    fn end_created(&mut self) {
        if let Some((range, _)) = self.created.last_mut() {
            if range.end == range.start {
                range.end = self.out.len();
            }
        }
    }

    fn summary(&mut self, s: &SummaryValue<'_>, timestamp_ms: Option<i64>) {
        let mut quantile = String::new();
        for (q, v) in s.quantiles {
            quantile.clear();
            quantile.push_str("quantile=\"");
            push_float(&mut quantile, *q);
            quantile.push('"');
            self.sample("", Some(&quantile), |out| push_float(out, *v), timestamp_ms);
        }
        if let Some(sum) = s.sum.filter(|sum| is_counter(*sum)) {
            self.sample("_sum", None, |out| push_float(out, sum), timestamp_ms);
        }
        if let Some(count) = s.count {
            self.sample("_count", None, |out| push_int(out, count), timestamp_ms);
        }
    }
}

/// Appends an exemplar after a sample's value: ` # {labels} value timestamp`, the label
/// values escaped.
fn push_exemplar(out: &mut String, exemplar: &RecordedExemplar) {
    out.push_str(" # {");
    push_pairs(
        out,
        exemplar
            .exemplar
            .labels()
            .map(|(k, v)| (k, Cow::Borrowed(v))),
    );
    out.push_str("} ");
    push_float(out, exemplar.value);
    out.push(' ');
    push_seconds(out, exemplar.timestamp_ms);
}

/// True for a value a counter can hold: neither negative nor NaN.
fn is_counter(v: f64) -> bool {
    v >= 0.0
}

/// The name a family is known by in OpenMetrics: a counter's without `_total`.
fn family_name<'a>(family: &FamilyInfo<'a>) -> &'a str {
    match family.kind {
        MetricKind::Counter => family
            .name
            .strip_suffix(TOTAL)
            .filter(|name| !name.is_empty())
            .unwrap_or(family.name),
        _ => family.name,
    }
}

/// The word on a family's `# TYPE` line.
fn type_word(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Untyped => "unknown",
        other => other.as_str(),
    }
}

fn push_number(out: &mut String, n: Number) {
    match n {
        Number::UInt(v) => push_int(out, v),
        Number::Int(v) => push_int(out, v),
        Number::Float(v) => push_float(out, v),
    }
}

impl Encoder for OpenMetricsEncoder<'_> {
    fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        let name = family_name(family);
        self.end_created();
        match family.kind {
            MetricKind::Counter | MetricKind::Histogram | MetricKind::Summary => {
                self.owners.insert(name.to_string());
            }
            MetricKind::Gauge => {
                if let Some(owner) = name.strip_suffix(CREATED) {
                    let at = self.out.len();
                    self.created.push((at..at, owner.to_string()));
                }
            }
            _ => {}
        }
        if let Some(help) = family.help {
            self.out.push_str("# HELP ");
            self.out.push_str(name);
            self.out.push(' ');
            push_escaped(self.out, help, true);
            self.out.push('\n');
        }
        self.out.push_str("# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(type_word(family.kind));
        self.out.push('\n');
        self.exemplars_allowed = matches!(family.kind, MetricKind::Counter | MetricKind::Histogram);
        self.sample_name.clear();
        self.sample_name.push_str(name);
        match family.kind {
            MetricKind::Counter => self.sample_name.push_str(TOTAL),
            MetricKind::Info => self.sample_name.push_str(INFO),
            _ => {}
        }
    }

    fn series(&mut self, series: &Series<'_>) {
        self.labels.clear();
        self.label_text.write(&mut self.labels, &series.labels);
        let timestamp = series.timestamp_ms;
        // Exemplars belong to counters' and histograms' samples only.
        let exemplars = if self.exemplars_allowed {
            series.exemplars
        } else {
            &[]
        };
        match &series.value {
            Value::Number(n) => self.sample_with_exemplar(
                "",
                None,
                |out| push_number(out, *n),
                timestamp,
                exemplars.first(),
            ),
            Value::Histogram(h) => self.histogram(h, timestamp, exemplars),
            Value::Summary(s) => self.summary(s, timestamp),
        }
    }

    fn finish(&mut self) {
        self.end_created();
        for (range, owner) in self.created.drain(..).rev() {
            if self.owners.contains(&owner) {
                self.out.replace_range(range, "");
            }
        }
        self.out.push_str("# EOF\n");
    }
}
