//! The one error type of this crate.

use std::sync::Arc;

use dynamo_exporter::{ExporterError, SettingError, SettingSource};

/// Why a metric, a hierarchy level or the runtime could not be created.
///
/// Messages name the offending value. Nothing is registered when an error is returned, so the
/// registry and its scrape stay as they were.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The metric name is empty or only underscores once sanitized.
    #[error("invalid metric name {name:?}: {reason}")]
    InvalidMetricName {
        /// The name as given.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A namespace, component or endpoint name is empty or only underscores once sanitized.
    #[error("invalid {level} name {name:?}: {reason}")]
    InvalidHierarchyName {
        /// `namespace`, `component` or `endpoint`.
        level: &'static str,
        /// The name as given.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A user label uses a name the hierarchy reserves.
    #[error("metric {metric:?}: label {label:?} is reserved for the runtime hierarchy")]
    ReservedLabel {
        /// The metric being created.
        metric: String,
        /// The reserved label name.
        label: String,
    },
    /// The registry refused the metric: a bad label, help or bucket list, or a conflict.
    #[error(transparent)]
    Registry(#[from] ExporterError),
    /// The metric to unregister was not created at this level.
    #[error(
        "metric {metric:?} was not created at this level (its hierarchy labels are {labels:?})"
    )]
    NotCreatedHere {
        /// The full metric name.
        metric: String,
        /// Its hierarchy labels.
        labels: Vec<(String, String)>,
    },
    /// The request metrics of an endpoint could not be created: an option is malformed, or a
    /// metric of one of their names exists already (see [`crate::prometheus_names::work_handler`]).
    #[error("cannot create the request metrics of endpoint {endpoint:?}: {source}")]
    RequestMetrics {
        /// The endpoint, `namespace/component/endpoint`.
        endpoint: String,
        /// Why; shared, since the error is kept and returned again on later calls.
        source: Arc<MetricsError>,
    },
    /// Options were given for an endpoint's request metrics after they were created (by an
    /// earlier `create()` or the first tracked request).
    #[error(
        "the request metrics of endpoint {endpoint:?} exist already: set their options before the first tracked request"
    )]
    RequestMetricsExist {
        /// The endpoint, `namespace/component/endpoint`.
        endpoint: String,
    },
    /// A health status given as text is neither `ready` nor `notready`.
    #[error("invalid health status {value:?}: {}", crate::HealthStatus::EXPECTED)]
    InvalidHealthStatus {
        /// The text as given.
        value: String,
    },
    /// An environment variable holds a value the runtime cannot use (a [`SettingError`] of
    /// the environment).
    #[error("{var}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting given in code (on [`crate::RuntimeBuilder`]) holds a value the runtime
    /// cannot use (a [`SettingError`] of code).
    #[error("{setting}({value}) is invalid: {reason}")]
    InvalidSetting {
        /// The builder method that was given the value.
        setting: &'static str,
        /// The value, as Rust would print it.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The system status server could not listen: the port is in use, the host does not
    /// resolve or is not an address of this machine.
    #[error("cannot start the system status server on {addr} ({port}): {source}")]
    ServerStart {
        /// Where the port was set: `DYN_SYSTEM_PORT=8081` from the environment, or
        /// `RuntimeBuilder::system_port(Some(8081))` in code.
        port: SettingSource,
        /// The address it tried to bind, `host:port`.
        addr: String,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The health checks' thread could not be started.
    #[error("cannot start the health checks: {source}")]
    HealthChecks {
        /// Why.
        source: std::io::Error,
    },
    /// The OTLP exporter's thread could not be started.
    #[error("cannot start OTLP metrics export: {source}")]
    ExportStart {
        /// Why.
        source: std::io::Error,
    },
}

impl MetricsError {
    /// True when the metric conflicts with one already registered (rather than being
    /// malformed).
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Registry(e) => e.is_conflict(),
            Self::RequestMetrics { source, .. } => source.is_conflict(),
            Self::RequestMetricsExist { .. } => true,
            _ => false,
        }
    }
}

impl From<SettingError> for MetricsError {
    fn from(error: SettingError) -> Self {
        match error {
            SettingError::InvalidEnv { var, value, reason } => {
                Self::InvalidEnv { var, value, reason }
            }
            SettingError::InvalidSetting {
                setting,
                value,
                reason,
            } => Self::InvalidSetting {
                setting,
                value,
                reason,
            },
        }
    }
}
