//! Histograms: `Histogram` and `HistogramVec`.

use dynamo_runtime::Histogram;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::fastcall::{Args, FastMethod, Registered};
use crate::kinds::{scalar_class, vec_class};
use crate::number::Number;
use crate::timers::{PyTimer, TimerTarget};

scalar_class! {
    /// Observations counted into buckets fixed at creation.
    PyHistogram(Histogram) as "Histogram" {
        /// Records one observation; with `exemplar` (a dict of labels), keeps it as the
        /// latest exemplar of the bucket `value` falls in.
        #[pyo3(signature = (value, exemplar = None))]
        fn observe(&self, value: Number, exemplar: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
            match exemplar {
                None => self.0.observe(value.0),
                Some(exemplar) => {
                    self.0.observe_with_exemplar(value.0, &crate::exemplar::from_dict(exemplar)?);
                }
            }
            Ok(())
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

/// `Histogram.observe`, with a fast path (`fastcall`) for `observe(value)`.
struct Observe;

impl FastMethod for Observe {
    type Class = PyHistogram;
    const NAME: &'static str = "observe";

    /// `observe(value)` (and a `None` exemplar).
    #[inline(always)]
    fn fast(histogram: &PyHistogram, args: Args<'_, '_>) -> bool {
        if args.len() > 2 || args.optional(1).is_some() {
            return false;
        }
        match args.get(0).and_then(Number::plain) {
            Some(value) => histogram.0.observe(value.0),
            None => return false,
        }
        true
    }

    fn registered() -> &'static PyOnceLock<Registered> {
        static REGISTERED: PyOnceLock<Registered> = PyOnceLock::new();
        &REGISTERED
    }
}

/// Gives the histogram class its fast method.
pub(super) fn register_fast_methods(py: Python<'_>) -> PyResult<()> {
    crate::fastcall::register(py, Observe)
}

vec_class! {
    /// Histograms, one per set of label values, all with the same buckets.
    PyHistogramVec(Histogram) as "HistogramVec" {
        /// Records `value` in the series of `labels`; with `exemplar` (a dict of labels),
        /// keeps it as the latest exemplar of the bucket `value` falls in.
        #[pyo3(signature = (value, labels, exemplar = None))]
        fn observe(
            &self,
            value: Number,
            labels: &Bound<'_, PyDict>,
            exemplar: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<()> {
            match exemplar {
                None => self.child(labels)?.observe(value.0),
                Some(exemplar) => {
                    let exemplar = crate::exemplar::from_dict(exemplar)?;
                    self.child(labels)?.observe_with_exemplar(value.0, &exemplar);
                }
            }
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
