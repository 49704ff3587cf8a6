//! The readiness the application reports, and the one rule that reads it from text.

use std::fmt;
use std::str::FromStr;

use crate::MetricsError;

/// Whether the application is ready for traffic, as the readiness route reports it.
///
/// Read from text (`DYN_SYSTEM_STARTING_HEALTH_STATUS`, Python's `set_health_status`) by its
/// [`FromStr`]: `ready` or `notready`, in any case.
///
/// ```
/// use dynamo_runtime::HealthStatus;
///
/// assert_eq!("ready".parse::<HealthStatus>().unwrap(), HealthStatus::Ready);
/// assert_eq!("NotReady".parse::<HealthStatus>().unwrap(), HealthStatus::NotReady);
/// assert_eq!(
///     "up".parse::<HealthStatus>().unwrap_err().to_string(),
///     "invalid health status \"up\": expected `ready` or `notready` (in any case)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HealthStatus {
    /// `/health` answers 200 with `"status":"ready"`.
    Ready,
    /// `/health` answers 503 with `"status":"notready"` (the default until the application
    /// says otherwise, as in Dynamo).
    #[default]
    NotReady,
}

impl HealthStatus {
    /// What text [`HealthStatus::from_str`] accepts, as error messages say it.
    pub(crate) const EXPECTED: &'static str = "expected `ready` or `notready` (in any case)";

    /// `ready` or `notready`, as in the readiness JSON and the environment variable.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NotReady => "notready",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HealthStatus {
    type Err = MetricsError;

    /// `ready` or `notready`, in any ASCII case; nothing around them.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidHealthStatus`] naming any other text.
    fn from_str(text: &str) -> Result<Self, MetricsError> {
        [Self::Ready, Self::NotReady]
            .into_iter()
            .find(|status| text.eq_ignore_ascii_case(status.as_str()))
            .ok_or_else(|| MetricsError::InvalidHealthStatus { value: text.into() })
    }
}
