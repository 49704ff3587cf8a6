//! The system status server's settings: read from the `DYN_SYSTEM_*` variables, given in code
//! on [`crate::RuntimeBuilder`], or both (code wins). Each value is checked once, where it is
//! read; what depends on several values (two routes on one path) is checked once all are
//! chosen, and names the setting that caused it.

use std::fmt;
use std::time::Duration;

use dynamo_exporter::ServerLimits;

use super::routes::{Route, RouteChoice, RoutePaths};
use super::values::Port;
use super::{
    CALLBACK_THREADS_VAR, DEFAULT_CALLBACK_THREADS, DEFAULT_HOST, ENABLED_VAR, HEADER_TIMEOUT_VAR,
    HOST_VAR, HealthStatus, IDLE_TIMEOUT_VAR, LISTEN_BACKLOG_VAR, MAX_CALLBACK_THREADS,
    MAX_CONNECTIONS_VAR, MAX_HEADER_TIMEOUT, MAX_IDLE_TIMEOUT, MAX_PENDING_SCRAPES_VAR,
    MAX_WRITE_TIMEOUT, OPENMETRICS_VAR, PORT_VAR, STARTING_HEALTH_VAR, USE_ENDPOINT_HEALTH_VAR,
    WRITE_TIMEOUT_VAR, host, values,
};
use super::{
    CANARY_WAIT_TIME_VAR, DEFAULT_CANARY_WAIT_TIME, DEFAULT_HEALTH_CHECK_REQUEST_TIMEOUT,
    HEALTH_CHECK_ENABLED_VAR, HEALTH_CHECK_REQUEST_TIMEOUT_VAR, MAX_CANARY_WAIT_TIME,
    MAX_HEALTH_CHECK_REQUEST_TIMEOUT,
};
use crate::MetricsError;
use dynamo_exporter::{SettingError, SettingSource};

/// The system status server's settings.
///
/// [`SystemServerConfig::from_env`] reads them from the `DYN_SYSTEM_*` variables;
/// [`SystemServerConfig::from_lookup`] from any lookup, which is how tests inject them.
///
/// ```
/// # fn main() -> Result<(), dynamo_runtime::MetricsError> {
/// use dynamo_runtime::{HealthStatus, SystemServerConfig};
///
/// let config = SystemServerConfig::from_lookup(|var| match var {
///     "DYN_SYSTEM_PORT" => Some("0".into()),
///     "DYN_SYSTEM_STARTING_HEALTH_STATUS" => Some("ready".into()),
///     _ => None,
/// })?;
/// assert_eq!(config.port(), Some(0));
/// assert_eq!(config.host(), "0.0.0.0");
/// assert_eq!(config.health_path(), "/health");
/// assert_eq!(config.starting_health(), HealthStatus::Ready);
/// assert_eq!(config.limits().max_connections, 128);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemServerConfig {
    port: Port,
    host: String,
    routes: RoutePaths,
    starting_health: HealthStatus,
    health_endpoints: Vec<String>,
    health_checks: HealthCheckConfig,
    limits: ServerLimits,
    callback_threads: usize,
    openmetrics: bool,
}

/// The canary health checks' settings: whether they run, how long an endpoint stays idle
/// before it is probed, and how long a probe may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Whether endpoints with a health check are probed (`DYN_HEALTH_CHECK_ENABLED`).
    pub enabled: bool,
    /// Time without a successful request before a probe (`DYN_CANARY_WAIT_TIME`).
    pub canary_wait_time: Duration,
    /// Time a probe may take (`DYN_HEALTH_CHECK_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
}

impl Default for HealthCheckConfig {
    /// Off, with Dynamo's 10 s wait and 3 s timeout.
    fn default() -> Self {
        Self {
            enabled: false,
            canary_wait_time: DEFAULT_CANARY_WAIT_TIME,
            request_timeout: DEFAULT_HEALTH_CHECK_REQUEST_TIMEOUT,
        }
    }
}

impl Default for SystemServerConfig {
    /// The server off, and the defaults of the other settings.
    fn default() -> Self {
        Self {
            port: Port::Off,
            host: DEFAULT_HOST.into(),
            routes: RoutePaths::default(),
            starting_health: HealthStatus::NotReady,
            health_endpoints: Vec::new(),
            health_checks: HealthCheckConfig::default(),
            limits: ServerLimits::default(),
            callback_threads: DEFAULT_CALLBACK_THREADS,
            openmetrics: false,
        }
    }
}

impl SystemServerConfig {
    /// Reads the `DYN_SYSTEM_*` variables of the process environment.
    ///
    /// # Errors
    ///
    /// As [`SystemServerConfig::from_lookup`].
    pub fn from_env() -> Result<Self, MetricsError> {
        let mut choice = Choice::default();
        choice.read_env(&dynamo_exporter::env_var)?;
        Ok(choice.finish()?.config)
    }

