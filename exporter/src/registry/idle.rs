//! Series of metric macros that stop changing leave the page: each remembers when its value
//! last changed, seen by a signature of the value at each scrape.

use std::time::Duration;

/// When a macro series last changed.
#[derive(Clone, Copy)]
pub(crate) struct Idle {
    signature: u64,
    since: Duration,
}

impl Idle {
    /// A series created at `now`.
    pub(crate) fn new(now: Duration) -> Self {
        Self {
            signature: 0,
            since: now,
        }
    }

    /// Notes the value's `signature` at `now`; true when it has not changed for `timeout`.
    pub(crate) fn is_idle(&mut self, signature: u64, now: Duration, timeout: Duration) -> bool {
        if signature != self.signature {
            *self = Self {
                signature,
                since: now,
            };
            return false;
        }
        now.saturating_sub(self.since) >= timeout
    }
}
