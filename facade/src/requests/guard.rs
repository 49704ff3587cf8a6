//! The guard of one tracked request: it ends the request exactly once.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use dynamo_exporter::{Exemplar, ExemplarNames};

use super::{RequestMetrics, TraceParent, TrackedFuture, TrackedStream};
use crate::prometheus_names::work_handler::PANIC_ERROR_TYPE;

/// What dropping a guard that has not ended yet means, besides ending the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDrop {
    /// The request is over (a guard on the stack going out of scope).
    End,
    /// The request was given up: its future or stream was dropped before it completed.
    Cancel,
    /// The request's code panicked (a poll that never returned).
    Panic,
}

/// The names of a traced request's exemplar labels, checked once.
static TRACE_LABELS: LazyLock<ExemplarNames> =
    LazyLock::new(|| ExemplarNames::new(&["trace_id", "span_id"]).expect("valid label names"));

const ERRORED: u8 = 1;
const CANCELLED: u8 = 2;
const FIRST_RESPONSE: u8 = 4;

/// One request being tracked, from [`Endpoint::track_request`](crate::Endpoint::track_request).
///
/// Its creation counted the request in `requests_total` and added it to `inflight_requests`.
/// It ends exactly once, by whichever comes first: [`finish`](Self::finish), or the guard
/// being dropped (a return, a `?`, the end of a scope, a panic unwinding through it). Ending
/// observes the time since the start in `request_duration_seconds` and takes the request out
/// of `inflight_requests`. A guard unwound by a panic also counts an error of type `panic`,
/// unless an error was counted already.
///
/// A guard from an endpoint whose request metrics could not be created counts nothing.
#[must_use = "the request ends when the guard is dropped; bind it to a variable (`let _request = ...`)"]
pub struct RequestGuard {
    /// `None` once ended, or for a guard that counts nothing.
    metrics: Option<RequestMetrics>,
    /// The clock's reading at the start.
    start: Duration,
    /// `ERRORED`, `CANCELLED`, `FIRST_RESPONSE`.
    marks: u8,
    on_drop: OnDrop,
    /// The request's trace and span ids, put beside its count and its duration.
    exemplar: Option<Exemplar>,
}

impl std::fmt::Debug for RequestGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestGuard")
            .field("active", &self.metrics.is_some())
            .field("elapsed", &self.elapsed())
            .field("has_error", &self.has_error())
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

impl RequestGuard {
    /// Counts the request and adds it to the requests in flight; with the trace of `parent`
    /// as the exemplar of its count, and later of its duration.
    #[inline]
    pub(crate) fn start(metrics: RequestMetrics, parent: Option<&TraceParent>) -> Self {
        let handles = &metrics.0.handles;
        let exemplar = parent.and_then(|parent| {
            TRACE_LABELS
                .exemplar(&[parent.trace_id(), parent.span_id()])
                .ok()
        });
        let start = metrics.clock().now();
        match &exemplar {
            Some(exemplar) => match metrics.clock().wall_time(start) {
                Some(at) => handles.requests.inc_by_with_exemplar_at(1, exemplar, at),
                None => handles.requests.inc_by_with_exemplar(1, exemplar),
            },
            None => handles.requests.inc(),
        }
        handles.inflight.inc();
        Self {
            metrics: Some(metrics),
            start,
            marks: 0,
            on_drop: OnDrop::End,
            exemplar,
        }
    }

    /// A guard that counts nothing.
    pub fn noop() -> Self {
        Self {
            metrics: None,
            start: Duration::ZERO,
            marks: 0,
            on_drop: OnDrop::End,
            exemplar: None,
        }
    }

    /// Counts one error of `error_type` in `errors_total{error_type}`, now. Each call counts
    /// one; the request goes on until the guard ends.
    pub fn error(&mut self, error_type: &str) {
        if let Some(metrics) = &self.metrics {
            metrics
                .0
                .handles
                .errors
                .with_label_values(&[error_type])
                .inc();
            self.marks |= ERRORED;
        }
    }

