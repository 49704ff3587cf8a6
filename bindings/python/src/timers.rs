//! prometheus_client's context managers on our metrics, with its names and behaviour:
//! `hist.time()` and `gauge.time()` ([`PyTimer`]), `gauge.track_inprogress()`
//! ([`PyInprogressTracker`]) and `counter.count_exceptions()` ([`PyExceptionCounter`]). Each
//! is a context manager and, called with a function, a decorator (sync, `async def` and
//! generator functions alike); vec children have them through the vec, by labels.

use std::time::Instant;

use dynamo_runtime::{Counter, Gauge, Histogram, IntCounter, IntGauge};
use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;

use crate::decorate::decorate;

/// What a timer sets when it stops.
#[derive(Clone)]
pub(crate) enum TimerTarget {
    /// Observes the seconds.
    Histogram(Histogram),
    /// Sets the gauge to the seconds.
    Gauge(Gauge),
}

/// Times a block or a function, from `hist.time()` (observes the seconds) or `gauge.time()`
/// (sets the gauge to them).
///
/// ``with hist.time():`` times the block; ``@hist.time()`` times each call of the decorated
/// function (the awaited body of an `async def`, the whole iteration of a generator).
#[pyclass(module = "dynamo.prometheus_metrics", name = "Timer")]
pub struct PyTimer {
    target: TimerTarget,
    start: Instant,
}

impl PyTimer {
    pub(crate) fn new(target: TimerTarget) -> Self {
        Self {
            target,
            start: Instant::now(),
        }
    }
}

#[pymethods]
impl PyTimer {
    /// Starts the timer.
    fn __enter__(mut slf: PyRefMut<'_, Self>) -> PyRefMut<'_, Self> {
        slf.start = Instant::now();
        slf
    }

    /// Stops the timer and records the seconds since `__enter__`; never suppresses an
    /// exception.
    fn __exit__(
        &mut self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        let seconds = self.start.elapsed().as_secs_f64();
        match &self.target {
            TimerTarget::Histogram(histogram) => histogram.observe(seconds),
            TimerTarget::Gauge(gauge) => gauge.set(seconds),
        }
        false
    }

    /// `func`, timed on each call.
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        func: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        decorate(func, &slf.getattr(intern!(slf.py(), "_fresh"))?)
    }

    /// A new timer of the same metric, for one call of a decorated function.
    fn _fresh(&self) -> Self {
        Self::new(self.target.clone())
    }
}

/// The gauge an in-progress tracker moves.
#[derive(Clone)]
pub(crate) enum GaugeTarget {
    /// A float gauge.
    Gauge(Gauge),
    /// An integer gauge.
    IntGauge(IntGauge),
}

impl From<Gauge> for GaugeTarget {
    fn from(gauge: Gauge) -> Self {
        Self::Gauge(gauge)
    }
}

impl From<IntGauge> for GaugeTarget {
    fn from(gauge: IntGauge) -> Self {
        Self::IntGauge(gauge)
    }
}

/// Counts the blocks or calls in progress, from `gauge.track_inprogress()`: the gauge goes up
/// on entering and down on leaving.
#[pyclass(
    frozen,
    module = "dynamo.prometheus_metrics",
    name = "InprogressTracker"
)]
pub struct PyInprogressTracker(pub(crate) GaugeTarget);

#[pymethods]
impl PyInprogressTracker {
    /// Adds one to the gauge.
    fn __enter__(&self) {
        match &self.0 {
            GaugeTarget::Gauge(gauge) => gauge.inc(),
            GaugeTarget::IntGauge(gauge) => gauge.inc(),
        }
    }

    /// Subtracts one from the gauge; never suppresses an exception.
    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        match &self.0 {
            GaugeTarget::Gauge(gauge) => gauge.dec(),
            GaugeTarget::IntGauge(gauge) => gauge.dec(),
        }
        false
    }

    /// `func`, counted in progress while each call runs.
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        func: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        decorate(func, &slf.getattr(intern!(slf.py(), "_fresh"))?)
    }

    /// The tracker for one call of a decorated function: itself, as it keeps no state.
    fn _fresh(slf: Py<Self>) -> Py<Self> {
        slf
    }
}

/// The counter an exception counter increments.
#[derive(Clone)]
pub(crate) enum CounterTarget {
    /// A float counter.
    Counter(Counter),
    /// An integer counter.
    IntCounter(IntCounter),
}

impl From<Counter> for CounterTarget {
    fn from(counter: Counter) -> Self {
        Self::Counter(counter)
    }
}

impl From<IntCounter> for CounterTarget {
    fn from(counter: IntCounter) -> Self {
        Self::IntCounter(counter)
    }
}

/// Counts the exceptions of a type leaving a block or a function, from
/// `counter.count_exceptions(exception=Exception)`; the exception still propagates.
#[pyclass(
    frozen,
    module = "dynamo.prometheus_metrics",
    name = "ExceptionCounter"
)]
pub struct PyExceptionCounter {
    counter: CounterTarget,
    /// A type or a tuple of types, as `isinstance` takes.
    exception: Py<PyAny>,
}

impl PyExceptionCounter {
    /// A counter of the exceptions that are instances of `exception` (`Exception` when
    /// `None`).
    ///
    /// # Errors
    ///
    /// `TypeError` when `exception` is not a type or a tuple of types.
    pub(crate) fn new(
        py: Python<'_>,
        counter: CounterTarget,
        exception: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let exception = match exception {
            Some(exception) => {
                // What `isinstance` refuses, refused now rather than when an exception comes.
                py.None().bind(py).is_instance(&exception)?;
                exception.unbind()
            }
            None => py.get_type::<PyException>().into_any().unbind(),
        };
        Ok(Self { counter, exception })
    }
}

#[pymethods]
impl PyExceptionCounter {
    fn __enter__(&self) {}

    /// Counts `exc_value` when it is an instance of the exception type; never suppresses it.
    fn __exit__(
        &self,
        _exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if !exc_value.is_none() && exc_value.is_instance(self.exception.bind(exc_value.py()))? {
            match &self.counter {
                CounterTarget::Counter(counter) => counter.inc(),
                CounterTarget::IntCounter(counter) => counter.inc(),
            }
        }
        Ok(false)
    }

    /// `func`, whose calls count their exceptions.
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        func: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        decorate(func, &slf.getattr(intern!(slf.py(), "_fresh"))?)
    }

    /// The counter for one call of a decorated function: itself, as it keeps no state.
    fn _fresh(slf: Py<Self>) -> Py<Self> {
        slf
    }
}
