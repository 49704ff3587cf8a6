//! Gauges: `Gauge` (floats) and `IntGauge` (integers), and their vecs `GaugeVec` and
//! `IntGaugeVec`, from one definition; the float ones also have `inc_by`, `dec_by` and
//! `time()`.

use std::marker::PhantomData;

use dynamo_runtime::{Gauge, IntGauge};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::fastcall::{Args, FastMethod, Registered};
use crate::kinds::{Argument, scalar_class, vec_class};
use crate::number::Number;
use crate::timers::{PyInprogressTracker, PyTimer, TimerTarget};

/// `set` of the gauge class `C`, with a fast path (`fastcall`) for `set(value)`.
struct Set<C>(PhantomData<C>);

/// Gives the gauge classes their fast methods.
pub(super) fn register_fast_methods(py: Python<'_>) -> PyResult<()> {
    crate::fastcall::register(py, Set(PhantomData::<PyGauge>))?;
    crate::fastcall::register(py, Set(PhantomData::<PyIntGauge>))
}

/// The classes of one gauge number type, with the methods only that type has.
macro_rules! gauge_classes {
    ($(
        $class:ident($handle:ty) as $name:literal, $doc:literal { $($own:tt)* }
        $vec_class:ident as $vec_name:literal, $vec_doc:literal { $($vec_own:tt)* }
        $argument:ty => $value:ty;
    )*) => {$(
        scalar_class! {
            #[doc = $doc]
            $class($handle) as $name {
                /// Sets the value.
                fn set(&self, value: $argument) {
                    self.0.set(value.value());
                }

                /// The current value.
                fn get(&self) -> $value {
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
                fn add(&self, value: $argument) {
                    self.0.add(value.value());
                }

                /// Subtracts `value`.
                fn sub(&self, value: $argument) {
                    self.0.sub(value.value());
                }

                /// Adds one while a block (`with`) or a call of a decorated function runs.
                fn track_inprogress(&self) -> PyInprogressTracker {
                    PyInprogressTracker(self.0.clone().into())
                }

                $($own)*
            }
        }

        impl FastMethod for Set<$class> {
            type Class = $class;
            const NAME: &'static str = "set";

            /// `set(value)`.
            #[inline(always)]
            fn fast(gauge: &$class, args: Args<'_, '_>) -> bool {
                match args.get(0).and_then(<$argument>::plain) {
                    Some(value) if args.len() == 1 => gauge.0.set(value.value()),
                    _ => return false,
                }
                true
            }

            fn registered() -> &'static PyOnceLock<Registered> {
                static REGISTERED: PyOnceLock<Registered> = PyOnceLock::new();
                &REGISTERED
            }
        }

        vec_class! {
            #[doc = $vec_doc]
            $vec_class($handle) as $vec_name {
                /// Sets the series of `labels` to `value`.
                fn set(&self, value: $argument, labels: &Bound<'_, PyDict>) -> PyResult<()> {
                    self.child(labels)?.set(value.value());
                    Ok(())
                }

                /// The value of the series of `labels`.
                fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<$value> {
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
                fn add(&self, labels: &Bound<'_, PyDict>, value: $argument) -> PyResult<()> {
                    self.child(labels)?.add(value.value());
                    Ok(())
                }

                /// Subtracts `value` from the series of `labels`.
                fn sub(&self, labels: &Bound<'_, PyDict>, value: $argument) -> PyResult<()> {
                    self.child(labels)?.sub(value.value());
                    Ok(())
                }

                /// Adds one to the series of `labels` while a block (`with`) or a call of a
                /// decorated function runs.
                fn track_inprogress(&self, labels: &Bound<'_, PyDict>) -> PyResult<PyInprogressTracker> {
                    Ok(PyInprogressTracker(self.child(labels)?.clone().into()))
                }

                $($vec_own)*
            }
        }
    )*};
}

gauge_classes! {
    PyGauge(Gauge) as "Gauge", "A float that goes up and down." {
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
    }
    PyGaugeVec as "GaugeVec", "Float gauges, one per set of label values." {
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
    }
    Number => f64;

    PyIntGauge(IntGauge) as "IntGauge", "An integer (-2**63 to 2**63 - 1) that goes up and down." {}
    PyIntGaugeVec as "IntGaugeVec", "Integer gauges, one per set of label values." {}
    i64 => i64;
}
