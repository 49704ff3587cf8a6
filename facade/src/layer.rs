//! The recorder layer that gives `metrics` macro calls Dynamo's names and hierarchy labels.

use dynamo_exporter::{IntCounter, Probed, RegistryRecorder};
use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_util::layers::Layer;

use crate::names::{full_metric_name, is_reserved_label, sanitize_macro_label};
use crate::scope;

/// Applies Dynamo's naming rules to `metrics` macro calls, and adds the hierarchy labels of
/// the current scope (see [`crate::Endpoint::in_scope`]).
///
/// Names become `dynamo_component_<sanitized name>`; label names are sanitized. A call that
/// cannot be saved (an empty name, a reserved or repeated label) is logged with `tracing`,
/// counted, and handed a no-op handle. Put it over any recorder, such as
/// `metrics_util::debugging::DebuggingRecorder` in tests:
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
/// use metrics_util::layers::Layer;
/// use dynamo_runtime::NamingLayer;
///
/// let debugging = DebuggingRecorder::new();
/// let snapshotter = debugging.snapshotter();
/// let recorder = NamingLayer::new().layer(debugging);
/// metrics::with_local_recorder(&recorder, || metrics::counter!("tokens-out").increment(3));
/// let names: Vec<String> =
///     snapshotter.snapshot().into_vec().into_iter().map(|(key, ..)| key.key().name().to_string()).collect();
/// assert_eq!(names, ["dynamo_component_tokens_out"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct NamingLayer {
    rejections: Option<IntCounter>,
}

impl NamingLayer {
    /// A layer that logs refused calls.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also counts refused calls in `counter`.
    #[must_use]
    pub fn with_rejection_counter(self, counter: IntCounter) -> Self {
        Self {
            rejections: Some(counter),
        }
    }
}

impl<R> Layer<R> for NamingLayer {
    type Output = Naming<R>;

    fn layer(&self, inner: R) -> Naming<R> {
        Naming {
            inner,
            rejections: self.rejections.clone(),
        }
    }
}

/// The recorder made by [`NamingLayer`].
#[derive(Debug)]
pub struct Naming<R> {
    inner: R,
    rejections: Option<IntCounter>,
}

impl<R> Naming<R> {
    /// The recorder underneath.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn reject(&self, name: &str, reason: &str) {
        tracing::warn!(
            metric = name,
            reason,
            "metric macro call refused; it records nothing"
        );
        if let Some(counter) = &self.rejections {
            counter.inc();
        }
    }

    fn rename(&self, name: &str) -> Option<KeyName> {
        match full_metric_name(name) {
            Ok(full) => Some(full.into()),
            Err(error) => {
                self.reject(name, &error.to_string());
                None
            }
        }
    }

    /// The key with Dynamo's name, sanitized labels and the scope's hierarchy labels.
    fn transform(&self, key: &Key) -> Option<Key> {
        let name = self.rename(key.name())?;
        let mut labels: Vec<Label> = scope::with_current(|place| {
            place
                .map(|p| {
                    p.path
                        .labels
                        .iter()
                        .map(|(k, v)| Label::new(*k, v.clone()))
                        .collect()
                })
                .unwrap_or_default()
        });
        for label in key.labels() {
            let problem = match sanitize_macro_label(label.key()) {
                None => Some("a label name is empty once sanitized".to_string()),
                Some(n) if is_reserved_label(&n) => {
                    Some(format!("label {n:?} is reserved for the runtime hierarchy"))
                }
                Some(n) if labels.iter().any(|l| l.key() == n) => {
                    Some(format!("label {n:?} is given more than once"))
                }
                Some(n) => {
                    labels.push(Label::new(n, label.value().to_string()));
                    None
                }
            };
            if let Some(reason) = problem {
                self.reject(key.name(), &reason);
                return None;
            }
        }
        Some(Key::from_parts(name, labels))
    }
}

impl Naming<RegistryRecorder> {
    /// The counter for a `counter!` key, with its liveness.
    pub(crate) fn counter(&self, key: &Key) -> Probed<Counter> {
        self.transform(key).map_or_else(
            || Probed::always(Counter::noop()),
            |key| self.inner.counter(&key),
        )
    }

    /// The gauge for a `gauge!` key, with its liveness.
    pub(crate) fn gauge(&self, key: &Key) -> Probed<Gauge> {
        self.transform(key).map_or_else(
            || Probed::always(Gauge::noop()),
            |key| self.inner.gauge(&key),
        )
    }

    /// The histogram for a `histogram!` key, with its liveness.
    pub(crate) fn histogram(&self, key: &Key) -> Probed<Histogram> {
        self.transform(key).map_or_else(
            || Probed::always(Histogram::noop()),
            |key| self.inner.histogram(&key),
        )
    }
}

impl<R: Recorder> Recorder for Naming<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(name) = self.rename(key.as_str()) {
            self.inner.describe_counter(name, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(name) = self.rename(key.as_str()) {
            self.inner.describe_gauge(name, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(name) = self.rename(key.as_str()) {
            self.inner.describe_histogram(name, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.transform(key).map_or_else(Counter::noop, |key| {
            self.inner.register_counter(&key, metadata)
        })
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.transform(key)
            .map_or_else(Gauge::noop, |key| self.inner.register_gauge(&key, metadata))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.transform(key).map_or_else(Histogram::noop, |key| {
            self.inner.register_histogram(&key, metadata)
        })
    }
}
