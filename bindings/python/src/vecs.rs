//! Metrics with variable labels: `CounterVec`, `IntCounterVec`, `GaugeVec`, `IntGaugeVec`,
//! `HistogramVec`.
//!
//! Every operation takes the label values as a dict `{label_name: value}` with exactly the
//! declared label names. The operations take the labels first (`inc_by(labels, 5)`), except
//! `set(value, labels)` and `observe(value, labels)`.

use dynamo_runtime::{Counter, Gauge, Histogram, IntCounter, IntGauge, MetricVec};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::bad_counter_increment;
use crate::labels::{LabelKeys, label_dict, selector};
use crate::number::Number;
use crate::timers::{
    CounterTarget, GaugeTarget, PyExceptionCounter, PyInprogressTracker, PyTimer, TimerTarget,
};

/// Defines a frozen Python class over a vec, with the introspection every vec has besides the
/// operations given. `self.child(labels)` finds the series for a dict of label values.
macro_rules! vec_class {
    (
        $(#[$doc:meta])*
        $class:ident($child:ty) as $name:literal { $($methods:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "dynamo.prometheus_metrics", name = $name)]
        pub struct $class {
            vec: MetricVec<$child>,
            keys: LabelKeys,
        }

        impl $class {
            pub(crate) fn new(py: Python<'_>, vec: MetricVec<$child>) -> Self {
                Self {
                    keys: LabelKeys::new(py, &vec),
                    vec,
                }
            }

            /// The series for `labels`, created on first use.
            #[inline]
            fn child(&self, labels: &Bound<'_, PyDict>) -> PyResult<$child> {
                self.keys.child(self.vec.name(), labels, |values| {
                    self.vec.get_metric_with_label_values(values)
                })
            }
        }

        impl crate::metrics::AsRegistered for $class {
            fn registered(&self) -> &dyn dynamo_runtime::Registered {
                &self.vec
            }
        }

        impl crate::metrics::Wrap for MetricVec<$child> {
            type Class = $class;

            fn wrap(self, py: Python<'_>) -> $class {
                $class::new(py, self)
            }
        }

        #[pymethods]
        impl $class {
            $($methods)*

            /// The full exported name, `dynamo_component_<name>`.
            fn name(&self) -> &str {
                self.vec.name()
            }

            /// Removes the series of `labels` (a dict with every label name); returns False
            /// when there is none. Handles to it record nothing from then on.
            fn remove(&self, py: Python<'_>, labels: &Bound<'_, PyDict>) -> PyResult<bool> {
                let values: Vec<String> = self.keys.child(self.vec.name(), labels, |values| {
                    Ok::<_, dynamo_runtime::MetricsError>(values.iter().map(|v| v.to_string()).collect())
                })?;
                match py.detach(|| self.vec.remove_label_values(&values)) {
                    Ok(()) => Ok(true),
                    Err(dynamo_runtime::ExporterError::NoSuchSeries { .. }) => Ok(false),
                    Err(error) => Err(crate::errors::to_py_err(error.into())),
                }
            }

            /// Removes every series whose labels named in `labels` (a dict of some of the label
            /// names) have those values; returns how many.
            fn remove_matching(&self, py: Python<'_>, labels: &Bound<'_, PyDict>) -> PyResult<usize> {
                let wanted = self.keys.partial(self.vec.name(), labels)?;
                let names = self.vec.variable_labels();
                let pairs: Vec<(&str, &str)> = wanted.iter().map(|(at, v)| (names[*at], v.as_str())).collect();
                Ok(py.detach(|| self.vec.remove_matching(&pairs)))
            }

            /// Removes every series.
            fn clear(&self, py: Python<'_>) {
                py.detach(|| self.vec.clear());
            }

            /// How many series the vec may hold (0: no bound); past it, new label sets share
            /// one overflow series.
            #[getter]
            fn get_max_series(&self) -> usize {
                self.vec.max_series()
            }

            #[setter]
            fn set_max_series(&self, max: usize) {
                self.vec.set_max_series(max);
            }

            /// How many series the vec holds now.
            fn series_count(&self) -> usize {
                self.vec.series_count()
            }

            /// The constant labels: the hierarchy labels and the ones given at creation.
            fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let labels = self.vec.const_labels();
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                label_dict(py, &pairs)
            }

            /// The variable label names, in declaration order.
            fn variable_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.keys.names(py)
            }

            fn __repr__(&self) -> String {
                format!(
                    "<{} {} variable_labels={:?}>",
                    $name,
                    selector(
                        self.vec.name(),
                        self.vec.const_labels().iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    ),
                    self.vec.variable_labels()
                )
            }
        }
    };
}

vec_class! {
    /// Float counters, one per set of label values.
    PyCounterVec(Counter) as "CounterVec" {
        /// Adds one to the series of `labels`.
        fn inc(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.inc();
            Ok(())
        }

        /// Adds `value` to the series of `labels`; a negative value raises `OverflowError`.
        fn inc_by(&self, labels: &Bound<'_, PyDict>, value: Number) -> PyResult<()> {
            if value.0 >= 0.0 {
                self.child(labels)?.inc_by(value.0);
                Ok(())
            } else {
                Err(bad_counter_increment(self.vec.name(), value.0))
            }
        }

        /// The value of the series of `labels`.
        fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<f64> {
            Ok(self.child(labels)?.get())
        }

        /// Counts, in the series of `labels`, the exceptions of type `exception` (default
        /// `Exception`) leaving a block (`with`) or a decorated function.
        #[pyo3(signature = (labels, exception = None))]
        fn count_exceptions(
            &self,
            labels: &Bound<'_, PyDict>,
            exception: Option<Bound<'_, PyAny>>,
        ) -> PyResult<PyExceptionCounter> {
            let counter = CounterTarget::Counter(self.child(labels)?.clone());
            PyExceptionCounter::new(labels.py(), counter, exception)
        }
    }
}

