//! `HealthStatus` read from text: one rule, `ready` or `notready` in any case, for
//! `DYN_SYSTEM_STARTING_HEALTH_STATUS` and for Python's `set_health_status` alike (the Python
//! suite checks the same table in `test_health.py`).

use dynamo_runtime::{HealthStatus, MetricsError, SystemServerConfig};

const ACCEPTED: [(&str, HealthStatus); 8] = [
    ("ready", HealthStatus::Ready),
    ("READY", HealthStatus::Ready),
    ("Ready", HealthStatus::Ready),
    ("rEaDy", HealthStatus::Ready),
    ("notready", HealthStatus::NotReady),
    ("NOTREADY", HealthStatus::NotReady),
    ("NotReady", HealthStatus::NotReady),
    ("notReady", HealthStatus::NotReady),
];

const REFUSED: [&str; 12] = [
    "healthy",
    "not ready",
    "not_ready",
    "not-ready",
    "readyy",
    "rea dy",
    "ok",
    "true",
    "1",
    "réady",
    "ＲＥＡＤＹ",
    "ready\0",
];

#[test]
fn ready_and_notready_parse_in_any_case() {
    for (text, status) in ACCEPTED {
        assert_eq!(text.parse::<HealthStatus>().unwrap(), status, "{text:?}");
    }
    for status in [HealthStatus::Ready, HealthStatus::NotReady] {
        assert_eq!(status.to_string().parse::<HealthStatus>().unwrap(), status);
    }
}

#[test]
fn other_text_is_an_error_naming_it() {
    for text in REFUSED.into_iter().chain(["", " ready", "ready "]) {
        let error = text.parse::<HealthStatus>().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid health status {text:?}: expected `ready` or `notready` (in any case)")
        );
        assert!(
            matches!(&error, MetricsError::InvalidHealthStatus { value } if value == text),
            "{error:?}"
        );
    }
}

fn starting_health(value: &str) -> Result<HealthStatus, MetricsError> {
    SystemServerConfig::from_lookup(|var| {
        (var == "DYN_SYSTEM_STARTING_HEALTH_STATUS").then(|| value.to_string())
    })
    .map(|config| config.starting_health())
}

#[test]
fn the_environment_variable_follows_the_same_rule() {
    for (text, status) in ACCEPTED {
        assert_eq!(starting_health(text).unwrap(), status, "{text:?}");
    }
    for text in REFUSED {
        let error = starting_health(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "DYN_SYSTEM_STARTING_HEALTH_STATUS={text:?} is invalid: expected `ready` or \
                 `notready` (in any case)"
            )
        );
        assert!(
            matches!(
                &error,
                MetricsError::InvalidEnv { var: "DYN_SYSTEM_STARTING_HEALTH_STATUS", value, .. }
                    if value == text
            ),
            "{error:?}"
        );
    }
    // Like every variable, its value is trimmed, and a blank one keeps the default.
    assert_eq!(starting_health(" Ready\n").unwrap(), HealthStatus::Ready);
    assert_eq!(starting_health("  ").unwrap(), HealthStatus::NotReady);
}
