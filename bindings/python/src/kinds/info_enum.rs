//! Infos and enums, as prometheus_client has them: `Info` (`.info({...})`), `Enum`
//! (`.state("...")`), and their vecs `InfoVec` and `EnumVec`, whose methods take `labels`
//! as the other vecs' do; `.labels(labels)` gives the child itself.

use dynamo_runtime::{Info, InfoVec, Registered, StateSet, StateSetVec};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::to_py_err;
use crate::labels::{ConstLabels, LabelKeys, label_dict, selector};

/// The pairs of a dict of `str` to `str`, in its order.
fn pairs(val: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    val.iter()
        .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<String>()?)))
        .collect()
}

fn set_info(info: &Info, val: &Bound<'_, PyDict>) -> PyResult<()> {
    let pairs = pairs(val)?;
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    info.info(&refs).map_err(|e| to_py_err(e.into()))
}

fn info_dict<'py>(py: Python<'py>, info: &Info) -> PyResult<Bound<'py, PyDict>> {
    let pairs = info.get();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    label_dict(py, &refs)
}

fn const_dict<'py>(py: Python<'py>, labels: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
    let refs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    label_dict(py, &refs)
}

fn repr(class: &str, name: &str, labels: &[(String, String)]) -> String {
    let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    format!("<{class} {}>", selector(name, pairs))
}

/// Key-value metadata (build, model), shown as `<name>_info{key="value",..} 1`.
#[pyclass(frozen, module = "dynamo.prometheus_metrics", name = "Info")]
pub struct PyInfo(pub(crate) Info);

#[pymethods]
impl PyInfo {
    /// Sets the metadata (a dict of `str`), replacing what was set before.
    fn info(&self, val: &Bound<'_, PyDict>) -> PyResult<()> {
        set_info(&self.0, val)
    }

    /// The metadata set last, sorted by key.
    fn get<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        info_dict(py, &self.0)
    }

    /// The full exported name, `dynamo_component_<name>` (the sample adds `_info`).
    fn name(&self) -> String {
        self.0.name()
    }

    /// The constant labels: the hierarchy labels and the ones given at creation.
    fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        const_dict(py, &self.0.const_labels())
    }

    fn __repr__(&self) -> String {
        repr("Info", &self.0.name(), &self.0.const_labels())
    }
}

/// Infos, one per set of label values.
#[pyclass(frozen, module = "dynamo.prometheus_metrics", name = "InfoVec")]
pub struct PyInfoVec {
    vec: InfoVec,
    keys: LabelKeys,
}

impl PyInfoVec {
    pub(crate) fn new(py: Python<'_>, vec: InfoVec) -> Self {
        Self {
            keys: LabelKeys::of(py, &vec.variable_labels()),
            vec,
        }
    }

    fn child(&self, labels: &Bound<'_, PyDict>) -> PyResult<Info> {
        self.keys.child(&self.vec.name(), labels, |values| {
            self.vec.get_metric_with_label_values(values)
        })
    }
}

#[pymethods]
impl PyInfoVec {
    /// Sets the metadata of the info of `labels`, replacing what was set before.
    fn info(&self, labels: &Bound<'_, PyDict>, val: &Bound<'_, PyDict>) -> PyResult<()> {
        set_info(&self.child(labels)?, val)
    }

    /// The metadata of the info of `labels`.
    fn get<'py>(
        &self,
        py: Python<'py>,
        labels: &Bound<'_, PyDict>,
    ) -> PyResult<Bound<'py, PyDict>> {
        info_dict(py, &self.child(labels)?)
    }

    /// The info of `labels`, created on first use.
    fn labels(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyInfo> {
        Ok(PyInfo(self.child(labels)?))
    }

    /// Removes the info of `labels`; returns False when there is none.
    fn remove(&self, labels: &Bound<'_, PyDict>) -> PyResult<bool> {
        let values: Vec<String> = self.keys.child(&self.vec.name(), labels, |values| {
            Ok::<_, dynamo_runtime::MetricsError>(values.iter().map(|v| v.to_string()).collect())
        })?;
        match self.vec.remove_label_values(&values) {
            Ok(()) => Ok(true),
            Err(dynamo_runtime::ExporterError::NoSuchSeries { .. }) => Ok(false),
            Err(error) => Err(to_py_err(error.into())),
        }
    }

    /// Removes every info whose labels named in `labels` (a dict of some of the label
    /// names) have those values; returns how many.
    fn remove_matching(&self, labels: &Bound<'_, PyDict>) -> PyResult<usize> {
        let names = self.vec.variable_labels();
        remove_matching(&self.keys, &self.vec.name(), &names, labels, |pairs| {
            self.vec.remove_matching(pairs)
        })
    }

    /// Removes every info.
    fn clear(&self) {
        self.vec.clear();
    }

    /// The full exported name, `dynamo_component_<name>` (the samples add `_info`).
    fn name(&self) -> String {
        self.vec.name()
    }

    /// The variable label names, in declaration order.
    fn variable_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.keys.names(py)
    }

    /// The constant labels: the hierarchy labels and the ones given at creation.
    fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        const_dict(py, &self.vec.const_labels())
    }

    fn __repr__(&self) -> String {
        repr("InfoVec", &self.vec.name(), &self.vec.const_labels())
    }
}

