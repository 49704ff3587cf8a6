//! OTLP export of the runtime's metrics: which settings win, the self-metrics, and the hook
//! that collects the same metrics the scrape page shows.
//!
//! The exporter itself (thread, queue, retries, encoding) lives in `dynamo-exporter`; this
//! module points its collect hook at the runtime: the pre-scrape callbacks (through the same
//! bounded path a scrape takes), the uptime gauge, every family of the registry, and the
//! callback text that passes the same checks as on the page.

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use dynamo_exporter::otlp::{
    OtlpConfig, OtlpConfigError, OtlpEncoder, OtlpExporter, OtlpSelfMetrics, OtlpStartError,
};

use crate::MetricsError;
use crate::runtime::RuntimeInner;

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The settings to export with, if export is on: those given in code, else the environment's
/// (when the builder reads it).
///
/// # Errors
///
/// [`MetricsError::InvalidEnv`] naming an `OTEL_*` variable whose value cannot be used.
pub(crate) fn settings(
    given: Option<OtlpConfig>,
    lookup: Option<&Lookup>,
) -> Result<Option<OtlpConfig>, MetricsError> {
    if given.is_some() {
        return Ok(given);
    }
    match lookup {
        Some(lookup) => Ok(OtlpConfig::from_lookup(lookup)?),
        None => Ok(None),
    }
}

/// Registers the exporter's self-metrics and starts it, collecting from `runtime`.
///
/// The hook holds the runtime weakly: once the last handle is gone, collections are empty
/// and nothing more is sent.
///
/// # Errors
///
/// [`MetricsError::InvalidSetting`] for a value given in code that cannot be used,
/// [`MetricsError::ExportStart`] when the exporter's thread cannot start.
pub(crate) fn start(
    config: &OtlpConfig,
    runtime: &Arc<RuntimeInner>,
    started: SystemTime,
) -> Result<OtlpExporter, MetricsError> {
    let metrics = OtlpSelfMetrics::register(&runtime.registry, str::to_string)?;
    let target: Weak<RuntimeInner> = Arc::downgrade(runtime);
    let collect = Arc::new(move |encoder: &mut OtlpEncoder| {
        if let Some(runtime) = target.upgrade() {
            runtime.collect_otlp(encoder);
        }
    });
    OtlpExporter::start(config, started, collect, metrics).map_err(|error| match error {
        OtlpStartError::Config(error) => error.into(),
        OtlpStartError::Thread(source) => MetricsError::ExportStart { source },
        other => MetricsError::ExportStart {
            source: std::io::Error::other(other.to_string()),
        },
    })
}

impl From<OtlpConfigError> for MetricsError {
    fn from(error: OtlpConfigError) -> Self {
        match error {
            OtlpConfigError::InvalidEnv { var, value, reason } => {
                Self::InvalidEnv { var, value, reason }
            }
            OtlpConfigError::InvalidSetting {
                setting,
                value,
                reason,
            } => Self::InvalidSetting {
                setting,
                value,
                reason,
            },
            other => Self::InvalidSetting {
                setting: "OtlpConfig",
                value: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use dynamo_exporter::otlp::names;

    use crate::prometheus_names::self_metrics;

    #[test]
    fn self_metric_names_are_the_exporters() {
        assert_eq!(self_metrics::OTLP_EXPORTED_TOTAL, names::EXPORTED_TOTAL);
        assert_eq!(self_metrics::OTLP_DROPPED_TOTAL, names::DROPPED_TOTAL);
        assert_eq!(self_metrics::OTLP_QUEUED_REQUESTS, names::QUEUED_REQUESTS);
        assert_eq!(self_metrics::DROP_REASON_LABEL, names::REASON_LABEL);
    }
}
