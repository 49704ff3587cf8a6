//! The system status server's settings, read from `DYN_SYSTEM_*`, and its start.
//!
//! The server itself (routes, thread, shutdown) lives in `dynamo-exporter`; this module turns
//! the runtime's settings into one and points its hooks at the runtime.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dynamo_exporter::{
    DEFAULT_HEALTH_PATH, DEFAULT_LIVE_PATH, Health, ServerLimits, StatusServer, check_route_path,
    fork,
};
use parking_lot::Mutex;

use crate::MetricsError;
use crate::hierarchy::Path;
use crate::runtime::RuntimeInner;

mod host;
mod values;

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
/// `DYN_SYSTEM_HEADER_TIMEOUT_SECS`: seconds a client has to send a request head (default 10).
pub const HEADER_TIMEOUT_VAR: &str = "DYN_SYSTEM_HEADER_TIMEOUT_SECS";
/// `DYN_SYSTEM_IDLE_TIMEOUT_SECS`: seconds a keep-alive connection may stay idle (default 360).
pub const IDLE_TIMEOUT_VAR: &str = "DYN_SYSTEM_IDLE_TIMEOUT_SECS";
/// `DYN_SYSTEM_WRITE_TIMEOUT_SECS`: seconds a response may make no progress (default 30).
pub const WRITE_TIMEOUT_VAR: &str = "DYN_SYSTEM_WRITE_TIMEOUT_SECS";
/// `DYN_SYSTEM_MAX_CONNECTIONS`: open connections at most (default 128).
pub const MAX_CONNECTIONS_VAR: &str = "DYN_SYSTEM_MAX_CONNECTIONS";
/// `DYN_SYSTEM_MAX_PENDING_SCRAPES`: `/metrics` requests waiting for a render at most; more
/// are answered `503` (default 64).
pub const MAX_PENDING_SCRAPES_VAR: &str = "DYN_SYSTEM_MAX_PENDING_SCRAPES";
/// `DYN_SYSTEM_CALLBACK_THREADS`: threads that run pre-scrape callbacks (default 4).
pub const CALLBACK_THREADS_VAR: &str = "DYN_SYSTEM_CALLBACK_THREADS";