    /// Reads the `DYN_SYSTEM_*` variables through `lookup`. Unset and empty variables take
    /// their defaults; values are trimmed.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidEnv`] naming the variable and its value: a port that is not an
    /// integer or is above 65535, a host with a port or that is neither an address nor a
    /// name, a route path that does not start with `/` (or holds spaces, `?` or `#`, or is
    /// `/metrics`), the path of another route, a starting health other than `ready` or
    /// `notready` (in any case), an endpoint list that is not a JSON list of names, a
    /// `DYN_SYSTEM_ENABLED` or `DYN_SYSTEM_OPENMETRICS` that is not a boolean, a timeout that is not a number of seconds above zero or is
    /// past its maximum, or a limit that is not a whole number above zero (or is past its
    /// maximum). [`SystemServerConfig::from_env`] also refuses a value that is not UTF-8.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        let mut choice = Choice::default();
        choice.read_env(&|var| Ok(lookup(var)))?;
        Ok(choice.finish()?.config)
    }

    /// The port: `None` when the server is off, `Some(0)` for a free port.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port.to_option()
    }

    /// The host to bind.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path of the readiness route.
    #[must_use]
    pub fn health_path(&self) -> &str {
        self.routes.get(Route::Health)
    }

    /// The path of the liveness route.
    #[must_use]
    pub fn live_path(&self) -> &str {
        self.routes.get(Route::Live)
    }

    /// The readiness reported until the application sets it.
    #[must_use]
    pub fn starting_health(&self) -> HealthStatus {
        self.starting_health
    }

    /// The endpoints whose readiness alone decides `/health`, by the name it shows (sorted);
    /// empty when the runtime's own readiness and every reporting endpoint's decide.
    #[must_use]
    pub fn use_endpoint_health_status(&self) -> &[String] {
        &self.health_endpoints
    }

    /// The canary health checks' settings.
    #[must_use]
    pub fn health_checks(&self) -> HealthCheckConfig {
        self.health_checks
    }

    /// The limits the server puts on its clients.
    #[must_use]
    pub fn limits(&self) -> ServerLimits {
        self.limits
    }

    /// Threads that run pre-scrape callbacks.
    #[must_use]
    pub fn callback_threads(&self) -> usize {
        self.callback_threads
    }

    /// Whether `/metrics` offers the OpenMetrics text format besides the Prometheus ones.
    #[must_use]
    pub fn openmetrics(&self) -> bool {
        self.openmetrics
    }

    /// `host:port`, with brackets around an IPv6 host, as messages show it.
    pub(super) fn address(&self, port: u16) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

