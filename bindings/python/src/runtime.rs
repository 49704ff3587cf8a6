//! The hierarchy: `DistributedRuntime -> namespace -> component -> endpoint`, each with
//! `.metrics`.

use dynamo_runtime::{Component, DistributedRuntime, Endpoint, HealthStatus, Namespace};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::to_py_err;
use crate::labels::ConstLabels;
use crate::labels::selector;
use crate::metrics::PyMetrics;
use crate::requests::{self, PyRequestGuard};

/// The root of the hierarchy, configured from the environment (`DYN_SYSTEM_PORT`,
/// `DYN_SYSTEM_HOST`, `DYN_METRICS_CONST_LABELS`, ...). With `DYN_SYSTEM_PORT` set, it serves
/// `/metrics`, `/health` and `/live` on its own thread until `shutdown()`.
#[pyclass(frozen, module = "dynamo.runtime", name = "DistributedRuntime")]
pub struct PyDistributedRuntime(DistributedRuntime);

#[pymethods]
impl PyDistributedRuntime {
    /// Creates a runtime from the environment (`DYN_*`, and `OTEL_*` for OTLP export).
    /// `const_labels` (a dict, or a list of `(name, value)` pairs) are added to every series
    /// of the page, besides those of `DYN_METRICS_CONST_LABELS` (on the same name, these
    /// win). `process_metrics` shows or hides the standard `process_*` metrics (default:
    /// `DYN_METRICS_PROCESS`, on). `otlp={...}` turns OTLP export on with these settings over
    /// the environment's.
    ///
    /// Raises `ValueError` for an unusable setting such as `DYN_SYSTEM_PORT=abc` or a
    /// reserved label name.
    #[new]
    #[pyo3(signature = (*, const_labels = None, process_metrics = None, otlp = None))]
    fn new(
        py: Python<'_>,
        const_labels: Option<ConstLabels>,
        process_metrics: Option<bool>,
        otlp: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let labels = ConstLabels::pairs(&const_labels);
        let otlp = otlp.map(crate::otlp::config).transpose()?;
        py.detach(move || {
            let mut builder = DistributedRuntime::builder().from_env();
            if !labels.is_empty() {
                builder = builder.const_labels(&labels);
            }
            if let Some(on) = process_metrics {
                builder = builder.process_metrics(on);
            }
            if let Some(config) = otlp {
                builder = builder.otlp(config);
            }
            builder.build()
        })
        .map(Self)
        .map_err(to_py_err)
    }

    /// The namespace `name`; two calls with the same name give the same place.
    fn namespace(&self, name: &str) -> PyNamespace {
        PyNamespace(self.0.namespace(name))
    }

    /// The runtime-level metrics: no hierarchy labels; its scrape covers every level.
    #[getter]
    fn metrics(&self) -> PyMetrics {
        PyMetrics(self.0.metrics())
    }

    /// `(host, port)` of the system status server, or `None` when it does not run.
    fn system_status_server_info(&self) -> Option<(String, u16)> {
        self.0
            .system_status_server_info()
            .map(|addr| (addr.ip().to_string(), addr.port()))
    }

    /// Stops the system status server, if it runs, and OTLP export after a final export
    /// (bounded by its shutdown timeout). Metrics keep working.
    fn shutdown(&self, py: Python<'_>) {
        py.detach(|| self.0.shutdown());
    }

    /// Sets the runtime's readiness: `"ready"` or `"notready"`, in any case. `/health`
    /// answers 200 when the runtime and every endpoint that set its own readiness are ready,
    /// else 503.
    fn set_health_status(&self, status: &str) -> PyResult<()> {
        self.0.set_health_status(health_status(status)?);
        Ok(())
    }

    /// The runtime's own readiness: `"ready"` or `"notready"`.
    fn health_status(&self) -> &'static str {
        self.0.health_status().as_str()
    }

    fn __repr__(&self) -> String {
        match self.0.system_status_server_info() {
            Some(addr) => format!("<DistributedRuntime serving http://{addr}/metrics>"),
            None => "<DistributedRuntime>".into(),
        }
    }
}

