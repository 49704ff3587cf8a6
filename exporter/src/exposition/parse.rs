//! A strict reader of the text exposition format 0.0.4, and a writer of what it read.
//!
//! [`parse`] turns text into [`Family`]s with typed [`Sample`]s: `# HELP` and `# TYPE` lines
//! (each at most once per family, `TYPE` before the family's samples), sample lines with
//! escaped label values (returned unescaped), `+Inf`, `-Inf`, `NaN`, and optional timestamps.
//! Every family's lines must form one group, a sample's labels must be distinct, and a
//! series may appear once. The first line that breaks a rule is a [`ParseError`] naming its
//! number and what is wrong, so text from outside (callbacks, engines) can be refused before
//! it spoils a page. Histograms and summaries must hold whole counts, and their `le` and
//! `quantile` labels only where they belong, so every family read can be written in any
//! format: [`crate::exposition::encode_parsed`] hands them to an encoder.
//!
//! ```
//! use dynamo_exporter::MetricKind;
//! use dynamo_exporter::parse;
//!
//! let text = "# TYPE requests_total counter\nrequests_total{model=\"a\\\"b\"} 3\n";
//! let families = parse::parse(text).unwrap();
//! assert_eq!(families[0].name, "requests_total");
//! assert_eq!(families[0].kind, MetricKind::Counter);
//! assert_eq!(families[0].samples[0].labels, [("model".to_string(), "a\"b".to_string())]);
//!
//! let error = parse::parse("requests_total{model=\"a\"} three\n").unwrap_err();
//! assert_eq!(error.line, 1);
//! ```

use std::collections::HashSet;
use std::fmt;

use crate::kinds::table::MetricKind;

/// The type of a family: [`MetricKind`], which this module once named separately.
#[deprecated(note = "use dynamo_exporter::MetricKind")]
pub type FamilyType = MetricKind;

/// Every sample name a family of this name and type may write.
#[deprecated(note = "use MetricKind::sample_names")]
#[must_use]
pub fn sample_names(name: &str, kind: MetricKind) -> Vec<String> {
    kind.sample_names(name)
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (with `_bucket`, `_sum` or `_count` for histograms and summaries).
    pub name: String,
    /// Label pairs in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds since the epoch, if the line has one.
    pub timestamp_ms: Option<i64>,
}

/// A family: its name, help, type and samples, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name.
    pub name: String,
    /// The help text, unescaped, if the family has a `# HELP` line.
    pub help: Option<String>,
    /// The type (`untyped` when the text gives none).
    pub kind: MetricKind,
    /// The samples.
    pub samples: Vec<Sample>,
    /// Samples kept in sets that share a name and labels (the parser makes none): written
    /// after [`Family::samples`] and sorted with them.
    pub sets: Vec<SampleSet>,
}

/// Samples with the same name and labels but for one label, whose value each has its own:
/// prometheus_client's gauges of a multiprocess directory, one per process with its `pid`,
/// kept without a copy of the shared labels per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSet {
    /// The samples' name.
    pub name: String,
    /// The labels every sample has, sorted by name, without [`SampleSet::label`].
    pub labels: Vec<(String, String)>,
    /// The name of the label whose value each sample has its own.
    pub label: String,
    /// Each sample's value of that label (distinct), and its value.
    pub values: Vec<(std::sync::Arc<str>, f64)>,
}

impl SampleSet {
    /// The set's samples as plain ones.
    #[must_use]
    pub fn samples(&self) -> Vec<Sample> {
        self.values
            .iter()
            .map(|(own, value)| {
                let mut labels = self.labels.clone();
                let at = labels.partition_point(|(name, _)| *name < self.label);
                labels.insert(at, (self.label.clone(), own.to_string()));
                Sample {
                    name: self.name.clone(),
                    labels,
                    value: *value,
                    timestamp_ms: None,
                }
            })
            .collect()
    }
}

