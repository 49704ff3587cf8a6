//! Counters: `Counter` (f64) and `IntCounter` (u64).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::MetricKind;
use crate::format::{push_f64, push_u64};
use crate::handle::handle;
use crate::histogram::Buckets;
use crate::labels::LabelText;
use crate::series::{Cell, push_sample_prefix};

/// Adds `v` to an f64 stored as bits.
pub(crate) fn add_f64(bits: &AtomicU64, v: f64) {
    let mut current = bits.load(Relaxed);
    loop {
        let next = (f64::from_bits(current) + v).to_bits();
        match bits.compare_exchange_weak(current, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// The cell of an f64 counter.
#[derive(Default)]
pub(crate) struct F64Counter(pub(crate) AtomicU64);

impl Cell for F64Counter {
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_f64(out, f64::from_bits(self.0.load(Relaxed)));
        out.push('\n');
    }
}

/// The cell of a u64 counter.
#[derive(Default)]
pub(crate) struct U64Counter(pub(crate) AtomicU64);

impl Cell for U64Counter {
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_: Option<&Arc<Buckets>>) -> Self {
        Self::default()
    }

    fn write(&self, name: &str, labels: LabelText<'_>, out: &mut String) {
        push_sample_prefix(out, name, "", labels);
        push_u64(out, self.0.load(Relaxed));
        out.push('\n');
    }
}

handle! {
    /// A counter of f64 values that only goes up.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let bytes = registry.counter(&Opts::new("bytes_total", "Bytes sent")).unwrap();
    /// bytes.inc_by(1.5);
    /// bytes.inc();
    /// assert_eq!(bytes.get(), 2.5);
    /// ```
    Counter(F64Counter)
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1.0);
    }

    /// Adds `v`. A negative or NaN `v` would break the counter's promise and is ignored.
    #[inline]
    pub fn inc_by(&self, v: f64) {
        if v >= 0.0 {
            add_f64(&self.0.cell.0, v);
        } else {
            tracing::warn!(
                metric = self.name(),
                value = v,
                "ignored a negative or NaN counter increment"
            );
        }
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.cell.0.load(Relaxed))
    }
}

handle! {
    /// A counter of u64 values that only goes up.
    ///
    /// ```
    /// # use dynamo_exporter::{Opts, Registry};
    /// let registry = Registry::new();
    /// let requests = registry.int_counter(&Opts::new("requests_total", "Requests")).unwrap();
    /// requests.inc();
    /// requests.inc_by(2);
    /// assert_eq!(requests.get(), 3);
    /// ```
    IntCounter(U64Counter)
}

impl IntCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `v` (wrapping past `u64::MAX`).
    #[inline]
    pub fn inc_by(&self, v: u64) {
        self.0.cell.0.fetch_add(v, Relaxed);
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.cell.0.load(Relaxed)
    }
}
