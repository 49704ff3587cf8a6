//! Arithmetic on atomics that the standard library does not offer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Adds `v` to an f64 stored as its bits.
#[inline]
pub(crate) fn add_f64(bits: &AtomicU64, v: f64) {
    let current = bits.load(Relaxed);
    let next = (f64::from_bits(current) + v).to_bits();
    if bits
        .compare_exchange_weak(current, next, Relaxed, Relaxed)
        .is_err()
    {
        add_f64_again(bits, v);
    }
}

/// [`add_f64`] after its first try lost a race: out of line, so the uncontended add is
/// straight code.
#[cold]
#[inline(never)]
fn add_f64_again(bits: &AtomicU64, v: f64) {
    let mut current = bits.load(Relaxed);
    loop {
        let next = (f64::from_bits(current) + v).to_bits();
        match bits.compare_exchange_weak(current, next, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}

/// Reads an f64 stored as its bits.
#[inline]
pub(crate) fn load_f64(bits: &AtomicU64) -> f64 {
    f64::from_bits(bits.load(Relaxed))
}

/// Adds `v` to an f64 stored as its bits that no other thread writes: a plain load and store,
/// no atomic operation.
#[inline(always)]
pub(crate) fn add_f64_unshared(bits: &AtomicU64, v: f64) {
    bits.store((load_f64(bits) + v).to_bits(), Relaxed);
}

/// Stores an f64 as its bits.
#[inline]
pub(crate) fn store_f64(bits: &AtomicU64, v: f64) {
    bits.store(v.to_bits(), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_from_several_threads_without_losing_any() {
        let bits = AtomicU64::new(0.0f64.to_bits());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        add_f64(&bits, 0.5);
                    }
                });
            }
        });
        assert_eq!(load_f64(&bits), 20_000.0);
    }
}
