//! `.metrics`: the creators of one hierarchy level, its scrape text and its callbacks.

use dynamo_runtime::Metrics;
use pyo3::prelude::*;

use crate::callbacks::{self, PyCallbackHandle};
use crate::errors::to_py_err;
use crate::labels::ConstLabels;
use crate::scalars::{PyCounter, PyGauge, PyHistogram, PyIntCounter, PyIntGauge};
use crate::vecs::{PyCounterVec, PyGaugeVec, PyHistogramVec, PyIntCounterVec, PyIntGaugeVec};

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

#[pymethods]
impl PyMetrics {
    /// Creates a float counter.
    #[pyo3(signature = (name, description, labels = None))]
    fn create_counter(
        &self,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyCounter> {
        self.0
            .create_counter(name, description, &ConstLabels::pairs(&labels))
            .map(PyCounter)
            .map_err(to_py_err)
    }

    /// Creates an integer counter.
    #[pyo3(signature = (name, description, labels = None))]
    fn create_intcounter(
        &self,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyIntCounter> {
        self.0
            .create_intcounter(name, description, &ConstLabels::pairs(&labels))
            .map(PyIntCounter)
            .map_err(to_py_err)
    }

    /// Creates a float gauge.
    #[pyo3(signature = (name, description, labels = None))]
    fn create_gauge(
        &self,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyGauge> {
        self.0
            .create_gauge(name, description, &ConstLabels::pairs(&labels))
            .map(PyGauge)
            .map_err(to_py_err)
    }

    /// Creates an integer gauge.
    #[pyo3(signature = (name, description, labels = None))]
    fn create_intgauge(
        &self,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyIntGauge> {
        self.0
            .create_intgauge(name, description, &ConstLabels::pairs(&labels))
            .map(PyIntGauge)
            .map_err(to_py_err)
    }

    /// Creates a histogram; `buckets=None` means `0.005 ... 10`.
    #[pyo3(signature = (name, description, labels = None, buckets = None))]
    fn create_histogram(
        &self,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
        buckets: Option<Vec<f64>>,
    ) -> PyResult<PyHistogram> {
        self.0
            .create_histogram(name, description, &ConstLabels::pairs(&labels), buckets)
            .map(PyHistogram)
            .map_err(to_py_err)
    }

    /// Creates float counters keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, const_labels = None))]
    fn create_countervec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyCounterVec> {
        let vec = self
            .0
            .create_countervec(
                name,
                description,
                &names(&label_names),
                &ConstLabels::pairs(&const_labels),
            )
            .map_err(to_py_err)?;
        Ok(PyCounterVec::new(py, vec))
    }

    /// Creates integer counters keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, const_labels = None))]
    fn create_intcountervec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyIntCounterVec> {
        let vec = self
            .0
            .create_intcountervec(
                name,
                description,
                &names(&label_names),
                &ConstLabels::pairs(&const_labels),
            )
            .map_err(to_py_err)?;
        Ok(PyIntCounterVec::new(py, vec))
    }

    /// Creates float gauges keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, const_labels = None))]
    fn create_gaugevec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyGaugeVec> {
        let vec = self
            .0
            .create_gaugevec(
                name,
                description,
                &names(&label_names),
                &ConstLabels::pairs(&const_labels),
            )
            .map_err(to_py_err)?;
        Ok(PyGaugeVec::new(py, vec))
    }

    /// Creates integer gauges keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, const_labels = None))]
    fn create_intgaugevec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyIntGaugeVec> {
        let vec = self
            .0
            .create_intgaugevec(
                name,
                description,
                &names(&label_names),
                &ConstLabels::pairs(&const_labels),
            )
            .map_err(to_py_err)?;
        Ok(PyIntGaugeVec::new(py, vec))
    }

    /// Creates histograms keyed by the values of `label_names`; `buckets=None` means
    /// `0.005 ... 10`.
    #[pyo3(signature = (name, description, label_names, const_labels = None, buckets = None))]
    fn create_histogramvec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
        buckets: Option<Vec<f64>>,
    ) -> PyResult<PyHistogramVec> {
        let vec = self
            .0
            .create_histogramvec(
                name,
                description,
                &names(&label_names),
                &ConstLabels::pairs(&const_labels),
                buckets,
            )
            .map_err(to_py_err)?;
        Ok(PyHistogramVec::new(py, vec))
    }

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

    fn __repr__(&self) -> String {
        format!("{:?}", self.0)
    }
}
