//! A future tracked as one request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::RequestGuard;
use super::guard::OnDrop;

pin_project_lite::pin_project! {
    /// A future tracked as one request, from
    /// [`Endpoint::instrument_request`](crate::Endpoint::instrument_request) or
    /// [`RequestGuard::instrument`].
    ///
    /// The request ends when the future completes. Dropped before that, the request ends as
    /// cancelled (`cancellation_total`); dropped while a poll was unwinding from a panic, it
    /// ends with an error of type `panic`.
    #[must_use = "futures do nothing unless polled"]
    pub struct TrackedFuture<F>
    where
        F: Future,
    {
        guard: Option<RequestGuard>,
        // The error type to count when the output is an error, and how to tell.
        errors: Option<(&'static str, fn(&F::Output) -> bool)>,
        // The size of the output, for `response_bytes_total`.
        response_bytes: Option<fn(&F::Output) -> u64>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> std::fmt::Debug for TrackedFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedFuture")
            .field("guard", &self.guard)
            .field("error_type", &self.errors.map(|(error_type, _)| error_type))
            .finish_non_exhaustive()
    }
}

impl<F: Future> TrackedFuture<F> {
    pub(crate) fn new(mut guard: RequestGuard, inner: F) -> Self {
        guard.set_on_drop(OnDrop::Cancel);
        Self {
            guard: Some(guard),
            errors: None,
            response_bytes: None,
            inner,
        }
    }

    /// Adds the size `bytes` gives the output to `response_bytes_total`.
    pub fn response_bytes_by(mut self, bytes: fn(&F::Output) -> u64) -> Self {
        self.response_bytes = Some(bytes);
        self
    }
}

impl<F, T, E> TrackedFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    /// Counts an `Err` output as an error of `error_type` (`errors_total{error_type}`).
    pub fn errors_as(mut self, error_type: &'static str) -> Self {
        self.errors = Some((error_type, Result::is_err));
        self
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(guard) = this.guard.as_mut() else {
            return this.inner.poll(cx);
        };
        // A drop while the poll runs can only come from a panic unwinding out of it.
        guard.set_on_drop(OnDrop::Panic);
        let poll = this.inner.poll(cx);
        guard.set_on_drop(OnDrop::Cancel);
        if let Poll::Ready(output) = &poll {
            if let Some(bytes) = this.response_bytes {
                guard.response_bytes(bytes(output));
            }
            if let Some((error_type, is_error)) = this.errors {
                if is_error(output) {
                    guard.error(error_type);
                }
            }
            if let Some(guard) = this.guard.take() {
                guard.finish();
            }
        }
        poll
    }
}
