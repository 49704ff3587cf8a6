//! Request tracking: `endpoint.track_request()`, a context manager over the Rust guard, and
//! the `@endpoint.track_requests` decorator.

use dynamo_runtime::{Endpoint, MetricsError, NativeHistogram, RequestGuard, TraceParent};
use pyo3::exceptions::PyGeneratorExit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

use crate::decorate::decorate;
use crate::errors::to_py_err;
use crate::labels::ConstLabels;

/// One request being tracked, from `endpoint.track_request()`; use it in a `with` block.
///
/// Its creation counted the request in `requests_total` and `inflight_requests`. It ends
/// once, at the end of the `with` block or at `finish()`, whichever comes first (or when the
/// object is collected): `request_duration_seconds` observes the time since the start and
/// `inflight_requests` goes down. An exception leaving the block counts an error named after
/// the exception's class (or the `error_type` given to `track_request`), unless the request
/// already counted an error or a cancellation; `asyncio.CancelledError` and `GeneratorExit`
/// count a cancellation instead.
#[pyclass(module = "dynamo.runtime", name = "RequestGuard")]
pub struct PyRequestGuard {
    /// `None` once ended.
    guard: Option<RequestGuard>,
    /// The error type of an exception leaving the block, instead of its class name.
    error_type: Option<String>,
}

#[pymethods]
impl PyRequestGuard {
    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Ends the request, counting an error or a cancellation for an exception; never
    /// suppresses the exception.
    fn __exit__(
        &mut self,
        exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if let Some(mut guard) = self.guard.take() {
            if !exc_type.is_none() {
                count_exception(&mut guard, exc_type, self.error_type.as_deref())?;
            }
            guard.finish();
        }
        Ok(false)
    }

    /// Counts one error of `error_type` in `errors_total{error_type}`.
    fn error(&mut self, error_type: &str) {
        if let Some(guard) = &mut self.guard {
            guard.error(error_type);
        }
    }

    /// Counts the request in `cancellation_total` (once).
    fn cancelled(&mut self) {
        if let Some(guard) = &mut self.guard {
            guard.cancelled();
        }
    }

    /// Adds `n` to `request_bytes_total`.
    fn request_bytes(&self, n: u64) {
        if let Some(guard) = &self.guard {
            guard.request_bytes(n);
        }
    }

    /// Adds `n` to `response_bytes_total`.
    fn response_bytes(&self, n: u64) {
        if let Some(guard) = &self.guard {
            guard.response_bytes(n);
        }
    }

    /// Observes the time since the start in `time_to_first_response_seconds`, on the first
    /// call only.
    fn first_response(&mut self) {
        if let Some(guard) = &mut self.guard {
            guard.first_response();
        }
    }

    /// Ends the request now; returns its duration in seconds (0 when it had ended already).
    fn finish(&mut self) -> f64 {
        self.guard
            .take()
            .map_or(0.0, |guard| guard.finish().as_secs_f64())
    }

    fn __repr__(&self) -> String {
        match &self.guard {
            Some(guard) => format!("<RequestGuard elapsed={:?}>", guard.elapsed()),
            None => "<RequestGuard ended>".into(),
        }
    }
}

/// Counts what an exception leaving a request means: a cancellation for
/// `asyncio.CancelledError` and `GeneratorExit`, else an error unless one was counted.
fn count_exception(
    guard: &mut RequestGuard,
    exc_type: &Bound<'_, PyAny>,
    error_type: Option<&str>,
) -> PyResult<()> {
    static CANCELLED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let py = exc_type.py();
    let exc_type = exc_type.cast::<PyType>()?;
    let cancelled = CANCELLED_ERROR.import(py, "asyncio", "CancelledError")?;
    if exc_type.is_subclass(cancelled)? || exc_type.is_subclass_of::<PyGeneratorExit>()? {
        guard.cancelled();
    } else if !guard.has_error() && !guard.is_cancelled() {
        match error_type {
            Some(error_type) => guard.error(error_type),
            None => guard.error(exc_type.name()?.to_str()?),
        }
    }
    Ok(())
}

/// `endpoint.track_request(error_type=None, traceparent=None)`: traced by `traceparent` if
/// given, else by OpenTelemetry's current span if there is one.
pub(crate) fn track(
    py: Python<'_>,
    endpoint: &Endpoint,
    error_type: Option<String>,
    traceparent: Option<&str>,
) -> PyRequestGuard {
    let parent = match traceparent {
        Some(header) => TraceParent::parse(header),
        None => current_span(py),
    };
    let guard = endpoint.start_request(|error| log_refusal(py, error), parent.as_ref());
    PyRequestGuard {
        guard: Some(guard),
        error_type,
    }
}

