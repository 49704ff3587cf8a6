//! Exponential backoff with jitter between attempts of one request.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// The first wait.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How much each wait grows.
const MULTIPLIER: f64 = 1.5;

/// Waits of 1 s, 1.5 s, 2.25 s… up to 5 s, each scaled by a random factor from 0.8 to 1.2 so
/// that many workers do not retry in step.
pub(crate) struct Backoff {
    next: Duration,
    seed: u64,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            next: INITIAL_BACKOFF,
            seed: RandomState::new().hash_one(std::time::Instant::now()) | 1,
        }
    }

    /// The next wait.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let base = self.next;
        self.next = base.mul_f64(MULTIPLIER).min(MAX_BACKOFF);
        base.mul_f64(0.8 + 0.4 * self.random())
    }

    /// A number from 0 to 1 (xorshift64).
    fn random(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_with_bounded_jitter() {
        let mut backoff = Backoff::new();
        let mut base = INITIAL_BACKOFF;
        for _ in 0..12 {
            let wait = backoff.next_wait();
            assert!(
                wait >= base.mul_f64(0.8) && wait <= base.mul_f64(1.2),
                "{wait:?} around {base:?}"
            );
            base = base.mul_f64(MULTIPLIER).min(MAX_BACKOFF);
        }
        assert_eq!(base, MAX_BACKOFF);
    }
}
