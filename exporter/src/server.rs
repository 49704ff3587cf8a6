//! The status server: `/metrics`, readiness and liveness over HTTP/1.1, on a thread of its own.
//!
//! The server owns a thread and a single-threaded tokio runtime, so it serves the same way
//! whether the application is synchronous, async on its own runtime, or an embedding
//! interpreter. Renders run on the runtime's blocking pool, so a slow scrape (callbacks that
//! take their time) never delays `/live` or `/health`.
//!
//! It is built to face any client that reaches the port:
//! - **Time.** A request head must arrive within [`DEFAULT_HEADER_READ_TIMEOUT`] of the
//!   connection (or of its first byte, after a keep-alive pause); a connection idle between
//!   requests closes after [`DEFAULT_IDLE_TIMEOUT`]; a response the client stops reading
//!   closes after [`DEFAULT_WRITE_TIMEOUT`] without progress.
//! - **Connections.** At most [`DEFAULT_MAX_CONNECTIONS`] are open. A new one past the cap
//!   takes the place of the oldest that is not serving a request (idle, or still sending
//!   its head); a response still being written counts as serving. When every one is
//!   serving, new ones wait in the kernel's
//!   backlog of [`DEFAULT_LISTEN_BACKLOG`].
//! - **Scrapes.** One render at a time per page: every `/metrics` request that arrives while
//!   a render of the same format and `name[]` set runs shares its body (and its gzip,
//!   compressed once). At most [`DEFAULT_MAX_PENDING_SCRAPES`] wait at once; more get `503`
//!   with `Retry-After`. A render whose every requester has gone is not started.
//!   `HEAD /metrics` renders nothing.
//! - **Names.** `/metrics?name[]=a&name[]=b` serves only those families (see
//!   [`NameFilter`](crate::exposition::NameFilter) for what matches). A query longer than
//!   8 KiB is answered `414`; one with more than 128 `name[]` parameters, or a name that is
//!   not UTF-8, `400`.
//! - **Requests.** `Host` is checked per RFC 9112 (missing or repeated on HTTP/1.1: `400`);
//!   bound to a loopback address, the server answers `421` to a `Host` that is not a loopback
//!   name, so a web page cannot reach it through DNS rebinding. A client that half-closes
//!   after its request still gets its answer; one that hangs up holds no pending place,
//!   and one found gone (it resets when written to) is dropped at once.

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tokio::sync::watch;

use crate::exposition::{Encoder, Format};
use crate::fork::ProcessThread;

mod accept;
mod conn;
mod host;
mod peer;
mod query;
mod routes;
mod scrape;
mod waiting;

/// The path of the metrics route.
pub const METRICS_PATH: &str = "/metrics";
/// The default path of the readiness route.
pub const DEFAULT_HEALTH_PATH: &str = "/health";
/// The default path of the liveness route.
pub const DEFAULT_LIVE_PATH: &str = "/live";

/// Default time a client has to send a request head: from the connection, or from the first
/// byte of a request after a keep-alive pause. Scrapers send theirs at once.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a keep-alive connection may stay idle between requests: six minutes, longer
/// than any usual scrape interval and than Prometheus' own five-minute idle-connection
/// timeout, so the scraper, not the server, closes an idle connection and never reuses one
/// the server is closing.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(360);
/// Default time a response may wait for a client that stopped reading it.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on open connections: far above what scrapers and probes use, far below the
/// usual limit of 1024 open files, so a flood of connections cannot starve the application
/// of file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// Default cap on `/metrics` requests waiting for a render; more are answered `503`.
pub const DEFAULT_MAX_PENDING_SCRAPES: usize = 64;
/// Default number of connections the kernel queues for the server beyond those it serves
/// (`listen`'s backlog), as tokio and Go use. A burst past the connection cap waits there;
/// past the backlog too, the kernel drops handshakes, which clients retry a second later.
/// The standard library's 128 made an ordinary burst pay that second. The kernel caps it
/// at `net.core.somaxconn`.
pub const DEFAULT_LISTEN_BACKLOG: usize = 1024;

/// How long a shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Blocking threads of the server's runtime: one render and the gzip of another at most.
const MAX_BLOCKING_THREADS: usize = 4;

/// Hands everything a scrape shows to an encoder of the format the client asked for (by
/// `Accept`, among those the server offers). Runs on a blocking thread, so it may take its
/// time.
pub type ScrapeFn = dyn Fn(&mut dyn Encoder) + Send + Sync;

/// Reports readiness and uptime. Runs on the server's I/O thread, so it must be quick.
pub type HealthFn = dyn Fn() -> Health + Send + Sync;

thread_local! {
    /// True on the server's own threads, where dropping the server must not wait for them.
    static ON_SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// What the readiness and liveness routes report, in Dynamo's JSON shape:
/// `{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"ready"}}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// Whether the application is ready for traffic: `/health` answers 200, else 503.
    pub ready: bool,
    /// Time since the application started.
    pub uptime: Duration,
    /// Each endpoint that reported its readiness: its name and whether it is ready.
    pub endpoints: Vec<(String, bool)>,
}

