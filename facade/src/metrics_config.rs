//! The registry's settings, read from `DYN_METRICS_*`: how many series a metric may hold,
//! when series made by metric macros are dropped for being idle, the labels added to every
//! series, and whether the page shows the process' own metrics.

use std::time::Duration;

use dynamo_exporter::{DEFAULT_MAX_SERIES, SettingError, SettingSource};

use crate::{MetricsError, const_labels};

/// `DYN_METRICS_MAX_SERIES`: series one metric may hold (default 10,000; `0` = no bound).
pub const MAX_SERIES_VAR: &str = "DYN_METRICS_MAX_SERIES";
/// `DYN_METRICS_IDLE_TIMEOUT`: drop macro series unchanged this long (`90s`, `5m`, `1h`,
/// `500ms`, or plain seconds; `0` or `off`, the default, never; at most
/// [`MAX_SERIES_IDLE_TIMEOUT`]).
pub const SERIES_IDLE_TIMEOUT_VAR: &str = "DYN_METRICS_IDLE_TIMEOUT";
/// The longest idle timeout of macro series: a week. A series unchanged for longer is kept
/// only by turning the timeout off.
pub const MAX_SERIES_IDLE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// `DYN_METRICS_CONST_LABELS`: labels added to every series of the page, such as
/// `cluster=us-west,team=infer` (a literal `,`, `=` or `\` in a value written `\,`, `\=`,
/// `\\`).
pub const CONST_LABELS_VAR: &str = "DYN_METRICS_CONST_LABELS";
/// `DYN_METRICS_MAX_CALLBACK_TEXT_BYTES`: the longest text one exposition callback or engine
/// source may return for a scrape (default [`DEFAULT_MAX_CALLBACK_TEXT_BYTES`], at most
/// [`MAX_CALLBACK_TEXT_BYTES_BOUND`]); a longer text is left off the page and counted.
pub const MAX_CALLBACK_TEXT_BYTES_VAR: &str = "DYN_METRICS_MAX_CALLBACK_TEXT_BYTES";
/// The default longest callback text: 4 MiB. A vLLM or SGLang page with histograms for a
/// few models is 100 KB to 1 MB, so this leaves room for several times that, while parsing
/// and labelling what is accepted (about 20 bytes of memory per byte of text) stays under
/// about 100 MB per scrape.
pub const DEFAULT_MAX_CALLBACK_TEXT_BYTES: usize = 4 << 20;
/// The largest value [`MAX_CALLBACK_TEXT_BYTES_VAR`] takes: 256 MiB.
pub const MAX_CALLBACK_TEXT_BYTES_BOUND: usize = 256 << 20;
/// `DYN_METRICS_PROCESS`: `1`, `true` or `on` (the default) shows the standard `process_*`
/// metrics; `0`, `false` or `off` leaves them out.
pub const PROCESS_METRICS_VAR: &str = "DYN_METRICS_PROCESS";
/// `DYN_METRICS_NATIVE_HISTOGRAMS`: the `histogram!` metrics that also keep native buckets,
/// as comma-separated names given to the macro (without `dynamo_component_`): `*` for all,
/// `prefix*` for those starting with `prefix`. Unset: none.
pub const NATIVE_HISTOGRAMS_VAR: &str = "DYN_METRICS_NATIVE_HISTOGRAMS";
/// `DYN_METRICS_NATIVE_BUCKET_FACTOR`: the bucket factor of those native buckets (default
/// 1.1, a number greater than 1).
pub const NATIVE_BUCKET_FACTOR_VAR: &str = "DYN_METRICS_NATIVE_BUCKET_FACTOR";
/// The default bucket factor of macro histograms' native buckets: 1.1 (schema 3).
pub const DEFAULT_NATIVE_BUCKET_FACTOR: f64 = 1.1;

/// The registry's settings: how it bounds series, the labels every series gets, and whether
/// the page shows the process metrics.
///
/// ```
/// # fn main() -> Result<(), dynamo_runtime::MetricsError> {
/// use std::time::Duration;
/// use dynamo_runtime::MetricsConfig;
///
/// let config = MetricsConfig::from_lookup(|var| match var {
///     "DYN_METRICS_MAX_SERIES" => Some("500".into()),
///     "DYN_METRICS_IDLE_TIMEOUT" => Some("5m".into()),
///     "DYN_METRICS_CONST_LABELS" => Some(r"cluster=us-west,zone=a\,b".into()),
///     "DYN_METRICS_PROCESS" => Some("off".into()),
///     _ => None,
/// })?;
/// assert_eq!(config.max_series(), 500);
/// assert_eq!(config.idle_timeout(), Some(Duration::from_secs(300)));
/// assert_eq!(
///     config.const_labels(),
///     [("cluster".to_string(), "us-west".to_string()), ("zone".to_string(), "a,b".to_string())]
/// );
/// assert!(!config.process_metrics());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    max_series: usize,
    idle_timeout: SeriesIdleTimeout,
    const_labels: Vec<(String, String)>,
    process_metrics: bool,
    max_callback_text_bytes: usize,
    native_histograms: Option<MacroNativeHistograms>,
}

