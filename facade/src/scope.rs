//! The current hierarchy scope of this thread, which `metrics` macro calls inherit.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hierarchy::Place;

thread_local! {
    static CURRENT: RefCell<Option<Place>> = const { RefCell::new(None) };
}

/// Runs `f` with the current scope, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Place>) -> R) -> R {
    CURRENT.with(|current| f(current.borrow().as_ref()))
}

/// Runs `f` with `place` as the current scope, restoring the previous one afterwards (even
/// when `f` panics).
pub(crate) fn in_scope<R>(place: &Place, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Place>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(place.clone()));
    let _restore = Restore(previous);
    f()
}

pin_project_lite::pin_project! {
    /// A future whose every poll runs in a hierarchy scope; made by `instrument` on
    /// [`crate::Namespace`], [`crate::Component`] and [`crate::Endpoint`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        place: Place,
        #[pin]
        inner: F,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(place: Place, inner: F) -> Self {
        Self { place, inner }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        in_scope(this.place, || this.inner.poll(cx))
    }
}
