//! The current hierarchy scope of this thread, which `metrics` macro calls inherit.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::hierarchy::Place;
use crate::thread_handles::ThreadMacroHandles;

/// What a thread's macro calls read: its current scope, and the handles it got last. One
/// thread-local, so a call reaches both in one access.
struct ThreadScope {
    current: RefCell<Option<Place>>,
    handles: RefCell<ThreadMacroHandles>,
}

thread_local! {
    static THREAD: ThreadScope = const {
        ThreadScope {
            current: RefCell::new(None),
            handles: RefCell::new(ThreadMacroHandles::new()),
        }
    };
}

/// Runs `f` with the current scope, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Place>) -> R) -> R {
    THREAD.with(|thread| f(thread.current.borrow().as_ref()))
}

/// Runs `f` with the current scope, if any, and this thread's macro handles: `None` when a
/// call on this thread is using them already (a macro called while one registers), or when
/// the thread is ending (with no scope then either).
#[inline]
pub(crate) fn with_current_and_handles<R>(
    f: impl FnOnce(Option<&Place>, Option<&mut ThreadMacroHandles>) -> R,
) -> R {
    let mut f = Some(f);
    let done = THREAD.try_with(|thread| {
        let mut handles = thread.handles.try_borrow_mut().ok();
        let f = f.take().unwrap_or_else(|| unreachable!("taken once"));
        f(thread.current.borrow().as_ref(), handles.as_deref_mut())
    });
    match (done, f) {
        (Ok(r), _) => r,
        (Err(_), Some(f)) => f(None, None),
        (Err(_), None) => unreachable!("a thread-local that is gone runs nothing"),
    }
}

/// Runs `f` with `place` as the current scope, restoring the previous one afterwards (even
/// when `f` panics).
pub(crate) fn in_scope<R>(place: &Place, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Place>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            THREAD.with(|thread| *thread.current.borrow_mut() = previous);
        }
    }
    let previous = THREAD.with(|thread| thread.current.borrow_mut().replace(place.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_made_inside_another_finds_the_handles_in_use_and_goes_on() {
        let seen = with_current_and_handles(|place, outer| {
            assert!(place.is_none());
            assert!(outer.is_some(), "the outer call has the thread's handles");
            with_current_and_handles(|place, inner| (place.is_none(), inner.is_none()))
        });
        assert_eq!(seen, (true, true));
        let again = with_current_and_handles(|_, handles| handles.is_some());
        assert!(again, "free again once the outer call ended");
    }
}
