//! Methods with a fast path: a call in the common shape (`counter.inc()`,
//! `histogram.observe(v)`) runs without PyO3's argument extraction; any other call goes to the
//! method PyO3 generated, so arguments, errors and documentation stay as they are.
//!
//! PyO3 extracts the arguments of a method with optional parameters even when none is given:
//! `counter.inc()` ran 308 instructions once `inc` took `amount` and `exemplar`, against 181
//! when it took none. [`register`] replaces such a method on its class by a method descriptor
//! (`METH_FASTCALL | METH_KEYWORDS`, in the stable ABI since 3.10) of [`call`], which sees the
//! arguments as CPython passes them. A call without keywords whose arguments
//! [`FastMethod::fast`] reads without running Python code (a `float`, an `int` in range,
//! `None` for an absent argument) runs there; any other call (keywords, an exemplar, a value
//! to refuse, a wrong type) goes unchanged to PyO3's method, kept aside at registration: its
//! function is called as CPython would call it, so such a call costs only the fast path's few
//! checks more than before.
//!
//! The fast path never raises and never drops a Python object through PyO3's deferred
//! reference pool (it does not hold PyO3's attach count): it only reads its arguments and
//! updates the metric.

#![allow(unsafe_code)]

use std::ffi::{CString, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use pyo3::exceptions::PySystemError;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyInt, PyType};
use pyo3::{PyClass, PyTypeInfo};

/// A method of a class with a fast path.
pub(crate) trait FastMethod: 'static {
    /// The class.
    type Class: PyClass<Frozen = True> + Sync;
    /// The method's name, as PyO3 defined it.
    const NAME: &'static str;
    /// Runs a call given by position only (`args`), when it can do so without raising or
    /// running Python code, and returns true; false leaves everything as it was, and the call
    /// goes to PyO3's method.
    fn fast(object: &Self::Class, args: Args<'_, '_>) -> bool;
    /// Where the registration keeps what the calls need (one static per method).
    fn registered() -> &'static PyOnceLock<Registered>;
}

/// What the calls of a fast method need, kept at its registration.
pub(crate) struct Registered {
    /// The class: the fast path takes instances of exactly this type.
    class: Py<PyType>,
    /// The method PyO3 generated, which takes every other call.
    full: Py<PyAny>,
    /// PyO3's function behind `full`, read at the first call the fast path does not take.
    function: PyOnceLock<Option<ffi::PyCFunctionFastWithKeywords>>,
}

/// The positional arguments of a call.
#[derive(Clone, Copy)]
pub(crate) struct Args<'a, 'py> {
    py: Python<'py>,
    /// Valid objects for the whole call, as CPython passes them.
    raw: &'a [*mut ffi::PyObject],
}

impl<'a, 'py> Args<'a, 'py> {
    /// How many arguments were given.
    pub(crate) fn len(self) -> usize {
        self.raw.len()
    }

    /// The argument at `at`, if given.
    pub(crate) fn get(self, at: usize) -> Option<Borrowed<'a, 'py, PyAny>> {
        let raw = *self.raw.get(at)?;
        // SAFETY: `raw` holds the valid, borrowed arguments of the call under way (`call`).
        Some(unsafe { Borrowed::from_ptr(self.py, raw) })
    }

    /// The argument at `at` of an optional parameter: none when absent or `None`, as PyO3
    /// takes an `Option` parameter.
    pub(crate) fn optional(self, at: usize) -> Option<Borrowed<'a, 'py, PyAny>> {
        self.get(at).filter(|arg| !arg.is_none())
    }
}

/// The value of an exact `int` that fits an `i64`, read without raising or running Python
/// code; none for anything else (a larger `int`, a subclass such as `bool`, another type).
pub(crate) fn small_int(value: Borrowed<'_, '_, PyAny>) -> Option<i64> {
    if !value.is_exact_instance_of::<PyInt>() {
        return None;
    }
    let mut overflow: c_int = 0;
    // SAFETY: `value` is an exact `int`, which this call reads without raising (an overflow
    // sets `overflow` only) and without running Python code.
    let int = unsafe { ffi::PyLong_AsLongLongAndOverflow(value.as_ptr(), &mut overflow) };
    (overflow == 0).then_some(int)
}

