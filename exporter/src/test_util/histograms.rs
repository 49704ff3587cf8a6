//! An encoder that keeps what a test compares of each histogram series: its native part.

use crate::exposition::{Encoder, FamilyInfo, Series, Value};

/// Schema, zero count, count and positive `(index, count)` buckets of a series' native part.
pub type NativeSummary = (i8, u64, u64, Vec<(i32, u64)>);

/// Every histogram series handed to it, in order: its family's name and its native part
/// (`None` for a classic histogram).
#[derive(Debug, Default)]
pub struct HistogramParts {
    family: String,
    /// What was seen.
    pub seen: Vec<(String, Option<NativeSummary>)>,
}

impl Encoder for HistogramParts {
    fn content_type(&self) -> &'static str {
        "text/x-test"
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.family = family.name.to_string();
    }

    fn series(&mut self, series: &Series<'_>) {
        if let Value::Histogram(h) = series.value {
            let native = h
                .native
                .map(|n| (n.schema, n.zero_count, n.count, n.positive.iter().collect()));
            self.seen.push((self.family.clone(), native));
        }
    }
}
