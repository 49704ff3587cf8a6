//! Exemplars from Python: a dict of label names to string values, as prometheus_client takes
//! them (`counter.inc(1, exemplar={"trace_id": "..."})`), checked before the update.

use dynamo_runtime::Exemplar;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// The exemplar of `labels`; a dict that breaks the OpenMetrics rules (a bad label name, more
/// than 128 characters) raises `ValueError`, a key or value that is not a `str` `TypeError`.
pub(crate) fn from_dict(labels: &Bound<'_, PyDict>) -> PyResult<Exemplar> {
    let items: Vec<_> = labels.iter().collect();
    let mut pairs = Vec::with_capacity(items.len());
    // Borrowed from the dict's strings: no copy.
    for (name, value) in &items {
        pairs.push((text(name)?, text(value)?));
    }
    Exemplar::new(&pairs).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The text of a `str`; `TypeError` for any other object.
fn text<'a>(object: &'a Bound<'_, PyAny>) -> PyResult<&'a str> {
    object.cast::<PyString>()?.to_str()
}
