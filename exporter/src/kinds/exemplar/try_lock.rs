//! A lock that is only ever tried, never waited for: taking it is one compare-and-swap and
//! giving it back one store, where a mutex that can park its waiters gives it back with
//! another compare-and-swap.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A value behind a lock that is tried (`try_lock`) and never waited for.
pub(super) struct TryLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and at most one guard exists at a time
// (`held` is set by the compare-and-swap that made it, cleared by its drop).
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for TryLock<T> {}

impl<T> TryLock<T> {
    pub(super) const fn new(value: T) -> Self {
        Self {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, unless another guard holds it now.
    #[inline]
    pub(super) fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| TryLockGuard { lock: self })
    }
}

/// The holder of a [`TryLock`]: the value is its own until it is dropped.
pub(super) struct TryLockGuard<'a, T> {
    lock: &'a TryLock<T>,
}

#[allow(unsafe_code)]
impl<T> Deref for TryLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `Sync`), so nothing else reaches the value.
        unsafe { &*self.lock.value.get() }
    }
}

#[allow(unsafe_code)]
impl<T> DerefMut for TryLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the guard's only borrow.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: what the guard wrote is seen by the next guard's `Acquire`.
        self.lock.held.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_guard_at_a_time_and_the_value_passes_between_threads() {
        let lock = TryLock::new(0u64);
        let held = lock.try_lock().expect("free");
        assert!(lock.try_lock().is_none(), "held");
        drop(held);
        let (threads, rounds) = (4, 10_000);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let mut done = 0;
                    while done < rounds {
                        if let Some(mut value) = lock.try_lock() {
                            *value += 1;
                            done += 1;
                        }
                    }
                });
            }
        });
        assert_eq!(*lock.try_lock().expect("free"), threads * rounds);
    }
}
