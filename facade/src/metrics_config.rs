//! The registry's settings, read from `DYN_METRICS_*`: how many series a metric may hold and
//! when series made by metric macros are dropped for being idle.

use std::time::Duration;

use dynamo_exporter::DEFAULT_MAX_SERIES;

use crate::MetricsError;

/// `DYN_METRICS_MAX_SERIES`: series one metric may hold (default 10,000; `0` = no bound).
pub const MAX_SERIES_VAR: &str = "DYN_METRICS_MAX_SERIES";
/// `DYN_METRICS_IDLE_TIMEOUT`: drop macro series unchanged this long (`90s`, `5m`, `1h`,
/// `500ms`, or plain seconds; `0` or `off`, the default, never).
pub const SERIES_IDLE_TIMEOUT_VAR: &str = "DYN_METRICS_IDLE_TIMEOUT";

/// How the registry bounds series.
///
/// ```
/// # fn main() -> Result<(), dynamo_runtime::MetricsError> {
/// use std::time::Duration;
/// use dynamo_runtime::MetricsConfig;
///
/// let config = MetricsConfig::from_lookup(|var| match var {
///     "DYN_METRICS_MAX_SERIES" => Some("500".into()),
///     "DYN_METRICS_IDLE_TIMEOUT" => Some("5m".into()),
///     _ => None,
/// })?;
/// assert_eq!(config.max_series(), 500);
/// assert_eq!(config.idle_timeout(), Some(Duration::from_secs(300)));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    max_series: usize,
    idle_timeout: Option<Duration>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            max_series: DEFAULT_MAX_SERIES,
            idle_timeout: None,
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
    /// whole number, or an idle timeout that is not a duration.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        let read = |var: &str| {
            lookup(var)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let mut config = Self::default();
        if let Some(value) = read(MAX_SERIES_VAR) {
            config.max_series = value.parse().map_err(|_| MetricsError::InvalidEnv {
                var: MAX_SERIES_VAR,
                value: value.clone(),
                reason: "expected a whole number of series (0 for no bound)".into(),
            })?;
        }
        if let Some(value) = read(SERIES_IDLE_TIMEOUT_VAR) {
            config.idle_timeout =
                parse_duration(&value).map_err(|reason| MetricsError::InvalidEnv {
                    var: SERIES_IDLE_TIMEOUT_VAR,
                    value: value.clone(),
                    reason: reason.into(),
                })?;
        }
        Ok(config)
    }

    /// Series one metric may hold (0: no bound).
    #[must_use]
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// How long a macro series may stay unchanged before it is dropped.
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    pub(crate) fn with_max_series(self, max_series: usize) -> Self {
        Self { max_series, ..self }
    }

    pub(crate) fn with_idle_timeout(self, idle_timeout: Option<Duration>) -> Self {
        Self {
            idle_timeout: idle_timeout.filter(|t| !t.is_zero()),
            ..self
        }
    }
}

/// `90s`, `5m`, `1h`, `500ms` or plain seconds; `0` and `off` mean no timeout.
fn parse_duration(value: &str) -> Result<Option<Duration>, &'static str> {
    const EXPECTED: &str = "expected a duration such as 90s, 5m, 1h or 500ms (0 or off: never)";
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().map_err(|_| EXPECTED)?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(EXPECTED),
    };
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(EXPECTED);
    }
    Ok((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let cases = [
            ("0", Ok(None)),
            ("off", Ok(None)),
            ("OFF", Ok(None)),
            ("30", Ok(Some(Duration::from_secs(30)))),
            ("90s", Ok(Some(Duration::from_secs(90)))),
            ("5m", Ok(Some(Duration::from_secs(300)))),
            ("1h", Ok(Some(Duration::from_secs(3600)))),
            ("500ms", Ok(Some(Duration::from_millis(500)))),
            ("1.5s", Ok(Some(Duration::from_millis(1500)))),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_duration(value), expected, "{value}");
        }
        for bad in ["-1", "5 days", "m", "1e400", "abc", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
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
}
