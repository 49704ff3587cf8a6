//! The system status server's settings, read from `DYN_SYSTEM_*`, and its start.
//!
//! The server itself (routes, thread, shutdown) lives in `dynamo-exporter`; this module turns
//! the runtime's settings into one and points its hooks at the runtime.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use dynamo_exporter::{
    DEFAULT_HEALTH_PATH, DEFAULT_LIVE_PATH, Health, StatusServer, check_route_path,
};
use parking_lot::Mutex;

use crate::MetricsError;
use crate::hierarchy::Path;
use crate::runtime::RuntimeInner;

/// `DYN_SYSTEM_PORT`: unset, empty or negative turns the server off; `0` picks a free port.
pub const PORT_VAR: &str = "DYN_SYSTEM_PORT";
/// `DYN_SYSTEM_HOST`: the address to bind (default `0.0.0.0`).
pub const HOST_VAR: &str = "DYN_SYSTEM_HOST";
/// `DYN_SYSTEM_HEALTH_PATH`: the path of the readiness route (default `/health`).
pub const HEALTH_PATH_VAR: &str = "DYN_SYSTEM_HEALTH_PATH";
/// `DYN_SYSTEM_LIVE_PATH`: the path of the liveness route (default `/live`).
pub const LIVE_PATH_VAR: &str = "DYN_SYSTEM_LIVE_PATH";
/// `DYN_SYSTEM_STARTING_HEALTH_STATUS`: `ready` or `notready` (default `notready`).
pub const STARTING_HEALTH_VAR: &str = "DYN_SYSTEM_STARTING_HEALTH_STATUS";

/// The default bind address.
pub const DEFAULT_HOST: &str = "0.0.0.0";

/// Whether the application is ready for traffic, as the readiness route reports it.
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
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemServerConfig {
    port: Option<u16>,
    host: String,
    health_path: String,
    live_path: String,
    starting_health: HealthStatus,
}