/// The `histogram!` metrics that keep native buckets, by name pattern, and their settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MacroNativeHistograms {
    /// Names as given to the macro: `*` for all, `prefix*`, or a name.
    pub names: Vec<String>,
    /// Their native settings.
    pub native: dynamo_exporter::NativeHistogram,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_series: DEFAULT_MAX_SERIES,
            idle_timeout: SeriesIdleTimeout::Never,
            const_labels: Vec::new(),
            process_metrics: true,
            max_callback_text_bytes: DEFAULT_MAX_CALLBACK_TEXT_BYTES,
            native_histograms: None,
        }
    }
}

impl MetricsConfig {
    /// Reads the `DYN_METRICS_*` variables through `lookup`; unset and empty variables take
    /// their defaults.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidEnv`] naming the variable and value: a series bound that is not a
    /// whole number, an idle timeout that is not a duration, a label pair that is malformed
    /// (the reason names the pair), or a process switch other than `0`/`1`, `false`/`true`,
    /// `off`/`on`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        Self::from_vars(&|var| Ok(lookup(var)))
    }

    /// Reads the `DYN_METRICS_*` variables of the process environment.
    ///
    /// # Errors
    ///
    /// As [`MetricsConfig::from_lookup`], and [`MetricsError::InvalidEnv`] naming a variable
    /// whose value is not UTF-8.
    pub fn from_env() -> Result<Self, MetricsError> {
        Self::from_vars(&dynamo_exporter::env_var)
    }

    /// As [`MetricsConfig::from_lookup`], through a lookup that may fail.
    pub(crate) fn from_vars(
        lookup: &dyn Fn(&'static str) -> Result<Option<String>, SettingError>,
    ) -> Result<Self, MetricsError> {
        let read = |var: &'static str| -> Result<Option<String>, SettingError> {
            Ok(lookup(var)?
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty()))
        };
        let mut config = Self::default();
        if let Some(value) = read(MAX_SERIES_VAR)? {
            config.max_series = value.parse().map_err(|_| {
                invalid(
                    MAX_SERIES_VAR,
                    &value,
                    "expected a whole number of series (0 for no bound)",
                )
            })?;
        }
        if let Some(value) = read(SERIES_IDLE_TIMEOUT_VAR)? {
            config.idle_timeout = parse_duration(&value)
                .map_err(|reason| invalid(SERIES_IDLE_TIMEOUT_VAR, &value, reason))?;
        }
        // Values keep their spaces: only an empty or all-blank variable means none.
        if let Some(value) = lookup(CONST_LABELS_VAR)?.filter(|v| !v.trim().is_empty()) {
            config.const_labels = const_labels::parse(&value).map_err(|problem| {
                let reason = format!("pair {:?}: {}", problem.pair, problem.reason);
                invalid(CONST_LABELS_VAR, &value, reason)
            })?;
        }
        if let Some(value) = read(MAX_CALLBACK_TEXT_BYTES_VAR)? {
            config.max_callback_text_bytes = value
                .parse()
                .ok()
                .and_then(|bytes| text_bytes_within_bound(bytes).ok())
                .ok_or_else(|| {
                    invalid(
                        MAX_CALLBACK_TEXT_BYTES_VAR,
                        &value,
                        EXPECTED_CALLBACK_TEXT_BYTES,
                    )
                })?;
        }
        if let Some(value) = read(PROCESS_METRICS_VAR)? {
            config.process_metrics = parse_switch(&value).ok_or_else(|| {
                let reason = "expected 1, true or on (show the process metrics) or 0, false or off";
                invalid(PROCESS_METRICS_VAR, &value, reason)
            })?;
        }
        if let Some(value) = read(NATIVE_HISTOGRAMS_VAR)? {
            let factor = match read(NATIVE_BUCKET_FACTOR_VAR)? {
                None => DEFAULT_NATIVE_BUCKET_FACTOR,
                Some(text) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f > 1.0)
                    .ok_or_else(|| {
                        let reason =
                            "expected a bucket factor: a number greater than 1, such as 1.1";
                        invalid(NATIVE_BUCKET_FACTOR_VAR, &text, reason)
                    })?,
            };
            let names: Vec<String> = value
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(String::from)
                .collect();
            config.native_histograms = Some(MacroNativeHistograms {
                names,
                native: dynamo_exporter::NativeHistogram::new(factor),
            });
        }
        Ok(config)
    }

    /// The `histogram!` metrics that keep native buckets, if any.
    #[must_use]
    pub fn native_histograms(&self) -> Option<&MacroNativeHistograms> {
        self.native_histograms.as_ref()
    }

    pub(crate) fn with_native_histograms(self, native: MacroNativeHistograms) -> Self {
        Self {
            native_histograms: Some(native),
            ..self
        }
    }

    /// Series one metric may hold (0: no bound).
    #[must_use]
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// How long a macro series may stay unchanged before it is dropped.
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout.duration()
    }

    /// Labels added to every series that lacks them, in the order given.
    #[must_use]
    pub fn const_labels(&self) -> &[(String, String)] {
        &self.const_labels
    }

    /// Whether the page shows the standard `process_*` metrics.
    #[must_use]
    pub fn process_metrics(&self) -> bool {
        self.process_metrics
    }

    /// The longest text one exposition callback or engine source may return for a scrape.
    #[must_use]
    pub fn max_callback_text_bytes(&self) -> usize {
        self.max_callback_text_bytes
    }

    pub(crate) fn with_max_callback_text_bytes(self, max_callback_text_bytes: usize) -> Self {
        Self {
            max_callback_text_bytes,
            ..self
        }
    }

    /// These labels added to those of the environment; a name in both takes the value given
    /// here.
    pub(crate) fn with_const_labels(self, labels: &[(String, String)]) -> Self {
        Self {
            const_labels: const_labels::merged(&self.const_labels, labels),
            ..self
        }
    }

    pub(crate) fn with_process_metrics(self, process_metrics: bool) -> Self {
        Self {
            process_metrics,
            ..self
        }
    }

    pub(crate) fn with_max_series(self, max_series: usize) -> Self {
        Self { max_series, ..self }
    }

    pub(crate) fn with_idle_timeout(self, idle_timeout: SeriesIdleTimeout) -> Self {
        Self {
            idle_timeout,
            ..self
        }
    }
}

