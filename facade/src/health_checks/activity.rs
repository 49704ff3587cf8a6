//! What request tracking tells the health checks: when an endpoint last ended a request
//! successfully. An endpoint without a health check pays one atomic load per request.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::checker::Shared;

/// The health-check side of one endpoint, kept in its place.
#[derive(Default)]
pub(crate) struct Activity {
    watch: OnceLock<Arc<Watch>>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity")
            .field("watched", &self.watched())
            .finish()
    }
}

impl Activity {
    /// A request of this endpoint ended without error or cancellation.
    #[inline]
    pub(crate) fn succeeded(&self) {
        if let Some(watch) = self.watch.get() {
            watch.succeeded();
        }
    }

    /// True once a health check watches this endpoint.
    #[inline]
    pub(crate) fn watched(&self) -> bool {
        self.watch.get().is_some()
    }

    /// The watch of this endpoint, made by `make` on the first call.
    pub(super) fn watch(&self, make: impl FnOnce() -> Arc<Watch>) -> Arc<Watch> {
        Arc::clone(self.watch.get_or_init(make))
    }
}

/// The last success of a watched endpoint, and whether its checker must be told of one.
pub(super) struct Watch {
    origin: Instant,
    /// Nanoseconds from `origin` to the end of the last successful request; 0 for none.
    last_success: AtomicU64,
    /// Whether the endpoint is ready; a success while it is not wakes the checker.
    ready: AtomicBool,
    shared: Weak<Shared>,
}

impl Watch {
    pub(super) fn new(origin: Instant, shared: Weak<Shared>) -> Self {
        Self {
            origin,
            last_success: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            shared,
        }
    }

    fn succeeded(&self) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_success.fetch_max(nanos.max(1), Ordering::Relaxed);
        if !self.ready.load(Ordering::Relaxed) {
            if let Some(shared) = self.shared.upgrade() {
                shared.wake();
            }
        }
    }

    /// When the last successful request ended, if one did.
    pub(super) fn last_success(&self) -> Option<Instant> {
        match self.last_success.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(self.origin + Duration::from_nanos(nanos)),
        }
    }

    pub(super) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

thread_local! {
    /// True on a thread running a probe, whose requests are not the endpoint's.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread runs a probe: its tracked requests count nothing.
pub(crate) fn probing() -> bool {
    PROBING.with(Cell::get)
}

/// Runs `probe` with [`probing`] true.
pub(super) fn while_probing<R>(probe: impl FnOnce() -> R) -> R {
    PROBING.with(|p| p.set(true));
    let result = probe();
    PROBING.with(|p| p.set(false));
    result
}
