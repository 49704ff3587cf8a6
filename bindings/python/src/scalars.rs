//! Metrics without variable labels: `Counter`, `IntCounter`, `Gauge`, `IntGauge`, `Histogram`.
//!
//! Each class wraps a handle of the Rust API (an `Arc` over atomics), so every method is
//! thread-safe and none takes a lock. Instances come only from the `create_*` methods.

use dynamo_runtime::{Counter, Gauge, Histogram, IntCounter, IntGauge};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::bad_counter_increment;
use crate::labels::{label_dict, selector};
use crate::number::Number;
use crate::timers::{
    CounterTarget, GaugeTarget, PyExceptionCounter, PyInprogressTracker, PyTimer, TimerTarget,
};

/// Defines a frozen Python class over a handle, with the introspection every metric has
/// besides the operations given.
macro_rules! scalar_class {
    (
        $(#[$doc:meta])*
        $class:ident($handle:ty) as $name:literal { $($methods:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "dynamo.prometheus_metrics", name = $name)]
        pub struct $class(pub(crate) $handle);

        #[pymethods]
        impl $class {
            $($methods)*

            /// The full exported name, `dynamo_component_<name>`; empty once unregistered.
            fn name(&self) -> String {
                self.0.name()
            }

            /// The constant labels: the hierarchy labels and the ones given at creation.
            fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let labels = self.0.const_labels();
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                label_dict(py, &pairs)
            }

            fn __repr__(&self) -> String {
                let labels = self.0.const_labels();
                format!("<{} {}>", $name, selector(&self.0.name(), labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            }
        }

        impl crate::metrics::AsRegistered for $class {
            fn registered(&self) -> &dyn dynamo_runtime::Registered {
                &self.0
            }
        }

        impl crate::metrics::Wrap for $handle {
            type Class = $class;

            fn wrap(self, _: Python<'_>) -> $class {
                $class(self)
            }
        }
    };
}

scalar_class! {
    /// A counter of floats that only goes up.
    PyCounter(Counter) as "Counter" {
        /// Adds one.
        fn inc(&self) {
            self.0.inc();
        }

        /// Adds `value`; a negative value raises `OverflowError`, NaN raises `ValueError`.
        fn inc_by(&self, value: Number) -> PyResult<()> {
            if value.0 >= 0.0 {
                self.0.inc_by(value.0);
                Ok(())
            } else {
                Err(bad_counter_increment(&self.0.name(), value.0))
            }
        }

        /// The current value.
        fn get(&self) -> f64 {
            self.0.get()
        }

        /// Counts the exceptions of type `exception` (default `Exception`) leaving a block
        /// (`with`) or a decorated function.
        #[pyo3(signature = (exception = None))]
        fn count_exceptions(
            &self,
            py: Python<'_>,
            exception: Option<Bound<'_, PyAny>>,
        ) -> PyResult<PyExceptionCounter> {
            PyExceptionCounter::new(py, CounterTarget::Counter(self.0.clone()), exception)
        }
    }
}

scalar_class! {
    /// A counter of integers (0 to 2**64 - 1) that only goes up.
    PyIntCounter(IntCounter) as "IntCounter" {
        /// Adds one.
        fn inc(&self) {
            self.0.inc();
        }

        /// Adds `value`; a negative or too large value raises `OverflowError`.
        fn inc_by(&self, value: u64) {
            self.0.inc_by(value);
        }

        /// The current value.
        fn get(&self) -> u64 {
            self.0.get()
        }

        /// Counts the exceptions of type `exception` (default `Exception`) leaving a block
        /// (`with`) or a decorated function.
        #[pyo3(signature = (exception = None))]
        fn count_exceptions(
            &self,
            py: Python<'_>,
            exception: Option<Bound<'_, PyAny>>,
        ) -> PyResult<PyExceptionCounter> {
            PyExceptionCounter::new(py, CounterTarget::IntCounter(self.0.clone()), exception)
        }
    }
}

scalar_class! {
    /// A float that goes up and down.
    PyGauge(Gauge) as "Gauge" {
        /// Sets the value.
        fn set(&self, value: Number) {
            self.0.set(value.0);
        }

        /// The current value.
        fn get(&self) -> f64 {
            self.0.get()
        }

        /// Adds one.
        fn inc(&self) {
            self.0.inc();
        }

        /// Subtracts one.
        fn dec(&self) {
            self.0.dec();
        }

        /// Adds `value`.
        fn add(&self, value: Number) {
            self.0.add(value.0);
        }

        /// Subtracts `value`.
        fn sub(&self, value: Number) {
            self.0.sub(value.0);
        }

        /// Adds `value` (the same as `add`).
        fn inc_by(&self, value: Number) {
            self.0.inc_by(value.0);
        }

        /// Subtracts `value` (the same as `sub`).
        fn dec_by(&self, value: Number) {
            self.0.dec_by(value.0);
        }

        /// Sets the gauge to the seconds a block (`with`) or each call of a decorated
        /// function takes.
        fn time(&self) -> PyTimer {
            PyTimer::new(TimerTarget::Gauge(self.0.clone()))
        }

        /// Adds one while a block (`with`) or a call of a decorated function runs.
        fn track_inprogress(&self) -> PyInprogressTracker {
            PyInprogressTracker(GaugeTarget::Gauge(self.0.clone()))
        }
    }
}

scalar_class! {
    /// An integer (-2**63 to 2**63 - 1) that goes up and down.
    PyIntGauge(IntGauge) as "IntGauge" {
        /// Sets the value; out of range raises `OverflowError`.
        fn set(&self, value: i64) {
            self.0.set(value);
        }

        /// The current value.
        fn get(&self) -> i64 {
            self.0.get()
        }

        /// Adds one.
        fn inc(&self) {
            self.0.inc();
        }

        /// Subtracts one.
        fn dec(&self) {
            self.0.dec();
        }

        /// Adds `value`.
        fn add(&self, value: i64) {
            self.0.add(value);
        }

        /// Subtracts `value`.
        fn sub(&self, value: i64) {
            self.0.sub(value);
        }

        /// Adds one while a block (`with`) or a call of a decorated function runs.
        fn track_inprogress(&self) -> PyInprogressTracker {
            PyInprogressTracker(GaugeTarget::IntGauge(self.0.clone()))
        }
    }
}

scalar_class! {
    /// Observations counted into buckets fixed at creation.
    PyHistogram(Histogram) as "Histogram" {
        /// Records one observation.
        fn observe(&self, value: Number) {
            self.0.observe(value.0);
        }

        /// How many observations were recorded.
        fn get_count(&self) -> u64 {
            self.0.get_count()
        }

        /// The sum of all observations.
        fn get_sum(&self) -> f64 {
            self.0.get_sum()
        }

        /// Observes the seconds a block (`with`) or each call of a decorated function takes.
        fn time(&self) -> PyTimer {
            PyTimer::new(TimerTarget::Histogram(self.0.clone()))
        }
    }
}
