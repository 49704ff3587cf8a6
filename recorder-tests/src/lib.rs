//! Helpers for tests of the metrics macro path.
//!
//! [`seen`] turns a `DebuggingRecorder` snapshot into plain [`Seen`] records, sorted, so a
//! test compares everything the macros produced with one `assert_eq!`.
//!
//! [`logs::logged`] keeps what a call logs, for tests of what a refused macro call reports.

pub mod logs;

use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, Snapshotter};

/// One metric as the debugging recorder saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// The name after the naming layer.
    pub name: String,
    /// Label pairs, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The recorded value.
    pub value: SeenValue,
}

/// The value of a [`Seen`] metric.
#[derive(Debug, Clone, PartialEq)]
pub enum SeenValue {
    /// A counter's total.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// Every value a histogram recorded, in order.
    Histogram(Vec<f64>),
}

impl Seen {
    /// A record to compare against: `kind`, `name`, `labels` (any order) and `value`.
    pub fn new(kind: &'static str, name: &str, labels: &[(&str, &str)], value: SeenValue) -> Self {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        Self {
            kind,
            name: name.into(),
            labels,
            value,
        }
    }
}

/// Everything the snapshotter holds, sorted by name, then labels.
pub fn seen(snapshotter: &Snapshotter) -> Vec<Seen> {
    let mut all: Vec<Seen> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _unit, _description, value)| {
            let kind = match key.kind() {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(v) => SeenValue::Counter(v),
                DebugValue::Gauge(v) => SeenValue::Gauge(v.into_inner()),
                DebugValue::Histogram(vs) => {
                    SeenValue::Histogram(vs.into_iter().map(|v| v.into_inner()).collect())
                }
            };
            Seen {
                kind,
                name: key.key().name().to_string(),
                labels,
                value,
            }
        })
        .collect();
    all.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    all
}