impl Default for SystemServerConfig {
    /// The server off, and the defaults of the other settings.
    fn default() -> Self {
        Self {
            port: None,
            host: DEFAULT_HOST.into(),
            health_path: DEFAULT_HEALTH_PATH.into(),
            live_path: DEFAULT_LIVE_PATH.into(),
            starting_health: HealthStatus::NotReady,
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
        Self::from_lookup(|var| {
            std::env::var_os(var).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// Reads the `DYN_SYSTEM_*` variables through `lookup`. Unset and empty variables take
    /// their defaults; values are trimmed.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidEnv`] naming the variable and its value: a port that is not an
    /// integer or is above 65535, a route path that does not start with `/` (or holds spaces,
    /// `?` or `#`, or is `/metrics`), the same path for both routes, or a starting health
    /// other than `ready` or `notready`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        let read = |var: &str| {
            lookup(var)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let mut config = Self::default();
        if let Some(value) = read(PORT_VAR) {
            config.port = parse_port(&value).map_err(|reason| invalid(PORT_VAR, &value, reason))?;
        }
        if let Some(value) = read(HOST_VAR) {
            config.host = value;
        }
        if let Some(value) = read(HEALTH_PATH_VAR) {
            check_route_path(&value).map_err(|reason| invalid(HEALTH_PATH_VAR, &value, reason))?;
            config.health_path = value;
        }
        if let Some(value) = read(LIVE_PATH_VAR) {
            check_route_path(&value).map_err(|reason| invalid(LIVE_PATH_VAR, &value, reason))?;
            if value == config.health_path {
                return Err(invalid(LIVE_PATH_VAR, &value, "it is the health path too"));
            }
            config.live_path = value;
        }
        if let Some(value) = read(STARTING_HEALTH_VAR) {
            config.starting_health = if value.eq_ignore_ascii_case("ready") {
                HealthStatus::Ready
            } else if value.eq_ignore_ascii_case("notready") {
                HealthStatus::NotReady
            } else {
                return Err(invalid(
                    STARTING_HEALTH_VAR,
                    &value,
                    "expected `ready` or `notready`",
                ));
            };
        }
        Ok(config)
    }

    /// The port: `None` when the server is off, `Some(0)` for a free port.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The host to bind.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path of the readiness route.
    #[must_use]
    pub fn health_path(&self) -> &str {
        &self.health_path
    }

    /// The path of the liveness route.
    #[must_use]
    pub fn live_path(&self) -> &str {
        &self.live_path
    }

    /// The readiness reported until the application sets it.
    #[must_use]
    pub fn starting_health(&self) -> HealthStatus {
        self.starting_health
    }

    /// `host:port`, with brackets around an IPv6 host.
    fn address(&self, port: u16) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

/// `None` turns the server off.
fn parse_port(value: &str) -> Result<Option<u16>, String> {
    let expected = "expected a port from 0 (any free port) to 65535, or a negative number to \
                    turn the system status server off";
    if let Some(digits) = value.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        return Err(expected.into());
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected.into());
    }
    value
        .parse::<u16>()
        .map(Some)
        .map_err(|_| expected.to_string())
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidEnv {
        var,
        value: value.into(),
        reason: reason.into(),
    }
}

type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The server settings a [`crate::RuntimeBuilder`] collects: an optional environment to read,
/// and settings given in code, which win over it.
#[derive(Default)]
pub(crate) struct ServerSettings {
    pub(crate) lookup: Option<Box<Lookup>>,
    pub(crate) port: Option<Option<u16>>,
    pub(crate) host: Option<String>,
    pub(crate) health_path: Option<String>,
    pub(crate) live_path: Option<String>,
    pub(crate) starting_health: Option<HealthStatus>,
}

impl ServerSettings {
    /// The settings to use: the environment's (if asked for), then those given in code.
    pub(crate) fn resolve(self) -> Result<SystemServerConfig, MetricsError> {
        let mut config = match &self.lookup {
            Some(lookup) => SystemServerConfig::from_lookup(lookup)?,
            None => SystemServerConfig::default(),
        };
        if let Some(port) = self.port {
            config.port = port;
        }
        if let Some(host) = self.host {
            config.host = host;
        }
        if let Some(path) = self.health_path {
            check_route_path(&path).map_err(|reason| invalid(HEALTH_PATH_VAR, &path, reason))?;
            config.health_path = path;
        }
        if let Some(path) = self.live_path {
            check_route_path(&path).map_err(|reason| invalid(LIVE_PATH_VAR, &path, reason))?;
            config.live_path = path;
        }
        if config.health_path == config.live_path {
            return Err(invalid(
                LIVE_PATH_VAR,
                &config.live_path,
                "it is the health path too",
            ));
        }
        if let Some(status) = self.starting_health {
            config.starting_health = status;
        }
        Ok(config)
    }
}

/// The runtime's side of the server: readiness, and the server while it runs.
pub(crate) struct SystemState {
    ready: AtomicBool,
    server: Mutex<Option<StatusServer>>,
}

impl SystemState {
    pub(crate) fn new(starting: HealthStatus) -> Self {
        Self {
            ready: AtomicBool::new(starting == HealthStatus::Ready),
            server: Mutex::new(None),
        }
    }

    pub(crate) fn health(&self) -> HealthStatus {
        if self.ready.load(Ordering::Acquire) {
            HealthStatus::Ready
        } else {
            HealthStatus::NotReady
        }
    }

    pub(crate) fn set_health(&self, status: HealthStatus) {
        self.ready
            .store(status == HealthStatus::Ready, Ordering::Release);
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.server.lock().as_ref().map(StatusServer::local_addr)
    }

    /// Stops the server, if it runs, and waits for its thread.
    pub(crate) fn shutdown(&self) {
        let server = self.server.lock().take();
        if let Some(server) = server {
            server.shutdown();
        }
    }
}

/// Starts the server `config` asks for, serving `runtime`, and keeps it in the runtime.
///
/// The server's hooks hold the runtime weakly, so dropping the last runtime handle stops it.
pub(crate) fn start(
    config: &SystemServerConfig,
    runtime: &Arc<RuntimeInner>,
) -> Result<(), MetricsError> {
    let Some(port) = config.port else {
        return Ok(());
    };
    let scrape_target: Weak<RuntimeInner> = Arc::downgrade(runtime);
    let health_target = Weak::clone(&scrape_target);
    let scrape = Arc::new(move || {
        scrape_target
            .upgrade()
            .map(|runtime| runtime.scrape(&Path::default()))
            .unwrap_or_default()
    });
    let health = Arc::new(move || match health_target.upgrade() {
        Some(runtime) => Health {
            ready: runtime.system.health() == HealthStatus::Ready,
            uptime: runtime.uptime(),
        },
        None => Health {
            ready: false,
            uptime: std::time::Duration::ZERO,
        },
    });
    let address = config.address(port);
    let server = StatusServer::builder(scrape, health)
        .health_path(config.health_path.as_str())
        .live_path(config.live_path.as_str())
        .start(address.as_str())
        .map_err(|source| MetricsError::ServerStart {
            var: PORT_VAR,
            value: port.to_string(),
            addr: address,
            source,
        })?;
    *runtime.system.server.lock() = Some(server);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports() {
        assert_eq!(parse_port("0"), Ok(Some(0)));
        assert_eq!(parse_port("8081"), Ok(Some(8081)));
        assert_eq!(parse_port("65535"), Ok(Some(65535)));
        assert_eq!(parse_port("-1"), Ok(None));
        assert_eq!(parse_port("-99999999999999999999999"), Ok(None));
        for bad in [
            "65536", "70000", "abc", "+1", "1.5", "-", "-x", "0x50", "8 0",
        ] {
            assert!(parse_port(bad).is_err(), "{bad:?} should be refused");
        }
    }

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
