//! The Prometheus metric types.

use std::fmt;

/// The Prometheus type of a metric family, as written on its `# TYPE` line.
///
/// Integer and float variants of a metric share a type: an `IntCounter` and a `Counter` of the
/// same name belong to one `counter` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// A value that only goes up.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into buckets, with their sum and count.
    Histogram,
}

impl MetricKind {
    /// The name used on the `# TYPE` line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one list of the metric kinds a registry creates, which every layer's creators are
/// generated from: `metric_kinds!(my_macro)` expands to `my_macro! { .. }` with one line per
/// kind:
///
/// ```text
/// Handle, VecHandle: registry_fn, registry_vec_fn / create_fn, create_vec_fn; "one", "many" [, settings];
/// ```
///
/// the handle types, the [`crate::Registry`] creators, the names of the runtime's `create_*`
/// creators, the words that document them, and, for a kind whose creation takes more than a
/// name, help and labels, the name of that argument (`buckets`). What a kind stores and how
/// it is created is its handle's business (its own file); this list only names it.
#[macro_export]
#[doc(hidden)]
macro_rules! metric_kinds {
    ($callback:ident) => {
        $callback! {
            Counter, CounterVec: counter, counter_vec / create_counter, create_countervec;
                "an f64 counter", "f64 counters";
            IntCounter, IntCounterVec: int_counter, int_counter_vec / create_intcounter, create_intcountervec;
                "a u64 counter", "u64 counters";
            Gauge, GaugeVec: gauge, gauge_vec / create_gauge, create_gaugevec;
                "an f64 gauge", "f64 gauges";
            IntGauge, IntGaugeVec: int_gauge, int_gauge_vec / create_intgauge, create_intgaugevec;
                "an i64 gauge", "i64 gauges";
            Histogram, HistogramVec: histogram, histogram_vec / create_histogram, create_histogramvec;
                "a histogram", "histograms", buckets;
        }
    };
}