/// How the current span is found: OpenTelemetry's `get_current_span`, and, where this version
/// of OpenTelemetry keeps them as expected, its current context and the span's key in it
/// (what `get_current_span` reads, without its Python frames).
struct OpenTelemetry {
    get_current_span: Py<PyAny>,
    context_and_key: Option<(Py<PyAny>, Py<PyAny>)>,
    invalid_span: Py<PyAny>,
}

impl OpenTelemetry {
    /// The current span, `None` when the context has none.
    fn span<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        if let Some((get_current, key)) = &self.context_and_key {
            let context = get_current.bind(py).call0().ok()?;
            if let Ok(context) = context.cast::<PyDict>() {
                return context.get_item(key).ok()?;
            }
        }
        self.get_current_span.bind(py).call0().ok()
    }
}

/// The trace of OpenTelemetry's current span, when `opentelemetry-api` is installed and the
/// span is valid (its modules are looked up once). No span, or OpenTelemetry's invalid span,
/// is no trace.
fn current_span(py: Python<'_>) -> Option<TraceParent> {
    static OPENTELEMETRY: PyOnceLock<Option<OpenTelemetry>> = PyOnceLock::new();
    let found = OPENTELEMETRY
        .get_or_init(py, || {
            let attribute = |module: &str, name: &str| {
                Some(py.import(module).ok()?.getattr(name).ok()?.unbind())
            };
            let get_current = attribute("opentelemetry.context", "get_current");
            let span_key = attribute("opentelemetry.trace.propagation", "_SPAN_KEY");
            Some(OpenTelemetry {
                get_current_span: attribute("opentelemetry.trace", "get_current_span")?,
                context_and_key: get_current.zip(span_key),
                invalid_span: attribute("opentelemetry.trace", "INVALID_SPAN")?,
            })
        })
        .as_ref()?;
    let span = found.span(py)?;
    if span.is(&found.invalid_span) {
        return None;
    }
    let context = span.call_method0(intern!(py, "get_span_context")).ok()?;
    if !context
        .getattr(intern!(py, "is_valid"))
        .ok()?
        .extract::<bool>()
        .ok()?
    {
        return None;
    }
    let trace_id: u128 = context
        .getattr(intern!(py, "trace_id"))
        .ok()?
        .extract()
        .ok()?;
    let span_id: u64 = context
        .getattr(intern!(py, "span_id"))
        .ok()?
        .extract()
        .ok()?;
    TraceParent::from_ids(trace_id, span_id)
}

/// `@endpoint.track_requests` and `@endpoint.track_requests(error_type=...)`.
pub(crate) fn track_requests<'py>(
    endpoint: &Bound<'py, PyAny>,
    func: Option<&Bound<'py, PyAny>>,
    error_type: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = endpoint.py();
    let partial = |method: &str| {
        let kwargs = PyDict::new(py);
        kwargs.set_item("error_type", &error_type)?;
        py.import("functools")?
            .call_method("partial", (endpoint.getattr(method)?,), Some(&kwargs))
    };
    match func {
        // Each call gets its guard from `track_request`, bound (the fast form) unless an error
        // type must be passed along.
        Some(func) => match &error_type {
            None => decorate(func, &endpoint.getattr("track_request")?),
            Some(_) => decorate(func, &partial("track_request")?),
        },
        // Called with options: the decorator to apply next.
        None => partial("track_requests"),
    }
}

/// `endpoint.create_request_metrics(labels=None, duration_buckets=None,
/// first_response_buckets=None, native_bucket_factor=None)`.
pub(crate) fn create_request_metrics(
    endpoint: &Endpoint,
    labels: Option<ConstLabels>,
    duration_buckets: Option<Vec<f64>>,
    first_response_buckets: Option<Vec<f64>>,
    native_bucket_factor: Option<f64>,
) -> PyResult<()> {
    let mut options = endpoint
        .request_metrics_options()
        .with_const_labels(&ConstLabels::pairs(&labels));
    if let Some(buckets) = duration_buckets {
        options = options.with_duration_buckets(buckets);
    }
    if let Some(buckets) = first_response_buckets {
        options = options.with_first_response_buckets(buckets);
    }
    if let Some(factor) = native_bucket_factor {
        options = options.with_native_histograms(NativeHistogram::new(factor));
    }
    options.create().map(drop).map_err(to_py_err)
}

/// Logs, once per endpoint, why its request metrics could not be created, on the
/// `dynamo.runtime` logger.
fn log_refusal(py: Python<'_>, error: &MetricsError) {
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("dynamo.runtime",)))
        .and_then(|logger| {
            logger.call_method1(
                "error",
                (
                    "%s; requests at this endpoint are not counted",
                    error.to_string(),
                ),
            )
        });
    if let Err(err) = logged {
        err.write_unraisable(py, None);
    }
}
