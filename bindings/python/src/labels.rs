//! Labels crossing the language boundary: constant label arguments, introspection results,
//! and the per-call lookup of a vec's label values in a dict.

use std::fmt::Write as _;

use dynamo_runtime::{Metric, MetricVec, MetricsError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::errors::{to_py_err, type_name};

/// Constant labels as given to a creator: a list of `(key, value)` pairs, or a dict.
pub(crate) struct ConstLabels(Vec<(String, String)>);

impl<'a, 'py> FromPyObject<'a, 'py> for ConstLabels {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(dict) = obj.cast::<PyDict>() {
            let pairs = dict
                .iter()
                .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<String>()?)))
                .collect::<PyResult<_>>()?;
            return Ok(Self(pairs));
        }
        obj.extract::<Vec<(String, String)>>()
            .map(Self)
            .map_err(|_| {
                PyTypeError::new_err(
                    "constant labels must be a list of (name, value) string pairs, or a dict",
                )
            })
    }
}

impl ConstLabels {
    /// The pairs as the Rust API takes them; empty for `None`.
    pub(crate) fn pairs(labels: &Option<Self>) -> Vec<(&str, &str)> {
        labels
            .iter()
            .flat_map(|l| l.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect()
    }
}

/// `{name: value}` for introspection.
pub(crate) fn label_dict<'py>(
    py: Python<'py>,
    labels: &[(&str, &str)],
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in labels {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

/// `name{k="v",...}`, as in the exposition format, for `__repr__`.
pub(crate) fn selector<'a>(
    name: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut text = format!("{name}{{");
    for (i, (k, v)) in labels.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(text, "{sep}{k}={v:?}");
    }
    text.push('}');
    text
}

/// Label values looked up on the stack up to this many labels; more go through a `Vec`.
const INLINE: usize = 8;

/// The variable label names of a vec, kept as interned Python strings so that each call finds
/// its values with one dict lookup per label and no allocation.
pub(crate) struct LabelKeys {
    keys: Box<[Py<PyString>]>,
}

impl LabelKeys {
    pub(crate) fn new<M: Metric>(py: Python<'_>, vec: &MetricVec<M>) -> Self {
        Self::of(py, &vec.variable_labels())
    }

    /// The keys of these label names, in declaration order.
    pub(crate) fn of(py: Python<'_>, names: &[&str]) -> Self {
        let keys = names
            .iter()
            .map(|name| PyString::intern(py, name).unbind())
            .collect();
        Self { keys }
    }