impl Family {
    /// How many samples the family holds, its sets' included.
    #[must_use]
    pub fn sample_count(&self) -> usize {
        self.samples.len() + self.sets.iter().map(|set| set.values.len()).sum::<usize>()
    }

    /// Moves the samples of the family's sets among its plain samples.
    pub fn expand_sets(&mut self) {
        for set in std::mem::take(&mut self.sets) {
            self.samples.extend(set.samples());
        }
    }
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A `# HELP` or `# TYPE` line without a metric name.
    MissingName,
    /// A `# TYPE` line with a type other than counter, gauge, histogram, summary, untyped.
    UnknownType(String),
    /// A second `# HELP` line for a family.
    DuplicateHelp(String),
    /// A second `# TYPE` line for a family.
    DuplicateType(String),
    /// A `# TYPE` line after the family's samples.
    TypeAfterSamples(String),
    /// A family's lines are split by another family's.
    FamilyNotContiguous(String),
    /// A name that is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidMetricName(String),
    /// A label name that is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    InvalidLabelName(String),
    /// The same label twice in one sample.
    DuplicateLabel(String),
    /// A backslash followed by something other than `\`, `"` or `n` (`\` or `n` in help).
    InvalidEscape,
    /// A label value without its closing quote.
    UnterminatedLabelValue,
    /// Something else where `=`, `"`, `,` or `}` belongs.
    MalformedLabels,
    /// A sample line without a value.
    MissingValue,
    /// A value that is not a number, `+Inf`, `-Inf` or `NaN`.
    InvalidValue(String),
    /// A timestamp that is not an integer.
    InvalidTimestamp(String),
    /// Text after the timestamp.
    TrailingText,
    /// A histogram bucket without `le`, or a summary quantile without `quantile`.
    MissingBucketLabel(&'static str),
    /// The same series (name and labels) twice.
    DuplicateSeries(String),
    /// A histogram's bucket or count, or a summary's count, that is not a whole number of
    /// at least zero.
    InvalidCount(String),
    /// `le` on a histogram sample other than a bucket, or `quantile` on a summary's sum or
    /// count.
    MisplacedLabel(&'static str),
    /// Two buckets of one histogram series with the same bound (`le="1"` and `le="1.0"`), or
    /// two equal quantiles of one summary series.
    DuplicateBucket(String),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingName => f.write_str("a HELP or TYPE line without a metric name"),
            Self::UnknownType(t) => write!(f, "unknown type {t:?}"),
            Self::DuplicateHelp(n) => write!(f, "a second HELP line for {n}"),
            Self::DuplicateType(n) => write!(f, "a second TYPE line for {n}"),
            Self::TypeAfterSamples(n) => write!(f, "the TYPE line of {n} comes after its samples"),
            Self::FamilyNotContiguous(n) => {
                write!(f, "the lines of {n} are split by another family")
            }
            Self::InvalidMetricName(n) => write!(f, "invalid metric name {n:?}"),
            Self::InvalidLabelName(n) => write!(f, "invalid label name {n:?}"),
            Self::DuplicateLabel(n) => write!(f, "label {n} appears twice"),
            Self::InvalidEscape => f.write_str("an invalid escape sequence"),
            Self::UnterminatedLabelValue => f.write_str("a label value without its closing quote"),
            Self::MalformedLabels => f.write_str("malformed labels"),
            Self::MissingValue => f.write_str("a sample without a value"),
            Self::InvalidValue(v) => write!(f, "invalid value {v:?}"),
            Self::InvalidTimestamp(t) => write!(f, "invalid timestamp {t:?}"),
            Self::TrailingText => f.write_str("text after the timestamp"),
            Self::MissingBucketLabel(l) => write!(f, "a sample without its {l} label"),
            Self::DuplicateSeries(s) => write!(f, "series {s} appears twice"),
            Self::InvalidCount(v) => {
                write!(f, "count {v:?} is not a whole number of at least zero")
            }
            Self::MisplacedLabel(l) => write!(f, "label {l} belongs on buckets or quantiles only"),
            Self::DuplicateBucket(s) => write!(f, "bucket or quantile {s} appears twice"),
        }
    }
}