/// Replaces the method `M::NAME` of `M::Class` by one with the fast path of `M` (a marker
/// value); the method PyO3 generated takes every other call and gives its documentation and
/// signature.
pub(crate) fn register<M: FastMethod>(py: Python<'_>, _method: M) -> PyResult<()> {
    if M::registered().get(py).is_some() {
        // Registered already: the class has the fast method.
        return Ok(());
    }
    let class = M::Class::type_object(py);
    let full = class.getattr(M::NAME)?;
    let signature: Option<String> = full.getattr("__text_signature__")?.extract()?;
    let doc: Option<String> = full.getattr("__doc__")?.extract()?;
    // `help()` and `inspect.signature()` read the signature from the first lines.
    let doc = match signature {
        Some(signature) => format!("{}{signature}\n--\n\n{}", M::NAME, doc.unwrap_or_default()),
        None => doc.unwrap_or_default(),
    };
    let doc = CString::new(doc)?;
    let name = CString::new(M::NAME)?;
    // The descriptor points at its definition for as long as the class lives: they are kept
    // for the process (once per class and method).
    let definition: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.into_raw(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: call::<M>,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.into_raw(),
    }));
    // SAFETY: `class` is a type object and `definition` a method definition that lives for
    // the process, whose function takes the calling convention its flags name.
    let descriptor = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(class.as_type_ptr(), definition))
    }?;
    let registered = Registered {
        class: class.clone().unbind(),
        full: full.unbind(),
        function: PyOnceLock::new(),
    };
    if M::registered().set(py, registered).is_err() {
        unreachable!("a method is registered once, with the interpreter attached");
    }
    class.setattr(M::NAME, descriptor)
}

/// The method registered for `M`, as CPython calls it: `slf`, then `nargs` positional
/// arguments at `args`, followed by one per name of the tuple `kwnames` (null without
/// keywords). The fast path first; any call it does not take goes to PyO3's method.
unsafe extern "C" fn call<M: FastMethod>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a method with the thread attached.
    let py = unsafe { Python::assume_attached() };
    let Some(registered) = M::registered().get(py) else {
        return system_error(py, format!("the method {} is not registered", M::NAME));
    };
    // SAFETY: `slf` is the object the method was called on, valid for the call.
    let class = unsafe { ffi::Py_TYPE(slf) };
    if kwnames.is_null() && class.cast() == registered.class.as_ptr() {
        // SAFETY: `slf` is an object of exactly the class, valid for the call.
        let object = unsafe { Borrowed::from_ptr(py, slf).cast_unchecked::<M::Class>() }.get();
        let raw: &[*mut ffi::PyObject] = match usize::try_from(nargs) {
            Ok(given) if given > 0 && !args.is_null() => {
                // SAFETY: CPython passes `nargs` positional arguments at `args`, valid for the
                // call.
                unsafe { std::slice::from_raw_parts(args, given) }
            }
            _ => &[],
        };
        match catch_unwind(AssertUnwindSafe(|| M::fast(object, Args { py, raw }))) {
            Ok(true) => return py.None().into_ptr(),
            Ok(false) => {}
            Err(_) => return panicked::<M>(py),
        }
    }
    match full_function(py, registered, slf) {
        // SAFETY: PyO3's function of this calling convention, given the call as CPython passed
        // it.
        Some(function) => unsafe { function(slf, args, nargs, kwnames) },
        None => system_error(py, format!("the method {} has no PyO3 function", M::NAME)),
    }
}

/// PyO3's function behind its method, read once from the method bound to `slf` (a builtin
/// method, whose function the stable ABI gives); none if it is not a function of the calling
/// convention of `call`.
#[cold]
#[inline(never)]
fn full_function(
    py: Python<'_>,
    registered: &Registered,
    slf: *mut ffi::PyObject,
) -> Option<ffi::PyCFunctionFastWithKeywords> {
    *registered.function.get_or_init(py, || {
        // SAFETY: `slf` is the object the method was called on, valid for the call.
        let object = unsafe { Borrowed::from_ptr(py, slf) };
        let bound = registered
            .full
            .bind(py)
            .call_method1("__get__", (object,))
            .ok()?;
        // SAFETY: `bound` is a valid object, whose type these read; they read a builtin method
        // without raising.
        let (flags, function) = unsafe {
            if ffi::PyCFunction_Check(bound.as_ptr()) == 0 {
                return None;
            }
            (
                ffi::PyCFunction_GetFlags(bound.as_ptr()),
                ffi::PyCFunction_GetFunction(bound.as_ptr())?,
            )
        };
        (flags == ffi::METH_FASTCALL | ffi::METH_KEYWORDS).then(|| {
            // SAFETY: CPython calls the function of a method with these flags with this
            // signature, casting the pointer it keeps the same way.
            unsafe {
                std::mem::transmute::<ffi::PyCFunction, ffi::PyCFunctionFastWithKeywords>(function)
            }
        })
    })
}

/// Raises `SystemError` with `message` (a bug); returns null.
#[cold]
#[inline(never)]
fn system_error(py: Python<'_>, message: String) -> *mut ffi::PyObject {
    // Its objects may be released late, through PyO3's reference pool.
    PySystemError::new_err(message).restore(py);
    ptr::null_mut()
}

/// Raises the error of a panic in a method of `M` (a bug), as PyO3 raises one; returns null.
#[cold]
#[inline(never)]
fn panicked<M: FastMethod>(py: Python<'_>) -> *mut ffi::PyObject {
    // Its objects may be released late, through PyO3's reference pool.
    PanicException::new_err(format!("panic in the method {}", M::NAME)).restore(py);
    ptr::null_mut()
}
