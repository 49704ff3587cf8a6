//! Reading the values of the settings: ports, seconds, counts, booleans, endpoint lists.

use std::num::NonZeroU16;
use std::time::Duration;

use dynamo_exporter::format_duration;

use crate::names::sanitize_hierarchy_name;

/// Whether the status server runs, and on which port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Port {
    /// The server does not run (the default).
    #[default]
    Off,
    /// A free port, chosen by the OS when the server binds.
    Any,
    /// This port.
    Fixed(NonZeroU16),
}

impl Port {
    /// The port as `RuntimeBuilder::system_port` takes it: `None` off, `Some(0)` any.
    pub(crate) fn from_option(port: Option<u16>) -> Self {
        match port.map(NonZeroU16::new) {
            None => Self::Off,
            Some(None) => Self::Any,
            Some(Some(port)) => Self::Fixed(port),
        }
    }

    /// The port to bind (`0` for any), or `None` when the server is off.
    pub(crate) fn to_option(self) -> Option<u16> {
        match self {
            Self::Off => None,
            Self::Any => Some(0),
            Self::Fixed(port) => Some(port.get()),
        }
    }
}

/// A port from 0 (any) to 65535, or a negative number for none.
pub(super) fn port(value: &str) -> Result<Port, String> {
    let expected = "expected a port from 0 (any free port) to 65535, or a negative number to \
                    turn the system status server off";
    if let Some(digits) = value.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Port::Off);
        }
        return Err(expected.into());
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected.into());
    }
    value
        .parse::<u16>()
        .map(|port| Port::from_option(Some(port)))
        .map_err(|_| expected.to_string())
}

/// A number of seconds above zero and at most `max`, fractions allowed: `10`, `2.5`.
pub(super) fn seconds(value: &str, max: Duration) -> Result<Duration, String> {
    let expected = "expected a number of seconds above zero, such as 10 or 2.5";
    let plain = value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return Err(expected.into());
    }
    let secs: f64 = value.parse().map_err(|_| expected.to_string())?;
    let too_long = || {
        format!(
            "expected at most {} seconds ({})",
            max.as_secs(),
            format_duration(max)
        )
    };
    // Digits only: a number too large for a duration is too long as well.
    let duration = Duration::try_from_secs_f64(secs).map_err(|_| too_long())?;
    duration_above_zero(duration).map_err(|_| expected.to_string())?;
    if duration > max {
        return Err(too_long());
    }
    Ok(duration)
}

/// A whole number above zero, and at most `max` (`usize::MAX` for no bound of its own).
pub(super) fn count(value: &str, max: usize) -> Result<usize, String> {
    let expected = expected_count(max);
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected);
    }
    match value.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(_) | Err(_) => Err(expected),
    }
}

/// What a count must be.
fn expected_count(max: usize) -> String {
    if max == usize::MAX {
        "expected a whole number above zero".into()
    } else {
        format!("expected a whole number from 1 to {max}")
    }
}

/// What [`endpoint_names`] and `RuntimeBuilder::use_endpoint_health_status` take.
pub(super) const EXPECTED_ENDPOINT_NAMES: &str =
    "expected a JSON list of endpoint names, such as [\"generate\"]";

/// A JSON list of endpoint names: `["generate"]`. Each name is sanitized as endpoint names
/// are, so it matches the name `/health` shows.
pub(super) fn endpoint_names(value: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> =
        serde_json::from_str(value).map_err(|_| EXPECTED_ENDPOINT_NAMES.to_string())?;
    sanitized_endpoint_names(names)
}

