//! `.metrics`: the creators of one hierarchy level, its scrape text and its callbacks.

use std::path::PathBuf;

use dynamo_runtime::{GaugeMode, Metrics, NativeHistogram, Registered};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::callbacks::{self, PyCallbackHandle};
use crate::engine::{self, EngineOptions, Prefixes};
use crate::errors::{to_py_err, type_name};
use crate::kinds::{Wrap, registered_id};
use crate::labels::ConstLabels;

/// The metrics of one hierarchy level: `drt.metrics`, `namespace.metrics`,
/// `component.metrics` or `endpoint.metrics`.
///
/// Each metric is exported as `dynamo_component_<name>` with the level's hierarchy labels
/// (`dynamo_namespace`, `dynamo_component`, `dynamo_endpoint`) and the constant labels given.
#[pyclass(frozen, module = "dynamo.runtime", name = "Metrics")]
pub struct PyMetrics(pub(crate) Metrics);

fn names(label_names: &[String]) -> Vec<&str> {
    label_names.iter().map(String::as_str).collect()
}

/// The creators of `metrics` with a gauge's multiprocess mode, given by its name: only
/// gauges take one (counters and histograms are always summed across processes).
fn with_mode(metrics: &Metrics, kind: &str, mode: Option<&str>) -> PyResult<Metrics> {
    match mode {
        None => Ok(metrics.with_multiprocess_mode(GaugeMode::default())),
        Some(_) if kind != "gauge" => Err(PyValueError::new_err(format!(
            "multiprocess_mode is for gauges: {kind}s are always summed across processes"
        ))),
        Some(name) => GaugeMode::parse(name)
            .map(|mode| metrics.with_multiprocess_mode(mode))
            .map_err(|e| PyValueError::new_err(e.to_string())),
    }
}

/// The native settings of a histogram creator's keywords: none without a bucket factor
/// (then the other native keywords are refused), else the factor with the others given.
fn native_settings(
    factor: Option<f64>,
    max_buckets: Option<u32>,
    zero_threshold: Option<f64>,
    max_zero_threshold: Option<f64>,
) -> PyResult<Option<NativeHistogram>> {
    let Some(factor) = factor else {
        let given = [
            ("native_max_buckets", max_buckets.is_some()),
            ("native_zero_threshold", zero_threshold.is_some()),
            ("native_max_zero_threshold", max_zero_threshold.is_some()),
        ];
        return match given.iter().find(|(_, set)| *set) {
            Some((keyword, _)) => Err(PyValueError::new_err(format!(
                "{keyword} needs native_bucket_factor, which makes a histogram native"
            ))),
            None => Ok(None),
        };
    };
    let mut native = NativeHistogram::new(factor);
    if let Some(max) = max_buckets {
        native = native.max_buckets(max);
    }
    if let Some(threshold) = zero_threshold {
        native = native.zero_threshold(threshold);
    }
    if let Some(threshold) = max_zero_threshold {
        native = native.max_zero_threshold(threshold);
    }
    Ok(Some(native))
}

/// `metrics` with the native settings of a histogram creator's keywords, if any.
fn with_native(metrics: Metrics, native: Option<NativeHistogram>) -> Metrics {
    match native {
        Some(native) => metrics.with_native_histograms(native),
        None => metrics,
    }
}

