//! Counters: `Counter` (floats) and `IntCounter` (integers), and their vecs `CounterVec` and
//! `IntCounterVec`, from one definition.

use std::marker::PhantomData;

use dynamo_runtime::{Counter, IntCounter};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::errors::bad_counter_increment;
use crate::fastcall::{Args, FastMethod, Registered};
use crate::kinds::{Argument, scalar_class, vec_class};
use crate::number::Number;
use crate::timers::PyExceptionCounter;

/// An increment from Python, refused when a counter cannot take it (a negative or NaN float;
/// an `int` out of range never gets here).
trait Increment: Argument + Copy {
    /// One, what `inc` adds by default.
    const ONE: Self;
    /// True when a counter can take it.
    fn is_increment(self) -> bool;
    /// The error for an increment it cannot take, naming the counter.
    fn refused(self, metric: &str) -> PyErr;
}

impl Increment for Number {
    const ONE: Self = Number(1.0);

    #[inline(always)]
    fn is_increment(self) -> bool {
        self.0 >= 0.0
    }

    fn refused(self, metric: &str) -> PyErr {
        bad_counter_increment(metric, self.0)
    }
}

impl Increment for u64 {
    const ONE: Self = 1;

    #[inline(always)]
    fn is_increment(self) -> bool {
        true
    }

    /// Never called: every `u64` is an increment.
    fn refused(self, metric: &str) -> PyErr {
        bad_counter_increment(metric, self as f64)
    }
}

/// Adds `value` to `counter` with `exemplar`, if given, or refuses an increment the counter
/// cannot take; the exemplar is checked first, so a refused one changes nothing.
#[cold]
#[inline(never)]
fn add<N: dynamo_runtime::CounterNumber, I: Increment + Argument<Value = N>>(
    counter: &dynamo_runtime::GenericCounter<N>,
    value: I,
    exemplar: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let exemplar = exemplar.map(crate::exemplar::from_dict).transpose()?;
    if !value.is_increment() {
        return Err(refused(counter, value));
    }
    match exemplar {
        Some(exemplar) => counter.inc_by_with_exemplar(value.value(), &exemplar),
        None => counter.inc_by(value.value()),
    }
    Ok(())
}

/// The error of an increment `counter` cannot take, out of the way of the calls that can.
#[cold]
#[inline(never)]
fn refused<N: dynamo_runtime::CounterNumber>(
    counter: &dynamo_runtime::GenericCounter<N>,
    value: impl Increment,
) -> PyErr {
    value.refused(&counter.name())
}

/// `inc` of the counter class `C`, with a fast path (`fastcall`) for `inc()` and `inc(amount)`.
struct Inc<C>(PhantomData<C>);

/// `inc_by` of the counter class `C`, with a fast path for `inc_by(value)`.
struct IncBy<C>(PhantomData<C>);

/// Gives the counter classes their fast methods.
pub(super) fn register_fast_methods(py: Python<'_>) -> PyResult<()> {
    crate::fastcall::register(py, Inc(PhantomData::<PyCounter>))?;
    crate::fastcall::register(py, Inc(PhantomData::<PyIntCounter>))?;
    crate::fastcall::register(py, IncBy(PhantomData::<PyCounter>))?;
    crate::fastcall::register(py, IncBy(PhantomData::<PyIntCounter>))
}

