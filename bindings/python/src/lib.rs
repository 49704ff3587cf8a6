//! Python bindings of the Dynamo runtime's metrics API, built by maturin as `dynamo._core`.
//!
//! The public Python modules (`dynamo.runtime`, `dynamo.prometheus_metrics`) re-export the
//! classes defined here:
//!
//! ```python
//! from dynamo.runtime import DistributedRuntime
//!
//! drt = DistributedRuntime()
//! endpoint = drt.namespace("ns").component("cache").endpoint("get")
//! hits = endpoint.metrics.create_intcounter("hits_total", "Cache hits")
//! hits.inc()
//! by_model = endpoint.metrics.create_intcountervec("requests_total", "Requests", ["model"])
//! by_model.inc({"model": "llama"})
//! print(endpoint.metrics.prometheus_expfmt())
//! ```
//!
//! Every class is frozen and wraps a cheap `Arc` handle of the Rust API, so objects are safe
//! to share between threads. Calls that may run Python callbacks on other threads
//! (`prometheus_expfmt()`, `shutdown()`) release the interpreter while they wait. At
//! interpreter exit, an `atexit` hook lets the callbacks under way end and starts no other
//! (`exit.rs`), so `shutdown()` is optional.

mod callbacks;
mod decorate;
mod engine;
mod errors;
mod exemplar;
mod exit;
mod fastcall;
mod fork;
mod health;
mod kinds;
mod labels;
mod metrics;
mod number;
mod otlp;
mod requests;
mod runtime;
mod timers;

use pyo3::prelude::*;

/// The native module behind the `dynamo` package.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<runtime::PyDistributedRuntime>()?;
    m.add_class::<runtime::PyNamespace>()?;
    m.add_class::<runtime::PyComponent>()?;
    m.add_class::<runtime::PyEndpoint>()?;
    m.add_class::<requests::PyRequestGuard>()?;
    m.add_class::<metrics::PyMetrics>()?;
    m.add_class::<callbacks::PyCallbackHandle>()?;
    m.add_class::<timers::PyTimer>()?;
    m.add_class::<timers::PyInprogressTracker>()?;
    m.add_class::<timers::PyExceptionCounter>()?;
    m.add("MetricsError", m.py().get_type::<errors::MetricsError>())?;
    let mut metric_names = kinds::add_classes(m)?;
    metric_names.extend(
        [
            "ExceptionCounter",
            "InprogressTracker",
            "MetricsError",
            "Timer",
        ]
        .map(String::from),
    );
    metric_names.sort_unstable();
    // What `dynamo.prometheus_metrics` re-exports: every metric class (one per line of the
    // kinds table), its context managers and the error of conflicts.
    m.setattr("__all__", metric_names)?;
    fork::register(m)?;
    exit::register(m)?;
    Ok(())
}
