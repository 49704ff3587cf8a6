//! `metrics.register_engine_metrics(...)`: the families of an engine's `prometheus_client`
//! registry (vLLM, SGLang, TensorRT-LLM keep theirs there), or of any function returning
//! exposition text, served on the page with the hierarchy labels and chosen labels.
//!
//! A `prometheus_client` multiprocess directory (`multiprocess_dir`, or
//! `PROMETHEUS_MULTIPROC_DIR` when no registry is given) is read and merged in Rust, without
//! the GIL.
//!
//! `prometheus_client` is optional: it is imported when a registry is registered, not before.
//! The source is known by the Python object it reads, so the same registry registered at
//! several levels is read once per scrape and shows each family once.

use std::path::PathBuf;

use dynamo_runtime::{EngineFilter, EngineSource, Metrics};
use pyo3::exceptions::{PyImportError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::callbacks::{PyCallbackHandle, attached, logged};
use crate::errors::{to_py_err, type_name};
use crate::labels::ConstLabels;

/// What the source reads.
enum Reader {
    /// A `prometheus_client` registry (anything with `collect()`), through `generate_latest`.
    Registry {
        registry: Py<PyAny>,
        generate_latest: Py<PyAny>,
    },
    /// A function returning the text, as `str` or UTF-8 `bytes`.
    Function(Py<PyAny>),
}

impl Reader {
    fn object(&self) -> &Py<PyAny> {
        match self {
            Self::Registry { registry, .. } => registry,
            Self::Function(function) => function,
        }
    }

    fn read(&self, py: Python<'_>) -> PyResult<String> {
        let text = match self {
            Self::Registry {
                registry,
                generate_latest,
            } => generate_latest.bind(py).call1((registry.bind(py),))?,
            Self::Function(function) => function.bind(py).call0()?,
        };
        if let Ok(text) = text.cast::<PyString>() {
            return Ok(text.to_str()?.to_owned());
        }
        if let Ok(bytes) = text.cast::<PyBytes>() {
            return String::from_utf8(bytes.as_bytes().to_vec()).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "engine metrics text is not UTF-8: {e}"
                ))
            });
        }
        Err(PyTypeError::new_err(format!(
            "an engine metrics function must return str or bytes, not {}",
            type_name(&text)
        )))
    }
}

/// Prefixes given as a list or tuple of `str` (a lone `str` is refused: it would be read as
/// its characters).
pub(crate) struct Prefixes(Vec<String>);

impl<'a, 'py> FromPyObject<'a, 'py> for Prefixes {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "prefixes must be a list of str, such as [\"vllm:\"], not a str",
            ));
        }
        obj.extract::<Vec<String>>().map(Self).map_err(|_| {
            PyTypeError::new_err("prefixes must be a list of str, such as [\"vllm:\"]")
        })
    }
}

/// The options of one registration.
pub(crate) struct EngineOptions {
    pub(crate) include: Option<Prefixes>,
    pub(crate) exclude: Option<Prefixes>,
    pub(crate) labels: Option<ConstLabels>,
    pub(crate) skip_process_metrics: bool,
}

/// Registers the engine metrics of `registry` (`prometheus_client.REGISTRY` when `None`) at
/// the level of `metrics`.
pub(crate) fn register(
    py: Python<'_>,
    metrics: &Metrics,
    registry: Option<Bound<'_, PyAny>>,
    multiprocess_dir: Option<PathBuf>,
    options: EngineOptions,
) -> PyResult<PyCallbackHandle> {
    let multiprocess_dir = match (&registry, multiprocess_dir) {
        (Some(_), Some(_)) => {
            return Err(PyTypeError::new_err(
                "register_engine_metrics takes a registry or a multiprocess_dir, not both",
            ));
        }
        (Some(_), None) => None,
        (None, Some(dir)) => Some(dir),
        (None, None) => environment_dir(py)?,
    };
    let source = match multiprocess_dir {
        // Read and merged in Rust on the runtime's threads: the GIL is never taken.
        Some(dir) => EngineSource::multiprocess_dir(dir),
        None => {
            let reader = reader(py, registry)?;
            // The object's address names the source: the registration keeps the object
            // alive, so no other object can take the address while it is registered.
            let key = reader.object().as_ptr() as usize as u64;
            EngineSource::with_key(key, move || {
                attached(|py| {
                    reader.read(py).map_err(|err| {
                        logged(py, "engine metrics source", reader.object().bind(py), err)
                    })
                })
            })
        }
    };
    let mut filter = EngineFilter::new().with_process_families(!options.skip_process_metrics);
    for prefix in options.include.map(|p| p.0).unwrap_or_default() {
        filter = filter.with_include_prefix(prefix);
    }
    for prefix in options.exclude.map(|p| p.0).unwrap_or_default() {
        filter = filter.with_exclude_prefix(prefix);
    }
    for (name, value) in ConstLabels::pairs(&options.labels) {
        filter = filter.with_label(name, value);
    }
    metrics
        .register_engine_metrics(&source, filter)
        .map(PyCallbackHandle)
        .map_err(to_py_err)
}

/// The multiprocess directory `prometheus_client` writes to in this process:
/// `PROMETHEUS_MULTIPROC_DIR` (or the older `prometheus_multiproc_dir`) of `os.environ`, when
/// set and not empty.
fn environment_dir(py: Python<'_>) -> PyResult<Option<PathBuf>> {
    let environ = py.import("os")?.getattr("environ")?;
    for name in ["PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"] {
        let value: Option<String> = environ.call_method1("get", (name,))?.extract()?;
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            return Ok(Some(PathBuf::from(value)));
        }
    }
    Ok(None)
}

/// How to read `registry`: through `generate_latest` when it has `collect()`, by calling it
/// when it is a function.
fn reader(py: Python<'_>, registry: Option<Bound<'_, PyAny>>) -> PyResult<Reader> {
    let registry = match registry {
        Some(registry) if !registry.hasattr("collect")? => {
            if registry.is_callable() {
                return Ok(Reader::Function(registry.unbind()));
            }
            return Err(PyTypeError::new_err(format!(
                "register_engine_metrics takes a prometheus_client CollectorRegistry or a \
                 function returning exposition text, not {}",
                type_name(&registry)
            )));
        }
        Some(registry) => Some(registry),
        None => None,
    };
    let client = py.import("prometheus_client").map_err(|err| {
        if err.is_instance_of::<PyImportError>(py) {
            PyImportError::new_err(
                "register_engine_metrics reads prometheus_client registries, and \
                 prometheus_client is not installed: `pip install prometheus-client`, or pass \
                 a function returning the exposition text",
            )
        } else {
            err
        }
    })?;
    let registry = match registry {
        Some(registry) => registry,
        None => client.getattr("REGISTRY")?,
    };
    Ok(Reader::Registry {
        registry: registry.unbind(),
        generate_latest: client.getattr("generate_latest")?.unbind(),
    })
}