/// Where the text breaks the format: the line number (from 1), the line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}: {text:?}")]
pub struct ParseError {
    /// The line number, from 1.
    pub line: usize,
    /// The line (its first 200 characters).
    pub text: String,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// Parses text exposition format 0.0.4 strictly.
///
/// Blank lines and comments other than `# HELP` and `# TYPE` are skipped; tokens may be
/// separated by several spaces or tabs. The last line need not end with a newline.
///
/// # Errors
///
/// The first line that breaks the format, or that would make the families ambiguous.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut parser = Parser::default();
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        parser.line(line).map_err(|kind| ParseError {
            line: index + 1,
            text: line.chars().take(200).collect(),
            kind,
        })?;
    }
    Ok(parser.families)
}

#[derive(Default)]
struct Parser {
    families: Vec<Family>,
    /// Families seen so far, so one that comes back is caught.
    seen: HashSet<String>,
    /// Series of the current family, as `name{labels}`.
    series: HashSet<String>,
    /// Buckets and quantiles of the current family, as `name{labels without le}` and the
    /// bits of the bound.
    bounds: HashSet<(String, u64)>,
    /// The current family has a `# TYPE` line.
    typed: bool,
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), ParseErrorKind> {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.comment(comment);
        }
        self.sample(line)
    }

    fn current(&mut self) -> Option<&mut Family> {
        self.families.last_mut()
    }

    /// Makes `name` the current family, creating it unless it is already current.
    fn family(&mut self, name: &str) -> Result<&mut Family, ParseErrorKind> {
        if self.families.last().is_none_or(|f| f.name != name) {
            if !self.seen.insert(name.to_string()) {
                return Err(ParseErrorKind::FamilyNotContiguous(name.into()));
            }
            self.families.push(Family {
                name: name.into(),
                help: None,
                kind: MetricKind::Untyped,
                samples: Vec::new(),
                sets: Vec::new(),
            });
            self.series.clear();
            self.bounds.clear();
            self.typed = false;
        }
        Ok(self.families.last_mut().expect("a current family"))
    }

    fn comment(&mut self, comment: &str) -> Result<(), ParseErrorKind> {
        let mut words = Words(comment);
        let keyword = words.next();
        if keyword != Some("HELP") && keyword != Some("TYPE") {
            return Ok(());
        }
        let name = words.next().ok_or(ParseErrorKind::MissingName)?;
        if !is_metric_name(name) {
            return Err(ParseErrorKind::InvalidMetricName(name.into()));
        }
        if keyword == Some("HELP") {
            let help = unescape_help(words.rest())?;
            let family = self.family(name)?;
            if family.help.is_some() {
                return Err(ParseErrorKind::DuplicateHelp(name.into()));
            }
            family.help = Some(help);
            return Ok(());
        }
        let word = words.next().unwrap_or("");
        let kind =
            MetricKind::from_word(word).ok_or_else(|| ParseErrorKind::UnknownType(word.into()))?;
        if words.next().is_some() {
            return Err(ParseErrorKind::TrailingText);
        }
        let typed = self.families.last().is_some_and(|f| f.name == name) && self.typed;
        let family = self.family(name)?;
        if typed {
            return Err(ParseErrorKind::DuplicateType(name.into()));
        }
        if !family.samples.is_empty() {
            return Err(ParseErrorKind::TypeAfterSamples(name.into()));
        }
        family.kind = kind;
        self.typed = true;
        Ok(())
    }

    fn sample(&mut self, line: &str) -> Result<(), ParseErrorKind> {
        let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(ParseErrorKind::InvalidMetricName(name.into()));
        }
        let mut rest = line[name_end..].trim_start_matches([' ', '\t']);
        let mut labels: Vec<(String, String)> = Vec::new();
        if let Some(inner) = rest.strip_prefix('{') {
            rest = read_labels(inner, &mut labels)?;
        }
        let mut words = Words(rest);
        let value_text = words.next().ok_or(ParseErrorKind::MissingValue)?;
        let value = parse_value(value_text)?;
        let timestamp_ms = match words.next() {
            Some(t) => Some(
                t.parse::<i64>()
                    .map_err(|_| ParseErrorKind::InvalidTimestamp(t.into()))?,
            ),
            None => None,
        };
        if words.next().is_some() {
            return Err(ParseErrorKind::TrailingText);
        }
        let family_name = self.family_of(name);
        let kind = self.family(&family_name)?.kind;
        self.check_shape(kind, &family_name, name, &labels, value)?;
        let mut key = name.to_string();
        for (k, v) in &labels {
            key.push_str(&format!(",{k}={v:?}"));
        }
        if !self.series.insert(key) {
            return Err(ParseErrorKind::DuplicateSeries(
                line.chars().take(120).collect(),
            ));
        }
        let family = self.current().expect("a current family");
        family.samples.push(Sample {
            name: name.into(),
            labels,
            value,
            timestamp_ms,
        });
        Ok(())
    }

    /// Checks what a histogram's or summary's sample must be: a bucket's `le` and a quantile's
    /// `quantile` there, a number, and once per series; counts whole; `le` and `quantile`
    /// nowhere else.
    fn check_shape(
        &mut self,
        kind: MetricKind,
        family: &str,
        name: &str,
        labels: &[(String, String)],
        value: f64,
    ) -> Result<(), ParseErrorKind> {
        let Some(label) = kind.reserved_label() else {
            return Ok(());
        };
        let suffix = &name[family.len()..];
        let carries_label = match kind {
            MetricKind::Histogram => suffix == "_bucket",
            _ => suffix.is_empty(),
        };
        let bound = labels.iter().find(|(k, _)| k == label);
        if !carries_label {
            if bound.is_some() {
                return Err(ParseErrorKind::MisplacedLabel(label));
            }
            if suffix == "_count" {
                check_count(value)?;
            }
            return Ok(());
        }
        let bound = bound.ok_or(ParseErrorKind::MissingBucketLabel(label))?;
        let at = parse_value(&bound.1)?;
        if at.is_nan() {
            return Err(ParseErrorKind::InvalidValue(bound.1.clone()));
        }
        if kind == MetricKind::Histogram {
            check_count(value)?;
        }
        let mut series = name.to_string();
        for (k, v) in labels.iter().filter(|(k, _)| k != label) {
            series.push_str(&format!(",{k}={v:?}"));
        }
        if !self.bounds.insert((series, at.to_bits())) {
            return Err(ParseErrorKind::DuplicateBucket(format!(
                "{label}=\"{}\"",
                bound.1
            )));
        }
        Ok(())
    }

    /// The family a sample named `name` belongs to: the current one when the name fits its
    /// type, else a family of that very name.
    fn family_of(&self, name: &str) -> String {
        if let Some(family) = self.families.last() {
            let fits = family
                .kind
                .sample_suffixes()
                .iter()
                .any(|suffix| name.strip_prefix(family.name.as_str()) == Some(*suffix));
            if fits {
                return family.name.clone();
            }
        }
        name.to_string()
    }
}