/// The default bind address.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// The default number of threads that run pre-scrape callbacks.
pub const DEFAULT_CALLBACK_THREADS: usize = 4;

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
/// assert_eq!(config.limits().max_connections, 128);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemServerConfig {
    port: Option<u16>,
    host: String,
    health_path: String,
    live_path: String,
    starting_health: HealthStatus,
    limits: ServerLimits,
    callback_threads: usize,
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
            limits: ServerLimits::default(),
            callback_threads: DEFAULT_CALLBACK_THREADS,
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
    /// integer or is above 65535, a host with a port or that is neither an address nor a
    /// name, a route path that does not start with `/` (or holds spaces, `?` or `#`, or is
    /// `/metrics`), the same path for both routes, a starting health other than `ready` or
    /// `notready`, a timeout that is not a number of seconds above zero, or a limit that is
    /// not a whole number above zero.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MetricsError> {
        let read = |var: &str| {
            lookup(var)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        let mut config = Self::default();
        if let Some(value) = read(PORT_VAR) {
            config.port =
                values::port(&value).map_err(|reason| invalid(PORT_VAR, &value, reason))?;
        }
        if let Some(value) = read(HOST_VAR) {
            host::check(&value, PORT_VAR).map_err(|reason| invalid(HOST_VAR, &value, reason))?;
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
        let limits = &mut config.limits;
        let timeouts = [
            (HEADER_TIMEOUT_VAR, &mut limits.header_read_timeout),
            (IDLE_TIMEOUT_VAR, &mut limits.idle_timeout),
            (WRITE_TIMEOUT_VAR, &mut limits.write_timeout),
        ];
        for (var, slot) in timeouts {
            if let Some(value) = read(var) {
                *slot = values::seconds(&value).map_err(|reason| invalid(var, &value, reason))?;
            }
        }
        let counts = [
            (MAX_CONNECTIONS_VAR, &mut limits.max_connections),
            (MAX_PENDING_SCRAPES_VAR, &mut limits.max_pending_scrapes),
            (CALLBACK_THREADS_VAR, &mut config.callback_threads),
        ];
        for (var, slot) in counts {
            if let Some(value) = read(var) {
                *slot = values::count(&value).map_err(|reason| invalid(var, &value, reason))?;
            }
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

    /// `host:port`, with brackets around an IPv6 host, as messages show it.
    fn address(&self, port: u16) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
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
    pub(crate) header_read_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_pending_scrapes: Option<usize>,
    pub(crate) callback_threads: Option<usize>,
}

/// The settings to use, and where the port came from (for messages).
pub(crate) struct Resolved {
    pub(crate) config: SystemServerConfig,
    port_source: &'static str,
}

impl ServerSettings {
    /// The settings to use: the environment's (if asked for), then those given in code.
    /// A bad value given in code is an [`MetricsError::InvalidSetting`] naming the builder
    /// method, never the variable.
    pub(crate) fn resolve(self) -> Result<Resolved, MetricsError> {
        let mut config = match &self.lookup {
            Some(lookup) => SystemServerConfig::from_lookup(lookup)?,
            None => SystemServerConfig::default(),
        };
        let mut port_source = PORT_VAR;
        if let Some(port) = self.port {
            config.port = port;
            port_source = "RuntimeBuilder::system_port";
        }
        if let Some(host) = self.host {
            host::check(&host, "RuntimeBuilder::system_port")
                .map_err(|reason| in_code("RuntimeBuilder::system_host", &host, reason))?;
            config.host = host;
        }
        if let Some(path) = self.health_path {
            check_route_path(&path)
                .map_err(|reason| in_code("RuntimeBuilder::health_path", &path, reason))?;
            config.health_path = path;
        }
        if let Some(path) = self.live_path {
            check_route_path(&path)
                .map_err(|reason| in_code("RuntimeBuilder::live_path", &path, reason))?;
            if path == config.health_path {
                return Err(in_code(
                    "RuntimeBuilder::live_path",
                    &path,
                    "it is the health path too",
                ));
            }
            config.live_path = path;
        }
        if config.health_path == config.live_path {
            return Err(in_code(
                "RuntimeBuilder::health_path",
                &config.health_path,
                "it is the live path too",
            ));
        }
        if let Some(status) = self.starting_health {
            config.starting_health = status;
        }
        let limits = &mut config.limits;
        let timeouts = [
            (
                "RuntimeBuilder::header_read_timeout",
                self.header_read_timeout,
                &mut limits.header_read_timeout,
            ),
            (
                "RuntimeBuilder::idle_timeout",
                self.idle_timeout,
                &mut limits.idle_timeout,
            ),
            (
                "RuntimeBuilder::write_timeout",
                self.write_timeout,
                &mut limits.write_timeout,
            ),
        ];
        for (setting, given, slot) in timeouts {
            if let Some(duration) = given {
                *slot = values::duration_above_zero(duration)
                    .map_err(|reason| in_code(setting, &duration, reason))?;
            }
        }
        let counts = [
            (
                "RuntimeBuilder::max_connections",
                self.max_connections,
                &mut limits.max_connections,
            ),
            (
                "RuntimeBuilder::max_pending_scrapes",
                self.max_pending_scrapes,
                &mut limits.max_pending_scrapes,
            ),
            (
                "RuntimeBuilder::callback_threads",
                self.callback_threads,
                &mut config.callback_threads,
            ),
        ];
        for (setting, given, slot) in counts {
            if let Some(count) = given {
                *slot = values::count_above_zero(count)
                    .map_err(|reason| in_code(setting, &count, reason))?;
            }
        }
        Ok(Resolved {
            config,
            port_source,
        })
    }
}

/// A bad value given in code; `value` is shown as Rust's `Debug` shows it.
fn in_code(
    setting: &'static str,
    value: &dyn fmt::Debug,
    reason: impl Into<String>,
) -> MetricsError {
    MetricsError::InvalidSetting {
        setting,
        value: format!("{value:?}"),
        reason: reason.into(),
    }
}

/// The runtime's side of the server: readiness, the endpoints' readiness, and the server
/// while it runs.
pub(crate) struct SystemState {
    ready: AtomicBool,
    /// Readiness each endpoint reported, by endpoint name and place.
    endpoints: Mutex<BTreeMap<(String, usize), HealthStatus>>,
    server: Mutex<Option<StatusServer>>,
}

impl SystemState {
    pub(crate) fn new(starting: HealthStatus) -> Self {
        Self {
            ready: AtomicBool::new(starting == HealthStatus::Ready),
            endpoints: Mutex::new(BTreeMap::new()),
            server: Mutex::new(None),
        }
    }

    /// The runtime's own readiness, as the application set it.
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

    /// Records the readiness of the endpoint `name` at place `id`.
    pub(crate) fn set_endpoint_health(&self, name: &str, id: usize, status: HealthStatus) {
        let _section = fork::enter();
        self.endpoints.lock().insert((name.to_string(), id), status);
    }

    /// The readiness the endpoint at place `id` reported, if it did.
    pub(crate) fn endpoint_health(&self, name: &str, id: usize) -> Option<HealthStatus> {
        let _section = fork::enter();
        self.endpoints.lock().get(&(name.to_string(), id)).copied()
    }

    /// What the readiness route reports: ready when the runtime and every endpoint that
    /// reported are ready; endpoints by name (one that several places share is ready when
    /// all of them are).
    pub(crate) fn report(&self, uptime: Duration) -> Health {
        let mut endpoints: Vec<(String, bool)> = Vec::new();
        {
            let _section = fork::enter();
            for ((name, _), status) in self.endpoints.lock().iter() {
                let ready = *status == HealthStatus::Ready;
                match endpoints.last_mut() {
                    Some((last, all)) if last == name => *all &= ready,
                    _ => endpoints.push((name.clone(), ready)),
                }
            }
        }
        Health {
            ready: self.health() == HealthStatus::Ready && endpoints.iter().all(|(_, r)| *r),
            uptime,
            endpoints,
        }
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        let _section = fork::enter();
        self.server
            .lock()
            .as_ref()
            .filter(|server| server.serves_this_process())
            .map(StatusServer::local_addr)
    }

    /// Stops the server, if it runs, and waits for its thread (in the process that started
    /// it; a forked child only forgets it).
    pub(crate) fn shutdown(&self) {
        let server = {
            let _section = fork::enter();
            self.server.lock().take()
        };
        if let Some(server) = server {
            server.shutdown();
        }
    }
}

/// Starts the server `resolved` asks for, serving `runtime`, and keeps it in the runtime.
///
/// The server's hooks hold the runtime weakly, so dropping the last runtime handle stops it.
pub(crate) fn start(resolved: &Resolved, runtime: &Arc<RuntimeInner>) -> Result<(), MetricsError> {
    let config = &resolved.config;
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
        Some(runtime) => runtime.system.report(runtime.uptime()),
        None => Health::default(),
    });
    let address = config.address(port);
    let server_start = |source: std::io::Error| MetricsError::ServerStart {
        var: resolved.port_source,
        value: port.to_string(),
        addr: address.clone(),
        source,
    };
    let addresses = host::addresses(&config.host, port).map_err(server_start)?;
    let server = StatusServer::builder(scrape, health)
        .health_path(config.health_path.as_str())
        .live_path(config.live_path.as_str())
        .limits(config.limits)
        .start(&addresses[..])
        .map_err(server_start)?;
    let _section = fork::enter();
    *runtime.system.server.lock() = Some(server);
    Ok(())
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

    #[test]
    fn readiness_needs_the_runtime_and_every_endpoint() {
        let state = SystemState::new(HealthStatus::Ready);
        assert!(state.report(Duration::ZERO).ready);
        state.set_endpoint_health("generate", 1, HealthStatus::Ready);
        state.set_endpoint_health("generate", 2, HealthStatus::NotReady);
        state.set_endpoint_health("clear", 3, HealthStatus::Ready);
        let report = state.report(Duration::from_secs(2));
        assert!(!report.ready);
        assert_eq!(
            report.endpoints,
            [("clear".to_string(), true), ("generate".to_string(), false)]
        );
        state.set_endpoint_health("generate", 2, HealthStatus::Ready);
        assert!(state.report(Duration::ZERO).ready);
        state.set_health(HealthStatus::NotReady);
        assert!(!state.report(Duration::ZERO).ready);
    }
}