/// The `create_*` methods of every kind of `metric_kinds!`, over the Rust creators of the
/// same names.
macro_rules! creators {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident, $create_vec:ident;
        $one:literal, $many:literal $(, $buckets:ident)?;)*})*) => {
        #[pymethods]
        impl PyMetrics {$($(
            #[doc = concat!("Creates ", $one, ".")]
            $(#[doc = concat!("`", stringify!($buckets), "=None` means `0.005 ... 10`; with `native_bucket_factor` (1.1 is usual) it also keeps native buckets, and `", stringify!($buckets), "=[]` makes it native only.")])?
            // The arguments are the Python method's keywords.
            #[allow(clippy::too_many_arguments)]
            #[pyo3(signature = (name, description, labels = None $(, $buckets = None, native_bucket_factor = None, native_max_buckets = None, native_zero_threshold = None, native_max_zero_threshold = None)?, multiprocess_mode = None))]
            fn $create(
                &self,
                py: Python<'_>,
                name: &str,
                description: &str,
                labels: Option<ConstLabels>,
                $($buckets: Option<Vec<f64>>,
                native_bucket_factor: Option<f64>,
                native_max_buckets: Option<u32>,
                native_zero_threshold: Option<f64>,
                native_max_zero_threshold: Option<f64>,)?
                multiprocess_mode: Option<&str>,
            ) -> PyResult<<dynamo_runtime::$handle as Wrap>::Class> {
                let labels = ConstLabels::pairs(&labels);
                let metrics = with_mode(&self.0, stringify!($module), multiprocess_mode)?;
                $(
                    let _ = stringify!($buckets);
                    let native = native_settings(native_bucket_factor, native_max_buckets, native_zero_threshold, native_max_zero_threshold)?;
                    let metrics = with_native(metrics, native);
                )?
                let metric = py
                    .detach(|| metrics.$create(name, description, &labels $(, $buckets)?))
                    .map_err(to_py_err)?;
                Ok(metric.wrap(py))
            }

            #[doc = concat!("Creates ", $many, " keyed by the values of `label_names`.")]
            $(#[doc = concat!("`", stringify!($buckets), "=None` means `0.005 ... 10`; with `native_bucket_factor` (1.1 is usual) it also keeps native buckets, and `", stringify!($buckets), "=[]` makes it native only.")])?
            #[pyo3(signature = (name, description, label_names, const_labels = None $(, $buckets = None, native_bucket_factor = None, native_max_buckets = None, native_zero_threshold = None, native_max_zero_threshold = None)?, multiprocess_mode = None))]
            // The arguments are the Python method's keywords.
            #[allow(clippy::too_many_arguments)]
            fn $create_vec(
                &self,
                py: Python<'_>,
                name: &str,
                description: &str,
                label_names: Vec<String>,
                const_labels: Option<ConstLabels>,
                $($buckets: Option<Vec<f64>>,
                native_bucket_factor: Option<f64>,
                native_max_buckets: Option<u32>,
                native_zero_threshold: Option<f64>,
                native_max_zero_threshold: Option<f64>,)?
                multiprocess_mode: Option<&str>,
            ) -> PyResult<<dynamo_runtime::$vec as Wrap>::Class> {
                let (label_names, const_labels) = (names(&label_names), ConstLabels::pairs(&const_labels));
                let metrics = with_mode(&self.0, stringify!($module), multiprocess_mode)?;
                $(
                    let _ = stringify!($buckets);
                    let native = native_settings(native_bucket_factor, native_max_buckets, native_zero_threshold, native_max_zero_threshold)?;
                    let metrics = with_native(metrics, native);
                )?
                let vec = py
                    .detach(|| metrics.$create_vec(name, description, &label_names, &const_labels $(, $buckets)?))
                    .map_err(to_py_err)?;
                Ok(vec.wrap(py))
            }
        )*)*}
    };
}

dynamo_runtime::metric_kinds!(creators);

#[pymethods]
impl PyMetrics {
    /// The exposition text of this level and every level below it, after running their
    /// callbacks. Other threads, the callbacks among them, run Python meanwhile.
    fn prometheus_expfmt(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| self.0.prometheus_expfmt()).map_err(to_py_err)
    }

    /// Runs `callback()` before each scrape of this level or a level above it. An exception
    /// is logged and the scrape goes on. Returns a handle whose `unregister()` removes it.
    fn register_callback(&self, callback: Bound<'_, PyAny>) -> PyResult<PyCallbackHandle> {
        callbacks::register_update(&self.0, callback)
    }

    /// Appends the `str` that `callback()` returns, in the exposition format, to each scrape
    /// of this level or a level above it. An exception is logged and the scrape goes on;
    /// text that does not parse, or repeats a family already on the page, is left off that
    /// scrape (logged, and counted in `dynamo_metrics_callback_text_dropped_total`). Returns
    /// a handle whose `unregister()` removes it.
    fn register_prometheus_expfmt_callback(
        &self,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<PyCallbackHandle> {
        callbacks::register_text(&self.0, callback)
    }

    /// Serves the families of an engine's metrics on each scrape of this level or a level
    /// above it: `registry` is a `prometheus_client` `CollectorRegistry` (default
    /// `prometheus_client.REGISTRY`) or a function returning exposition text (`str` or
    /// `bytes`). Only families whose name starts with a prefix of `include` (all when `None`)
    /// and none of `exclude` join; with `skip_process_metrics` (the default) the registry's
    /// own `process_*` and `python_*` families are left out, since the runtime shows its own
    /// process metrics. Each sample gets this level's hierarchy labels and `labels` (such as
    /// `{"model": "llama", "worker_id": "7"}`) where it lacks them; its own labels win.
    ///
    /// The same registry registered at several levels is read once per scrape and shows each
    /// family once, with the labels of its first registration. Text that does not parse, or
    /// repeats a family already on the page, is left off that scrape (logged, and counted in
    /// `dynamo_metrics_callback_text_dropped_total`). Returns a handle whose `unregister()`
    /// removes the registration. Raises `ValueError` for a bad label, `TypeError` for a
    /// `registry` of another kind, `ImportError` when a registry is to be read and
    /// `prometheus_client` is not installed.
    ///
    /// `multiprocess_dir` (a path, instead of `registry`) reads a `prometheus_client`
    /// multiprocess directory and merges its files as `MultiProcessCollector` does, in Rust
    /// and without the GIL. With neither given and `PROMETHEUS_MULTIPROC_DIR` set, that
    /// directory is read: a `prometheus_client` application in multiprocess mode keeps its
    /// values there, not in its registry.
    #[pyo3(signature = (registry = None, *, multiprocess_dir = None, include = None, exclude = None, labels = None, skip_process_metrics = true))]
    #[allow(clippy::too_many_arguments)]
    fn register_engine_metrics(
        &self,
        py: Python<'_>,
        registry: Option<Bound<'_, PyAny>>,
        multiprocess_dir: Option<PathBuf>,
        include: Option<Prefixes>,
        exclude: Option<Prefixes>,
        labels: Option<ConstLabels>,
        skip_process_metrics: bool,
    ) -> PyResult<PyCallbackHandle> {
        let options = EngineOptions {
            include,
            exclude,
            labels,
            skip_process_metrics,
        };
        engine::register(py, &self.0, registry, multiprocess_dir, options)
    }

    /// Takes out a metric created at this level (any metric object): its series leave the
    /// scrape, it records nothing from then on, and the same name and labels can be created
    /// again.
    fn unregister(&self, py: Python<'_>, metric: &Bound<'_, PyAny>) -> PyResult<()> {
        let Some(id) = registered_id(metric) else {
            return Err(PyTypeError::new_err(format!(
                "unregister takes a metric object, not {}",
                type_name(metric)
            )));
        };
        py.detach(|| self.0.unregister(&ById(id)))
            .map_err(to_py_err)
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// A registered metric known only by its id.
struct ById(u32);

impl Registered for ById {
    fn metric_id(&self) -> u32 {
        self.0
    }
}