/// Whitespace-separated words, with the rest of the line on demand.
struct Words<'a>(&'a str);

impl<'a> Words<'a> {
    fn rest(&self) -> &'a str {
        self.0.trim_start_matches([' ', '\t'])
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let text = self.rest();
        if text.is_empty() {
            return None;
        }
        let end = text.find([' ', '\t']).unwrap_or(text.len());
        self.0 = &text[end..];
        Some(&text[..end])
    }
}

/// Reads `name="value",...}` and returns what follows the closing brace.
fn read_labels<'a>(
    mut rest: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, ParseErrorKind> {
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let eq = rest.find('=').ok_or(ParseErrorKind::MalformedLabels)?;
        let name = rest[..eq].trim_end_matches([' ', '\t']);
        if !is_label_name(name) {
            return Err(ParseErrorKind::InvalidLabelName(name.into()));
        }
        if labels.iter().any(|(k, _)| k == name) {
            return Err(ParseErrorKind::DuplicateLabel(name.into()));
        }
        rest = rest[eq + 1..]
            .trim_start_matches([' ', '\t'])
            .strip_prefix('"')
            .ok_or(ParseErrorKind::MalformedLabels)?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let close = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some(_) => return Err(ParseErrorKind::InvalidEscape),
                    None => return Err(ParseErrorKind::UnterminatedLabelValue),
                },
                Some((_, c)) => value.push(c),
                None => return Err(ParseErrorKind::UnterminatedLabelValue),
            }
        };
        labels.push((name.to_string(), value));
        rest = rest[close + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(ParseErrorKind::MalformedLabels);
        }
    }
}