    /// Counts the request in `cancellation_total`, once however often it is called.
    pub fn cancelled(&mut self) {
        if let Some(metrics) = &self.metrics {
            if self.marks & CANCELLED == 0 {
                metrics.0.handles.cancellations.inc();
                self.marks |= CANCELLED;
            }
        }
    }

    /// Adds `bytes` to `request_bytes_total`.
    pub fn request_bytes(&self, bytes: u64) {
        if let Some(metrics) = &self.metrics {
            metrics.0.handles.request_bytes.inc_by(bytes);
        }
    }

    /// Adds `bytes` to `response_bytes_total`.
    pub fn response_bytes(&self, bytes: u64) {
        if let Some(metrics) = &self.metrics {
            metrics.0.handles.response_bytes.inc_by(bytes);
        }
    }

    /// Observes the time since the start in `time_to_first_response_seconds` (created on its
    /// first use), on the first call only.
    pub fn first_response(&mut self) {
        if let Some(metrics) = &self.metrics {
            if self.marks & FIRST_RESPONSE == 0 {
                self.marks |= FIRST_RESPONSE;
                let elapsed = metrics.clock().now().saturating_sub(self.start);
                metrics
                    .time_to_first_response()
                    .observe(elapsed.as_secs_f64());
            }
        }
    }

    /// The time since the start (zero once ended, or for a guard that counts nothing).
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.metrics.as_ref().map_or(Duration::ZERO, |metrics| {
            metrics.clock().now().saturating_sub(self.start)
        })
    }

    /// True when [`error`](Self::error) counted an error for this request.
    #[must_use]
    pub fn has_error(&self) -> bool {
        self.marks & ERRORED != 0
    }

    /// True when [`cancelled`](Self::cancelled) counted this request as cancelled.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.marks & CANCELLED != 0
    }

    /// Ends the request now and returns its duration, as observed.
    pub fn finish(mut self) -> Duration {
        self.end()
    }

    /// Wraps `future`: the request ends when it completes, or as cancelled when it is dropped
    /// before. See [`Endpoint::instrument_request`](crate::Endpoint::instrument_request).
    pub fn instrument<F: Future>(self, future: F) -> TrackedFuture<F> {
        TrackedFuture::new(self, future)
    }

    /// Wraps `stream`: the request ends when the stream does, or as cancelled when it is
    /// dropped before. See [`Endpoint::track_stream`](crate::Endpoint::track_stream).
    pub fn track_stream<S: futures_core::Stream>(self, stream: S) -> TrackedStream<S> {
        TrackedStream::new(self, stream)
    }

    /// What dropping the guard before it ends will mean.
    pub(crate) fn set_on_drop(&mut self, on_drop: OnDrop) {
        self.on_drop = on_drop;
    }

    /// Ends the request, on the first call only: observes its duration and takes it out of
    /// the requests in flight.
    fn end(&mut self) -> Duration {
        let Some(metrics) = self.metrics.take() else {
            return Duration::ZERO;
        };
        let now = metrics.clock().now();
        let elapsed = now.saturating_sub(self.start);
        let handles = &metrics.0.handles;
        handles.inflight.dec();
        let seconds = elapsed.as_secs_f64();
        match &self.exemplar {
            Some(exemplar) => match metrics.clock().wall_time(now) {
                Some(at) => handles
                    .duration
                    .observe_with_exemplar_at(seconds, exemplar, at),
                None => handles.duration.observe_with_exemplar(seconds, exemplar),
            },
            None => handles.duration.observe(seconds),
        }
        if self.marks & (ERRORED | CANCELLED) == 0 {
            metrics.succeeded();
        }
        elapsed
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.metrics.is_none() {
            return;
        }
        let on_drop = if std::thread::panicking() {
            OnDrop::Panic
        } else {
            self.on_drop
        };
        match on_drop {
            OnDrop::End => {}
            OnDrop::Cancel => self.cancelled(),
            OnDrop::Panic if !self.has_error() => self.error(PANIC_ERROR_TYPE),
            OnDrop::Panic => {}
        }
        self.end();
    }
}
