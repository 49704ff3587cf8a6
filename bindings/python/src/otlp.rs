//! OTLP export settings given in Python: `DistributedRuntime(otlp={...})`.

use std::time::Duration;

use dynamo_runtime::{Compression, OtlpConfig, Protocol, Temporality};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The keys `otlp=` accepts.
const KEYS: &str = "protocol, endpoint, headers, timeout, interval, export_timeout, shutdown_timeout, \
                    compression, temporality, service_name, resource_attributes, \
                    max_queued_requests";

/// The settings of `otlp=`, over those of the `OTEL_*` variables (or the defaults when the
/// variables do not turn export on). Durations are seconds.
///
/// Raises `ValueError` for an unknown key or a value that cannot be used, and `TypeError`
/// for a value of the wrong type.
pub(crate) fn config(settings: &Bound<'_, PyDict>) -> PyResult<OtlpConfig> {
    let mut config = OtlpConfig::from_env()
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .unwrap_or_default();
    for (key, value) in settings.iter() {
        let key: String = key.extract()?;
        config = match key.as_str() {
            "protocol" => config.with_protocol(
                Protocol::parse(&value.extract::<String>()?)
                    .map_err(|reason| PyValueError::new_err(format!("otlp[{key:?}]: {reason}")))?,
            ),
            "endpoint" => config.with_endpoint(value.extract::<String>()?),
            "headers" => {
                let mut config = config;
                for (name, header) in value.cast::<PyDict>()?.iter() {
                    config =
                        config.with_header(name.extract::<String>()?, header.extract::<String>()?);
                }
                config
            }
            "timeout" => config.with_timeout(seconds(&key, &value)?),
            "interval" => config.with_interval(seconds(&key, &value)?),
            "export_timeout" => config.with_export_timeout(seconds(&key, &value)?),
            "shutdown_timeout" => config.with_shutdown_timeout(seconds(&key, &value)?),
            "compression" => config.with_compression(
                Compression::parse(&value.extract::<String>()?)
                    .map_err(|reason| PyValueError::new_err(format!("otlp[{key:?}]: {reason}")))?,
            ),
            "temporality" => config.with_temporality(
                Temporality::parse(&value.extract::<String>()?)
                    .map_err(|reason| PyValueError::new_err(format!("otlp[{key:?}]: {reason}")))?,
            ),
            "service_name" => config.with_service_name(value.extract::<String>()?),
            "resource_attributes" => {
                let mut config = config;
                for (k, v) in value.cast::<PyDict>()?.iter() {
                    config = config
                        .with_resource_attribute(k.extract::<String>()?, v.extract::<String>()?);
                }
                config
            }
            "max_queued_requests" => config.with_max_queued_requests(value.extract::<usize>()?),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown OTLP setting {other:?}: expected one of {KEYS}"
                )));
            }
        };
    }
    Ok(config)
}

/// A number of seconds above zero.
fn seconds(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs: f64 = value.extract()?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "otlp[{key:?}] = {secs}: expected a number of seconds above zero"
            ))
        })
}
