//! Settings whose values cannot be used: one error for all of them, naming where the value
//! came from (an environment variable, or a method given it in code) and the value.

use std::fmt;

/// Where the value of a setting came from: an environment variable, or a method given it in
/// code. Errors about a value name it as it was given; its `Display` is `DYN_SYSTEM_PORT=8081`
/// or `RuntimeBuilder::system_port(Some(8081))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingSource {
    /// Read from an environment variable (or a lookup standing for the environment).
    Env {
        /// The variable.
        var: &'static str,
        /// Its value, trimmed.
        value: String,
    },
    /// Given in code to a builder method.
    Code {
        /// The method, such as `RuntimeBuilder::health_path`.
        setting: &'static str,
        /// The value, as Rust's `Debug` prints it.
        value: String,
    },
}

impl fmt::Display for SettingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env { var, value } => write!(f, "{var}={value}"),
            Self::Code { setting, value } => write!(f, "{setting}({value})"),
        }
    }
}

impl SettingSource {
    /// `value`, read from the variable `var`.
    #[must_use]
    pub fn env(var: &'static str, value: &str) -> Self {
        Self::Env {
            var,
            value: value.into(),
        }
    }

    /// `value`, given in code to the method `setting`.
    #[must_use]
    pub fn code(setting: &'static str, value: &dyn fmt::Debug) -> Self {
        Self::Code {
            setting,
            value: format!("{value:?}"),
        }
    }

    /// The error for this value, and why it cannot be used.
    #[must_use]
    pub fn invalid(self, reason: impl Into<String>) -> SettingError {
        let reason = reason.into();
        match self {
            Self::Env { var, value } => SettingError::InvalidEnv { var, value, reason },
            Self::Code { setting, value } => SettingError::InvalidSetting {
                setting,
                value,
                reason,
            },
        }
    }
}

/// A setting holds a value that cannot be used: from the environment, or given in code. The
/// message names the variable or the method, the value, and what is wrong with it.
///
/// ```
/// use dynamo_exporter::SettingSource;
///
/// let error = SettingSource::env("DYN_SYSTEM_PORT", "http").invalid("not a port number");
/// assert_eq!(error.to_string(), "DYN_SYSTEM_PORT=\"http\" is invalid: not a port number");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// An environment variable holds a value that cannot be used.
    #[error("{var}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value given in code cannot be used.
    #[error("{setting}({value}) is invalid: {reason}")]
    InvalidSetting {
        /// The method that was given the value.
        setting: &'static str,
        /// The value, as Rust's `Debug` prints it.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads the variable `var` of the process environment: `None` when it is unset. What the
/// settings' `from_env` functions read with.
///
/// # Errors
///
/// [`SettingError::InvalidEnv`] naming the variable when its value is not UTF-8, rather than
/// a value with its bytes replaced by U+FFFD (the error shows it so).
pub fn env_var(var: &'static str) -> Result<Option<String>, SettingError> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(value) => value.into_string().map(Some).map_err(|value| {
            SettingSource::env(var, &value.to_string_lossy())
                .invalid("the value is not valid UTF-8")
        }),
    }
}

/// Reads a duration as the `DYN_*` variables write it: `90s`, `5m`, `1h`, `500ms`, or a plain
/// number of seconds; fractions allowed (`1.5s`). Zero is returned as it is: callers decide
/// what it means.
///
/// ```
/// use std::time::Duration;
/// use dynamo_exporter::parse_duration;
///
/// assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
/// assert!(parse_duration("5 days").is_err());
/// ```
///
/// # Errors
///
/// When the text is not a number followed by `ms`, `s`, `m`, `h` or nothing, or is too large
/// for a [`std::time::Duration`].
pub fn parse_duration(value: &str) -> Result<std::time::Duration, &'static str> {
    const EXPECTED: &str = "expected a duration such as 90s, 5m, 1h or 500ms";
    let value = value.trim();
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
    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| EXPECTED)
}

/// A duration as the `DYN_*` variables write it, in its largest whole unit: `24h`, `5m`,
/// `30s`, `250ms` (a fraction of a millisecond is shown in nanoseconds).
///
/// ```
/// use std::time::Duration;
/// use dynamo_exporter::format_duration;
///
/// assert_eq!(format_duration(Duration::from_secs(300)), "5m");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
/// ```
#[must_use]
pub fn format_duration(duration: std::time::Duration) -> String {
    let nanos = duration.as_nanos();
    let units: [(u128, &str); 4] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
    ];
    for (size, unit) in units {
        if nanos >= size && nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_read_and_written() {
        let cases = [
            ("90s", Duration::from_secs(90), "90s"),
            ("5m", Duration::from_secs(300), "5m"),
            ("1h", Duration::from_secs(3600), "1h"),
            ("168h", Duration::from_secs(7 * 86400), "168h"),
            ("500ms", Duration::from_millis(500), "500ms"),
            ("1.5s", Duration::from_millis(1500), "1500ms"),
            ("0", Duration::ZERO, "0ns"),
        ];
        for (text, duration, written) in cases {
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
            assert_eq!(format_duration(duration), written, "{text}");
        }
        for bad in ["-1", "5 days", "m", "1e400", "abc", "5x", ""] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
