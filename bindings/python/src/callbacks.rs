//! Python functions run before each scrape.
//!
//! The runtime calls them from its own threads (the server's, or the callback threads of a
//! `prometheus_expfmt()` call); each call attaches to the interpreter for as long as the
//! function runs. An exception is logged on the `dynamo.runtime` logger, with its traceback,
//! and the scrape goes on without it. Once the interpreter exits, no callback starts
//! ([`crate::exit`]).

use dynamo_runtime::{CallbackHandle, Metrics};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::errors::type_name;
use crate::exit;

/// Unregisters a callback: returned by `register_callback`,
/// `register_prometheus_expfmt_callback` and `register_engine_metrics`. Dropping it keeps the
/// callback registered.
#[pyclass(frozen, module = "dynamo.runtime", name = "CallbackHandle")]
pub struct PyCallbackHandle(pub(crate) CallbackHandle);

#[pymethods]
impl PyCallbackHandle {
    /// Removes the callback: later scrapes no longer run it (a call under way finishes).
    /// Returns `False` when it was removed already or its runtime is gone.
    fn unregister(&self) -> bool {
        self.0.unregister()
    }

    fn __repr__(&self) -> String {
        "<CallbackHandle>".into()
    }
}

/// Registers `callback` to run before each scrape of `metrics`' level or a level above it.
pub(crate) fn register_update(
    metrics: &Metrics,
    callback: Bound<'_, PyAny>,
) -> PyResult<PyCallbackHandle> {
    let callback = callable(callback)?;
    let handle = metrics.register_callback(move || {
        attached(|py| {
            callback
                .bind(py)
                .call0()
                .map(drop)
                .map_err(|err| logged(py, "metrics callback", callback.bind(py), err))
        })
    });
    Ok(PyCallbackHandle(handle))
}

/// Registers `callback`, whose returned `str` is appended to each scrape of `metrics`' level or
/// a level above it.
pub(crate) fn register_text(
    metrics: &Metrics,
    callback: Bound<'_, PyAny>,
) -> PyResult<PyCallbackHandle> {
    let callback = callable(callback)?;
    let handle = metrics.register_prometheus_expfmt_callback(move || {
        attached(|py| {
            let f = callback.bind(py);
            let text = f.call0().and_then(|text| {
                text.cast_into::<PyString>()
                    .map_err(|e| {
                        PyTypeError::new_err(format!(
                            "an exposition text callback must return a str, not {}",
                            type_name(e.into_inner().as_any())
                        ))
                    })?
                    .to_str()
                    .map(str::to_owned)
            });
            text.map_err(|err| logged(py, "metrics text callback", f, err))
        })
    });
    Ok(PyCallbackHandle(handle))
}

fn callable(callback: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if callback.is_callable() {
        Ok(callback.unbind())
    } else {
        Err(PyTypeError::new_err(format!(
            "a callback must be callable, not {}",
            type_name(&callback)
        )))
    }
}

/// Runs `f` attached to the interpreter, unless the interpreter is exiting or gone (see
/// [`crate::exit`]): then the callback is skipped, as a failed one is.
pub(crate) fn attached<T>(
    f: impl for<'py> FnOnce(Python<'py>) -> Result<T, String>,
) -> Result<T, String> {
    exit::call(f)
        .unwrap_or_else(|| Err("the Python interpreter is exiting; callback skipped".into()))
}

/// Logs `err` with its traceback on the `dynamo.runtime` logger and returns its message.
pub(crate) fn logged(
    py: Python<'_>,
    what: &str,
    callback: &Bound<'_, PyAny>,
    err: PyErr,
) -> String {
    let message = err.to_string();
    let exc_info = (err.get_type(py), err.value(py).clone(), err.traceback(py));
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("dynamo.runtime",)))
        .and_then(|logger| {
            let kwargs = PyDict::new(py);
            kwargs.set_item("exc_info", exc_info)?;
            logger.call_method(
                "error",
                ("%s %r raised %s; skipped", what, callback, message.as_str()),
                Some(&kwargs),
            )
        });
    if let Err(log_err) = logged {
        log_err.write_unraisable(py, Some(callback));
    }
    message
}