vec_class! {
    /// Integer counters, one per set of label values.
    PyIntCounterVec(IntCounter) as "IntCounterVec" {
        /// Adds one to the series of `labels`.
        fn inc(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.inc();
            Ok(())
        }

        /// Adds `value` to the series of `labels`; a negative or too large value raises
        /// `OverflowError`.
        fn inc_by(&self, labels: &Bound<'_, PyDict>, value: u64) -> PyResult<()> {
            self.child(labels)?.inc_by(value);
            Ok(())
        }

        /// The value of the series of `labels`.
        fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<u64> {
            Ok(self.child(labels)?.get())
        }

        /// Counts, in the series of `labels`, the exceptions of type `exception` (default
        /// `Exception`) leaving a block (`with`) or a decorated function.
        #[pyo3(signature = (labels, exception = None))]
        fn count_exceptions(
            &self,
            labels: &Bound<'_, PyDict>,
            exception: Option<Bound<'_, PyAny>>,
        ) -> PyResult<PyExceptionCounter> {
            let counter = CounterTarget::IntCounter(self.child(labels)?.clone());
            PyExceptionCounter::new(labels.py(), counter, exception)
        }
    }
}

vec_class! {
    /// Float gauges, one per set of label values.
    PyGaugeVec(Gauge) as "GaugeVec" {
        /// Sets the series of `labels` to `value`.
        fn set(&self, value: Number, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.set(value.0);
            Ok(())
        }

        /// The value of the series of `labels`.
        fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<f64> {
            Ok(self.child(labels)?.get())
        }

        /// Adds one to the series of `labels`.
        fn inc(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.inc();
            Ok(())
        }

        /// Subtracts one from the series of `labels`.
        fn dec(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.dec();
            Ok(())
        }

        /// Adds `value` to the series of `labels`.
        fn add(&self, labels: &Bound<'_, PyDict>, value: Number) -> PyResult<()> {
            self.child(labels)?.add(value.0);
            Ok(())
        }

        /// Subtracts `value` from the series of `labels`.
        fn sub(&self, labels: &Bound<'_, PyDict>, value: Number) -> PyResult<()> {
            self.child(labels)?.sub(value.0);
            Ok(())
        }

        /// Adds `value` to the series of `labels` (the same as `add`).
        fn inc_by(&self, labels: &Bound<'_, PyDict>, value: Number) -> PyResult<()> {
            self.child(labels)?.inc_by(value.0);
            Ok(())
        }

        /// Subtracts `value` from the series of `labels` (the same as `sub`).
        fn dec_by(&self, labels: &Bound<'_, PyDict>, value: Number) -> PyResult<()> {
            self.child(labels)?.dec_by(value.0);
            Ok(())
        }

        /// Sets the series of `labels` to the seconds a block (`with`) or each call of a
        /// decorated function takes.
        fn time(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyTimer> {
            Ok(PyTimer::new(TimerTarget::Gauge(self.child(labels)?.clone())))
        }

        /// Adds one to the series of `labels` while a block (`with`) or a call of a
        /// decorated function runs.
        fn track_inprogress(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyInprogressTracker> {
            Ok(PyInprogressTracker(GaugeTarget::Gauge(self.child(labels)?.clone())))
        }
    }
}

vec_class! {
    /// Integer gauges, one per set of label values.
    PyIntGaugeVec(IntGauge) as "IntGaugeVec" {
        /// Sets the series of `labels` to `value`.
        fn set(&self, value: i64, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.set(value);
            Ok(())
        }

        /// The value of the series of `labels`.
        fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<i64> {
            Ok(self.child(labels)?.get())
        }

        /// Adds one to the series of `labels`.
        fn inc(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.inc();
            Ok(())
        }

        /// Subtracts one from the series of `labels`.
        fn dec(&self, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.dec();
            Ok(())
        }

        /// Adds `value` to the series of `labels`.
        fn add(&self, labels: &Bound<'_, PyDict>, value: i64) -> PyResult<()> {
            self.child(labels)?.add(value);
            Ok(())
        }

        /// Subtracts `value` from the series of `labels`.
        fn sub(&self, labels: &Bound<'_, PyDict>, value: i64) -> PyResult<()> {
            self.child(labels)?.sub(value);
            Ok(())
        }

        /// Adds one to the series of `labels` while a block (`with`) or a call of a
        /// decorated function runs.
        fn track_inprogress(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyInprogressTracker> {
            Ok(PyInprogressTracker(GaugeTarget::IntGauge(self.child(labels)?.clone())))
        }
    }
}

vec_class! {
    /// Histograms, one per set of label values, all with the same buckets.
    PyHistogramVec(Histogram) as "HistogramVec" {
        /// Records `value` in the series of `labels`.
        fn observe(&self, value: Number, labels: &Bound<'_, PyDict>) -> PyResult<()> {
            self.child(labels)?.observe(value.0);
            Ok(())
        }

        /// How many observations the series of `labels` recorded.
        fn get_count(&self, labels: &Bound<'_, PyDict>) -> PyResult<u64> {
            Ok(self.child(labels)?.get_count())
        }

        /// The sum of the observations of the series of `labels`.
        fn get_sum(&self, labels: &Bound<'_, PyDict>) -> PyResult<f64> {
            Ok(self.child(labels)?.get_sum())
        }

        /// Observes, in the series of `labels`, the seconds a block (`with`) or each call of
        /// a decorated function takes.
        fn time(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyTimer> {
            Ok(PyTimer::new(TimerTarget::Histogram(self.child(labels)?.clone())))
        }
    }
}