/// Endpoint names as `/health` shows them, sorted, each once; an error for a name that
/// sanitizes to nothing.
pub(super) fn sanitized_endpoint_names(
    names: impl IntoIterator<Item = String>,
) -> Result<Vec<String>, String> {
    let mut sanitized = names
        .into_iter()
        .map(|name| {
            sanitize_hierarchy_name(&name).ok_or_else(|| {
                format!("endpoint name {name:?} is empty or only underscores once sanitized")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    sanitized.sort();
    sanitized.dedup();
    Ok(sanitized)
}

/// A boolean as Dynamo reads one: `true`, `1`, `on`, `yes` or `false`, `0`, `off`, `no`, in
/// any case.
pub(super) fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        _ => Err("expected a boolean: true, false, 1, 0, on, off, yes or no".into()),
    }
}

/// A duration given in code: above zero.
pub(super) fn duration_above_zero(duration: Duration) -> Result<Duration, String> {
    if duration.is_zero() {
        Err("a timeout must be longer than zero".into())
    } else {
        Ok(duration)
    }
}

/// A timeout given in code: above zero and at most `max`.
pub(crate) fn timeout_within(duration: Duration, max: Duration) -> Result<Duration, String> {
    let duration = duration_above_zero(duration)?;
    if duration > max {
        Err(format!(
            "a timeout must be at most {}",
            format_duration(max)
        ))
    } else {
        Ok(duration)
    }
}

/// A count given in code: above zero, and at most `max`.
pub(super) fn count_within(count: usize, max: usize) -> Result<usize, String> {
    if (1..=max).contains(&count) {
        Ok(count)
    } else {
        Err(expected_count(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports() {
        let fixed = |port| Ok(Port::Fixed(NonZeroU16::new(port).unwrap()));
        assert_eq!(port("0"), Ok(Port::Any));
        assert_eq!(port("8081"), fixed(8081));
        assert_eq!(port("65535"), fixed(65535));
        assert_eq!(port("-1"), Ok(Port::Off));
        assert_eq!(port("-99999999999999999999999"), Ok(Port::Off));
        for bad in [
            "65536", "70000", "abc", "+1", "1.5", "-", "-x", "0x50", "8 0",
        ] {
            assert!(port(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn ports_read_as_the_builder_takes_them() {
        for given in [None, Some(0), Some(1), Some(8081), Some(65535)] {
            assert_eq!(Port::from_option(given).to_option(), given);
        }
        assert_eq!(Port::default(), Port::Off);
    }

    #[test]
    fn parses_seconds_and_counts() {
        let hour = Duration::from_secs(3600);
        assert_eq!(seconds("10", hour), Ok(Duration::from_secs(10)));
        assert_eq!(seconds("2.5", hour), Ok(Duration::from_millis(2500)));
        assert_eq!(seconds("0.001", hour), Ok(Duration::from_millis(1)));
        assert_eq!(seconds("3600", hour), Ok(hour));
        for bad in [
            "0", "0.0", "-1", "1e3", "ten", "", ".", "1.2.3", "inf", "NaN",
        ] {
            assert!(seconds(bad, hour).is_err(), "{bad:?} should be refused");
        }
        for too_long in [
            "3600.001",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            assert_eq!(
                seconds(too_long, hour),
                Err("expected at most 3600 seconds (1h)".to_string()),
                "{too_long:?}"
            );
        }
        assert_eq!(count("1", usize::MAX), Ok(1));
        assert_eq!(count("128", usize::MAX), Ok(128));
        assert_eq!(count("64", 64), Ok(64));
        for bad in ["0", "-1", "1.5", "x", "99999999999999999999999"] {
            assert!(count(bad, usize::MAX).is_err(), "{bad:?} should be refused");
        }
        for bad in ["0", "65", "18446744073709551615"] {
            assert_eq!(
                count(bad, 64),
                Err("expected a whole number from 1 to 64".to_string())
            );
        }
    }

    #[test]
    fn parses_endpoint_lists_and_booleans() {
        let names = |list: &[&str]| Ok(list.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(endpoint_names(r#"["generate"]"#), names(&["generate"]));
        assert_eq!(
            endpoint_names(r#"[ "generate", "clear-kv", "generate" ]"#),
            names(&["clear_kv", "generate"])
        );
        assert_eq!(endpoint_names("[]"), names(&[]));
        for bad in [
            "generate",
            "[generate]",
            r#"["generate""#,
            "[1]",
            r#"{"a":1}"#,
        ] {
            assert_eq!(
                endpoint_names(bad),
                Err(EXPECTED_ENDPOINT_NAMES.to_string()),
                "{bad:?}"
            );
        }
        assert_eq!(
            endpoint_names(r#"["__"]"#),
            Err("endpoint name \"__\" is empty or only underscores once sanitized".to_string())
        );
        for (text, value) in [("true", true), ("TRUE", true), ("1", true), ("off", false)] {
            assert_eq!(boolean(text), Ok(value), "{text:?}");
        }
        for bad in ["", "2", "enabled", "truthy"] {
            assert!(boolean(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