/// A count must be whole and at least zero.
fn check_count(value: f64) -> Result<(), ParseErrorKind> {
    if value >= 0.0 && value.fract() == 0.0 && value < u64::MAX as f64 {
        Ok(())
    } else {
        let mut text = String::new();
        super::escape::push_f64(&mut text, value);
        Err(ParseErrorKind::InvalidCount(text))
    }
}

fn unescape_help(text: &str) -> Result<String, ParseErrorKind> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            _ => return Err(ParseErrorKind::InvalidEscape),
        }
    }
    Ok(out)
}

fn parse_value(text: &str) -> Result<f64, ParseErrorKind> {
    match text {
        "+Inf" | "Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return Err(ParseErrorKind::InvalidValue(text.into()));
    }
    text.parse::<f64>()
        .map_err(|_| ParseErrorKind::InvalidValue(text.into()))
}

/// True for a name the text format takes as a metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// True for a name the text format takes as a label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> ParseErrorKind {
        parse(text).unwrap_err().kind
    }

    #[test]
    fn reads_every_part_of_the_format() {
        let text = concat!(
            "# A plain comment\n",
            "\n",
            "# HELP latency_seconds Latency with \\\\ and \\n escaped\n",
            "# TYPE latency_seconds histogram\n",
            "latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 3\n",
            "latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4 1700000000000\n",
            "latency_seconds_sum{route=\"/a\"} 1.25\n",
            "latency_seconds_count{route=\"/a\"} 4\n",
            "# TYPE rpc summary\n",
            "rpc{quantile=\"0.5\"} NaN\n",
            "rpc_sum 0\n",
            "rpc_count 0\n",
            "  spaced_total  {  a = \"x\\\"y\\\\z\\n\" , }   -Inf\n",
            "untyped_thing 1e-7\r\n",
            "last_one +Inf",
        );
        let families = parse(text).unwrap();
        let names: Vec<(&str, MetricKind, usize)> = families
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("latency_seconds", MetricKind::Histogram, 4),
                ("rpc", MetricKind::Summary, 3),
                ("spaced_total", MetricKind::Untyped, 1),
                ("untyped_thing", MetricKind::Untyped, 1),
                ("last_one", MetricKind::Untyped, 1),
            ]
        );
        assert_eq!(
            families[0].help.as_deref(),
            Some("Latency with \\ and \n escaped")
        );
        assert_eq!(families[0].samples[1].timestamp_ms, Some(1_700_000_000_000));
        assert!(families[1].samples[0].value.is_nan());
        assert_eq!(
            families[2].samples[0],
            Sample {
                name: "spaced_total".into(),
                labels: vec![("a".into(), "x\"y\\z\n".into())],
                value: f64::NEG_INFINITY,
                timestamp_ms: None,
            }
        );
        assert_eq!(families[3].samples[0].value, 1e-7);
        assert_eq!(families[4].samples[0].value, f64::INFINITY);
    }

    #[test]
    fn refuses_what_would_spoil_a_page() {
        let cases: &[(&str, ParseErrorKind)] = &[
            (
                "# TYPE a counter\n# TYPE a counter\n",
                ParseErrorKind::DuplicateType("a".into()),
            ),
            (
                "# HELP a x\n# HELP a y\n",
                ParseErrorKind::DuplicateHelp("a".into()),
            ),
            (
                "a 1\n# TYPE a gauge\n",
                ParseErrorKind::TypeAfterSamples("a".into()),
            ),
            (
                "a 1\nb 1\na{x=\"1\"} 2\n",
                ParseErrorKind::FamilyNotContiguous("a".into()),
            ),
            (
                "# TYPE a gauges\n",
                ParseErrorKind::UnknownType("gauges".into()),
            ),
            ("# TYPE\n", ParseErrorKind::MissingName),
            ("9a 1\n", ParseErrorKind::InvalidMetricName("9a".into())),
            (
                "a{9=\"x\"} 1\n",
                ParseErrorKind::InvalidLabelName("9".into()),
            ),
            (
                "a{x=\"1\",x=\"2\"} 1\n",
                ParseErrorKind::DuplicateLabel("x".into()),
            ),
            ("a{x=\"\\t\"} 1\n", ParseErrorKind::InvalidEscape),
            ("# HELP a bad \\t\n", ParseErrorKind::InvalidEscape),
            ("a{x=\"1} 1\n", ParseErrorKind::UnterminatedLabelValue),
            ("a{x=1} 1\n", ParseErrorKind::MalformedLabels),
            ("a{x=\"1\" y=\"2\"} 1\n", ParseErrorKind::MalformedLabels),
            ("a\n", ParseErrorKind::MissingValue),
            ("a one\n", ParseErrorKind::InvalidValue("one".into())),
            ("a 0x10\n", ParseErrorKind::InvalidValue("0x10".into())),
            (
                "a infinity\n",
                ParseErrorKind::InvalidValue("infinity".into()),
            ),
            (
                "a 1 12.5\n",
                ParseErrorKind::InvalidTimestamp("12.5".into()),
            ),
            ("a 1 12 extra\n", ParseErrorKind::TrailingText),
            (
                "# TYPE h histogram\nh_bucket 1\n",
                ParseErrorKind::MissingBucketLabel("le"),
            ),
            (
                "# TYPE s summary\ns 1\n",
                ParseErrorKind::MissingBucketLabel("quantile"),
            ),
            ("a 1\na 2\n", ParseErrorKind::DuplicateSeries("a 2".into())),
            (
                "garbage here!\n",
                ParseErrorKind::InvalidValue("here!".into()),
            ),
            (
                "{a=\"b\"} 1\n",
                ParseErrorKind::InvalidMetricName(String::new()),
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\n",
                ParseErrorKind::InvalidCount("1.5".into()),
            ),
            (
                "# TYPE h histogram\nh_count -1\n",
                ParseErrorKind::InvalidCount("-1".into()),
            ),
            (
                "# TYPE s summary\ns_count NaN\n",
                ParseErrorKind::InvalidCount("NaN".into()),
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n",
                ParseErrorKind::InvalidValue("NaN".into()),
            ),
            (
                "# TYPE h histogram\nh_sum{le=\"1\"} 1\n",
                ParseErrorKind::MisplacedLabel("le"),
            ),
            (
                "# TYPE s summary\ns_count{quantile=\"0.5\"} 1\n",
                ParseErrorKind::MisplacedLabel("quantile"),
            ),
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n",
                ParseErrorKind::DuplicateBucket("le=\"1.0\"".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&kind_of(text), expected, "{text:?}");
        }
        let error = parse("ok 1\n\nbad{ 1\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(error.text, "bad{ 1");
        assert_eq!(error.to_string(), "line 3: malformed labels: \"bad{ 1\"");
    }
}
