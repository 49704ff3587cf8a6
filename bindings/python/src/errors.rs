//! Python exceptions for the errors of the metrics API.
//!
//! Conflicts with a metric already registered raise [`MetricsError`] (a `RuntimeError`); a bad
//! argument (name, label, help, buckets, environment value) raises `ValueError`; a failure of
//! the operating system (such as a port already in use) raises `OSError`.

use std::error::Error as _;

use dynamo_runtime::MetricsError as Error;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::{PyErr, create_exception};

create_exception!(
    dynamo.prometheus_metrics,
    MetricsError,
    PyRuntimeError,
    "A metric could not be created because it conflicts with one already registered \
     (same name and constant labels, or the same name with another type or help)."
);

/// The Python exception for an error of the Rust API.
pub(crate) fn to_py_err(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        e if e.is_conflict() => MetricsError::new_err(message),
        Error::InvalidMetricName { .. }
        | Error::InvalidHierarchyName { .. }
        | Error::ReservedLabel { .. }
        | Error::Registry(_)
        | Error::RequestMetrics { .. }
        | Error::NotCreatedHere { .. }
        | Error::InvalidSetting { .. }
        | Error::InvalidEnv { .. }
        | Error::InvalidHealthStatus { .. } => PyValueError::new_err(message),
        other => match cause(&other) {
            Cause::Os(errno) => PyOSError::new_err((errno, message)),
            Cause::Io => PyOSError::new_err(message),
            Cause::Other => MetricsError::new_err(message),
        },
    }
}

/// What lies beneath an error that is not about an argument.
enum Cause {
    /// An error of the operating system, with its number (`errno`).
    Os(i32),
    /// An I/O error without an OS error number.
    Io,
    /// Anything else.
    Other,
}

/// The first I/O error among the sources of `error`, if any.
fn cause(error: &Error) -> Cause {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.raw_os_error().map_or(Cause::Io, Cause::Os);
        }
        source = cause.source();
    }
    Cause::Other
}