/// The limits a [`StatusServer`] puts on its clients; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to send a request head.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may stay idle.
    pub idle_timeout: Duration,
    /// Time a response may make no progress.
    pub write_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// `/metrics` requests waiting for a render at most.
    pub max_pending_scrapes: usize,
    /// Connections the kernel queues beyond those served.
    pub listen_backlog: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending_scrapes: DEFAULT_MAX_PENDING_SCRAPES,
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
        }
    }
}

impl ServerLimits {
    /// Why these limits cannot be used, if they cannot: every timeout and cap must be above
    /// zero.
    ///
    /// # Errors
    ///
    /// The name of the first limit that is zero, and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let timeouts = [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("write_timeout", self.write_timeout),
        ];
        for (name, timeout) in timeouts {
            if timeout.is_zero() {
                return Err((name, "a timeout must be longer than zero"));
            }
        }
        if self.max_connections == 0 {
            return Err(("max_connections", "at least one connection must be allowed"));
        }
        if self.max_pending_scrapes == 0 {
            return Err((
                "max_pending_scrapes",
                "at least one scrape must be allowed to wait",
            ));
        }
        if self.listen_backlog == 0 {
            return Err((
                "listen_backlog",
                "at least one connection must be allowed to wait",
            ));
        }
        Ok(())
    }
}

/// Options of a [`StatusServer`]: the hooks it calls, the paths it answers, its limits.
#[must_use]
pub struct StatusServerBuilder {
    scrape: Arc<ScrapeFn>,
    health: Arc<HealthFn>,
    health_path: String,
    live_path: String,
    formats: Vec<Format>,
    limits: ServerLimits,
}

impl std::fmt::Debug for StatusServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusServerBuilder")
            .field("health_path", &self.health_path)
            .field("live_path", &self.live_path)
            .field("formats", &self.formats)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl StatusServerBuilder {
    /// The path of the readiness route (default `/health`).
    pub fn health_path(self, path: impl Into<String>) -> Self {
        Self {
            health_path: path.into(),
            ..self
        }
    }

    /// The path of the liveness route (default `/live`).
    pub fn live_path(self, path: impl Into<String>) -> Self {
        Self {
            live_path: path.into(),
            ..self
        }
    }

    /// The formats `/metrics` offers, the preferred first (default [`Format::DEFAULT`], which
    /// leaves OpenMetrics out; [`Format::offered`] adds it): a client gets the one its
    /// `Accept` header ranks highest, or the first when it accepts none.
    pub fn formats(self, formats: &[Format]) -> Self {
        Self {
            formats: formats.to_vec(),
            ..self
        }
    }

    /// Every limit at once.
    pub fn limits(self, limits: ServerLimits) -> Self {
        Self { limits, ..self }
    }

    /// Time a client has to send a request head (default [`DEFAULT_HEADER_READ_TIMEOUT`]).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// Time a keep-alive connection may stay idle (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// Time a response may make no progress (default [`DEFAULT_WRITE_TIMEOUT`]).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.limits.write_timeout = timeout;
        self
    }

    /// Open connections at most (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// `/metrics` requests waiting for a render at most (default
    /// [`DEFAULT_MAX_PENDING_SCRAPES`]).
    pub fn max_pending_scrapes(mut self, max: usize) -> Self {
        self.limits.max_pending_scrapes = max;
        self
    }

    /// Connections the kernel queues beyond those served (default
    /// [`DEFAULT_LISTEN_BACKLOG`]).
    pub fn listen_backlog(mut self, backlog: usize) -> Self {
        self.limits.listen_backlog = backlog;
        self
    }

    /// Binds `addr` and starts serving on a new thread. Port 0 picks a free port; the bound
    /// address is [`StatusServer::local_addr`].
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a route path that [`check_route_path`] refuses,
    /// two routes on one path, or a limit that [`ServerLimits::check`] refuses; otherwise the
    /// error of binding the address (a port in use) or of starting the thread.
    pub fn start(self, addr: impl ToSocketAddrs) -> io::Result<StatusServer> {
        for path in [&self.health_path, &self.live_path] {
            check_route_path(path).map_err(|reason| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("route path {path:?}: {reason}"),
                )
            })?;
        }
        if self.health_path == self.live_path {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the health and live routes share the path {:?}",
                    self.health_path
                ),
            ));
        }
        self.limits.check().map_err(|(name, reason)| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {reason}"))
        })?;
        if self.formats.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "formats: at least one format must be offered",
            ));
        }
        let listener = TcpListener::bind(addr)?;
        // Listening again only sets the backlog (the standard library's is 128).
        let backlog = i32::try_from(self.limits.listen_backlog).unwrap_or(i32::MAX);
        socket2::SockRef::from(&listener).listen(backlog)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let routes = routes::Routes::new(routes::RouteConfig {
            scrape: self.scrape,
            health: self.health,
            health_path: self.health_path,
            live_path: self.live_path,
            formats: self.formats,
            loopback_only: local_addr.ip().is_loopback(),
            max_pending_scrapes: self.limits.max_pending_scrapes,
        });
        let limits = self.limits;
        let (stop, stopped) = watch::channel(false);
        // The tokio runtime is built, run and dropped on the server thread only: dropping one
        // on a caller that is itself inside an async context would panic.
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("dynamo-status-server".into())
            .spawn(move || {
                ON_SERVER_THREAD.with(|on| on.set(true));
                let (runtime, listener) = match server_runtime(listener) {
                    Ok(ready) => {
                        let _ = ready_tx.send(Ok(()));
                        ready
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                runtime.block_on(accept::serve(
                    listener,
                    Arc::new(routes),
                    limits,
                    stopped,
                    SHUTDOWN_GRACE,
                ));
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
            })?;
        let started = ready_rx.recv().unwrap_or_else(|_| {
            Err(io::Error::other(
                "the status server thread ended before serving",
            ))
        });
        if let Err(error) = started {
            let _ = thread.join();
            return Err(error);
        }
        tracing::info!(address = %local_addr, "system status server listening");
        Ok(StatusServer {
            local_addr,
            stop: Some(stop),
            thread: ProcessThread::new(thread),
        })
    }
}