/// The classes of one counter number type.
macro_rules! counter_classes {
    ($(
        $class:ident($handle:ty) as $name:literal, $doc:literal;
        $vec_class:ident as $vec_name:literal, $vec_doc:literal;
        $argument:ty => $value:ty;
    )*) => {$(
        scalar_class! {
            #[doc = $doc]
            $class($handle) as $name {
                /// Adds `amount` (default one), as prometheus_client's `inc`; with
                /// `exemplar` (a dict of labels), keeps it as the latest exemplar.
                #[pyo3(signature = (amount = None, exemplar = None))]
                fn inc(
                    &self,
                    amount: Option<$argument>,
                    exemplar: Option<&Bound<'_, PyDict>>,
                ) -> PyResult<()> {
                    match (amount, exemplar) {
                        (None, None) => {
                            self.0.inc();
                            Ok(())
                        }
                        (None, Some(exemplar)) => add(&self.0, <$argument>::ONE, Some(exemplar)),
                        (Some(amount), exemplar) => add(&self.0, amount, exemplar),
                    }
                }

                /// Adds `value`; a negative value (or one past 2**64 - 1 for an integer
                /// counter) raises `OverflowError`, NaN raises `ValueError`. With `exemplar`
                /// (a dict of labels), keeps it as the latest exemplar.
                #[pyo3(signature = (value, exemplar = None))]
                fn inc_by(
                    &self,
                    value: $argument,
                    exemplar: Option<&Bound<'_, PyDict>>,
                ) -> PyResult<()> {
                    if exemplar.is_none() && value.is_increment() {
                        self.0.inc_by(value.value());
                        Ok(())
                    } else {
                        add(&self.0, value, exemplar)
                    }
                }

                /// The current value.
                fn get(&self) -> $value {
                    self.0.get()
                }

                /// Counts the exceptions of type `exception` (default `Exception`) leaving a
                /// block (`with`) or a decorated function.
                #[pyo3(signature = (exception = None))]
                fn count_exceptions(
                    &self,
                    py: Python<'_>,
                    exception: Option<Bound<'_, PyAny>>,
                ) -> PyResult<PyExceptionCounter> {
                    PyExceptionCounter::new(py, self.0.clone().into(), exception)
                }
            }
        }

        impl FastMethod for Inc<$class> {
            type Class = $class;
            const NAME: &'static str = "inc";

            /// `inc()`, `inc(amount)` with an increment the counter takes, `inc(None)`; any
            /// exemplar but `None` goes to the full method.
            #[inline(always)]
            fn fast(counter: &$class, args: Args<'_, '_>) -> bool {
                if args.len() > 2 || args.optional(1).is_some() {
                    return false;
                }
                match args.optional(0) {
                    None => counter.0.inc(),
                    Some(amount) => match <$argument>::plain(amount) {
                        Some(amount) if amount.is_increment() => counter.0.inc_by(amount.value()),
                        _ => return false,
                    },
                }
                true
            }

            fn registered() -> &'static PyOnceLock<Registered> {
                static REGISTERED: PyOnceLock<Registered> = PyOnceLock::new();
                &REGISTERED
            }
        }

        impl FastMethod for IncBy<$class> {
            type Class = $class;
            const NAME: &'static str = "inc_by";

            /// `inc_by(value)` with an increment the counter takes (and a `None` exemplar).
            #[inline(always)]
            fn fast(counter: &$class, args: Args<'_, '_>) -> bool {
                if args.len() > 2 || args.optional(1).is_some() {
                    return false;
                }
                match args.get(0).and_then(<$argument>::plain) {
                    Some(value) if value.is_increment() => counter.0.inc_by(value.value()),
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
                /// Adds one to the series of `labels`; with `exemplar` (a dict of labels),
                /// keeps it as the series' latest exemplar.
                #[pyo3(signature = (labels, exemplar = None))]
                fn inc(
                    &self,
                    labels: &Bound<'_, PyDict>,
                    exemplar: Option<&Bound<'_, PyDict>>,
                ) -> PyResult<()> {
                    match exemplar {
                        None => {
                            self.child(labels)?.inc();
                            Ok(())
                        }
                        Some(exemplar) => {
                            let exemplar = crate::exemplar::from_dict(exemplar)?;
                            let value = <$argument>::ONE.value();
                            self.child(labels)?.inc_by_with_exemplar(value, &exemplar);
                            Ok(())
                        }
                    }
                }

                /// Adds `value` to the series of `labels`; a negative value (or one past
                /// 2**64 - 1 for an integer counter) raises `OverflowError`. With `exemplar`
                /// (a dict of labels), keeps it as the series' latest exemplar.
                #[pyo3(signature = (labels, value, exemplar = None))]
                fn inc_by(
                    &self,
                    labels: &Bound<'_, PyDict>,
                    value: $argument,
                    exemplar: Option<&Bound<'_, PyDict>>,
                ) -> PyResult<()> {
                    if !value.is_increment() {
                        return Err(value.refused(self.vec.name()));
                    }
                    match exemplar {
                        None => self.child(labels)?.inc_by(value.value()),
                        Some(exemplar) => {
                            let exemplar = crate::exemplar::from_dict(exemplar)?;
                            self.child(labels)?.inc_by_with_exemplar(value.value(), &exemplar);
                        }
                    }
                    Ok(())
                }

                /// The value of the series of `labels`.
                fn get(&self, labels: &Bound<'_, PyDict>) -> PyResult<$value> {
                    Ok(self.child(labels)?.get())
                }

                /// Counts, in the series of `labels`, the exceptions of type `exception`
                /// (default `Exception`) leaving a block (`with`) or a decorated function.
                #[pyo3(signature = (labels, exception = None))]
                fn count_exceptions(
                    &self,
                    labels: &Bound<'_, PyDict>,
                    exception: Option<Bound<'_, PyAny>>,
                ) -> PyResult<PyExceptionCounter> {
                    let counter = self.child(labels)?.clone().into();
                    PyExceptionCounter::new(labels.py(), counter, exception)
                }
            }
        }
    )*};
}

counter_classes! {
    PyCounter(Counter) as "Counter", "A counter of floats that only goes up.";
    PyCounterVec as "CounterVec", "Float counters, one per set of label values.";
    Number => f64;

    PyIntCounter(IntCounter) as "IntCounter", "A counter of integers (0 to 2**64 - 1) that only goes up.";
    PyIntCounterVec as "IntCounterVec", "Integer counters, one per set of label values.";
    u64 => u64;
}
