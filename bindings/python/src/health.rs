//! `endpoint.register_health_check(handler, payload)`: each probe calls the Python helper
//! `dynamo._health.answer` on the probe's own thread, which waits for a plain function, an
//! `async def` or a generator alike.

use std::sync::Arc;

use dynamo_runtime::Endpoint;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::errors::to_py_err;

/// Registers `handler` and `payload` as the health check of `endpoint`.
pub(crate) fn register(
    endpoint: &Endpoint,
    handler: Py<PyAny>,
    payload: Py<PyAny>,
) -> PyResult<()> {
    endpoint
        .register_blocking_health_check(
            move |payload: Arc<Py<PyAny>>| answer(&handler, &payload),
            Arc::new(payload),
        )
        .map_err(to_py_err)
}

/// One probe: the handler's answer, or the text of the exception it raised.
fn answer(handler: &Py<PyAny>, payload: &Py<PyAny>) -> Result<(), String> {
    static ANSWER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Python::attach(|py| {
        ANSWER
            .import(py, "dynamo._health", "answer")
            .and_then(|answer| answer.call1((handler, payload)))
            .map(drop)
            .map_err(|error| error.to_string())
    })
}