/// The server thread's tokio runtime, and the listener registered with it.
fn server_runtime(
    listener: TcpListener,
) -> io::Result<(tokio::runtime::Runtime, accept::Listener)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name("dynamo-status-scrape")
        .on_thread_start(|| ON_SERVER_THREAD.with(|on| on.set(true)))
        .build()?;
    let listener = {
        let _context = runtime.enter();
        accept::Listener::new(listener)?
    };
    Ok((runtime, listener))
}

/// Why `path` cannot be a route, if it cannot: it must start with `/`, hold only visible
/// ASCII without `?` or `#`, and not be the metrics route.
///
/// # Errors
///
/// The rule the path breaks.
pub fn check_route_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("it must start with '/'");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    {
        return Err("it may hold only visible ASCII characters, without '?' or '#'");
    }
    if path == METRICS_PATH {
        return Err("it is the metrics route");
    }
    Ok(())
}

/// A running status server. Stops gracefully on [`StatusServer::shutdown`] or drop.
///
/// In a child process forked from the one that started it, the server's thread does not
/// exist: dropping it there forgets it without waiting (the parent still serves).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use dynamo_exporter::{Health, Opts, Registry, StatusServer};
///
/// let registry = Arc::new(Registry::new());
/// registry.int_counter(&Opts::new("jobs_total", "Jobs")).unwrap().inc();
/// let server = StatusServer::builder(
///     Arc::new(move |encoder| {
///         registry.encode(&[], encoder);
///     }),
///     Arc::new(|| Health { ready: true, uptime: Duration::from_secs(1), endpoints: vec![] }),
/// )
/// .idle_timeout(Duration::from_secs(60))
/// .start("127.0.0.1:0")
/// .unwrap();
/// assert_ne!(server.local_addr().port(), 0);
/// server.shutdown();
/// ```
#[must_use = "the server stops when dropped"]
pub struct StatusServer {
    local_addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    /// Its thread, which exists only in the process that started the server.
    thread: ProcessThread,
}

impl std::fmt::Debug for StatusServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl StatusServer {
    /// A server that answers `/metrics` with `scrape` and the readiness and liveness routes
    /// with `health`.
    pub fn builder(scrape: Arc<ScrapeFn>, health: Arc<HealthFn>) -> StatusServerBuilder {
        StatusServerBuilder {
            scrape,
            health,
            health_path: DEFAULT_HEALTH_PATH.into(),
            formats: Format::DEFAULT.to_vec(),
            live_path: DEFAULT_LIVE_PATH.into(),
            limits: ServerLimits::default(),
        }
    }

    /// The address the server is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// False in a child process forked from the one that started the server: there the
    /// server's thread does not exist, and the parent serves.
    #[must_use]
    pub fn serves_this_process(&self) -> bool {
        self.thread.in_this_process()
    }

    /// Stops accepting connections, lets requests in flight finish (for a few seconds at
    /// most) and joins the server thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        if !self.thread.in_this_process() {
            // A forked child: the thread, its runtime and their locks belong to the parent.
            // Touching them could wait forever; forget them instead.
            std::mem::forget(self.stop.take());
            return;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Dropped by a hook running on the server itself: joining would wait for ourselves.
        // The server stops on its own once this request is answered.
        if ON_SERVER_THREAD.with(Cell::get) {
            return;
        }
        if thread.join().is_err() {
            tracing::error!("system status server thread panicked");
        }
        tracing::info!(address = %self.local_addr, "system status server stopped");
    }
}
