//! Warnings at most once a minute, with the count of those left out.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The shortest time between two messages.
const LOG_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct RateLimitedLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    /// Calls `log` with the number of messages left out since the last one, unless one was
    /// written less than a minute ago.
    pub(crate) fn warn(&self, log: impl FnOnce(u64)) {
        let suppressed = {
            let mut state = self.state.lock();
            if state.0.is_some_and(|at| at.elapsed() < LOG_EVERY) {
                state.1 += 1;
                return;
            }
            state.0 = Some(Instant::now());
            std::mem::take(&mut state.1)
        };
        log(suppressed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_a_minute_and_counts_the_rest() {
        let log = RateLimitedLog::default();
        let mut written = Vec::new();
        for _ in 0..3 {
            log.warn(|suppressed| written.push(suppressed));
        }
        assert_eq!(written, [0]);
        log.state.lock().0 = Instant::now().checked_sub(LOG_EVERY);
        log.warn(|suppressed| written.push(suppressed));
        assert_eq!(written, [0, 2]);
    }
}
