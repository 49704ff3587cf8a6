//! The system status server's settings, read from `DYN_SYSTEM_*`, and its start.
//!
//! The server itself (routes, thread, shutdown) lives in `dynamo-exporter`; this module turns
//! the runtime's settings into one and points its hooks at the runtime.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dynamo_exporter::exposition::Encoder;
use dynamo_exporter::{Format, Health, StatusServer, fork};
use parking_lot::Mutex;

use crate::MetricsError;
use crate::runtime::RuntimeInner;

mod config;
mod health;
mod host;
mod routes;
pub(crate) mod values;

pub use config::{HealthCheckConfig, SystemServerConfig};
pub(crate) use config::{Lookup, Resolved, ServerSettings};
pub use health::HealthStatus;
pub(crate) use routes::Route;
pub(crate) use values::Port;

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
/// `DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS`: a JSON list of endpoint names (`["generate"]`);
/// when set, `/health` is ready exactly when every listed endpoint is.
pub const USE_ENDPOINT_HEALTH_VAR: &str = "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS";
/// `DYN_SYSTEM_ENABLED`: a boolean Dynamo no longer uses (`DYN_SYSTEM_PORT` alone turns the
/// server on); read only to refuse a value that is not a boolean.
pub const ENABLED_VAR: &str = "DYN_SYSTEM_ENABLED";
/// `DYN_HEALTH_CHECK_ENABLED`: a boolean; when true, endpoints with a health check
/// ([`crate::Endpoint::register_health_check`]) are probed once idle (default false).
pub const HEALTH_CHECK_ENABLED_VAR: &str = "DYN_HEALTH_CHECK_ENABLED";
/// `DYN_CANARY_WAIT_TIME`: seconds without a successful request before an endpoint is probed
/// (default 10).
pub const CANARY_WAIT_TIME_VAR: &str = "DYN_CANARY_WAIT_TIME";
/// `DYN_HEALTH_CHECK_REQUEST_TIMEOUT`: seconds a probe may take before the endpoint turns not
/// ready (default 3).
pub const HEALTH_CHECK_REQUEST_TIMEOUT_VAR: &str = "DYN_HEALTH_CHECK_REQUEST_TIMEOUT";
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
/// `DYN_SYSTEM_LISTEN_BACKLOG`: connections the kernel queues for the server past those it
/// serves (default 1024).
pub const LISTEN_BACKLOG_VAR: &str = "DYN_SYSTEM_LISTEN_BACKLOG";
/// `DYN_SYSTEM_CALLBACK_THREADS`: threads that run pre-scrape callbacks (default 4, at most
/// [`MAX_CALLBACK_THREADS`]).
pub const CALLBACK_THREADS_VAR: &str = "DYN_SYSTEM_CALLBACK_THREADS";
/// `DYN_SYSTEM_OPENMETRICS`: a boolean; when true, `/metrics` also offers the OpenMetrics
/// text format to a client whose `Accept` prefers it (default false).
pub const OPENMETRICS_VAR: &str = "DYN_SYSTEM_OPENMETRICS";

/// The longest [`HEADER_TIMEOUT_VAR`]: five minutes to send a request head.
pub const MAX_HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest [`IDLE_TIMEOUT_VAR`]: an hour, well past Prometheus' own 5-minute idle timeout
/// and any scrape interval.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The longest [`WRITE_TIMEOUT_VAR`]: five minutes without progress.
pub const MAX_WRITE_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest [`CANARY_WAIT_TIME_VAR`]: an hour.
pub const MAX_CANARY_WAIT_TIME: Duration = Duration::from_secs(3600);
/// The longest [`HEALTH_CHECK_REQUEST_TIMEOUT_VAR`]: five minutes.
pub const MAX_HEALTH_CHECK_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// The default [`CANARY_WAIT_TIME_VAR`], as in Dynamo.
pub const DEFAULT_CANARY_WAIT_TIME: Duration = Duration::from_secs(10);
/// The default [`HEALTH_CHECK_REQUEST_TIMEOUT_VAR`], as in Dynamo.
pub const DEFAULT_HEALTH_CHECK_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The default bind address.
pub const DEFAULT_HOST: &str = "0.0.0.0";
/// The default number of threads that run pre-scrape callbacks.
pub const DEFAULT_CALLBACK_THREADS: usize = 4;
/// The most threads that run pre-scrape callbacks. Threads of callbacks stuck past the
/// callback timeout are replaced, up to four times this many in all: 256 threads at most.
pub const MAX_CALLBACK_THREADS: usize = 64;