/// Defines a frozen Python class over a hierarchy level, with `.metrics`.
macro_rules! level_class {
    ($(#[$doc:meta])* $class:ident($level:ty) as $name:literal { $($methods:tt)* }) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "dynamo.runtime", name = $name)]
        pub struct $class($level);

        #[pymethods]
        impl $class {
            $($methods)*

            /// The metrics of this level: creators, scrape text and callbacks.
            #[getter]
            fn metrics(&self) -> PyMetrics {
                PyMetrics(self.0.metrics())
            }

            fn __repr__(&self) -> String {
                format!("<{} {}>", $name, selector("", self.0.hierarchy_labels()))
            }
        }
    };
}

level_class! {
    /// A namespace: its metrics carry the label `dynamo_namespace`.
    PyNamespace(Namespace) as "Namespace" {
        /// The component `name` of this namespace.
        fn component(&self, name: &str) -> PyComponent {
            PyComponent(self.0.component(name))
        }
    }
}

level_class! {
    /// A component of a namespace: its metrics also carry `dynamo_component`.
    PyComponent(Component) as "Component" {
        /// The endpoint `name` of this component.
        fn endpoint(&self, name: &str) -> PyEndpoint {
            PyEndpoint(self.0.endpoint(name))
        }
    }
}

level_class! {
    /// An endpoint of a component: its metrics also carry `dynamo_endpoint`.
    PyEndpoint(Endpoint) as "Endpoint" {
        /// Sets this endpoint's readiness, `"ready"` or `"notready"` in any case: `/health`
        /// lists it under `endpoints` and is ready only while every endpoint that set one is.
        fn set_health_status(&self, status: &str) -> PyResult<()> {
            self.0.set_health_status(health_status(status)?);
            Ok(())
        }

        /// The readiness this endpoint set, or `None` when it set none.
        fn health_status(&self) -> Option<&'static str> {
            self.0.health_status().map(HealthStatus::as_str)
        }

        /// Registers this endpoint's health check: with `DYN_HEALTH_CHECK_ENABLED=true`, once
        /// the endpoint has had no successful tracked request for `DYN_CANARY_WAIT_TIME`
        /// seconds, `handler(payload)` is called on a thread of its own (a plain function, an
        /// `async def` run on an event loop of that thread, or a generator whose first item
        /// counts). An answer within `DYN_HEALTH_CHECK_REQUEST_TIMEOUT` seconds makes the
        /// endpoint ready; an exception or no answer in time makes it `notready` until the
        /// next success. With health checks off, registering marks the endpoint ready.
        fn register_health_check(&self, py: Python<'_>, handler: Py<PyAny>, payload: Py<PyAny>) -> PyResult<()> {
            py.detach(|| crate::health::register(&self.0, handler, payload))
        }

        /// Starts tracking one request: a `RequestGuard`, for a `with` block. An exception
        /// leaving the block counts an error of `error_type`, or of the exception's class
        /// name when `None`.
        ///
        /// The request's W3C `traceparent` header, or else OpenTelemetry's current span (when
        /// `opentelemetry-api` is installed), puts its trace and span ids beside the
        /// request's count and duration as exemplars (served on the OpenMetrics page).
        ///
        /// The endpoint's request metrics are created on the first call (see
        /// `create_request_metrics`); when they cannot be, the error is logged once on the
        /// `dynamo.runtime` logger and requests are not counted.
        #[pyo3(signature = (error_type = None, traceparent = None))]
        fn track_request(
            &self,
            py: Python<'_>,
            error_type: Option<String>,
            traceparent: Option<&str>,
        ) -> PyRequestGuard {
            requests::track(py, &self.0, error_type, traceparent)
        }

        /// Decorator tracking each call of a function, `async def` and generator functions
        /// included, as one request: `@endpoint.track_requests` or
        /// `@endpoint.track_requests(error_type="generate")`.
        #[pyo3(signature = (func = None, /, *, error_type = None))]
        fn track_requests<'py>(
            slf: &Bound<'py, Self>,
            func: Option<&Bound<'py, PyAny>>,
            error_type: Option<String>,
        ) -> PyResult<Bound<'py, PyAny>> {
            requests::track_requests(slf.as_any(), func, error_type)
        }

        /// Creates the endpoint's request metrics now, with extra constant `labels` (such as
        /// `[("model", "llama")]`) and buckets (default 0.005 to 600 seconds), before its
        /// first tracked request. Raises `MetricsError` when they exist already or conflict
        /// with a metric of the same name, `ValueError` for a malformed label or bucket list.
        /// `native_bucket_factor` (1.1 is usual) gives both histograms native buckets too.
        #[pyo3(signature = (labels = None, duration_buckets = None, first_response_buckets = None, native_bucket_factor = None))]
        fn create_request_metrics(
            &self,
            labels: Option<ConstLabels>,
            duration_buckets: Option<Vec<f64>>,
            first_response_buckets: Option<Vec<f64>>,
            native_bucket_factor: Option<f64>,
        ) -> PyResult<()> {
            requests::create_request_metrics(
                &self.0,
                labels,
                duration_buckets,
                first_response_buckets,
                native_bucket_factor,
            )
        }
    }
}

/// `"ready"` or `"notready"` in any case, read by [`HealthStatus`]'s `FromStr` as the
/// environment variable is, or a `ValueError` naming the text.
fn health_status(status: &str) -> PyResult<HealthStatus> {
    status.parse().map_err(to_py_err)
}
