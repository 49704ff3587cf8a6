//! The one error type of this crate.

use crate::kinds::table::MetricKind;

/// Why a metric could not be registered, or a series could not be reached.
///
/// Every variant names the offending metric and value, so the message alone says what to fix.
/// A refused registration changes nothing: the registry and its scrape stay as they were.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// The metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?}: {reason}")]
    InvalidMetricName {
        /// The rejected name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A label name breaks the Prometheus label rules.
    #[error("metric {metric:?}: invalid label name {label:?}: {reason}")]
    InvalidLabelName {
        /// The metric being created.
        metric: String,
        /// The rejected label name.
        label: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// The same label name appears twice among the constant and variable labels.
    #[error("metric {metric:?}: label {label:?} is given more than once")]
    DuplicateLabel {
        /// The metric being created.
        metric: String,
        /// The repeated label name.
        label: String,
    },
    /// The help text is empty.
    #[error("metric {metric:?}: help text must not be empty")]
    EmptyHelp {
        /// The metric being created.
        metric: String,
    },
    /// Histogram buckets are not finite and strictly increasing.
    #[error("metric {metric:?}: invalid buckets {buckets:?}: {reason}")]
    InvalidBuckets {
        /// The metric being created.
        metric: String,
        /// The buckets as given.
        buckets: Vec<f64>,
        /// What rule they break.
        reason: &'static str,
    },
    /// A metric with the same name and constant labels already exists.
    #[error("metric {name:?} with constant labels {const_labels:?} is already registered")]
    AlreadyRegistered {
        /// The full metric name.
        name: String,
        /// Its constant labels, sorted by name.
        const_labels: Vec<(String, String)>,
    },
    /// The family exists with another metric type.
    #[error("metric {name:?} is already registered as a {existing}, not a {requested}")]
    KindConflict {
        /// The full metric name.
        name: String,
        /// The type the family has.
        existing: MetricKind,
        /// The type asked for.
        requested: MetricKind,
    },
    /// A metric macro reached a series registered as another type: a `counter!` on the name
    /// and labels of a gauge. Macros cannot return it; the recorder logs it and hands out a
    /// no-op handle.
    #[error(
        "metric {name:?} with labels {labels:?} is registered as a {registered}; a `{requested}!` \
         macro call cannot record into it"
    )]
    MacroTypeMismatch {
        /// The full metric name.
        name: String,
        /// The series' labels, as the macro call gave them.
        labels: Vec<(String, String)>,
        /// The type the series is registered as.
        registered: MetricKind,
        /// The type of the macro (`counter!`, `gauge!`, `histogram!`).
        requested: MetricKind,
    },
    /// The family exists with another help text.
    #[error("metric {name:?} is already registered with help {existing:?}, not {requested:?}")]
    HelpConflict {
        /// The full metric name.
        name: String,
        /// The help the family has.
        existing: String,
        /// The help asked for.
        requested: String,
    },
    /// The label names split into constant and variable labels differently from a metric of
    /// the same family with the same label names, so their series could collide.
    #[error(
        "metric {name:?}: labels {labels:?} are already used by this family with constant labels \
         {existing_const:?}; use the same constant labels or other label names"
    )]
    LabelSplitConflict {
        /// The full metric name.
        name: String,
        /// All label names of the new metric, sorted.
        labels: Vec<String>,
        /// The constant label names the family already uses for them.
        existing_const: Vec<String>,
    },
    /// A histogram was given more buckets than it may have.
    #[error("metric {metric:?}: {count} buckets is more than the {max} a histogram may have")]
    TooManyBuckets {
        /// The metric being created.
        metric: String,
        /// How many bounds were given.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// A native histogram setting breaks a rule.
    #[error("metric {metric:?}: {setting} {value} {reason}")]
    InvalidNativeHistogram {
        /// The metric being created.
        metric: String,
        /// The setting, by its Python keyword (`native_bucket_factor`, ..).
        setting: &'static str,
        /// The value given.
        value: f64,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A vec has no series with the given label values.
    #[error("metric {metric:?} has no series with label values {values:?}")]
    NoSuchSeries {
        /// The full metric name.
        metric: String,
        /// The values given, in declaration order.
        values: Vec<String>,
    },
    /// The metric to unregister is not in this registry.
    #[error(
        "the metric is not registered here (already unregistered, a no-op handle, or another registry's)"
    )]
    NotRegistered,
    /// The process holds as many series of this type as it can.
    #[error("metric {metric:?}: no room for another series of this type in this process")]
    PoolFull {
        /// The full metric name.
        metric: String,
    },
    /// A vec was given the wrong number of label values.
    #[error("metric {metric:?} takes label values for {expected:?}, got {got} value(s)")]
    LabelValueCount {
        /// The full metric name.
        metric: String,
        /// The variable label names, in declaration order.
        expected: Vec<String>,
        /// How many values were given.
        got: usize,
    },
    /// The multiprocess directory cannot be used.
    #[error("multiprocess directory {path:?}: {reason}")]
    Multiprocess {
        /// The directory.
        path: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A stateset was given no states, or one state twice.
    #[error("metric {metric:?}: invalid states {states:?}: {reason}")]
    InvalidStates {
        /// The metric being created.
        metric: String,
        /// The states as given.
        states: Vec<String>,
        /// What rule they break.
        reason: &'static str,
    },
    /// A stateset was asked to take a state it does not have; its state did not change.
    #[error("metric {metric:?} has no state {state:?}; its states are {states:?}")]
    UnknownState {
        /// The full metric name.
        metric: String,
        /// The state asked for.
        state: String,
        /// The states it has.
        states: Vec<String>,
    },
    /// The metric's type is not kept in the multiprocess directory.
    #[error("metric {metric:?}: a {kind} cannot be created in multiprocess mode")]
    NotMultiprocess {
        /// The metric being created.
        metric: String,
        /// Its type.
        kind: MetricKind,
    },
    /// A gauge's multiprocess mode is not one of the modes.
    #[error(
        "unknown multiprocess mode {0:?}: use all, liveall, sum, livesum, min, livemin, max or livemax"
    )]
    GaugeMode(String),
    /// An exemplar's labels break the OpenMetrics rules: a name is not a valid label name, or
    /// the names and values together are longer than 128 characters.
    #[error("invalid exemplar {value:?}: {reason}")]
    InvalidExemplar {
        /// What rule it breaks.
        reason: String,
        /// The offending label name, or the whole label set when it is too long.
        value: String,
    },
}

impl ExporterError {
    /// True for errors caused by another metric already in the registry (rather than by a
    /// malformed argument).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::AlreadyRegistered { .. }
                | Self::KindConflict { .. }
                | Self::MacroTypeMismatch { .. }
                | Self::HelpConflict { .. }
                | Self::LabelSplitConflict { .. }
        )
    }
}