/// Reads a variable: its value, `None` when unset, or an error (a value that is not UTF-8).
pub(crate) type Lookup = dyn Fn(&'static str) -> Result<Option<String>, SettingError> + Send + Sync;

/// The server settings a [`crate::RuntimeBuilder`] collects: an optional environment to read,
/// and settings given in code, which win over it.
#[derive(Default)]
pub(crate) struct ServerSettings {
    pub(crate) lookup: Option<Box<Lookup>>,
    pub(crate) port: Option<Port>,
    pub(crate) host: Option<String>,
    paths: [Option<String>; Route::ALL.len()],
    pub(crate) starting_health: Option<HealthStatus>,
    pub(crate) health_endpoints: Option<Vec<String>>,
    pub(crate) health_check_enabled: Option<bool>,
    pub(crate) canary_wait_time: Option<Duration>,
    pub(crate) health_check_request_timeout: Option<Duration>,
    pub(crate) header_read_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_pending_scrapes: Option<usize>,
    pub(crate) listen_backlog: Option<usize>,
    pub(crate) callback_threads: Option<usize>,
    pub(crate) openmetrics: Option<bool>,
}

/// The settings to use, and where the server listens if it runs.
pub(crate) struct Resolved {
    pub(crate) config: SystemServerConfig,
    pub(super) listen: Option<Listen>,
}

/// The port the server binds (`0` for any), and where it was set, for messages.
pub(super) struct Listen {
    pub(super) port: u16,
    pub(super) given: SettingSource,
}

impl ServerSettings {
    /// Gives the path of `route` in code.
    pub(crate) fn set_path(&mut self, route: Route, path: String) {
        self.paths[route as usize] = Some(path);
    }

    /// The settings to use: the environment's (if asked for), then those given in code.
    /// A bad value given in code is an [`MetricsError::InvalidSetting`] naming the builder
    /// method, never the variable.
    pub(crate) fn resolve(self) -> Result<Resolved, MetricsError> {
        let mut choice = Choice::default();
        if let Some(lookup) = &self.lookup {
            choice.read_env(lookup)?;
        }
        choice.apply(self)?;
        choice.finish()
    }
}

/// Settings being chosen: the defaults, then the environment's, then those given in code.
#[derive(Default)]
struct Choice {
    config: SystemServerConfig,
    routes: RouteChoice,
    /// The port and where it was set; none keeps the server off.
    port: Option<(Port, SettingSource)>,
}

impl Choice {
    /// Reads the variables of `lookup`; unset and blank ones keep what is chosen.
    fn read_env(
        &mut self,
        lookup: &dyn Fn(&'static str) -> Result<Option<String>, SettingError>,
    ) -> Result<(), MetricsError> {
        let read = |var: &'static str| -> Result<Option<String>, SettingError> {
            Ok(lookup(var)?
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty()))
        };
        if let Some(value) = read(PORT_VAR)? {
            let port = values::port(&value).map_err(|reason| invalid(PORT_VAR, &value, reason))?;
            self.port = Some((port, SettingSource::env(PORT_VAR, &value)));
        }
        let config = &mut self.config;
        if let Some(value) = read(HOST_VAR)? {
            host::check(&value, PORT_VAR).map_err(|reason| invalid(HOST_VAR, &value, reason))?;
            config.host = value;
        }
        for route in Route::ALL {
            if let Some(value) = read(route.var())? {
                let source = SettingSource::env(route.var(), &value);
                self.routes.set(route, value, source)?;
            }
        }
        if let Some(value) = read(STARTING_HEALTH_VAR)? {
            config.starting_health = value
                .parse()
                .map_err(|_| invalid(STARTING_HEALTH_VAR, &value, HealthStatus::EXPECTED))?;
        }
        if let Some(value) = read(USE_ENDPOINT_HEALTH_VAR)? {
            config.health_endpoints = values::endpoint_names(&value)
                .map_err(|reason| invalid(USE_ENDPOINT_HEALTH_VAR, &value, reason))?;
        }
        if let Some(value) = read(ENABLED_VAR)? {
            values::boolean(&value).map_err(|reason| invalid(ENABLED_VAR, &value, reason))?;
        }
        if let Some(value) = read(OPENMETRICS_VAR)? {
            config.openmetrics = values::boolean(&value)
                .map_err(|reason| invalid(OPENMETRICS_VAR, &value, reason))?;
        }
        let checks = &mut config.health_checks;
        if let Some(value) = read(HEALTH_CHECK_ENABLED_VAR)? {
            checks.enabled = values::boolean(&value)
                .map_err(|reason| invalid(HEALTH_CHECK_ENABLED_VAR, &value, reason))?;
        }
        let check_times = [
            (
                CANARY_WAIT_TIME_VAR,
                &mut checks.canary_wait_time,
                MAX_CANARY_WAIT_TIME,
            ),
            (
                HEALTH_CHECK_REQUEST_TIMEOUT_VAR,
                &mut checks.request_timeout,
                MAX_HEALTH_CHECK_REQUEST_TIMEOUT,
            ),
        ];
        for (var, slot, max) in check_times {
            if let Some(value) = read(var)? {
                *slot =
                    values::seconds(&value, max).map_err(|reason| invalid(var, &value, reason))?;
            }
        }
        let limits = &mut config.limits;
        let timeouts = [
            (
                HEADER_TIMEOUT_VAR,
                &mut limits.header_read_timeout,
                MAX_HEADER_TIMEOUT,
            ),
            (IDLE_TIMEOUT_VAR, &mut limits.idle_timeout, MAX_IDLE_TIMEOUT),
            (
                WRITE_TIMEOUT_VAR,
                &mut limits.write_timeout,
                MAX_WRITE_TIMEOUT,
            ),
        ];
        for (var, slot, max) in timeouts {
            if let Some(value) = read(var)? {
                *slot =
                    values::seconds(&value, max).map_err(|reason| invalid(var, &value, reason))?;
            }
        }
        let counts = [
            (MAX_CONNECTIONS_VAR, &mut limits.max_connections, usize::MAX),
            (
                MAX_PENDING_SCRAPES_VAR,
                &mut limits.max_pending_scrapes,
                usize::MAX,
            ),
            (LISTEN_BACKLOG_VAR, &mut limits.listen_backlog, usize::MAX),
            (
                CALLBACK_THREADS_VAR,
                &mut config.callback_threads,
                MAX_CALLBACK_THREADS,
            ),
        ];
        for (var, slot, max) in counts {
            if let Some(value) = read(var)? {
                *slot =
                    values::count(&value, max).map_err(|reason| invalid(var, &value, reason))?;
            }
        }
        Ok(())
    }

    /// Takes the settings given in code, over those chosen so far.
    fn apply(&mut self, given: ServerSettings) -> Result<(), MetricsError> {
        if let Some(port) = given.port {
            let source = SettingSource::code("RuntimeBuilder::system_port", &port.to_option());
            self.port = Some((port, source));
        }
        let config = &mut self.config;
        if let Some(host) = given.host {
            host::check(&host, "RuntimeBuilder::system_port")
                .map_err(|reason| in_code("RuntimeBuilder::system_host", &host, reason))?;
            config.host = host;
        }
        for (route, path) in Route::ALL.into_iter().zip(given.paths) {
            if let Some(path) = path {
                let source = SettingSource::code(route.method(), &path);
                self.routes.set(route, path, source)?;
            }
        }
        if let Some(status) = given.starting_health {
            config.starting_health = status;
        }
        if let Some(on) = given.openmetrics {
            config.openmetrics = on;
        }
        let checks = &mut config.health_checks;
        if let Some(enabled) = given.health_check_enabled {
            checks.enabled = enabled;
        }
        let check_times = [
            (
                "RuntimeBuilder::canary_wait_time",
                given.canary_wait_time,
                &mut checks.canary_wait_time,
                MAX_CANARY_WAIT_TIME,
            ),
            (
                "RuntimeBuilder::health_check_request_timeout",
                given.health_check_request_timeout,
                &mut checks.request_timeout,
                MAX_HEALTH_CHECK_REQUEST_TIMEOUT,
            ),
        ];
        for (setting, duration, slot, max) in check_times {
            if let Some(duration) = duration {
                *slot = values::timeout_within(duration, max)
                    .map_err(|reason| in_code(setting, &duration, reason))?;
            }
        }
        if let Some(names) = given.health_endpoints {
            config.health_endpoints = values::sanitized_endpoint_names(names.iter().cloned())
                .map_err(|reason| {
                    in_code("RuntimeBuilder::use_endpoint_health_status", &names, reason)
                })?;
        }
        let limits = &mut config.limits;
        let timeouts = [
            (
                "RuntimeBuilder::header_read_timeout",
                given.header_read_timeout,
                &mut limits.header_read_timeout,
                MAX_HEADER_TIMEOUT,
            ),
            (
                "RuntimeBuilder::idle_timeout",
                given.idle_timeout,
                &mut limits.idle_timeout,
                MAX_IDLE_TIMEOUT,
            ),
            (
                "RuntimeBuilder::write_timeout",
                given.write_timeout,
                &mut limits.write_timeout,
                MAX_WRITE_TIMEOUT,
            ),
        ];
        for (setting, duration, slot, max) in timeouts {
            if let Some(duration) = duration {
                *slot = values::timeout_within(duration, max)
                    .map_err(|reason| in_code(setting, &duration, reason))?;
            }
        }
        let counts = [
            (
                "RuntimeBuilder::max_connections",
                given.max_connections,
                &mut limits.max_connections,
                usize::MAX,
            ),
            (
                "RuntimeBuilder::max_pending_scrapes",
                given.max_pending_scrapes,
                &mut limits.max_pending_scrapes,
                usize::MAX,
            ),
            (
                "RuntimeBuilder::listen_backlog",
                given.listen_backlog,
                &mut limits.listen_backlog,
                usize::MAX,
            ),
            (
                "RuntimeBuilder::callback_threads",
                given.callback_threads,
                &mut config.callback_threads,
                MAX_CALLBACK_THREADS,
            ),
        ];
        for (setting, count, slot, max) in counts {
            if let Some(count) = count {
                *slot = values::count_within(count, max)
                    .map_err(|reason| in_code(setting, &count, reason))?;
            }
        }
        Ok(())
    }

    /// The settings chosen, once they fit together.
    fn finish(self) -> Result<Resolved, MetricsError> {
        let mut config = self.config;
        config.routes = self.routes.finish()?;
        let (port, listen) = match self.port {
            None => (Port::Off, None),
            Some((port, given)) => {
                let listen = port.to_option().map(|port| Listen { port, given });
                (port, listen)
            }
        };
        config.port = port;
        Ok(Resolved { config, listen })
    }
}

/// A bad value read from the variable `var`.
fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> MetricsError {
    SettingSource::env(var, value).invalid(reason).into()
}

/// A bad value given in code to the builder method `setting`.
fn in_code(
    setting: &'static str,
    value: &dyn fmt::Debug,
    reason: impl Into<String>,
) -> MetricsError {
    SettingSource::code(setting, value).invalid(reason).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_ipv6_hosts() {
        let mut config = SystemServerConfig::default();
        assert_eq!(config.address(1), "0.0.0.0:1");
        config.host = "::1".into();
        assert_eq!(config.address(1), "[::1]:1");
        config.host = "[::1]".into();
        assert_eq!(config.address(1), "[::1]:1");
    }
}
