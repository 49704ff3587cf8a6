//! Exemplars from Python: a dict of label names to string values, as prometheus_client takes
//! them (`counter.inc(1, exemplar={"trace_id": "..."})`), checked before the update.

use dynamo_runtime::Exemplar;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The exemplar of `labels`; a dict that breaks the OpenMetrics rules (a bad label name, more
/// than 128 characters) raises `ValueError`, a key or value that is not a `str` `TypeError`.
pub(crate) fn from_dict(labels: &Bound<'_, PyDict>) -> PyResult<Exemplar> {
    let mut pairs = Vec::with_capacity(labels.len());
    for (name, value) in labels.iter() {
        pairs.push((name.extract::<String>()?, value.extract::<String>()?));
    }
    Exemplar::new(&pairs).map_err(|e| PyValueError::new_err(e.to_string()))
}