/// One of a fixed list of states (the first at creation), shown as one series per state
/// labelled with the metric's name: 1 for the current state, 0 for the others.
#[pyclass(frozen, module = "dynamo.prometheus_metrics", name = "Enum")]
pub struct PyEnum(pub(crate) StateSet);

#[pymethods]
impl PyEnum {
    /// Makes `state` the current state; `ValueError` naming a state it does not have.
    fn state(&self, state: &str) -> PyResult<()> {
        self.0.state(state).map_err(|e| to_py_err(e.into()))
    }

    /// The current state.
    fn get(&self) -> String {
        self.0.get()
    }

    /// Every state, in the order given at creation.
    fn states(&self) -> Vec<String> {
        self.0.states()
    }

    /// The full exported name, `dynamo_component_<name>`: also the label of the states.
    fn name(&self) -> String {
        self.0.name()
    }

    /// The constant labels: the hierarchy labels and the ones given at creation.
    fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        const_dict(py, &self.0.const_labels())
    }

    fn __repr__(&self) -> String {
        repr("Enum", &self.0.name(), &self.0.const_labels())
    }
}

/// Enums of one list of states, one per set of label values.
#[pyclass(frozen, module = "dynamo.prometheus_metrics", name = "EnumVec")]
pub struct PyEnumVec {
    vec: StateSetVec,
    keys: LabelKeys,
}

impl PyEnumVec {
    pub(crate) fn new(py: Python<'_>, vec: StateSetVec) -> Self {
        Self {
            keys: LabelKeys::of(py, &vec.variable_labels()),
            vec,
        }
    }

    fn child(&self, labels: &Bound<'_, PyDict>) -> PyResult<StateSet> {
        self.keys.child(&self.vec.name(), labels, |values| {
            self.vec.get_metric_with_label_values(values)
        })
    }
}

#[pymethods]
impl PyEnumVec {
    /// Makes `state` the current state of the enum of `labels`.
    fn state(&self, labels: &Bound<'_, PyDict>, state: &str) -> PyResult<()> {
        self.child(labels)?
            .state(state)
            .map_err(|e| to_py_err(e.into()))
    }

    /// The current state of the enum of `labels`.
    fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<String> {
        Ok(self.child(labels)?.get())
    }

    /// The enum of `labels`, created on first use.
    fn labels(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyEnum> {
        Ok(PyEnum(self.child(labels)?))
    }

    /// Removes the enum of `labels`; returns False when there is none.
    fn remove(&self, labels: &Bound<'_, PyDict>) -> PyResult<bool> {
        let values: Vec<String> = self.keys.child(&self.vec.name(), labels, |values| {
            Ok::<_, dynamo_runtime::MetricsError>(values.iter().map(|v| v.to_string()).collect())
        })?;
        match self.vec.remove_label_values(&values) {
            Ok(()) => Ok(true),
            Err(dynamo_runtime::ExporterError::NoSuchSeries { .. }) => Ok(false),
            Err(error) => Err(to_py_err(error.into())),
        }
    }

    /// Removes every enum whose labels named in `labels` (a dict of some of the label
    /// names) have those values; returns how many.
    fn remove_matching(&self, labels: &Bound<'_, PyDict>) -> PyResult<usize> {
        let names = self.vec.variable_labels();
        remove_matching(&self.keys, &self.vec.name(), &names, labels, |pairs| {
            self.vec.remove_matching(pairs)
        })
    }

    /// Removes every enum.
    fn clear(&self) {
        self.vec.clear();
    }

    /// The full exported name, `dynamo_component_<name>`: also the label of the states.
    fn name(&self) -> String {
        self.vec.name()
    }

    /// The variable label names, in declaration order.
    fn variable_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.keys.names(py)
    }

