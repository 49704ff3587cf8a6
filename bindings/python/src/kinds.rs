//! The metric classes: one file per kind of the kinds table (`kinds/<kind>.rs`, its scalar
//! and vec classes), and what every class has, generated here: introspection, removal and
//! bounds on vecs, the registration of each class in the module.

use dynamo_runtime::Registered;
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyTypeMethods};

use crate::number::Number;

/// The module of each kind of the table.
macro_rules! kind_modules {
    ($($module:ident { $($line:tt)* })*) => {
        $(mod $module;)*
    };
}

dynamo_runtime::metric_kinds!(kind_modules);
pub(crate) mod info_enum;

/// A handle of the Rust API and the Python class that wraps it.
pub(crate) trait Wrap {
    /// The Python class.
    type Class: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + AsRegistered + Sync;
    /// The handle as an object of its class.
    fn wrap(self, py: Python<'_>) -> Self::Class;
}

/// A metric class, as something the registry can unregister.
pub(crate) trait AsRegistered {
    fn registered(&self) -> &dyn Registered;
}

/// A number argument of a metric method, as its Rust handle takes it: a `float` (any real
/// number) for the float kinds, an `int` in range for the integer ones.
pub(crate) trait Argument {
    /// The Rust value.
    type Value;
    /// The value.
    fn value(self) -> Self::Value;
    /// The argument of a fast call (`fastcall`): an argument read without raising or running
    /// Python code, as its extraction would read it; none for any other, which the extraction
    /// takes (with its conversions and errors).
    fn plain(value: Borrowed<'_, '_, PyAny>) -> Option<Self>
    where
        Self: Sized;
}

impl Argument for Number {
    type Value = f64;

    #[inline(always)]
    fn value(self) -> f64 {
        self.0
    }

    #[inline(always)]
    fn plain(value: Borrowed<'_, '_, PyAny>) -> Option<Self> {
        Number::plain(value)
    }
}

impl Argument for u64 {
    type Value = u64;

    #[inline(always)]
    fn value(self) -> u64 {
        self
    }

    #[inline(always)]
    fn plain(value: Borrowed<'_, '_, PyAny>) -> Option<Self> {
        crate::fastcall::small_int(value).and_then(|int| u64::try_from(int).ok())
    }
}

impl Argument for i64 {
    type Value = i64;

    #[inline(always)]
    fn value(self) -> i64 {
        self
    }

    #[inline(always)]
    fn plain(value: Borrowed<'_, '_, PyAny>) -> Option<Self> {
        crate::fastcall::small_int(value)
    }
}

/// What the table generates for Python: the registration of every class, and the metric
/// behind any metric object.
macro_rules! classes {
    ($($module:ident {$($handle:ident, $vec:ident: $reg:ident, $reg_vec:ident / $create:ident,
        $create_vec:ident; $one:literal, $many:literal $(, $settings:ident)?;)*})*) => {
        /// Adds every metric class to the module; returns their names.
        pub(crate) fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<Vec<String>> {
            let mut names = vec![$($(
                add_class::<<dynamo_runtime::$handle as Wrap>::Class>(m)?,
                add_class::<<dynamo_runtime::$vec as Wrap>::Class>(m)?,
            )*)*];
            names.extend(info_enum::add_classes(m)?);
            // The methods whose common calls skip PyO3's argument extraction (`fastcall`).
            counter::register_fast_methods(m.py())?;
            gauge::register_fast_methods(m.py())?;
            histogram::register_fast_methods(m.py())?;
            Ok(names)
        }

        /// The id of the registered metric behind a metric object, if it is one.
        pub(crate) fn registered_id(metric: &Bound<'_, PyAny>) -> Option<u32> {
            $($(
                if let Ok(object) = metric.cast::<<dynamo_runtime::$handle as Wrap>::Class>() {
                    return Some(object.get().registered().metric_id());
                }
                if let Ok(object) = metric.cast::<<dynamo_runtime::$vec as Wrap>::Class>() {
                    return Some(object.get().registered().metric_id());
                }
            )*)*
            info_enum::registered_id(metric)
        }
    };
}

dynamo_runtime::metric_kinds!(classes);

/// Adds a class to the module; returns its name.
fn add_class<T: pyo3::PyClass>(m: &Bound<'_, PyModule>) -> PyResult<String> {
    m.add_class::<T>()?;
    Ok(T::type_object(m.py()).name()?.to_string())
}

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
            fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
                let labels = self.0.const_labels();
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                crate::labels::label_dict(py, &pairs)
            }

            fn __repr__(&self) -> String {
                let labels = self.0.const_labels();
                format!("<{} {}>", $name, crate::labels::selector(&self.0.name(), labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            }
        }

        impl crate::kinds::AsRegistered for $class {
            fn registered(&self) -> &dyn dynamo_runtime::Registered {
                &self.0
            }
        }

        impl crate::kinds::Wrap for $handle {
            type Class = $class;

            fn wrap(self, _: Python<'_>) -> $class {
                $class(self)
            }
        }
    };
}

/// Defines a frozen Python class over a vec, with what every vec has (introspection, removal,
/// bounds) besides the operations given. `self.child(labels)` finds the series for a dict of
/// label values.
macro_rules! vec_class {
    (
        $(#[$doc:meta])*
        $class:ident($child:ty) as $name:literal { $($methods:tt)* }
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "dynamo.prometheus_metrics", name = $name)]
        pub struct $class {
            vec: dynamo_runtime::MetricVec<$child>,
            keys: crate::labels::LabelKeys,
        }

        impl $class {
            pub(crate) fn new(py: Python<'_>, vec: dynamo_runtime::MetricVec<$child>) -> Self {
                Self {
                    keys: crate::labels::LabelKeys::new(py, &vec),
                    vec,
                }
            }

            /// The series for `labels`, created on first use.
            #[inline]
            fn child(&self, labels: &Bound<'_, pyo3::types::PyDict>) -> PyResult<$child> {
                self.keys.child(self.vec.name(), labels, |values| {
                    self.vec.get_metric_with_label_values(values)
                })
            }
        }

        impl crate::kinds::AsRegistered for $class {
            fn registered(&self) -> &dyn dynamo_runtime::Registered {
                &self.vec
            }
        }

        impl crate::kinds::Wrap for dynamo_runtime::MetricVec<$child> {
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
            fn remove(&self, py: Python<'_>, labels: &Bound<'_, pyo3::types::PyDict>) -> PyResult<bool> {
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
            fn remove_matching(&self, py: Python<'_>, labels: &Bound<'_, pyo3::types::PyDict>) -> PyResult<usize> {
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
            fn const_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
                let labels = self.vec.const_labels();
                let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                crate::labels::label_dict(py, &pairs)
            }

            /// The variable label names, in declaration order.
            fn variable_labels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
                self.keys.names(py)
            }

            fn __repr__(&self) -> String {
                format!(
                    "<{} {} variable_labels={:?}>",
                    $name,
                    crate::labels::selector(
                        self.vec.name(),
                        self.vec.const_labels().iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    ),
                    self.vec.variable_labels()
                )
            }
        }
    };
}

pub(crate) use {scalar_class, vec_class};
