//! A page restricted to some families: what `/metrics?name[]=a&name[]=b` serves.
//!
//! [`Filtered`] wraps any encoder and passes on only the families a [`NameFilter`] matches,
//! with their series. Every source of a page reaches its encoder through the same calls, so
//! one adapter restricts every format.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::{Encoder, FamilyInfo, Series};
use crate::kinds::table::MetricKind;

/// The names a page is restricted to.
///
/// A family matches when a name is its family name (the name on its `# TYPE` line), as
/// client_golang's `promhttp` matches, or the name of one of its samples in the text format:
/// `x_bucket`, `x_sum` or `x_count` for a histogram `x`, `x_sum` or `x_count` for a summary
/// `x` (Python's `prometheus_client` matches sample names). A match always serves the whole
/// family, never some of its samples: every format can write it, and `name[]=x_bucket` shows
/// the histogram as `name[]=x` does. A counter's family name is its whole name, `_total`
/// included. A name that matches nothing adds nothing: the empty set serves an empty page.
///
/// ```
/// use dynamo_exporter::exposition::{Filtered, NameFilter};
/// use dynamo_exporter::{Opts, Registry, TextEncoder};
///
/// let registry = Registry::new();
/// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
/// registry.int_gauge(&Opts::new("queue", "Queue")).unwrap().set(3);
/// let only = NameFilter::new(["queue", "unknown"]);
/// let mut text = String::new();
/// registry.encode(&[], &mut Filtered::new(&mut TextEncoder::new(&mut text), &only));
/// assert_eq!(text, "# HELP queue Queue\n# TYPE queue gauge\nqueue 3\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NameFilter {
    /// Sorted and without repeats, so two filters of the same names are equal.
    names: BTreeSet<Box<str>>,
}

impl NameFilter {
    /// The filter of `names`, in any order, repeats counted once.
    pub fn new<S: Into<Box<str>>>(names: impl IntoIterator<Item = S>) -> Self {
        Self {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// How many different names it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when it holds no name (and matches no family).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// True when `family` is to be served: see [`NameFilter`] for the rules.
    #[must_use]
    pub fn matches(&self, family: &FamilyInfo<'_>) -> bool {
        let name = family.name;
        if self.names.contains(name) {
            return true;
        }
        let suffixes: &[&str] = match family.kind {
            MetricKind::Histogram => &["_bucket", "_sum", "_count"],
            MetricKind::Summary => &["_sum", "_count"],
            MetricKind::Info => &["_info"],
            MetricKind::Counter
            | MetricKind::Gauge
            | MetricKind::Untyped
            | MetricKind::StateSet => {
                return false;
            }
        };
        // The names that start with the family's name follow it in order.
        self.names
            .range::<str, _>((Bound::Excluded(name), Bound::Unbounded))
            .take_while(|wanted| wanted.starts_with(name))
            .any(|wanted| suffixes.contains(&&wanted[name.len()..]))
    }
}

/// An encoder that passes on to `inner` only the families `filter` matches, and their series.
pub struct Filtered<'a> {
    inner: &'a mut dyn Encoder,
    filter: &'a NameFilter,
    /// The current family matched: its series are passed on.
    passing: bool,
}

impl<'a> Filtered<'a> {
    /// Wraps `inner`, keeping the families `filter` matches.
    pub fn new(inner: &'a mut dyn Encoder, filter: &'a NameFilter) -> Self {
        Self {
            inner,
            filter,
            passing: false,
        }
    }
}

impl Encoder for Filtered<'_> {
    fn content_type(&self) -> &'static str {
        self.inner.content_type()
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.passing = self.filter.matches(family);
        if self.passing {
            self.inner.family(family);
        }
    }

    fn series(&mut self, series: &Series<'_>) {
        if self.passing {
            self.inner.series(series);
        }
    }

    fn finish(&mut self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Labels, Number, TextEncoder, Value};

    fn family(name: &str, kind: MetricKind) -> FamilyInfo<'_> {
        FamilyInfo {
            name,
            help: None,
            kind,
            observed: false,
        }
    }

    #[test]
    fn matches_family_names_and_the_sample_names_of_histograms_and_summaries() {
        let filter = NameFilter::new([
            "up",
            "rpc_seconds_bucket",
            "quantiles_count",
            "jobs",
            "load_sum",
        ]);
        let cases = [
            ("up", MetricKind::Gauge, true),
            ("up", MetricKind::Untyped, true),
            ("rpc_seconds", MetricKind::Histogram, true),
            ("rpc", MetricKind::Histogram, false),
            ("rpc_seconds_bucket", MetricKind::Gauge, true),
            ("quantiles", MetricKind::Summary, true),
            ("quantiles", MetricKind::Histogram, true),
            // A counter's family name holds its `_total`, and nothing else names it.
            ("jobs_total", MetricKind::Counter, false),
            ("jobs", MetricKind::Counter, true),
            // A gauge has no `_sum` sample.
            ("load", MetricKind::Gauge, false),
            ("load", MetricKind::Summary, true),
            ("down", MetricKind::Gauge, false),
        ];
        for (name, kind, expected) in cases {
            assert_eq!(
                filter.matches(&family(name, kind)),
                expected,
                "{name} {kind:?}"
            );
        }
        assert!(!NameFilter::default().matches(&family("up", MetricKind::Gauge)));
    }

    #[test]
    fn equal_names_make_equal_filters() {
        let filter = NameFilter::new(["b", "a", "b"]);
        assert_eq!(filter, NameFilter::new(["a", "b"]));
        assert_eq!(filter.len(), 2);
        assert!(!filter.is_empty());
    }

    #[test]
    fn passes_on_only_the_matching_families_and_their_series() {
        let filter = NameFilter::new(["b"]);
        let mut text = String::new();
        let mut inner = TextEncoder::new(&mut text);
        let mut filtered = Filtered::new(&mut inner, &filter);
        for name in ["a", "b", "c"] {
            filtered.family(&family(name, MetricKind::Gauge));
            filtered.series(&Series {
                labels: Labels::sorted(&[]),
                value: Value::Number(Number::Int(1)),
                timestamp_ms: None,
                exemplars: &[],
            });
        }
        filtered.finish();
        assert_eq!(text, "# TYPE b gauge\nb 1\n");
    }
}
