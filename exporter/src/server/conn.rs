//! One connection's clock: what it is doing, since when, and so when it must close.
//!
//! The socket is wrapped in [`WatchedIo`], which reports the first byte of each request,
//! whether writes make progress, and when everything handed to it has been written; the
//! request handler reports when a request starts and when its response is handed over. [`ConnState::deadline`] turns that into the one instant at
//! which the connection closes, which the connection's task sleeps until.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::ServerLimits;
use super::peer::Peer;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Accepted; its first request head has not arrived yet.
    Fresh,
    /// Some bytes of a request head arrived after a keep-alive pause.
    Head,
    /// A request is being served.
    Busy,
    /// The response is handed over and still being written.
    Sending,
    /// Between requests, kept alive.
    Idle,
}

#[derive(Debug)]
struct Clock {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// Since when writes have been refused by a client that does not read, if they are.
    write_blocked: Option<Instant>,
    /// Bytes of the next request arrived while a response was being sent.
    head_started: bool,
    /// A response was handed over and hyper has not flushed it all yet.
    unsent: bool,
}

/// What the connection's task, its socket and its request handler share.
#[derive(Debug)]
pub(super) struct ConnState {
    clock: Mutex<Clock>,
    /// Wakes the connection's task to compute its deadline again.
    pub(super) changed: Notify,
    /// Tells the connection's task to close: its place is given to a new connection.
    pub(super) evict: Notify,
}

impl ConnState {
    pub(super) fn new(now: Instant) -> Self {
        Self {
            clock: Mutex::new(Clock {
                phase: Phase::Fresh,
                since: now,
                write_blocked: None,
                head_started: false,
                unsent: false,
            }),
            changed: Notify::new(),
            evict: Notify::new(),
        }
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, phase: Phase) {
        {
            let mut clock = self.clock();
            if clock.phase == phase {
                return;
            }
            clock.phase = phase;
            clock.since = Instant::now();
        }
        self.changed.notify_one();
    }

    /// The handler starts serving a request.
    pub(super) fn request_started(&self) {
        self.clock().head_started = false;
        self.set_phase(Phase::Busy);
    }

    /// The handler has handed its whole response over; it is still to be written.
    pub(super) fn response_done(&self) {
        self.clock().unsent = true;
        self.set_phase(Phase::Sending);
    }

    /// Whether every response handed over has been written.
    pub(super) fn all_written(&self) -> bool {
        !self.clock().unsent
    }

    /// Everything handed to the socket has been written: a response being sent is done.
    fn written_out(&self) {
        let next = {
            let mut clock = self.clock();
            clock.unsent = false;
            if clock.phase != Phase::Sending {
                return;
            }
            let started = std::mem::take(&mut clock.head_started);
            if started { Phase::Head } else { Phase::Idle }
        };
        self.set_phase(next);
    }

    fn bytes_read(&self) {
        let phase = {
            let mut clock = self.clock();
            if clock.phase == Phase::Sending {
                clock.head_started = true;
            }
            clock.phase
        };
        if phase == Phase::Idle {
            self.set_phase(Phase::Head);
        }
    }

    fn write_blocked(&self) {
        let first = {
            let mut clock = self.clock();
            let first = clock.write_blocked.is_none();
            clock.write_blocked.get_or_insert_with(Instant::now);
            first
        };
        if first {
            self.changed.notify_one();
        }
    }

    fn write_progressed(&self) {
        self.clock().write_blocked = None;
    }

