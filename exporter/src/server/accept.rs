//! The accept loop: connections up to a cap, each on a task with its own deadline.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::ServerLimits;
use super::conn::{ConnState, WatchedIo};
use super::peer::Peer;
use super::routes::Routes;
use crate::fork::TrackedFd;

/// The largest request head a client may send; our routes need a few hundred bytes.
const MAX_REQUEST_BUFFER: usize = 16 * 1024;
/// How long to wait before accepting again after an error such as too many open files.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How often a full server looks again for a connection it may close.
const FULL_RECHECK: Duration = Duration::from_millis(20);
/// How long a connection is spared after it opened or finished a request: a client's
/// request is on its way by then, on any network a scraper uses.
const EVICT_MIN_AGE: Duration = Duration::from_millis(10);

/// The listening socket, registered with the server's runtime.
pub(super) struct Listener {
    inner: tokio::net::TcpListener,
    tracked: Option<TrackedFd>,
}

impl Listener {
    pub(super) fn new(listener: std::net::TcpListener) -> std::io::Result<Self> {
        let tracked = track(&listener);
        Ok(Self {
            inner: tokio::net::TcpListener::from_std(listener)?,
            tracked,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Forget the descriptor before it is closed (the field order drops it after).
        self.tracked.take();
    }
}

#[cfg(unix)]
fn track(socket: &impl std::os::fd::AsRawFd) -> Option<TrackedFd> {
    Some(crate::fork::track_fd(socket.as_raw_fd()))
}

#[cfg(not(unix))]
fn track<S>(_: &S) -> Option<TrackedFd> {
    None
}

/// The open connections, by number, for the cap and for eviction.
struct Slots {
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    next: AtomicU64,
    cap: usize,
    /// A connection ended or finished a request: there may be room now.
    freed: Notify,
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<ConnState>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_full(&self) -> bool {
        self.lock().len() >= self.cap
    }

    /// Makes room for one more connection, closing the one that has waited longest without
    /// a request in progress if the cap is reached. False when every connection is serving
    /// (or has only just opened).
    fn make_room(&self) -> bool {
        let mut open = self.lock();
        if open.len() < self.cap {
            return true;
        }
        let oldest = open
            .iter()
            .filter_map(|(id, state)| state.evictable_since().map(|since| (since, *id)))
            .filter(|(since, _)| since.elapsed() >= EVICT_MIN_AGE)
            .min();
        let Some((_, id)) = oldest else {
            return false;
        };
        if let Some(state) = open.remove(&id) {
            state.evict.notify_one();
        }
        true
    }

    fn add(&self, state: Arc<ConnState>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, state);
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.freed.notify_one();
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Accepts and serves connections until `stopped` turns true (or its sender goes away), then
/// lets the connections finish their requests for `grace` at most.
pub(super) async fn serve(
    listener: Listener,
    routes: Arc<Routes>,
    limits: ServerLimits,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let slots = Arc::new(Slots {
        open: Mutex::new(HashMap::new()),
        next: AtomicU64::new(0),
        cap: limits.max_connections,
        freed: Notify::new(),
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Deadlines are kept per connection (header, idle, write), not by hyper's one timer.
        .header_read_timeout(None)
        .half_close(true)
        .keep_alive(true)
        .max_buf_size(MAX_REQUEST_BUFFER);
    let http = Arc::new(http);
    let mut last_error_log: Option<Instant> = None;
    loop {
        if slots.is_full() {
            // Let the connections read what has arrived first: one whose request is here is
            // serving it, not waiting, and must not be taken for idle.
            tokio::task::yield_now().await;
        }
        if !slots.make_room() {
            // Every connection is serving a request: new ones wait in the backlog.
            tokio::select! {
                _ = tokio::time::timeout(FULL_RECHECK, slots.freed.notified()) => continue,
                _ = stopped.wait_for(|stop| *stop) => break,
            }
        }
        let accepted = tokio::select! {
            accepted = listener.inner.accept() => accepted,
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        match accepted {
            Ok((stream, _peer)) => {
                let state = Arc::new(ConnState::new(Instant::now()));
                let id = slots.add(Arc::clone(&state));
                tokio::spawn(connection(
                    stream,
                    state,
                    id,
                    Arc::clone(&slots),
                    Arc::clone(&routes),
                    Arc::clone(&http),
                    limits,
                    stopped.clone(),
                ));
            }
            Err(error) => {
                if last_error_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(%error, "system status server: accept failed; retrying");
                    last_error_log = Some(Instant::now());
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    _ = stopped.wait_for(|stop| *stop) => break,
                }
            }
        }
    }
    // No new connections from here on; the ones open finish their requests.
    drop(listener);
    let drained = tokio::time::timeout(grace, async {
        while !slots.is_empty() {
            let _ = tokio::time::timeout(FULL_RECHECK, slots.freed.notified()).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("system status server: requests still open at shutdown; closed");
    }
}

/// Serves one connection until it ends, times out, is evicted, or the server stops (then it
/// finishes the request in progress and closes).
#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    state: Arc<ConnState>,
    id: u64,
    slots: Arc<Slots>,
    routes: Arc<Routes>,
    http: Arc<http1::Builder>,
    limits: ServerLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let tracked = track(&stream);
    let peer = Arc::new(Peer::new(stream));
    let io = TokioIo::new(WatchedIo::new(Arc::clone(&peer), Arc::clone(&state)));
    let service_state = Arc::clone(&state);
    let service = hyper::service::service_fn(move |request| {
        let routes = Arc::clone(&routes);
        let state = Arc::clone(&service_state);
        let peer = Arc::clone(&peer);
        async move { Ok::<_, Infallible>(routes.handle(request, state, peer).await) }
    });
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = state.deadline(&limits);
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "system status server: connection ended");
                }
                break;
            }
            () = state.evict.notified(), if !stopping => break,
            _ = stopped.wait_for(|stop| *stop), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = sleep => {
                if state.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    tracing::debug!("system status server: connection timed out");
                    break;
                }
            }
            () = state.changed.notified() => {}
        }
    }
    // Forget the descriptor in the fork set before the socket closes (when `conn` drops).
    drop(tracked);
    slots.remove(id);
}