    /// The variable label names, in declaration order.
    pub(crate) fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.keys.iter().map(|k| k.bind(py)))
    }

    /// Calls `lookup` with the values `labels` gives to each label name, in declaration order.
    ///
    /// # Errors
    ///
    /// `ValueError` when a label is missing or unknown, `TypeError` when a value is not a `str`.
    #[inline]
    pub(crate) fn child<M, E>(
        &self,
        metric: &str,
        labels: &Bound<'_, PyDict>,
        lookup: impl FnOnce(&[&str]) -> Result<M, E>,
    ) -> PyResult<M>
    where
        E: Into<MetricsError>,
    {
        let n = self.keys.len();
        if labels.len() != n {
            return Err(self.mismatch(metric, labels));
        }
        if n <= INLINE {
            self.on_stack(metric, labels, lookup)
        } else {
            self.on_heap(metric, labels, lookup)
        }
    }

    /// [`LabelKeys::child`] for at most [`INLINE`] labels: the values are held on the stack.
    #[inline(always)]
    fn on_stack<M, E>(
        &self,
        metric: &str,
        labels: &Bound<'_, PyDict>,
        lookup: impl FnOnce(&[&str]) -> Result<M, E>,
    ) -> PyResult<M>
    where
        E: Into<MetricsError>,
    {
        let py = labels.py();
        let mut held: [Option<Bound<'_, PyAny>>; INLINE] = [const { None }; INLINE];
        for (slot, key) in held.iter_mut().zip(&self.keys) {
            *slot = Some(self.value(metric, labels, key)?);
        }
        let mut values: [&str; INLINE] = [""; INLINE];
        for ((value, obj), key) in values.iter_mut().zip(&held).zip(&self.keys) {
            if let Some(obj) = obj {
                *value = as_str(obj, key.bind(py))?;
            }
        }
        lookup(&values[..self.keys.len()]).map_err(|e| to_py_err(e.into()))
    }

    /// [`LabelKeys::child`] for more labels than fit on the stack.
    #[cold]
    fn on_heap<M, E>(
        &self,
        metric: &str,
        labels: &Bound<'_, PyDict>,
        lookup: impl FnOnce(&[&str]) -> Result<M, E>,
    ) -> PyResult<M>
    where
        E: Into<MetricsError>,
    {
        let py = labels.py();
        let held = self
            .keys
            .iter()
            .map(|key| self.value(metric, labels, key))
            .collect::<PyResult<Vec<_>>>()?;
        let values = held
            .iter()
            .zip(&self.keys)
            .map(|(obj, key)| as_str(obj, key.bind(py)))
            .collect::<PyResult<Vec<_>>>()?;
        lookup(&values).map_err(|e| to_py_err(e.into()))
    }

    fn value<'py>(
        &self,
        metric: &str,
        labels: &Bound<'py, PyDict>,
        key: &Py<PyString>,
    ) -> PyResult<Bound<'py, PyAny>> {
        labels
            .get_item(key.bind(labels.py()))?
            .ok_or_else(|| self.mismatch(metric, labels))
    }

    /// The positions (declaration order) and values of the labels a partial dict names.
    ///
    /// # Errors
    ///
    /// `ValueError` for a key that is not a label name, `TypeError` for a value that is not
    /// a `str`.
    pub(crate) fn partial(
        &self,
        metric: &str,
        labels: &Bound<'_, PyDict>,
    ) -> PyResult<Vec<(usize, String)>> {
        let py = labels.py();
        labels
            .iter()
            .map(|(key, value)| {
                let at = self
                    .keys
                    .iter()
                    .position(|k| key.eq(k.bind(py)).unwrap_or(false))
                    .ok_or_else(|| self.mismatch(metric, labels))?;
                Ok((at, as_str(&value, self.keys[at].bind(py))?.to_string()))
            })
            .collect()
    }

    /// The error for a dict whose keys are not exactly the label names.
    #[cold]
    fn mismatch(&self, metric: &str, labels: &Bound<'_, PyDict>) -> PyErr {
        let py = labels.py();
        let keys = || self.keys.iter().map(|k| k.bind(py));
        let missing = keys().filter(|k| !labels.contains(k).unwrap_or(false));
        let unknown = labels
            .keys()
            .into_iter()
            .filter(|k| !keys().any(|e| k.eq(e).unwrap_or(false)));
        let mut message = format!("metric {metric} takes the labels {}", list_repr(py, keys()));
        let missing = list_repr(py, missing);
        if missing != "[]" {
            let _ = write!(message, "; missing {missing}");
        }
        let unknown = list_repr(py, unknown);
        if unknown != "[]" {
            let _ = write!(message, "; unknown {unknown}");
        }
        PyValueError::new_err(message)
    }
}

/// The Python `repr` of a list of `items`.
fn list_repr<'py, T>(py: Python<'py>, items: impl IntoIterator<Item = T>) -> String
where
    T: IntoPyObject<'py>,
{
    PyList::new(py, items)
        .and_then(|list| list.repr().map(|r| r.to_string()))
        .unwrap_or_else(|_| "[?]".into())
}

/// The `&str` of a label value, or a `TypeError` naming the label.
#[inline]
fn as_str<'a>(value: &'a Bound<'_, PyAny>, key: &Bound<'_, PyString>) -> PyResult<&'a str> {
    match value.cast::<PyString>() {
        Ok(s) => s.to_str(),
        Err(_) => Err(PyTypeError::new_err(format!(
            "label {key} must be a str, not {}",
            type_name(value)
        ))),
    }
}