    /// The constant labels: the hierarchy labels and the ones given at creation.
    fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        const_dict(py, &self.vec.const_labels())
    }

    fn __repr__(&self) -> String {
        repr("EnumVec", &self.vec.name(), &self.vec.const_labels())
    }
}

/// Adds the classes to the module; returns their names.
pub(crate) fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<Vec<String>> {
    m.add_class::<PyInfo>()?;
    m.add_class::<PyInfoVec>()?;
    m.add_class::<PyEnum>()?;
    m.add_class::<PyEnumVec>()?;
    Ok(["Enum", "EnumVec", "Info", "InfoVec"]
        .map(String::from)
        .into())
}

/// The id of the registered metric behind an info or enum object, if it is one.
pub(crate) fn registered_id(metric: &Bound<'_, PyAny>) -> Option<u32> {
    if let Ok(object) = metric.cast::<PyInfo>() {
        return Some(object.get().0.metric_id());
    }
    if let Ok(object) = metric.cast::<PyInfoVec>() {
        return Some(object.get().vec.metric_id());
    }
    if let Ok(object) = metric.cast::<PyEnum>() {
        return Some(object.get().0.metric_id());
    }
    if let Ok(object) = metric.cast::<PyEnumVec>() {
        return Some(object.get().vec.metric_id());
    }
    None
}

#[pymethods]
impl crate::metrics::PyMetrics {
    /// Creates an info: metadata set by `.info({...})`, shown as `<name>_info{..} 1`.
    #[pyo3(signature = (name, description, labels = None))]
    fn create_info(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyInfo> {
        let labels = ConstLabels::pairs(&labels);
        let info = py
            .detach(|| self.0.create_info(name, description, &labels))
            .map_err(to_py_err)?;
        Ok(PyInfo(info))
    }

    /// Creates infos keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, const_labels = None))]
    fn create_infovec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyInfoVec> {
        let names: Vec<&str> = label_names.iter().map(String::as_str).collect();
        let const_labels = ConstLabels::pairs(&const_labels);
        let vec = py
            .detach(|| {
                self.0
                    .create_infovec(name, description, &names, &const_labels)
            })
            .map_err(to_py_err)?;
        Ok(PyInfoVec::new(py, vec))
    }

    /// Creates an enum of `states` (at least one), the first current until `.state(...)`.
    #[pyo3(signature = (name, description, states, labels = None))]
    fn create_enum(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        states: Vec<String>,
        labels: Option<ConstLabels>,
    ) -> PyResult<PyEnum> {
        let states: Vec<&str> = states.iter().map(String::as_str).collect();
        let labels = ConstLabels::pairs(&labels);
        let state = py
            .detach(|| self.0.create_enum(name, description, &labels, &states))
            .map_err(to_py_err)?;
        Ok(PyEnum(state))
    }

    /// Creates enums of `states` (at least one) keyed by the values of `label_names`.
    #[pyo3(signature = (name, description, label_names, states, const_labels = None))]
    fn create_enumvec(
        &self,
        py: Python<'_>,
        name: &str,
        description: &str,
        label_names: Vec<String>,
        states: Vec<String>,
        const_labels: Option<ConstLabels>,
    ) -> PyResult<PyEnumVec> {
        let names: Vec<&str> = label_names.iter().map(String::as_str).collect();
        let states: Vec<&str> = states.iter().map(String::as_str).collect();
        let const_labels = ConstLabels::pairs(&const_labels);
        let vec = py
            .detach(|| {
                self.0
                    .create_enumvec(name, description, &names, &const_labels, &states)
            })
            .map_err(to_py_err)?;
        Ok(PyEnumVec::new(py, vec))
    }
}

/// Runs `remove` with the `(name, value)` pairs of `labels` (a dict of some of the label
/// `names`).
fn remove_matching(
    keys: &LabelKeys,
    metric: &str,
    names: &[&str],
    labels: &Bound<'_, PyDict>,
    remove: impl FnOnce(&[(&str, &str)]) -> usize,
) -> PyResult<usize> {
    let wanted = keys.partial(metric, labels)?;
    let pairs: Vec<(&str, &str)> = wanted
        .iter()
        .map(|(at, v)| (names[*at], v.as_str()))
        .collect();
    Ok(remove(&pairs))
}
