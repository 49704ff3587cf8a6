//! The status server: `/metrics`, readiness and liveness over HTTP, on a thread of its own.
//!
//! The server owns a thread and a single-threaded tokio runtime, so it serves the same way
//! whether the application is synchronous, async on its own runtime, or an embedding
//! interpreter. Scrapes run on the runtime's blocking pool, so a slow scrape (callbacks that
//! take their time) never delays `/live` or `/health`.

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

mod routes;

/// The path of the metrics route.
pub const METRICS_PATH: &str = "/metrics";
/// The default path of the readiness route.
pub const DEFAULT_HEALTH_PATH: &str = "/health";
/// The default path of the liveness route.
pub const DEFAULT_LIVE_PATH: &str = "/live";

/// How long a shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Scrapes allowed to run at once; more wait their turn.
const MAX_BLOCKING_THREADS: usize = 16;

/// Renders the whole scrape. Runs on a blocking thread, so it may take its time.
pub type ScrapeFn = dyn Fn() -> String + Send + Sync;

/// Reports readiness and uptime. Runs on the server's I/O thread, so it must be quick.
pub type HealthFn = dyn Fn() -> Health + Send + Sync;

thread_local! {
    /// True on the server's own threads, where dropping the server must not wait for them.
    static ON_SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// What the readiness and liveness routes report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    /// Whether the application is ready for traffic: `/health` answers 200, else 503.
    pub ready: bool,
    /// Time since the application started.
    pub uptime: Duration,
}

/// Options of a [`StatusServer`]: the hooks it calls and the paths it answers.
#[must_use]
pub struct StatusServerBuilder {
    scrape: Arc<ScrapeFn>,
    health: Arc<HealthFn>,
    health_path: String,
    live_path: String,
}

impl std::fmt::Debug for StatusServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusServerBuilder")
            .field("health_path", &self.health_path)
            .field("live_path", &self.live_path)
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

    /// Binds `addr` and starts serving on a new thread. Port 0 picks a free port; the bound
    /// address is [`StatusServer::local_addr`].
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a route path that [`check_route_path`] refuses or
    /// two routes on one path; otherwise the error of binding the address (a port in use) or
    /// of starting the thread.
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
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let app = routes::router(routes::Shared {
            scrape: self.scrape,
            health: self.health,
            health_path: self.health_path,
            live_path: self.live_path,
        });
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
                runtime.block_on(serve(listener, app, stopped));
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
            stop,
            thread: Some(thread),
        })
    }
}

/// The server thread's tokio runtime, and the listener registered with it.
fn server_runtime(
    listener: TcpListener,
) -> io::Result<(tokio::runtime::Runtime, tokio::net::TcpListener)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name("dynamo-status-scrape")
        .on_thread_start(|| ON_SERVER_THREAD.with(|on| on.set(true)))
        .build()?;
    let listener = {
        let _context = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    Ok((runtime, listener))
}

/// Serves until `stopped` turns true (or its sender goes away), then drains for a while.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stopped: watch::Receiver<bool>,
) {
    let mut signal = stopped.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = signal.wait_for(|stop| *stop).await;
        })
        .into_future();
    tokio::pin!(server);
    let result = tokio::select! {
        result = &mut server => result,
        _ = stopped.wait_for(|stop| *stop) => {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("system status server: requests still open at shutdown; closed");
                    Ok(())
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::error!(%error, "system status server stopped");
    }
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
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use dynamo_exporter::{Health, StatusServer};
///
/// let server = StatusServer::builder(
///     Arc::new(|| "# scrape text\n".to_string()),
///     Arc::new(|| Health { ready: true, uptime: Duration::from_secs(1) }),
/// )
/// .start("127.0.0.1:0")
/// .unwrap();
/// assert_ne!(server.local_addr().port(), 0);
/// server.shutdown();
/// ```
#[must_use = "the server stops when dropped"]
pub struct StatusServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
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
            live_path: DEFAULT_LIVE_PATH.into(),
        }
    }

    /// The address the server is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets requests in flight finish (for a few seconds at
    /// most) and joins the server thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
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
