//! A stream of responses tracked as one request.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::RequestGuard;
use super::guard::OnDrop;

pin_project_lite::pin_project! {
    /// A stream of responses tracked as one request, from
    /// [`Endpoint::track_stream`](crate::Endpoint::track_stream) or
    /// [`RequestGuard::track_stream`].
    ///
    /// The request ends when the stream ends (its `None`, after the last item), so
    /// `request_duration_seconds` is the time to the last response. Dropped before that, the
    /// request ends as cancelled; dropped while a poll was unwinding from a panic, it ends
    /// with an error of type `panic`.
    #[must_use = "streams do nothing unless polled"]
    pub struct TrackedStream<S>
    where
        S: Stream,
    {
        guard: Option<RequestGuard>,
        // Whether the first item is timed in `time_to_first_response_seconds`.
        time_first: bool,
        // The error type to count for each item that is an error, and how to tell.
        errors: Option<(&'static str, fn(&S::Item) -> bool)>,
        // The size of an item, for `response_bytes_total`.
        response_bytes: Option<fn(&S::Item) -> u64>,
        #[pin]
        inner: S,
    }
}

impl<S: Stream> std::fmt::Debug for TrackedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedStream")
            .field("guard", &self.guard)
            .field("time_first", &self.time_first)
            .field("error_type", &self.errors.map(|(error_type, _)| error_type))
            .finish_non_exhaustive()
    }
}

impl<S: Stream> TrackedStream<S> {
    pub(crate) fn new(mut guard: RequestGuard, inner: S) -> Self {
        guard.set_on_drop(OnDrop::Cancel);
        Self {
            guard: Some(guard),
            time_first: false,
            errors: None,
            response_bytes: None,
            inner,
        }
    }

    /// Adds the size `bytes` gives each item to `response_bytes_total`.
    pub fn response_bytes_by(mut self, bytes: fn(&S::Item) -> u64) -> Self {
        self.response_bytes = Some(bytes);
        self
    }

    /// Also observes the time to the first item in `time_to_first_response_seconds`.
    pub fn with_first_response_time(mut self) -> Self {
        self.time_first = true;
        self
    }
}

impl<S, T, E> TrackedStream<S>
where
    S: Stream<Item = Result<T, E>>,
{
    /// Counts each `Err` item as an error of `error_type` (`errors_total{error_type}`).
    pub fn errors_as(mut self, error_type: &'static str) -> Self {
        self.errors = Some((error_type, Result::is_err));
        self
    }
}

impl<S: Stream> Stream for TrackedStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(guard) = this.guard.as_mut() else {
            return this.inner.poll_next(cx);
        };
        // A drop while the poll runs can only come from a panic unwinding out of it.
        guard.set_on_drop(OnDrop::Panic);
        let poll = this.inner.poll_next(cx);
        guard.set_on_drop(OnDrop::Cancel);
        match &poll {
            Poll::Ready(Some(item)) => {
                if *this.time_first {
                    guard.first_response();
                }
                if let Some(bytes) = this.response_bytes {
                    guard.response_bytes(bytes(item));
                }
                if let Some((error_type, is_error)) = this.errors {
                    if is_error(item) {
                        guard.error(error_type);
                    }
                }
            }
            Poll::Ready(None) => {
                if let Some(guard) = this.guard.take() {
                    guard.finish();
                }
            }
            Poll::Pending => {}
        }
        poll
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
