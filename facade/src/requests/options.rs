//! Options of an endpoint's request metrics: constant labels, buckets and native buckets.

use dynamo_exporter::NativeHistogram;

use crate::hierarchy::Place;
use crate::{MetricsError, RequestMetrics};

/// The buckets of `request_duration_seconds` and `time_to_first_response_seconds` unless
/// other ones are given: 5 ms to 10 s as the Prometheus defaults, then 20 s, 30 s, 1 min,
/// 2 min, 5 min and 10 min for long generation requests.
pub const DEFAULT_REQUEST_DURATION_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

/// What the request metrics of an endpoint are created with.
pub(super) struct Settings {
    /// Constant labels added to every request metric, after the hierarchy labels.
    pub(super) const_labels: Vec<(String, String)>,
    pub(super) duration_buckets: Vec<f64>,
    pub(super) first_response_buckets: Vec<f64>,
    /// Native buckets for both histograms, beside their classic ones.
    pub(super) native: Option<NativeHistogram>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            const_labels: Vec::new(),
            duration_buckets: DEFAULT_REQUEST_DURATION_BUCKETS.to_vec(),
            first_response_buckets: DEFAULT_REQUEST_DURATION_BUCKETS.to_vec(),
            native: None,
        }
    }
}

impl Settings {
    pub(super) fn label_pairs(&self) -> Vec<(&str, &str)> {
        self.const_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// Options of an endpoint's request metrics, from
/// [`Endpoint::request_metrics_options`](crate::Endpoint::request_metrics_options); they take
/// effect with [`create`](Self::create), before the endpoint's first tracked request.
#[must_use]
pub struct RequestMetricsOptions {
    place: Place,
    settings: Settings,
}

impl std::fmt::Debug for RequestMetricsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetricsOptions")
            .field("endpoint", &self.place.display_path())
            .field("const_labels", &self.settings.const_labels)
            .field("duration_buckets", &self.settings.duration_buckets)
            .field(
                "first_response_buckets",
                &self.settings.first_response_buckets,
            )
            .finish()
    }
}

impl RequestMetricsOptions {
    pub(crate) fn new(place: Place) -> Self {
        Self {
            place,
            settings: Settings::default(),
        }
    }

    /// Constant labels for every request metric of the endpoint, such as
    /// `[("model", "llama-3-8b")]` (none by default). They follow the same rules as the
    /// constant labels of `create_*`; `error_type` and `le` are taken.
    pub fn with_const_labels(mut self, labels: &[(&str, &str)]) -> Self {
        self.settings.const_labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        self
    }

    /// The buckets of `request_duration_seconds` (default
    /// [`DEFAULT_REQUEST_DURATION_BUCKETS`]): finite and strictly increasing.
    pub fn with_duration_buckets(mut self, buckets: Vec<f64>) -> Self {
        self.settings.duration_buckets = buckets;
        self
    }

    /// The buckets of `time_to_first_response_seconds` (default
    /// [`DEFAULT_REQUEST_DURATION_BUCKETS`]): finite and strictly increasing.
    pub fn with_first_response_buckets(mut self, buckets: Vec<f64>) -> Self {
        self.settings.first_response_buckets = buckets;
        self
    }

    /// Native buckets as `native` sets them for `request_duration_seconds` and
    /// `time_to_first_response_seconds`, beside their classic buckets (none by default).
    pub fn with_native_histograms(mut self, native: NativeHistogram) -> Self {
        self.settings.native = Some(native);
        self
    }

    /// Creates the endpoint's request metrics with these options. Nothing is registered
    /// when an option is malformed, so the options can be corrected and given again.
    ///
    /// # Errors
    ///
    /// [`MetricsError::RequestMetricsExist`] when the endpoint's request metrics exist
    /// already (created by an earlier call or a tracked request);
    /// [`MetricsError::RequestMetrics`] for a malformed label or bucket list, a metric of one
    /// of their names that exists already at this endpoint, or the error of a tracked request
    /// that failed to create them before.
    pub fn create(self) -> Result<RequestMetrics, MetricsError> {
        self.place
            .path
            .requests
            .create_with(&self.place, self.settings)
    }
}