    /// When the connection must close, by its phase and its writes.
    pub(super) fn deadline(&self, limits: &ServerLimits) -> Option<Instant> {
        let clock = self.clock();
        let phase = match clock.phase {
            Phase::Fresh | Phase::Head => Some(clock.since + limits.header_read_timeout),
            Phase::Idle => Some(clock.since + limits.idle_timeout),
            Phase::Busy | Phase::Sending => None,
        };
        let write = clock
            .write_blocked
            .map(|since| since + limits.write_timeout);
        match (phase, write) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Since when the connection could be closed without harming a request, if it could:
    /// not while a request is served or its response still being written.
    pub(super) fn evictable_since(&self) -> Option<Instant> {
        let clock = self.clock();
        let harmless = !matches!(clock.phase, Phase::Busy | Phase::Sending);
        harmless.then_some(clock.since)
    }

    #[cfg(test)]
    pub(super) fn phase(&self) -> Phase {
        self.clock().phase
    }
}

/// Marks a connection busy while alive; dropped once the response is handed over, when the
/// connection is sending until its socket is flushed.
#[derive(Debug)]
pub(super) struct BusyGuard(Arc<ConnState>);

impl BusyGuard {
    pub(super) fn new(state: Arc<ConnState>) -> Self {
        state.request_started();
        Self(state)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.response_done();
    }
}

/// The client's socket, reporting reads, write progress and flushes to its [`ConnState`].
#[derive(Debug)]
pub(super) struct WatchedIo {
    peer: Arc<Peer>,
    state: Arc<ConnState>,
}

impl WatchedIo {
    pub(super) fn new(peer: Arc<Peer>, state: Arc<ConnState>) -> Self {
        Self { peer, state }
    }

    fn written<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &poll {
            Poll::Pending => self.state.write_blocked(),
            Poll::Ready(Ok(_)) => self.state.write_progressed(),
            Poll::Ready(Err(_)) => {}
        }
        poll
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.peer.poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_read();
        }
        poll
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = self.peer.poll_write_vectored(cx, &[io::IoSlice::new(buf)]);
        self.written(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = self.peer.poll_write_vectored(cx, bufs);
        self.written(poll)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// hyper flushes the socket only once its own buffer is empty, so a flush means every
    /// byte handed over so far has been written (TCP itself has nothing to flush).
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state.written_out();
        self.written(Poll::Ready(Ok(())))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.peer.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(100),
            write_timeout: Duration::from_secs(10),
            ..ServerLimits::default()
        }
    }

    #[test]
    fn each_phase_has_its_deadline() {
        let start = Instant::now();
        let state = Arc::new(ConnState::new(start));
        assert_eq!(
            state.deadline(&limits()),
            Some(start + Duration::from_secs(1))
        );
        assert!(state.evictable_since().is_some());

        let busy = BusyGuard::new(Arc::clone(&state));
        assert_eq!(state.phase(), Phase::Busy);
        assert_eq!(state.deadline(&limits()), None);
        assert_eq!(state.evictable_since(), None);
        state.write_blocked();
        let blocked = state
            .deadline(&limits())
            .expect("a stalled write has a deadline");
        assert!(blocked > start + Duration::from_secs(9));
        state.write_progressed();
        assert_eq!(state.deadline(&limits()), None);

        drop(busy);
        assert_eq!(state.phase(), Phase::Sending);
        assert_eq!(state.deadline(&limits()), None);
        assert_eq!(state.evictable_since(), None, "a response being sent");
        state.written_out();
        assert_eq!(state.phase(), Phase::Idle);
        assert!(state.evictable_since().is_some());
        let idle = state.deadline(&limits()).unwrap();
        assert!(idle > start + Duration::from_secs(99));

        state.bytes_read();
        assert_eq!(state.phase(), Phase::Head);
        assert!(state.deadline(&limits()).unwrap() < start + Duration::from_secs(50));
    }

    #[test]
    fn a_head_begun_while_sending_keeps_the_header_deadline() {
        let state = Arc::new(ConnState::new(Instant::now()));
        drop(BusyGuard::new(Arc::clone(&state)));
        state.bytes_read();
        assert_eq!(state.phase(), Phase::Sending);
        state.written_out();
        assert_eq!(state.phase(), Phase::Head);
        state.written_out();
        assert_eq!(
            state.phase(),
            Phase::Head,
            "only a response being sent ends"
        );
    }
}