/// The runtime's side of the server: readiness, the endpoints' readiness, and the server
/// while it runs.
pub(crate) struct SystemState {
    ready: AtomicBool,
    /// The endpoints whose readiness alone decides, when any are listed
    /// (`DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS`).
    required: Vec<String>,
    /// Readiness each endpoint reported, by endpoint name and place.
    endpoints: Mutex<BTreeMap<(String, usize), HealthStatus>>,
    server: Mutex<Option<StatusServer>>,
}

impl SystemState {
    pub(crate) fn new(starting: HealthStatus, required: Vec<String>) -> Self {
        Self {
            ready: AtomicBool::new(starting == HealthStatus::Ready),
            required,
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

    /// What the readiness route reports, endpoints by name (one that several places share is
    /// ready when all of them are). With required endpoints, ready when each of them has
    /// reported and is ready, and they are listed even before they report; else ready when
    /// the runtime and every endpoint that reported are ready.
    pub(crate) fn report(&self, uptime: Duration) -> Health {
        let mut endpoints: BTreeMap<String, bool> = self
            .required
            .iter()
            .map(|name| (name.clone(), false))
            .collect();
        let mut reported = Vec::new();
        {
            let _section = fork::enter();
            for ((name, _), status) in self.endpoints.lock().iter() {
                let ready = *status == HealthStatus::Ready;
                match reported.last_mut() {
                    Some((last, all)) if last == name => *all &= ready,
                    _ => reported.push((name.clone(), ready)),
                }
            }
        }
        endpoints.extend(reported);
        let ready = if self.required.is_empty() {
            self.health() == HealthStatus::Ready && endpoints.values().all(|ready| *ready)
        } else {
            self.required.iter().all(|name| endpoints[name])
        };
        Health {
            ready,
            uptime,
            endpoints: endpoints.into_iter().collect(),
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
    let Some(listen) = &resolved.listen else {
        return Ok(());
    };
    let port = listen.port;
    let scrape_target: Weak<RuntimeInner> = Arc::downgrade(runtime);
    let health_target = Weak::clone(&scrape_target);
    let scrape = Arc::new(move |encoder: &mut dyn Encoder| {
        if let Some(runtime) = scrape_target.upgrade() {
            runtime.scrape(&runtime.root, encoder);
        }
    });
    let health = Arc::new(move || match health_target.upgrade() {
        Some(runtime) => runtime.system.report(runtime.uptime()),
        None => Health::default(),
    });
    let address = config.address(port);
    let server_start = |source: std::io::Error| MetricsError::ServerStart {
        port: listen.given.clone(),
        addr: address.clone(),
        source,
    };
    let addresses = host::addresses(config.host(), port).map_err(server_start)?;
    let server = StatusServer::builder(scrape, health)
        .health_path(config.health_path())
        .live_path(config.live_path())
        .limits(config.limits())
        .formats(Format::offered(config.openmetrics()))
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
    fn readiness_needs_the_runtime_and_every_endpoint() {
        let state = SystemState::new(HealthStatus::Ready, Vec::new());
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

    #[test]
    fn required_endpoints_alone_decide_and_are_listed_before_they_report() {
        let state = SystemState::new(HealthStatus::NotReady, vec!["generate".into()]);
        let report = state.report(Duration::ZERO);
        assert!(!report.ready);
        assert_eq!(report.endpoints, [("generate".to_string(), false)]);
        state.set_endpoint_health("clear", 1, HealthStatus::NotReady);
        state.set_endpoint_health("generate", 2, HealthStatus::Ready);
        let report = state.report(Duration::ZERO);
        assert!(
            report.ready,
            "the runtime and unlisted endpoints do not count"
        );
        assert_eq!(
            report.endpoints,
            [("clear".to_string(), false), ("generate".to_string(), true)]
        );
        state.set_endpoint_health("generate", 3, HealthStatus::NotReady);
        assert!(!state.report(Duration::ZERO).ready);
    }
}
