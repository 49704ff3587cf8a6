//! The settings of a native histogram: its resolution, its zero bucket and its bucket limit,
//! as client_golang's `HistogramOpts` names them.

use crate::error::ExporterError;
use crate::kinds::histogram::native::{self, DEFAULT_ZERO_THRESHOLD};

/// Native (exponential) buckets for a histogram, beside or instead of its classic buckets.
///
/// A histogram created with these keeps buckets whose bounds grow by at most `factor` and
/// are chosen by the data, as Prometheus' native histograms are; its classic buckets stay as
/// given (an empty list makes it native only). Scrapers that ask for the protobuf format
/// (Prometheus with `--enable-feature=native-histograms`) and OTLP get the native buckets;
/// the text format gets the classic ones.
///
/// ```
/// # use dynamo_exporter::{NativeHistogram, Opts, Registry};
/// let registry = Registry::new();
/// let native = NativeHistogram::new(1.1).max_buckets(100);
/// let latency = registry
///     .histogram(&Opts::new("latency_seconds", "Latency").with_native(native), Some(&[]))
///     .unwrap();
/// latency.observe(0.25);
/// assert_eq!(latency.get_count(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NativeHistogram {
    pub(crate) factor: f64,
    pub(crate) max_buckets: u32,
    pub(crate) zero_threshold: f64,
    pub(crate) max_zero_threshold: f64,
}

impl NativeHistogram {
    /// The default bucket limit (client_golang's suggestion, and Prometheus' default
    /// `native_histogram_bucket_limit` in spirit): 160 populated buckets.
    pub const DEFAULT_MAX_BUCKETS: u32 = 160;

    /// The default zero threshold, `2^-128`: observations at most this far from zero count
    /// in the zero bucket.
    pub const DEFAULT_ZERO_THRESHOLD: f64 = DEFAULT_ZERO_THRESHOLD;

    /// Native buckets growing by at most `factor` (1.1 gives schema 3, buckets 9% wide), at
    /// most [`Self::DEFAULT_MAX_BUCKETS`] of them, the zero threshold `2^-128`, and no
    /// widening of the zero bucket. The factor is checked when the histogram is created.
    #[must_use]
    pub fn new(factor: f64) -> Self {
        Self {
            factor,
            max_buckets: Self::DEFAULT_MAX_BUCKETS,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            max_zero_threshold: 0.0,
        }
    }

    /// At most `max` populated buckets (at least 1): past it the zero bucket widens (up to
    /// [`Self::max_zero_threshold`]), then the resolution halves, as client_golang does.
    #[must_use]
    pub fn max_buckets(self, max: u32) -> Self {
        Self {
            max_buckets: max,
            ..self
        }
    }

    /// Observations whose magnitude is at most `threshold` count in the zero bucket (0 counts
    /// only zeros).
    #[must_use]
    pub fn zero_threshold(self, threshold: f64) -> Self {
        Self {
            zero_threshold: threshold,
            ..self
        }
    }

    /// How far the zero bucket may widen to stay within the bucket limit before the
    /// resolution is halved; 0 (the default, as in client_golang) never widens it.
    #[must_use]
    pub fn max_zero_threshold(self, threshold: f64) -> Self {
        Self {
            max_zero_threshold: threshold,
            ..self
        }
    }

    /// The bucket factor as given.
    #[must_use]
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// These settings checked for the histogram `metric`: the schema of the factor, or a
    /// typed error naming the value that breaks a rule.
    pub(crate) fn checked(&self, metric: &str) -> Result<NativeLayout, ExporterError> {
        let invalid = |setting: &'static str, value: f64, reason: &'static str| {
            ExporterError::InvalidNativeHistogram {
                metric: metric.into(),
                setting,
                value,
                reason,
            }
        };
        let schema = native::schema_for_factor(self.factor).map_err(|_| {
            invalid(
                "native_bucket_factor",
                self.factor,
                "must be a finite number greater than 1",
            )
        })?;
        if self.max_buckets == 0 {
            return Err(invalid(
                "native_max_buckets",
                0.0,
                "must be at least 1 (the buckets must not grow without bound)",
            ));
        }
        let valid_threshold = |t: f64| t.is_finite() && t >= 0.0;
        if !valid_threshold(self.zero_threshold) {
            return Err(invalid(
                "native_zero_threshold",
                self.zero_threshold,
                "must be a finite number at least 0",
            ));
        }
        if !valid_threshold(self.max_zero_threshold) {
            return Err(invalid(
                "native_max_zero_threshold",
                self.max_zero_threshold,
                "must be a finite number at least 0",
            ));
        }
        Ok(NativeLayout {
            schema,
            max_buckets: self.max_buckets,
            zero_threshold: self.zero_threshold,
            max_zero_threshold: self.max_zero_threshold,
        })
    }
}

/// Checked native settings: what every series of one histogram shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NativeLayout {
    /// The schema series start at.
    pub(crate) schema: i8,
    pub(crate) max_buckets: u32,
    pub(crate) zero_threshold: f64,
    pub(crate) max_zero_threshold: f64,
}

impl NativeLayout {
    /// The layout as the bits that tell two layouts apart (a key of the pools).
    pub(crate) fn key(&self) -> [u64; 4] {
        [
            self.schema as u64,
            u64::from(self.max_buckets),
            self.zero_threshold.to_bits(),
            self.max_zero_threshold.to_bits(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_factor_gives_the_schema_and_bad_settings_are_named() {
        let layout = NativeHistogram::new(1.1).checked("h").unwrap();
        assert_eq!(layout.schema, 3);
        assert_eq!(layout.max_buckets, 160);
        assert_eq!(layout.zero_threshold, 2f64.powi(-128));
        assert_eq!(layout.max_zero_threshold, 0.0);
        let cases = [
            (NativeHistogram::new(1.0), "native_bucket_factor", 1.0),
            (NativeHistogram::new(f64::INFINITY), "native_bucket_factor", f64::INFINITY),
            (NativeHistogram::new(1.1).max_buckets(0), "native_max_buckets", 0.0),
            (NativeHistogram::new(1.1).zero_threshold(-1.0), "native_zero_threshold", -1.0),
            (
                NativeHistogram::new(1.1).max_zero_threshold(f64::INFINITY),
                "native_max_zero_threshold",
                f64::INFINITY,
            ),
        ];
        for (settings, name, given) in cases {
            match settings.checked("h") {
                Err(ExporterError::InvalidNativeHistogram {
                    metric,
                    setting,
                    value,
                    ..
                }) => {
                    assert_eq!((metric.as_str(), setting, value), ("h", name, given));
                }
                other => panic!("{settings:?}: {other:?}"),
            }
        }
        assert_eq!(
            NativeHistogram::new(0.5).checked("h").unwrap_err().to_string(),
            "metric \"h\": native_bucket_factor 0.5 must be a finite number greater than 1"
        );
        let nan = NativeHistogram::new(f64::NAN).checked("h");
        assert!(
            matches!(nan, Err(ExporterError::InvalidNativeHistogram { value, .. }) if value.is_nan())
        );
    }
}
