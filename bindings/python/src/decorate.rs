//! Context managers used as decorators: the wrapping is done by the Python helper
//! `dynamo._decorate.decorate`, which knows coroutine and generator functions.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `func` wrapped so that each call runs inside a fresh `new_context()`.
pub(crate) fn decorate<'py>(
    func: &Bound<'py, PyAny>,
    new_context: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    static DECORATE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = func.py();
    DECORATE
        .import(py, "dynamo._decorate", "decorate")?
        .call1((func, new_context))
}
