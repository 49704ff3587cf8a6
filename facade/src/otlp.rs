//! OTLP export of the runtime's metrics: which settings win, the self-metrics, and the hook
//! that hands the exporter what the runtime's page shows.
//!
//! The exporter itself (thread, queue, retries, encoding) lives in `dynamo-exporter`; this
//! module points its collect hook at the runtime's scrape of the root, so an export holds the
//! same families as the page: the pre-scrape callbacks run through the same bounded path, and
//! callback text passes the same checks. Built without the `otlp` feature, a runtime refuses
//! an environment that asks for export rather than exporting nothing in silence.

#[cfg(feature = "otlp")]
pub(crate) use export::{settings, start};
#[cfg(not(feature = "otlp"))]
pub(crate) use refuse::refuse_export;

#[cfg(feature = "otlp")]
mod export {
    use std::sync::{Arc, Weak};
    use std::time::SystemTime;

    use dynamo_exporter::exposition::Encoder;
    use dynamo_exporter::otlp::{OtlpConfig, OtlpExporter, OtlpSelfMetrics, OtlpStartError};

    use crate::MetricsError;
    use crate::runtime::RuntimeInner;

    use crate::system_server::Lookup;

    /// The settings to export with, if export is on: those given in code, else the
    /// environment's (when the builder reads it).
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
            Some(lookup) => Ok(OtlpConfig::from_vars(lookup)?),
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
        let collect = Arc::new(move |encoder: &mut dyn Encoder| {
            if let Some(runtime) = target.upgrade() {
                runtime.scrape(&runtime.root, encoder);
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
}

#[cfg(not(feature = "otlp"))]
mod refuse {
    use dynamo_exporter::SettingSource;

    use crate::MetricsError;

    use crate::system_server::Lookup;

    /// `OTEL_METRICS_EXPORTER`, which turns OTLP export on when it names `otlp`.
    const EXPORTER_VAR: &str = "OTEL_METRICS_EXPORTER";
    /// `OTEL_SDK_DISABLED`, which turns it off whatever else says.
    const SDK_DISABLED_VAR: &str = "OTEL_SDK_DISABLED";

    /// Refuses an environment that asks for OTLP export, which this build cannot do.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidEnv`] naming `OTEL_METRICS_EXPORTER` when it names `otlp` and
    /// `OTEL_SDK_DISABLED` is not `true`.
    pub(crate) fn refuse_export(lookup: Option<&Lookup>) -> Result<(), MetricsError> {
        let Some(lookup) = lookup else {
            return Ok(());
        };
        let disabled = lookup(SDK_DISABLED_VAR)?
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let Some(exporters) = lookup(EXPORTER_VAR)? else {
            return Ok(());
        };
        let asks = exporters
            .split(',')
            .any(|name| name.trim().eq_ignore_ascii_case("otlp"));
        if asks && !disabled {
            return Err(SettingSource::env(EXPORTER_VAR, exporters.trim())
                .invalid(
                    "OTLP export is not built in: build dynamo-runtime with its `otlp` feature",
                )
                .into());
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use crate::{DistributedRuntime, MetricsError};

        fn build(env: &'static [(&'static str, &'static str)]) -> Result<(), MetricsError> {
            DistributedRuntime::builder()
                .global_recorder(false)
                .system_server_env(move |var| {
                    env.iter()
                        .find(|(name, _)| *name == var)
                        .map(|(_, value)| (*value).to_string())
                })
                .build()
                .map(|_| ())
        }

        #[test]
        fn an_environment_that_asks_for_export_is_refused_naming_the_variable() {
            let error = build(&[("OTEL_METRICS_EXPORTER", " prometheus, OTLP ")]).unwrap_err();
            assert_eq!(
                error.to_string(),
                "OTEL_METRICS_EXPORTER=\"prometheus, OTLP\" is invalid: OTLP export is not built \
                 in: build dynamo-runtime with its `otlp` feature"
            );
            assert!(matches!(
                error,
                MetricsError::InvalidEnv {
                    var: "OTEL_METRICS_EXPORTER",
                    ..
                }
            ));
        }

        #[test]
        fn an_environment_without_export_or_with_the_sdk_off_is_accepted() {
            build(&[]).unwrap();
            build(&[("OTEL_METRICS_EXPORTER", "prometheus")]).unwrap();
            build(&[("OTEL_METRICS_EXPORTER", "none")]).unwrap();
            build(&[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ])
            .unwrap();
        }
    }
}
