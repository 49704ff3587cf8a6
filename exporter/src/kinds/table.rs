//! The table of kinds: the Prometheus types a family can have ([`MetricKind`]), and the one
//! line per handle every layer's creators, classes and re-exports are generated from
//! ([`crate::metric_kinds!`]). A new kind is a line here and a file of its own. Infos and
//! statesets, whose series are lists rather than pool slots and whose creators differ, have
//! their files (`kinds/info.rs`, `kinds/stateset.rs`) but no line.

use std::fmt;

/// The one list of the handles a registry creates, grouped by the file of their kind:
/// `metric_kinds!(my_macro)` expands to `my_macro! { .. }` with, for each kind, its module
/// and one line per handle:
///
/// ```text
/// module {
///     Handle, VecHandle: registry_fn, registry_vec_fn / create_fn, create_vec_fn; "one", "many" [, settings];
/// }
/// ```
///
/// the module (`kinds/<module>.rs` here, and the binding's file of the same name), the handle
/// types, the [`crate::Registry`] creators, the names of the runtime's `create_*` creators,
/// the words that document them, and, for a kind whose creation takes more than a name, help
/// and labels, the name of that argument (`buckets`). What a kind stores and how it is
/// created is its own file's business; this list only names it.
#[macro_export]
#[doc(hidden)]
macro_rules! metric_kinds {
    ($callback:ident) => {
        $callback! {
            counter {
                Counter, CounterVec: counter, counter_vec / create_counter, create_countervec;
                    "an f64 counter", "f64 counters";
                IntCounter, IntCounterVec: int_counter, int_counter_vec / create_intcounter, create_intcountervec;
                    "a u64 counter", "u64 counters";
            }
            gauge {
                Gauge, GaugeVec: gauge, gauge_vec / create_gauge, create_gaugevec;
                    "an f64 gauge", "f64 gauges";
                IntGauge, IntGaugeVec: int_gauge, int_gauge_vec / create_intgauge, create_intgaugevec;
                    "an i64 gauge", "i64 gauges";
            }
            histogram {
                Histogram, HistogramVec: histogram, histogram_vec / create_histogram, create_histogramvec;
                    "a histogram", "histograms", buckets;
            }
        }
    };
}

/// The type of a metric family, as its `# TYPE` line says.
///
/// Integer and float variants of a metric share a type: an `IntCounter` and a `Counter` of the
/// same name belong to one `counter` family. A registry creates counters, gauges,
/// histograms, infos and statesets; text read by [`crate::parse`] may also hold summaries and untyped families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// A value that only goes up.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into buckets, with their sum and count.
    Histogram,
    /// Quantiles of observations, with their sum and count (from text only).
    Summary,
    /// No type given (from text only).
    Untyped,
    /// Key-value metadata of a target (build, model): one series `<name>_info` of value 1,
    /// whose labels carry the metadata. OpenMetrics `info`; a gauge in the other formats.
    Info,
    /// Which of a fixed set of states is current: one series per state, labelled
    /// `<name>="<state>"`, of value 1 for the current state and 0 for the others.
    /// OpenMetrics `stateset`; a gauge in the other formats.
    StateSet,
}

impl MetricKind {
    /// The word on the `# TYPE` line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
            Self::Untyped => "untyped",
            Self::Info => "info",
            Self::StateSet => "stateset",
        }
    }

    /// The type written in the Prometheus text and protobuf formats and OTLP, which have no
    /// info or stateset: a gauge for those, the type itself otherwise.
    #[must_use]
    pub fn text_kind(self) -> Self {
        match self {
            Self::Info | Self::StateSet => Self::Gauge,
            other => other,
        }
    }

    /// What the family's name takes in the Prometheus text and protobuf formats and OTLP:
    /// `_info` for an info (the family `build` is the gauge `build_info`), nothing otherwise.
    #[must_use]
    pub fn text_suffix(self) -> &'static str {
        match self {
            Self::Info => "_info",
            _ => "",
        }
    }

    /// The kind a `# TYPE` line's word names.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "summary" => Self::Summary,
            "untyped" => Self::Untyped,
            _ => return None,
        })
    }

    /// What a sample name of this type adds to its family's name: `_bucket`, `_sum` and
    /// `_count` for a histogram; `_info` for an info; nothing for a counter, gauge, stateset
    /// or untyped family.
    #[must_use]
    pub fn sample_suffixes(self) -> &'static [&'static str] {
        match self {
            Self::Histogram => &["_bucket", "_sum", "_count"],
            Self::Summary => &["", "_sum", "_count"],
            Self::Info => &["_info"],
            Self::Counter | Self::Gauge | Self::Untyped | Self::StateSet => &[""],
        }
    }

    /// Every sample name a family of this type and name writes: `h_bucket`, `h_sum` and
    /// `h_count` for a histogram `h`; the name itself for a counter, gauge or untyped family.
    #[must_use]
    pub fn sample_names(self, family: &str) -> Vec<String> {
        self.sample_suffixes()
            .iter()
            .map(|suffix| format!("{family}{suffix}"))
            .collect()
    }

    /// The label this type adds to some of its samples, which its metrics may not have:
    /// `le` (histogram buckets), `quantile` (summary quantiles).
    #[must_use]
    pub fn reserved_label(self) -> Option<&'static str> {
        match self {
            Self::Histogram => Some("le"),
            Self::Summary => Some("quantile"),
            Self::Counter | Self::Gauge | Self::Untyped | Self::Info | Self::StateSet => None,
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