/// What [`MAX_CALLBACK_TEXT_BYTES_VAR`] and `RuntimeBuilder::max_callback_text_bytes` take.
pub(crate) const EXPECTED_CALLBACK_TEXT_BYTES: &str =
    "expected a whole number of bytes from 1 to 268435456 (256 MiB)";

/// A limit of callback text from 1 to [`MAX_CALLBACK_TEXT_BYTES_BOUND`].
pub(crate) fn text_bytes_within_bound(bytes: usize) -> Result<usize, &'static str> {
    if (1..=MAX_CALLBACK_TEXT_BYTES_BOUND).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(EXPECTED_CALLBACK_TEXT_BYTES)
    }
}

/// `1`, `true`, `on` or `0`, `false`, `off`, in any case.
fn parse_switch(value: &str) -> Option<bool> {
    let value = value.to_ascii_lowercase();
    match value.as_str() {
        "1" | "true" | "on" => Some(true),
        "0" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// When series made by metric macros are dropped for being unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SeriesIdleTimeout {
    /// Never (the default).
    #[default]
    Never,
    /// Once unchanged this long (never zero).
    After(Duration),
}

impl SeriesIdleTimeout {
    /// The timeout as `RuntimeBuilder::series_idle_timeout` takes it: `None` or zero for never.
    pub(crate) fn from_option(timeout: Option<Duration>) -> Self {
        match timeout {
            Some(timeout) if !timeout.is_zero() => Self::After(timeout),
            _ => Self::Never,
        }
    }

    /// The timeout, unless it is longer than [`MAX_SERIES_IDLE_TIMEOUT`]; the error is that
    /// bound as the variable writes it.
    pub(crate) fn within_bound(self) -> Result<Self, String> {
        match self {
            Self::After(timeout) if timeout > MAX_SERIES_IDLE_TIMEOUT => {
                Err(dynamo_exporter::format_duration(MAX_SERIES_IDLE_TIMEOUT))
            }
            _ => Ok(self),
        }
    }

    /// How long a series may stay unchanged, or `None` for ever.
    pub(crate) fn duration(self) -> Option<Duration> {
        match self {
            Self::Never => None,
            Self::After(timeout) => Some(timeout),
        }
    }
}

/// `90s`, `5m`, `1h`, `500ms` or plain seconds, at most [`MAX_SERIES_IDLE_TIMEOUT`]; `0` and
/// `off` mean never.
fn parse_duration(value: &str) -> Result<SeriesIdleTimeout, String> {
    const EXPECTED: &str = "expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)";
    if value.eq_ignore_ascii_case("off") {
        return Ok(SeriesIdleTimeout::Never);
    }
    let duration = dynamo_exporter::parse_duration(value).map_err(|_| EXPECTED)?;
    let timeout = SeriesIdleTimeout::from_option(Some(duration));
    timeout
        .within_bound()
        .map_err(|max| format!("expected at most {max} (0 or off: never)"))
}

/// A bad value read from the variable `var`.
fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> MetricsError {
    SettingSource::env(var, value).invalid(reason).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let after = |duration| Ok(SeriesIdleTimeout::After(duration));
        let cases = [
            ("0", Ok(SeriesIdleTimeout::Never)),
            ("0.0s", Ok(SeriesIdleTimeout::Never)),
            ("off", Ok(SeriesIdleTimeout::Never)),
            ("OFF", Ok(SeriesIdleTimeout::Never)),
            ("30", after(Duration::from_secs(30))),
            ("90s", after(Duration::from_secs(90))),
            ("5m", after(Duration::from_secs(300))),
            ("1h", after(Duration::from_secs(3600))),
            ("500ms", after(Duration::from_millis(500))),
            ("1.5s", after(Duration::from_millis(1500))),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_duration(value), expected, "{value}");
        }
        for bad in ["-1", "5 days", "m", "1e400", "abc", "5x"] {
            assert_eq!(
                parse_duration(bad),
                Err("expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)".into()),
                "{bad} should be refused"
            );
        }
        assert_eq!(parse_duration("168h"), after(MAX_SERIES_IDLE_TIMEOUT));
        for too_long in ["168.5h", "604801", "9999999999"] {
            assert_eq!(
                parse_duration(too_long),
                Err("expected at most 168h (0 or off: never)".into()),
                "{too_long} should be refused"
            );
        }
    }

    #[test]
    fn native_macro_histograms_by_names_and_factor() {
        let config = |vars: &'static [(&str, &str)]| {
            MetricsConfig::from_lookup(|var| {
                vars.iter()
                    .find(|(name, _)| *name == var)
                    .map(|(_, v)| (*v).to_string())
            })
            .unwrap()
        };
        assert_eq!(config(&[]).native_histograms(), None);
        // A factor alone turns nothing on: the names say which histograms.
        let factor_alone = config(&[(NATIVE_BUCKET_FACTOR_VAR, "1.5")]);
        assert_eq!(factor_alone.native_histograms(), None);
        let names = config(&[(NATIVE_HISTOGRAMS_VAR, " ttft_*, itl_seconds ,,")]);
        assert_eq!(
            names.native_histograms(),
            Some(&MacroNativeHistograms {
                names: vec!["ttft_*".into(), "itl_seconds".into()],
                native: dynamo_exporter::NativeHistogram::new(DEFAULT_NATIVE_BUCKET_FACTOR),
            })
        );
        let both = config(&[
            (NATIVE_HISTOGRAMS_VAR, "*"),
            (NATIVE_BUCKET_FACTOR_VAR, "1.05"),
        ]);
        let native = both.native_histograms().map(|n| n.native.factor());
        assert_eq!(native, Some(1.05));
    }

    #[test]
    fn a_timeout_given_in_code_of_none_or_zero_is_never() {
        assert_eq!(
            SeriesIdleTimeout::from_option(None),
            SeriesIdleTimeout::Never
        );
        assert_eq!(
            SeriesIdleTimeout::from_option(Some(Duration::ZERO)),
            SeriesIdleTimeout::Never
        );
        let minute = Duration::from_secs(60);
        assert_eq!(
            SeriesIdleTimeout::from_option(Some(minute)).duration(),
            Some(minute)
        );
        assert_eq!(SeriesIdleTimeout::Never.duration(), None);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = MetricsConfig::from_lookup(|v| (v == MAX_SERIES_VAR).then(|| "lots".into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DYN_METRICS_MAX_SERIES=\"lots\" is invalid: expected a whole number of series (0 for no bound)"
        );
        let err =
            MetricsConfig::from_lookup(|v| (v == SERIES_IDLE_TIMEOUT_VAR).then(|| "soon".into()))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "DYN_METRICS_IDLE_TIMEOUT=\"soon\" is invalid: expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)"
        );
    }

    #[test]
    fn reads_the_process_switch() {
        let read = |value: &str| {
            let value = value.to_string();
            MetricsConfig::from_lookup(move |v| (v == PROCESS_METRICS_VAR).then(|| value.clone()))
        };
        for on in ["1", "true", "ON", "On", " on "] {
            assert!(read(on).unwrap().process_metrics(), "{on:?}");
        }
        for off in ["0", "false", "OFF", "off"] {
            assert!(!read(off).unwrap().process_metrics(), "{off:?}");
        }
        assert!(read("").unwrap().process_metrics(), "on by default");
        assert_eq!(
            read("no").unwrap_err().to_string(),
            "DYN_METRICS_PROCESS=\"no\" is invalid: expected 1, true or on (show the process metrics) or 0, false or off"
        );
    }
}
